"""The contamination definition: which windows of an entry's text are checked, and the verdict thresholds.

An entry's checked text is cut into windows of `length` Unicode code points. A window starts at position 0 or at the
first character of a later word (a non-whitespace character whose predecessor is whitespace, per `str.isspace`),
and must end inside the text (start + length <= len(text)). A text shorter than `length` has one window, the whole
text, and is marked short. eta = windows occurring in the corpus / windows; the verdict is clean below
`suspicious_at`, dirty at or above `dirty_at`, suspicious between.

Positions here are code points; the kernels work on UTF-8 bytes, so `encode` also returns the byte offset of every
code point (`char_bytes[i]` = byte offset of character i, with one extra entry for the end).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from contamination.errors import EmptyEntry, InvalidParams

CLEAN = "clean"
SUSPICIOUS = "suspicious"
DIRTY = "dirty"
VERDICTS = (CLEAN, SUSPICIOUS, DIRTY)


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts and percentages of clean / suspicious / dirty entries, the number of short ones and the mean eta, from
    scored entries as rows (`EntryScore.to_dict()`, a service response, a bulletin's cached results).
    The contamination rate of a benchmark is `dirty_pct`."""
    n = len(rows)
    out: dict[str, Any] = {"entries": n}
    for v in VERDICTS:
        out[v] = sum(1 for r in rows if r["verdict"] == v)
    for v in VERDICTS:
        out[f"{v}_pct"] = 100.0 * out[v] / n if n else 0.0
    out["short"] = sum(1 for r in rows if r["short"])
    out["mean_eta"] = sum(r["eta"] for r in rows) / n if n else 0.0
    return out


@dataclass(frozen=True, slots=True)
class WindowParams:
    """The parameters of the definition; every report states the values used (`as_dict`)."""

    length: int = 50  # window length in code points
    step: str = "word"  # window starts: position 0 and every word start (the only rule so far)
    suspicious_at: float = 0.2  # eta >= this: suspicious
    dirty_at: float = 0.8  # eta >= this: dirty

    def __post_init__(self) -> None:
        if not isinstance(self.length, int) or isinstance(self.length, bool) or not 1 <= self.length <= 10_000:
            raise InvalidParams(f"window length must be an integer from 1 to 10000 code points, not {self.length!r}")
        if self.step != "word":
            raise InvalidParams(f"window step rule {self.step!r} is unknown; the only rule is 'word'")
        if not 0.0 <= self.suspicious_at <= self.dirty_at <= 1.0:
            raise InvalidParams(
                f"thresholds must satisfy 0 <= suspicious_at <= dirty_at <= 1, not "
                f"suspicious_at={self.suspicious_at}, dirty_at={self.dirty_at}"
            )

    def as_dict(self) -> dict:
        return asdict(self)

    def verdict(self, eta: float) -> str:
        if eta >= self.dirty_at:
            return DIRTY
        if eta >= self.suspicious_at:
            return SUSPICIOUS
        return CLEAN


DEFAULT_PARAMS = WindowParams()


def window_starts(text: str, length: int = 50) -> list[int]:
    """Start positions (code points) of the windows of `text`: 0 and every word start with room for a whole window.

    A text shorter than `length` has the single window starting at 0 (the whole text). Empty text has none.
    """
    n = len(text)
    if n == 0:
        return []
    if n < length:
        return [0]
    last = n - length
    starts = [0]
    for i in range(1, last + 1):
        if text[i - 1].isspace() and not text[i].isspace():
            starts.append(i)
    return starts


def windows(text: str, length: int = 50) -> list[tuple[int, int]]:
    """The windows of `text` as (start, end) code-point ranges, in order of start."""
    n = len(text)
    return [(s, min(s + length, n)) for s in window_starts(text, length)]


def check_text(text: object, entry: str | int) -> str:
    """The text of an entry, or a typed error naming the entry when it is not a non-empty string."""
    if not isinstance(text, str):
        raise EmptyEntry(f"entry {entry}: the checked text must be a string, not {type(text).__name__}")
    if not text:
        raise EmptyEntry(f"entry {entry}: the checked text is empty; every entry needs at least one character")
    return text


@dataclass(frozen=True, slots=True)
class EncodedEntry:
    """An entry's text in the form the kernels take."""

    data: np.ndarray  # uint8, the UTF-8 bytes
    char_bytes: np.ndarray  # int64 (chars + 1,), byte offset of each code point and of the end
    starts: np.ndarray  # int64, window starts in code points
    ends: np.ndarray  # int64, window ends in code points
    short: bool


def encode(text: str, length: int = 50) -> EncodedEntry:
    """UTF-8 bytes, code-point offsets and windows of a non-empty text.

    Lone surrogates (possible in JSON input) are kept as their 3-byte encodings, which never occur in an index of
    valid UTF-8, so a window holding one is simply not found.
    """
    raw = text.encode("utf-8", errors="surrogatepass")
    data = np.frombuffer(raw, dtype=np.uint8)
    lead = np.flatnonzero((data & 0xC0) != 0x80)
    char_bytes = np.empty(lead.shape[0] + 1, dtype=np.int64)
    char_bytes[:-1] = lead
    char_bytes[-1] = data.shape[0]
    spans = windows(text, length)
    starts = np.fromiter((s for s, _ in spans), dtype=np.int64, count=len(spans))
    ends = np.fromiter((e for _, e in spans), dtype=np.int64, count=len(spans))
    return EncodedEntry(data=data, char_bytes=char_bytes, starts=starts, ends=ends, short=len(text) < length)
