"""Reading build input: files, directories and in-memory documents, streamed."""

from __future__ import annotations

import codecs
import gzip
import json
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import zstandard

from fmsearch.errors import InputError

MAX_EXAMPLES = 20
# Longest first, so ".jsonl.gz" is matched before anything shorter.
SUFFIXES = (".jsonl.gz", ".jsonl.zst", ".jsonl", ".json", ".parquet", ".txt")
_SKIP_HINT = "fix the record or pass --skip-bad-records to skip and count bad records"
_JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}

_Doc = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class BadRecord:
    """A bad input record. `line`: 1-based line, row or item number; 0: whole file."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        if self.path == "<input>":
            return f"input item {self.line}: {self.reason}"
        where = f"{self.path} line {self.line}" if self.line else self.path
        return f"{where}: {self.reason}"


@dataclass
class RecordReport:
    """Counts skipped bad records and keeps the first MAX_EXAMPLES of them."""

    skipped: int = 0
    examples: list[BadRecord] = field(default_factory=list)

    def add(self, bad: BadRecord) -> None:
        self.skipped += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(bad)


def read_documents(
    inputs: str | os.PathLike[str] | Iterable[Any],
    *,
    text_field: str = "text",
    skip_bad_records: bool = False,
    report: RecordReport | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Lazily yield (text, metadata) per document of a path or an iterable.

    Items of an iterable are paths (`os.PathLike` only), texts (`str`) or dicts.
    A bad record raises InputError, or with `skip_bad_records` is counted in
    `report` and skipped.
    """
    if report is None:
        report = RecordReport()
    state = _State(text_field, skip_bad_records, report)
    if isinstance(inputs, str | os.PathLike):
        yield from _read_path(os.fsdecode(inputs), state)
        return
    # A lone dict or bytes would otherwise be read key by key / byte by byte.
    if isinstance(inputs, Mapping | bytes | bytearray):
        raise TypeError(f"inputs must be a path or an iterable of documents, not {type(inputs).__name__}")
    for position, item in enumerate(inputs, 1):
        if isinstance(item, os.PathLike):
            yield from _read_path(os.fsdecode(item), state)
        elif isinstance(item, str):
            reason = _text_problem(item, "text")
            if reason:
                state.bad("<input>", position, reason)
            else:
                yield item, {}
        elif isinstance(item, Mapping):
            yield from state.from_object(item, "<input>", position)
        else:
            state.bad(
                "<input>",
                position,
                f"unsupported item type {type(item).__name__} (expected str text, dict document or os.PathLike path)",
            )


@dataclass
class _State:
    text_field: str
    skip: bool
    report: RecordReport

    def bad(self, path: str, line: int, reason: str) -> None:
        bad = BadRecord(path, line, reason)
        if not self.skip:
            raise InputError(f"{bad}; {_SKIP_HINT}")
        self.report.add(bad)

    def from_object(self, obj: Any, path: str, line: int) -> Iterator[_Doc]:
        """Yield the document a JSON object / dict holds, or record why it is bad."""
        field_name = self.text_field
        if not isinstance(obj, Mapping):
            reason = f"not a JSON object (got {_type_name(obj)})"
        elif field_name not in obj:
            reason = f"missing text field {field_name!r} (fields: {_names(obj)})"
        else:
            reason = _text_problem(obj[field_name], f"text field {field_name!r}")
        if reason:
            self.bad(path, line, reason)
        else:
            yield obj[field_name], {k: v for k, v in obj.items() if k != field_name}


def _read_path(path: str, state: _State) -> Iterator[_Doc]:
    if os.path.isdir(path):
        for file in _walk(path):
            yield from _read_file(file, state)
    elif os.path.exists(path):
        if not _suffix(path):
            raise InputError(
                f"{path}: unsupported file type; accepted suffixes: "
                f"{', '.join(SUFFIXES)} (or a directory holding such files)"
            )
        yield from _read_file(path, state)
    else:
        raise InputError(f"input file not found: {path}")


def _walk(directory: str) -> list[str]:
    """The files with accepted suffixes under `directory`, in sorted path order."""
    found = [
        os.path.join(dirpath, name)
        for dirpath, _, names in os.walk(directory, onerror=_raise_walk_error)
        for name in names
        if _suffix(name)
    ]
    return sorted(found, key=lambda p: os.path.relpath(p, directory).split(os.sep))


def _raise_walk_error(err: OSError) -> None:
    # os.walk skips unreadable directories by default, dropping documents unnoticed.
    raise InputError(f"cannot read directory {err.filename}: {err.strerror}") from err


def _suffix(path: str) -> str | None:
    name = path.lower()
    return next((s for s in SUFFIXES if name.endswith(s)), None)


def _read_file(path: str, state: _State) -> Iterator[_Doc]:
    suffix = _suffix(path)
    if suffix == ".parquet":
        yield from _read_parquet(path, state)
        return
    try:
        with open(path, "rb") as fh:
            if suffix == ".txt":
                yield from _read_txt(path, fh.read(), state)
            elif suffix == ".jsonl.gz":
                with gzip.open(fh) as lines:
                    yield from _read_json_lines(path, lines, state)
            elif suffix == ".jsonl.zst":
                lines = _split_lines(_zstd_chunks(fh))
                yield from _read_json_lines(path, lines, state)
            else:
                yield from _read_json_lines(path, fh, state)
    except (OSError, EOFError, zlib.error, zstandard.ZstdError) as e:
        raise InputError(f"{path}: cannot read file: {e}") from e


def _read_txt(path: str, data: bytes, state: _State) -> Iterator[_Doc]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        state.bad(path, line, f"not valid UTF-8 (byte {e.start + 1} of the file)")
        return
    yield text, {"path": path}


def _read_json_lines(path: str, lines: Iterable[bytes], state: _State) -> Iterator[_Doc]:
    for lineno, raw in enumerate(lines, 1):
        if lineno == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            state.bad(path, lineno, f"not valid UTF-8 (byte {e.start + 1} of the line)")
            continue
        except json.JSONDecodeError as e:
            state.bad(path, lineno, f"invalid JSON ({e.msg} at column {e.colno})")
            continue
        except (ValueError, RecursionError) as e:  # too many digits, too deep nesting
            state.bad(path, lineno, f"invalid JSON ({e})")
            continue
        yield from state.from_object(obj, path, lineno)


def _zstd_chunks(fh: BinaryIO) -> Iterator[bytes]:
    """Decompressed chunks of a (multi-frame) zstd stream; EOFError if truncated."""
    # Not stream_reader: it ends quietly on a truncated file, losing documents.
    # The large window accepts files written with `zstd --long`.
    dctx = zstandard.ZstdDecompressor(max_window_size=2**31)
    dobj, in_frame = dctx.decompressobj(), False
    while chunk := fh.read(1 << 20):
        while chunk:
            yield dobj.decompress(chunk)
            in_frame = True
            if not dobj.eof:
                break
            chunk = dobj.unused_data  # the next frame starts here
            dobj, in_frame = dctx.decompressobj(), False
    if in_frame:
        raise EOFError("zstd stream ends inside a frame (truncated file?)")


def _split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    # Pieces of a line spanning chunks are joined once, so long lines stay linear.
    pending: list[bytes] = []
    for chunk in chunks:
        *lines, rest = chunk.split(b"\n")
        if lines:
            lines[0] = b"".join([*pending, lines[0]])
            yield from lines
            pending = []
        pending.append(rest)
    tail = b"".join(pending)
    if tail:
        yield tail


def _read_parquet(path: str, state: _State) -> Iterator[_Doc]:
    # Imported here: pyarrow is slow to import and only parquet input needs it.
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path) as file:
            columns = file.schema_arrow.names
            if state.text_field not in columns:
                reason = f"no column {state.text_field!r} (columns: {_names(columns)})"
                state.bad(path, 0, reason)
                return
            row = 0
            for batch in file.iter_batches(batch_size=1024):
                for record in batch.to_pylist():
                    row += 1
                    yield from state.from_object(record, path, row)
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"{path}: cannot read parquet file: {e}") from e


def _text_problem(text: Any, what: str) -> str | None:
    if text is None:
        return f"{what} is null"
    if not isinstance(text, str):
        return f"{what} is not a string (got {_type_name(text)})"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"{what} has a lone surrogate at character {e.start} (not UTF-8)"
    return None


def _type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _names(names: Iterable[Any], limit: int = 10) -> str:
    names = [str(n) for n in names]
    shown = ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")
    return shown or "none"
