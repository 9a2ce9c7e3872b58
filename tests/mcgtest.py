"""Shared helpers for mcguard's root integration and end-to-end tests.

A TestEnv owns everything a test touches: a cgroup test root below the cgroup2
mount, a pin root on bpffs, and two network namespaces joined by a veth pair.
The guarded namespace holds the processes under test. The peer namespace
plays every remote host, with documentation addresses only:

    guarded ns  veth0  192.0.2.1/24  2001:db8::1/64
    peer ns     veth0  192.0.2.2/24  2001:db8::2/64
                lo     198.51.100.7  203.0.113.5  2001:db8:1::7

The guarded namespace routes 198.51.100.0/24, 203.0.113.0/24 and
2001:db8:1::/48 through the peer and has no default route, so no packet
leaves the two namespaces.
"""

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
PROBE = TESTS_DIR / "probe.py"

BPFFS = "/sys/fs/bpf"
NETNS_DIR = "/run/netns"

GUARDED_V4 = "192.0.2.1"
GUARDED_V6 = "2001:db8::1"
PEER_V4 = "192.0.2.2"
PEER_V6 = "2001:db8::2"
REMOTE_V4 = "198.51.100.7"
REMOTE2_V4 = "203.0.113.5"
REMOTE_V6 = "2001:db8:1::7"

HOOKS = ("bind4", "bind6", "connect4", "connect6", "sendmsg4", "sendmsg6",
         "listen", "sock_create", "setsockopt")
COUNTERS = ("denied", "rewritten", "audited", "contained", "dropped")

# Each process that makes TestEnvs numbers them, so two at once get distinct names.
_sequence_lock = threading.Lock()
_sequence = 0


class EnvUnavailable(Exception):
    """The machine lacks something a TestEnv needs: root, cgroup2, bpffs or a tool."""


class McguardError(subprocess.CalledProcessError):
    """An mcguard command that exited with an unexpected status; str() shows its output."""

    def __str__(self):
        return (f"{' '.join(map(str, self.cmd))} exited with {self.returncode}\n"
                f"stdout: {self.stdout}\nstderr: {self.stderr}")


def _mounts():
    """Yield (mount point, filesystem type) for each line of /proc/self/mountinfo."""
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            separator = fields.index("-")
            yield fields[4].replace("\\040", " "), fields[separator + 1]


def cgroup2_mount():
    """Return the mount point of the cgroup2 hierarchy, or raise EnvUnavailable."""
    for mount_point, fstype in _mounts():
        if fstype == "cgroup2":
            return mount_point
    raise EnvUnavailable("no cgroup2 mount in /proc/self/mountinfo")


def cgroup_id(path):
    """Return the kernel's id of a cgroup2 directory: its inode number."""
    return os.stat(path).st_ino


def same_address(first, second):
    """Compare two textual IP addresses by value, so "::ffff:7f00:1" equals "::ffff:127.0.0.1"."""
    return _packed(first) == _packed(second)


def _packed(address):
    address = address.split("%")[0]
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return family, socket.inet_pton(family, address)


def _run(argv, check=True, timeout=30):
    return subprocess.run(argv, check=check, timeout=timeout, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _resolve_binary():
    binary = Path(os.environ.get("MCGUARD", ".output/mcguard"))
    if not binary.is_absolute():
        binary = REPO_ROOT / binary
    return str(binary)


def _stop_process(process, sig=signal.SIGTERM, grace=5):
    """Send sig to a process this module started, then SIGKILL it after grace seconds."""
    if process.poll() is not None:
        return
    try:
        os.kill(process.pid, sig)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)
    except ProcessLookupError:
        process.wait(timeout=grace)


def run_daemon_config(binary, path, text, timeout=10):
    """Write text as a daemon configuration at path and run `mcguard daemon --config path`."""
    path.write_text(text + "\n")
    return subprocess.run([binary, "daemon", "--config", str(path)], capture_output=True,
                          text=True, timeout=timeout)


class EventStream:
    """A background `mcguard events --json` whose output lines are parsed as they come.

    collected contains every JSON object read so far, in order. Lines that are not
    JSON go to other_lines, and stderr goes to stderr_lines.
    """

    def __init__(self, argv):
        self.argv = argv
        self.collected = []
        self.other_lines = []
        self.stderr_lines = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(argv, text=True, bufsize=1, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self):
        for line in self.process.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            with self._changed:
                if isinstance(record, dict):
                    self.collected.append(record)
                else:
                    self.other_lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _read_stderr(self):
        for line in self.process.stderr:
            with self._changed:
                self.stderr_lines.append(line.rstrip("\n"))

    def wait_for(self, predicate, timeout=5):
        """Return the first collected object that matches predicate, or None after timeout seconds.

        Objects collected before the call count too. The wait also ends early
        once the stream has exited and every line has been read.
        """
        deadline = time.monotonic() + timeout
        checked = 0
        with self._changed:
            while True:
                for record in self.collected[checked:]:
                    if predicate(record):
                        return record
                checked = len(self.collected)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                if self.process.poll() is not None and not self._readers[0].is_alive():
                    return None
                self._changed.wait(min(remaining, 0.2))

    def wait_count(self, predicate, count, timeout=5):
        """Wait until count collected objects match predicate; return how many match.

        Returns early with a smaller number after timeout seconds, or once the
        stream has exited and every line has been read.
        """
        deadline = time.monotonic() + timeout
        checked = matched = 0
        with self._changed:
            while True:
                matched += sum(1 for record in self.collected[checked:] if predicate(record))
                checked = len(self.collected)
                remaining = deadline - time.monotonic()
                if matched >= count or remaining <= 0:
                    return matched
                if self.process.poll() is not None and not self._readers[0].is_alive():
                    return matched
                self._changed.wait(min(remaining, 0.2))

    def count(self, predicate):
        """Return how many collected objects match predicate."""
        with self._changed:
            return sum(1 for record in self.collected if predicate(record))

    def describe(self, last=20):
        """Return a summary of the stream for assertion messages."""
        with self._changed:
            tail = self.collected[-last:]
            return (f"{' '.join(map(str, self.argv))}: exit {self.process.poll()}, "
                    f"{len(self.collected)} objects, last {len(tail)}: {tail}, "
                    f"other stdout: {self.other_lines[-5:]}, stderr: {self.stderr_lines[-5:]}")

    def stop(self):
        """Stop the stream with SIGTERM by PID and wait for its output to end."""
        _stop_process(self.process)
        for reader in self._readers:
            reader.join(timeout=5)


class TestEnv:
    """A test root cgroup, a pin root and a guarded/peer namespace pair, removed on exit.

    Use it as a context manager. __enter__ raises EnvUnavailable when the
    machine lacks root, cgroup2, bpffs, ip or nsenter, and cleans up whatever
    it had made when a later setup step fails.
    """

    __test__ = False  # keeps pytest from collecting this class

    def __init__(self):
        global _sequence
        with _sequence_lock:
            sequence = _sequence
            _sequence += 1
        pid = os.getpid()
        tag = str(pid) if sequence == 0 else f"{pid}.{sequence}"
        ns_tag = str(pid) if sequence == 0 else f"{pid}x{sequence}"

        self.binary = _resolve_binary()
        self.mount = None
        self.root = None
        # bpffs rejects names that contain a dot, so the pin root uses "-".
        self.pin_root = f"{BPFFS}/mcguard-test-{tag.replace('.', '-')}"
        self.ns_guarded = f"mcgt{ns_tag}g"
        self.ns_peer = f"mcgt{ns_tag}p"
        self._root_name = f"mcguard-test.{tag}"
        self._made_root = False
        self._made_pin_root = False
        self._made_namespaces = []
        self._processes = []
        self._streams = []

    # Setup

    def __enter__(self):
        try:
            self._check_machine()
            self._make_cgroup_root()
            self._make_pin_root()
            self._make_namespaces()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, exc_type, exc, traceback):
        self.cleanup()
        return False

    def _check_machine(self):
        if os.geteuid() != 0:
            raise EnvUnavailable("the integration tests need root")
        for tool in ("ip", "nsenter"):
            if shutil.which(tool) is None:
                raise EnvUnavailable(f"{tool} not found in PATH")
        self.mount = cgroup2_mount()
        self._ensure_bpffs()

    def _ensure_bpffs(self):
        if any(point == BPFFS and fstype == "bpf" for point, fstype in _mounts()):
            return
        result = _run(["mount", "-t", "bpf", "bpf", BPFFS], check=False)
        if result.returncode != 0:
            raise EnvUnavailable(f"no bpffs at {BPFFS} and mounting it failed: "
                                 f"{result.stderr.strip()}")

    def _make_cgroup_root(self):
        self.root = os.path.join(self.mount, self._root_name)
        os.mkdir(self.root)
        self._made_root = True

    def _make_pin_root(self):
        os.mkdir(self.pin_root)
        self._made_pin_root = True

    def _make_namespaces(self):
        for name in (self.ns_guarded, self.ns_peer):
            _run(["ip", "netns", "add", name])
            self._made_namespaces.append(name)
            # Link-local addresses skip duplicate address detection too, so
            # neighbor discovery works at once.
            self._ns_sysctl(name, "net.ipv6.conf.default.accept_dad", "0")
            self._ns_sysctl(name, "net.ipv6.conf.all.accept_dad", "0")
            _run(["ip", "-n", name, "link", "set", "lo", "up"])

        guarded = ["ip", "-n", self.ns_guarded]
        peer = ["ip", "-n", self.ns_peer]
        commands = [
            guarded + ["link", "add", "veth0", "type", "veth",
                       "peer", "name", "veth0", "netns", self.ns_peer],
            guarded + ["addr", "add", f"{GUARDED_V4}/24", "dev", "veth0"],
            guarded + ["addr", "add", f"{GUARDED_V6}/64", "dev", "veth0", "nodad"],
            peer + ["addr", "add", f"{PEER_V4}/24", "dev", "veth0"],
            peer + ["addr", "add", f"{PEER_V6}/64", "dev", "veth0", "nodad"],
            peer + ["addr", "add", f"{REMOTE_V4}/32", "dev", "lo"],
            peer + ["addr", "add", f"{REMOTE2_V4}/32", "dev", "lo"],
            peer + ["addr", "add", f"{REMOTE_V6}/128", "dev", "lo"],
            guarded + ["link", "set", "veth0", "up"],
            peer + ["link", "set", "veth0", "up"],
            guarded + ["route", "add", "198.51.100.0/24", "via", PEER_V4],
            guarded + ["route", "add", "203.0.113.0/24", "via", PEER_V4],
            guarded + ["-6", "route", "add", "2001:db8:1::/48", "via", PEER_V6],
        ]
        for command in commands:
            _run(command)
        self._wait_link_local()

    def _wait_link_local(self, timeout=5):
        """Wait until both ends of the veth pair have their IPv6 link-local address.

        Before that, the first IPv6 packets across the pair can be lost, so a
        test's first TCP connect over IPv6 would wait for a SYN retransmit.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = True
            for name in (self.ns_guarded, self.ns_peer):
                output = _run(["ip", "-n", name, "-6", "-o", "addr", "show", "dev", "veth0",
                               "scope", "link"]).stdout
                ready = ready and output.strip() != "" and "tentative" not in output
            if ready:
                return
            time.sleep(0.02)
        raise RuntimeError(f"no IPv6 link-local address on veth0 after {timeout} s")

    def _ns_sysctl(self, namespace, key, value):
        _run(["nsenter", f"--net={NETNS_DIR}/{namespace}", "--",
              "sysctl", "-qw", f"{key}={value}"])

    # Cgroups and the binary

    def cgroup(self, name):
        """Create a cgroup below the test root ("a" or "a/b") and return its absolute path."""
        path = os.path.join(self.root, name)
        if not os.path.realpath(path).startswith(self.root + "/"):
            raise ValueError(f"cgroup {name!r} is not below the test root {self.root}")
        os.makedirs(path, exist_ok=True)
        return path

    def relative(self, cgroup):
        """Return a cgroup path as mcguard prints it: relative to the mount, with a leading "/"."""
        return "/" + os.path.relpath(self._absolute(cgroup), self.mount)

    def _absolute(self, cgroup):
        if os.path.isabs(cgroup):
            return cgroup
        return os.path.join(self.root, cgroup)

    def mcguard(self, *args, check=True, timeout=30):
        """Run mcguard SUBCOMMAND ARGS with this TestEnv's --pin-root; returns a CompletedProcess.

        --pin-root goes right after the subcommand name, so that for `run` it
        stays before "--" and the command after "--" is passed on as given.
        With check, an exit status other than 0 raises McguardError, which
        shows stdout and stderr.
        """
        argv = self.mcguard_argv(*args)
        result = _run(argv, check=False, timeout=timeout)
        if check and result.returncode != 0:
            raise McguardError(result.returncode, argv, result.stdout, result.stderr)
        return result

    def mcguard_argv(self, *args):
        """Return the argv that mcguard() runs, for starting mcguard in the background."""
        args = [str(arg) for arg in args]
        return [self.binary] + args[:1] + ["--pin-root", self.pin_root] + args[1:]

    def status(self, cgroup=None):
        """Return the guard objects of `mcguard status --json`, keyed by their "cgroup" field."""
        args = ["status", "--json"] + ([self._absolute(cgroup)] if cgroup else [])
        report = json.loads(self.mcguard(*args).stdout)
        return {guard["cgroup"]: guard for guard in report["guards"]}

    def counters(self, cgroup):
        """Return the counters of the guard on cgroup: {hook: {counter: value}}."""
        guards = self.status()
        name = self.relative(cgroup)
        if name not in guards:
            raise AssertionError(f"no guard on {name} in status: {sorted(guards)}")
        return guards[name]["counters"]

    def events(self, cgroup=None, text=False):
        """Start `mcguard events --json [CGROUP]` in the background; stopped at cleanup.

        With text, the stream runs without --json and its lines go to other_lines.
        """
        argv = [self.binary, "events", "--pin-root", self.pin_root]
        if not text:
            argv.append("--json")
        if cgroup:
            argv.append(self._absolute(cgroup))
        stream = EventStream(argv)
        self._streams.append(stream)
        return stream

    # Processes in the namespaces

    def in_guarded(self, cgroup, argv, **popen_kwargs):
        """Start argv in the guarded namespace, after it joins cgroup (None: stay put).

        The process joins the cgroup before it enters the namespace, because
        `ip netns exec` would remount /sys and hide the cgroup2 mount.
        """
        ns_path = f"{NETNS_DIR}/{self.ns_guarded}"
        if cgroup is None:
            command = ["nsenter", f"--net={ns_path}", "--"] + [str(arg) for arg in argv]
        else:
            script = ('cg=$1; ns=$2; shift 2; '
                      'echo $$ > "$cg/cgroup.procs" && exec nsenter --net="$ns" -- "$@"')
            command = (["sh", "-c", script, "sh", self._absolute(cgroup), ns_path]
                       + [str(arg) for arg in argv])
        return self._start(command, popen_kwargs)

    def run_guarded(self, cgroup, argv, timeout=20):
        """Run argv as in_guarded does and wait for it; returns a CompletedProcess."""
        return self._wait(self.in_guarded(cgroup, argv), timeout)

    def in_peer(self, argv, **popen_kwargs):
        """Start argv in the peer namespace, in the caller's cgroup."""
        command = (["nsenter", f"--net={NETNS_DIR}/{self.ns_peer}", "--"]
                   + [str(arg) for arg in argv])
        return self._start(command, popen_kwargs)

    def run_peer(self, argv, timeout=20):
        """Run argv in the peer namespace and wait for it; returns a CompletedProcess."""
        return self._wait(self.in_peer(argv), timeout)

    def _start(self, command, popen_kwargs):
        options = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE,
                   "stderr": subprocess.PIPE, "text": True}
        options.update(popen_kwargs)
        process = subprocess.Popen(command, **options)
        self._processes.append(process)
        return process

    def _wait(self, process, timeout):
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    def probe(self, cgroup, *ops, timeout=20):
        """Run probe.py in cgroup and the guarded namespace; return its first JSON result.

        Each op is a dict as probe.py documents it. The result also carries the
        probe's "pid" and "comm", which the events of its calls must show.
        """
        return self._probe_result(self.run_guarded(cgroup, self._probe_argv(ops), timeout))

    def peer_probe(self, *ops, timeout=20):
        """Run probe.py in the peer namespace; return its first JSON result."""
        return self._probe_result(self.run_peer(self._probe_argv(ops), timeout))

    @staticmethod
    def _probe_argv(ops):
        return [sys.executable, str(PROBE), json.dumps(list(ops))]

    @staticmethod
    def _probe_result(result):
        if result.returncode != 0 or not result.stdout.strip():
            raise AssertionError(f"probe failed with exit {result.returncode}: "
                                 f"{result.stdout}{result.stderr}")
        return json.loads(result.stdout.splitlines()[0])

    # Cleanup

    def cleanup(self):
        """Remove everything this TestEnv made; safe to call again and after a partial setup."""
        for stream in self._streams:
            stream.stop()
        self._streams = []
        for process in self._processes:
            _stop_process(process, signal.SIGKILL)
        self._processes = []

        if self._made_root:
            self._kill_cgroup_processes()
        if self._made_pin_root and os.path.exists(self.binary):
            try:
                _run([self.binary, "detach", "--pin-root", self.pin_root, "--all"], check=False)
            except (OSError, subprocess.SubprocessError):
                # Removing the cgroups below also detaches every program on them.
                pass
        if self._made_root:
            self._remove_cgroups()
            self._made_root = False
        if self._made_pin_root:
            shutil.rmtree(self.pin_root, ignore_errors=True)
            self._made_pin_root = False
        for name in self._made_namespaces:
            _run(["ip", "netns", "del", name], check=False)
        self._made_namespaces = []

    def _cgroup_dirs(self):
        """Return the test root and every cgroup below it, deepest first."""
        return [top for top, _, _ in os.walk(self.root, topdown=False)]

    def _kill_cgroup_processes(self):
        # Bounded: a process that survives 50 rounds of SIGKILL leaves its cgroup behind.
        for _ in range(50):
            pids = []
            for directory in self._cgroup_dirs():
                try:
                    with open(os.path.join(directory, "cgroup.procs"), encoding="ascii") as procs:
                        pids += [int(line) for line in procs if line.strip()]
                except FileNotFoundError:
                    continue
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)

    def _remove_cgroups(self):
        for _ in range(20):
            for directory in self._cgroup_dirs():
                try:
                    os.rmdir(directory)
                except FileNotFoundError:
                    pass
                except OSError as error:
                    if error.errno != errno.EBUSY:
                        raise
            if not os.path.exists(self.root):
                return
            time.sleep(0.1)
