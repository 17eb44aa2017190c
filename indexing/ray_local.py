"""Ray started embedded on this machine, every one of its processes on 127.0.0.1 (the indexing job, the service).

Plain `ray.init()` on Linux makes the machine's interface address the node address: its processes listen on all
interfaces and talk to each other through that address, which exposes the local instance to the network. Ray keeps
to loopback when RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, but it reads that variable once, when `import ray` loads its
constants: a process that imported Ray before (every caller here) must switch the constant too, which this does.
It also keeps the local instance from joining other nodes: clusters are joined by address, not through this.

Ray's dashboard process, started even with include_dashboard=False, asks cloud metadata services what machine this
is (whatever RAY_USAGE_STATS_ENABLED says) unless ~/ray_bootstrap_config.yaml exists; tests/conftest.py gives the
test session a HOME that holds one, so that tests send nothing off the machine.
"""

from __future__ import annotations

import os
from typing import Any

ENV_KEY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def init_local_ray(num_cpus: int | None = None, **init_args: Any) -> None:
    """`ray.init(address="local", ...)`: always a new instance (never one that `ray start` left running), bound to
    127.0.0.1. The caller shuts it down (`ray.shutdown()`)."""
    import ray
    from ray._private import ray_constants

    saved_env, saved_constant = os.environ.get(ENV_KEY), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[ENV_KEY] = "0"  # for the processes ray.init starts, which import Ray afresh
    ray_constants.ENABLE_RAY_CLUSTER = False  # for this process, where Ray read the variable at import
    try:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **init_args)
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_constant
        if saved_env is None:
            os.environ.pop(ENV_KEY, None)
        else:
            os.environ[ENV_KEY] = saved_env
