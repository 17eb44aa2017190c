"""fmsearch: exact substring search over large text corpora with compressed, memory-mapped FM-indexes."""

from typing import TYPE_CHECKING

from fmsearch import errors
from fmsearch.build import build_index
from fmsearch.results import BuildSummary, Document, FindResult, Hit, Snippet

if TYPE_CHECKING:
    from fmsearch.index import FMIndex, open_index

__version__ = "0.1.0"


def __getattr__(name: str):
    # The query side imports numba (about 60 MB resident); a build loads it only after its memory peak.
    if name in ("FMIndex", "open_index"):
        from fmsearch import index

        return getattr(index, name)
    raise AttributeError(f"module 'fmsearch' has no attribute {name!r}")


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
