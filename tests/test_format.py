"""On-disk format safety: damage is caught by a typed error at open or by `verify`, never answered silently.

Each damage test works on its own copy of one small shard per preset. The frozen shards under tests/data (format
version V: `frozen-vV` built with the compact preset, `frozen-vV-fast` with the fast one, and the answers both must
give in `frozen-vV.expected.json`) must keep opening and answering. For a new format version, write new ones next to
them (`python tests/test_format.py --write-frozen DATA_DIR VERSION`) and keep the old ones.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xxhash
from naive import NaiveIndex

import fmsearch
from fmsearch import hybrid, rrrlines, storage
from fmsearch.errors import ChecksumMismatch, IndexExists, IndexFormatError, InputError, UnsupportedVersion
from fmsearch.presets import PRESETS

DATA = Path(__file__).parent / "data"
FROZEN_PRESETS = {
    1: ("compact", "fast"),
    2: ("compact", "fast", "small"),
    3: ("compact", "fast", "small"),
    4: ("compact", "fast", "small"),
    5: ("compact", "fast", "small"),
}  # what each version's shards froze
FROZEN = {  # (format version, preset) -> shard
    (version, preset): DATA / f"frozen-v{version}{'' if preset == 'compact' else '-' + preset}"
    for version, presets in FROZEN_PRESETS.items()
    for preset in presets
}

DOCS: list[Any] = [
    {"text": "The quick brown fox jumps over the lazy dog.", "id": "en-1", "lang": "en"},
    {"text": "Grüße aus Köln: Straße, Größe, Übermaß.", "id": "de-1", "lang": "de"},
    {"text": "日本語のテキスト。東京と京都。", "id": "ja-1", "lang": "ja"},
    {"text": "emoji 😀🎉🚀 and a combining accent: e\u0301", "id": "x-1", "tags": ["a", "b"]},
    {"text": "", "id": "empty"},
    {"text": "abcabcabc\nabc\x00abc\tend", "id": "rep", "n": 3},
    {"text": "plain text without an id; the fox again", "source": None},
]
# From format 3 on the frozen shards also hold a longer document, so that they keep full 1024-bit hybrid blocks
# (two-sided run lengths) and RRR streams of several lines frozen too.
LONG_DOC = {
    "text": "\n".join(f"{i:03d}: the quick brown fox jumps over the lazy dog" + " ab" * (i % 7) for i in range(90)),
    "id": "long",
}
FROZEN_DOCS = {1: DOCS, 2: DOCS, 3: [*DOCS, LONG_DOC], 4: [*DOCS, LONG_DOC], 5: [*DOCS, LONG_DOC]}
QUERIES = ["fox", "the", "abc", "abcabc", "京", "ö", "Straße", "😀", "e\u0301", "\x00", "\n", ".", "absent", "o"]


def _texts(docs: list[Any]) -> list[str]:
    return [d["text"] if isinstance(d, dict) else d for d in docs]


def _file_digests(shard: Path) -> dict[str, str]:
    """Each file of the shard (manifest excluded) -> XXH3-128 of its bytes, hashed here, not read from the manifest."""
    return {
        p.name: xxhash.xxh3_128(p.read_bytes()).hexdigest()
        for p in sorted(shard.iterdir())
        if p.name != storage.MANIFEST
    }


@pytest.fixture(scope="module", params=sorted(PRESETS))
def shard(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small shard per preset (their array files differ): every damage test runs on each."""
    out = tmp_path_factory.mktemp(f"format-{request.param}") / "shard"
    fmsearch.build_index(DOCS, out, preset=request.param)
    return out


@pytest.fixture
def copy(shard: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(shard, target)
    return target


def _manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / storage.MANIFEST).read_text())


def _array_files(path: Path) -> list[str]:
    return sorted(entry["file"] for entry in _manifest(path)["files"].values())


def _rewrite_manifest(path: Path, change) -> None:
    """Apply `change` to the manifest and write it back with a correct self-checksum (a consistent lie)."""
    manifest = _manifest(path)
    change(manifest)
    manifest.pop("manifest_xxh3_128", None)
    storage.write_manifest(path, manifest)


# -- write -> open ---------------------------------------------------------------------------------------------------


def test_round_trip_documents_and_metadata(shard: Path) -> None:
    idx = fmsearch.open_index(shard)
    assert idx.num_documents == len(DOCS)
    assert idx.num_bytes == sum(len(t.encode()) for t in _texts(DOCS))
    for i, d in enumerate(DOCS):
        doc = idx.document(i)
        assert doc.text == d["text"]
        assert doc.metadata == {k: v for k, v in d.items() if k != "text"}
    assert storage.verify(shard) == []


def test_rebuild_from_same_input_gives_identical_files(shard: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    fmsearch.build_index(DOCS, again, preset=_manifest(shard)["params"]["preset"])
    first, second = _file_digests(shard), _file_digests(again)
    assert first == second
    assert len(first) == len(_manifest(shard)["files"])  # every listed file, nothing else
    # The manifests differ only in time stamps, build timings and their own checksum.
    volatile = {"created", "build", "manifest_xxh3_128"}
    a = {k: v for k, v in _manifest(shard).items() if k not in volatile}
    b = {k: v for k, v in _manifest(again).items() if k not in volatile}
    assert a == b


# -- damage ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["largest", "smallest"])
def test_truncated_file_is_refused(copy: Path, which: str) -> None:
    files = sorted(_array_files(copy), key=lambda f: (copy / f).stat().st_size)
    victim = files[-1] if which == "largest" else files[0]
    path = copy / victim
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(IndexFormatError, match=victim):
        fmsearch.open_index(copy)
    problems = storage.verify(copy)
    assert len(problems) == 1 and victim in problems[0]


def test_flipped_byte_in_every_file_is_reported_by_verify(shard: Path, tmp_path: Path) -> None:
    """A flipped data byte cannot be seen without hashing: verify must name exactly the damaged file."""
    for n, victim in enumerate(_array_files(shard)):
        copy = tmp_path / f"copy{n}"
        shutil.copytree(shard, copy)
        path = copy / victim
        data = bytearray(path.read_bytes())
        # The middle of the array data (after the 64-byte header), or of the header when there is no data.
        middle = storage.HEADER_BYTES + (len(data) - storage.HEADER_BYTES) // 2
        if middle >= len(data):
            middle = len(data) // 2
        data[middle] ^= 0x5A
        path.write_bytes(bytes(data))
        problems = storage.verify(copy)
        assert len(problems) == 1, (victim, problems)
        assert victim in problems[0] and "checksum" in problems[0]
        # Opening may or may not notice (only headers and sizes are checked); if it does, with a typed error.
        try:
            fmsearch.open_index(copy)
        except IndexFormatError:
            pass


def test_deleted_file_is_refused(copy: Path) -> None:
    victim = _array_files(copy)[0]
    (copy / victim).unlink()
    with pytest.raises(IndexFormatError, match="missing"):
        fmsearch.open_index(copy)
    assert any(victim in p and "missing" in p for p in storage.verify(copy))


def test_renamed_file_is_refused(copy: Path) -> None:
    victim = "sa_samples.bin"
    assert victim in _array_files(copy)
    (copy / victim).rename(copy / "sa_samples.renamed")
    with pytest.raises(IndexFormatError, match="sa_samples.bin"):
        fmsearch.open_index(copy)
    assert storage.verify(copy) != []


def test_other_format_version_names_both_versions(copy: Path) -> None:
    manifest = _manifest(copy)
    manifest["format_version"] = storage.FORMAT_VERSION + 1
    (copy / storage.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(UnsupportedVersion) as caught:
        fmsearch.open_index(copy)
    message = str(caught.value)
    readable = ", ".join(map(str, storage.READABLE_VERSIONS))
    assert f"version {storage.FORMAT_VERSION + 1}" in message and f"reads versions {readable}" in message
    assert storage.verify(copy) != []


def test_array_header_of_another_version_names_both_versions(copy: Path) -> None:
    victim = copy / "doc_starts.bin"
    data = bytearray(victim.read_bytes())
    data[8:10] = (storage.FORMAT_VERSION + 6).to_bytes(2, "little")  # right after the 8-byte magic
    victim.write_bytes(bytes(data))
    with pytest.raises(UnsupportedVersion) as caught:
        fmsearch.open_index(copy)
    assert str(storage.FORMAT_VERSION + 6) in str(caught.value) and str(storage.FORMAT_VERSION) in str(caught.value)
    assert any("doc_starts.bin" in p for p in storage.verify(copy))


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda text: text[: len(text) // 2], id="truncated"),
        pytest.param(lambda text: "", id="empty"),
        pytest.param(lambda text: "[1, 2, 3]", id="not-an-object"),
        pytest.param(lambda text: text.replace('"fmsearch-shard"', '"something-else"'), id="wrong-kind"),
    ],
)
def test_corrupt_manifest_is_refused(copy: Path, damage) -> None:
    path = copy / storage.MANIFEST
    path.write_text(damage(path.read_text()))
    with pytest.raises(IndexFormatError):
        fmsearch.open_index(copy)
    assert storage.verify(copy) != []


def test_manifest_binary_garbage_is_refused(copy: Path) -> None:
    (copy / storage.MANIFEST).write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(IndexFormatError):
        fmsearch.open_index(copy)


def test_edited_manifest_size_is_refused(copy: Path) -> None:
    """Editing a recorded size breaks the manifest's own checksum."""
    manifest = _manifest(copy)
    manifest["files"]["doc_starts"]["bytes"] += 8
    (copy / storage.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ChecksumMismatch):
        fmsearch.open_index(copy)
    assert storage.verify(copy) != []


def test_consistently_edited_manifest_size_is_refused(copy: Path) -> None:
    """A manifest resealed after the edit still disagrees with the file on disk."""

    def grow(m: dict[str, Any]) -> None:
        m["files"]["doc_starts"]["bytes"] += 8

    _rewrite_manifest(copy, grow)
    with pytest.raises(IndexFormatError, match="doc_starts.bin"):
        fmsearch.open_index(copy)
    assert any("doc_starts.bin" in p for p in storage.verify(copy))


def test_consistently_edited_sampling_parameter_is_refused(copy: Path) -> None:
    _rewrite_manifest(copy, lambda m: m.update(sample_low_bits=m["sample_low_bits"] + 1))
    with pytest.raises(IndexFormatError, match="sample_low_bits"):
        fmsearch.open_index(copy)


def test_compact_shard_without_its_line_table_is_refused(tmp_path: Path) -> None:
    """Format 5 RRR lines need their offset table (the `directory`); without it they would read as format 4's."""
    compact, fast = tmp_path / "compact", tmp_path / "fast"
    fmsearch.build_index(DOCS, compact, preset="compact")
    fmsearch.build_index(DOCS, fast, preset="fast")
    entry = _manifest(fast)["files"]["directory"]  # plain bitvectors leave it empty
    shutil.copy(fast / entry["file"], compact / entry["file"])
    _rewrite_manifest(compact, lambda m: m["files"].update(directory=entry))
    with pytest.raises(IndexFormatError, match="directory is empty"):
        fmsearch.open_index(compact)


def test_manifest_lying_about_a_checksum_is_caught_by_verify(copy: Path) -> None:
    def lie(m: dict[str, Any]) -> None:
        m["files"]["sa_samples"]["xxh3_128"] = "0" * 32

    _rewrite_manifest(copy, lie)
    fmsearch.open_index(copy)  # sizes and headers still agree: only hashing can tell
    problems = storage.verify(copy)
    assert len(problems) == 1 and "sa_samples.bin" in problems[0]


def test_swapped_files_of_equal_size_are_caught(copy: Path) -> None:
    """Two files of the same size and header exchanged: verify names both."""
    files = _manifest(copy)["files"]
    by_shape: dict[tuple, list[str]] = {}
    for entry in files.values():
        by_shape.setdefault((entry["dtype"], tuple(entry["shape"])), []).append(entry["file"])
    pair = next((names for names in by_shape.values() if len(names) >= 2), None)
    if pair is None:
        pytest.skip("no two files with the same dtype and shape in this shard")
    a, b = copy / pair[0], copy / pair[1]
    if a.read_bytes() == b.read_bytes():
        pytest.skip("the two files are identical")
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)
    problems = storage.verify(copy)
    assert len(problems) == 2 and any(pair[0] in p for p in problems) and any(pair[1] in p for p in problems)


# -- interrupted builds ----------------------------------------------------------------------------------------------


class Boom(RuntimeError):
    pass


def _failing_docs(fail_at: int, exc: type[BaseException] = Boom):
    for i, d in enumerate(DOCS * 3):
        if i == fail_at:
            raise exc("interrupted on purpose")
        yield d


def test_interrupted_build_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(Boom):
        fmsearch.build_index(_failing_docs(len(DOCS)), out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no stray temporary directory either


def test_samples_over_the_format_limit_are_refused_and_leave_nothing(tmp_path: Path, monkeypatch) -> None:
    from fmsearch import eliasfano
    from fmsearch.presets import Preset

    monkeypatch.setattr(eliasfano, "MAX_STREAM_BITS", 64)  # a limit this tiny corpus crosses, as 2 GiB would
    out = tmp_path / "out"
    with pytest.raises(InputError, match="over the format's limit of 64; use a larger sa_rate"):
        fmsearch.build_index(DOCS, out, preset=Preset("every-row", "rrr15", sa_rate=1))
    assert list(tmp_path.iterdir()) == []


def test_keyboard_interrupt_during_build_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        fmsearch.build_index(_failing_docs(3, KeyboardInterrupt), out)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("overwrite", [False, True])
def test_interrupted_build_keeps_the_prior_index(shard: Path, tmp_path: Path, overwrite: bool) -> None:
    out = tmp_path / "out"
    shutil.copytree(shard, out)
    before = _file_digests(out)
    manifest_before = (out / storage.MANIFEST).read_bytes()
    expected = IndexExists if not overwrite else Boom
    with pytest.raises(expected):
        fmsearch.build_index(_failing_docs(len(DOCS)), out, overwrite=overwrite)
    assert _file_digests(out) == before
    assert (out / storage.MANIFEST).read_bytes() == manifest_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert storage.verify(out) == []
    assert fmsearch.open_index(out).document(0).text == DOCS[0]["text"]


def test_overwrite_replaces_the_prior_index(shard: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(shard, out)
    fmsearch.build_index(["only one document"], out, overwrite=True)
    idx = fmsearch.open_index(out)
    assert idx.num_documents == 1 and idx.document(0).text == "only one document"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# -- the frozen shard of format version 1 ----------------------------------------------------------------------------


def expected_answers(docs: list[Any]) -> dict[str, Any]:
    """What any index over `docs` must answer, from the brute-force oracle (never from an index)."""
    oracle = NaiveIndex(_texts(docs))
    return {
        "format_version": storage.FORMAT_VERSION,
        "num_documents": len(docs),
        "num_bytes": sum(len(t.encode()) for t in _texts(docs)),
        "documents": [
            {"text": d["text"], "metadata": {k: v for k, v in d.items() if k != "text"}}
            if isinstance(d, dict)
            else {"text": d, "metadata": {}}
            for d in docs
        ],
        "counts": {q: oracle.count(q) for q in QUERIES},
        "occurrences": {q: sorted([list(hit) for hit in oracle.find(q)]) for q in QUERIES},
    }


def write_frozen(data: Path, version: int) -> None:
    """Build the frozen shards of `version` (one per preset) and their expected answers; then commit them."""
    if version != storage.FORMAT_VERSION:
        raise SystemExit(f"this fmsearch writes format version {storage.FORMAT_VERSION}, not {version}")
    for preset in sorted(PRESETS):
        suffix = "" if preset == "compact" else f"-{preset}"
        # IndexExists: never replaced
        fmsearch.build_index(FROZEN_DOCS[version], data / f"frozen-v{version}{suffix}", preset=preset)
    expected = expected_answers(FROZEN_DOCS[version])
    (data / f"frozen-v{version}.expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n")


@pytest.mark.parametrize(("version", "preset"), sorted(FROZEN))
def test_frozen_shard_still_opens_and_answers(version: int, preset: str) -> None:
    frozen = FROZEN[version, preset]
    expected = json.loads((DATA / f"frozen-v{version}.expected.json").read_text(encoding="utf-8"))
    assert expected == expected_answers(FROZEN_DOCS[version]) | {"format_version": version}  # still describes them
    assert storage.verify(frozen) == []
    idx = fmsearch.open_index(frozen)
    assert idx.manifest["format_version"] == expected["format_version"] == version
    assert idx.manifest["params"]["preset"] == preset
    assert idx.num_documents == expected["num_documents"]
    assert idx.num_bytes == expected["num_bytes"]
    for i, want in enumerate(expected["documents"]):
        doc = idx.document(i)
        assert (doc.text, doc.metadata) == (want["text"], want["metadata"])
    for query, n in expected["counts"].items():
        assert idx.count(query) == n, query
        found = idx.find(query, limit=1000)
        assert found.total == n
        assert sorted([h.doc_id, h.offset] for h in found.hits) == expected["occurrences"][query], query


def _two_sided_blocks(shard: Path) -> int:
    """Hybrid blocks of the shard coded from both ends (header TWO_SIDED), found through every node's entries."""
    wt = fmsearch.open_index(shard).fm[0]
    block_base, payload, directory, symbols, records = wt[5], wt[8], wt[9], wt[11], wt[12]
    present = (((symbols.astype(np.int64) >> 19) & 31) != 31).sum(axis=1)
    nodes = int(np.maximum(present - 1, 0).sum())  # a block's tree has one internal node fewer than symbols
    rows = np.asarray(records).reshape(-1, 64)[:, :60].reshape(-1, 5)[:nodes]  # 12 records of 5 bytes per line
    fields = sum(rows[:, i].astype(np.int64) << (8 * i) for i in range(5))
    entries, offsets = fields & ((1 << 18) - 1), fields >> 18
    node_block = np.searchsorted(block_base[:, 0], np.arange(rows.shape[0]), side="right") - 1
    first_entries = block_base[node_block, 2] + entries
    ends = np.append(first_entries[1:], directory.shape[0])
    found = 0
    for k, (first, end) in enumerate(zip(first_entries, ends, strict=True)):
        base = int(block_base[node_block[k], 3] + offsets[k])
        for entry in range(first, end - 1):  # a node's last entry only marks its end
            found += hybrid.read_bits(payload, base + int(directory[entry] >> 16), hybrid.HEADER) == hybrid.TWO_SIDED
    return found


def test_frozen_shards_of_the_current_version_hold_every_block_kind() -> None:
    assert _two_sided_blocks(FROZEN[storage.FORMAT_VERSION, "small"]) > 0
    lines = fmsearch.open_index(FROZEN[storage.FORMAT_VERSION, "compact"]).fm[0][10]
    assert lines.shape[0] // rrrlines.LINE_WORDS >= 3  # a block stream past one line and its middle, and the spare


def test_every_readable_version_and_current_preset_is_frozen() -> None:
    assert sorted(FROZEN_PRESETS) == sorted(storage.READABLE_VERSIONS)
    assert sorted(FROZEN_PRESETS[storage.FORMAT_VERSION]) == sorted(PRESETS)
    assert all(path.is_dir() for path in FROZEN.values())


@pytest.mark.parametrize(("version", "preset"), sorted(FROZEN))
def test_frozen_shard_is_small(version: int, preset: str) -> None:
    total = sum(p.stat().st_size for p in FROZEN[version, preset].iterdir())
    assert total < 20_000, f"the frozen shard is {total} bytes; keep it a few KB"


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--write-frozen":
        write_frozen(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit("usage: python tests/test_format.py --write-frozen DATA_DIR VERSION   (e.g. tests/data 2)")
