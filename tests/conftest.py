"""The test session's environment: whatever Ray a test starts stays on this machine and asks for no token."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def ray_stays_on_this_machine(tmp_path_factory):
    # Ray's dashboard process (started even without the dashboard) asks cloud metadata services (169.254.169.254,
    # metadata.google.internal) what machine this is, whatever RAY_USAGE_STATS_ENABLED says, unless
    # ~/ray_bootstrap_config.yaml exists (ray 2.60 usage_lib; seen with strace). Ray processes inherit HOME from the
    # process that starts them, so the session runs with a HOME that holds an empty one. Loopback: ray_local.py.
    home = tmp_path_factory.mktemp("home")
    (home / "ray_bootstrap_config.yaml").write_text("{}\n")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", str(home))
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        env.setenv("RAY_AUTH_MODE", "disabled")  # no token files in the real HOME (see shared RAY-NOTES)
        yield
