"""Hardening: malformed input changes nothing, a crash at any step of an
attach leaves a state that is whole or repairable, repeated cycles leak
nothing, and pins are private to root."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest

from mcgtest import HOOKS, REPO_ROOT, REMOTE_V4

FAULTS_BINARY = os.path.join(REPO_ROOT, ".output", "mcguard-faults")
CONNECT_REMOTE = {"family": "ipv4", "type": "tcp", "action": "connect",
                  "address": REMOTE_V4, "port": 25}


def state_snapshot(env):
    """What a failed command must not change: pins, cgroups and attached programs."""
    pins = sorted(os.path.relpath(os.path.join(root, name), env.pin_root)
                  for root, dirs, files in os.walk(env.pin_root) for name in dirs + files)
    cgroups = sorted(root for root, _, _ in os.walk(env.root))
    programs = subprocess.run(["bpftool", "cgroup", "tree", env.root], capture_output=True,
                              text=True).stdout
    return pins, cgroups, programs


# Each row: argv with {cg} for a test cgroup, {root} for the test root, {mount}
# for the cgroup2 mount, {file} for a regular file, {link} for a symlink out of
# the tree, {conf} for a config file holding the row's text; the exit code;
# a fragment the one error line must contain.
LONG = "x" * 5000
BAD_INPUTS = [
    ("no-command", [], 2, "Usage: mcguard"),
    ("unknown-command", ["guard"], 2, 'unknown command "guard"'),
    ("unknown-option", ["attach", "--frobnicate", "{cg}"], 2, "invalid option --frobnicate"),
    ("short-unknown", ["status", "-q"], 2, "invalid option -q"),
    ("missing-value", ["attach", "{cg}", "--mode"], 2, "option --mode needs a value"),
    ("flag-with-value", ["status", "--json=yes"], 2, "option --json=yes takes no value"),
    ("misplaced-option", ["status", "--wildcard", "loopback"], 2,
     "option --wildcard does not apply to 'mcguard status'"),
    ("attach-no-cgroup", ["attach"], 2, "takes exactly one CGROUP (got 0)"),
    ("attach-two-cgroups", ["attach", "{cg}", "{cg}"], 2, "takes exactly one CGROUP (got 2)"),
    ("detach-both", ["detach", "--all", "{cg}"], 2, "either CGROUP or --all"),
    ("status-two", ["status", "{cg}", "{cg}"], 2, "at most one CGROUP"),
    ("events-two", ["events", "{cg}", "{cg}"], 2, "at most one CGROUP"),
    ("scan-two", ["scan", "{cg}", "{cg}"], 2, "at most one CGROUP"),
    ("daemon-operand", ["daemon", "--match", "x", "{cg}"], 2, "takes no operands"),
    ("mode", ["attach", "--mode", "permissive", "{cg}"], 2, 'invalid --mode "permissive"'),
    ("wildcard", ["attach", "--wildcard", "allow", "{cg}"], 2, 'invalid --wildcard "allow"'),
    ("wildcard6", ["attach", "--wildcard6", "v4", "{cg}"], 2, 'invalid --wildcard6 "v4"'),
    ("pin-root-relative", ["status", "--pin-root", "bpf/x"], 2, 'invalid --pin-root "bpf/x"'),
    ("reconcile-zero", ["daemon", "--reconcile", "0", "--match", "x"], 2,
     'invalid --reconcile "0"'),
    ("reconcile-word", ["daemon", "--reconcile", "soon", "--match", "x"], 2,
     'invalid --reconcile "soon"'),
    ("spec-empty", ["attach", "--allow-connect", "", "{cg}"], 2, "empty allow-list entry"),
    ("spec-proto-only", ["attach", "--allow-connect", "tcp:", "{cg}"], 2, 'invalid --allow-connect "tcp:"'),
    ("spec-proto", ["attach", "--allow-connect", "sctp:192.0.2.1", "{cg}"], 2, "sctp:192.0.2.1"),
    ("spec-prefix", ["attach", "--allow-connect", "192.0.2.0/33", "{cg}"], 2, "expected 0 to 32"),
    ("spec-host-bits", ["attach", "--allow-bind", "192.0.2.1/24", "{cg}"], 2,
     "write the network address"),
    ("spec-port", ["attach", "--allow-connect", "192.0.2.1:65536", "{cg}"], 2, "0 to 65535"),
    ("spec-range", ["attach", "--allow-connect", "192.0.2.1:90-80", "{cg}"], 2,
     "the first port is larger"),
    ("spec-bracket", ["attach", "--allow-connect", "[2001:db8::1", "{cg}"], 2, 'missing "]"'),
    ("spec-prefix-outside", ["attach", "--allow-connect", "tcp:[2001:db8::]/32:587", "{cg}"], 2,
     "prefix goes inside the brackets"),
    ("spec-hostname", ["attach", "--allow-connect", "smtp.example.org", "{cg}"], 2,
     'invalid address "smtp.example.org"'),
    ("spec-mapped-mix", ["attach", "--allow-connect", "::ffff:192.0.2.0/64", "{cg}"], 2,
     "mixes IPv4-mapped"),
    ("spec-too-many", ["attach"] + ["--allow-connect=192.0.2.1"] * 17 + ["{cg}"], 2,
     "at most 16"),
    ("cgroup-missing", ["attach", "{root}/nonexistent"], 2, "No such file or directory"),
    ("cgroup-dotdot-root", ["attach", "{root}/.."], 2, "cgroup2 root"),
    ("cgroup-relative-escape", ["attach", "../../../../../../etc"], 2, "not a cgroup v2 directory"),
    ("cgroup-symlink-out", ["attach", "{link}"], 2, "not a cgroup v2 directory"),
    ("cgroup-file", ["attach", "{root}/cgroup.procs"], 2, "not a directory"),
    ("cgroup-root", ["attach", "{mount}"], 2, "cgroup2 root"),
    ("cgroup-slash", ["attach", "/"], 2, "not a cgroup v2 directory"),
    ("cgroup-too-long", ["attach", LONG], 2, "longer than"),
    ("cgroup-not-utf8", ["attach", b"caf\xe9-\xff"], 2, "No such file or directory"),
    ("config-unknown-key", ["daemon", "--config", "{conf}"], 2, 'unknown key "colour"'),
    ("config-bad-value", ["daemon", "--config", "{conf}"], 2, 'invalid wildcard "everywhere"'),
    ("config-syntax", ["daemon", "--config", "{conf}"], 2, "syntax error"),
    ("config-missing", ["daemon", "--config", "{root}/absent.conf"], 2, "cannot read the file"),
    ("config-root-match", ["daemon", "--config", "{conf}"], 2, "would guard the cgroup2 root"),
    ("config-bad-spec", ["daemon", "--config", "{conf}"], 2, 'invalid allow_connect "tcp:"'),
]

CONFIG_TEXT = {
    "config-unknown-key": 'guards = ( { match = "a"; colour = "red"; } );',
    "config-bad-value": 'guards = ( { match = "a"; wildcard = "everywhere"; } );',
    "config-syntax": 'guards = ( { match = "a" ',
    "config-root-match": 'guards = ( { match = "/"; } );',
    "config-bad-spec": 'guards = ( { match = "a"; allow_connect = [ "tcp:" ]; } );',
}


def expand(env, argv, case, tmp_path):
    cgroup = env.cgroup("a")
    values = {"{cg}": cgroup, "{root}": env.root, "{mount}": os.path.dirname(env.root)}
    if any(isinstance(arg, str) and "{link}" in arg for arg in argv):
        link = tmp_path / "outside"
        link.symlink_to("/etc")
        values["{link}"] = str(link)
    if case in CONFIG_TEXT:
        config = tmp_path / "bad.conf"
        config.write_text(CONFIG_TEXT[case] + "\n")
        values["{conf}"] = str(config)
    expanded = []
    for arg in argv:
        if isinstance(arg, str):
            for key, value in values.items():
                arg = arg.replace(key, value)
        expanded.append(arg)
    return expanded


@pytest.mark.parametrize("case, argv, code, fragment", BAD_INPUTS,
                         ids=[row[0] for row in BAD_INPUTS])
def test_bad_input_changes_nothing(env, tmp_path, case, argv, code, fragment):
    argv = expand(env, argv, case, tmp_path)
    before = state_snapshot(env)

    # The test's pin root goes right after the command, so no later option takes it as a value.
    if argv and argv[0] in ("attach", "detach", "daemon"):
        argv = [argv[0], "--pin-root", env.pin_root] + argv[1:]
    result = subprocess.run([env.binary.encode()] + [
        arg if isinstance(arg, bytes) else arg.encode() for arg in argv],
        capture_output=True, timeout=20)
    stderr = result.stderr.decode(errors="replace")

    assert result.returncode == code, stderr
    assert fragment in stderr
    assert stderr.startswith("mcguard: error: ") or fragment.startswith("Usage")
    assert state_snapshot(env) == before


def test_bad_input_table_size():
    assert len(BAD_INPUTS) >= 40


# A crash at every step of an attach and of a policy update.

def fault_steps(env, *args):
    result = subprocess.run([FAULTS_BINARY, *args, "--pin-root", env.pin_root],
                            capture_output=True, text=True,
                            env=dict(os.environ, MCG_FAULT_REPORT="1"))
    assert result.returncode == 0, result.stderr
    return int(result.stderr.split("fault injection: ")[1].split()[0])


def guard_state(env, cgroup):
    """The guard of cgroup after a crash, once the next mcguard command has cleaned up."""
    status = env.status().get(env.relative(cgroup))
    show = subprocess.run(["bpftool", "cgroup", "show", cgroup], capture_output=True,
                          text=True).stdout
    return status, show


def assert_whole_or_absent(env, cgroup, allowed_modes):
    status, show = guard_state(env, cgroup)
    if status is None:
        assert "mcg_" not in show, show
        # Unguarded, the connect reaches the peer, where nothing listens on that port.
        assert env.probe(cgroup, CONNECT_REMOTE)["error"] == "ECONNREFUSED"
        return "absent"
    assert status["hooks"] == {hook: "attached" for hook in HOOKS}, status
    assert status["mode"] in allowed_modes
    result = env.probe(cgroup, CONNECT_REMOTE)
    if status["mode"] == "enforce":
        assert result["error"] == "EPERM", result
    else:
        assert result["error"] != "EPERM", result
    return status["mode"]


@pytest.fixture
def faults_binary():
    if not os.path.exists(FAULTS_BINARY):
        pytest.fail(f"{FAULTS_BINARY} is missing: build it with make check")
    return FAULTS_BINARY


def test_crash_at_every_attach_step(env, faults_binary):
    cgroup = env.cgroup("a")
    steps = fault_steps(env, "attach", cgroup)
    env.mcguard("detach", "--all")
    outcomes = []

    for step in range(1, steps + 1):
        result = subprocess.run([faults_binary, "attach", cgroup, "--pin-root", env.pin_root],
                                capture_output=True, text=True,
                                env=dict(os.environ, MCG_FAULT_STEP=str(step)))
        assert result.returncode == -signal.SIGKILL, (step, result.stderr)
        outcomes.append(assert_whole_or_absent(env, cgroup, {"enforce"}))
        # The next attach repairs whatever the crash left.
        env.mcguard("attach", cgroup)
        assert assert_whole_or_absent(env, cgroup, {"enforce"}) == "enforce"
        env.mcguard("detach", "--all")

    print(f"attach: {steps} steps, outcomes after a crash: "
          f"{outcomes.count('absent')} not guarded, {outcomes.count('enforce')} guarded")
    assert steps >= 20


def test_crash_during_policy_update(env, faults_binary):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)
    steps = fault_steps(env, "attach", "--mode", "audit", cgroup)
    env.mcguard("attach", "--mode", "enforce", cgroup)

    for step in range(1, steps + 1):
        result = subprocess.run([faults_binary, "attach", "--mode", "audit", cgroup,
                                 "--pin-root", env.pin_root], capture_output=True, text=True,
                                env=dict(os.environ, MCG_FAULT_STEP=str(step)))
        assert result.returncode == -signal.SIGKILL, (step, result.stderr)
        assert assert_whole_or_absent(env, cgroup, {"enforce"}) == "enforce"

    env.mcguard("attach", "--mode", "audit", cgroup)
    assert assert_whole_or_absent(env, cgroup, {"audit"}) == "audit"


def test_daemon_crash_at_every_step(env, faults_binary):
    cgroup = env.cgroup("svc")
    match = env.relative(cgroup).lstrip("/")
    steps = fault_steps(env, "attach", cgroup)
    env.mcguard("detach", "--all")

    for step in range(1, steps + 1, 3):
        daemon = subprocess.Popen([faults_binary, "daemon", "--match", match, "--pin-root",
                                   env.pin_root], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, MCG_FAULT_STEP=str(step)))
        try:
            assert daemon.wait(timeout=20) == -signal.SIGKILL
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
        assert_whole_or_absent(env, cgroup, {"enforce"})

        # A restarted daemon completes the guard.
        restarted = subprocess.Popen([env.binary, "daemon", "--match", match, "--pin-root",
                                      env.pin_root], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while env.relative(cgroup) not in env.status() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            restarted.send_signal(signal.SIGTERM)
            restarted.wait(timeout=10)
        assert assert_whole_or_absent(env, cgroup, {"enforce"}) == "enforce"
        env.mcguard("detach", "--all")


# Many cycles leave nothing behind.

SOAK_CYCLES = int(os.environ.get("SOAK_CYCLES", "500"))


def bpf_objects(env):
    """Counts of what the guards own: pins, links and programs of this pin root."""
    pins = sum(len(files) for _, _, files in os.walk(env.pin_root))
    links = json.loads(subprocess.run(["bpftool", "link", "show", "-j"], capture_output=True,
                                      text=True, check=True).stdout or "[]")
    programs = set()
    for name in os.listdir(os.path.join(env.pin_root, "v1")):
        if name.startswith("mcg_") and name not in ("mcg_policy", "mcg_counters", "mcg_events"):
            info = subprocess.run(["bpftool", "prog", "show", "pinned",
                                   os.path.join(env.pin_root, "v1", name), "-j"],
                                  capture_output=True, text=True, check=True)
            programs.add(json.loads(info.stdout)["id"])
    our_links = [link for link in links if link.get("prog_id") in programs]
    return {"pins": pins, "links": len(our_links), "programs": len(programs)}


def test_soak_attach_detach_cycles(env):
    anchor = env.cgroup("anchor")
    env.mcguard("attach", anchor)
    before = bpf_objects(env)

    for cycle in range(SOAK_CYCLES):
        cgroup = env.cgroup(f"c{cycle}")
        env.mcguard("attach", cgroup)
        env.mcguard("detach", cgroup)
        os.rmdir(cgroup)
    after = bpf_objects(env)

    print(f"soak: {SOAK_CYCLES} attach/detach cycles, before {before}, after {after}")
    assert after == before


def other_cgroup_inodes(env):
    """Return the inode numbers of the cgroups outside the test root."""
    inodes = set()
    for top, dirs, _ in os.walk(env.mount):
        if top == env.root:
            dirs.clear()
            continue
        inodes.add(os.stat(top).st_ino)
    return inodes


def daemon_counts(env, pid):
    """Count the daemon's descriptors, and its inotify watches on the test's own cgroups.

    The daemon watches every cgroup of the tree, and other work on the host
    may add or remove cgroups meanwhile, so watches on those are not counted.
    """
    others = other_cgroup_inodes(env)
    fds = os.listdir(f"/proc/{pid}/fd")
    watches = 0
    for fd in fds:
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}", encoding="utf-8") as info:
                for line in info:
                    if not line.startswith("inotify wd:"):
                        continue
                    # "inotify wd:3 ino:1a2b sdev:..." with the inode number in hex.
                    inode = int(line.split(" ino:")[1].split()[0], 16)
                    watches += inode not in others
        except OSError:
            pass
    return {"fds": len(fds), "watches": watches}


def test_soak_daemon_watch_cycles(env):
    parent = env.cgroup("catchers")
    match = env.relative(parent).lstrip("/") + "/*"
    daemon = subprocess.Popen([env.binary, "daemon", "--match", match, "--pin-root",
                               env.pin_root], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    cycles = max(SOAK_CYCLES // 5, 20)
    try:
        time.sleep(0.5)
        before = daemon_counts(env, daemon.pid)
        for cycle in range(cycles):
            path = env.cgroup(f"catchers/c{cycle}")
            deadline = time.monotonic() + 5
            while env.relative(path) not in env.status() and time.monotonic() < deadline:
                time.sleep(0.01)
            os.rmdir(path)
        guards_dir = os.path.join(env.pin_root, "v1", "guards")
        deadline = time.monotonic() + 5
        while os.listdir(guards_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        after = daemon_counts(env, daemon.pid)
        pins_left = len(os.listdir(guards_dir))
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=10)

    print(f"daemon soak: {cycles} cgroup cycles, before {before}, after {after}")
    assert after == before
    assert pins_left == 0


# Privileges.

def test_pins_private_to_root(env):
    env.mcguard("attach", env.cgroup("a"))

    for root, dirs, files in os.walk(env.pin_root):
        for name in dirs + files:
            mode = os.stat(os.path.join(root, name)).st_mode
            assert not mode & (stat.S_IWGRP | stat.S_IWOTH), (name, oct(mode))
            if name in dirs:
                assert stat.S_IMODE(mode) == 0o700, (name, oct(mode))
            assert os.stat(os.path.join(root, name)).st_uid == 0


@pytest.mark.parametrize("command", ["attach", "detach", "status", "scan"])
def test_non_root_rejected(env, command):
    cgroup = env.cgroup("a")
    result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             env.binary, command, cgroup, "--pin-root", env.pin_root],
                            capture_output=True, text=True)

    assert result.returncode == 1
    assert f"'mcguard {command}' must run as root" in result.stderr


# Memory: no leaks in the CLI commands under valgrind memcheck.

@pytest.mark.parametrize("argv", [
    ["attach", "--wildcard", "loopback", "--allow-connect", "tcp:192.0.2.1:25", "{cg}"],
    ["attach", "{cg}"],
    ["status"],
    ["status", "--json", "{cg}"],
    ["scan", "--json"],
    ["detach", "{cg}"],
    ["attach", "--mode", "bogus", "{cg}"],
    ["detach", "--all"],
], ids=["attach-policy", "attach-repair", "status", "status-json", "scan", "detach",
        "bad-option", "detach-all"])
def test_valgrind_no_leaks(env, argv):
    if not shutil.which("valgrind"):
        pytest.fail("valgrind is missing: tests/deps.sh installs it")
    cgroup = env.cgroup("a")
    if argv[0] != "attach":
        env.mcguard("attach", cgroup)
    argv = [cgroup if arg == "{cg}" else arg for arg in argv]

    # Valgrind's model of bpf(2) flags attribute fields that the kernel ignores
    # for the command at hand, so only leaks and invalid accesses count here.
    result = subprocess.run(["valgrind", "-q", "--undef-value-errors=no", "--leak-check=full",
                             "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
                             env.binary, argv[0], "--pin-root", env.pin_root, *argv[1:]],
                            capture_output=True, text=True, timeout=120)

    assert result.returncode != 99, result.stderr
    assert "definitely lost" not in result.stderr
    assert "Invalid read" not in result.stderr
    assert "Invalid write" not in result.stderr
