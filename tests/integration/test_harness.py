"""The TestEnv itself: namespaces, addresses and cleanup. Needs no mcguard binary."""

import json
import os
import subprocess
import sys

import mcgtest
from mcgtest import GUARDED_V4, REMOTE2_V4, REMOTE_V4, REMOTE_V6

LISTEN = {"family": "ipv6", "type": "tcp", "action": "listen", "address": "::",
          "port": 2500, "v6only": False, "hold": 30}


def netns_names():
    output = subprocess.run(["ip", "netns", "list"], text=True, check=True,
                            stdout=subprocess.PIPE).stdout
    return {line.split()[0] for line in output.splitlines() if line.strip()}


def test_remote_hosts_reachable(bare_env):
    env = bare_env
    listener = env.in_peer([sys.executable, str(mcgtest.PROBE),
                            json.dumps(LISTEN)], stdin=subprocess.PIPE)
    assert '"errno": 0' in listener.stdout.readline()

    for address in (REMOTE_V4, REMOTE2_V4, REMOTE_V6):
        result = env.probe(None, {"family": "ipv6" if ":" in address else "ipv4",
                                  "type": "tcp", "action": "connect",
                                  "address": address, "port": 2500})
        assert result["errno"] == 0, f"{address}: {result}"
    listener.stdin.close()


def test_guarded_process_in_cgroup(bare_env):
    cgroup = bare_env.cgroup("a")
    result = bare_env.run_guarded(cgroup, ["cat", "/proc/self/cgroup"])

    assert f"0::{bare_env.relative(cgroup)}" in result.stdout.splitlines()


def test_guarded_namespace_addresses(bare_env):
    result = bare_env.run_guarded(None, ["ip", "-o", "addr", "show", "dev", "veth0"])

    assert f"inet {GUARDED_V4}/24" in result.stdout


def test_cleanup_removes_everything(bare_env):
    # A second TestEnv next to bare_env, which also checks that two can coexist.
    with mcgtest.TestEnv() as env:
        env.in_guarded(env.cgroup("a/b"), ["sleep", "60"])
        env.in_peer(["sleep", "60"])
        names = {env.ns_guarded, env.ns_peer}
        assert names <= netns_names()

    assert not os.path.exists(env.root)
    assert not os.path.exists(env.pin_root)
    assert not names & netns_names()
