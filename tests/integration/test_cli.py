"""Command-line behaviour an operator relies on: repairs that keep the policy,
clean state after errors, and usage errors that name the problem."""

import os
import subprocess
import sys
import time

import pytest

from mcgtest import HOOKS, REMOTE_V4

CONNECT_REMOTE = {"family": "ipv4", "type": "tcp", "action": "connect",
                  "address": REMOTE_V4, "port": 25}


def detach_link(env, cgroup, hook):
    """Detach one of the guard's links behind mcguard's back, as bpftool would."""
    program = f"mcg_{hook}"
    show = subprocess.run(["bpftool", "cgroup", "show", cgroup], capture_output=True,
                          text=True, check=True)
    prog_id = next(line.split()[0] for line in show.stdout.splitlines()
                   if line.split() and line.split()[-1] == program)
    links = subprocess.run(["bpftool", "link", "show"], capture_output=True, text=True,
                           check=True)
    for line in links.stdout.splitlines():
        if f"prog {prog_id}" in line:
            link_id = line.split(":")[0]
            subprocess.run(["bpftool", "link", "detach", "id", link_id], check=True)
            return
    pytest.fail(f"no link of {program} found")


def test_repair_keeps_policy(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", "--mode", "audit", "--allow-connect", "tcp:192.0.2.0/24:25", cgroup)
    detach_link(env, cgroup, "connect4")

    repair = env.mcguard("attach", cgroup)
    status = env.status()[env.relative(cgroup)]

    assert "kept its policy" in repair.stderr
    assert status["mode"] == "audit"
    assert status["allow_connect"] == ["tcp:192.0.2.0/24:25"]
    assert status["hooks"] == {hook: "attached" for hook in HOOKS}
    assert status["generation"] == 1


def test_policy_options_replace_policy(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", "--allow-connect", "tcp:192.0.2.0/24:25", cgroup)

    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    status = env.status()[env.relative(cgroup)]

    assert status["wildcard"] == "loopback"
    assert status["allow_connect"] == []
    assert status["generation"] == 2


def test_reattach_starts_fresh(env):
    kept, cgroup = env.cgroup("kept"), env.cgroup("a")
    env.mcguard("attach", kept)
    env.mcguard("attach", cgroup)
    env.probe(cgroup, CONNECT_REMOTE)
    env.mcguard("detach", cgroup)

    env.mcguard("attach", cgroup)
    status = env.status()[env.relative(cgroup)]

    assert status["generation"] == 1
    assert status["counters"]["connect4"]["denied"] == 0


def test_removed_cgroup_guard_dropped(env):
    cgroup = env.cgroup("gone")
    env.mcguard("attach", cgroup)
    os.rmdir(cgroup)

    # The kernel releases a removed cgroup's links asynchronously, within a second here.
    messages = ""
    deadline = time.monotonic() + 5
    while "no longer exists" not in messages and time.monotonic() < deadline:
        messages += env.mcguard("status", "--json").stderr
        time.sleep(0.2)

    assert "no longer exists" in messages
    assert env.status() == {}


@pytest.mark.parametrize("argv, message", [
    (["status", "--pin-root"], "option --pin-root needs a value"),
    (["attach", "--mode"], "option --mode needs a value"),
    (["status", "--json=1"], "option --json=1 takes no value"),
    (["status", "--mode", "audit"], "option --mode does not apply to 'mcguard status'"),
    (["status", "--bogus"], "invalid option --bogus"),
])
def test_option_errors_named(env, argv, message):
    result = subprocess.run([env.binary] + argv, capture_output=True, text=True)

    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.isprintable() or result.stderr.replace("\n", "").isprintable()
    assert f"Try 'mcguard {argv[0]} --help'" in result.stderr


@pytest.mark.parametrize("argv", [
    ["run", "--bogus", "--", "true"],
    ["run", "--mode", "bogus", "--", "true"],
    ["run"],
])
def test_run_own_errors_exit_125(env, argv):
    result = subprocess.run([env.binary] + argv, capture_output=True, text=True)

    assert result.returncode == 125, result.stderr


def test_pin_root_option_before_command(env):
    result = subprocess.run([env.binary, f"--pin-root={env.pin_root}", "status"],
                            capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert f"no guards under {env.pin_root}" in result.stdout


def test_events_missing_pin_root_rejected(env):
    missing = f"{env.pin_root}-typo"

    result = subprocess.run([env.binary, "events", "--pin-root", missing],
                            capture_output=True, text=True, timeout=10)

    assert result.returncode == 1
    assert "does not exist" in result.stderr
    assert not os.path.exists(missing)


def test_rejected_pin_root_not_left(env, tmp_path):
    not_bpffs = tmp_path / "notbpf"

    result = subprocess.run([env.binary, "attach", "--pin-root", str(not_bpffs),
                             env.cgroup("a")], capture_output=True, text=True)

    assert result.returncode == 1
    assert "not on a bpf filesystem" in result.stderr
    assert not not_bpffs.exists()


def test_second_pin_root_warned(env):
    cgroup = env.cgroup("a")
    other = f"{env.pin_root}-other"
    env.mcguard("attach", cgroup)
    try:
        result = subprocess.run([env.binary, "attach", "--pin-root", other, cgroup],
                                capture_output=True, text=True)

        assert result.returncode == 0, result.stderr
        assert "also guarded from another pin root" in result.stderr
    finally:
        subprocess.run([env.binary, "detach", "--all", "--pin-root", other],
                       capture_output=True)


SYSLOG_CAPTURE = """
import socket, subprocess, sys
binary, pin_root, cgroup = sys.argv[1:4]
listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
listener.bind("/dev/log")
listener.settimeout(5)
for command in ("attach", "detach"):
    subprocess.run([binary, command, "--pin-root", pin_root, cgroup], check=True,
                   capture_output=True)
    print(listener.recv(4096).decode(errors="replace"), flush=True)
"""


def test_audit_trail_in_syslog(env):
    cgroup = env.cgroup("a")
    # A private mount namespace with its own /dev, so /dev/log is the test's socket.
    script = 'mount -t tmpfs mcguard-test /dev && exec "$0" "$@"'
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, sys.executable,
         "-c", SYSLOG_CAPTURE, env.binary, env.pin_root, cgroup],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    attach, detach = result.stdout.splitlines()[:2]

    assert "mcguard" in attach
    assert "user=root uid=0 attach cgroup=" + env.relative(cgroup) in attach
    assert "mode=enforce" in attach
    assert "detach cgroup=" + env.relative(cgroup) in detach
