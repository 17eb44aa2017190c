"""Named index configurations. A preset's values are written into each shard's manifest."""

from __future__ import annotations

from dataclasses import dataclass

from fmsearch.errors import InputError


@dataclass(frozen=True, slots=True)
class Preset:
    """How a shard is laid out: the kind of wavelet-tree bitvectors and the sampling rates.

    `compact`: RRR-coded bitvectors (the BWT takes about 2.2 bits per corpus byte on mixed prose and code).
    `small`: hybrid bitvectors (about 1.9 bits per corpus byte): 9% smaller shards than `compact`, for queries
    1.8-3.8x slower, as a rank decodes run lengths (bench/core.py).
    `fast`: plain bitvectors with the rank count inside each cache line: about 1.5x the size of `compact`. A single
    count is about as fast (both wait for one cache miss per tree level); the batched walks of count_many, find,
    snippets and extracts are 1.25-1.7x faster, as a rank reads one line where `compact` reads a line and an offset.
    The suffix array is sampled at every `sa_rate`-th text position: locate walks fewer than sa_rate LF steps per
    hit, and extract starts its walks at those positions, found through the inverse of the samples' permutation,
    with a back pointer every `isa_shortcut` steps of its cycles (`permutation.py`: up to 2 * isa_shortcut + 1
    reads per start, a few microseconds, against 0.03 bits per corpus byte for the pointers; at 8, 0.12).
    """

    name: str
    bitvectors: str
    sa_rate: int = 32
    isa_shortcut: int = 32


PRESETS = {
    "compact": Preset("compact", "rrr15"),
    "small": Preset("small", "hybrid"),
    "fast": Preset("fast", "plain", isa_shortcut=8),  # faster extracts, for 0.09 bits per byte more
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
