"""Partitioning: one streaming pass over the corpus assigns consecutive documents to shards of a target size.

The plan says, for each shard, which ranges of which units it holds (a range: first line or row, the byte offset
of that line for plain JSON lines, how many documents and bytes). It is written to plan.json before any build
starts, so a rerun builds exactly the same shards, and each shard's build task reads only its own ranges.
Documents are never split; a document larger than the target gets a shard of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import xxhash

from fmsearch.build import MAX_TEXT_BYTES
from fmsearch.catalog import PLAN, PLAN_KIND, SHARDS_DIR, read_checked_json, write_checked_json
from fmsearch.errors import InputError
from indexing.sources import read_unit, unit_changed

# Key of the text in the dicts handed to the core's build: a NUL never occurs in a real record's field name, so it
# cannot collide with a metadata field (a record may have a "text" column besides its --text-field).
BUILD_TEXT_KEY = "\0text"
SHARD_NAME = "shard-{:05d}"


def parse_size(value: str | int) -> int:
    """'2GB', '500MB', '1.5GiB', '100000' -> bytes. Raises InputError naming the value and the accepted forms."""
    if isinstance(value, int):
        size = value
    else:
        text = value.strip().upper().replace(" ", "")
        units = {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "KB": 10**3, "MB": 10**6, "GB": 10**9, "K": 10**3}
        units |= {"M": 10**6, "G": 10**9, "B": 1}
        factor = 1
        for suffix, mult in units.items():
            if text.endswith(suffix):
                text, factor = text[: -len(suffix)], mult
                break
        try:
            size = int(float(text) * factor)
        except ValueError:
            raise InputError(
                f"size {value!r} not understood; write e.g. 2GB, 500MB, 1.5GiB or a number of bytes"
            ) from None
    if not 1 <= size <= MAX_TEXT_BYTES:
        raise InputError(
            f"shard size {value!r} must be between 1 byte and {MAX_TEXT_BYTES:,} bytes (index format limit)"
        )
    return size


def fingerprint(shard: dict[str, Any], text_field: str, skip_bad_records: bool, preset: str) -> str:
    """What a built shard must have been built from: its ranges, the reading options and the index preset."""
    body = {"ranges": shard["ranges"], "text_field": text_field, "skip_bad_records": skip_bad_records}
    body["preset"] = preset
    return xxhash.xxh3_128(json.dumps(body, sort_keys=True).encode()).hexdigest()


def make_plan(
    units: list[dict[str, Any]],
    *,
    shard_bytes: int,
    text_field: str = "text",
    skip_bad_records: bool = False,
    preset: str = "compact",
    first_index: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Shards of about `shard_bytes` text bytes each (separators counted), in one pass over `units`.

    Memory stays flat: only the current range is held. `on_progress(documents, bytes)` is called now and then.
    Cost: reading and parsing the corpus once.
    """
    shards: list[dict[str, Any]] = []
    current: dict[str, Any] = {"ranges": [], "num_documents": 0, "num_bytes": 0}
    docs_seen = bytes_seen = 0

    def close() -> None:
        nonlocal current
        if current["num_documents"]:
            index = first_index + len(shards)
            name = SHARD_NAME.format(index)
            shard = {"name": name, "path": f"{SHARDS_DIR}/{name}", "index": index, **current}
            shard["fingerprint"] = fingerprint(shard, text_field, skip_bad_records, preset)
            shards.append(shard)
        current = {"ranges": [], "num_documents": 0, "num_bytes": 0}

    for unit in units:
        span: dict[str, Any] | None = None
        for record in read_unit(unit, text_field=text_field, skip_bad_records=skip_bad_records):
            size = len(record.text.encode("utf-8")) + 1  # + the separator the core puts before each document
            if current["num_documents"] and current["num_bytes"] + size > shard_bytes:
                close()
                span = None
            if span is None:
                span = {
                    "unit": unit,
                    "start": record.position,
                    "byte_offset": record.byte_offset,
                    "num_documents": 0,
                    "num_bytes": 0,
                }
                current["ranges"].append(span)
            span["num_documents"] += 1
            span["num_bytes"] += size
            current["num_documents"] += 1
            current["num_bytes"] += size
            docs_seen += 1
            bytes_seen += size
            if on_progress is not None and docs_seen % 1024 == 0:
                on_progress(docs_seen, bytes_seen)
    close()
    if on_progress is not None:
        on_progress(docs_seen, bytes_seen)
    if not shards:
        raise InputError("the sources hold no documents; nothing to index")
    return shards


def shard_documents(shard: dict[str, Any], *, text_field: str, skip_bad_records: bool) -> Iterator[dict[str, Any]]:
    """The documents of one planned shard, as dicts for the core's build (text under BUILD_TEXT_KEY).

    Raises InputError when a range no longer holds the documents the plan counted (the input changed).
    """
    for span in shard["ranges"]:
        unit = span["unit"]
        problem = unit_changed(unit)
        if problem:
            raise InputError(f"{problem}; remove the catalog's plan.json (or use a new --out) to plan again")
        records = read_unit(
            unit,
            text_field=text_field,
            skip_bad_records=skip_bad_records,
            start=span["start"],
            byte_offset=span["byte_offset"],
        )
        count = 0
        for record in islice(records, span["num_documents"]):
            count += 1
            yield {BUILD_TEXT_KEY: record.text, **record.metadata}
        if count != span["num_documents"]:
            raise InputError(
                f"{unit['name']}: the plan counted {span['num_documents']} documents from position {span['start']}, "
                f"the source now holds {count}; it changed since planning: use a new --out to plan again"
            )


# -- plan.json -----------------------------------------------------------------------------------------------------


def read_plan(directory: Path) -> dict[str, Any] | None:
    """The catalog directory's plan (None when there is none yet)."""
    path = Path(directory) / PLAN
    if not path.exists():
        return None
    return read_checked_json(path, PLAN_KIND)


def write_plan(directory: Path, corpora: list[dict[str, Any]]) -> dict[str, Any]:
    """Write plan.json: every corpus planned into this catalog, each with its request and shards."""
    return write_checked_json(Path(directory) / PLAN, {"corpora": corpora}, PLAN_KIND)
