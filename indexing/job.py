"""The build job: plan -> one Ray task per shard (the core's build) -> verified shards -> catalog.json.

Ray starts embedded (local, loopback only) unless a cluster address is given, so the same command runs on a laptop
and on a cluster. Each task declares the memory its build needs (the core's measured peak: about 5.4x the shard's
text plus 0.25 GB), so Ray never runs more builds at once than fit. A task whose worker dies is retried by Ray; a
shard directory is published atomically by the core, so a retried or rerun task finds either a complete shard or
none. A rerun skips shards that are published, verified and built from the same plan, and rebuilds the others.
`out` may also be a URL (s3://, gs://, file://, ...: see indexing/remote.py): each task then builds in a local scratch
directory and uploads the shard, manifest last; plan.json and catalog.json live on the store.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fmsearch
from fmsearch import storage
from fmsearch.catalog import CATALOG, SHARDS_DIR, shard_entry, write_catalog
from fmsearch.errors import FmsearchError, IndexExists, InputError
from fmsearch.presets import get_preset
from indexing.plan import BUILD_TEXT_KEY, make_plan, parse_size, read_plan, shard_documents, write_plan
from indexing.progress import JobView, print_summary
from indexing.ray_local import init_local_ray
from indexing.remote import RemoteDir, is_url, open_store
from indexing.sources import expand_sources

DEFAULT_PRESET = "compact"
# The core's build peaks at about 5.44x the shard's text bytes (text + suffix array + a bit per row for the sampled
# rows) plus a Ray worker's ~0.2 GB of interpreter and libraries.
MEMORY_PER_BYTE = 5.5
MEMORY_BASE = 250 * 2**20


class ShardBuildFailed(FmsearchError):
    """Some shards could not be built (the message names them); the published ones are kept for a rerun."""


@dataclass
class ShardOutcome:
    name: str
    status: str  # built | rebuilt | skipped | failed
    num_documents: int = 0
    num_bytes: int = 0
    index_bytes: int = 0
    seconds: float = 0.0
    node: str = ""
    error: str = ""


@dataclass
class JobResult:
    path: str
    shards: list[ShardOutcome]
    num_documents: int
    num_bytes: int
    index_bytes: int
    seconds: float
    plan_seconds: float
    build_seconds: float  # from the end of planning to the last shard built, Ray's start included
    ray_start_seconds: float = 0.0
    ray_stop_seconds: float = 0.0  # ray.shutdown of an embedded Ray (in build_seconds too)
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def built(self) -> list[str]:
        return [s.name for s in self.shards if s.status in ("built", "rebuilt")]

    @property
    def skipped(self) -> list[str]:
        return [s.name for s in self.shards if s.status == "skipped"]


def memory_for(shard: dict[str, Any]) -> int:
    """Bytes of RAM the build of a planned shard needs at its peak (what its Ray task declares)."""
    return int(MEMORY_PER_BYTE * shard["num_bytes"] + MEMORY_BASE)


def published_problem(out: Path | RemoteDir, shard: dict[str, Any]) -> str | None:
    """Why the published directory of a planned shard cannot be kept (None: it is intact and from this plan).

    On a store (RemoteDir) a shard without manifest.json is not published ("missing"); otherwise its manifest is
    checked and every file it lists streamed and re-hashed, as storage.verify does locally.
    """
    if isinstance(out, RemoteDir):
        if not out.exists(f"{shard['path']}/{storage.MANIFEST}"):
            return "missing"
        problems = out.verify_shard(shard["path"])
    else:
        directory = out / shard["path"]
        if not directory.exists():
            return "missing"
        problems = storage.verify(directory)
    if problems:
        return "; ".join(problems)
    manifest = _read_manifest(out, shard["path"])
    if manifest.get("indexing", {}).get("fingerprint") != shard["fingerprint"]:
        return "built from another plan"
    return None


def _read_manifest(out: Path | RemoteDir, shard_path: str) -> dict[str, Any]:
    return out.read_manifest(shard_path) if isinstance(out, RemoteDir) else storage.read_manifest(out / shard_path)


def _node() -> str:
    try:
        import ray

        if ray.is_initialized():
            return "ray node " + ray.get_runtime_context().get_node_id()[:8]
    except Exception:  # only a label for the summary: never fail a build over it
        pass
    return socket.gethostname()


def build_shard(
    shard: dict[str, Any],
    out: str,
    text_field: str,
    skip_bad_records: bool,
    preset: str = DEFAULT_PRESET,
    tracker: Any = None,
) -> dict[str, Any]:
    """Build one planned shard into `out/shard.path` (the body of a Ray task; also called directly).

    A published, intact shard of the same plan is kept (a retry after the worker died having already published).
    With a URL `out` the shard's old objects are deleted (manifest first), the shard is built in a local scratch
    directory (removed afterwards in every case) and uploaded, its manifest last (RemoteDir.publish_shard).
    """
    node = _node()
    if tracker is not None:
        tracker.started.remote(shard["name"], os.getpid(), node)
    if is_url(out):
        return _build_remote_shard(shard, out, text_field, skip_bad_records, preset, node)
    target = Path(out) / shard["path"]
    # A killed attempt leaves its staging directory behind (the core removes it only on an exception).
    for stale in target.parent.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    problem = published_problem(Path(out), shard)
    if problem is None:
        manifest = storage.read_manifest(target)
        seconds, status = 0.0, "skipped"
    else:
        if problem != "missing":
            shutil.rmtree(target)
        started = time.perf_counter()
        try:
            _build(shard, target, text_field, skip_bad_records, preset)
            seconds, status = time.perf_counter() - started, "built"
        except IndexExists:
            # Another attempt at this shard published it while we built: a worker of an interrupted run that was
            # still finishing. Builds of one planned shard are identical, so an intact one is as good as ours.
            if published_problem(Path(out), shard) is not None:
                raise
            seconds, status = 0.0, "skipped"
        manifest = storage.read_manifest(target)
    return _outcome(shard, status, manifest, seconds, node)


def _build(shard: dict[str, Any], target: Path, text_field: str, skip_bad_records: bool, preset: str) -> None:
    from threadpoolctl import threadpool_limits

    # Ray sets OMP_NUM_THREADS to a task's num_cpus (1), which would run libdivsufsort's parallel phase on one thread
    # (200 MB: 12 s of suffix sorting instead of 9.7 s). The phase is short, so it may use the node's CPUs: two
    # builds overlapping on 2 CPUs lose about 2% to it (measured), one build alone gains about 20%.
    with threadpool_limits(limits=os.cpu_count(), user_api="openmp"):
        fmsearch.build_index(
            shard_documents(shard, text_field=text_field, skip_bad_records=skip_bad_records),
            target,
            text_field=BUILD_TEXT_KEY,
            preset=preset,
            extra_manifest={"indexing": {"shard": shard["name"], "fingerprint": shard["fingerprint"]}},
        )


def _build_remote_shard(
    shard: dict[str, Any], url: str, text_field: str, skip_bad_records: bool, preset: str, node: str
) -> dict[str, Any]:
    # Resolved here, on the worker: the URL is what travels to it, and its credentials come from its environment.
    store = open_store(url)
    if published_problem(store, shard) is None:
        return _outcome(shard, "skipped", store.read_manifest(shard["path"]), 0.0, node)
    started = time.perf_counter()
    # Like the local rmtree: the old objects go before the build (the manifest first, so that from the first
    # delete on the shard reads as unpublished); an attempt that died mid-upload leaves files without a manifest.
    store.unpublish_shard(shard["path"])
    with tempfile.TemporaryDirectory(prefix=f"fmsearch-{shard['name']}-") as scratch:
        local = Path(scratch) / shard["name"]
        _build(shard, local, text_field, skip_bad_records, preset)
        manifest = store.publish_shard(local, shard["path"])
    return _outcome(shard, "built", manifest, time.perf_counter() - started, node)


def _outcome(shard: dict[str, Any], status: str, manifest: dict[str, Any], seconds: float, node: str) -> dict[str, Any]:
    return {
        "name": shard["name"],
        "status": status,
        "num_documents": manifest["num_documents"],
        "num_bytes": manifest["num_bytes"],
        "index_bytes": manifest["index_bytes"],
        "seconds": round(seconds, 3),
        "node": node,
        "pid": os.getpid(),
    }


class _Tracker:
    """A tiny Ray actor the tasks tell when they start, so the driver can show what is running (and tests can
    find a worker's pid to kill it)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, str, float]] = []

    def started(self, name: str, pid: int, node: str) -> None:
        self.events.append((name, pid, node, time.time()))

    def snapshot(self) -> list[tuple[str, int, str, float]]:
        return list(self.events)


@dataclass
class _Request:
    sources: list[str]
    text_field: str
    shard_bytes: int
    skip_bad_records: bool
    preset: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources),
            "text_field": self.text_field,
            "shard_bytes": self.shard_bytes,
            "skip_bad_records": self.skip_bad_records,
            "preset": self.preset,
        }


def _plan(out: Path | RemoteDir, request: _Request, append: bool, view: JobView) -> list[dict[str, Any]]:
    """The catalog's corpora after planning this request (reusing a plan made by an earlier run of it)."""
    existing = out.read_plan() if isinstance(out, RemoteDir) else read_plan(out)
    corpora = existing["corpora"] if existing else []
    wanted = request.as_dict()
    if any(corpus["request"] == wanted for corpus in corpora):
        return corpora  # a rerun: build what is missing of the plan written before
    if corpora and not append:
        known = "; ".join(" ".join(c["request"]["sources"]) for c in corpora)
        raise InputError(
            f"{out} already holds a catalog planned for other sources or options ({known}); pass --append to add "
            "these sources as new shards (existing shards are kept), or choose another --out"
        )
    indexed = {spec for corpus in corpora for spec in corpus["request"]["sources"]}
    again = [spec for spec in request.sources if spec in indexed]
    if again:
        raise InputError(
            f"{', '.join(again)}: already indexed in {out}; appending them again would duplicate their documents"
        )
    units = expand_sources(request.sources)
    first = sum(len(corpus["shards"]) for corpus in corpora)
    shards = make_plan(
        units,
        shard_bytes=request.shard_bytes,
        text_field=request.text_field,
        skip_bad_records=request.skip_bad_records,
        preset=request.preset,
        first_index=first,
        on_progress=view.planning,
    )
    corpora = [
        *corpora,
        {"request": wanted, "planned": datetime.now(UTC).isoformat(timespec="seconds"), "shards": shards},
    ]
    if isinstance(out, RemoteDir):
        out.write_plan(corpora)
    else:
        write_plan(out, corpora)
    return corpora


@contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold the catalog's lock file for the job, so that two jobs never build into one catalog at once."""
    import fcntl

    with open(out / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                f"another `fmsearch index` is running on {out}; wait for it to finish (a rerun then resumes)"
            ) from None
        yield


@contextmanager
def _ray_session(ray_address: str | None, workers: int | None) -> Iterator[None]:
    """Use the Ray this process is connected to, else join the cluster at `ray_address` / RAY_ADDRESS, else start
    Ray embedded (on 127.0.0.1 only) with `workers` CPUs; what this call started it stops."""
    import ray

    if ray.is_initialized():
        yield
        return
    address = ray_address or os.environ.get("RAY_ADDRESS")
    try:
        if address:
            try:
                ray.init(address=address, logging_level="warning")
            except (ConnectionError, ValueError, RuntimeError) as e:
                raise InputError(
                    f"cannot join the Ray cluster at {address} ({e}); check that it runs and the address "
                    "(--ray-address / RAY_ADDRESS), or leave both unset to run Ray locally"
                ) from e
        else:
            init_local_ray(workers or os.cpu_count() or 1, logging_level="warning")
        yield
    finally:
        ray.shutdown()


def _largest_node_memory() -> int:
    import ray

    return int(max((node["Resources"].get("memory", 0) for node in ray.nodes() if node.get("Alive")), default=0))


def _run_on_ray(
    todo: list[dict[str, Any]],
    out: str,
    request: _Request,
    max_retries: int,
    view: JobView,
    on_started: Callable[[str, int], None] | None,
) -> dict[str, dict[str, Any] | str]:
    """Build `todo` as Ray tasks; returns name -> result dict, or name -> error message."""
    import ray

    largest = _largest_node_memory()
    too_big = [s for s in todo if memory_for(s) > largest]
    if too_big:
        need = memory_for(too_big[0])
        raise InputError(
            f"shard {too_big[0]['name']} needs about {need / 2**30:.1f} GiB to build, more than the largest Ray node "
            f"offers ({largest / 2**30:.1f} GiB); plan smaller shards with a lower --shard-size in a new --out"
        )
    tracker = ray.remote(num_cpus=0)(_Tracker).remote()
    task = ray.remote(build_shard)
    refs = {}
    for shard in todo:
        # SPREAD: on a cluster, builds go to different nodes first (their memory and disks), not the driver's.
        ref = task.options(
            num_cpus=1,
            memory=memory_for(shard),
            max_retries=max_retries,
            name=f"build {shard['name']}",
            scheduling_strategy="SPREAD",
        ).remote(shard, out, request.text_field, request.skip_bad_records, request.preset, tracker)
        refs[ref] = shard["name"]
    results: dict[str, dict[str, Any] | str] = {}
    seen_events = 0
    pending = list(refs)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            events = ray.get(tracker.snapshot.remote())
            for name, pid, _node, _t in events[seen_events:]:
                view.started(name)
                if on_started is not None:
                    on_started(name, pid)
            seen_events = len(events)
            for ref in ready:
                name = refs[ref]
                try:
                    results[name] = ray.get(ref)
                except ray.exceptions.RayTaskError as e:
                    cause = e.cause if getattr(e, "cause", None) is not None else e
                    results[name] = f"{type(cause).__name__}: {cause}"
                except ray.exceptions.RayError as e:  # worker died more often than max_retries allows, etc.
                    results[name] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                view.finished(name, results[name])
    except BaseException:
        # Interrupted (Ctrl-C) or failing: stop this job's builds, so that none publishes behind a rerun's back.
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        ray.kill(tracker)
    return results


def _run_serial(todo: list[dict[str, Any]], out: str, request: _Request, view: JobView) -> dict[str, Any]:
    results: dict[str, dict[str, Any] | str] = {}
    for shard in todo:
        view.started(shard["name"])
        try:
            results[shard["name"]] = build_shard(
                shard, out, request.text_field, request.skip_bad_records, request.preset
            )
        except FmsearchError as e:
            results[shard["name"]] = f"{type(e).__name__}: {e}"
        view.finished(shard["name"], results[shard["name"]])
    return results


def run_job(
    sources: list[str],
    out: str | os.PathLike,
    *,
    shard_size: str | int = "2GB",
    text_field: str = "text",
    skip_bad_records: bool = False,
    preset: str = DEFAULT_PRESET,
    workers: int | None = None,
    ray_address: str | None = None,
    append: bool = False,
    max_retries: int = 3,
    use_ray: bool = True,
    progress: bool = False,
    name: str | None = None,
    on_started: Callable[[str, int], None] | None = None,
) -> JobResult:
    """Index `sources` into the catalog directory `out` and publish its catalog.json; returns what was done.

    `out` is a local directory or a URL (s3://BUCKET/PREFIX, gs://..., file:///..., see indexing/remote.py) with
    the same layout on the store. Only a local catalog is locked against a second job building into it at the
    same time (an fcntl lock file: stores have no such lock), so do not run two jobs on one URL at once.

    Reruns resume: the plan written by the first run is reused, intact shards are skipped, damaged ones rebuilt.
    `append` plans new sources into new shards after the existing ones (existing shards are never rewritten).
    `use_ray=False` builds the shards one after another in this process (no Ray). `on_started(shard, pid)` is
    called when a task starts on a worker. Raises InputError for bad sources or options, ShardBuildFailed when some
    shards failed (published ones are kept; rerun to resume).
    """
    started = time.perf_counter()
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}")
    if max_retries < 0:
        raise InputError(f"--max-retries must be 0 or more, not {max_retries}")
    if workers is not None and (ray_address or os.environ.get("RAY_ADDRESS")) and use_ray:
        raise InputError(
            "--workers sets the CPUs of the local Ray; a cluster (--ray-address / RAY_ADDRESS) brings its own: "
            "drop one of the two"
        )
    get_preset(preset)  # an unknown name fails here, naming the presets, before anything is planned
    request = _Request(list(sources), text_field, parse_size(shard_size), skip_bad_records, preset)
    target: Path | RemoteDir
    if is_url(out):
        target = open_store(os.fspath(out))  # StoreError (an InputError) for an unusable URL, before any planning
        out_arg = target.url  # what the tasks open: with its query (endpoint, region), unlike str(target)
        # No lock on a store: fcntl needs a local file, and object stores offer no lock to put in its place.
        lock = nullcontext()
    else:
        target = Path(out)
        target.mkdir(parents=True, exist_ok=True)
        (target / SHARDS_DIR).mkdir(exist_ok=True)
        out_arg = str(target)
        lock = _exclusive(target)
    out = target
    with lock:
        view = JobView(progress)
        try:
            corpora = _plan(out, request, append, view)
            plan_seconds = time.perf_counter() - started
            shards = [shard for corpus in corpora for shard in corpus["shards"]]
            todo, problems = [], {}
            # Re-hashing published shards is disk-bound: a few threads keep several reads in flight.
            with ThreadPoolExecutor(max_workers=min(8, len(shards))) as pool:
                found = list(pool.map(lambda shard: published_problem(out, shard), shards))
            for shard, problem in zip(shards, found, strict=True):
                if problem is not None:
                    todo.append(shard)
                    if problem != "missing":
                        problems[shard["name"]] = problem
            view.building(shards, todo)
            build_started = time.perf_counter()
            results: dict[str, Any] = {}
            ray_start_seconds = ray_stop_seconds = 0.0
            if todo:
                if use_ray:
                    with _ray_session(ray_address, workers):
                        ray_start_seconds = time.perf_counter() - build_started
                        results = _run_on_ray(todo, out_arg, request, max_retries, view, on_started)
                        stopping = time.perf_counter()
                    ray_stop_seconds = time.perf_counter() - stopping
                else:
                    results = _run_serial(todo, out_arg, request, view)
            build_seconds = time.perf_counter() - build_started
        finally:
            view.stop()

        outcomes, entries, failed = [], [], []
        first_doc_id = 0
        for shard in shards:
            result = results.get(shard["name"])
            if isinstance(result, str):
                failed.append(f"{shard['name']}: {result}")
                outcomes.append(ShardOutcome(shard["name"], "failed", error=result))
                continue
            if failed:
                continue
            manifest = _read_manifest(out, shard["path"])
            entries.append(shard_entry(shard, manifest, first_doc_id))
            first_doc_id += manifest["num_documents"]
            # A task that found its shard published was retried after an attempt died having published it.
            status = "skipped" if result is None else ("rebuilt" if shard["name"] in problems else "built")
            outcomes.append(
                ShardOutcome(
                    shard["name"],
                    status,
                    manifest["num_documents"],
                    manifest["num_bytes"],
                    manifest["index_bytes"],
                    result["seconds"] if result else 0.0,
                    result["node"] if result else "",
                )
            )
        if failed:
            raise ShardBuildFailed(
                f"{len(failed)} of {len(shards)} shards failed; the {len(shards) - len(failed)} others are published "
                f"and a rerun of the same command skips them. " + " | ".join(failed)
            )
        catalog = {
            "shards": entries,
            "build_params": {
                "preset": preset,
                "fmsearch_version": fmsearch.__version__,
                "requests": [corpus["request"] for corpus in corpora],
            },
            "sources": [spec for corpus in corpora for spec in corpus["request"]["sources"]],
        }
        if isinstance(out, RemoteDir):
            # Uploaded last of all: readers of the store trust only catalog.json, like local ones.
            out.write_checked(CATALOG, lambda scratch: write_catalog(scratch, name=name or out.name, **catalog))
        else:
            write_catalog(out, name=name or out.resolve().name, **catalog)
        result = JobResult(
            path=str(out),
            shards=outcomes,
            num_documents=first_doc_id,
            num_bytes=sum(o.num_bytes for o in outcomes),
            index_bytes=sum(o.index_bytes for o in outcomes),
            seconds=round(time.perf_counter() - started, 3),
            plan_seconds=round(plan_seconds, 3),
            build_seconds=round(build_seconds, 3),
            ray_start_seconds=round(ray_start_seconds, 3),
            ray_stop_seconds=round(ray_stop_seconds, 3),
            problems=problems,
        )
        if progress:
            print_summary(result)
        return result
