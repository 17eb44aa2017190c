"""On-disk format of a shard: a directory of self-describing flat arrays and a manifest written last.

Every array file is a 64-byte header (magic, format version, dtype, shape) followed by the little-endian array, so
opening is one `np.memmap` per file, with no deserializing copy. `manifest.json` lists every file with its size and
XXH3-128 checksum, and carries a checksum of itself. A shard is built in a temporary sibling directory and appears
under its final name with one atomic rename, after everything in it was written and fsynced: a directory under the
final name is always complete.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import xxhash

from fmsearch.errors import ChecksumMismatch, IndexExists, IndexFormatError, UnsupportedVersion

# Written: 5. Still read: 4 (RRR lines of 112 chunks holding their own offset position), 3 (also blocks of 2^16
# symbols for every kind and larger per-block tables), 2 (also RRR bitvectors in three arrays, rrr.py) and 1 (also
# rank-order SA samples and stored inverse-SA samples).
FORMAT_VERSION = 5
READABLE_VERSIONS = (1, 2, 3, 4, 5)
_READABLE = ", ".join(map(str, READABLE_VERSIONS))  # for messages
MANIFEST = "manifest.json"
MANIFEST_KIND = "fmsearch-shard"
ARRAY_MAGIC = b"FMSARRAY"
HEADER_BYTES = 64
_HEADER = struct.Struct("<8sHH8sI4Q")  # magic, version, header bytes, dtype, ndim, shape (up to 4 dims)


def _header(array: np.ndarray) -> bytes:
    if array.ndim > 4:
        raise ValueError("arrays of more than 4 dimensions are not stored")
    dtype = array.dtype.newbyteorder("<").str.encode()
    shape = list(array.shape) + [0] * (4 - array.ndim)
    packed = _HEADER.pack(ARRAY_MAGIC, FORMAT_VERSION, HEADER_BYTES, dtype, array.ndim, *shape)
    return packed.ljust(HEADER_BYTES, b"\0")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_array(directory: Path, name: str, array: np.ndarray) -> dict[str, Any]:
    """Write `array` as `<name>.bin` (header + data), fsync it, and return its manifest entry."""
    array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    path = directory / f"{name}.bin"
    digest = xxhash.xxh3_128()
    header = _header(array)
    digest.update(header)
    data = memoryview(array.reshape(-1).view(np.uint8)) if array.size else memoryview(b"")
    digest.update(data)
    with open(path, "wb") as f:
        f.write(header)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return {
        "file": path.name,
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "bytes": HEADER_BYTES + array.nbytes,
        "xxh3_128": digest.hexdigest(),
    }


MANIFEST_CHECKSUM = "manifest_xxh3_128"


def json_digest(body: dict[str, Any], key: str) -> str:
    """Checksum of a JSON document without its own checksum field `key`."""
    return xxhash.xxh3_128(json.dumps({k: v for k, v in body.items() if k != key}, sort_keys=True).encode()).hexdigest()


def write_checked_json(path: Path, body: dict[str, Any], *, kind: str, version: int, key: str) -> dict[str, Any]:
    """Write `body` stamped with its kind, format version and self-checksum (field `key`) through a temporary file,
    fsync and an atomic replace: readers see the old file or the new one, never a mix. Returns what was written."""
    path = Path(path)
    body = dict(body, magic=kind, format_version=version)
    body[key] = json_digest(body, key)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(body, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return body


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest (the last write of a build)."""
    write_checked_json(
        Path(directory) / MANIFEST, manifest, kind=MANIFEST_KIND, version=FORMAT_VERSION, key=MANIFEST_CHECKSUM
    )


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a shard, with its kind, version and own checksum checked."""
    path = Path(directory) / MANIFEST
    if Path(directory).is_file():
        raise IndexFormatError(f"{directory}: is a file; an index is a directory (give the directory built by build)")
    if not Path(directory).is_dir():
        raise IndexFormatError(f"{directory}: no such index directory")
    if not path.is_file():
        raise IndexFormatError(
            f"{directory}: not an fmsearch index (no {MANIFEST}); an interrupted build leaves no manifest: rebuild it"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IndexFormatError(f"{path}: manifest is not valid JSON ({e}); the index is damaged: rebuild it") from e
    if not isinstance(manifest, dict) or manifest.get("magic") != MANIFEST_KIND:
        raise IndexFormatError(f"{path}: not an fmsearch shard manifest")
    version = manifest.get("format_version")
    if version not in READABLE_VERSIONS:
        raise UnsupportedVersion(
            f"{directory}: index format version {version} is not supported by this fmsearch, which reads versions "
            f"{_READABLE}; rebuild the index with this version or use a matching fmsearch"
        )
    if manifest.get(MANIFEST_CHECKSUM) != json_digest(manifest, MANIFEST_CHECKSUM):
        raise ChecksumMismatch(f"{path}: manifest checksum mismatch; the index is damaged: rebuild it")
    return manifest


def open_array(directory: Path, entry: dict[str, Any]) -> np.ndarray:
    """Memory-map one array file read-only after checking its size and header against the manifest entry."""
    path = Path(directory) / entry["file"]
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise IndexFormatError(
            f"{path}: file listed in the manifest is missing; the index is damaged: rebuild it"
        ) from None
    if size != entry["bytes"]:
        raise IndexFormatError(
            f"{path}: size {size} bytes, the manifest says {entry['bytes']} (truncated or replaced); rebuild the index"
        )
    dtype = np.dtype(entry["dtype"])
    shape = tuple(entry["shape"])
    with open(path, "rb") as f:
        header = f.read(HEADER_BYTES)
    magic, version, header_bytes, dtype_str, ndim, *dims = _HEADER.unpack_from(header)
    if magic != ARRAY_MAGIC or header_bytes != HEADER_BYTES:
        raise IndexFormatError(f"{path}: not an fmsearch array file (bad header); rebuild the index")
    if version not in READABLE_VERSIONS:
        raise UnsupportedVersion(f"{path}: array format version {version}, this fmsearch reads {_READABLE}")
    if dtype_str.rstrip(b"\0").decode() != dtype.str or tuple(dims[:ndim]) != shape:
        raise IndexFormatError(f"{path}: header does not match the manifest (dtype or shape); rebuild the index")
    if dtype.itemsize * int(np.prod(shape)) == 0:
        empty = np.zeros(shape, dtype=dtype)
        empty.flags.writeable = False
        return empty
    return np.memmap(path, dtype=dtype, mode="r", offset=HEADER_BYTES, shape=shape)


HASH_CHUNK = 1 << 24  # 16 MiB: few calls per file, flat memory whatever the file's size


def hash_stream(stream: BinaryIO, on_chunk: Callable[[bytes], Any] | None = None) -> tuple[int, str]:
    """Size in bytes and XXH3-128 hex digest of everything left in `stream` (anything with `read(n)`: a local file,
    a pyarrow stream of a remote object). Each chunk is also handed to `on_chunk`, so a copy can hash as it goes.
    Cost: one sequential read of the stream."""
    digest = xxhash.xxh3_128()
    size = 0
    while chunk := stream.read(HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if on_chunk is not None:
            on_chunk(chunk)
    return size, digest.hexdigest()


def file_problem(where: str, entry: dict[str, Any], size: int, digest: str) -> str | None:
    """Why a file of `size` bytes hashing to `digest` is not the one its manifest `entry` lists (None: it is).
    `where` names the file in the message (a path or a URL)."""
    if size != entry["bytes"]:
        return f"{where}: size {size} bytes, the manifest says {entry['bytes']}"
    if digest != entry["xxh3_128"]:
        return f"{where}: checksum mismatch (the file was modified or damaged)"
    return None


def files_problems(
    manifest: dict[str, Any], hash_file: Callable[[str], tuple[int, str]], where: Callable[[str], str]
) -> list[str]:
    """Check every file a manifest lists: `hash_file(name)` gives its (size, digest) or raises FileNotFoundError,
    `where(name)` names it in messages (a local path or a URL). Returns the problems ([] when all match)."""
    problems = []
    for entry in manifest["files"].values():
        try:
            size, digest = hash_file(entry["file"])
        except FileNotFoundError:
            problems.append(f"{where(entry['file'])}: missing")
            continue
        problem = file_problem(where(entry["file"]), entry, size, digest)
        if problem:
            problems.append(problem)
    return problems


def verify(directory: Path) -> list[str]:
    """Re-hash every file of a shard. Returns the problems found (empty when the shard is intact)."""
    directory = Path(directory)
    try:
        manifest = read_manifest(directory)
    except IndexFormatError as e:
        return [str(e)]

    def hash_file(name: str) -> tuple[int, str]:
        with open(directory / name, "rb") as f:
            return hash_stream(f)

    return files_problems(manifest, hash_file, lambda name: str(directory / name))


@contextmanager
def staging_directory(out: Path, overwrite: bool = False) -> Iterator[Path]:
    """A temporary sibling of `out` to build into; on success it is renamed to `out` in one step.

    On any error the temporary directory is removed and `out` is left as it was.
    """
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not overwrite:
            raise IndexExists(f"{out} already exists; choose another --out or remove it (nothing was overwritten)")
        if not out.is_dir() or out.is_symlink() or not ((out / MANIFEST).is_file() or not any(out.iterdir())):
            raise IndexExists(
                f"{out} exists and is not an fmsearch index or an empty directory; overwrite replaces only those "
                "(nothing was changed)"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        yield tmp
        _fsync_dir(tmp)
        if out.exists():
            # Replace an old index: move it aside first so that `out` is never a mix of the two.
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:12]}"
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
        _fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
