"""mcguard verify: the exposure checks, their exit status, and the unit, PID
and container targets, also for attach.

Every catcher runs in the test's guarded namespace. The peer namespace plays
the host side of the catcher, where a container engine would publish its
ports: fake publishers listen there and DNAT rules go there, and every verify
run is pointed at it with --host-netns, so no test reads or changes the
machine's own namespace. systemd and container engines are stand-in scripts
on PATH that print what the real tools print. Container cgroups are
directories that the tests create with the engines' naming schemes below the
test root, which verify gets as --cgroup-root.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import mcgtest
from mcgtest import GUARDED_V4, GUARDED_V6, NETNS_DIR, REPO_ROOT

# Tools verify runs come from here; /usr/local/bin is left out because this
# machine has a real docker client there.
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
NOBODY = 65534
CONTAINER_ID = "3f4e1c9a7b2d8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"
OTHER_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60713f4e1c9a7b2d8e6f"

# A catcher: listens on ADDRESS:PORT over TCP, prints one line, and keeps the
# socket until stdin closes (at most 60 seconds).
CATCHER = textwrap.dedent("""\
    import select, socket, sys
    address, port = sys.argv[1], int(sys.argv[2])
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    kind = socket.SOCK_DGRAM if len(sys.argv) > 3 and sys.argv[3] == "udp" else socket.SOCK_STREAM
    s = socket.socket(family, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((address, port))
    if kind == socket.SOCK_STREAM:
        s.listen()
    print(s.getsockname()[0], flush=True)
    select.select([sys.stdin], [], [], 60)
""")

# listen() without bind(): the kernel picks the wildcard address itself.
AUTOBIND = textwrap.dedent("""\
    import select, socket, sys
    s = socket.socket(socket.AF_INET6)
    s.listen()
    print(s.getsockname()[1], flush=True)
    select.select([sys.stdin], [], [], 60)
""")

# A port publisher: renames itself (comm) and listens on the host side.
PUBLISHER = textwrap.dedent("""\
    import select, socket, sys
    with open("/proc/self/comm", "w") as comm:
        comm.write(sys.argv[1])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    s.listen()
    print("ready", flush=True)
    select.select([sys.stdin], [], [], 60)
""")


class Held:
    """A process started with a pipe on stdin; it exits when the pipe closes."""

    def __init__(self, process):
        self.process = process
        self.line = process.stdout.readline().strip()
        assert self.line, f"process exited early: {process.stderr.read()}"

    @property
    def pid(self):
        return self.process.pid


@pytest.fixture
def held():
    started = []
    yield started
    for item in started:
        if item.process.poll() is None:
            item.process.stdin.close()
            try:
                item.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                item.process.kill()
                item.process.wait(timeout=10)


def start_catcher(env, held, cgroup, address="0.0.0.0", port=1025, proto="tcp", user=None):
    argv = [sys.executable, "-c", CATCHER, address, str(port), proto]
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"] + argv
    item = Held(env.in_guarded(cgroup, argv, stdin=subprocess.PIPE))
    held.append(item)
    return item


def start_publisher(env, held, comm, port, *extra):
    argv = [sys.executable, "-c", PUBLISHER, comm, str(port), *extra]
    item = Held(env.in_peer(argv, stdin=subprocess.PIPE))
    held.append(item)
    return item


def host_ns(env):
    return f"{NETNS_DIR}/{env.ns_peer}"


def verify(env, *args, path=None, host=True, json_output=True, prefix=()):
    """Run mcguard verify ARGS with --host-netns at the peer; returns (exit, report or text, stderr).

    path replaces PATH (the tools verify runs); prefix goes before the mcguard
    command line, to run it in another namespace or as another user.
    """
    argv = env.mcguard_argv("verify", *args)
    if host:
        argv += ["--host-netns", host_ns(env)]
    if json_output:
        argv.append("--json")
    environment = dict(os.environ, PATH=path or f"{SYSTEM_PATH}:{os.environ.get('PATH', '')}")
    result = subprocess.run(list(prefix) + argv, text=True, capture_output=True, timeout=60,
                            env=environment)
    if json_output and result.returncode in (0, 1, 3):
        assert result.stdout.strip(), f"no report, stderr: {result.stderr}"
        return result.returncode, json.loads(result.stdout), result.stderr
    return result.returncode, result.stdout, result.stderr


def check(report, name):
    return next(item for item in report["checks"] if item["check"] == name)


def kinds(report, name):
    return [finding["kind"] for finding in check(report, name)["findings"]]


def statuses(report):
    return {item["check"]: item["status"] for item in report["checks"]}


def in_namespace(env, namespace, *command):
    """Run a command in one of the test's namespaces; fails the test when it fails."""
    result = subprocess.run(["nsenter", f"--net={NETNS_DIR}/{namespace}", "--", *command],
                            text=True, capture_output=True, timeout=30)
    assert result.returncode == 0, f"{command}: {result.stderr}"
    return result.stdout


def write_script(directory, name, body):
    script = Path(directory) / name
    script.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


# The catcher's own sockets.

def test_unguarded_wildcard_catcher_exposed(env, held):
    cgroup = env.cgroup("catcher")
    catcher = start_catcher(env, held, cgroup)

    code, report, _ = verify(env, cgroup)
    sockets = check(report, "sockets")
    finding = next(item for item in sockets["findings"] if item["kind"] == "exposed")

    assert code == 1
    assert report["result"] == "exposed"
    assert check(report, "guard")["status"] == "fail"
    assert sockets["status"] == "fail"
    assert finding["address"] == "0.0.0.0"
    assert finding["port"] == 1025
    assert finding["protocol"] == "tcp"
    assert finding["pid"] == catcher.pid
    assert finding["comm"] == "python3"


def test_unguarded_exposed_text_names_socket(env, held):
    cgroup = env.cgroup("catcher")
    catcher = start_catcher(env, held, cgroup)

    code, text, _ = verify(env, cgroup, json_output=False)

    assert code == 1
    assert "FAIL  guard" in text
    assert "FAIL  sockets" in text
    assert f"tcp 0.0.0.0:1025 (IPv4) pid {catcher.pid} python3" in text
    assert text.rstrip().splitlines()[-1].startswith("result: exposed (exit 1)")


def test_dual_stack_wildcard_counts_both_families(env, held):
    cgroup = env.cgroup("catcher")
    start_catcher(env, held, cgroup, address="::")

    code, report, _ = verify(env, cgroup)
    finding = check(report, "sockets")["findings"][0]

    assert code == 1
    assert finding["address"] == "::"
    assert finding["families"] == "IPv4 and IPv6"


def test_bound_udp_socket_exposed(env, held):
    cgroup = env.cgroup("catcher")
    start_catcher(env, held, cgroup, port=1053, proto="udp")

    code, report, _ = verify(env, cgroup)
    finding = check(report, "sockets")["findings"][0]

    assert code == 1
    assert (finding["protocol"], finding["address"], finding["port"]) == ("udp", "0.0.0.0", 1053)


def test_guarded_loopback_catcher_clean(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup, address="::")

    code, report, stderr = verify(env, cgroup)

    assert code == 0, (report, stderr)
    assert report["result"] == "clean"
    assert statuses(report) == {"guard": "pass", "sockets": "pass", "engine": "skip",
                                "publishers": "pass", "nat": "pass", "ipv6": "pass"}
    assert kinds(report, "sockets") == ["loopback"]
    assert report["ports"] == [1025]


def test_guarded_clean_text_exit_zero(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup)

    code, text, _ = verify(env, cgroup, json_output=False)

    assert code == 0
    assert "PASS  guard" in text
    assert "SKIP  engine     not the cgroup of a Docker or Podman container" in text
    assert text.rstrip().splitlines()[-1].startswith("result: clean (exit 0)")


def test_autobind_listener_contained(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", cgroup)
    catcher = Held(env.in_guarded(cgroup, [sys.executable, "-c", AUTOBIND],
                                  stdin=subprocess.PIPE))
    held.append(catcher)

    code, report, _ = verify(env, cgroup)
    finding = check(report, "sockets")["findings"][0]

    assert code == 0, report
    assert finding["kind"] == "contained"
    assert finding["status"] == "pass"
    assert finding["port"] == int(catcher.line)


def test_escaped_listener_fails(env, held):
    cgroup = env.cgroup("catcher")
    catcher = start_catcher(env, held, cgroup)
    env.mcguard("attach", "--wildcard", "loopback", cgroup)

    code, report, _ = verify(env, cgroup)
    finding = check(report, "sockets")["findings"][0]

    assert code == 1
    assert check(report, "guard")["status"] == "pass"
    assert finding["kind"] == "escaped"
    assert finding["escaped"] is True
    assert (finding["port"], finding["pid"]) == (1025, catcher.pid)


# Connect to PEER:PORT, print one line, and keep the connection until stdin closes.
CONNECT_AND_HOLD = textwrap.dedent("""\
    import select, socket, sys
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
    print(c.getsockname()[1], flush=True)
    select.select([sys.stdin], [], [], 60)
""")


def test_escaped_connection_fails(env, held):
    cgroup = env.cgroup("catcher")
    start_publisher(env, held, "relay", 2525)
    held.append(Held(env.in_guarded(cgroup, [sys.executable, "-c", CONNECT_AND_HOLD,
                                             mcgtest.PEER_V4, "2525"], stdin=subprocess.PIPE)))
    env.mcguard("attach", "--wildcard", "loopback", cgroup)

    code, report, _ = verify(env, cgroup)
    finding = check(report, "sockets")["findings"][0]

    assert code == 1
    assert finding["kind"] == "escaped"
    assert (finding["address"], finding["port"]) == (mcgtest.PEER_V4, 2525)


def test_catcher_not_running_warns(env):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", cgroup)

    code, report, _ = verify(env, cgroup)
    strict_code, _, _ = verify(env, cgroup, "--strict")

    assert check(report, "sockets")["status"] == "warn"
    assert code == 0
    assert report["result"] == "warnings"
    assert strict_code == 1


# The guard.

def test_audit_mode_fails_without_allow_audit(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--mode", "audit", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup, address="127.0.0.1")

    code, report, _ = verify(env, cgroup)
    allowed_code, allowed, _ = verify(env, cgroup, "--allow-audit")

    assert code == 1
    assert "audit mode" in check(report, "guard")["reason"]
    assert check(report, "guard")["status"] == "fail"
    assert allowed_code == 0
    assert check(allowed, "guard")["status"] == "pass"


def test_guard_on_parent_counts(env, held):
    parent = env.cgroup("catchers")
    cgroup = env.cgroup("catchers/mailpit")
    env.mcguard("attach", "--wildcard", "loopback", parent)
    start_catcher(env, held, cgroup)

    code, report, _ = verify(env, cgroup)
    guards = check(report, "guard")["findings"]

    assert code == 0, report
    assert [guard["cgroup"] for guard in guards] == [env.relative(parent)]


def test_missing_hook_fails(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup, address="127.0.0.1")
    # Detach one link behind mcguard's back, as another tool could.
    subprocess.run(["bpftool", "link", "detach", "pinned",
                    f"{env.pin_root}/v1/guards/{mcgtest.cgroup_id(cgroup)}/connect4"],
                   check=True, capture_output=True)

    code, report, _ = verify(env, cgroup)

    assert code == 1
    assert "connect4" in check(report, "guard")["reason"]


# The host side: publishers, the engine's port list, nat rules.

def test_fake_docker_proxy_on_catcher_port(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup)
    publisher = start_publisher(env, held, "docker-proxy", 1025)

    code, report, _ = verify(env, cgroup)
    finding = check(report, "publishers")["findings"][0]

    assert code == 1
    assert check(report, "sockets")["status"] == "pass"
    assert finding["kind"] == "publisher"
    assert finding["comm"] == "docker-proxy"
    assert finding["pid"] == publisher.pid
    assert finding["port"] == 1025
    assert finding["netns"] == host_ns(env)


def test_publisher_named_in_text(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup)
    publisher = start_publisher(env, held, "rootlesskit", 1025)

    code, text, _ = verify(env, cgroup, json_output=False)

    assert code == 1
    assert "FAIL  publishers" in text
    assert f"rootlesskit (pid {publisher.pid}) publishes the catcher's port" in text


def test_docker_proxy_forwarding_to_catcher(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup)
    # Another host port than the catcher's: only its -container-ip ties it to the catcher.
    start_publisher(env, held, "docker-proxy", 18025, "-proto", "tcp", "-host-port", "18025",
                    "-container-ip", GUARDED_V4, "-container-port", "1025")

    code, report, _ = verify(env, cgroup)
    finding = check(report, "publishers")["findings"][0]

    assert code == 1
    assert finding["port"] == 18025
    assert finding["forwards_to"] == GUARDED_V4


def test_other_listener_on_catcher_port_warns(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup)
    start_publisher(env, held, "nginx", 1025)

    code, report, _ = verify(env, cgroup)
    strict_code, _, _ = verify(env, cgroup, "--strict")

    assert code == 0
    assert check(report, "publishers")["status"] == "warn"
    assert kinds(report, "publishers") == ["listener"]
    assert strict_code == 1


def test_publisher_on_other_port_ignored(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup)
    start_publisher(env, held, "docker-proxy", 8080)

    code, report, _ = verify(env, cgroup)

    assert code == 0, report
    assert check(report, "publishers")["findings"] == []


def test_port_option_adds_host_port(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup)
    start_publisher(env, held, "kubectl", 18025)

    code, report, _ = verify(env, cgroup, "--port", "18025")

    assert code == 1
    assert report["ports"] == [1025, 18025]
    assert check(report, "publishers")["findings"][0]["comm"] == "kubectl"


NFT_DNAT = """\
table ip mcgtest {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        tcp dport 8025 dnat to %s:1025
    }
}
"""


@pytest.mark.parametrize("tool", ["nft", "iptables-nft", "iptables-legacy"])
def test_dnat_toward_catcher_fails(env, held, tool):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup)
    if tool == "nft":
        subprocess.run(["nsenter", f"--net={host_ns(env)}", "--", "nft", "-f", "-"],
                       input=NFT_DNAT % GUARDED_V4, text=True, check=True)
    else:
        in_namespace(env, env.ns_peer, tool, "-t", "nat", "-A", "PREROUTING", "-p", "tcp",
                     "--dport", "8025", "-j", "DNAT", "--to-destination", f"{GUARDED_V4}:1025")

    code, report, stderr = verify(env, cgroup)
    nat = check(report, "nat")

    assert code == 1, (report, stderr)
    assert nat["status"] == "fail"
    assert [finding["catcher_address"] for finding in nat["findings"]] == [GUARDED_V4]
    assert "8025" in nat["findings"][0]["rule"]


def test_ipv6_dnat_toward_catcher_fails(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup, address="::")
    in_namespace(env, env.ns_peer, "ip6tables-legacy", "-t", "nat", "-A", "PREROUTING", "-p",
                 "tcp", "--dport", "1025", "-j", "DNAT", "--to-destination",
                 f"[{GUARDED_V6}]:1025")

    code, report, _ = verify(env, cgroup)

    assert code == 1
    assert check(report, "nat")["findings"][0]["catcher_address"] == GUARDED_V6


def test_dnat_elsewhere_passes(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup)
    subprocess.run(["nsenter", f"--net={host_ns(env)}", "--", "nft", "-f", "-"],
                   input=NFT_DNAT % "203.0.113.9", text=True, check=True)

    code, report, _ = verify(env, cgroup)

    assert code == 0, report
    assert check(report, "nat")["status"] == "pass"


def test_unreadable_nat_table_exits_3(env, held, tmp_path):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup, address="127.0.0.1")
    write_script(tmp_path, "nft", """\
        echo "Error: Could not process rule: Operation not permitted" >&2
        exit 1
    """)

    code, report, _ = verify(env, cgroup, path=f"{tmp_path}:{SYSTEM_PATH}")
    nat = check(report, "nat")

    assert code == 3
    assert report["result"] == "incomplete"
    assert nat["status"] == "skip"
    assert nat["could_not_run"] is True
    assert "Operation not permitted" in nat["reason"]


# IPv6: a port filtered for IPv4 only.

NFT_FILTER = """\
table %s mcgfilter {
    chain input {
        type filter hook input priority filter; policy accept;
        tcp dport 1025 drop
    }
}
"""


@pytest.mark.parametrize("family, expected", [("ip", "warn"), ("inet", "pass")])
def test_ipv4_only_filter_warns(env, held, family, expected):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup)
    subprocess.run(["nsenter", f"--net={NETNS_DIR}/{env.ns_guarded}", "--", "nft", "-f", "-"],
                   input=NFT_FILTER % family, text=True, check=True)

    code, report, _ = verify(env, cgroup)
    strict_code, _, _ = verify(env, cgroup, "--strict")

    assert code == 0, report
    assert check(report, "ipv6")["status"] == expected
    assert strict_code == (1 if expected == "warn" else 0)


def test_ipv4_only_filter_disabled_ipv6_passes(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup)
    in_namespace(env, env.ns_guarded, "iptables-legacy", "-A", "INPUT", "-p", "tcp", "--dport",
                 "1025", "-j", "DROP")
    for namespace in (env.ns_guarded, env.ns_peer):
        env._ns_sysctl(namespace, "net.ipv6.conf.all.disable_ipv6", "1")

    code, report, _ = verify(env, cgroup, "--strict")

    assert code == 0, report
    assert check(report, "ipv6")["reason"].startswith("IPv6 is disabled")


# Without root.

def nobody_prefix(env):
    """Return a command prefix that runs as user nobody in the guarded namespace, like a pre-commit hook."""
    return ["nsenter", f"--net={NETNS_DIR}/{env.ns_guarded}", "--", "setpriv",
            f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]


def test_non_root_skips_privileged_checks(env, held):
    cgroup = env.cgroup("catcher")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    start_catcher(env, held, cgroup, user=NOBODY)

    code, report, stderr = verify(env, cgroup, host=False, prefix=nobody_prefix(env))

    assert code == 0, (report, stderr)
    assert statuses(report) == {"guard": "skip", "sockets": "pass", "engine": "skip",
                                "publishers": "skip", "nat": "skip", "ipv6": "skip"}
    assert "needs root" in check(report, "guard")["reason"]
    assert not any(item["could_not_run"] for item in report["checks"])


def test_non_root_still_finds_exposed_listener(env, held):
    cgroup = env.cgroup("catcher")
    catcher = start_catcher(env, held, cgroup, user=NOBODY)

    code, text, _ = verify(env, cgroup, host=False, json_output=False, prefix=nobody_prefix(env))

    assert code == 1
    assert f"tcp 0.0.0.0:1025 (IPv4) pid {catcher.pid}" in text
    assert "SKIP  nat        reading the nat table needs root" in text


def test_non_root_other_users_processes_skipped(env, held):
    cgroup = env.cgroup("catcher")
    start_catcher(env, held, cgroup)

    code, text, stderr = verify(env, cgroup, host=False, json_output=False,
                                prefix=nobody_prefix(env))

    assert code == 0, (text, stderr)
    assert "SKIP  sockets    1 of 1 processes belong to other users" in text
    assert "Traceback" not in stderr
    assert "error" not in stderr


# Bad input.

@pytest.mark.parametrize("args, message", [
    ((), "takes exactly one of CGROUP"),
    (("a", "b"), "takes exactly one of CGROUP"),
    (("a", "--pid", "1"), "takes exactly one of CGROUP"),
    (("--port", "0", "a"), "invalid --port"),
    (("--port", "http", "a"), "invalid --port"),
    (("--pid", "0"), "invalid --pid"),
    (("--pid", "x"), "invalid --pid"),
    (("--pid", "4194304"), "no such process"),
    (("MOUNT",), "cgroup2 root"),
    (("no-such-cgroup-here",), "No such file or directory"),
    (("--cgroup-root", "/tmp", "a"), "--cgroup-root applies to --unit and --container only"),
])
def test_bad_input_exits_2(env, args, message):
    placeholders = {"a": env.cgroup("a"), "MOUNT": env.mount}
    args = tuple(placeholders.get(arg, arg) for arg in args)

    code, text, stderr = verify(env, *args, host=False)

    assert code == 2, (text, stderr)
    assert message in stderr


def test_bad_host_netns_exits_2(env, tmp_path):
    code, _, stderr = verify(env, env.cgroup("a"), "--host-netns", str(tmp_path), host=False)

    assert code == 2
    assert "invalid --host-netns" in stderr


# Systemd units: a stand-in systemctl that prints ControlGroup as systemd does.

SYSTEMCTL = """\
    echo "$@" >> "{log}"
    [ "$1 $2 $3 $4 $5" = "show -p ControlGroup --value --" ] || exit 64
    case "$6" in
    mailpit.service) echo /system.slice/mailpit.service ;;
    *) echo ;;
    esac
"""


@pytest.fixture
def systemctl(tmp_path):
    """A directory with a stand-in systemctl, and the log of its calls."""
    log = tmp_path / "systemctl.log"
    write_script(tmp_path, "systemctl", SYSTEMCTL.format(log=log))
    return tmp_path, log


def test_unit_resolves_control_group(env, held, systemctl):
    bin_dir, log = systemctl
    cgroup = env.cgroup("system.slice/mailpit.service")
    catcher = start_catcher(env, held, cgroup)

    code, report, _ = verify(env, "--unit", "mailpit.service", "--cgroup-root", env.root,
                             path=f"{bin_dir}:{SYSTEM_PATH}")

    assert code == 1
    assert report["target"]["cgroup"] == env.relative(cgroup)
    assert report["target"]["selector"] == "unit"
    assert check(report, "sockets")["findings"][0]["pid"] == catcher.pid
    assert log.read_text().split() == ["show", "-p", "ControlGroup", "--value", "--",
                                       "mailpit.service"]


def test_attach_by_unit(env, held, systemctl):
    bin_dir, _ = systemctl
    cgroup = env.cgroup("system.slice/mailpit.service")
    environment = dict(os.environ, PATH=f"{bin_dir}:{SYSTEM_PATH}")

    subprocess.run(env.mcguard_argv("attach", "--wildcard", "loopback", "--unit",
                                    "mailpit.service", "--cgroup-root", env.root),
                   check=True, env=environment, capture_output=True)
    start_catcher(env, held, cgroup)
    code, report, _ = verify(env, "--unit", "mailpit.service", "--cgroup-root", env.root,
                             path=f"{bin_dir}:{SYSTEM_PATH}")

    assert env.relative(cgroup) in env.status()
    assert code == 0, report


def test_unit_not_running_exits_2(env, systemctl):
    bin_dir, _ = systemctl

    code, _, stderr = verify(env, "--unit", "stopped.service", "--cgroup-root", env.root,
                             path=f"{bin_dir}:{SYSTEM_PATH}")

    assert code == 2
    assert "unit stopped.service has no cgroup" in stderr


def test_unit_without_systemctl_exits_2(env, tmp_path):
    code, _, stderr = verify(env, "--unit", "mailpit.service", path=str(tmp_path))

    assert code == 2
    assert "systemctl not found" in stderr


def test_unit_systemctl_failure_exits_2(env, tmp_path):
    write_script(tmp_path, "systemctl", """\
        echo "System has not been booted with systemd as init system (PID 1). Can't operate." >&2
        exit 1
    """)

    code, _, stderr = verify(env, "--unit", "mailpit.service", path=f"{tmp_path}:{SYSTEM_PATH}")

    assert code == 2
    assert "System has not been booted with systemd" in stderr


def test_pid_resolves_cgroup(env, held):
    cgroup = env.cgroup("catcher")
    catcher = start_catcher(env, held, cgroup, address="127.0.0.1")

    code, report, _ = verify(env, "--pid", str(catcher.pid))

    assert report["target"]["cgroup"] == env.relative(cgroup)
    assert code == 1  # no guard
    assert check(report, "sockets")["status"] == "pass"


# Containers: cgroup directories with the engines' naming schemes, and
# stand-in engine CLIs that print inspect output in the engines' format.

def docker_inspect(container_id, pid, ports, name="/mailpit"):
    """`docker container inspect` output for one running container (Docker Engine API 1.50 fields)."""
    return [{
        "Id": container_id,
        "Created": "2026-12-04T20:00:00.000000000Z",
        "Path": "/mailpit",
        "Args": [],
        "State": {"Status": "running", "Running": True, "Paused": False, "Restarting": False,
                  "OOMKilled": False, "Dead": False, "Pid": pid, "ExitCode": 0, "Error": "",
                  "StartedAt": "2026-12-04T20:00:01.000000000Z",
                  "FinishedAt": "0001-01-01T00:00:00Z"},
        "Image": "sha256:" + "ab" * 32,
        "Name": name,
        "RestartCount": 0,
        "Driver": "overlay2",
        "HostConfig": {
            "NetworkMode": "bridge",
            "PortBindings": {port: [{"HostIp": host_ip, "HostPort": host_port}]
                             for port, host_ip, host_port in ports},
            "CgroupParent": "",
        },
        "Config": {"Hostname": container_id[:12], "ExposedPorts": {"1025/tcp": {}, "8025/tcp": {}}},
        "NetworkSettings": {
            "Ports": dict({"8025/tcp": None},
                          **{port: [{"HostIp": host_ip, "HostPort": host_port}]
                             for port, host_ip, host_port in ports}),
            "IPAddress": "172.17.0.2",
            "Networks": {"bridge": {"IPAddress": "172.17.0.2", "Gateway": "172.17.0.1"}},
        },
    }]


def podman_inspect(container_id, pid, ports):
    """`podman container inspect` output: the same layout, the name without "/"."""
    document = docker_inspect(container_id, pid, ports, name="mailpit")
    document[0]["State"]["Status"] = "running"
    document[0]["HostConfig"]["CgroupManager"] = "systemd"
    return document


ENGINE = """\
    echo "$@" >> "{log}"
    [ "$1 $2 $3" = "container inspect --" ] || {{ echo "unexpected arguments: $*" >&2; exit 64; }}
    case "$4" in
    mailpit|{id}) cat "{document}" ;;
    *) echo "Error: No such container: $4" >&2; exit 1 ;;
    esac
"""

ENGINE_DOWN = """\
    echo "$@" >> "{log}"
    echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
    exit 1
"""


def install_engine(directory, name, document, container_id=CONTAINER_ID):
    """Put a stand-in engine CLI in directory; returns the log of its calls."""
    log = Path(directory) / f"{name}.log"
    path = Path(directory) / f"{name}-inspect.json"
    path.write_text(json.dumps(document, indent=4))
    write_script(directory, name, ENGINE.format(log=log, id=container_id, document=path))
    return log


def install_engine_down(directory, name="docker"):
    log = Path(directory) / f"{name}.log"
    write_script(directory, name, ENGINE_DOWN.format(log=log))
    return log


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_container_name_through_engine(env, held, tmp_path, engine):
    scope = "docker-%s.scope" if engine == "docker" else "libpod-%s.scope"
    slice_name = "system.slice" if engine == "docker" else "machine.slice"
    cgroup = env.cgroup(f"{slice_name}/{scope % CONTAINER_ID}")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    catcher = start_catcher(env, held, cgroup)
    make = docker_inspect if engine == "docker" else podman_inspect
    log = install_engine(tmp_path, engine,
                         make(CONTAINER_ID, catcher.pid, [("1025/tcp", "0.0.0.0", "1025")]))

    code, report, _ = verify(env, "--container", "mailpit", "--cgroup-root", env.root,
                             path=f"{tmp_path}:{SYSTEM_PATH}")
    engine_check = check(report, "engine")

    assert code == 1
    assert report["target"]["cgroup"] == env.relative(cgroup)
    assert report["target"]["container"]["engine"] == engine
    assert report["target"]["container"]["name"] == "mailpit"
    assert engine_check["status"] == "fail"
    assert engine_check["findings"][0]["host_ip"] == "0.0.0.0"
    assert engine_check["findings"][0]["container_port"] == 1025
    assert check(report, "sockets")["status"] == "pass"
    assert "container inspect -- mailpit" in log.read_text()


def test_container_published_on_loopback_passes(env, held, tmp_path):
    cgroup = env.cgroup(f"system.slice/docker-{CONTAINER_ID}.scope")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    catcher = start_catcher(env, held, cgroup)
    install_engine(tmp_path, "docker", docker_inspect(CONTAINER_ID, catcher.pid,
                                                      [("8025/tcp", "127.0.0.1", "18025")]))

    code, text, _ = verify(env, "--container", "mailpit", "--cgroup-root", env.root,
                           path=f"{tmp_path}:{SYSTEM_PATH}", json_output=False)

    assert code == 0, text
    assert "PASS  engine     docker publishes ports on loopback only of container mailpit" in text
    assert f"container {CONTAINER_ID[:12]} \"mailpit\"" in text.splitlines()[0]


def test_cgroup_operand_of_container_asks_engine(env, held, tmp_path):
    cgroup = env.cgroup(f"system.slice/docker-{CONTAINER_ID}.scope")
    env.mcguard("attach", "--wildcard", "loopback", cgroup)
    catcher = start_catcher(env, held, cgroup)
    install_engine(tmp_path, "docker", docker_inspect(CONTAINER_ID, catcher.pid,
                                                      [("1025/tcp", "", "1025")]))

    code, report, _ = verify(env, cgroup, path=f"{tmp_path}:{SYSTEM_PATH}")

    assert code == 1
    assert check(report, "engine")["findings"][0]["text"].startswith(
        "1025/tcp published on every address")


@pytest.mark.parametrize("layout, scheme", [
    (f"system.slice/docker-{CONTAINER_ID}.scope", "Docker, systemd cgroup driver"),
    (f"docker/{CONTAINER_ID}", "Docker, cgroupfs cgroup driver"),
    (f"machine.slice/libpod-{CONTAINER_ID}.scope", "Podman, systemd cgroup driver"),
    (f"libpod_parent/libpod-{CONTAINER_ID}", "Podman, cgroupfs cgroup driver"),
    (f"user.slice/libpod-payload-{CONTAINER_ID}", "Podman, --cgroups=split"),
    (f"mcguard-catchers/{CONTAINER_ID}", "cgroupfs cgroup driver, custom parent"),
])
def test_container_id_without_engine(env, tmp_path, layout, scheme):
    cgroup = env.cgroup(layout)
    env.cgroup(f"machine.slice/libpod-conmon-{CONTAINER_ID}.scope")
    env.cgroup(f"system.slice/docker-{OTHER_ID}.scope")
    log = install_engine_down(tmp_path)

    code, report, stderr = verify(env, "--container", CONTAINER_ID, "--cgroup-root", env.root,
                                  path=f"{tmp_path}:{SYSTEM_PATH}")

    assert code in (0, 1), stderr
    assert report["target"]["cgroup"] == env.relative(cgroup)
    assert report["target"]["container"]["cgroup_scheme"] == scheme
    assert report["target"]["container"]["engine"] is None
    assert "no engine answered" in check(report, "engine")["reason"]
    assert "Cannot connect to the Docker daemon" in check(report, "engine")["reason"]
    assert log.exists()


def test_attach_by_container_id(env, held, tmp_path):
    cgroup = env.cgroup(f"docker/{CONTAINER_ID}")
    install_engine_down(tmp_path)
    environment = dict(os.environ, PATH=f"{tmp_path}:{SYSTEM_PATH}")

    result = subprocess.run(env.mcguard_argv("attach", "--wildcard", "loopback", "--container",
                                             CONTAINER_ID, "--cgroup-root", env.root),
                            env=environment, capture_output=True, text=True)
    start_catcher(env, held, cgroup)

    assert result.returncode == 0, result.stderr
    assert env.status()[env.relative(cgroup)]["wildcard"] == "loopback"
    assert env.probe(cgroup, {"family": "ipv4", "type": "tcp", "action": "bind",
                              "address": "0.0.0.0", "port": 0})["sockname"][0] == "127.0.0.1"


def test_container_name_without_engine_exits_2(env, tmp_path):
    install_engine_down(tmp_path)

    code, _, stderr = verify(env, "--container", "mailpit", "--cgroup-root", env.root,
                             path=f"{tmp_path}:{SYSTEM_PATH}")

    assert code == 2
    assert "give the full 64-character container ID" in stderr
    assert "docker: Cannot connect to the Docker daemon" in stderr


def test_container_unknown_to_engine_exits_2(env, held, tmp_path):
    install_engine(tmp_path, "docker", docker_inspect(CONTAINER_ID, 1, []))

    code, _, stderr = verify(env, "--container", "mailhog", "--cgroup-root", env.root,
                             path=f"{tmp_path}:{SYSTEM_PATH}")

    assert code == 2
    assert "No such container: mailhog" in stderr


def test_container_two_cgroups_exits_2(env, tmp_path):
    env.cgroup(f"system.slice/docker-{CONTAINER_ID}.scope")
    env.cgroup(f"docker/{CONTAINER_ID}")
    install_engine_down(tmp_path)

    code, _, stderr = verify(env, "--container", CONTAINER_ID, "--cgroup-root", env.root,
                             path=f"{tmp_path}:{SYSTEM_PATH}")

    assert code == 2
    assert "2 cgroups below" in stderr


def test_container_not_found_exits_2(env, tmp_path):
    install_engine_down(tmp_path)

    code, _, stderr = verify(env, "--container", OTHER_ID, "--cgroup-root", env.root,
                             path=f"{tmp_path}:{SYSTEM_PATH}")

    assert code == 2
    assert "no cgroup named after ID" in stderr


def v1_hierarchy():
    """The mount point of a cgroup v1 hierarchy, or None on a host with cgroup2 only."""
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup":
                return fields[4]
    return None


@pytest.fixture
def v1_root(tmp_path):
    """A test directory in a cgroup v1 hierarchy (a plain directory where there is none)."""
    hierarchy = v1_hierarchy()
    if hierarchy is None:
        yield tmp_path
        return
    root = Path(hierarchy) / f"mcguard-test.{os.getpid()}"
    root.mkdir()
    try:
        yield root
    finally:
        # A v1 cgroup directory contains control files, which rmdir removes with it.
        for top, _, _ in os.walk(root, topdown=False):
            os.rmdir(top)


def test_container_on_cgroup_v1_refused(env, tmp_path, v1_root):
    (v1_root / "docker" / CONTAINER_ID).mkdir(parents=True)
    install_engine_down(tmp_path)

    code, _, stderr = verify(env, "--container", CONTAINER_ID, "--cgroup-root", str(v1_root),
                             path=f"{tmp_path}:{SYSTEM_PATH}")
    result = subprocess.run(env.mcguard_argv("attach", "--container", CONTAINER_ID,
                                             "--cgroup-root", str(v1_root)),
                            env=dict(os.environ, PATH=f"{tmp_path}:{SYSTEM_PATH}"),
                            capture_output=True, text=True)

    assert code == 2
    assert "is not on cgroup2" in stderr
    assert result.returncode == 2
    assert "is not on cgroup2" in result.stderr


# The deploy files.

DROP_IN = REPO_ROOT / "deploy" / "systemd" / "mcguard-attach.conf"


def drop_in_command():
    """The ExecStartPre command line of the drop-in, without its "+" prefix."""
    for line in DROP_IN.read_text().splitlines():
        if line.startswith("ExecStartPre="):
            return line.split("=", 1)[1].lstrip("+")
    raise AssertionError(f"no ExecStartPre= in {DROP_IN}")


def test_drop_in_passes_systemd_analyze(env, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze not found: install the systemd package (tests/deps.sh)")
    units = tmp_path / "units"
    (units / "catcher.service.d").mkdir(parents=True)
    (units / "catcher.service").write_text("[Service]\nExecStart=/bin/sleep 60\n")
    # The drop-in names the installed path; point it at the built binary.
    text = DROP_IN.read_text().replace("/usr/local/sbin/mcguard", env.binary)
    (units / "catcher.service.d" / "mcguard.conf").write_text(text)

    result = subprocess.run([analyze, "verify", "--man=no", str(units / "catcher.service")],
                            env=dict(os.environ, SYSTEMD_UNIT_PATH=f"{units}:"),
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_drop_in_command_guards_unit(env, held, systemctl):
    bin_dir, _ = systemctl
    cgroup = env.cgroup("system.slice/mailpit.service")
    argv = drop_in_command().replace("%n", "mailpit.service").split()
    assert argv[0] == "/usr/local/sbin/mcguard"
    argv = [env.binary, argv[1], "--pin-root", env.pin_root, *argv[2:],
            "--cgroup-root", env.root]

    result = subprocess.run(argv, env=dict(os.environ, PATH=f"{bin_dir}:{SYSTEM_PATH}"),
                            capture_output=True, text=True)
    start_catcher(env, held, cgroup)

    assert result.returncode == 0, result.stderr
    assert env.status()[env.relative(cgroup)]["wildcard"] == "loopback"
    assert verify(env, "--unit", "mailpit.service", "--cgroup-root", env.root,
                  path=f"{bin_dir}:{SYSTEM_PATH}")[0] == 0


def test_compose_example_publishes_nothing():
    compose = yaml.safe_load((REPO_ROOT / "deploy" / "compose" / "compose.yaml").read_text())
    services = compose["services"]

    assert all("ports" not in service for service in services.values())
    assert services["mailpit"]["cgroup_parent"]
    assert any(service.get("network_mode") == "service:mailpit" for service in services.values())
