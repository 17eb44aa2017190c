"""Corpus sources: what the user names on the command line -> units (one file or one dataset split) -> records.

A source is a local file, a glob, a directory (of files, or one written by `datasets.save_to_disk`), or a Hugging
Face dataset `hf://NAME[/CONFIG]?split=train&field=text`, read with `datasets` in streaming mode. Each source expands
to units in a fixed order, and each unit yields its records in a fixed order, so the same inputs always give the same
global document ids. Every record carries where it came from: `source` and `line` (1-based, text files) or `row`
(0-based, tables and datasets), kept as document metadata.

Readers can start in the middle of a unit (a line number plus a byte offset for plain JSON lines, a row for tables),
which is how a shard's build task reads exactly its range of the corpus without holding anything else in memory.
"""

from __future__ import annotations

import codecs
import glob
import gzip
import json
import os
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fmsearch.errors import InputError
from fmsearch.sources import _split_lines, _zstd_chunks

HF_SCHEME = "hf://"
FILE_SUFFIXES = (".jsonl.gz", ".jsonl.zst", ".jsonl", ".parquet", ".txt")
# The markers `datasets.save_to_disk` leaves: a Dataset writes state.json, a DatasetDict dataset_dict.json.
SAVED_DATASET_MARKERS = ("state.json", "dataset_dict.json")
PROVENANCE_KEYS = ("source", "line", "row")
_HF_OPTIONS = ("split", "field", "config", "revision", "data_files", "data_dir")
_SKIP_HINT = "fix the record or pass --skip-bad-records to skip and count bad records"


@dataclass(frozen=True)
class Record:
    """One document as read: its position in the unit, the byte offset of its line (plain JSON lines, else 0)."""

    position: int
    byte_offset: int
    text: str
    metadata: dict[str, Any]


def _suffix(path: str) -> str | None:
    name = path.lower()
    return next((s for s in FILE_SUFFIXES if name.endswith(s)), None)


def _is_saved_dataset(path: str) -> bool:
    return os.path.isdir(path) and any(os.path.isfile(os.path.join(path, m)) for m in SAVED_DATASET_MARKERS)


def _split_options(spec: str) -> tuple[str, dict[str, str]]:
    """`path?split=x&field=y` -> (path, options); a '?' that is part of an existing path is left alone."""
    if "?" not in spec or os.path.exists(spec):
        return spec, {}
    base, _, query = spec.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(options) - set(_HF_OPTIONS))
    if unknown:
        raise InputError(f"{spec}: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(_HF_OPTIONS)}")
    return base, options


def _file_unit(path: str, name: str) -> dict[str, Any]:
    stat = os.stat(path)
    kind = "parquet" if path.lower().endswith(".parquet") else "txt" if path.lower().endswith(".txt") else "jsonl"
    # Size and mtime let a resumed job notice that an input changed after the plan was made.
    return {
        "kind": kind,
        "path": os.path.abspath(path),
        "name": name,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }


def _hf_unit(spec: str) -> dict[str, Any]:
    parts = urlsplit(spec)
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - set(_HF_OPTIONS))
    if unknown:
        raise InputError(f"{spec}: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(_HF_OPTIONS)}")
    path = (parts.netloc + parts.path).strip("/")
    if not path:
        raise InputError(f"{spec}: no dataset name; write hf://NAME[/CONFIG]?split=train&field=text")
    pieces = path.split("/")
    # Hub names are `org/name` (or a bare name): a third piece is the config, as is `?config=`.
    if len(pieces) > 3:
        raise InputError(f"{spec}: expected hf://ORG/NAME[/CONFIG], got {len(pieces)} path parts")
    name = "/".join(pieces[:2])
    config = pieces[2] if len(pieces) == 3 else options.get("config")
    return {
        "kind": "hf",
        "name": spec,
        "dataset": name,
        "config": config or None,
        "split": options.get("split", "train"),
        "field": options.get("field") or None,
        "revision": options.get("revision") or None,
        "data_files": options.get("data_files") or None,
        "data_dir": options.get("data_dir") or None,
    }


def expand_source(spec: str) -> list[dict[str, Any]]:
    """The units one source names, in reading order. Raises InputError naming the source when it is unusable."""
    if spec.startswith(HF_SCHEME):
        return [_hf_unit(spec)]
    if "://" in spec:
        raise InputError(f"{spec}: unsupported URL scheme; sources are local paths, globs or hf://NAME datasets")
    path, options = _split_options(spec)
    if _is_saved_dataset(path):
        return [
            {
                "kind": "saved",
                "path": os.path.abspath(path),
                "name": path,
                "split": options.get("split") or None,
                "field": options.get("field") or None,
            }
        ]
    if options:
        raise InputError(f"{spec}: options (?split=, ?field=) apply to hf:// and save_to_disk datasets only")
    if os.path.isdir(path):
        walk = os.walk(path, onerror=_raise_walk_error)
        found = sorted(
            (os.path.join(d, n) for d, _, names in walk for n in names if _suffix(n)),
            key=lambda p: os.path.relpath(p, path).split(os.sep),
        )
        if not found:
            raise InputError(f"{path}: directory holds no input files ({', '.join(FILE_SUFFIXES)})")
        return [_file_unit(p, p) for p in found]
    if os.path.isfile(path):
        if not _suffix(path):
            raise InputError(f"{path}: unsupported file type; accepted suffixes: {', '.join(FILE_SUFFIXES)}")
        return [_file_unit(path, path)]
    if glob.has_magic(path):
        matched = sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
        if not matched:
            raise InputError(f"{path}: the pattern matches no files")
        wrong = [p for p in matched if not _suffix(p)]
        if wrong:
            raise InputError(f"{wrong[0]}: unsupported file type; accepted suffixes: {', '.join(FILE_SUFFIXES)}")
        return [_file_unit(p, p) for p in matched]
    raise InputError(f"input not found: {path}")


def expand_sources(specs: list[str]) -> list[dict[str, Any]]:
    """The units of all sources, in order; each unit remembers the source it came from."""
    if not specs:
        raise InputError("no sources given; name files, globs, directories or hf://NAME datasets")
    units = []
    for spec in specs:
        for unit in expand_source(spec):
            units.append(dict(unit, spec=spec))
    return units


def unit_changed(unit: dict[str, Any]) -> str | None:
    """Why a file unit no longer matches the plan (changed or gone), or None."""
    if unit["kind"] in ("hf", "saved"):
        return None
    try:
        stat = os.stat(unit["path"])
    except FileNotFoundError:
        return f"{unit['name']}: input file is gone"
    if stat.st_size != unit["size"] or stat.st_mtime_ns != unit["mtime_ns"]:
        return f"{unit['name']}: input file changed since the plan was made"
    return None


def _raise_walk_error(err: OSError) -> None:
    raise InputError(f"cannot read directory {err.filename}: {err.strerror}") from err


# -- readers -----------------------------------------------------------------------------------------------------


class _Checker:
    """Turns a raw record into (text, metadata) or reports it as bad (raise, or count and skip)."""

    def __init__(self, name: str, text_field: str, skip_bad: bool, where: str) -> None:
        self.name = name
        self.text_field = text_field
        self.skip_bad = skip_bad
        self.where = where  # "line" or "row"
        self.skipped = 0

    def bad(self, position: int, reason: str) -> None:
        if not self.skip_bad:
            raise InputError(f"{self.name} {self.where} {position}: {reason}; {_SKIP_HINT}")
        self.skipped += 1

    def document(self, obj: Any, position: int) -> tuple[str, dict[str, Any]] | None:
        if not isinstance(obj, dict):
            self.bad(position, f"not a JSON object (got {type(obj).__name__})")
            return None
        text = obj.get(self.text_field)
        if self.text_field not in obj:
            self.bad(position, f"missing text field {self.text_field!r} (fields: {', '.join(map(str, obj)) or 'none'})")
            return None
        if not isinstance(text, str):
            self.bad(position, f"text field {self.text_field!r} is {'null' if text is None else type(text).__name__}")
            return None
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            self.bad(position, f"text field {self.text_field!r} has a lone surrogate at character {e.start}")
            return None
        metadata = {}
        for key, value in obj.items():
            if key == self.text_field:
                continue
            # The record's own `source` / `line` / `row` would be overwritten by provenance: keep them aside.
            metadata[f"record_{key}" if key in PROVENANCE_KEYS else key] = value
        metadata["source"] = self.name
        metadata[self.where] = position
        return text, metadata


def read_unit(
    unit: dict[str, Any],
    *,
    text_field: str = "text",
    skip_bad_records: bool = False,
    start: int | None = None,
    byte_offset: int = 0,
) -> Iterator[Record]:
    """The documents of a unit from position `start` on (line for text files, row for tables; None: the first).

    `byte_offset` must be the offset of line `start` in a plain .jsonl file (the planner records it): reading seeks
    there instead of scanning the file. Compressed files are scanned from the top. Raises InputError on a bad
    record unless `skip_bad_records`.
    """
    kind = unit["kind"]
    field = unit.get("field") or text_field
    if kind == "jsonl":
        yield from _read_jsonl(unit, _Checker(unit["name"], field, skip_bad_records, "line"), start or 1, byte_offset)
    elif kind == "txt":
        yield from _read_txt(unit, _Checker(unit["name"], field, skip_bad_records, "line"))
    elif kind == "parquet":
        yield from _read_parquet(unit, _Checker(unit["name"], field, skip_bad_records, "row"), start or 0)
    elif kind in ("saved", "hf"):
        yield from _read_dataset(unit, _Checker(unit["name"], field, skip_bad_records, "row"), start or 0)
    else:
        raise InputError(f"unknown source kind {kind!r} in the plan; was it written by another fmsearch version?")


def _lines(unit: dict[str, Any], byte_offset: int, stack: ExitStack) -> Iterator[bytes]:
    """The raw lines of a JSON lines file; plain files start at `byte_offset`."""
    path = unit["path"]
    lower = path.lower()
    if lower.endswith(".jsonl.gz"):
        return iter(stack.enter_context(gzip.open(path, "rb")))
    fh = stack.enter_context(open(path, "rb"))
    if lower.endswith(".jsonl.zst"):
        # The core's reader: it notices a truncated stream, which zstandard's stream_reader does not.
        return _split_lines(_zstd_chunks(fh))
    fh.seek(byte_offset)
    return iter(fh)


def _read_jsonl(unit: dict[str, Any], check: _Checker, start: int, byte_offset: int) -> Iterator[Record]:
    import zstandard

    plain = not unit["path"].lower().endswith((".gz", ".zst"))
    lineno = start - 1 if plain else 0
    offset = byte_offset if plain else 0
    try:
        with ExitStack() as stack:
            for raw in _lines(unit, byte_offset if plain else 0, stack):
                lineno += 1
                line_offset = offset
                offset += len(raw)
                if lineno < start:
                    continue  # compressed input: no seeking, skip to the range's first line
                if lineno == 1:
                    raw = raw.removeprefix(codecs.BOM_UTF8)
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except (UnicodeDecodeError, ValueError, RecursionError) as e:
                    check.bad(lineno, f"invalid JSON ({e})")
                    continue
                doc = check.document(obj, lineno)
                if doc is not None:
                    yield Record(lineno, line_offset if plain else 0, doc[0], doc[1])
    except (OSError, EOFError, zlib.error, zstandard.ZstdError) as e:
        raise InputError(f"{unit['name']}: cannot read file: {e}") from e


def _read_txt(unit: dict[str, Any], check: _Checker) -> Iterator[Record]:
    try:
        with open(unit["path"], "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise InputError(f"{unit['name']}: cannot read file: {e}") from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        check.bad(data.count(b"\n", 0, e.start) + 1, f"not valid UTF-8 (byte {e.start + 1} of the file)")
        return
    yield Record(1, 0, text, {"source": unit["name"], "line": 1})


def _read_parquet(unit: dict[str, Any], check: _Checker, start: int) -> Iterator[Record]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(unit["path"]) as file:
            if check.text_field not in file.schema_arrow.names:
                raise InputError(
                    f"{unit['name']}: no column {check.text_field!r} (columns: {', '.join(file.schema_arrow.names)})"
                )
            # Skip whole row groups before `start` through the footer, without decoding them.
            first_group, row = 0, 0
            meta = file.metadata
            while first_group < meta.num_row_groups and row + meta.row_group(first_group).num_rows <= start:
                row += meta.row_group(first_group).num_rows
                first_group += 1
            groups = list(range(first_group, meta.num_row_groups))
            if not groups:
                return
            for batch in file.iter_batches(batch_size=1024, row_groups=groups):
                for obj in batch.to_pylist():
                    if row >= start:
                        doc = check.document(obj, row)
                        if doc is not None:
                            yield Record(row, 0, doc[0], doc[1])
                    row += 1
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"{unit['name']}: cannot read parquet file: {e}") from e


def _open_dataset(unit: dict[str, Any]):
    """A `datasets` Dataset (save_to_disk: memory-mapped Arrow) or IterableDataset (hub: streamed)."""
    import datasets

    if unit["kind"] == "saved":
        ds = datasets.load_from_disk(unit["path"])
        if isinstance(ds, datasets.DatasetDict):
            split = unit.get("split")
            if split is None or split not in ds:
                raise InputError(
                    f"{unit['name']}: a dataset with splits {', '.join(ds)}; name one with ?split=NAME"
                    if split is None
                    else f"{unit['name']}: no split {split!r} (splits: {', '.join(ds)})"
                )
            ds = ds[split]
        return ds
    try:
        return datasets.load_dataset(
            unit["dataset"],
            unit["config"],
            split=unit["split"],
            revision=unit["revision"],
            data_files=unit["data_files"],
            data_dir=unit["data_dir"],
            streaming=True,
        )
    except (FileNotFoundError, ValueError, ConnectionError) as e:
        raise InputError(f"{unit['name']}: cannot open the dataset: {e}") from e


def _read_dataset(unit: dict[str, Any], check: _Checker, start: int) -> Iterator[Record]:
    import datasets

    ds = _open_dataset(unit)
    if isinstance(ds, datasets.Dataset):
        if check.text_field not in ds.column_names:
            raise InputError(
                f"{unit['name']}: no column {check.text_field!r} (columns: {', '.join(ds.column_names)}); "
                "name it with ?field=NAME or --text-field"
            )
        batch = 1024
        for lo in range(start, len(ds), batch):
            columns = ds[lo : lo + batch]  # a dict of column lists, read from the memory-mapped Arrow files
            keys = list(columns)
            for k, values in enumerate(zip(*(columns[key] for key in keys), strict=True)):
                doc = check.document(dict(zip(keys, values, strict=True)), lo + k)
                if doc is not None:
                    yield Record(lo + k, 0, doc[0], doc[1])
        return
    # Streaming (hub): skip() discards the first rows while streaming; nothing is kept in memory.
    rows = ds.skip(start) if start else ds
    for k, obj in enumerate(rows):
        doc = check.document(obj, start + k)
        if doc is not None:
            yield Record(start + k, 0, doc[0], doc[1])
