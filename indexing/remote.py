"""A catalog on shared or remote storage (`fmsearch index --out URL`, `fmsearch fetch URL DIR`).

A URL resolves with `pyarrow.fs.FileSystem.from_uri` (file://, s3:// incl. `?endpoint_override=HOST:PORT&scheme=http`,
gs://, hdfs://, ...); a scheme pyarrow does not know goes to fsspec when that is installed. Credentials come from the
environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE, GOOGLE_APPLICATION_CREDENTIALS, ...), never
from code: an embedded Ray's workers inherit the driver's environment, a cluster's nodes need their own.

The layout on the store is exactly the local one (plan.json, shards/shard-NNNNN/<files>, catalog.json), so a
downloaded copy is a catalog `fmsearch.open_index` opens. Object stores have no rename, so the publish order takes
the place of the local atomic rename: a shard's array files are uploaded first and its manifest.json last, and a
shard without a manifest (or whose files do not match it) counts as not published; catalog.json is uploaded last of
all. Removing a shard deletes its manifest first, so from the first delete on it reads as unpublished.
Small checked JSON files (manifests, plan, catalog) go through a scratch directory and the core's own readers and
writers, so their checks and messages are the local ones (with the URL in place of the scratch path).
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pyarrow
import pyarrow.fs as pafs

from fmsearch import storage
from fmsearch.catalog import CATALOG, PLAN, read_catalog
from fmsearch.errors import ChecksumMismatch, FmsearchError, IndexFormatError, InputError

T = TypeVar("T")

# Stores whose folders are implicit (key prefixes): creating one would only add marker objects and requests.
OBJECT_STORES = frozenset({"s3", "gcs", "abfs"})
CHECK_HINT = (
    "check the URL, that the store is reachable from here, and the credentials in the environment "
    "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE for s3://, GOOGLE_APPLICATION_CREDENTIALS for gs://)"
)


class StoreError(InputError):
    """The storage a URL names cannot be used (unknown scheme, unreachable, no such bucket, refused)."""


def is_url(value: str | os.PathLike) -> bool:
    """Whether an --out / source argument is a URL (scheme://...) rather than a local path."""
    return "://" in os.fspath(value)


def display_url(url: str) -> str:
    """The URL for messages: without its query (S3 URLs may carry access_key / secret_key there) or user info."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=netloc, query="", fragment="").geturl()


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _resolve(url: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and the path inside it that `url` names (pyarrow first, then fsspec)."""
    shown = display_url(url)
    try:
        return pafs.FileSystem.from_uri(url)
    except pyarrow.ArrowInvalid as e:
        if "Unrecognized filesystem type" not in str(e):
            raise StoreError(f"{shown}: not a valid storage URL ({_first_line(e)}); {CHECK_HINT}") from None
    except (OSError, pyarrow.ArrowException) as e:  # e.g. hdfs:// without a JVM, a region lookup that failed
        raise StoreError(f"{shown}: cannot open this storage ({_first_line(e)}); {CHECK_HINT}") from None
    try:
        import fsspec
    except ImportError:
        raise StoreError(
            f"{shown}: unknown storage scheme {urlsplit(url).scheme!r}; pyarrow knows file://, s3://, gs://, hdfs:// "
            "(pip install fsspec and its plugin for other schemes)"
        ) from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as e:  # fsspec knows the scheme but its plugin (gcsfs, adlfs, ...) is not installed
        raise StoreError(f"{shown}: {_first_line(e)}") from None
    except ValueError as e:
        raise StoreError(
            f"{shown}: unknown storage scheme {urlsplit(url).scheme!r} ({_first_line(e)}); use file://, s3://, gs://, "
            "hdfs:// or a scheme of an installed fsspec plugin"
        ) from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def open_store(url: str) -> RemoteDir:
    """The catalog location `url` names, checked to be usable: the store answers, its bucket exists, the path is
    not a file. Raises StoreError naming the URL and what to check. Cost: one or two metadata requests."""
    fs, root = _resolve(url)
    store = RemoteDir(url, fs, root.rstrip("/"))
    if not store.root:
        raise StoreError(f"{store}: names no bucket or path; give one, e.g. s3://BUCKET/catalogs/NAME")
    try:
        info = fs.get_file_info(store.root)
        if fs.type_name in ("s3", "gcs") and info.type == pafs.FileType.NotFound:
            bucket = store.root.split("/", 1)[0]
            if fs.get_file_info(bucket).type == pafs.FileType.NotFound:
                raise StoreError(
                    f"{store}: bucket {bucket!r} does not exist (or these credentials cannot see it); create it first "
                    f"(e.g. `aws s3 mb {fs.type_name.replace('gcs', 'gs')}://{bucket}`) or {CHECK_HINT}"
                )
    except (OSError, pyarrow.ArrowException) as e:
        raise StoreError(f"{store}: cannot reach the store ({_first_line(e)}); {CHECK_HINT}") from None
    if info.type == pafs.FileType.File:
        raise StoreError(f"{store}: is a file; --out names a catalog directory (a prefix on object stores)")
    return store


@dataclass(frozen=True)
class RemoteDir:
    """A directory (a key prefix on object stores) on a pyarrow filesystem; paths below it are '/'-separated and
    relative to it. str() is the URL without secrets, for messages."""

    url: str  # as given, query included: what Ray tasks get to open the same store
    fs: pafs.FileSystem
    root: str

    def __str__(self) -> str:
        return display_url(self.url)

    @property
    def name(self) -> str:
        """The last component of the path (a catalog's default name, like a local directory's name)."""
        return posixpath.basename(self.root)

    def path(self, rel: str = "") -> str:
        return posixpath.join(self.root, rel) if rel else self.root

    def label(self, rel: str = "") -> str:
        """How messages name `rel`: the URL without secrets, then the relative path."""
        return f"{str(self).rstrip('/')}/{rel}" if rel else str(self)

    @contextmanager
    def _errors(self, doing: str, rel: str = "") -> Iterator[None]:
        """Store failures (network, permissions) as a StoreError naming the URL, what was being done and what to check;
        a missing file stays FileNotFoundError for the caller to handle."""
        try:
            yield
        except (FileNotFoundError, FmsearchError):
            raise
        except (OSError, pyarrow.ArrowException) as e:
            raise StoreError(f"{self.label(rel)}: {doing} failed ({_first_line(e)}); {CHECK_HINT}") from None

    # -- objects -----------------------------------------------------------------------------------------------------

    def exists(self, rel: str) -> bool:
        with self._errors("looking up", rel):
            return self.fs.get_file_info(self.path(rel)).type != pafs.FileType.NotFound

    def read_bytes(self, rel: str) -> bytes | None:
        """The whole content of the file `rel` (None when there is none). For small files."""
        with self._errors("reading", rel):
            try:
                with self.fs.open_input_stream(self.path(rel)) as f:
                    return f.read()
            except FileNotFoundError:
                return None

    def hash_file(self, rel: str, on_chunk: Callable[[bytes], Any] | None = None) -> tuple[int, str]:
        """Size and XXH3-128 of the file `rel`, streamed (see storage.hash_stream). FileNotFoundError if missing."""
        with self._errors("reading", rel), self.fs.open_input_stream(self.path(rel)) as f:
            return storage.hash_stream(f, on_chunk)

    def upload(self, local: Path, rel: str) -> None:
        """Copy the local file to `rel`, streamed in chunks (the parent is created where the store has folders)."""
        with self._errors("uploading to", rel):
            if self.fs.type_name not in OBJECT_STORES:
                self.fs.create_dir(posixpath.dirname(self.path(rel)), recursive=True)
            with open(local, "rb") as src, self.fs.open_output_stream(self.path(rel)) as dst:
                while chunk := src.read(storage.HASH_CHUNK):
                    dst.write(chunk)

    def file_sizes(self, rel: str) -> dict[str, int]:
        """Name -> size of the files directly under `rel` (empty when it does not exist)."""
        with self._errors("listing", rel):
            selector = pafs.FileSelector(self.path(rel), allow_not_found=True)
            infos = self.fs.get_file_info(selector)
        return {posixpath.basename(i.path): i.size for i in infos if i.type == pafs.FileType.File}

    def delete_file(self, rel: str) -> None:
        with self._errors("deleting", rel):
            try:
                self.fs.delete_file(self.path(rel))
            except FileNotFoundError:
                pass

    def delete_dir(self, rel: str) -> None:
        with self._errors("deleting", rel):
            if self.fs.get_file_info(self.path(rel)).type != pafs.FileType.NotFound:
                self.fs.delete_dir(self.path(rel))

    # -- checked JSON files, through the core's readers and writers ---------------------------------------------------

    def read_checked(self, rel: str, reader: Callable[[Path], T], into: Path | None = None) -> T:
        """Download the file `rel` into a scratch directory (or `into`) and return `reader(that directory)`: the
        core's checks and messages, naming the URL. A missing file reaches the reader as missing."""
        with tempfile.TemporaryDirectory(prefix="fmsearch-json-") if into is None else nullcontext(into) as scratch:
            local_dir = Path(scratch)
            local_dir.mkdir(parents=True, exist_ok=True)
            data = self.read_bytes(rel)
            if data is not None:
                (local_dir / posixpath.basename(rel)).write_bytes(data)
            try:
                return reader(local_dir)
            except FmsearchError as e:
                raise type(e)(str(e).replace(str(local_dir), self.label(posixpath.dirname(rel)))) from None

    def write_checked(self, rel: str, writer: Callable[[Path], T]) -> T:
        """`writer(scratch directory)` writes the file named like `rel` there; it is then uploaded to `rel`."""
        with tempfile.TemporaryDirectory(prefix="fmsearch-json-") as scratch:
            result = writer(Path(scratch))
            self.upload(Path(scratch) / posixpath.basename(rel), rel)
            return result

    def read_manifest(self, shard_rel: str) -> dict[str, Any]:
        """The checked manifest of the shard at `shard_rel` (IndexFormatError when it is missing or damaged)."""
        return self.read_checked(posixpath.join(shard_rel, storage.MANIFEST), storage.read_manifest)

    def read_plan(self) -> dict[str, Any] | None:
        from indexing.plan import read_plan

        return self.read_checked(PLAN, read_plan)

    def write_plan(self, corpora: list[dict[str, Any]]) -> dict[str, Any]:
        from indexing.plan import write_plan

        return self.write_checked(PLAN, lambda scratch: write_plan(scratch, corpora))

    def read_catalog(self) -> dict[str, Any]:
        return self.read_checked(CATALOG, read_catalog)

    # -- shards ------------------------------------------------------------------------------------------------------

    def verify_shard(self, shard_rel: str) -> list[str]:
        """storage.verify on the store: the manifest checked, then every file it lists streamed and re-hashed.
        Returns the problems ([] when the shard is intact). Cost: downloading the whole shard once."""
        try:
            manifest = self.read_manifest(shard_rel)
        except IndexFormatError as e:
            return [str(e)]
        return storage.files_problems(
            manifest,
            lambda name: self.hash_file(posixpath.join(shard_rel, name)),
            lambda name: self.label(posixpath.join(shard_rel, name)),
        )

    def unpublish_shard(self, shard_rel: str) -> None:
        """Delete every object of a shard, its manifest first (from then on it reads as not published)."""
        self.delete_file(posixpath.join(shard_rel, storage.MANIFEST))
        self.delete_dir(shard_rel)

    def publish_shard(self, local: Path, shard_rel: str) -> dict[str, Any]:
        """Upload a shard built in the local directory `local` to `shard_rel` (emptied before by unpublish_shard):
        the array files first, their sizes checked, the manifest last. Returns the manifest."""
        manifest = storage.read_manifest(local)
        for entry in manifest["files"].values():
            self.upload(local / entry["file"], posixpath.join(shard_rel, entry["file"]))
        sizes = self.file_sizes(shard_rel)
        wrong = [e["file"] for e in manifest["files"].values() if sizes.get(e["file"]) != e["bytes"]]
        if wrong:
            raise StoreError(
                f"{self.label(shard_rel)}: after the upload {', '.join(wrong)} have the wrong size on the store; the "
                "shard is left unpublished (no manifest): rerun the same command"
            )
        self.upload(local / storage.MANIFEST, posixpath.join(shard_rel, storage.MANIFEST))
        return manifest


# -- fetch ---------------------------------------------------------------------------------------------------------


@dataclass
class FetchResult:
    path: str
    kind: str  # catalog | shard
    num_shards: int
    num_files: int
    num_bytes: int
    seconds: float


def fetch(url: str, dest: str | os.PathLike, *, progress: bool = False) -> FetchResult:
    """Download the catalog (or the one shard) at `url` into the new local directory `dest`, re-hashing every file
    as it arrives against its manifest, so that `fmsearch.open_index(dest)` serves it.

    Only the shards catalog.json lists are fetched (a shard a running job has not published yet is not). `dest`
    appears atomically once everything checked out; an existing `dest` raises IndexExists. Raises StoreError for
    an unusable URL, IndexFormatError / ChecksumMismatch when the store's copy is incomplete or damaged.
    Cost: one download of the index; memory stays flat (files are streamed in 16 MiB chunks).
    """
    started = time.perf_counter()
    store = open_store(url)
    if store.exists(CATALOG):
        kind = "catalog"
        catalog = store.read_catalog()
        shard_rels = [entry["path"] for entry in catalog["shards"]]
    elif store.exists(storage.MANIFEST):
        kind, shard_rels = "shard", [""]
    else:
        raise IndexFormatError(
            f"{store}: holds neither {CATALOG} nor {storage.MANIFEST}; give a catalog that `fmsearch index --out URL` "
            "finished (rerun that command to finish it) or one shard of it"
        )
    manifests = {rel: store.read_manifest(rel) for rel in shard_rels}
    total = sum(entry["bytes"] for m in manifests.values() for entry in m["files"].values())
    num_files = 0
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    bar = Progress(*columns, TimeRemainingColumn(), disable=not progress)
    with storage.staging_directory(Path(dest)) as staging, bar:
        task = bar.add_task(f"fetch {store}", total=total)
        for rel in shard_rels:
            local = staging / rel if rel else staging
            local.mkdir(parents=True, exist_ok=True)
            for entry in manifests[rel]["files"].values():
                file_rel = posixpath.join(rel, entry["file"])
                with open(local / entry["file"], "wb") as out:

                    def on_chunk(chunk: bytes, out: Any = out) -> None:
                        out.write(chunk)
                        bar.advance(task, len(chunk))

                    try:
                        size, digest = store.hash_file(file_rel, on_chunk)
                    except FileNotFoundError:
                        raise IndexFormatError(
                            f"{store.label(file_rel)}: listed in its manifest but missing on the store; rerun "
                            "`fmsearch index` with the same arguments to rebuild the shard, then fetch again"
                        ) from None
                problem = storage.file_problem(store.label(file_rel), entry, size, digest)
                if problem:
                    raise ChecksumMismatch(
                        f"{problem}; rerun `fmsearch index` with the same arguments to rebuild the shard (or wait for "
                        "a running one to finish), then fetch again"
                    )
                num_files += 1
            # The manifest's exact bytes (its own checksum covers them), written after the files it lists.
            store.read_checked(posixpath.join(rel, storage.MANIFEST), storage.read_manifest, into=local)
        if kind == "catalog":
            if store.exists(PLAN):
                from indexing.plan import read_plan

                store.read_checked(PLAN, read_plan, into=staging)
            store.read_checked(CATALOG, read_catalog, into=staging)
            # The catalog lists these very manifests and its doc ids run on (what opening a catalog checks).
            from fmsearch.multi import open_catalog

            try:
                open_catalog(staging).close()
            except IndexFormatError as e:
                shown = str(e).replace(str(staging), str(store))
                raise type(e)(f"{shown}; a job may be rewriting it: fetch again when it is done") from None
    return FetchResult(
        path=str(dest),
        kind=kind,
        num_shards=len(shard_rels),
        num_files=num_files,
        num_bytes=total,
        seconds=round(time.perf_counter() - started, 3),
    )
