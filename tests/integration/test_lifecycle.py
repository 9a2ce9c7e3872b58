"""Attach, detach, status, nesting, refusals and `mcguard run`, on real cgroups."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import mcgtest
from mcgtest import HOOKS, REMOTE_V4

MCG_PROGRAMS = {f"mcg_{hook}" for hook in HOOKS}

CONNECT_REMOTE = {"family": "ipv4", "type": "tcp", "action": "connect",
                  "address": REMOTE_V4, "port": 26, "timeout": 1}


def bpftool(*args):
    result = subprocess.run(["bpftool", *args], text=True, check=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return result.stdout


def cgroup_programs(cgroup):
    """Return the names of the programs attached to cgroup itself."""
    # bpftool prints an empty line, not an empty JSON list, for a cgroup with no programs.
    output = bpftool("cgroup", "show", cgroup, "-j").strip()
    return [program["name"] for program in json.loads(output or "[]")]


def guard_links(cgroup):
    """Return {program name: link id} for the bpf_links on cgroup."""
    links = {}
    for link in json.loads(bpftool("link", "show", "-j")):
        if link.get("type") == "cgroup" and link.get("cgroup_id") == mcgtest.cgroup_id(cgroup):
            program = json.loads(bpftool("prog", "show", "id", str(link["prog_id"]), "-j"))
            links[program["name"]] = link["id"]
    return links


def pinned_files(env):
    """Return every file under the pin root, relative to it."""
    found = []
    for top, _, files in os.walk(env.pin_root):
        found += [os.path.relpath(os.path.join(top, name), env.pin_root) for name in files]
    return sorted(found)


# Attach and detach


def test_attach_twice_updates_policy(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)
    first = env.status()[env.relative(cgroup)]

    env.mcguard("attach", "--mode", "audit", "--allow-connect", "tcp:192.0.2.0/24:25", cgroup)
    second = env.status()[env.relative(cgroup)]

    assert second["mode"] == "audit"
    assert second["allow_connect"] == ["tcp:192.0.2.0/24:25"]
    assert second["generation"] > first["generation"]
    assert second["hooks"] == {hook: "attached" for hook in HOOKS}
    assert sorted(cgroup_programs(cgroup)) == sorted(MCG_PROGRAMS)
    assert env.probe(cgroup, CONNECT_REMOTE)["error"] == "ECONNREFUSED"


def test_reattach_has_no_gap(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)
    calls = 200000
    flood = dict(CONNECT_REMOTE, type="udp", action="sendto", count=calls)
    sender = env.in_guarded(cgroup, [sys.executable, str(mcgtest.PROBE), json.dumps(flood)])

    # Every policy in the loop denies the flood's destination.
    attaches = 0
    while sender.poll() is None and attaches < 100:
        env.mcguard("attach", "--allow-connect", f"tcp:203.0.113.{attaches + 1}:25", cgroup)
        attaches += 1
    stdout, stderr = sender.communicate(timeout=60)

    assert attaches > 0
    assert json.loads(stdout)["errors"] == {"EPERM": calls}, stderr


def test_attach_relative_path(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", os.path.relpath(cgroup, env.mount))

    assert env.relative(cgroup) in env.status()
    assert env.probe(cgroup, CONNECT_REMOTE)["error"] == "EPERM"


def test_options_after_cgroup(env):
    """Options after the CGROUP operand, as GNU tools accept them."""
    cgroup = env.cgroup("a")
    result = subprocess.run([env.binary, "attach", cgroup, "--mode", "audit",
                             "--pin-root", env.pin_root], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)

    assert result.returncode == 0, result.stderr
    assert env.status()[env.relative(cgroup)]["mode"] == "audit"


def test_detach_twice(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)

    first = env.mcguard("detach", cgroup, check=False)
    second = env.mcguard("detach", cgroup, check=False)

    assert first.returncode == 0, first.stderr
    assert cgroup_programs(cgroup) == []
    assert env.relative(cgroup) not in env.status()
    assert env.probe(cgroup, CONNECT_REMOTE)["error"] == "ECONNREFUSED"
    assert second.returncode == 1
    assert env.relative(cgroup) in second.stderr
    assert "no guard" in second.stderr


def test_detached_link_shows_missing(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)
    links = guard_links(cgroup)
    assert sorted(links) == sorted(MCG_PROGRAMS)

    bpftool("link", "detach", "id", str(links["mcg_connect4"]))
    hooks = env.status()[env.relative(cgroup)]["hooks"]

    assert hooks["connect4"] == "missing"
    for hook in set(HOOKS) - {"connect4"}:
        assert hooks[hook] == "attached", hook


def test_attach_repairs_missing_link(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)
    bpftool("link", "detach", "id", str(guard_links(cgroup)["mcg_connect4"]))

    env.mcguard("attach", cgroup)

    assert env.status()[env.relative(cgroup)]["hooks"] == {hook: "attached" for hook in HOOKS}
    assert env.probe(cgroup, CONNECT_REMOTE)["error"] == "EPERM"


FOREIGN_PROGRAM = """\
struct bpf_sock_addr;

__attribute__((section("cgroup/connect4"), used))
int fgn_connect4(struct bpf_sock_addr *ctx)
{
	return 1;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
"""


@pytest.fixture
def foreign_program(env, tmp_path):
    """A cgroup_sock_addr program that mcguard did not load, pinned under the pin root."""
    source = tmp_path / "foreign.bpf.c"
    source.write_text(FOREIGN_PROGRAM)
    subprocess.run(["clang", "-O2", "-target", "bpf", "-c", str(source),
                    "-o", str(tmp_path / "foreign.bpf.o")], check=True)
    pin = f"{env.pin_root}/foreign"
    bpftool("prog", "load", str(tmp_path / "foreign.bpf.o"), pin, "type", "cgroup/connect4")
    return pin


def test_detach_keeps_foreign_program(env, foreign_program):
    cgroup = env.cgroup("a")
    bpftool("cgroup", "attach", cgroup, "connect4", "pinned", foreign_program, "multi")
    try:
        env.mcguard("attach", cgroup)
        assert sorted(cgroup_programs(cgroup)) == sorted(MCG_PROGRAMS | {"fgn_connect4"})

        env.mcguard("detach", cgroup)

        assert cgroup_programs(cgroup) == ["fgn_connect4"]
        assert os.path.exists(foreign_program)
    finally:
        subprocess.run(["bpftool", "cgroup", "detach", cgroup, "connect4",
                        "pinned", foreign_program], check=False)


def test_detach_all_keeps_foreign_program(env, foreign_program):
    cgroup = env.cgroup("a")
    bpftool("cgroup", "attach", cgroup, "connect4", "pinned", foreign_program, "multi")
    try:
        env.mcguard("attach", cgroup)
        env.mcguard("detach", "--all")

        assert cgroup_programs(cgroup) == ["fgn_connect4"]
        assert os.path.exists(foreign_program)
    finally:
        subprocess.run(["bpftool", "cgroup", "detach", cgroup, "connect4",
                        "pinned", foreign_program], check=False)


def test_enforced_after_loader_exit(env):
    cgroup = env.cgroup("a")
    attach = env.mcguard("attach", cgroup)

    assert attach.returncode == 0
    assert env.probe(cgroup, CONNECT_REMOTE)["error"] == "EPERM"


def test_status_text_lists_guard(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)

    lines = env.mcguard("status").stdout.splitlines()

    assert lines[0].split()[0] == "CGROUP"
    assert any(line.split()[0] == env.relative(cgroup) for line in lines[1:])


def test_status_names_many_guards(env):
    # A hundred guards name a hundred cgroups, each by its own path.
    cgroups = [env.cgroup(f"many-{i:03d}") for i in range(100)]
    for cgroup in cgroups:
        env.mcguard("attach", cgroup)

    guards = env.status()

    for cgroup in cgroups:
        name = env.relative(cgroup)
        assert name in guards
        assert guards[name]["cgroup_id"] == mcgtest.cgroup_id(cgroup)


def test_status_filter_by_cgroup(env):
    first, second = env.cgroup("a"), env.cgroup("b")
    env.mcguard("attach", first)
    env.mcguard("attach", second)

    assert list(env.status(first)) == [env.relative(first)]


def test_events_text_line(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)
    stream = env.events(text=True)

    result = env.probe(cgroup, CONNECT_REMOTE)
    # The first line is the column header; the event follows it.
    deadline = time.monotonic() + 5
    while len(stream.other_lines) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stream.other_lines[0].split()[:3] == ["TIME", "HOOK", "VERDICT"]
    fields = stream.other_lines[-1].split()

    assert fields[1:4] == ["connect4", "denied", "tcp"], stream.describe()
    assert fields[4] == f"{REMOTE_V4}:26"
    assert fields[5] == str(result["pid"])
    assert fields[6] == result["comm"]
    assert fields[7] == env.relative(cgroup)


def test_events_filter_by_cgroup(env):
    first, second = env.cgroup("a"), env.cgroup("b")
    env.mcguard("attach", first)
    env.mcguard("attach", second)
    stream = env.events(first)

    other = env.probe(second, CONNECT_REMOTE)
    own = env.probe(first, CONNECT_REMOTE)

    assert stream.wait_for(lambda record: record.get("pid") == own["pid"]) is not None
    assert stream.count(lambda record: record.get("pid") == other["pid"]) == 0


def test_second_consumer_refused(env):
    env.mcguard("attach", env.cgroup("a"))
    first = env.events()
    time.sleep(0.3)

    second = subprocess.run(env.mcguard_argv("events", "--json"), text=True, timeout=10,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)

    assert second.returncode == 1
    assert second.stderr.strip() != ""
    assert first.process.poll() is None


def test_events_exit_on_sigterm(env):
    env.mcguard("attach", env.cgroup("a"))
    stream = env.events()
    time.sleep(0.3)

    stream.stop()

    assert stream.process.returncode == 0


def test_events_after_detach_all(env):
    """A running consumer keeps streaming after `detach --all` and a new attach."""
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)
    stream = env.events()
    time.sleep(0.3)

    env.mcguard("detach", "--all")
    env.mcguard("attach", cgroup)
    result = env.probe(cgroup, CONNECT_REMOTE)

    assert stream.wait_for(lambda record: record.get("pid") == result["pid"]) is not None, \
        stream.describe()


def test_events_across_runs(env):
    """A running consumer reports the guard of a second `mcguard run` after the first ended."""
    first = env.in_guarded(None, env.mcguard_argv("run", "--parent", env.root, "--",
                                                  "sh", "-c", "echo ready; exec sleep 1"))
    assert first.stdout.readline().strip() == "ready"
    stream = env.events()
    time.sleep(0.3)
    assert first.wait(timeout=10) == 0

    probe = [sys.executable, str(mcgtest.PROBE), json.dumps(CONNECT_REMOTE)]
    second = env.run_guarded(None, env.mcguard_argv("run", "--parent", env.root, "--", *probe))
    result = json.loads(second.stdout.splitlines()[0])

    assert result["error"] == "EPERM"
    assert stream.wait_for(lambda record: record.get("pid") == result["pid"]) is not None, \
        stream.describe()


def test_mapped_cidr_is_ipv4(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", "--allow-connect", "[::ffff:203.0.113.0/120]:1500", cgroup)
    udp = {"family": "ipv4", "type": "udp", "action": "sendto", "address": "203.0.113.5"}

    assert env.status()[env.relative(cgroup)]["allow_connect"] == ["203.0.113.0/24:1500"]
    assert env.probe(cgroup, dict(udp, port=1500))["errno"] == 0
    assert env.probe(cgroup, dict(udp, port=1501))["error"] == "EPERM"


def test_allow_bind_port(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", "--allow-bind", "tcp:192.0.2.1:8025", cgroup)
    bind = {"family": "ipv4", "type": "tcp", "action": "bind", "address": "192.0.2.1"}

    assert env.probe(cgroup, dict(bind, port=8025))["errno"] == 0
    assert env.probe(cgroup, dict(bind, port=8026))["error"] == "EPERM"
    assert env.probe(cgroup, dict(bind, type="udp", port=8025))["error"] == "EPERM"


def test_detach_removed_cgroup(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)
    os.rmdir(cgroup)

    result = env.mcguard("detach", "--all", check=False)

    assert result.returncode == 0, result.stderr
    assert env.status() == {}
    assert pinned_files(env) == []


# Nested guards


def test_audit_parent_audits_child(env):
    parent = env.cgroup("a")
    child = env.cgroup("a/b")
    env.mcguard("attach", "--mode", "audit", parent)
    stream = env.events()

    result = env.probe(child, CONNECT_REMOTE)
    found = stream.wait_for(lambda record: record.get("pid") == result["pid"])

    assert result["error"] == "ECONNREFUSED"
    assert found is not None, stream.describe()
    assert found["verdict"] == "audited"
    assert found["cgroup"] == env.relative(child)
    assert found["guard_cgroup"] == env.relative(parent)


@pytest.mark.parametrize("parent_mode, child_mode", [("enforce", "audit"), ("audit", "enforce")],
                         ids=["enforce-over-audit", "audit-over-enforce"])
def test_nested_guards_deny(env, parent_mode, child_mode):
    parent = env.cgroup("a")
    child = env.cgroup("a/b")
    env.mcguard("attach", "--mode", parent_mode, parent)
    env.mcguard("attach", "--mode", child_mode, child)
    stream = env.events()

    result = env.probe(child, CONNECT_REMOTE)
    enforcing = parent if parent_mode == "enforce" else child
    found = stream.wait_for(lambda record: record.get("pid") == result["pid"]
                            and record.get("verdict") == "denied")

    assert result["error"] == "EPERM"
    assert found is not None, stream.describe()
    assert found["guard_cgroup"] == env.relative(enforcing)
    assert env.counters(enforcing)["connect4"]["denied"] == 1


@pytest.mark.parametrize("detached", ["parent", "child"])
def test_nested_detach_keeps_other(env, detached):
    parent = env.cgroup("a")
    child = env.cgroup("a/b")
    env.mcguard("attach", parent)
    env.mcguard("attach", child)

    env.mcguard("detach", parent if detached == "parent" else child)

    assert env.probe(child, CONNECT_REMOTE)["error"] == "EPERM"
    assert sorted(cgroup_programs(child if detached == "parent" else parent)) == \
        sorted(MCG_PROGRAMS)


# Refusals


@pytest.fixture
def plain_file(tmp_path):
    path = tmp_path / "not-a-cgroup"
    path.write_text("")
    return str(path)


def _cgroup_v1_dir():
    for mount_point, fstype in mcgtest._mounts():
        if fstype == "cgroup":
            return mount_point
    return None


@pytest.mark.parametrize("target", ["cgroup2-root", "file", "missing", "cgroup-v1"])
def test_attach_refused(env, plain_file, target):
    if target == "cgroup2-root":
        path = env.mount
    elif target == "file":
        path = plain_file
    elif target == "missing":
        path = os.path.join(env.root, "missing")
    else:
        path = _cgroup_v1_dir()
        if path is None:
            pytest.skip("no cgroup v1 hierarchy is mounted")

    result = env.mcguard("attach", path, check=False)

    assert result.returncode == 2, result.stderr
    assert pinned_files(env) == []
    assert env.status() == {}


def test_missing_path_message(env):
    missing = os.path.join(env.root, "missing")
    result = env.mcguard("attach", missing, check=False)

    assert missing in result.stderr
    assert env.mount + missing not in result.stderr, result.stderr


MALFORMED = [
    ("--allow-connect", "300.1.1.1"),
    ("--allow-connect", "192.0.2.0/33"),
    ("--allow-connect", "tcp:198.51.100.7:70000"),
    ("--allow-connect", "tcp:198.51.100.7:90-80"),
    ("--allow-connect", "sctp:198.51.100.7"),
    ("--allow-connect", "tcp:"),
    ("--allow-connect", ""),
    ("--allow-connect", "[2001:db8::/129]:80"),
    ("--allow-connect", "tcp:[2001:db8::5]:"),
    ("--allow-connect", "[2001:db8::5:80"),
    ("--allow-connect", "198.51.100.7/24x"),
    ("--allow-bind", "192.0.2.1:-1"),
    ("--allow-bind", "not-an-address"),
    ("--mode", "permissive"),
    ("--wildcard", "allow"),
    ("--wildcard6", "both"),
    ("--no-such-option",),
]


@pytest.mark.parametrize("options", MALFORMED, ids=[" ".join(row) for row in MALFORMED])
def test_malformed_options_refused(env, options):
    cgroup = env.cgroup("a")
    result = env.mcguard("attach", *options, cgroup, check=False)

    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() != ""
    assert pinned_files(env) == []
    assert cgroup_programs(cgroup) == []


def test_too_many_entries_refused(env):
    cgroup = env.cgroup("a")
    options = []
    for host in range(17):
        options += ["--allow-connect", f"198.51.100.{host + 1}"]

    result = env.mcguard("attach", *options, cgroup, check=False)

    assert result.returncode == 2, result.stderr
    assert cgroup_programs(cgroup) == []


def test_sixteen_entries_accepted(env):
    cgroup = env.cgroup("a")
    options = []
    for host in range(16):
        options += ["--allow-connect", f"198.51.100.{host + 1}"]

    env.mcguard("attach", *options, cgroup)

    assert len(env.status()[env.relative(cgroup)]["allow_connect"]) == 16


def test_attach_own_cgroup_needs_force(env):
    cgroup = env.cgroup("a")
    refused = env.run_guarded(cgroup, env.mcguard_argv("attach", cgroup))
    assert refused.returncode == 2, refused.stderr
    assert cgroup_programs(cgroup) == []

    forced = env.run_guarded(cgroup, env.mcguard_argv("attach", "--force", cgroup))
    assert forced.returncode == 0, forced.stderr
    assert sorted(cgroup_programs(cgroup)) == sorted(MCG_PROGRAMS)


def test_attach_populated_children_needs_force(env):
    parent = env.cgroup("a")
    child = env.cgroup("a/b")
    env.in_guarded(child, ["sleep", "60"])
    _wait_populated(child)

    refused = env.mcguard("attach", parent, check=False)
    assert refused.returncode == 2, refused.stderr
    assert cgroup_programs(parent) == []

    env.mcguard("attach", "--force", parent)
    assert sorted(cgroup_programs(parent)) == sorted(MCG_PROGRAMS)


def _wait_populated(cgroup, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(os.path.join(cgroup, "cgroup.procs"), encoding="ascii") as procs:
            if procs.read().strip():
                return
        time.sleep(0.05)
    raise AssertionError(f"no process joined {cgroup}")


# mcguard run


def run_cgroups(env):
    return sorted(name for name in os.listdir(env.root) if name.startswith("run-"))


def test_run_exit_status(env):
    result = env.mcguard("run", "--parent", env.root, "--", "sh", "-c", "exit 7", check=False)

    assert result.returncode == 7
    assert "mcguard: guarding " + env.relative(env.root) + "/run-" in result.stderr
    assert run_cgroups(env) == []
    assert env.status() == {}


def test_run_guards_command(env):
    probe = [sys.executable, str(mcgtest.PROBE), json.dumps(CONNECT_REMOTE)]
    result = env.run_guarded(None, env.mcguard_argv("run", "--parent", env.root, "--", *probe))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0])["error"] == "EPERM"


def test_run_attach_options(env):
    bind = {"family": "ipv4", "type": "tcp", "action": "bind", "address": "0.0.0.0", "port": 0}
    probe = [sys.executable, str(mcgtest.PROBE), json.dumps(bind)]
    result = env.run_guarded(None, env.mcguard_argv("run", "--wildcard", "loopback",
                                                    "--parent", env.root, "--", *probe))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0])["sockname"][0] == "127.0.0.1"


def test_run_command_in_cgroup(env):
    result = env.mcguard("run", "--parent", env.root, "--", "cat", "/proc/self/cgroup")
    line = [entry for entry in result.stdout.splitlines() if entry.startswith("0::")][0]

    assert line.startswith("0::" + env.relative(env.root) + "/run-")


@pytest.mark.parametrize("failure", ["missing-parent", "pin-root-not-bpffs"])
def test_run_attach_failure(env, tmp_path, failure):
    marker = tmp_path / "started"
    command = ["--", "touch", str(marker)]
    if failure == "missing-parent":
        argv = env.mcguard_argv("run", "--parent", os.path.join(env.root, "missing"), *command)
    else:
        argv = [env.binary, "run", "--pin-root", str(tmp_path), "--parent", env.root, *command]

    result = subprocess.run(argv, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=30, check=False)

    assert result.returncode == 125, result.stderr
    assert not marker.exists()
    assert run_cgroups(env) == []


def test_run_missing_command(env):
    result = env.mcguard("run", "--parent", env.root, "--", "/nonexistent/command", check=False)

    assert result.returncode == 127, result.stderr
    assert "/nonexistent/command" in result.stderr
    assert run_cgroups(env) == []


def test_run_keep(env):
    result = env.mcguard("run", "--parent", env.root, "--keep", "--", "true")
    remaining = run_cgroups(env)

    assert result.returncode == 0
    assert len(remaining) == 1
    assert f"{env.relative(env.root)}/{remaining[0]}" in env.status()


def test_run_daemon_keeps_guard(env):
    daemon = "sleep 60 >/dev/null 2>&1 </dev/null & exit 3"
    result = env.mcguard("run", "--parent", env.root, "--", "sh", "-c", daemon, check=False)
    remaining = run_cgroups(env)

    assert result.returncode == 3
    assert len(remaining) == 1
    assert f"{env.relative(env.root)}/{remaining[0]}" in env.status()
    assert remaining[0] in result.stderr.splitlines()[-1]


SIGNAL_EXIT = textwrap.dedent("""\
    import signal, sys, time
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                   signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(number, lambda received, frame: sys.exit(100 + received))
    print("ready", flush=True)
    # Short sleeps: a signal that lands just before a long sleep starts would
    # wait for the whole sleep, because CPython runs handlers between calls.
    for _ in range(400):
        time.sleep(0.05)
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                                 signal.SIGUSR1, signal.SIGUSR2], ids=lambda sig: sig.name)
def test_run_forwards_signal(env, sig):
    run = env.in_guarded(None, env.mcguard_argv("run", "--parent", env.root, "--",
                                                sys.executable, "-c", SIGNAL_EXIT))
    assert run.stdout.readline().strip() == "ready"

    os.kill(run.pid, sig)

    assert run.wait(timeout=10) == 100 + sig
    assert run_cgroups(env) == []


def test_run_killed_keeps_guard(env):
    run = env.in_guarded(None, env.mcguard_argv("run", "--parent", env.root, "--",
                                                "sh", "-c", "echo ready; exec sleep 60"))
    assert run.stdout.readline().strip() == "ready"

    os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=10)
    cgroups = run_cgroups(env)

    assert len(cgroups) == 1
    assert env.probe(os.path.join(env.root, cgroups[0]), CONNECT_REMOTE)["error"] == "EPERM"
