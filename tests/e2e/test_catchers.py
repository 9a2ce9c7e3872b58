"""End-to-end runs of real mail catchers under `mcguard run`.

MailDev comes from the project-local npm prefix that `make deps` fills, or
from the MAILDEV environment variable. aiosmtpd comes from Debian's
python3-aiosmtpd. Each catcher starts with wildcard binds in the guarded
namespace of a TestEnv, under `mcguard run --parent` on the test root cgroup.

- Default policy: the wildcard bind fails with EPERM, the catcher exits with
  its own failure status, and a "denied" event names the hook, the catcher's
  pid and its comm.
- --wildcard loopback: the binds are rewritten to loopback, swaks delivers a
  mail over loopback, MailDev's HTTP API returns it, and the peer namespace
  reaches none of the catcher's ports while it does reach an unguarded
  control listener.
- A catcher that leaves its starter behind stays guarded after `run` exits.
"""

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import pytest

import mcgtest

PYTHON = "/usr/bin/python3"
MAILDEV = Path(os.environ.get(
    "MAILDEV", mcgtest.REPO_ROOT / ".output" / "npm" / "node_modules" / ".bin" / "maildev"))
CONTROL_PORT = 8080
START_TIMEOUT = 30
STOP_TIMEOUT = 15

# The catcher's shell wrapper writes its own pid, which exec keeps for the catcher.
PIDFILE_WRAPPER = 'echo $$ > "$0" && exec "$@"'


class Bind(NamedTuple):
    """One wildcard bind a catcher makes."""

    hook: str
    address: str
    v6only: bool = False


@dataclass(frozen=True)
class Catcher:
    """A mail catcher started with wildcard binds, and the binds it makes."""

    name: str
    argv: tuple
    comm: str
    smtp_port: int
    # Returns {port: Bind}. A function because MailDev's binds depend on its version.
    binds: Callable[[], dict]
    web_port: int = 0

    @property
    def ports(self):
        return tuple(sorted(self.binds()))


@functools.lru_cache(maxsize=None)
def maildev_major():
    """Return the major version of the MailDev at MAILDEV."""
    result = subprocess.run([str(MAILDEV), "--version"], check=True, timeout=30, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return int(result.stdout.strip().split(".")[0])


def maildev_binds():
    # Defaults read from the packages: MailDev 3.0.0 binds SMTP to "::" and the
    # web server to 0.0.0.0. MailDev 2.2.1 binds both to "::". Node leaves
    # IPV6_V6ONLY off, so "::" is dual-stack.
    if maildev_major() >= 3:
        return {1025: Bind("bind6", "::"), 1080: Bind("bind4", "0.0.0.0")}
    return {1025: Bind("bind6", "::"), 1080: Bind("bind6", "::")}


MAILDEV_CATCHER = Catcher(
    name="maildev",
    argv=(str(MAILDEV),),
    comm="node",
    smtp_port=1025,
    web_port=1080,
    binds=maildev_binds,
)
AIOSMTPD_V4 = Catcher(
    name="aiosmtpd-ipv4",
    argv=(PYTHON, "-m", "aiosmtpd", "-n", "-l", "0.0.0.0:8025"),
    comm="python3",
    smtp_port=8025,
    binds=lambda: {8025: Bind("bind4", "0.0.0.0")},
)
# aiosmtpd splits -l at the last colon, so ":::8025" means host "::". asyncio's
# create_server sets IPV6_V6ONLY on every AF_INET6 listener.
AIOSMTPD_V6 = Catcher(
    name="aiosmtpd-ipv6",
    argv=(PYTHON, "-m", "aiosmtpd", "-n", "-l", ":::8025"),
    comm="python3",
    smtp_port=8025,
    binds=lambda: {8025: Bind("bind6", "::", v6only=True)},
)


def rewritten_address(bind, wildcard6):
    """Return the loopback address that --wildcard loopback gives a wildcard bind."""
    if bind.hook == "bind4":
        return "127.0.0.1"
    if bind.address.startswith("::ffff:"):
        return "::ffff:127.0.0.1"
    if wildcard6 == "ipv6" or bind.v6only:
        return "::1"
    return "::ffff:127.0.0.1"


def client_address(bound):
    """Return the address a client connects to for a listener bound to a loopback address."""
    return "::1" if bound == "::1" else "127.0.0.1"


def other_loopback(address):
    return "127.0.0.1" if address == "::1" else "::1"


# (test id, catcher, --wildcard6 value)
LOOPBACK_CASES = [
    ("maildev-mapped", MAILDEV_CATCHER, "mapped"),
    ("maildev-ipv6", MAILDEV_CATCHER, "ipv6"),
    ("aiosmtpd-ipv4", AIOSMTPD_V4, "mapped"),
    ("aiosmtpd-ipv6", AIOSMTPD_V6, "mapped"),
]


def _unavailable(reason):
    """Skip the test, or fail it under CI=true, where a skipped guard test is not a pass."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def _require_tools(catcher):
    for tool in ("swaks", "nmap", "ss"):
        if shutil.which(tool) is None:
            _unavailable(f"{tool} not found in PATH: install the dependencies with make deps")
    if catcher is MAILDEV_CATCHER:
        if not os.access(MAILDEV, os.X_OK):
            _unavailable(f"{MAILDEV} not found: install MailDev with make deps")
        if shutil.which("curl") is None:
            _unavailable("curl not found in PATH: install the dependencies with make deps")
    else:
        check = subprocess.run([PYTHON, "-c", "import aiosmtpd"], check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if check.returncode != 0:
            _unavailable(f"{PYTHON} cannot import aiosmtpd: install python3-aiosmtpd")


class GuardedCatcher:
    """A catcher started under `mcguard run` in the guarded namespace of env.

    Its output, with mcguard's own messages, goes to a log file, which can be
    read while it runs. pid() returns the catcher's pid once it has started.
    """

    def __init__(self, env, tmp_path, catcher, options=()):
        self.env = env
        self.catcher = catcher
        self.log_path = tmp_path / f"{catcher.name}.log"
        self.pid_path = tmp_path / f"{catcher.name}.pid"
        work_dir = tmp_path / catcher.name
        work_dir.mkdir()
        argv = ([env.binary, "run", "--pin-root", env.pin_root, "--parent", env.root,
                 *options, "--", "sh", "-c", PIDFILE_WRAPPER, str(self.pid_path)]
                + list(catcher.argv))
        with open(self.log_path, "w", encoding="utf-8") as log:
            # Unbuffered, so aiosmtpd's printed mails reach the log before a SIGTERM.
            self.process = env.in_guarded(
                None, argv, stdout=log, stderr=subprocess.STDOUT, cwd=work_dir,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        # nsenter execs mcguard, so this is the pid in the name of the run cgroup.
        self.run_cgroup = os.path.join(env.root, f"run-{self.process.pid}")

    def output(self):
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def pid(self, timeout=10):
        """Return the catcher's pid, waiting up to timeout seconds for the wrapper to write it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.pid_path.read_text(encoding="ascii") if self.pid_path.exists() else ""
            if text.endswith("\n"):
                return int(text)
            time.sleep(0.05)
        raise AssertionError(f"{self.catcher.name} never started; output:\n{self.output()}")

    def wait(self, timeout):
        """Wait for `mcguard run` to exit and return its status."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"mcguard run with {self.catcher.name} still running after "
                                 f"{timeout} s; output:\n{self.output()}") from None

    def wait_for_listeners(self):
        """Wait until every port of the catcher has a TCP listener in the guarded namespace."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.catcher.name} exited with {self.process.returncode} "
                                     f"before listening; output:\n{self.output()}")
            if all(listener_addresses(self.env, port) for port in self.catcher.ports):
                return
            time.sleep(0.2)
        raise AssertionError(f"{self.catcher.name} not listening on {self.catcher.ports} after "
                             f"{START_TIMEOUT} s; output:\n{self.output()}")

    def stop(self):
        """Send SIGTERM to `mcguard run`, which forwards it, and return run's exit status."""
        os.kill(self.process.pid, signal.SIGTERM)
        return self.wait(STOP_TIMEOUT)


def listener_addresses(env, port):
    """Return the local addresses of the TCP listeners on port in the guarded namespace."""
    result = env.run_guarded(None, ["ss", "-Htln", f"sport = :{port}"], timeout=10)
    addresses = []
    for line in result.stdout.splitlines():
        local = line.split()[3]
        # ss prints "[::1]%lo:8025" for a socket held to the loopback device.
        address = local.rsplit(":", 1)[0].split("%")[0].strip("[]")
        addresses.append(address)
    return addresses


def is_loopback(address):
    if address.startswith("::ffff:"):
        address = address[len("::ffff:"):]
    return address == "::1" or address.startswith("127.")


def start_control_listener(env, tmp_path):
    """Start an unguarded dual-stack HTTP server on CONTROL_PORT in the guarded namespace.

    The peer reaching it shows that a closed catcher port is the guard's doing,
    not a broken veth pair.
    """
    empty = tmp_path / "empty"
    empty.mkdir()
    process = env.in_guarded(None, [PYTHON, "-m", "http.server", "--bind", "::",
                                    "--directory", str(empty), str(CONTROL_PORT)])
    deadline = time.monotonic() + 10
    while not listener_addresses(env, CONTROL_PORT):
        assert process.poll() is None, f"control listener exited: {process.communicate()}"
        assert time.monotonic() < deadline, "control listener not up after 10 s"
        time.sleep(0.1)
    return process


def scan_from_peer(env, target, ports):
    """Return {port: state} from an nmap TCP scan of target run in the peer namespace."""
    family = ["-6"] if ":" in target else []
    port_list = ",".join(str(port) for port in ports)
    result = env.run_peer(["nmap", *family, "-Pn", "-n", "--host-timeout", "30s",
                           "-p", port_list, "-oG", "-", target], timeout=60)
    assert result.returncode == 0, f"nmap failed: {result.stdout}{result.stderr}"
    states = {int(port): state
              for port, state in re.findall(r"(\d+)/([a-z|]+)/tcp", result.stdout)}
    assert set(states) == set(ports), f"nmap reported no state for some ports:\n{result.stdout}"
    return states


def events_of(pid, verdict):
    return lambda event: (event.get("type") == "event" and event.get("pid") == pid
                          and event.get("verdict") == verdict)


def send_mail(env, host, port, subject):
    result = env.run_guarded(None, ["swaks", "--server", host, "--port", str(port),
                                    "--helo", "localhost", "--timeout", "10", "--suppress-data",
                                    "--from", "sender@example.test", "--to", "inbox@example.test",
                                    "--header", f"Subject: {subject}",
                                    "--body", "Sent over loopback to a guarded catcher."],
                             timeout=30)
    assert result.returncode == 0, \
        f"swaks to [{host}]:{port} failed:\n{result.stdout}{result.stderr}"


def maildev_subjects(env, host, web_port):
    # MailDev 3 serves its REST API under /api, MailDev 2 at the root.
    path = "/api/email" if maildev_major() >= 3 else "/email"
    url = f"http://[{host}]:{web_port}{path}" if ":" in host else f"http://{host}:{web_port}{path}"
    result = env.run_guarded(None, ["curl", "-sS", "--max-time", "5", url], timeout=15)
    assert result.returncode == 0, f"curl {url} failed: {result.stderr}"
    return [mail.get("subject") for mail in json.loads(result.stdout)]


def wait_until(predicate, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def cgroup_pids(cgroup):
    with open(os.path.join(cgroup, "cgroup.procs"), encoding="ascii") as procs:
        return [int(line) for line in procs if line.strip()]


def run_cgroups(env):
    return sorted(name for name in os.listdir(env.root) if name.startswith("run-"))


@pytest.mark.parametrize("catcher", [MAILDEV_CATCHER, AIOSMTPD_V4, AIOSMTPD_V6],
                         ids=lambda catcher: catcher.name)
def test_wildcard_bind_denied(env, tmp_path, catcher):
    _require_tools(catcher)
    binds = catcher.binds()
    events = env.events()
    guarded = GuardedCatcher(env, tmp_path, catcher)

    status = guarded.wait(START_TIMEOUT)
    pid = guarded.pid()
    output = guarded.output()

    # `mcguard run` returns the catcher's own status. Both catchers exit 1 on a listen error.
    assert status == 1, f"mcguard run exited {status}, expected the catcher's 1:\n{output}"
    assert "mcguard: guarding " in output
    assert re.search(r"EPERM|[Oo]peration not permitted", output), output

    denied = events.wait_for(events_of(pid, "denied"))
    assert denied is not None, f"no denied event for pid {pid}: {events.describe()}"
    for event in [record for record in events.collected if events_of(pid, "denied")(record)]:
        assert event["port"] in binds, event
        assert event["hook"] == binds[event["port"]].hook, event
        assert mcgtest.same_address(event["address"], binds[event["port"]].address), event
        assert event["protocol"] == "tcp", event
        assert event["comm"] == catcher.comm, event
        assert event["guard_cgroup"] == env.relative(guarded.run_cgroup), event
        assert event["cgroup"] == env.relative(guarded.run_cgroup), event
    assert events.count(events_of(pid, "rewritten")) == 0, events.describe()

    assert wait_until(lambda: not run_cgroups(env)), f"run cgroups left: {run_cgroups(env)}"
    assert env.status() == {}


@pytest.mark.parametrize("catcher, wildcard6", [case[1:] for case in LOOPBACK_CASES],
                         ids=[case[0] for case in LOOPBACK_CASES])
def test_wildcard_rewritten_to_loopback(env, tmp_path, catcher, wildcard6):
    _require_tools(catcher)
    binds = catcher.binds()
    rewrites = {port: rewritten_address(bind, wildcard6) for port, bind in binds.items()}
    smtp_host = client_address(rewrites[catcher.smtp_port])
    events = env.events()
    start_control_listener(env, tmp_path)
    guarded = GuardedCatcher(env, tmp_path, catcher,
                             ("--wildcard", "loopback", "--wildcard6", wildcard6))

    guarded.wait_for_listeners()
    pid = guarded.pid()

    # Every wildcard bind was rewritten to the expected loopback address.
    for port, bind in binds.items():
        event = events.wait_for(lambda record, port=port: events_of(pid, "rewritten")(record)
                                and record.get("port") == port)
        assert event is not None, f"no rewritten event for port {port}: {events.describe()}"
        assert event["hook"] == bind.hook, event
        assert mcgtest.same_address(event["address"], bind.address), event
        assert mcgtest.same_address(event["new_address"], rewrites[port]), event
        assert event["comm"] == catcher.comm, event
        assert event["guard_cgroup"] == env.relative(guarded.run_cgroup), event
    assert events.count(events_of(pid, "denied")) == 0, events.describe()

    # The kernel shows loopback listeners only.
    for port in catcher.ports:
        addresses = listener_addresses(env, port)
        assert all(is_loopback(address) for address in addresses), (port, addresses)
        assert any(mcgtest.same_address(address, rewrites[port]) for address in addresses), \
            (port, addresses)

    # A mail sent over loopback arrives.
    subject = f"mcguard e2e {catcher.name} {pid}"
    send_mail(env, smtp_host, catcher.smtp_port, subject)
    if catcher.web_port:
        web_host = client_address(rewrites[catcher.web_port])
        assert subject in maildev_subjects(env, web_host, catcher.web_port)
    else:
        assert wait_until(lambda: subject in guarded.output()), guarded.output()

    # One socket cannot listen on both loopback families: the other one is refused.
    refused_host = other_loopback(smtp_host)
    family = "ipv6" if ":" in refused_host else "ipv4"
    other = env.probe(None, {"family": family, "type": "tcp", "action": "connect",
                             "address": refused_host, "port": catcher.smtp_port})
    assert other["error"] == "ECONNREFUSED", other

    # The peer reaches the control listener but none of the catcher's ports.
    for target in (mcgtest.GUARDED_V4, mcgtest.GUARDED_V6):
        states = scan_from_peer(env, target, catcher.ports + (CONTROL_PORT,))
        assert states[CONTROL_PORT] == "open", (target, states)
        for port in catcher.ports:
            assert states[port] != "open", (target, port, states)
            family = "ipv6" if ":" in target else "ipv4"
            connect = env.peer_probe({"family": family, "type": "tcp", "action": "connect",
                                      "address": target, "port": port})
            assert connect["error"] == "ECONNREFUSED", (target, port, connect)

    # SIGTERM reaches the catcher through mcguard run, which then removes its guard.
    assert guarded.stop() in (0, 128 + signal.SIGTERM), guarded.output()
    assert wait_until(lambda: not run_cgroups(env)), f"run cgroups left: {run_cgroups(env)}"
    assert env.status() == {}


def test_daemonized_catcher_stays_guarded(env, tmp_path):
    """A catcher that detaches from its starter and keeps running after the starter exits."""
    catcher = AIOSMTPD_V4
    _require_tools(catcher)
    log_path = tmp_path / "daemon.log"
    # The shell starts the catcher in a new session, prints its pid and exits at once.
    daemonize = 'log=$0; PYTHONUNBUFFERED=1 setsid "$@" >"$log" 2>&1 </dev/null & echo $!'
    argv = [env.binary, "run", "--pin-root", env.pin_root, "--parent", env.root,
            "--wildcard", "loopback", "--", "sh", "-c", daemonize, str(log_path), *catcher.argv]
    run = env.run_guarded(None, argv, timeout=START_TIMEOUT)
    daemon_pid = int(run.stdout.split()[0])

    # run returns the starter's status and leaves the guard on the catcher's cgroup.
    assert run.returncode == 0, run.stderr
    assert "remain in" in run.stderr, run.stderr
    cgroups = run_cgroups(env)
    assert len(cgroups) == 1, cgroups
    run_cgroup = os.path.join(env.root, cgroups[0])
    assert daemon_pid in cgroup_pids(run_cgroup), f"{daemon_pid} not in {run_cgroup}"

    assert wait_until(lambda: listener_addresses(env, catcher.smtp_port), timeout=START_TIMEOUT)
    assert listener_addresses(env, catcher.smtp_port) == ["127.0.0.1"]
    guard = env.status()[env.relative(run_cgroup)]
    assert guard["wildcard"] == "loopback", guard
    assert guard["counters"]["bind4"]["rewritten"] == 1, guard

    subject = f"mcguard e2e daemon {daemon_pid}"
    send_mail(env, "127.0.0.1", catcher.smtp_port, subject)
    assert wait_until(lambda: subject in log_path.read_text(encoding="utf-8")), \
        log_path.read_text(encoding="utf-8")
    for target in (mcgtest.GUARDED_V4, mcgtest.GUARDED_V6):
        states = scan_from_peer(env, target, (catcher.smtp_port,))
        assert states[catcher.smtp_port] != "open", (target, states)

    # Once the catcher is gone, detach removes the guard it left.
    os.kill(daemon_pid, signal.SIGTERM)
    assert wait_until(lambda: not cgroup_pids(run_cgroup)), \
        f"catcher {daemon_pid} still in {run_cgroup} after SIGTERM"
    env.mcguard("detach", run_cgroup)
    assert env.status() == {}


def verify_report(env, cgroup):
    """Run mcguard verify --json on cgroup, with the peer namespace as the host side."""
    result = env.mcguard("verify", "--json", "--host-netns", f"{mcgtest.NETNS_DIR}/{env.ns_peer}",
                         cgroup, check=False)
    assert result.returncode in (0, 1), f"verify exited {result.returncode}: {result.stderr}"
    return result.returncode, json.loads(result.stdout)


def test_verify_unguarded_maildev_exposed(env, tmp_path):
    _require_tools(MAILDEV_CATCHER)
    binds = maildev_binds()
    cgroup = env.cgroup("maildev")
    work_dir = tmp_path / "maildev"
    work_dir.mkdir()
    process = env.in_guarded(cgroup, [str(MAILDEV)], cwd=work_dir, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    assert wait_until(lambda: all(listener_addresses(env, port) for port in binds),
                      timeout=START_TIMEOUT), f"MailDev (pid {process.pid}) not listening"

    code, report = verify_report(env, cgroup)
    sockets = next(check for check in report["checks"] if check["check"] == "sockets")
    exposed = {finding["port"]: finding for finding in sockets["findings"]
               if finding["kind"] == "exposed"}

    assert code == 1
    assert set(exposed) == set(binds)
    for port, bind in binds.items():
        assert mcgtest.same_address(exposed[port]["address"], bind.address), exposed[port]
        assert exposed[port]["comm"] == "node"
    assert exposed[1025]["families"] == "IPv4 and IPv6"


def test_verify_guarded_maildev_clean(env, tmp_path):
    _require_tools(MAILDEV_CATCHER)
    guarded = GuardedCatcher(env, tmp_path, MAILDEV_CATCHER, ("--wildcard", "loopback"))
    guarded.wait_for_listeners()

    code, report = verify_report(env, guarded.run_cgroup)
    sockets = next(check for check in report["checks"] if check["check"] == "sockets")

    assert code == 0, report
    assert report["result"] == "clean"
    assert {finding["kind"] for finding in sockets["findings"]} == {"loopback"}
    assert report["ports"] == sorted(MAILDEV_CATCHER.ports)
    assert guarded.stop() in (0, 128 + signal.SIGTERM), guarded.output()
