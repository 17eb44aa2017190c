"""Contamination scoring against a brute-force implementation of the definition (issue 5), literally.

The oracle below is plain Python over each document's text separately (so nothing can match across a document
boundary): window starts by the word rule with `str.isspace`, `window in doc` for each window, the longest
substring found by trying every start, counts by overlapping `str.find`. Corpora hold planted entries: verbatim
copies, copies with a fraction of words changed, re-wrapped copies, short entries, non-ASCII entries and entries
straddling two documents. Each corpus is scored as one shard and as three shards behind a catalog-like wrapper.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fmsearch
from contamination import windows as win
from contamination.errors import EmptyEntry, EntryTooLong, InvalidParams
from contamination.scoring import score_texts
from contamination.windows import WindowParams, summarize

# ---------------------------------------------------------------------------------------------------------------------
# The oracle: the definition, as plainly as it can be written
# ---------------------------------------------------------------------------------------------------------------------


def naive_starts(text: str, length: int) -> list[int]:
    if len(text) < length:
        return [0]
    return [i for i in range(len(text) - length + 1) if i == 0 or (text[i - 1].isspace() and not text[i].isspace())]


def naive_count(docs: list[str], w: str) -> int:
    total = 0
    for d in docs:
        pos = d.find(w)
        while pos != -1:
            total += 1
            pos = d.find(w, pos + 1)
    return total


def naive_longest(docs: list[str], text: str) -> int:
    best = 0
    for i in range(len(text)):
        while i + best < len(text) and any(text[i : i + best + 1] in d for d in docs):
            best += 1
    return best


@dataclass
class Expected:
    eta: float
    verdict: str
    found: int
    total: int
    short: bool
    longest: int
    rarest_start: int | None
    rarest_count: int | None


def naive_score(docs: list[str], text: str, params: WindowParams) -> Expected:
    starts = naive_starts(text, params.length)
    wins = [text[s : s + params.length] for s in starts]
    counts = [naive_count(docs, w) for w in wins]
    found = sum(1 for c in counts if c > 0)
    eta = found / len(wins)
    verdict = "dirty" if eta >= params.dirty_at else "suspicious" if eta >= params.suspicious_at else "clean"
    rarest_start = rarest_count = None
    if verdict != "clean":
        occurring = [(c, s) for c, s in zip(counts, starts, strict=True) if c > 0]
        rarest_count, rarest_start = min(occurring)  # ties: the earliest window
    return Expected(
        eta, verdict, found, len(wins), len(text) < params.length, naive_longest(docs, text), rarest_start, rarest_count
    )


# ---------------------------------------------------------------------------------------------------------------------
# Planted corpora
# ---------------------------------------------------------------------------------------------------------------------

WORDS = (
    "the model answer question number apples train seven paper river count blue Mary bought three each total cost "
    "dollars week garden tomatoes über naïve café 日本語 数学 emoji🙂 Ωmega x² déjà vu a of and in to is"
).split()


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)) + "."


def make_docs(rng: random.Random, n_docs: int) -> list[str]:
    docs = []
    for _ in range(n_docs):
        parts = [sentence(rng, rng.randint(6, 18)) for _ in range(rng.randint(3, 12))]
        docs.append(rng.choice([" ", "\n", "  "]).join(parts))
    return docs


def change_words(rng: random.Random, text: str, fraction: float) -> str:
    words = text.split(" ")
    for i in range(len(words)):
        if rng.random() < fraction:
            words[i] = "".join(rng.choice(string.ascii_uppercase) for _ in range(5))
    return " ".join(words)


def rewrap(text: str, width: int) -> str:
    out, line = [], 0
    for word in text.split():
        if line and line + 1 + len(word) > width:
            out.append("\n")
            line = 0
        elif line:
            out.append(" ")
            line += 1
        out.append(word)
        line += len(word)
    return "".join(out)


def planted_entries(rng: random.Random, docs: list[str]) -> list[str]:
    entries = []
    for _ in range(6):  # verbatim slices of one document, starting anywhere
        d = rng.choice([d for d in docs if len(d) > 260])
        a = rng.randrange(0, len(d) - 250)
        entries.append(d[a : a + rng.randint(120, 250)])
    for fraction in (0.05, 0.15, 0.3, 0.5, 0.8):  # a fraction of words changed
        d = rng.choice([d for d in docs if len(d) > 200])
        entries.append(change_words(rng, d[:200], fraction))
    for width in (30, 61):  # re-wrapped copies: the words are there, the line breaks are not
        entries.append(rewrap(rng.choice(docs)[:300], width))
    d = rng.choice(docs)
    entries += [d[5:40], d[:49], "Mary bought three", "not in any document 12345", "ü", "🙂"]  # short entries
    entries += ["日本語 数学 café déjà vu " * 4, "emoji🙂 x² Ωmega naïve über " * 3]  # non-ASCII, mostly absent
    for i in range(3):  # straddling documents i and i+1: tail of one + head of the next
        entries.append(docs[i][-60:] + docs[i + 1][:60])
    entries.append("\n".join(docs[0].split(" ")[:40]))  # whitespace kind changed everywhere
    entries.append("   leading spaces then " + docs[2][:120])
    entries.append(sentence(rng, 30))  # random words: some windows may occur by chance
    return entries


class ShardList:
    """The catalog rule without the catalog: shards in global doc-id order (what `open_index` gives for one)."""

    def __init__(self, shards: list) -> None:
        self.shards = shards
        self.num_documents = sum(s.num_documents for s in shards)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory):
    rng = random.Random(5)
    docs = make_docs(rng, 24)
    root = tmp_path_factory.mktemp("planted")
    single = fmsearch.open_index(fmsearch.build_index(docs, root / "one").path)
    cuts = [0, 7, 15, 24]
    parts = [
        fmsearch.open_index(fmsearch.build_index(docs[a:b], root / "cat" / f"part{i}").path)
        for i, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False))
    ]
    return docs, planted_entries(rng, docs), single, ShardList(parts), make_catalog(root / "cat", parts)


def make_catalog(directory: Path, parts: list):
    """A real catalog over the shards when the catalog code is there; else the list-of-shards wrapper."""
    try:
        from fmsearch.catalog import shard_entry, write_catalog
    except ImportError:
        return ShardList(parts)
    entries, first = [], 0
    for shard in parts:
        entries.append(shard_entry({"name": shard.name, "path": shard.name, "ranges": []}, shard.manifest, first))
        first += shard.num_documents
    write_catalog(directory, name="planted", shards=entries, build_params={}, sources=[])
    catalog = fmsearch.open_index(directory)
    assert len(catalog.shards) == 3
    return catalog


def assert_matches_oracle(docs, entries, index, params: WindowParams) -> None:
    scores = score_texts(index, entries, params)
    assert len(scores) == len(entries)
    for text, got in zip(entries, scores, strict=True):
        want = naive_score(docs, text, params)
        where = f"entry {text!r}"
        assert (got.windows_found, got.windows_total) == (want.found, want.total), where
        assert got.eta == pytest.approx(want.eta), where
        assert got.verdict == want.verdict, where
        assert got.short == want.short, where
        assert got.longest_match == want.longest, where
        assert got.chars == len(text)
        if want.verdict == "clean":
            assert got.evidence is None, where
            continue
        ev = got.evidence
        assert ev is not None, where
        assert (ev.window_start, ev.count) == (want.rarest_start, want.rarest_count), where
        assert ev.window == text[want.rarest_start : want.rarest_start + params.length]
        # The hit is real: the global document holds the window at that byte offset.
        doc = docs[ev.doc_id].encode()
        assert doc[ev.offset : ev.offset + len(ev.window.encode())] == ev.window.encode(), where
        assert ev.snippet.match == ev.window and ev.snippet.doc_id == ev.doc_id
        assert ev.snippet.text in docs[ev.doc_id]


@pytest.mark.parametrize("layout", ["single", "three shards", "catalog"])
def test_planted_entries_match_the_oracle(planted, layout: str) -> None:
    docs, entries, single, multi, catalog = planted
    index = {"single": single, "three shards": multi, "catalog": catalog}[layout]
    assert_matches_oracle(docs, entries, index, WindowParams())


def test_planted_corpus_covers_every_verdict(planted) -> None:
    docs, entries, single, *_ = planted
    scores = score_texts(single, entries)
    verdicts = {s.verdict for s in scores}
    assert verdicts == {"clean", "suspicious", "dirty"}
    assert any(s.short for s in scores) and any(s.short and s.verdict == "dirty" for s in scores)
    summary = summarize([s.to_dict() for s in scores])
    assert summary["clean"] + summary["suspicious"] + summary["dirty"] == len(entries)
    assert summary["dirty_pct"] == pytest.approx(100 * summary["dirty"] / len(entries))


def test_straddling_entries_do_not_count_across_the_boundary(planted) -> None:
    docs, _, single, multi, catalog = planted
    for i in range(3):
        entry = docs[i][-60:] + docs[i + 1][:60]
        for index in (single, multi, catalog):
            (score,) = score_texts(index, [entry])
            # Only windows wholly inside one document's tail or head can occur; the joint ones are absent.
            want = naive_score(docs, entry, WindowParams())
            assert score.windows_found == want.found < score.windows_total
            assert score.longest_match == want.longest <= 60 + 5


@pytest.mark.parametrize("length", [3, 8])
def test_small_windows_over_a_tiny_alphabet(tmp_path: Path, length: int) -> None:
    """Short windows over 'ab c' make every path of the kernels run: partial groups, kills, gallops, shard rules."""
    rng = random.Random(length)
    alphabet = "aab  cé"
    docs = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))) for _ in range(30)]
    single = fmsearch.open_index(fmsearch.build_index(docs, tmp_path / "one").path)
    multi = ShardList(
        [fmsearch.open_index(fmsearch.build_index(docs[a:b], tmp_path / f"p{a}").path) for a, b in ((0, 10), (10, 30))]
    )
    entries = ["".join(rng.choice(alphabet + "d") for _ in range(rng.randint(1, 80))) for _ in range(150)]
    entries += [rng.choice(docs) + rng.choice(docs) for _ in range(20)]
    params = WindowParams(length=length)
    assert_matches_oracle(docs, entries, single, params)
    assert_matches_oracle(docs, entries, multi, params)


def test_thresholds_are_parameters(planted) -> None:
    docs, entries, single, *_ = planted
    strict = WindowParams(suspicious_at=0.01, dirty_at=0.5)
    assert_matches_oracle(docs, entries[:8], single, strict)


def test_window_starts_follow_the_word_rule() -> None:
    text = "  ab\tcd\u00a0ef\u2003gh\n\nij" + "k" * 60
    assert win.window_starts(text, 5) == naive_starts(text, 5)
    assert win.window_starts(text, 5)[:6] == [0, 2, 5, 8, 11, 15]
    assert win.window_starts("short", 50) == [0]
    assert win.window_starts("x" * 50, 50) == [0]
    assert win.window_starts("x" * 49 + " y", 50) == [0]  # 'y' starts a word but has no room for a window
    rng = random.Random(1)
    spaces = [c for c in map(chr, range(0x3100)) if c.isspace()]
    for _ in range(200):
        t = "".join(rng.choice(spaces + list("ab")) for _ in range(rng.randint(1, 40)))
        assert win.window_starts(t, 4) == naive_starts(t, 4)


def test_encoding_maps_code_points_to_bytes() -> None:
    enc = win.encode("aé日🙂", 2)
    assert enc.data.tobytes() == "aé日🙂".encode()
    assert enc.char_bytes.tolist() == [0, 1, 3, 6, 10]
    assert enc.starts.tolist() == [0] and enc.ends.tolist() == [2]


def test_bad_texts_raise_naming_the_entry(planted) -> None:
    _, _, single, *_ = planted
    with pytest.raises(EmptyEntry, match="entry 1: the checked text is empty"):
        score_texts(single, ["fine", ""])
    with pytest.raises(EmptyEntry, match="entry 0: .* not int"):
        score_texts(single, [3])
    with pytest.raises(EmptyEntry, match="list of strings"):
        score_texts(single, "a string")
    with pytest.raises(EntryTooLong, match=r"entry 1: .* over the limit of 100 bytes"):
        score_texts(single, ["ok", "x" * 101], max_text_bytes=100)
    with pytest.raises(InvalidParams, match="window length"):
        WindowParams(length=0)
    with pytest.raises(InvalidParams, match="thresholds"):
        WindowParams(suspicious_at=0.9, dirty_at=0.5)
    assert score_texts(single, []) == []


def test_evidence_can_be_skipped(planted) -> None:
    docs, _, single, *_ = planted
    (score,) = score_texts(single, [docs[3][:120]], evidence=False)
    assert score.verdict == "dirty" and score.evidence is None
    assert np.isclose(score.eta, 1.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    rng = random.Random(99)
    docs = ["".join(rng.choice("ab  cé") for _ in range(rng.randint(1, 40))) for _ in range(12)]
    root = tmp_path_factory.mktemp("tiny")
    single = fmsearch.open_index(fmsearch.build_index(docs, root / "one").path)
    multi = ShardList(
        [fmsearch.open_index(fmsearch.build_index(docs[a:b], root / f"p{a}").path) for a, b in ((0, 5), (5, 12))]
    )
    return docs, single, multi


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet="ab  cédZ", min_size=1, max_size=40), length=st.integers(1, 9))
def test_property_random_entries(tiny, text: str, length: int) -> None:
    docs, single, multi = tiny
    assert_matches_oracle(docs, [text], single, WindowParams(length=length))
    assert_matches_oracle(docs, [text], multi, WindowParams(length=length))


def test_verdict_boundaries_are_inclusive() -> None:
    p = WindowParams()
    assert [p.verdict(x) for x in (0.0, 0.1999, 0.2, 0.7999, 0.8, 1.0)] == [
        "clean",
        "clean",
        "suspicious",
        "suspicious",
        "dirty",
        "dirty",
    ]


def test_kernel_calls_per_entry_not_per_window(planted, monkeypatch: pytest.MonkeyPatch) -> None:
    """The work per entry is a few kernel calls per shard, however many windows the entry has."""
    from contamination import kernels, scoring

    docs, _, single, multi, _ = planted
    calls = {"n": 0}

    def counting(fn):
        def wrapper(*args):
            calls["n"] += 1
            return fn(*args)

        return wrapper

    for name in ("windows_found", "longest_match", "window_counts"):
        monkeypatch.setattr(scoring.kernels, name, counting(getattr(kernels, name)))
    long_entry = " ".join(docs[:4])  # hundreds of windows, all occurring
    for index, shards in ((single, 1), (multi, 3)):
        calls["n"] = 0
        (score,) = score_texts(index, [long_entry])
        assert score.windows_total > 100
        assert calls["n"] <= 3 * shards + 8, calls["n"]


def test_threads_give_the_same_scores_in_order(planted) -> None:
    docs, entries, single, _, catalog = planted
    seen: list[int] = []
    for index in (single, catalog):
        one = score_texts(index, entries)
        seen.clear()
        two = score_texts(index, entries, workers=3, on_entry=lambda i, s: seen.append(i))
        assert [s.to_dict() for s in two] == [s.to_dict() for s in one]
        assert seen == list(range(len(entries)))
