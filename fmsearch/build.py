"""Build one shard: documents -> text -> suffix array -> BWT and samples -> wavelet tree -> published directory.

Memory: the text (n bytes) and the suffix array (4n) are the peak; the BWT is streamed to a scratch file while
both are alive and read back after they are freed, so the peak stays near 5n plus the input's metadata. The stages up
to the BWT use numpy only: numba (about 60 MB resident once imported) is loaded for the wavelet tree, after the text
and the suffix array are freed, so it never adds to the peak.
"""

from __future__ import annotations

import json
import os
import resource
import time
from array import array
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pydivsufsort

from fmsearch import storage
from fmsearch.errors import InputError
from fmsearch.presets import Preset, get_preset
from fmsearch.results import BuildSummary
from fmsearch.sources import RecordReport, read_documents

SEPARATOR = 0xFF  # precedes every document; never occurs in UTF-8, so no match spans two documents
MAX_TEXT_BYTES = 2**31 - 2  # 32-bit suffix array; larger corpora are split into shards
CHUNK = 1 << 20
# The index's arrays besides the wavelet tree's (wavelet.ARRAY_NAMES): alphabet tables, samples, document starts.
TABLE_ARRAYS = (
    "first_row",
    "symbol_of_byte",
    "byte_of_symbol",
    "sa_samples",
    "sampled_row_heads",
    "sampled_row_bits",
    "isa_holder_heads",
    "isa_holder_bits",
    "isa_back",
    "doc_starts",
)
# Formats 2-3 marked the holders of back pointers (`permutation`) in a bitvector with a rank directory.
TABLE_ARRAYS_V3 = tuple(
    {"isa_holder_heads": "isa_holders", "isa_holder_bits": "isa_counts"}.get(name, name) for name in TABLE_ARRAYS
)
# Format 1 sampled rows by rank (every sa_rate-th) and stored inverse-SA samples instead.
TABLE_ARRAYS_V1 = ("first_row", "symbol_of_byte", "byte_of_symbol", "sa_samples", "isa_samples", "doc_starts")
METADATA_ARRAYS = ("meta_offsets", "meta_blob")


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _Stages:
    """Times the named stages and shows them as progress lines when asked to."""

    def __init__(self, show: bool) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_rss: dict[str, int] = {}
        self.progress = None
        if show:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            # Progress goes to stderr: stdout belongs to the caller's results (the CLI prints JSON there).
            self.progress = Progress(
                TextColumn("{task.description:<16}"),
                BarColumn(),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
                transient=False,
                console=Console(stderr=True),
            )

    @contextmanager
    def stage(self, name: str, total: float | None = 1):
        if self.progress is not None and not self.progress.live.is_started:
            self.progress.start()
        task = self.progress.add_task(name, total=total, note="") if self.progress else None
        start = time.perf_counter()

        def update(completed: float | None = None, note: str = "") -> None:
            if self.progress is not None:
                self.progress.update(task, completed=completed, note=note)

        yield update
        self.seconds[name] = round(time.perf_counter() - start, 3)
        self.peak_rss[name] = _peak_rss()
        if self.progress is not None:
            self.progress.update(task, completed=total if total is not None else 1, total=total or 1)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _read_text(documents: Iterable[tuple[str, dict]], update) -> tuple[bytearray, array, bytearray, array]:
    text = bytearray()
    starts = array("q")
    meta_blob = bytearray()
    meta_offsets = array("Q", [0])
    for doc_text, metadata in documents:
        encoded = doc_text.encode("utf-8")
        if len(text) + 1 + len(encoded) > MAX_TEXT_BYTES:
            raise InputError(
                f"the shard would exceed {MAX_TEXT_BYTES:,} bytes of text (limit of index format "
                f"{storage.FORMAT_VERSION}) at document {len(starts)}; split the corpus into shards "
                "(fmsearch index --shard-size)"
            )
        starts.append(len(text))
        text.append(SEPARATOR)
        text += encoded
        if metadata:
            meta_blob += json.dumps(metadata, separators=(",", ":"), default=str).encode("ascii")
        meta_offsets.append(len(meta_blob))
        if len(starts) % 4096 == 0:
            update(note=f"{len(starts):,} docs, {len(text) / 1e6:,.1f} MB")
    update(note=f"{len(starts):,} docs, {len(text) / 1e6:,.1f} MB")
    return text, starts, meta_blob, meta_offsets


def _bwt_and_samples(text: np.ndarray, sa: np.ndarray, rate: int, scratch: Path) -> tuple[np.ndarray, int, int]:
    """Write the BWT (n + 1 rows; row 0 is the empty suffix) to `scratch`; return the sampled rows as a bitmap (one
    bit per row, least significant first), the number of samples, and `primary`.

    Row r holds the byte before suffix sa[r - 1]; the suffix at 0 is preceded by the separator (`primary`). The
    samples are the rows of the text positions divisible by `rate` (text order). Their positions / rate are gathered
    in row order, in place at the front of `sa` over entries already read, so that they cost no memory while the
    text and the suffix array are alive; row 0 (position n) is left out there, as it may come first.
    """
    n = text.shape[0]
    marks = np.zeros((n + 1) // 8 + 2, dtype=np.uint8)
    primary = int(np.argmin(sa)) + 1
    gathered = 0
    with open(scratch, "wb") as f:
        f.write(text[n - 1 : n].tobytes())
        for lo in range(0, n, CHUNK):
            suffixes = sa[lo : lo + CHUNK].copy()
            part = text.take(suffixes - 1)
            if lo < primary <= lo + suffixes.shape[0]:
                part[primary - 1 - lo] = SEPARATOR
            f.write(part.tobytes())
            sampled = np.flatnonzero(suffixes % rate == 0)
            # Rows lo + 1 + i: bit i + 1 of a bitmap that starts at row lo, a multiple of 8.
            bitmap = np.zeros(suffixes.shape[0] + 8, dtype=bool)
            bitmap[sampled + 1] = True
            packed = np.packbits(bitmap, bitorder="little")
            marks[lo // 8 : lo // 8 + packed.shape[0]] |= packed
            sa[gathered : gathered + sampled.shape[0]] = suffixes[sampled] // rate
            gathered += sampled.shape[0]
    if n % rate == 0:
        marks[0] |= 1
    return marks, gathered, primary


def build_index(
    docs_or_paths: Any,
    out: str | os.PathLike,
    *,
    text_field: str = "text",
    skip_bad_records: bool = False,
    preset: str | Preset = "compact",
    overwrite: bool = False,
    progress: bool = False,
    extra_manifest: dict[str, Any] | None = None,
) -> BuildSummary:
    """Build a shard at `out` from documents (str / dict) or files (paths), and publish it atomically.

    `preset` names the layout (`fmsearch.presets`): "compact" (default), "small" (about 9% smaller,
    slower queries) or "fast" (about 1.5x larger, faster queries).
    Cost: about 5 bytes of RAM per corpus byte at the peak; time dominated by suffix sorting (libdivsufsort).
    Raises InputError for malformed input (unless `skip_bad_records`), IndexExists if `out` exists.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    sa_rate = preset.sa_rate
    if sa_rate < 1 or preset.isa_shortcut < 1:
        raise InputError(
            f"sampling parameters must be >= 1 (preset {preset.name}: sa_rate {sa_rate}, "
            f"isa_shortcut {preset.isa_shortcut})"
        )
    started = time.perf_counter()
    out = Path(out)
    report = RecordReport()
    stages = _Stages(progress)
    try:
        with storage.staging_directory(out, overwrite=overwrite) as tmp:
            with stages.stage("read", total=None) as update:
                documents = read_documents(
                    docs_or_paths, text_field=text_field, skip_bad_records=skip_bad_records, report=report
                )
                text_buf, starts, meta_blob, meta_offsets = _read_text(documents, update)
            if not starts:
                raise InputError("the input holds no documents; nothing to index")
            num_bytes = len(text_buf) - len(starts)
            text = np.frombuffer(text_buf, dtype=np.uint8)
            n = text.shape[0]
            # Counted before the suffix array exists, in chunks (bincount widens its input to 8-byte integers), so
            # its temporaries never add to the peak of text + suffix array.
            byte_counts = sum(np.bincount(text[lo : lo + CHUNK], minlength=256) for lo in range(0, n, CHUNK))
            with stages.stage("suffix array"):
                sa = pydivsufsort.divsufsort(text)
            scratch = tmp / "bwt.scratch"
            with stages.stage("bwt + samples"):
                marks, gathered, primary = _bwt_and_samples(text, sa, sa_rate, scratch)
                del text
                text_buf = None  # noqa: F841 - frees the text before the samples are copied out and the BWT loaded
                head = [n // sa_rate] if n % sa_rate == 0 else []  # row 0, the empty suffix, comes first
                sa_samples = np.concatenate([np.array(head, dtype=np.uint32), sa[:gathered].astype(np.uint32)])
                del sa
            present = np.nonzero(byte_counts)[0]
            symbol_of_byte = np.full(256, -1, dtype=np.int16)
            symbol_of_byte[present] = np.arange(present.shape[0])
            first_row = (1 + np.concatenate([[0], np.cumsum(byte_counts[present])[:-1]])).astype(np.int64)
            with stages.stage("wavelet tree"):
                from fmsearch import eliasfano, intvector, permutation, wavelet

                bwt = np.fromfile(scratch, dtype=np.uint8)
                scratch.unlink()
                lut = symbol_of_byte.astype(np.uint8)
                for lo in range(0, bwt.shape[0], CHUNK):
                    np.take(lut, bwt[lo : lo + CHUNK], out=bwt[lo : lo + CHUNK])
                arrays = wavelet.build_wavelet(bwt, int(present.shape[0]), preset.bitvectors)
                del bwt
            with stages.stage("samples"):
                width = intvector.width_for(sa_samples.shape[0] - 1)
                low_bits = eliasfano.low_bits_for(n + 1, sa_samples.shape[0], eliasfano.GROUP_BITS)
                heads, bits = eliasfano.encode(marks, n + 1, low_bits, eliasfano.GROUP_BITS)
                del marks
                inverse = permutation.build(sa_samples, preset.isa_shortcut, width)
            with stages.stage("write"):
                arrays.update(
                    first_row=first_row,
                    symbol_of_byte=symbol_of_byte,
                    byte_of_symbol=present.astype(np.uint8),
                    sa_samples=intvector.pack(sa_samples, width),
                    sampled_row_heads=heads,
                    sampled_row_bits=bits,
                    isa_holder_heads=inverse["holder_heads"],
                    isa_holder_bits=inverse["holder_bits"],
                    isa_back=inverse["back"],
                    doc_starts=np.append(np.frombuffer(starts, dtype=np.int64), n),
                    meta_offsets=np.frombuffer(meta_offsets, dtype=np.uint64),
                    meta_blob=np.frombuffer(bytes(meta_blob), dtype=np.uint8),
                )
                index_arrays = (*wavelet.ARRAY_NAMES, *TABLE_ARRAYS)
                files = {
                    name: storage.write_array(tmp, name, arrays[name]) for name in (*index_arrays, *METADATA_ARRAYS)
                }
                index_bytes = sum(files[name]["bytes"] for name in index_arrays)
                metadata_bytes = sum(files[name]["bytes"] for name in METADATA_ARRAYS)
                seconds = time.perf_counter() - started
                from fmsearch import __version__

                storage.write_manifest(
                    tmp,
                    {
                        "fmsearch_version": __version__,
                        "created": datetime.now(UTC).isoformat(timespec="seconds"),
                        "params": {
                            "preset": preset.name,
                            "bitvectors": preset.bitvectors,
                            "sa_rate": sa_rate,
                            "isa_shortcut": preset.isa_shortcut,
                            "block": 1 << wavelet.BLOCK_BITS[preset.bitvectors],
                            "separator": SEPARATOR,
                        },
                        "num_documents": len(starts),
                        "num_bytes": num_bytes,
                        "text_bytes": n,
                        "primary": primary,
                        "sample_width": width,
                        "sample_low_bits": low_bits,
                        "index_bytes": index_bytes,
                        "metadata_bytes": metadata_bytes,
                        "skipped_records": report.skipped,
                        "build": {
                            "seconds": round(seconds, 3),
                            "stage_seconds": stages.seconds,
                            "stage_peak_rss_bytes": stages.peak_rss,
                            "peak_rss_bytes": _peak_rss(),
                        },
                        "files": files,
                        **(extra_manifest or {}),
                    },
                )
    finally:
        stages.close()
    return BuildSummary(
        path=str(out),
        num_documents=len(starts),
        num_bytes=num_bytes,
        index_bytes=index_bytes,
        metadata_bytes=metadata_bytes,
        seconds=round(time.perf_counter() - started, 3),
        skipped_records=report.skipped,
        stage_seconds=stages.seconds,
        peak_rss_bytes=_peak_rss(),
        bad_records=list(report.examples),
    )
