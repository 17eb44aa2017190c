"""Plain result types returned by the public API (no numpy scalars leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence: the document and the byte offset of the match inside it."""

    doc_id: int
    offset: int


@dataclass(frozen=True, slots=True)
class FindResult:
    """`total` occurrences in all; `hits` is the requested page, in suffix (lexicographic) order."""

    total: int
    hits: list[Hit]
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Document:
    doc_id: int
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def num_bytes(self) -> int:
        return len(self.text.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Snippet:
    """Text around a match. `before + match + after` is a contiguous slice of the document.

    `start` / `end` are byte offsets of that slice in the document, `match_start` / `match_end` the byte offsets of
    the match in the document. The slice never cuts a UTF-8 character: it is widened or narrowed to whole characters.
    """

    doc_id: int
    start: int
    end: int
    match_start: int
    match_end: int
    before: str
    match: str
    after: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.before + self.match + self.after


@dataclass(frozen=True, slots=True)
class BuildSummary:
    path: str
    num_documents: int
    num_bytes: int
    index_bytes: int
    metadata_bytes: int
    seconds: float
    skipped_records: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_bytes: int = 0
    bad_records: list[Any] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Index size over corpus size (metadata not included)."""
        return self.index_bytes / max(self.num_bytes, 1)
