"""fmsearch: exact substring search over large text corpora with compressed, memory-mapped FM-indexes."""

from fmsearch import errors
from fmsearch.build import build_index
from fmsearch.index import FMIndex, open_index
from fmsearch.results import BuildSummary, Document, FindResult, Hit, Snippet

__version__ = "0.1.0"

__all__ = [
    "BuildSummary",
    "Document",
    "FMIndex",
    "FindResult",
    "Hit",
    "Snippet",
    "__version__",
    "build_index",
    "errors",
    "open_index",
]
