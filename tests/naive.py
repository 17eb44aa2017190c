"""Brute-force oracles for the FM-index tests.

Everything here is plain Python over the UTF-8 bytes of each document *separately* -- never over a concatenation of
the documents -- so an occurrence can never span a document boundary, whatever separators the index uses.
"""

from __future__ import annotations


def to_bytes(query: str | bytes) -> bytes:
    """A query as the index sees it: str is UTF-8 encoded, bytes are taken as they are."""
    if isinstance(query, str):
        return query.encode("utf-8")
    return bytes(query)


def occurrences(haystack: bytes, needle: bytes) -> list[int]:
    """Start offsets of every occurrence of a non-empty `needle` in `haystack`, overlapping ones included."""
    if not needle:
        raise ValueError("the oracle does not define occurrences of the empty string")
    found = []
    pos = haystack.find(needle)
    while pos != -1:
        found.append(pos)
        pos = haystack.find(needle, pos + 1)
    return found


class NaiveIndex:
    """The answers an index over `docs` must give, computed the slow and obvious way."""

    def __init__(self, docs: list[str]) -> None:
        self.texts = list(docs)
        self.docs = [text.encode("utf-8") for text in self.texts]

    @property
    def num_documents(self) -> int:
        return len(self.docs)

    @property
    def num_bytes(self) -> int:
        return sum(len(doc) for doc in self.docs)

    def count(self, query: str | bytes) -> int:
        needle = to_bytes(query)
        return sum(len(occurrences(doc, needle)) for doc in self.docs)

    def find(self, query: str | bytes) -> set[tuple[int, int]]:
        """Every occurrence as a (doc_id, byte offset) pair."""
        needle = to_bytes(query)
        return {(doc_id, pos) for doc_id, doc in enumerate(self.docs) for pos in occurrences(doc, needle)}

    def extract(self, doc_id: int, start: int = 0, end: int | None = None) -> bytes:
        doc = self.docs[doc_id]
        return doc[start : len(doc) if end is None else end]

    def occurs(self, pattern: bytes) -> bool:
        """Whether `pattern` is a substring of at least one single document."""
        return any(pattern in doc for doc in self.docs)

    def matching_statistics(self, text: str | bytes) -> list[int]:
        """ms[i] = the largest L such that text_bytes[i:i+L] occurs inside one document (0 if byte i occurs nowhere).

        The search for position i starts at ms[i-1] - 1 instead of 0: text[i-1 : i-1+ms[i-1]] occurs, so its suffix
        text[i : i-1+ms[i-1]] occurs too. That only skips lengths already known to occur; every answer is still
        the first length at which extending by one more byte fails.
        """
        data = to_bytes(text)
        result = []
        length = 0
        for i in range(len(data)):
            length = max(length - 1, 0)
            while i + length < len(data) and self.occurs(data[i : i + length + 1]):
                length += 1
            result.append(length)
        return result
