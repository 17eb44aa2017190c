"""Property and adversarial tests: the FM-index against the brute-force oracles of tests/naive.py.

Every expected value comes from the oracle (plain Python over each document's UTF-8 bytes) or is worked out by hand
in the test; nothing is copied from the implementation. Indexes are built once per module and corpus.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naive import NaiveIndex, to_bytes

import fmsearch
from fmsearch.errors import InvalidDocument, InvalidQuery, QueryTooLong
from fmsearch.presets import PRESETS

# ---------------------------------------------------------------------------------------------------------------------
# Corpora
# ---------------------------------------------------------------------------------------------------------------------

GREEK = "αβγδεζηθικλμνξοπρςστυφχψωΑΒΓΔΩ"
CJK = "的一是不了人我在有他这中大来上国个到说们"
EMOJI = ["😀", "🎉", "🚀", "🌍", "👍🏽", "❤️", "👨\u200d👩\u200d👧"]
COMBINING = ["e\u0301", "a\u0308", "o\u0302", "c\u0327", "n\u0303", "\u0301", "\u20dd"]
# Characters that rarely or never occur in the corpora: absent patterns and noise for matching statistics.
FOREIGN = ["Ω", "🙂", "Z", "\x00", "\x7f", "ÿ", "\u0300", "界"]


@dataclass
class CorpusSpec:
    texts: list[str]
    records: list[Any]  # exactly what build_index receives
    metadata: list[dict[str, Any]]
    text_field: str = "text"


@dataclass
class Built:
    name: str
    spec: CorpusSpec
    summary: Any
    idx: Any
    oracle: NaiveIndex
    path: str
    texts: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.texts = self.spec.texts


def _plain(texts: list[str]) -> CorpusSpec:
    return CorpusSpec(texts=texts, records=list(texts), metadata=[{} for _ in texts])


def _random_text(rng: random.Random, alphabet: str | list[str], length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def corpus_binary() -> CorpusSpec:
    rng = random.Random(101)
    texts = [_random_text(rng, "ab", rng.choice([0, 1, 2, 5, 20, rng.randint(0, 300)])) for _ in range(40)]
    return _plain(texts + ["ab" * 150, "aab" * 80, "b", "a" * 64, "ba"])


def corpus_dna() -> CorpusSpec:
    rng = random.Random(202)
    texts: list[str] = []
    for _ in range(60):
        text = _random_text(rng, "acgt", rng.randint(0, 500))
        donors = [t for t in texts if t]
        if donors and rng.random() < 0.5:  # plant a piece of an earlier document: repeats across documents
            donor = rng.choice(donors)
            start = rng.randrange(len(donor))
            middle = len(text) // 2
            text = text[:middle] + donor[start : start + rng.randint(1, 80)] + text[middle:]
        texts.append(text)
    return _plain(texts)


def corpus_multilingual() -> CorpusSpec:
    """Multibyte UTF-8 (2, 3 and 4 byte characters, combining marks, ZWJ sequences), NULs, with metadata."""
    rng = random.Random(303)
    tokens = list(GREEK) + list(CJK) + EMOJI + COMBINING + list("abc xyz") + ["\x00", "\n", "\t"]
    texts, records, metadata = [], [], []
    for i in range(40):
        text = _random_text(rng, tokens, rng.choice([0, 1, 3, rng.randint(0, 150)]))
        meta: dict[str, Any] = {}
        if i % 5 != 4:  # some documents carry no metadata at all
            meta = {
                "id": i,
                "title": f"document {i} – ü 文 🎉",
                "score": i / 4,
                "tags": ["x", "ψ"][: i % 3],
                "extra": {"nested": [1, "二", None, True]},
                "flag": i % 2 == 0,
                "nothing": None,
            }
        texts.append(text)
        records.append({"text": text, **meta})
        metadata.append(meta)
    return CorpusSpec(texts=texts, records=records, metadata=metadata)


def corpus_allbytes() -> CorpusSpec:
    """chr(0)..chr(255) and wider code points: UTF-8 bytes 0x00-0x7F, 0x80-0xBF and lead bytes 0xC2-0xF4."""
    rng = random.Random(404)
    latin1 = [chr(c) for c in range(256)]
    wide = [chr(c) for c in (0x100, 0x3FF, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF)]
    texts = ["".join(latin1), "".join(reversed(latin1))]
    texts += [_random_text(rng, latin1, rng.randint(0, 300)) for _ in range(20)]
    texts += [_random_text(rng, latin1 + wide * 10, rng.randint(0, 200)) for _ in range(10)]
    texts += ["\x00", "\x00" * 17, "ÿ" * 9, "", "\x01\x00\x01"]
    return _plain(texts)


def corpus_large() -> CorpusSpec:
    """One ~200 KB document full of long repeats and runs, plus a few small ones."""
    rng = random.Random(505)
    parts = ["a" * 3000, "ac" * 1500]
    size = sum(map(len, parts))
    while size < 200_000:
        if rng.random() < 0.3:
            donor = rng.choice(parts)
            piece = donor[rng.randrange(len(donor)) :][: rng.randint(1, 3000)]
        else:
            piece = _random_text(rng, "acgt", rng.randint(50, 2000))
        parts.append(piece)
        size += len(piece)
    rng.shuffle(parts)
    big = "".join(parts)
    return _plain([big, "", "a", big[1000:1100], "acgt" * 10, big[-50:]])


def corpus_tiny() -> CorpusSpec:
    """Many tiny documents: lots of empty and one-byte ones."""
    rng = random.Random(606)
    return _plain([_random_text(rng, "abc", rng.choice([0, 0, 1, 1, 1, 2, 3])) for _ in range(1500)])


def corpus_uniform() -> CorpusSpec:
    return _plain(["a" * 2000, "a", "", "a" * 37, "aa", "a" * 2000])


def corpus_boundary() -> CorpusSpec:
    return _plain(["ab", "cd", "", "xyz", "zyx", "", "q", "r", "\x00", "s\x00", "end"])


def corpus_single() -> CorpusSpec:
    return _plain(["x"])


def corpus_body_field() -> CorpusSpec:
    rng = random.Random(909)
    texts = [_random_text(rng, "abcé ", rng.randint(0, 60)) for _ in range(25)]
    records = [{"title": f"t{i}", "body": text, "n": i} for i, text in enumerate(texts)]
    metadata = [{"title": f"t{i}", "n": i} for i in range(len(texts))]
    return CorpusSpec(texts=texts, records=records, metadata=metadata, text_field="body")


CORPORA: dict[str, Callable[[], CorpusSpec]] = {
    "binary": corpus_binary,
    "dna": corpus_dna,
    "multilingual": corpus_multilingual,
    "allbytes": corpus_allbytes,
    "large": corpus_large,
    "tiny": corpus_tiny,
    "uniform": corpus_uniform,
    "boundary": corpus_boundary,
    "single": corpus_single,
    "body_field": corpus_body_field,
}


@pytest.fixture(scope="module", params=[(name, preset) for preset in PRESETS for name in CORPORA], ids="-".join)
def corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    name, preset = request.param if isinstance(request.param, tuple) else (request.param, "compact")
    spec = CORPORA[name]()
    out = str(tmp_path_factory.mktemp(f"{name}-{preset}") / "index")
    summary = fmsearch.build_index(spec.records, out, text_field=spec.text_field, preset=preset)
    idx = fmsearch.open_index(out, max_query_bytes=1 << 20)  # whole documents of the large corpus are queries too
    return Built(name, spec, summary, idx, NaiveIndex(spec.texts), out)


# ---------------------------------------------------------------------------------------------------------------------
# Query and probe generators
# ---------------------------------------------------------------------------------------------------------------------


def _char_substring(rng: random.Random, text: str, max_len: int) -> str:
    length = rng.randint(1, min(max_len, len(text)))
    start = rng.randint(0, len(text) - length)
    return text[start : start + length]


def make_queries(texts: list[str], rng: random.Random, n: int) -> list[str | bytes]:
    """A mix of present, absent, boundary-spanning, too-long, str and (possibly non-UTF-8) bytes queries."""
    nonempty = [t for t in texts if t]
    encoded = [t.encode("utf-8") for t in nonempty]
    alphabet = sorted(set("".join(texts))) or ["a"]
    longest = max(texts, key=len)
    queries: list[str | bytes] = []
    while len(queries) < n:
        kind = rng.randrange(11)
        text = rng.choice(nonempty)
        if kind == 0:  # substring of a document
            queries.append(_char_substring(rng, text, rng.choice([1, 2, 3, 4, 6, 8, 12, 20, 50])))
        elif kind == 1:  # byte slice of a document: may cut UTF-8 characters
            data = rng.choice(encoded)
            start = rng.randrange(len(data))
            queries.append(data[start : start + rng.randint(1, 12)])
        elif kind == 2:  # random string over the corpus alphabet
            queries.append(_random_text(rng, alphabet, rng.randint(1, 8)))
        elif kind == 3:  # random bytes, any value but 0xFF
            queries.append(bytes(rng.randrange(255) for _ in range(rng.randint(1, 3))))
        elif kind == 4:  # prefix
            queries.append(text[: rng.randint(1, len(text))])
        elif kind == 5:  # suffix
            queries.append(text[rng.randrange(len(text)) :])
        elif kind == 6:  # a whole document
            queries.append(text)
        elif kind == 7:  # end of one document + start of the next: must only match inside some document
            i = rng.randrange(len(texts) - 1) if len(texts) > 1 else 0
            left, right = texts[i], texts[(i + 1) % len(texts)]
            if left and right:
                queries.append(left[-rng.randint(1, min(5, len(left))) :] + right[: rng.randint(1, min(5, len(right)))])
        elif kind == 8:  # substring with one character replaced
            sub = list(_char_substring(rng, text, 10))
            sub[rng.randrange(len(sub))] = rng.choice(alphabet + FOREIGN)
            queries.append("".join(sub))
        elif kind == 9:  # longer than every document
            queries.append(longest + rng.choice(alphabet))
        else:  # a run of one character
            queries.append(rng.choice(alphabet) * rng.choice([1, 2, 3, 7, 40, len(longest), len(longest) + 1]))
    return queries


def fixed_queries(texts: list[str]) -> list[str | bytes]:
    """Every byte and every character that occurs, some that do not, and the whole longest document (plus one)."""
    data = "".join(texts).encode("utf-8")
    present = sorted(set(data))
    absent = [b for b in (0x00, 0x01, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xF4, 0xF5, 0xFE) if b not in present]
    longest = max(texts, key=len)
    queries: list[str | bytes] = [bytes([b]) for b in present + absent]
    queries += sorted(set("".join(texts))) + FOREIGN
    if longest:
        queries += [longest, longest + longest[-1], longest[0] + longest]
    return queries


def make_probe(texts: list[str], rng: random.Random) -> str:
    """A text for matching statistics: corpus substrings, boundary-spanning pieces and noise, glued together."""
    nonempty = [t for t in texts if t]
    alphabet = sorted(set("".join(texts)))
    pieces = []
    for _ in range(rng.randint(1, 6)):
        kind = rng.randrange(3)
        if kind == 0:
            pieces.append(_char_substring(rng, rng.choice(nonempty), 80))
        elif kind == 1:
            pieces.append(_random_text(rng, alphabet + FOREIGN, rng.randint(1, 20)))
        else:
            i = rng.randrange(len(texts))
            pieces.append(texts[i][-10:] + texts[(i + 1) % len(texts)][:10])
    return "".join(pieces)


def pairs(hits: list[Any]) -> list[tuple[int, int]]:
    return [(h.doc_id, h.offset) for h in hits]


def report(mismatches: list[tuple[Any, ...]]) -> str:
    """The shortest failing inputs first."""
    mismatches = sorted(mismatches, key=lambda m: len(to_bytes(m[0])) if isinstance(m[0], str | bytes) else 0)
    return f"{len(mismatches)} mismatches (query, got, expected), shortest first: {mismatches[:5]!r}"


def is_boundary(data: bytes, i: int) -> bool:
    """Whether byte offset i is a UTF-8 character boundary of data."""
    return i == 0 or i == len(data) or (data[i] & 0xC0) != 0x80


# ---------------------------------------------------------------------------------------------------------------------
# Per-corpus property tests
# ---------------------------------------------------------------------------------------------------------------------


def test_summary_and_sizes(corpus: Built) -> None:
    oracle = corpus.oracle
    assert corpus.summary.num_documents == oracle.num_documents
    assert corpus.summary.num_bytes == oracle.num_bytes
    assert corpus.summary.index_bytes > 0
    assert corpus.idx.num_documents == oracle.num_documents
    assert corpus.idx.num_bytes == oracle.num_bytes


def test_count_matches_oracle(corpus: Built) -> None:
    rng = random.Random(1)
    queries = make_queries(corpus.texts, rng, 400) + fixed_queries(corpus.texts)
    mismatches = []
    for query in queries:
        expected = corpus.oracle.count(query)
        got = corpus.idx.count(query)
        if got != expected:
            mismatches.append((query, got, expected))
        if isinstance(query, str) and corpus.idx.count(query.encode("utf-8")) != expected:
            mismatches.append((query.encode("utf-8"), corpus.idx.count(query.encode("utf-8")), expected))
    assert not mismatches, report(mismatches)


def test_count_many_matches_oracle(corpus: Built) -> None:
    rng = random.Random(2)
    queries = make_queries(corpus.texts, rng, 300)
    got = corpus.idx.count_many(queries)
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.int64
    assert got.shape == (len(queries),)
    expected = [corpus.oracle.count(q) for q in queries]
    mismatches = [(q, g, e) for q, g, e in zip(queries, got.tolist(), expected, strict=True) if g != e]
    assert not mismatches, report(mismatches)
    empty = corpus.idx.count_many([])
    assert empty.shape == (0,)


def test_find_returns_every_occurrence(corpus: Built) -> None:
    rng = random.Random(3)
    queries = make_queries(corpus.texts, rng, 200) + fixed_queries(corpus.texts)
    mismatches = []
    frequent_left = 2  # locating tens of thousands of hits is slow-ish: fully check only a couple of frequent queries
    for query in queries:
        expected = corpus.oracle.find(query)
        if len(expected) > 5000:
            if frequent_left == 0:
                continue
            frequent_left -= 1
        result = corpus.idx.find(query, limit=len(expected) + 3)
        got = pairs(result.hits)
        if result.total != len(expected) or len(got) != len(set(got)) or set(got) != expected:
            missing, extra = sorted(expected - set(got))[:3], sorted(set(got) - expected)[:3]
            mismatches.append((query, (result.total, "missing", missing, "extra", extra), len(expected)))
    assert not mismatches, report(mismatches)


def test_find_pages(corpus: Built) -> None:
    """Paging with small limits: pages are slices of one order, disjoint, and together give every occurrence."""
    rng = random.Random(4)
    queries = [q for q in make_queries(corpus.texts, rng, 120) if corpus.oracle.count(q) <= 150][:40]
    queries += ["Ω🙂 absent", corpus.texts[0] + "Ω"]
    for query in queries:
        expected = corpus.oracle.find(query)
        total = len(expected)
        everything = corpus.idx.find(query, limit=total + 1).hits
        limit = rng.choice([1, 2, 3, 5, 8])
        seen: list[tuple[int, int]] = []
        for offset in range(0, total + limit, limit):  # one page past the end too
            page = corpus.idx.find(query, limit=limit, offset=offset)
            assert page.total == total, (query, offset)
            assert page.offset == offset
            assert len(page.hits) == max(0, min(limit, total - offset)), (query, offset, limit)
            assert page.hits == everything[offset : offset + limit], (query, offset, limit)
            seen += pairs(page.hits)
        assert len(seen) == len(set(seen)), query
        assert set(seen) == expected, query
        # default limit, limit 0 and an offset far past the end
        assert len(corpus.idx.find(query).hits) == min(10, total)
        assert corpus.idx.find(query, limit=0).hits == []
        assert corpus.idx.find(query, limit=0).total == total
        beyond = corpus.idx.find(query, limit=5, offset=total + 100)
        assert (beyond.total, beyond.hits) == (total, [])


def _compare_suffixes(a: bytes, i: int, b: bytes, j: int) -> int | None:
    """-1 or 1 if a[i:] and b[j:] differ at some byte, None if one is a prefix of the other (order then depends on
    how document ends sort, which is not specified)."""
    step = 64
    while True:
        x, y = a[i : i + step], b[j : j + step]
        if x != y:
            n = min(len(x), len(y))
            if x[:n] == y[:n]:
                return None
            return -1 if x[:n] < y[:n] else 1
        if len(x) < step:
            return None
        i, j = i + step, j + step


def test_hits_are_in_suffix_order(corpus: Built) -> None:
    rng = random.Random(5)
    docs = corpus.oracle.docs
    for query in make_queries(corpus.texts, rng, 60):
        total = corpus.oracle.count(query)
        if total > 3000:
            continue
        hits = corpus.idx.find(query, limit=total).hits
        for h1, h2 in zip(hits, hits[1:], strict=False):
            order = _compare_suffixes(docs[h1.doc_id], h1.offset, docs[h2.doc_id], h2.offset)
            assert order in (None, -1), (query, h1, h2)


def test_documents_round_trip(corpus: Built) -> None:
    rng = random.Random(6)
    n = len(corpus.texts)
    doc_ids = range(n) if n <= 200 else sorted({0, n - 1, *rng.sample(range(n), 200)})
    for doc_id in doc_ids:
        document = corpus.idx.document(doc_id)
        assert document.doc_id == doc_id
        assert document.text == corpus.texts[doc_id], doc_id
        assert document.metadata == corpus.spec.metadata[doc_id], doc_id


def test_extract_random_ranges(corpus: Built) -> None:
    rng = random.Random(7)
    docs = corpus.oracle.docs
    for _ in range(300):
        doc_id = rng.randrange(len(docs))
        data = docs[doc_id]
        start = rng.randint(0, len(data))
        end = rng.choice([start, len(data), rng.randint(start, len(data)), min(len(data), start + rng.randint(1, 9))])
        got = corpus.idx.extract(doc_id, start, end)
        assert isinstance(got, bytes)
        assert got == data[start:end], (doc_id, start, end)
        assert corpus.idx.extract(doc_id, start) == data[start:], (doc_id, start)
    for doc_id in {0, len(docs) - 1, rng.randrange(len(docs))}:
        assert corpus.idx.extract(doc_id) == docs[doc_id]
        assert corpus.idx.extract(doc_id, len(docs[doc_id]), len(docs[doc_id])) == b""


def _check_snippet(
    snippet: Any, doc_id: int, data: bytes, offset: int, length: int, context: int, metadata: dict[str, Any]
) -> None:
    end = offset + length
    where = (doc_id, offset, length, context, snippet)
    assert snippet.doc_id == doc_id, where
    assert (snippet.match_start, snippet.match_end) == (offset, end), where
    assert snippet.start <= offset and snippet.end >= end, where
    assert snippet.start >= offset - context - 3 and snippet.end <= end + context + 3, where
    # the context is really there, up to one partial character at each side
    assert snippet.start <= max(offset - context, 0) + 3 and snippet.end >= min(end + context, len(data)) - 3, where
    assert is_boundary(data, snippet.start) and is_boundary(data, snippet.end), where
    assert snippet.before.encode("utf-8") == data[snippet.start : offset], where
    assert snippet.match.encode("utf-8") == data[offset:end], where
    assert snippet.after.encode("utf-8") == data[end : snippet.end], where
    assert (snippet.before + snippet.match + snippet.after).encode("utf-8") == data[snippet.start : snippet.end]
    assert snippet.metadata == metadata, where


def test_snippet_invariants(corpus: Built) -> None:
    rng = random.Random(8)
    texts, docs, metadata = corpus.texts, corpus.oracle.docs, corpus.spec.metadata
    cases: list[tuple[int, int, int]] = []  # (doc_id, byte offset, byte length), all on character boundaries
    for query in make_queries(texts, rng, 60):
        if isinstance(query, str):
            hits = corpus.idx.find(query, limit=3).hits
            cases += [(h.doc_id, h.offset, len(query.encode("utf-8"))) for h in hits]
    nonempty = [i for i, t in enumerate(texts) if t]
    for _ in range(60):  # arbitrary character-aligned ranges, including matches at the very start and end
        doc_id = rng.choice(nonempty)
        text = texts[doc_id]
        i = rng.choice([0, rng.randrange(len(text)), len(text) - 1])
        j = rng.randint(i + 1, min(len(text), i + 30))
        cases.append((doc_id, len(text[:i].encode("utf-8")), len(text[i:j].encode("utf-8"))))
    for doc_id, offset, length in cases:
        for context in rng.sample([0, 1, 2, 5, 40, 200], 2):
            snippet = corpus.idx.snippet(doc_id, offset, length, context=context)
            _check_snippet(snippet, doc_id, docs[doc_id], offset, length, context, metadata[doc_id])
        snippet = corpus.idx.snippet(doc_id, offset, length)  # default context=200
        _check_snippet(snippet, doc_id, docs[doc_id], offset, length, 200, metadata[doc_id])


def _mid_character_cases(corpus: Built, seed: int) -> list[tuple[int, int, int, int]]:
    """(doc_id, offset, length, context) with the match starting inside a character; its end is anywhere."""
    rng = random.Random(seed)
    docs = corpus.oracle.docs
    multibyte = [i for i, d in enumerate(docs) if any(b >= 0x80 for b in d)]
    if not multibyte:
        pytest.skip("corpus is ASCII only")
    cases = []
    for _ in range(150):
        doc_id = rng.choice(multibyte)
        data = docs[doc_id]
        offset = rng.choice([k for k in range(len(data)) if not is_boundary(data, k)])
        length = rng.randint(1, min(6, len(data) - offset))
        cases.append((doc_id, offset, length, rng.choice([0, 1, 7, 200])))
    return cases


def test_snippet_of_a_match_inside_characters(corpus: Built) -> None:
    """Bytes queries can match in the middle of a character; the snippet must still not cut any character."""
    docs = corpus.oracle.docs
    for doc_id, offset, length, context in _mid_character_cases(corpus, 9):
        data = docs[doc_id]
        hits = corpus.idx.find(data[offset : offset + length], limit=10**6).hits
        assert (doc_id, offset) in set(pairs(hits))
        snippet = corpus.idx.snippet(doc_id, offset, length, context=context)
        where = (doc_id, offset, length, context, data, snippet)
        assert snippet.start <= offset and snippet.end >= offset + length, where
        assert snippet.start >= offset - context - 3 and snippet.end <= offset + length + context + 3, where
        assert is_boundary(data, snippet.start) and is_boundary(data, snippet.end), where


def test_snippet_text_is_a_document_slice_inside_characters(corpus: Built) -> None:
    """before + match + after == document bytes [start, end) decoded, even when the match cuts characters."""
    docs = corpus.oracle.docs
    for doc_id, offset, length, context in _mid_character_cases(corpus, 10):
        data = docs[doc_id]
        snippet = corpus.idx.snippet(doc_id, offset, length, context=context)
        text = (snippet.before + snippet.match + snippet.after).encode("utf-8")
        assert text == data[snippet.start : snippet.end], (doc_id, offset, length, context, data, snippet)


def test_snippet_never_cuts_characters_exhaustive(tmp_path: Any) -> None:
    """Every byte range of a few tiny multibyte documents, aligned or not, with small contexts."""
    docs = ["ζ", "aζb", "😀", "e\u0301x", "的"]
    fmsearch.build_index(docs, str(tmp_path / "index"))
    idx = fmsearch.open_index(str(tmp_path / "index"))
    for doc_id, text in enumerate(docs):
        data = text.encode("utf-8")
        for offset in range(len(data)):
            for length in range(1, len(data) - offset + 1):
                for context in [0, 1, 2]:
                    snippet = idx.snippet(doc_id, offset, length, context=context)
                    where = (text, offset, length, context, snippet)
                    assert snippet.start <= offset and snippet.end >= offset + length, where
                    assert is_boundary(data, snippet.start) and is_boundary(data, snippet.end), where


def test_matching_statistics_matches_oracle(corpus: Built) -> None:
    rng = random.Random(10)
    for _ in range(12 if len(corpus.texts) < 500 else 5):
        probe = make_probe(corpus.texts, rng)
        got = corpus.idx.matching_statistics(probe)
        assert isinstance(got, np.ndarray) and got.dtype == np.int64
        assert got.shape == (len(probe.encode("utf-8")),)
        expected = corpus.oracle.matching_statistics(probe)
        first_bad = next((i for i, (g, e) in enumerate(zip(got.tolist(), expected, strict=True)) if g != e), None)
        assert first_bad is None, (probe, first_bad, got[first_bad], expected[first_bad])


# ---------------------------------------------------------------------------------------------------------------------
# Hand-made cases
# ---------------------------------------------------------------------------------------------------------------------


def test_oracle_self_check() -> None:
    """The oracles themselves, on answers worked out by hand."""
    oracle = NaiveIndex(["aaa", "ab", "", "ba"])
    assert oracle.num_bytes == 7
    assert oracle.count("aa") == 2
    assert oracle.find("a") == {(0, 0), (0, 1), (0, 2), (1, 0), (3, 1)}
    assert oracle.count("aab") == 0  # "aaa" + "ab" only across the boundary
    assert oracle.count("bb") == 0
    assert oracle.matching_statistics("aaab") == [3, 2, 2, 1]
    assert oracle.matching_statistics("xba") == [0, 2, 1]
    assert oracle.extract(1, 1) == b"b"


def test_no_match_across_document_boundaries(tmp_path: Any) -> None:
    docs = ["ab", "cd", "", "xyz", "zyx", "q", "", "r", "\x00", "s\x00", "end"]
    across = ["bc", "abc", "abcd", "dx", "cdxyz", "zz", "yzz", "xq", "qr", "r\x00", "\x00s", "\x00e", "da", "dab"]
    oracle = NaiveIndex(docs)
    fmsearch.build_index(docs, str(tmp_path / "index"))
    idx = fmsearch.open_index(str(tmp_path / "index"))
    for query in across:
        assert oracle.count(query) == 0, query  # the oracle agrees these only occur across a boundary
        assert idx.count(query) == 0, query
        assert idx.count(query.encode("utf-8")) == 0, query
        result = idx.find(query, limit=100)
        assert (result.total, result.hits) == (0, []), query
    for query, expected in [("b", 1), ("c", 1), ("z", 2), ("\x00", 2), ("end", 1), ("yz", 1), ("zy", 1)]:
        assert idx.count(query) == expected, query
    assert idx.matching_statistics("abcd").tolist() == [2, 1, 2, 1]
    assert idx.matching_statistics("endab").tolist() == [3, 2, 1, 2, 1]


def test_all_equal_text_counts(tmp_path: Any) -> None:
    """In "a" * n the pattern "a" * k occurs n - k + 1 times (overlapping), worked out by hand."""
    docs = ["a" * 1000, "a" * 7, "", "a"]
    fmsearch.build_index(docs, str(tmp_path / "index"))
    idx = fmsearch.open_index(str(tmp_path / "index"))
    for k in [1, 2, 3, 7, 8, 500, 999, 1000, 1001]:
        expected = sum(max(0, len(d) - k + 1) for d in docs)
        assert idx.count("a" * k) == expected, k
        assert idx.find("a" * k, limit=0).total == expected, k
    expected = {(0, i) for i in range(1000 - 6 + 1)} | {(1, 0), (1, 1)}
    assert set(pairs(idx.find("a" * 6, limit=2000).hits)) == expected
    assert len(idx.find("a" * 6, limit=100, offset=995).hits) == len(expected) - 995


@pytest.mark.parametrize("corpus", ["large"], indirect=True)
def test_large_document_queries_and_ranges(corpus: Built) -> None:
    """Long patterns, far offsets and ranges near the end of the biggest document."""
    rng = random.Random(11)
    big = corpus.oracle.docs[0]
    for _ in range(40):
        start = rng.randrange(len(big) - 1)
        length = rng.choice([100, 1000, 5000, len(big) - start])
        query = big[start : start + length]
        expected = corpus.oracle.find(query)
        result = corpus.idx.find(query, limit=len(expected) + 1)
        assert (0, start) in expected
        assert corpus.idx.count(query) == result.total == len(expected), (start, length)
        assert set(pairs(result.hits)) == expected, (start, length)
    assert corpus.idx.count(big) == 1
    assert corpus.idx.extract(0, len(big) - 10) == big[-10:]
    assert corpus.idx.extract(0, 12345, 123456) == big[12345:123456]


# ---------------------------------------------------------------------------------------------------------------------
# Errors and API surface
# ---------------------------------------------------------------------------------------------------------------------

SMALL_DOCS = ["hello world", "héllo wörld", "", "x"]


@pytest.fixture(scope="module")
def small_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = str(tmp_path_factory.mktemp("small") / "index")
    fmsearch.build_index(SMALL_DOCS, out)
    return out


@pytest.fixture(scope="module")
def small(small_path: str) -> Any:
    return fmsearch.open_index(small_path)


BAD_QUERIES = ["", b"", b"\xff", b"ab\xffcd", b"hello\xff", None, 123, 1.5, ["hello"], ("hello",), {"hello": 1}]


@pytest.mark.parametrize("query", BAD_QUERIES, ids=repr)
@pytest.mark.parametrize("method", ["count", "find", "count_many"])
def test_invalid_queries_raise(small: Any, method: str, query: Any) -> None:
    call = {
        "count": lambda: small.count(query),
        "find": lambda: small.find(query),
        "count_many": lambda: small.count_many(["hello", query]),
    }[method]
    with pytest.raises(InvalidQuery):
        call()


def test_query_too_long(small_path: str) -> None:
    idx = fmsearch.open_index(small_path, max_query_bytes=13)
    oracle = NaiveIndex(SMALL_DOCS)
    # exactly at the limit: allowed (13 bytes; "é" is 2 bytes, so "é" * 6 + "a" is 13 bytes)
    for query in ["a" * 13, "hello world", b"hello world", "é" * 6 + "a", "héllo wörld"]:
        assert idx.count(query) == oracle.count(query), query
    # one byte over: "é" * 7 is only 7 characters but 14 bytes
    for query in ["a" * 14, "é" * 7, b"x" * 14, "hello world!!!"]:
        for call in (lambda q: idx.count(q), lambda q: idx.find(q), lambda q: idx.count_many([q])):
            with pytest.raises(QueryTooLong) as caught:
                call(query)
            assert "13" in str(caught.value), str(caught.value)
            assert isinstance(caught.value, InvalidQuery)


def test_default_query_limit_is_65536(small: Any) -> None:
    assert small.count("a" * 65536) == 0
    with pytest.raises(QueryTooLong, match="65536"):
        small.count("a" * 65537)


@pytest.mark.parametrize("doc_id", [-1, -100, len(SMALL_DOCS), len(SMALL_DOCS) + 1, 10**9])
def test_bad_doc_id_raises(small: Any, doc_id: int) -> None:
    with pytest.raises(InvalidDocument):
        small.document(doc_id)
    with pytest.raises(InvalidDocument):
        small.extract(doc_id)
    with pytest.raises(InvalidDocument):
        small.snippet(doc_id, 0, 1)


@pytest.mark.parametrize(("start", "end"), [(-1, None), (-1, 3), (0, 12), (5, 4), (12, 12), (12, None), (3, -1)])
def test_bad_extract_range_raises(small: Any, start: int, end: int | None) -> None:
    assert len(SMALL_DOCS[0].encode("utf-8")) == 11
    with pytest.raises(InvalidDocument):
        small.extract(0, start, end)


def test_extract_edges_are_valid(small: Any) -> None:
    assert small.extract(0, 11, 11) == b""
    assert small.extract(0, 11) == b""
    assert small.extract(0, 0, 11) == b"hello world"
    assert small.extract(1) == "héllo wörld".encode()
    assert small.extract(1, 1, 3) == "é".encode()
    assert small.extract(2) == b""
    assert small.extract(2, 0, 0) == b""


def test_find_bad_limit_or_offset_raises(small: Any) -> None:
    with pytest.raises(InvalidQuery):
        small.find("hello", limit=-1)
    with pytest.raises(InvalidQuery):
        small.find("hello", offset=-1)
    with pytest.raises(InvalidQuery):
        small.find("hello", limit=-5, offset=-5)


def test_offset_past_total_gives_empty_page(small: Any) -> None:
    for query, total in [("l", 6), ("hello", 1), ("absent", 0)]:
        assert NaiveIndex(SMALL_DOCS).count(query) == total
        for offset in [total, total + 1, total + 1000]:
            result = small.find(query, limit=3, offset=offset)
            assert (result.total, result.hits, result.offset) == (total, [], offset), (query, offset)


def test_matching_statistics_edge_texts(small: Any) -> None:
    assert small.matching_statistics("").shape == (0,)
    # no byte of these occurs in the corpus (unlike "Ω" = CE A9, whose A9 is the second byte of "é")
    assert NaiveIndex(SMALL_DOCS).matching_statistics("ЖZ🙂") == [0] * 7
    assert small.matching_statistics("ЖZ🙂").tolist() == [0] * 7
    # "hello world" occurs whole; "héllo" shares only "h" and "llo wörld" with the corpus
    assert small.matching_statistics("hello world").tolist() == [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    oracle = NaiveIndex(SMALL_DOCS)
    for text in ["héllo world", "xhello", "wörld hello", "dx", "worldx"]:
        assert small.matching_statistics(text).tolist() == oracle.matching_statistics(text), text


def test_result_types(small: Any) -> None:
    """Plain Python values, no numpy scalars."""
    assert type(small.count("l")) is int
    assert type(small.num_documents) is int and type(small.num_bytes) is int
    result = small.find("l", limit=100)
    assert type(result.total) is int and isinstance(result.hits, list)
    assert all(type(h.doc_id) is int and type(h.offset) is int for h in result.hits)
    assert isinstance(small.document(0).text, str) and isinstance(small.document(0).metadata, dict)
    snippet = small.snippet(1, 1, 2)
    assert all(type(v) is int for v in (snippet.start, snippet.end, snippet.match_start, snippet.match_end))
    assert snippet.match == "é"


def test_build_refuses_an_existing_index(tmp_path: Any) -> None:
    out = str(tmp_path / "index")
    fmsearch.build_index(["first corpus"], out)
    with pytest.raises(FileExistsError):
        fmsearch.build_index(["second corpus"], out)
    idx = fmsearch.open_index(out)
    assert idx.count("first") == 1
    assert idx.count("second") == 0


def test_generator_input_and_reopen(tmp_path: Any) -> None:
    texts = ["alpha beta", "βeta ß", "", "gamma\x00delta", "a"]
    out = str(tmp_path / "index")
    summary = fmsearch.build_index((t for t in texts), out)
    assert (summary.num_documents, summary.num_bytes) == (len(texts), NaiveIndex(texts).num_bytes)
    first, second = fmsearch.open_index(out), fmsearch.open_index(out)
    oracle = NaiveIndex(texts)
    for query in ["a", "eta", "\x00", "ma\x00d", "ß", b"\xc3", "alpha beta", "x"]:
        assert first.count(query) == second.count(query) == oracle.count(query), query
        assert set(pairs(second.find(query, limit=50).hits)) == oracle.find(query), query
    assert [second.document(i).text for i in range(len(texts))] == texts


# ---------------------------------------------------------------------------------------------------------------------
# Hypothesis: a tiny index per example
# ---------------------------------------------------------------------------------------------------------------------

HYPO_ALPHABET = "ab\x00é"
HYPO_BYTES = sorted(set(HYPO_ALPHABET.encode("utf-8")) | {ord("c")})


@st.composite
def hypo_query(draw: st.DrawFn, docs: list[str]) -> str | bytes:
    encoded = [d.encode("utf-8") for d in docs if d]
    if encoded and draw(st.booleans()):  # a byte slice of a document
        data = draw(st.sampled_from(encoded))
        start = draw(st.integers(0, len(data) - 1))
        return data[start : draw(st.integers(start + 1, len(data)))]
    return draw(
        st.one_of(
            st.text(alphabet=HYPO_ALPHABET + "c", min_size=1, max_size=6),
            st.lists(st.sampled_from(HYPO_BYTES), min_size=1, max_size=5).map(bytes),
        )
    )


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(st.text(alphabet=HYPO_ALPHABET, max_size=24), min_size=1, max_size=6), data=st.data())
def test_hypothesis_tiny_indexes(docs: list[str], data: st.DataObject) -> None:
    oracle = NaiveIndex(docs)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "index")
        summary = fmsearch.build_index(docs, out)
        assert (summary.num_documents, summary.num_bytes) == (len(docs), oracle.num_bytes)
        idx = fmsearch.open_index(out)
        for query in data.draw(st.lists(hypo_query(docs), min_size=1, max_size=12), label="queries"):
            expected = oracle.find(query)
            result = idx.find(query, limit=len(expected) + 1)
            assert idx.count(query) == len(expected), query
            assert result.total == len(expected), query
            assert sorted(pairs(result.hits)) == sorted(expected), query
        probe = data.draw(st.text(alphabet=HYPO_ALPHABET + "c", min_size=1, max_size=12), label="probe")
        assert idx.matching_statistics(probe).tolist() == oracle.matching_statistics(probe), probe
        doc_id = data.draw(st.integers(0, len(docs) - 1), label="doc_id")
        assert idx.document(doc_id).text == docs[doc_id]
