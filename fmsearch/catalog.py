"""catalog.json (the published list of shards) and plan.json (the shards to build), written atomically.

Both are small JSON files with a kind (`magic`), a format version and a checksum of their own body, in the manner of
a shard's manifest (fmsearch/storage.py): written through a temporary file, fsynced, renamed over the old one.
`catalog.json` is the last write of a job; readers trust only it, so a crash leaves the previous catalog (or none).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import xxhash

from fmsearch import storage
from fmsearch.errors import ChecksumMismatch, IndexFormatError, UnsupportedVersion

CATALOG = "catalog.json"
CATALOG_KIND = "fmsearch-catalog"
PLAN = "plan.json"
PLAN_KIND = "fmsearch-plan"
FORMAT_VERSION = 1
SHARDS_DIR = "shards"


def _checksum_key(kind: str) -> str:
    return kind.removeprefix("fmsearch-") + "_xxh3_128"


def write_checked_json(path: Path, body: dict[str, Any], kind: str) -> dict[str, Any]:
    """Write `body` with kind, version and self-checksum atomically (see storage.write_checked_json)."""
    return storage.write_checked_json(path, body, kind=kind, version=FORMAT_VERSION, key=_checksum_key(kind))


def read_checked_json(path: Path, kind: str) -> dict[str, Any]:
    """The JSON file at `path`, with its kind, version and self-checksum checked (typed errors naming the file)."""
    path = Path(path)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexFormatError(f"{path}: missing; not an fmsearch catalog (build one with `fmsearch index`)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IndexFormatError(f"{path}: not valid JSON ({e}); rerun `fmsearch index` to rewrite it") from e
    if not isinstance(body, dict) or body.get("magic") != kind:
        raise IndexFormatError(f"{path}: not an {kind} file")
    if body.get("format_version") != FORMAT_VERSION:
        raise UnsupportedVersion(
            f"{path}: format version {body.get('format_version')} is not supported by this fmsearch, which reads "
            f"version {FORMAT_VERSION}; use a matching fmsearch"
        )
    key = _checksum_key(kind)
    if body.get(key) != storage.json_digest(body, key):
        raise ChecksumMismatch(f"{path}: checksum mismatch (edited or damaged); rerun `fmsearch index` to rewrite it")
    return body


def content_digest(manifest: dict[str, Any]) -> str:
    """A checksum of a shard's content: its files' checksums. Unlike the manifest's own checksum it does not
    depend on build time, so two builds of the same plan give the same value."""
    files = sorted((name, entry["xxh3_128"]) for name, entry in manifest["files"].items())
    return xxhash.xxh3_128(json.dumps(files).encode()).hexdigest()


def shard_entry(shard: dict[str, Any], manifest: dict[str, Any], first_doc_id: int) -> dict[str, Any]:
    """The catalog's record of one published shard."""
    return {
        "name": shard["name"],
        "path": shard["path"],
        "num_documents": manifest["num_documents"],
        "num_bytes": manifest["num_bytes"],
        "index_bytes": manifest["index_bytes"],
        "metadata_bytes": manifest["metadata_bytes"],
        "manifest_xxh3_128": manifest["manifest_xxh3_128"],
        "content_xxh3_128": content_digest(manifest),
        "first_doc_id": first_doc_id,
        "source_plan": shard["ranges"],
    }


def write_catalog(
    directory: Path,
    *,
    name: str,
    shards: list[dict[str, Any]],
    build_params: dict[str, Any],
    sources: list[str],
) -> dict[str, Any]:
    """Publish catalog.json for `shards` (entries from `shard_entry`, in global doc-id order)."""
    expected = 0
    for entry in shards:
        if entry["first_doc_id"] != expected:
            raise ValueError(f"shard {entry['name']}: first_doc_id {entry['first_doc_id']}, expected {expected}")
        expected += entry["num_documents"]
    body = {
        "name": name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "shards": shards,
        "num_documents": expected,
        "num_bytes": sum(entry["num_bytes"] for entry in shards),
        "build_params": build_params,
        "sources": sources,
    }
    return write_checked_json(Path(directory) / CATALOG, body, CATALOG_KIND)


def read_catalog(directory: Path) -> dict[str, Any]:
    """catalog.json of a catalog directory, checked (IndexFormatError and subclasses otherwise)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise IndexFormatError(f"{directory}: no such catalog directory")
    catalog = read_checked_json(directory / CATALOG, CATALOG_KIND)
    shards = catalog.get("shards")
    if not isinstance(shards, list) or not shards:
        raise IndexFormatError(f"{directory / CATALOG}: lists no shards")
    return catalog
