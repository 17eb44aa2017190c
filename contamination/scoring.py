"""Score benchmark entries against an index: eta, verdict, windows found, longest match and evidence.

`score_texts(index, texts)` is the one entry point (the CLI, the bulletin and the service's `POST /v1/contamination`
call it). `index` is anything `fmsearch.open_index` returns: a shard, or a catalog whose `shards` are searched in
turn (a window occurs in a catalog when it occurs in any shard; counts add up over shards; doc ids are global).
Work per entry is a few kernel calls per shard (`contamination.kernels`), never one Python call per window.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from contamination import kernels
from contamination.errors import EmptyEntry, EntryTooLong
from contamination.windows import CLEAN, DEFAULT_PARAMS, EncodedEntry, WindowParams, check_text, encode
from fmsearch.results import Snippet

MAX_TEXT_BYTES = 1 << 20  # per entry; a benchmark item is a question or a passage, not a book
SNIPPET_CONTEXT = 100  # bytes of context on each side of the evidence match
_COUNT_CHUNK = 64  # most windows counted per kernel call when hunting the rarest window over several shards


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why an entry is suspicious or dirty: its rarest occurring window, how often it occurs, and one hit."""

    window: str  # the window's text
    window_start: int  # its start in the entry, code points
    count: int  # occurrences in the whole index (every shard)
    doc_id: int  # a document holding it (global id)
    offset: int  # byte offset of the match in that document
    metadata: dict[str, Any]
    snippet: Snippet  # the match with context; snippet.match == window

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "window_start": self.window_start,
            "count": self.count,
            "doc_id": self.doc_id,
            "offset": self.offset,
            "metadata": self.metadata,
            "snippet": {
                "before": self.snippet.before,
                "match": self.snippet.match,
                "after": self.snippet.after,
                "start": self.snippet.start,
                "end": self.snippet.end,
                "match_start": self.snippet.match_start,
                "match_end": self.snippet.match_end,
            },
        }


@dataclass(frozen=True, slots=True)
class EntryScore:
    """The score of one entry against one index (see `contamination.windows` for the definition)."""

    eta: float  # windows_found / windows_total
    verdict: str  # "clean" / "suspicious" / "dirty"
    windows_found: int
    windows_total: int
    short: bool  # shorter than one window: the whole text is the only window
    longest_match: int  # characters: the longest substring of the entry occurring in some document
    chars: int  # length of the checked text, code points
    evidence: Evidence | None  # for suspicious and dirty entries

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "evidence"}
        d["evidence"] = self.evidence.to_dict() if self.evidence is not None else None
        return d


def _shards_and_bases(index: Any) -> tuple[list[Any], list[int]]:
    shards = list(index.shards)
    bases, total = [], 0
    for shard in shards:
        bases.append(total)
        total += int(shard.num_documents)
    return shards, bases


def _rarest(shards: list[Any], enc: EncodedEntry, found_idx: np.ndarray) -> tuple[int, int, list[int]]:
    """(window index, total count, per-shard counts) of the rarest found window; ties go to the earliest window.

    A count of 1 is the least an occurring window can have, so the hunt stops at the first such window: for a
    planted copy that is usually the first window.
    """
    best_k, best_count, best_per_shard = -1, 0, []
    if len(shards) == 1:
        counts = kernels.window_counts(shards[0].fm, enc.data, enc.char_bytes, enc.starts, enc.ends, found_idx, True)
        valid = counts >= 0
        order = found_idx[valid]
        counts = counts[valid]
        t = int(np.argmin(counts))
        return int(order[t]), int(counts[t]), [int(counts[t])]
    # Several shards: a count of 1 in one shard says nothing of the others, so count every shard, in chunks that
    # grow (a planted copy usually ends the hunt in the first, small one).
    lo, size = 0, 2
    while lo < found_idx.shape[0]:
        chunk = found_idx[lo : lo + size]
        per_shard = np.stack(
            [
                kernels.window_counts(shard.fm, enc.data, enc.char_bytes, enc.starts, enc.ends, chunk, False)
                for shard in shards
            ]
        )
        totals = per_shard.sum(axis=0)
        t = int(np.argmin(totals))
        if best_k < 0 or totals[t] < best_count:
            best_k, best_count, best_per_shard = int(chunk[t]), int(totals[t]), per_shard[:, t].tolist()
        if best_count == 1:
            break
        lo += size
        size = min(2 * size, _COUNT_CHUNK)
    return best_k, best_count, best_per_shard


def _evidence(shards: list[Any], bases: list[int], text: str, enc: EncodedEntry, found: np.ndarray) -> Evidence:
    found_idx = np.flatnonzero(found).astype(np.int64)
    k, count, per_shard = _rarest(shards, enc, found_idx)
    s, e = int(enc.starts[k]), int(enc.ends[k])
    pattern = enc.data[enc.char_bytes[s] : enc.char_bytes[e]].tobytes()
    shard_no = next(i for i, c in enumerate(per_shard) if c > 0)
    shard = shards[shard_no]
    hit = shard.find(pattern, limit=1).hits[0]
    snip = shard.snippet(hit.doc_id, hit.offset, len(pattern), context=SNIPPET_CONTEXT)
    doc_id = bases[shard_no] + hit.doc_id
    return Evidence(
        window=text[s:e],
        window_start=s,
        count=count,
        doc_id=doc_id,
        offset=hit.offset,
        metadata=snip.metadata,
        snippet=dataclasses.replace(snip, doc_id=doc_id),
    )


def score_entry(
    shards: list[Any],
    bases: list[int],
    text: str,
    params: WindowParams = DEFAULT_PARAMS,
    *,
    evidence: bool = True,
) -> EntryScore:
    """Score one non-empty text against the shards (see `score_texts`)."""
    enc = encode(text, params.length)
    total = int(enc.starts.shape[0])
    found = np.zeros(total, dtype=np.uint8)
    chars = int(enc.char_bytes.shape[0] - 1)
    best = 0  # the longest match seen so far: the longest-match search only looks for longer ones
    absent = [np.zeros((total + 1, 2), dtype=np.int64) for _ in shards]  # spans seen absent, per shard
    n_absent = [0] * len(shards)
    for i, shard in enumerate(shards):
        seen, n_absent[i] = kernels.windows_found(
            shard.fm, enc.data, enc.char_bytes, enc.starts, enc.ends, found, absent[i]
        )
        best = max(best, int(seen))
        if found.all() and best >= chars:
            break
    n_found = int(found.sum())
    for i, shard in enumerate(shards):
        if best >= chars:
            break
        best = int(kernels.longest_match(shard.fm, enc.data, enc.char_bytes, best, absent[i], n_absent[i]))
    eta = n_found / total
    verdict = params.verdict(eta)
    ev = _evidence(shards, bases, text, enc, found) if evidence and verdict != CLEAN and n_found else None
    return EntryScore(
        eta=eta,
        verdict=verdict,
        windows_found=n_found,
        windows_total=total,
        short=enc.short,
        longest_match=best,
        chars=chars,
        evidence=ev,
    )


def check_texts(texts: Sequence[object], max_text_bytes: int = MAX_TEXT_BYTES) -> list[str]:
    """The texts, or a typed error naming the first bad entry (not a string, empty, over the size limit)."""
    if isinstance(texts, str | bytes):
        raise EmptyEntry("texts must be a list of strings, not one string")
    out = []
    for i, text in enumerate(texts):
        check_text(text, i)
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > max_text_bytes:
            raise EntryTooLong(
                f"entry {i}: the checked text is {size:,} bytes, over the limit of {max_text_bytes:,} bytes; "
                "check a shorter field or split the entry"
            )
        out.append(text)
    return out


def score_texts(
    index: Any,
    texts: Sequence[str],
    params: WindowParams | None = None,
    *,
    evidence: bool = True,
    max_text_bytes: int = MAX_TEXT_BYTES,
    on_entry: Callable[[int, EntryScore], None] | None = None,
    workers: int = 1,
) -> list[EntryScore]:
    """Score each text against `index` (a shard or a catalog). All texts are checked before any is scored: a bad
    one (not a string, empty, over `max_text_bytes`) raises a typed error naming it.

    `evidence=False` skips the evidence (rarest window and hit) of suspicious and dirty entries. `on_entry(i, score)`
    is called after each entry, in order (progress bars). `workers` > 1 scores entries in that many threads (the
    kernels release the GIL); results keep the order of `texts`. Cost per entry and shard: about one backward search
    over each matched stretch, plus one short search per disproved run of windows (see `contamination.kernels`).
    """
    params = DEFAULT_PARAMS if params is None else params
    checked = check_texts(texts, max_text_bytes)
    shards, bases = _shards_and_bases(index)

    def one(text: str) -> EntryScore:
        return score_entry(shards, bases, text, params, evidence=evidence)

    scores: list[EntryScore] = []
    if workers <= 1 or len(checked) < 2:
        results = map(one, checked)
        for i, score in enumerate(results):
            scores.append(score)
            if on_entry is not None:
                on_entry(i, score)
        return scores
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="contamination") as pool:
        for i, score in enumerate(pool.map(one, checked)):
            scores.append(score)
            if on_entry is not None:
                on_entry(i, score)
    return scores
