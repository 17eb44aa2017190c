"""Named index configurations. A preset's values are written into each shard's manifest."""

from __future__ import annotations

from dataclasses import dataclass

from fmsearch.errors import InputError


@dataclass(frozen=True, slots=True)
class Preset:
    """How a shard is laid out: the kind of wavelet-tree bitvectors and the sampling rates.

    `compact`: RRR-coded bitvectors (the BWT takes about 2.3 bits per corpus byte on mixed prose and code).
    `fast`: plain bitvectors with the rank count inside each cache line: about 1.4x the size for 1.6-2.9x faster
    queries as measured (bench/core.py: one cache miss per tree level instead of two).
    SA samples every `sa_rate` rows (locate walks about that many LF steps per hit) and inverse-SA samples every
    `isa_rate` text positions (extract walks up to that many extra steps per range).
    """

    name: str
    bitvectors: str
    sa_rate: int = 32
    isa_rate: int = 64


PRESETS = {
    "compact": Preset("compact", "rrr15"),
    "fast": Preset("fast", "plain"),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
