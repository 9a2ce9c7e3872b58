"""Escape paths: listeners the kernel binds itself, the loopback backstop,
sockets that exist outside the hooks' reach, threads and forks, and other
programs on the same cgroups.

Every call runs in the test's guarded namespace; the peer namespace plays the
remote host.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap

import pytest

from mcgtest import GUARDED_V4, GUARDED_V6, PEER_V4, REMOTE_V4, REMOTE_V6

# Holder scripts print one JSON line when their sockets are ready, then keep
# them open until stdin closes, at most 30 seconds.
HOLD = textwrap.dedent("""\
    import json, select, socket, sys
    def ready(**info):
        print(json.dumps(info), flush=True)
        select.select([sys.stdin], [], [], 30)
""")

AUTOBIND = HOLD + textwrap.dedent("""\
    s = socket.socket(socket.AF_INET6)
    s.listen()
    ready(port=s.getsockname()[1])
""")

LISTEN_ANY = HOLD + textwrap.dedent("""\
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[1])))
    s.listen()
    ready(port=s.getsockname()[1])
""")

# Listen first, then join the cgroup: the socket was created outside it.
LISTEN_THEN_JOIN = HOLD + textwrap.dedent("""\
    import os
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[1])))
    s.listen()
    with open(sys.argv[2] + "/cgroup.procs", "w") as procs:
        procs.write(str(os.getpid()))
    ready(port=s.getsockname()[1])
""")

CONNECT_AND_HOLD = HOLD + textwrap.dedent("""\
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
    ready(local=c.getsockname()[1])
""")

PEER_LISTENER = HOLD + textwrap.dedent("""\
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.listen()
    ready(port=s.getsockname()[1])
    conn, _ = s.accept()
    select.select([sys.stdin], [], [], 30)
""")

# Receive one descriptor over a Unix socket and hold it (SCM_RIGHTS).
RECEIVE_FD = HOLD + textwrap.dedent("""\
    import array
    server = socket.socket(socket.AF_UNIX)
    server.bind(sys.argv[1])
    server.listen()
    print(json.dumps({"listening": True}), flush=True)
    conn, _ = server.accept()
    fds = array.array("i")
    msg, ancdata, flags, addr = conn.recvmsg(1, socket.CMSG_LEN(fds.itemsize))
    fds.frombytes(ancdata[0][2][:fds.itemsize])
    ready(fd=fds[0])
""")

SEND_FD = textwrap.dedent("""\
    import array, socket, sys
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    s.listen()
    c = socket.socket(socket.AF_UNIX)
    c.connect(sys.argv[1])
    c.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [s.fileno()]))])
""")

SEND_FD_AND_HOLD = HOLD + textwrap.dedent("""\
    import array
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    s.listen()
    c = socket.socket(socket.AF_UNIX)
    c.connect(sys.argv[1])
    c.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [s.fileno()]))])
    ready(port=s.getsockname()[1])
""")

SOCKOPT = textwrap.dedent("""\
    import errno, json, socket
    s = socket.socket()
    bound = s.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b"\\0").decode()
    result = {"bound": bound}
    for name, value in (("bindtodevice", b"lo"), ("bindtoifindex", 1)):
        option = socket.SO_BINDTODEVICE if name == "bindtodevice" else 62
        try:
            s.setsockopt(socket.SOL_SOCKET, option, value)
            result[name] = 0
        except OSError as error:
            result[name] = errno.errorcode[error.errno]
    print(json.dumps(result))
""")

# Threads and a forked child each make a denied call; the output lists errnos and pids.
THREADS_AND_FORK = textwrap.dedent("""\
    import errno, json, os, socket, sys, threading
    results = []
    def connect_remote():
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((sys.argv[1], 25))
            results.append("ok")
        except OSError as error:
            results.append(errno.errorcode[error.errno])
    threads = [threading.Thread(target=connect_remote) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        s = socket.socket()
        try:
            s.bind(("0.0.0.0", 0))
            code = b"ok"
        except OSError as error:
            code = errno.errorcode[error.errno].encode()
        os.write(write_end, code)
        os._exit(0)
    os.waitpid(child, 0)
    print(json.dumps({"threads": results, "child": os.read(read_end, 32).decode(),
                      "child_pid": child, "pid": os.getpid()}))
""")


class Holder:
    """A process that holds sockets until the test ends."""

    def __init__(self, process):
        self.process = process
        line = process.stdout.readline()
        assert line, f"holder exited early: {process.stderr.read()}"
        self.info = json.loads(line)

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=10)


@pytest.fixture
def holders():
    started = []
    yield started
    for holder in started:
        if holder.process.poll() is None:
            holder.process.kill()
            holder.process.wait(timeout=10)


def hold_guarded(env, holders, cgroup, code, *args):
    process = env.in_guarded(cgroup, [sys.executable, "-c", code, *map(str, args)],
                             stdin=subprocess.PIPE)
    holder = Holder(process)
    holders.append(holder)
    return holder


def hold_peer(env, holders, code, *args):
    process = env.in_peer([sys.executable, "-c", code, *map(str, args)], stdin=subprocess.PIPE)
    holder = Holder(process)
    holders.append(holder)
    return holder


def peer_connect_errno(env, address, port):
    return env.peer_probe({"family": "ipv6" if ":" in address else "ipv4", "type": "tcp",
                           "action": "connect", "address": address, "port": port,
                           "timeout": 1})["errno"]


def guarded_python(env, cgroup, code, *args):
    result = env.run_guarded(cgroup, [sys.executable, "-c", code, *map(str, args)])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def is_verdict(hook, verdict):
    return lambda record: record.get("hook") == hook and record.get("verdict") == verdict


# Listeners the kernel binds itself: listen() without bind().

def test_autobind_reachable_without_guard(env, holders):
    holder = hold_guarded(env, holders, None, AUTOBIND)

    assert peer_connect_errno(env, GUARDED_V4, holder.info["port"]) == 0
    assert peer_connect_errno(env, GUARDED_V6, holder.info["port"]) == 0


@pytest.mark.parametrize("backstop", ["on", "off"])
def test_autobind_listener_contained(env, holders, backstop):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup, *(["--no-backstop"] if backstop == "off" else []))
    stream = env.events(cgroup)

    holder = hold_guarded(env, holders, cgroup, AUTOBIND)
    port = holder.info["port"]

    assert peer_connect_errno(env, GUARDED_V4, port) != 0
    assert peer_connect_errno(env, GUARDED_V6, port) != 0
    assert env.probe(None, {"family": "ipv4", "type": "tcp", "action": "connect",
                            "address": "127.0.0.1", "port": port})["errno"] == 0
    event = stream.wait_for(is_verdict("listen", "contained"))
    assert event is not None, stream.describe()
    assert event["port"] == port
    assert event["address"] == "::"
    assert event["pid"] == holder.process.pid
    assert env.counters(cgroup)["listen"]["contained"] == 1


def test_autobind_audit_reports_only(env, holders):
    cgroup = env.cgroup("a")
    env.mcguard("attach", "--mode", "audit", cgroup)
    stream = env.events(cgroup)

    holder = hold_guarded(env, holders, cgroup, AUTOBIND)

    assert peer_connect_errno(env, GUARDED_V4, holder.info["port"]) == 0
    assert stream.wait_for(is_verdict("listen", "audited")) is not None, stream.describe()


# The loopback backstop.

def test_backstop_holds_sockets_to_lo(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)
    stream = env.events(cgroup)

    result = guarded_python(env, cgroup, SOCKOPT)

    assert result["bound"] == "lo"
    assert result["bindtodevice"] == "EPERM"
    assert result["bindtoifindex"] == "EPERM"
    assert stream.wait_count(is_verdict("setsockopt", "denied"), 2) is not None
    assert env.counters(cgroup)["setsockopt"]["denied"] == 2


def test_backstop_off_with_allow_list(env, holders):
    cgroup = env.cgroup("a")
    attach = env.mcguard("attach", "--allow-connect", f"tcp:{PEER_V4}:2525", cgroup)
    assert "backstop is off" in attach.stderr
    peer = hold_peer(env, holders, PEER_LISTENER, PEER_V4, 2525)

    result = guarded_python(env, cgroup, SOCKOPT)
    allowed = env.probe(cgroup, {"family": "ipv4", "type": "tcp", "action": "connect",
                                 "address": PEER_V4, "port": peer.info["port"]})

    assert result["bound"] == ""
    assert result["bindtodevice"] == 0
    assert allowed["errno"] == 0
    assert env.status()[env.relative(cgroup)]["backstop"] is False


PING_PEER = textwrap.dedent("""\
    import errno, json, socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
    s.settimeout(1)
    try:
        s.sendto(b"\\x08\\0\\0\\0\\0\\0\\0\\0mcguard", (sys.argv[1], 0))
        s.recv(64)
        print(json.dumps({"reply": True, "error": None}))
    except socket.timeout:
        print(json.dumps({"reply": False, "error": "timeout"}))
    except OSError as error:
        print(json.dumps({"reply": False, "error": errno.errorcode[error.errno]}))
""")


@pytest.mark.parametrize("guard", ["none", "backstop", "no-backstop"])
def test_ping_socket_needs_backstop(env, guard):
    # Ping sockets have no sock_addr hook; only the backstop keeps them on lo.
    env._ns_sysctl(env.ns_guarded, "net.ipv4.ping_group_range", "0 2147483647")
    cgroup = env.cgroup("a")
    if guard != "none":
        env.mcguard("attach", cgroup, *(["--no-backstop"] if guard == "no-backstop" else []))

    result = guarded_python(env, cgroup, PING_PEER, PEER_V4)

    assert result["reply"] is (guard != "backstop"), result


# Sockets that escaped the hooks.

def scan_json(env, cgroup):
    result = env.mcguard("scan", "--json", cgroup, check=False)
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.returncode, records


def test_escaped_listener_before_attach(env, holders):
    cgroup = env.cgroup("a")
    holder = hold_guarded(env, holders, cgroup, LISTEN_ANY, 1025)

    attach = env.mcguard("attach", cgroup)
    code, records = scan_json(env, cgroup)
    status = env.status()[env.relative(cgroup)]

    assert "escaped the guard" in attach.stderr
    assert code == 1
    assert len(records) == 1
    assert records[0]["verdict"] == "escaped"
    assert records[0]["hook"] == "bind4"
    assert records[0]["address"] == "0.0.0.0"
    assert records[0]["port"] == 1025
    assert records[0]["state"] == "LISTEN"
    assert records[0]["pid"] == holder.process.pid
    assert records[0]["comm"] == "python3"
    assert [record["port"] for record in status["escaped"]] == [1025]
    assert peer_connect_errno(env, GUARDED_V4, 1025) == 0


def test_escaped_socket_created_before_join(env, holders):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)

    holder = hold_guarded(env, holders, None, LISTEN_THEN_JOIN, 1026, cgroup)
    code, records = scan_json(env, cgroup)

    assert code == 1
    assert [(record["hook"], record["port"], record["pid"]) for record in records] == \
        [("bind4", 1026, holder.process.pid)]


def test_escaped_connection_to_remote(env, holders):
    cgroup = env.cgroup("a")
    peer = hold_peer(env, holders, PEER_LISTENER, PEER_V4, 2527)
    hold_guarded(env, holders, cgroup, CONNECT_AND_HOLD, PEER_V4, peer.info["port"])

    env.mcguard("attach", cgroup)
    code, records = scan_json(env, cgroup)

    assert code == 1
    assert len(records) == 1
    assert records[0]["hook"] == "connect4"
    assert records[0]["address"] == PEER_V4
    assert records[0]["port"] == 2527
    assert records[0]["state"] == "ESTABLISHED"


def test_escaped_socket_over_scm_rights(env, holders):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)
    path = tempfile.mktemp(prefix="mcguard-test-", suffix=".sock")
    receiver = env.in_guarded(cgroup, [sys.executable, "-c", RECEIVE_FD, path],
                              stdin=subprocess.PIPE)
    try:
        assert json.loads(receiver.stdout.readline())["listening"]
        sender = env.run_guarded(None, [sys.executable, "-c", SEND_FD, path, 1027])
        assert sender.returncode == 0, sender.stderr
        holder = Holder(receiver)
        holders.append(holder)

        code, records = scan_json(env, cgroup)

        assert code == 1
        assert [(record["port"], record["fd"]) for record in records] == \
            [(1027, holder.info["fd"])]
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait(timeout=10)
        if os.path.exists(path):
            os.unlink(path)


def test_scan_clean_after_guarded_start(env, holders):
    cgroup = env.cgroup("a")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    hold_guarded(env, holders, cgroup, LISTEN_ANY, 1028)

    code, records = scan_json(env, cgroup)

    assert code == 0
    assert records == []


# Threads and forked children.

def test_threads_and_fork_guarded(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)
    stream = env.events(cgroup)

    result = guarded_python(env, cgroup, THREADS_AND_FORK, REMOTE_V4)

    assert result["threads"] == ["EPERM"] * 8
    assert result["child"] == "EPERM"
    assert stream.wait_count(is_verdict("connect4", "denied"), 8) is not None
    child_event = stream.wait_for(lambda record: record.get("hook") == "bind4"
                                  and record.get("pid") == result["child_pid"])
    assert child_event is not None, stream.describe()


# Other programs on the same cgroups.

FOREIGN_PROGRAM = textwrap.dedent("""\
    struct bpf_sock_addr;
    __attribute__((section("cgroup/connect4"), used))
    int fgn_exclusive(struct bpf_sock_addr *ctx) { return 1; }
    char _license[] __attribute__((section("license"), used)) = "GPL";
""")


@pytest.fixture
def exclusive_program(env, tmp_path):
    """A connect4 program of another tool, loaded and pinned under the test's pin root."""
    source = tmp_path / "foreign.bpf.c"
    source.write_text(FOREIGN_PROGRAM)
    obj = tmp_path / "foreign.bpf.o"
    subprocess.run(["clang", "-O2", "-target", "bpf", "-c", str(source), "-o", str(obj)],
                   check=True)
    pin = f"{env.pin_root}-foreign"
    subprocess.run(["bpftool", "prog", "load", str(obj), pin, "type", "cgroup/connect4"],
                   check=True)
    attached = []
    yield pin, attached
    for cgroup in attached:
        subprocess.run(["bpftool", "cgroup", "detach", cgroup, "connect4", "pinned", pin],
                       check=False)
    os.unlink(pin)


@pytest.mark.parametrize("where", ["same", "parent"])
def test_exclusive_foreign_program_named(env, exclusive_program, where):
    pin, attached = exclusive_program
    parent = env.cgroup("p")
    child = env.cgroup("p/c")
    target = child if where == "same" else parent
    # No "multi" flag: the program is exclusive, and the kernel refuses others.
    subprocess.run(["bpftool", "cgroup", "attach", target, "connect4", "pinned", pin],
                   check=True)
    attached.append(target)

    result = env.mcguard("attach", child, check=False)

    assert result.returncode == 1
    assert "fgn_exclusive" in result.stderr
    assert "BPF_F_ALLOW_MULTI" in result.stderr
    assert env.relative(child) not in env.status()
    show = subprocess.run(["bpftool", "cgroup", "show", child], capture_output=True, text=True)
    assert "mcg_" not in show.stdout


# The loader killed: enforcement stays, and a new attach adopts the guard.

def test_killed_run_adopted_by_attach(env):
    run = env.in_guarded(None, env.mcguard_argv("run", "--parent", env.root, "--",
                                                "sh", "-c", "echo ready; exec sleep 60"))
    assert run.stdout.readline().strip() == "ready"
    os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=10)
    cgroup = next(name for name in os.listdir(env.root) if name.startswith("run-"))
    path = os.path.join(env.root, cgroup)

    attach = env.mcguard("attach", "--force", path)
    status = env.status()[env.relative(path)]

    assert "kept its policy" in attach.stderr
    assert set(status["hooks"].values()) == {"attached"}
    assert status["generation"] == 1
    assert env.probe(path, {"family": "ipv6", "type": "tcp", "action": "connect",
                            "address": REMOTE_V6, "port": 25})["error"] == "EPERM"


# Closing escaped sockets.

def test_scan_destroy_closes_escaped_listener(env, holders):
    cgroup = env.cgroup("a")
    holder = hold_guarded(env, holders, cgroup, LISTEN_ANY, 1031)
    env.mcguard("attach", cgroup)
    assert peer_connect_errno(env, GUARDED_V4, 1031) == 0

    result = env.mcguard("scan", "--destroy", "--json", cgroup, check=False)
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    code, remaining = scan_json(env, cgroup)

    assert result.returncode == 0, result.stderr
    assert [(record["port"], record.get("destroyed")) for record in records] == [(1031, True)]
    assert peer_connect_errno(env, GUARDED_V4, 1031) != 0
    assert code == 0
    assert remaining == []
    assert holder.process.poll() is None


def test_scan_destroy_spares_shared_socket(env, holders):
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)
    path = tempfile.mktemp(prefix="mcguard-test-", suffix=".sock")
    receiver = env.in_guarded(cgroup, [sys.executable, "-c", RECEIVE_FD, path],
                              stdin=subprocess.PIPE)
    try:
        assert json.loads(receiver.stdout.readline())["listening"]
        # The sender keeps its own copy: a process outside the guard holds it too.
        sender = env.in_guarded(None, [sys.executable, "-c", SEND_FD_AND_HOLD, path, 1032],
                                stdin=subprocess.PIPE)
        sender_holder = Holder(sender)
        holders.append(sender_holder)
        holders.append(Holder(receiver))

        result = env.mcguard("scan", "--destroy", "--json", cgroup, check=False)
        records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]

        assert result.returncode == 1
        assert len(records) == 1
        assert records[0]["held_outside_by"] == sender.pid
        assert "destroyed" not in records[0]
        assert peer_connect_errno(env, GUARDED_V4, 1032) == 0
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait(timeout=10)
        if os.path.exists(path):
            os.unlink(path)


# The same calls through io_uring, which reaches the same kernel paths.

IOURING_PROBE = os.path.join(os.path.dirname(__file__), "..", "..", ".output", "tests",
                             "iouring_probe")


def iouring(env, cgroup, op, address, port, hold=None):
    argv = [IOURING_PROBE, op, address, str(port)] + ([str(hold)] if hold else [])
    if hold:
        process = env.in_guarded(cgroup, argv, stdin=subprocess.PIPE)
        line = process.stdout.readline()
        return json.loads(line), process
    result = env.run_guarded(cgroup, argv)
    if result.returncode == 77:
        pytest.skip(f"io_uring {op}: {result.stdout.strip()}")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), None


@pytest.mark.parametrize("op, address, port, error", [
    ("connect", REMOTE_V4, 25, "EPERM"),
    ("connect", REMOTE_V6, 25, "EPERM"),
    ("connect", "127.0.0.1", 9, "ECONNREFUSED"),
    ("bind", "0.0.0.0", 0, "EPERM"),
    ("bind", "::", 0, "EPERM"),
    ("bind", "127.0.0.1", 0, None),
])
def test_iouring_calls_guarded(env, op, address, port, error):
    if not os.path.exists(IOURING_PROBE):
        pytest.fail(f"{IOURING_PROBE} is missing: build it with make check")
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)

    result, _ = iouring(env, cgroup, op, address, port)

    assert result["error"] == error, result


def test_iouring_listen_without_bind_contained(env):
    cgroup = env.cgroup("a")
    env.mcguard("attach", "--no-backstop", cgroup)
    stream = env.events(cgroup)

    result, process = iouring(env, cgroup, "listen", "-", 0, hold=10)
    try:
        if result["error"] == "operation not supported":
            pytest.skip("io_uring listen: not supported by this kernel")
        assert result["res"] == 0, result
        assert peer_connect_errno(env, GUARDED_V4, result["port"]) != 0
        event = stream.wait_for(is_verdict("listen", "contained"))
        assert event is not None, stream.describe()
        assert event["port"] == result["port"]
    finally:
        process.kill()
        process.wait(timeout=10)
