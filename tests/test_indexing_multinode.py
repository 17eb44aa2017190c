"""A two-node Ray cluster on this one machine: a head and a second node, each in its own network namespace joined
by a veth pair (10.200.0.1 / 10.200.0.2), the job submitted from the head's namespace with --ray-address; the shards
are built on both nodes and the catalog answers like the oracle.

Needs root (network namespaces) and the `ip` and `ray` commands; skipped otherwise. Traffic stays inside the two
namespaces the test creates. Cleanup (also on failure): every process left in the namespaces is stopped by its pid
(`ip netns pids`), never by name, then the namespaces are deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from naive import NaiveIndex

import fmsearch

PORT = 6390


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    for tool in ("ip", "ray"):
        if shutil.which(tool) is None:
            return f"needs the `{tool}` command"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"network namespaces unavailable: {probe.stderr.strip()}"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))


def _run(*args: str, check: bool = True, env=None, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result


def _stop_namespace_processes(ns: str) -> None:
    """Stop what runs in namespace `ns` (only processes this test started there), by pid."""
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 1.0)):
        pids = [int(p) for p in _run("ip", "netns", "pids", ns, check=False).stdout.split()]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + wait
        while pids and time.time() < deadline and _run("ip", "netns", "pids", ns, check=False).stdout.strip():
            time.sleep(0.1)


@pytest.fixture
def cluster(tmp_path):
    tag = str(os.getpid())[-6:]
    ns_a, ns_b = f"fmsA{tag}", f"fmsB{tag}"
    veth_a, veth_b = f"fmva{tag}", f"fmvb{tag}"
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_ADDRESS")}
    env["RAY_AUTH_MODE"] = "disabled"
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    # A temp root of its own: `ray start` records its cluster in TMPDIR/ray/ray_current_cluster, which a later plain
    # ray.init() on this machine would join. (Short path: Ray's socket paths must stay under 108 bytes.)
    ray_tmp = tempfile.mkdtemp(prefix="fmsray")
    env["RAY_TMPDIR"] = ray_tmp
    try:
        _run("ip", "netns", "add", ns_a)
        _run("ip", "netns", "add", ns_b)
        _run("ip", "link", "add", veth_a, "type", "veth", "peer", "name", veth_b)
        _run("ip", "link", "set", veth_a, "netns", ns_a)
        _run("ip", "link", "set", veth_b, "netns", ns_b)
        _run("ip", "-n", ns_a, "addr", "add", "10.200.0.1/24", "dev", veth_a)
        _run("ip", "-n", ns_b, "addr", "add", "10.200.0.2/24", "dev", veth_b)
        for ns, veth in ((ns_a, veth_a), (ns_b, veth_b)):
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "-n", ns, "link", "set", veth, "up")
        head = ("ip", "netns", "exec", ns_a, "ray", "start", "--head", "--node-ip-address=10.200.0.1")
        _run(*head, f"--port={PORT}", "--num-cpus=1", "--include-dashboard=false", env=env)
        second = ("ip", "netns", "exec", ns_b, "ray", "start", f"--address=10.200.0.1:{PORT}")
        _run(*second, "--node-ip-address=10.200.0.2", "--num-cpus=1", env=env)
        yield {"exec": ("ip", "netns", "exec", ns_a), "address": f"10.200.0.1:{PORT}", "env": env}
    finally:
        for ns in (ns_b, ns_a):
            _stop_namespace_processes(ns)
            _run("ip", "netns", "del", ns, check=False)
        shutil.rmtree(ray_tmp, ignore_errors=True)


DRIVER = """
import json, sys
from indexing.job import run_job
r = run_job(sys.argv[1:-3], sys.argv[-2], shard_size=int(sys.argv[-1]), ray_address=sys.argv[-3])
print(json.dumps([[o.name, o.status, o.node] for o in r.shards]))
"""


def test_shards_are_built_on_both_nodes(cluster, tmp_path):
    texts = [f"node test {i} " + "abcdefgh"[i % 8] * (i % 50) for i in range(400)]
    source = tmp_path / "c.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    target = sum(len(t.encode()) + 1 for t in texts) // 4 + 60
    out = tmp_path / "cat"
    args = [*cluster["exec"], sys.executable, "-c", DRIVER, str(source), cluster["address"], str(out), str(target)]
    result = _run(*args, env=cluster["env"], timeout=240)
    shards = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(shards) >= 4 and all(status == "built" for _, status, _ in shards)
    assert len({node for _, _, node in shards}) == 2, shards
    idx = fmsearch.open_index(out)
    oracle = NaiveIndex(texts)
    for query in ["node test 1", "aaaa", "h", "test 39"]:
        assert idx.count(query) == oracle.count(query)
        assert {(h.doc_id, h.offset) for h in idx.find(query, limit=10**6).hits} == oracle.find(query)
