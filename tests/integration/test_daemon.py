"""mcguard daemon: cgroups guarded as they appear, adoption after a crash,
repairs, reloads, metrics and the systemd notify protocol.

The daemon runs in the guarded network namespace (so its metrics endpoint is
on that namespace's loopback) and matches only cgroups below the test root.
PID 1 here is not systemd, so a NOTIFY_SOCKET listener that the test owns
replaces it.
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from mcgtest import HOOKS, REPO_ROOT, run_daemon_config

BIND_ANY = textwrap.dedent("""\
    import errno, socket, sys, time
    time.sleep(float(sys.argv[1]))
    s = socket.socket()
    try:
        s.bind(("0.0.0.0", 0))
        print("bound")
    except OSError as error:
        print(errno.errorcode[error.errno])
""")


class Daemon:
    """An mcguard daemon started by the test, with its log collected."""

    def __init__(self, env, *args, notify_socket=None, env_extra=None):
        self.env = env
        variables = dict(env_extra or {})
        if notify_socket:
            variables["NOTIFY_SOCKET"] = notify_socket
        extra = {"env": dict(os.environ, **variables)} if variables else {}
        self.process = env.in_guarded(None, env.mcguard_argv("daemon", *args), **extra)
        self.log = []
        self._partial = b""
        self.wait_log("started")

    def read_log(self, timeout):
        """Read what stderr has, without the buffering that would hide lines from select."""
        fd = self.process.stderr.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return None
        data = os.read(fd, 65536)
        if not data:
            return None
        self._partial += data
        *lines, self._partial = self._partial.split(b"\n")
        self.log.extend(line.decode() for line in lines)
        return "\n".join(line.decode() for line in lines)

    def wait_log(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        for line in self.log:
            if text in line:
                return line
        while time.monotonic() < deadline:
            line = self.read_log(max(0.0, deadline - time.monotonic()))
            if line and text in line:
                return line
            if self.process.poll() is not None and not line:
                break
        raise AssertionError(f"daemon did not log {text!r}; log so far: {self.log}")

    def send_signal(self, sig):
        os.kill(self.process.pid, sig)

    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.send_signal(sig)
            self.process.wait(timeout=10)
        while self.read_log(0):
            pass
        return self.process.returncode


@pytest.fixture
def daemons():
    started = []
    yield started
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait(timeout=10)


def start_daemon(env, daemons, *args, **kwargs):
    daemon = Daemon(env, *args, **kwargs)
    daemons.append(daemon)
    return daemon


def bind_in(env, cgroup, delay=0.0):
    result = env.run_guarded(cgroup, [sys.executable, "-c", BIND_ANY, str(delay)])
    return result.stdout.strip()


def test_parent_mode_no_window(env, daemons):
    parent = env.cgroup("catchers")
    start_daemon(env, daemons, "--match", env.relative(parent).lstrip("/"), "--force")

    results = []
    for index in range(40):
        child = env.cgroup(f"catchers/c{index}")
        results.append(bind_in(env, child))

    assert results == ["EPERM"] * 40


def test_new_cgroup_guarded_in_time(env, daemons):
    parent = env.cgroup("catchers")
    daemon = start_daemon(env, daemons, "--match", env.relative(parent).lstrip("/") + "/*")

    immediate, delayed = [], []
    for index in range(20):
        immediate.append(bind_in(env, env.cgroup(f"catchers/now{index}")))
        # A catcher takes tens of milliseconds to start before it binds.
        delayed.append(bind_in(env, env.cgroup(f"catchers/late{index}"), delay=0.03))
    for index in range(20):
        daemon.wait_log(f"/late{index},")
    windows = [float(match.group(1)) for line in daemon.log
               for match in [re.search(r"guarding \S+, ([0-9.]+) ms after", line)] if match]

    print(f"creation-to-guard window over {len(windows)} cgroups: "
          f"median {statistics.median(windows):.2f} ms, max {max(windows):.2f} ms; "
          f"binds at once: {immediate.count('EPERM')} of 20 denied")
    assert delayed == ["EPERM"] * 20
    assert len(windows) == 40, daemon.log
    # Generous: the bound catches a daemon that stopped reacting, not scheduling noise.
    assert max(windows) < 500


def test_killed_daemon_guards_stay_and_adopted(env, daemons):
    cgroup = env.cgroup("svc")
    daemon = start_daemon(env, daemons, "--match", env.relative(cgroup).lstrip("/"))
    daemon.wait_log("guarding")
    generation = env.status()[env.relative(cgroup)]["generation"]

    daemon.stop(signal.SIGKILL)
    assert bind_in(env, cgroup) == "EPERM"

    restarted = start_daemon(env, daemons, "--match", env.relative(cgroup).lstrip("/"))
    status = env.status()[env.relative(cgroup)]

    assert not any("guarding" in line for line in restarted.log)
    assert status["generation"] == generation
    assert status["hooks"] == {hook: "attached" for hook in HOOKS}
    assert bind_in(env, cgroup) == "EPERM"


def test_sigterm_leaves_guards(env, daemons):
    cgroup = env.cgroup("svc")
    daemon = start_daemon(env, daemons, "--match", env.relative(cgroup).lstrip("/"))
    daemon.wait_log("guarding")

    assert daemon.stop() == 0
    assert env.relative(cgroup) in env.status()
    assert bind_in(env, cgroup) == "EPERM"


def test_detach_on_exit(env, daemons):
    cgroup, other = env.cgroup("svc"), env.cgroup("other")
    env.mcguard("attach", other)
    daemon = start_daemon(env, daemons, "--match", env.relative(cgroup).lstrip("/"),
                          "--detach-on-exit")
    daemon.wait_log("guarding")

    daemon.stop()

    assert list(env.status()) == [env.relative(other)]
    assert bind_in(env, cgroup) == "bound"


def test_removed_link_repaired(env, daemons):
    cgroup = env.cgroup("svc")
    daemon = start_daemon(env, daemons, "--match", env.relative(cgroup).lstrip("/"),
                          "--reconcile", "1")
    daemon.wait_log("guarding")
    show = subprocess.run(["bpftool", "link", "show", "-j"], capture_output=True, text=True,
                          check=True)
    cgroup_id = os.stat(cgroup).st_ino
    link = next(item for item in json.loads(show.stdout)
                if item.get("cgroup_id") == cgroup_id and item.get("attach_type")
                == "cgroup_inet4_connect")

    subprocess.run(["bpftool", "link", "detach", "id", str(link["id"])], check=True)
    daemon.wait_log("repaired the guard", timeout=5)

    assert env.status()[env.relative(cgroup)]["hooks"]["connect4"] == "attached"


def write_config(path, text):
    with open(path, "w", encoding="utf-8") as config:
        config.write(textwrap.dedent(text))


def test_reload_bad_config_keeps_old(env, daemons, tmp_path):
    first, second = env.cgroup("first"), env.cgroup("second")
    config = tmp_path / "mcguard.conf"
    write_config(config, f"""\
        pin_root = "{env.pin_root}";
        guards = ( {{ match = "{env.relative(first).lstrip('/')}"; wildcard = "loopback"; }} );
    """)
    daemon = start_daemon(env, daemons, "--config", str(config))
    daemon.wait_log("guarding")

    write_config(config, f"""\
        guards = ( {{ match = "{env.relative(second).lstrip('/')}"; colour = "red"; }} );
    """)
    daemon.send_signal(signal.SIGHUP)
    daemon.wait_log("reload failed")
    error = next(line for line in daemon.log if "unknown key" in line)

    assert f"{config}:1: unknown key \"colour\" in guard 1" in error
    assert list(env.status()) == [env.relative(first)]

    write_config(config, f"""\
        guards = ( {{ match = "{env.relative(second).lstrip('/')}"; }} );
    """)
    daemon.send_signal(signal.SIGHUP)
    daemon.wait_log("reloaded the configuration")

    assert sorted(env.status()) == sorted([env.relative(first), env.relative(second)])


@pytest.mark.parametrize("text, message", [
    ('guards = ( { match = "a"; colour = "red"; } );', ':1: unknown key "colour" in guard 1'),
    ('speed = 3;', ':1: unknown key "speed" in the file'),
    ('guards = ( { mode = "audit"; } );', 'needs exactly one of "match"'),
    ('guards = ( { match = "a"; mode = "strict"; } );', ':1: invalid mode "strict"'),
    ('guards = (\n { match = "a";\n allow_bind = [ "192.0.2.1/24" ]; } );', ':3: invalid allow_bind'),
    ('guards = ( { match = "/"; } );', 'would guard the cgroup2 root'),
    ('reconcile_interval = 0;', 'reconcile_interval must be'),
    ('guards = ( { match = "a" ', 'syntax error'),
])
def test_config_errors_name_line(env, tmp_path, text, message):
    config = tmp_path / "bad.conf"

    result = run_daemon_config(env.binary, config, text)

    assert result.returncode == 2
    assert message in result.stderr
    assert str(config) in result.stderr


def test_example_config_parses(env, tmp_path):
    example = os.path.join(REPO_ROOT, "deploy", "mcguard.conf")
    config = tmp_path / "mcguard.conf"
    text = open(example, encoding="utf-8").read()
    config.write_text(text.replace('pin_root = "/sys/fs/bpf/mcguard";',
                                   f'pin_root = "{env.pin_root}";'))

    result = subprocess.run(["timeout", "-s", "TERM", "3", env.binary, "daemon", "--config",
                             str(config)], capture_output=True, text=True)

    assert "started: 3 guard rules" in result.stderr, result.stderr


def metrics_text(env, port):
    result = env.run_guarded(None, ["curl", "-sf", f"http://127.0.0.1:{port}/metrics"])
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_metrics_match_status(env, daemons):
    cgroup = env.cgroup("svc")
    daemon = start_daemon(env, daemons, "--match", env.relative(cgroup).lstrip("/"),
                          "--metrics", "127.0.0.1:9464", "--reconcile", "1")
    daemon.wait_log("guarding")
    for _ in range(3):
        bind_in(env, cgroup)
    time.sleep(1.5)

    text = metrics_text(env, 9464)
    counters = env.status()[env.relative(cgroup)]["counters"]
    label = env.relative(cgroup)

    assert f'mcguard_decisions_total{{cgroup="{label}",hook="bind4",verdict="denied"}} ' \
           f'{counters["bind4"]["denied"]}' in text
    assert counters["bind4"]["denied"] == 3
    assert "mcguard_guards 1" in text
    assert "mcguard_attach_failures_total 0" in text
    assert "mcguard_guard_window_seconds_count" in text


def mapped_libraries(pid):
    """Return the file names of the shared objects that process pid maps."""
    names = set()
    with open(f"/proc/{pid}/maps", encoding="utf-8") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and ".so" in fields[5]:
                names.add(os.path.basename(fields[5]))
    return names


def maps_library(names, prefix):
    return any(name.startswith(prefix) for name in names)


def test_mode_libraries_loaded_on_demand(env, daemons):
    cgroup = env.cgroup("svc")
    match = env.relative(cgroup).lstrip("/")
    plain = start_daemon(env, daemons, "--match", match)
    plain_libraries = mapped_libraries(plain.process.pid)
    assert plain.stop() == 0
    with_metrics = start_daemon(env, daemons, "--match", match, "--metrics", "127.0.0.1:9464")
    metrics_libraries = mapped_libraries(with_metrics.process.pid)
    metrics_text(env, 9464)

    assert maps_library(plain_libraries, "libbpf")
    assert not maps_library(plain_libraries, "libmicrohttpd")
    assert not maps_library(plain_libraries, "libcurl")
    assert not maps_library(plain_libraries, "libsystemd")
    assert maps_library(metrics_libraries, "libmicrohttpd")
    assert not maps_library(metrics_libraries, "libcurl")


def test_notify_protocol(env, daemons, tmp_path):
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(10)
    cgroup = env.cgroup("svc")
    try:
        daemon = start_daemon(env, daemons, "--match", env.relative(cgroup).lstrip("/"),
                              notify_socket=path)
        ready = listener.recv(4096).decode()
        daemon.send_signal(signal.SIGHUP)
        reloading = listener.recv(4096).decode()
        ready_again = listener.recv(4096).decode()
        daemon.send_signal(signal.SIGTERM)
        stopping = listener.recv(4096).decode()
    finally:
        listener.close()

    assert "READY=1" in ready
    assert "RELOADING=1" in reloading
    assert "MONOTONIC_USEC=" in reloading
    assert "READY=1" in ready_again
    assert "STOPPING=1" in stopping


def test_events_streamed_and_folded(env, daemons):
    cgroup = env.cgroup("svc")
    daemon = start_daemon(env, daemons, "--match", env.relative(cgroup).lstrip("/"), "--json")
    daemon.wait_log("guarding")

    env.probe(cgroup, {"family": "ipv4", "type": "tcp", "action": "bind",
                       "address": "0.0.0.0", "port": 2500, "count": 50})
    time.sleep(1.5)
    daemon.stop()
    records = [json.loads(line) for line in daemon.process.stdout.read().splitlines()]
    events = [record for record in records if record["type"] == "event"]
    folded = [record for record in records if record["type"] == "folded"]

    assert len(events) >= 1
    assert events[0]["verdict"] == "denied"
    assert len(events) + sum(record["repeats"] for record in folded) == 50


def test_unit_file_verifies(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "mcguard.service"
    binary = os.path.join(REPO_ROOT, ".output", "mcguard")
    text = open(os.path.join(REPO_ROOT, "deploy", "systemd", "mcguard.service"),
                encoding="utf-8").read()
    unit.write_text(text.replace("/usr/local/sbin/mcguard", binary))

    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                            capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_journal_priority_prefixes(env, tmp_path):
    cgroup = env.cgroup("svc")
    log_path = tmp_path / "stderr.log"
    with open(log_path, "w", encoding="utf-8") as log:
        stat = os.fstat(log.fileno())
        journal = dict(os.environ, JOURNAL_STREAM=f"{stat.st_dev}:{stat.st_ino}")
        daemon = env.in_guarded(None, env.mcguard_argv(
            "daemon", "--match", env.relative(cgroup).lstrip("/")), stderr=log, env=journal)
        try:
            deadline = time.monotonic() + 10
            while "guarding" not in log_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            os.kill(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=10)
    lines = log_path.read_text().splitlines()

    assert any(line.startswith("<6>mcguard: started") for line in lines), lines
    assert any(line.startswith("<6>mcguard: guarding") for line in lines)


def test_container_rule_matches_name(env, daemons, tmp_path):
    from test_verify import docker_inspect

    matching, other = "ab" * 32, "cd" * 32
    documents = {matching: docker_inspect(matching, 0, [], name="/mailpit-dev"),
                 other: docker_inspect(other, 0, [], name="/postgres")}
    for container_id, document in documents.items():
        (tmp_path / f"{container_id}.json").write_text(json.dumps(document))
    # A stand-in docker CLI: no engine runs here.
    docker = tmp_path / "docker"
    docker.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        [ "$1 $2 $3" = "container inspect --" ] || exit 64
        [ -f "{tmp_path}/$4.json" ] || {{ echo "Error: No such container: $4" >&2; exit 1; }}
        cat "{tmp_path}/$4.json"
    """))
    docker.chmod(0o755)
    config = tmp_path / "mcguard.conf"
    config.write_text('guards = ( { container = "mailpit*"; wildcard = "loopback"; } );\n')
    path = f"{tmp_path}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    daemon = Daemon(env, "--config", str(config), env_extra={"PATH": path})
    daemons.append(daemon)

    guarded = env.cgroup(f"system.slice/docker-{matching}.scope")
    unguarded = env.cgroup(f"system.slice/docker-{other}.scope")
    daemon.wait_log(f"docker-{matching}.scope")
    time.sleep(0.5)
    status = env.status()

    assert status[env.relative(guarded)]["wildcard"] == "loopback"
    assert env.relative(unguarded) not in status
