"""Policy of attached guards, checked with real socket calls.

Each table row makes one call in a guarded cgroup inside the guarded network
namespace and checks the errno, the event the call made (or that it made
none) and the guard's counters. All rows share one TestEnv with one guard per
policy, one `mcguard events` stream and one peer listener.
"""

import errno
import itertools
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Optional

import pytest

import mcgtest
from mcgtest import (GUARDED_V4, GUARDED_V6, HOOKS, PEER_V4, PEER_V6, REMOTE2_V4,
                     REMOTE_V4, REMOTE_V6, same_address)

GUARDS = {
    "enforce": [],
    "loopback": ["--wildcard", "loopback"],
    "loopback6": ["--wildcard", "loopback", "--wildcard6", "ipv6"],
    "allow": ["--allow-connect", f"tcp:{REMOTE_V4}:25",
              "--allow-connect", "udp:203.0.113.0/24:1000-2000",
              "--allow-connect", "tcp:[2001:db8:1::/48]:80-90",
              "--allow-bind", GUARDED_V4],
    "audit": ["--mode", "audit"],
    "audit-loopback": ["--mode", "audit", "--wildcard", "loopback"],
}

# The peer accepts TCP on these ports of every address it has, IPv4 and IPv6.
PEER_TCP_PORTS = (25, 85)
# No listener anywhere uses this port: an allowed TCP connect to it is refused.
CLOSED_PORT = 26

EPERM = errno.EPERM
ECONNREFUSED = errno.ECONNREFUSED

# Fixed ports of the table, one per row, so that no row collides with another row's socket.
_ports = itertools.count(21000)


@dataclass
class Case:
    guard: str
    op: dict
    errno: int
    event: Optional[dict] = None
    sockname: Optional[list] = None
    step: Optional[str] = None


def _family(address):
    return "ipv6" if ":" in address else "ipv4"


def _op(action, address, port, kind, **extra):
    op = {"family": _family(address), "type": kind, "action": action,
          "address": address, "port": next(_ports) if port is None else port}
    if "%" in address:
        op["address"], op["scope"] = address.split("%")
    op.update(extra)
    return op


def bind(address, port=None, kind="tcp", **extra):
    return _op("bind", address, port, kind, **extra)


def connect(address, port=None, **extra):
    return _op("connect", address, port, "tcp", **extra)


def fastopen(address, port):
    return _op("fastopen", address, port, "tcp")


def sendto(address, port=None, **extra):
    return _op("sendto", address, port, "udp", **extra)


def send(address, port):
    """UDP connect() then send()."""
    return _op("send", address, port, "udp")


def event(verdict, hook, address=None, port=None, **extra):
    """The expected event; address and port default to those of the call."""
    expected = {"verdict": verdict, "hook": hook, "address": address, "port": port}
    expected.update(extra)
    return expected


def denied(hook, address=None, port=None):
    return event("denied", hook, address, port)


def audited(hook, address=None, port=None):
    return event("audited", hook, address, port)


def rewritten(hook, new_address, address=None, port=None):
    return event("rewritten", hook, address, port, new_address=new_address)


def row(name, guard, op, expected_errno, expected_event=None, sockname=None, step=None):
    return pytest.param(Case(guard, op, expected_errno, expected_event, sockname, step), id=name)


def loopback_rows():
    """Loopback, wildcard and other addresses in the default enforce guard."""
    rows = []
    for address in ("127.0.0.1", "127.0.1.1", "127.0.0.53", "127.255.255.254"):
        port = next(_ports)
        rows += [
            row(f"bind-{address}", "enforce", bind(address, port), 0, sockname=[address, port]),
            row(f"connect-{address}", "enforce", connect(address), ECONNREFUSED),
            row(f"sendto-{address}", "enforce", sendto(address), 0),
        ]
    port = next(_ports)
    rows += [
        row("bind-udp-127.0.0.1", "enforce", bind("127.0.0.1", kind="udp"), 0),
        row("fastopen-127.0.0.1", "enforce", fastopen("127.0.0.1", next(_ports)),
            errno.EINPROGRESS),
        row("send-127.0.0.1", "enforce", send("127.0.0.1", next(_ports)), 0),
        row("bind-::1", "enforce", bind("::1", port), 0, sockname=["::1", port]),
        row("bind-::1-port0", "enforce", bind("::1", 0), 0),
        row("connect-::1", "enforce", connect("::1"), ECONNREFUSED),
        row("sendto-::1", "enforce", sendto("::1"), 0),
        row("bind-mapped-127.0.0.1", "enforce", bind("::ffff:127.0.0.1"), 0),
        row("bind-mapped-127.0.0.1-port0", "enforce", bind("::ffff:127.0.0.1", 0), 0),
        row("connect-mapped-127.0.0.1", "enforce", connect("::ffff:127.0.0.1"), ECONNREFUSED),
        row("sendto-mapped-127.0.0.1", "enforce", sendto("::ffff:127.0.0.1"), 0),
    ]

    # Wildcard destinations: the kernel delivers them on the host itself.
    rows += [
        row("connect-0.0.0.0", "enforce", connect("0.0.0.0"), ECONNREFUSED),
        row("connect-::", "enforce", connect("::"), ECONNREFUSED),
        row("connect-mapped-0.0.0.0", "enforce", connect("::ffff:0.0.0.0"), ECONNREFUSED),
        row("sendto-0.0.0.0", "enforce", sendto("0.0.0.0"), 0),
        row("sendto-::", "enforce", sendto("::"), 0),
        row("sendto-mapped-0.0.0.0", "enforce", sendto("::ffff:0.0.0.0"), 0),
    ]

    # Wildcard binds, without the loopback rewrite.
    rows += [
        row("bind-0.0.0.0", "enforce", bind("0.0.0.0"), EPERM, denied("bind4")),
        row("bind-0.0.0.0-port0", "enforce", bind("0.0.0.0", 0), EPERM, denied("bind4")),
        row("bind-udp-0.0.0.0", "enforce", bind("0.0.0.0", kind="udp"), EPERM, denied("bind4")),
        row("bind-::-dual", "enforce", bind("::", v6only=False), EPERM, denied("bind6")),
        row("bind-::-dual-port0", "enforce", bind("::", 0, v6only=False), EPERM, denied("bind6")),
        row("bind-::-v6only", "enforce", bind("::", v6only=True), EPERM, denied("bind6")),
        row("bind-udp-::", "enforce", bind("::", kind="udp"), EPERM, denied("bind6")),
        row("bind-mapped-0.0.0.0", "enforce", bind("::ffff:0.0.0.0"), EPERM, denied("bind6")),
    ]

    # The host's own addresses and every other non-loopback address.
    others = [
        ("own-v4", GUARDED_V4), ("own-v6", GUARDED_V6),
        ("128.0.0.1", "128.0.0.1"), ("::2", "::2"), ("link-local", "fe80::1%veth0"),
        ("v4-compatible", "::127.0.0.1"), ("nat64", "64:ff9b::7f00:1"),
        ("6to4", "2002:7f00:1::"), ("teredo", "2001:0:c000:202::80ff:fffe"),
    ]
    for name, address in others:
        suffix = "4" if _family(address) == "ipv4" else "6"
        rows += [
            row(f"bind-{name}", "enforce", bind(address), EPERM, denied("bind" + suffix)),
            row(f"connect-{name}", "enforce", connect(address), EPERM,
                denied("connect" + suffix)),
            row(f"sendto-{name}", "enforce", sendto(address), EPERM,
                denied("sendmsg" + suffix)),
        ]
    rows += [
        row("bind-own-v4-port0", "enforce", bind(GUARDED_V4, 0), EPERM, denied("bind4")),
        row("bind-own-v6-port0", "enforce", bind(GUARDED_V6, 0), EPERM, denied("bind6")),
        row("bind-multicast-v4", "enforce", bind("224.0.0.1", kind="udp"), EPERM,
            denied("bind4")),
        row("sendto-multicast-v4", "enforce", sendto("224.0.0.1"), EPERM, denied("sendmsg4")),
        row("connect-multicast-v4", "enforce", connect("224.0.0.1"), EPERM, denied("connect4")),
        row("bind-multicast-v6", "enforce", bind("ff02::1%veth0", kind="udp"), EPERM,
            denied("bind6")),
        row("sendto-multicast-v6", "enforce", sendto("ff02::1%veth0"), EPERM,
            denied("sendmsg6")),
        row("connect-multicast-v6", "enforce", connect("ff02::1%veth0"), EPERM,
            denied("connect6")),
    ]
    return rows


def remote_rows():
    """TCP connect, TCP Fast Open and UDP to remote hosts in the enforce guard."""
    mapped = f"::ffff:{REMOTE_V4}"
    return [
        row("connect-remote-v4", "enforce", connect(REMOTE_V4, 25), EPERM, denied("connect4")),
        row("connect-remote-v6", "enforce", connect(REMOTE_V6, 25), EPERM, denied("connect6")),
        row("connect-remote-mapped", "enforce", connect(mapped, 25), EPERM, denied("connect6")),
        row("fastopen-remote-v4", "enforce", fastopen(REMOTE_V4, 25), EPERM,
            denied("connect4")),
        row("fastopen-remote-v6", "enforce", fastopen(REMOTE_V6, 25), EPERM,
            denied("connect6")),
        row("fastopen-remote-mapped", "enforce", fastopen(mapped, 25), EPERM,
            denied("connect6")),
        row("sendto-remote-v4", "enforce", sendto(REMOTE_V4, 25), EPERM, denied("sendmsg4")),
        row("sendto-remote-v6", "enforce", sendto(REMOTE_V6, 25), EPERM, denied("sendmsg6")),
        # The kernel sends a mapped destination of an AF_INET6 socket as IPv4.
        row("sendto-remote-mapped", "enforce", sendto(mapped, 25), EPERM,
            denied("sendmsg4", REMOTE_V4)),
        row("send-remote-v4", "enforce", send(REMOTE_V4, 25), EPERM, denied("connect4"),
            step="connect"),
        row("send-remote-v6", "enforce", send(REMOTE_V6, 25), EPERM, denied("connect6"),
            step="connect"),
        row("send-remote-mapped", "enforce", send(mapped, 25), EPERM, denied("connect6"),
            step="connect"),
    ]


def rewrite_rows():
    """Wildcard binds under --wildcard loopback, with each --wildcard6 choice."""
    rows = []
    for guard, dual_target in (("loopback", "::ffff:127.0.0.1"), ("loopback6", "::1")):
        cases = [
            ("0.0.0.0", bind("0.0.0.0"), "bind4", "127.0.0.1"),
            ("0.0.0.0-port0", bind("0.0.0.0", 0), "bind4", "127.0.0.1"),
            ("udp-0.0.0.0", bind("0.0.0.0", kind="udp"), "bind4", "127.0.0.1"),
            ("::-dual", bind("::", v6only=False), "bind6", dual_target),
            ("::-dual-port0", bind("::", 0, v6only=False), "bind6", dual_target),
            ("udp-::-dual", bind("::", kind="udp", v6only=False), "bind6", dual_target),
            ("::-v6only", bind("::", v6only=True), "bind6", "::1"),
            ("udp-::-v6only", bind("::", kind="udp", v6only=True), "bind6", "::1"),
            ("mapped-0.0.0.0", bind("::ffff:0.0.0.0"), "bind6", "::ffff:127.0.0.1"),
        ]
        for name, op, hook, target in cases:
            sockname = [target, op["port"]] if op["port"] else [target, None]
            rows.append(row(f"{guard}-bind-{name}", guard, op, 0, rewritten(hook, target),
                            sockname=sockname))
        rows += [
            row(f"{guard}-bind-own-v4", guard, bind(GUARDED_V4), EPERM, denied("bind4")),
            row(f"{guard}-bind-own-v6", guard, bind(GUARDED_V6), EPERM, denied("bind6")),
            row(f"{guard}-bind-::1", guard, bind("::1"), 0),
        ]
    return rows


def allow_list_rows():
    """Allow-list entries admit exactly the address, port and protocol they name."""
    mapped = f"::ffff:{REMOTE_V4}"
    port = next(_ports)
    return [
        row("allow-tcp-match", "allow", connect(REMOTE_V4, 25), 0),
        row("allow-tcp-other-port", "allow", connect(REMOTE_V4, CLOSED_PORT), EPERM,
            denied("connect4")),
        row("allow-tcp-other-proto", "allow", sendto(REMOTE_V4, 25), EPERM,
            denied("sendmsg4")),
        row("allow-tcp-other-addr", "allow", connect(REMOTE2_V4, 25), EPERM,
            denied("connect4")),
        row("allow-tcp-mapped-match", "allow", connect(mapped, 25), 0),
        row("allow-fastopen-match", "allow", fastopen(REMOTE_V4, 25), errno.EINPROGRESS),
        row("allow-fastopen-other-port", "allow", fastopen(REMOTE_V4, CLOSED_PORT), EPERM,
            denied("connect4")),
        row("allow-tcp-mapped-other-port", "allow", connect(mapped, CLOSED_PORT), EPERM,
            denied("connect6")),
        row("allow-udp-range-low", "allow", sendto(REMOTE2_V4, 1000), 0),
        row("allow-udp-range-mid", "allow", sendto(REMOTE2_V4, 1500), 0),
        row("allow-udp-range-high", "allow", sendto(REMOTE2_V4, 2000), 0),
        row("allow-udp-cidr-other-host", "allow", sendto("203.0.113.200", 1500), 0),
        row("allow-udp-below-range", "allow", sendto(REMOTE2_V4, 999), EPERM,
            denied("sendmsg4")),
        row("allow-udp-above-range", "allow", sendto(REMOTE2_V4, 2001), EPERM,
            denied("sendmsg4")),
        row("allow-udp-other-proto", "allow", connect(REMOTE2_V4, 1500), EPERM,
            denied("connect4")),
        row("allow-udp-other-addr", "allow", sendto(REMOTE_V4, 1500), EPERM,
            denied("sendmsg4")),
        row("allow-udp-mapped-match", "allow", sendto(f"::ffff:{REMOTE2_V4}", 1500), 0),
        row("allow-v6-match", "allow", connect(REMOTE_V6, 85), 0),
        row("allow-v6-range-closed", "allow", connect(REMOTE_V6, 80), ECONNREFUSED),
        row("allow-v6-other-port", "allow", connect(REMOTE_V6, 91), EPERM, denied("connect6")),
        row("allow-v6-other-proto", "allow", sendto(REMOTE_V6, 85), EPERM, denied("sendmsg6")),
        row("allow-v6-other-addr", "allow", connect(PEER_V6, 85), EPERM, denied("connect6")),
        row("allow-bind-match", "allow", bind(GUARDED_V4, port), 0,
            sockname=[GUARDED_V4, port]),
        row("allow-bind-port0", "allow", bind(GUARDED_V4, 0), 0),
        row("allow-bind-udp", "allow", bind(GUARDED_V4, kind="udp"), 0),
        row("allow-bind-mapped", "allow", bind(f"::ffff:{GUARDED_V4}"), 0),
        row("allow-bind-other-addr", "allow", bind(PEER_V4), EPERM, denied("bind4")),
        row("allow-bind-v6", "allow", bind(GUARDED_V6), EPERM, denied("bind6")),
        row("allow-bind-wildcard", "allow", bind("0.0.0.0"), EPERM, denied("bind4")),
    ]


def audit_rows():
    """Audit mode allows what enforce would deny or rewrite, and reports it."""
    port4, port6 = next(_ports), next(_ports)
    return [
        row("audit-connect-v4", "audit", connect(REMOTE_V4, 25), 0, audited("connect4")),
        row("audit-connect-v6", "audit", connect(REMOTE_V6, 85), 0, audited("connect6")),
        row("audit-connect-mapped", "audit", connect(f"::ffff:{REMOTE_V4}", 25), 0,
            audited("connect6")),
        row("audit-sendto-v4", "audit", sendto(REMOTE2_V4, 9), 0, audited("sendmsg4")),
        row("audit-sendto-v6", "audit", sendto(REMOTE_V6, 9), 0, audited("sendmsg6")),
        row("audit-bind-0.0.0.0", "audit", bind("0.0.0.0", port4), 0, audited("bind4"),
            sockname=["0.0.0.0", port4]),
        row("audit-bind-::", "audit", bind("::", port6), 0, audited("bind6"),
            sockname=["::", port6]),
        row("audit-bind-own-v4", "audit", bind(GUARDED_V4), 0, audited("bind4")),
        row("audit-connect-loopback", "audit", connect("127.0.0.1"), ECONNREFUSED),
        row("audit-loopback-bind-0.0.0.0", "audit-loopback", bind("0.0.0.0"), 0,
            audited("bind4"), sockname=["0.0.0.0", None]),
        row("audit-loopback-bind-::", "audit-loopback", bind("::", v6only=False), 0,
            audited("bind6"), sockname=["::", None]),
    ]


class Guards:
    """The shared TestEnv with one guarded cgroup per policy in GUARDS."""

    def __init__(self, env):
        self.env = env
        self.cgroups = {}
        for name, options in GUARDS.items():
            self.cgroups[name] = env.cgroup(name)
            env.mcguard("attach", *options, self.cgroups[name])
        self.stream = env.events()
        self._start_peer_listener()

    def _start_peer_listener(self):
        listens = [{"family": "ipv6", "type": "tcp", "action": "listen", "address": "::",
                    "port": port, "v6only": False, "hold": 600} for port in PEER_TCP_PORTS]
        self.listener = self.env.in_peer(
            [sys.executable, str(mcgtest.PROBE), json.dumps(listens)],
            stdin=subprocess.PIPE)
        for _ in listens:
            line = self.listener.stdout.readline()
            assert '"errno": 0' in line, f"peer listener failed: {line}"


@pytest.fixture(scope="module")
def guards(module_env):
    return Guards(module_env)


def nonzero_deltas(before, after):
    """Return {hook: {counter: after - before}} for the counters that changed."""
    deltas = {}
    for hook, counters in after.items():
        for name, value in counters.items():
            delta = value - before.get(hook, {}).get(name, 0)
            if delta:
                deltas.setdefault(hook, {})[name] = delta
    return deltas


def events_of(stream, pid):
    return [record for record in stream.collected
            if record.get("type") == "event" and record.get("pid") == pid]


def wait_for_marker(guards, cgroup):
    """Make one reported call from cgroup and wait for its event.

    Events reach the ring buffer in the order of the calls, so once the marker's
    event has arrived, every event of an earlier call has arrived too.
    """
    result = guards.env.probe(cgroup, connect(REMOTE_V4, 9, timeout=1))
    marker = guards.stream.wait_for(
        lambda record: record.get("type") == "event" and record.get("pid") == result["pid"])
    assert marker is not None, f"no event for the marker call: {guards.stream.describe()}"


COUNTER_OF_VERDICT = {"denied": "denied", "rewritten": "rewritten", "audited": "audited"}


@pytest.mark.parametrize("case", loopback_rows() + remote_rows() + rewrite_rows()
                         + allow_list_rows() + audit_rows())
def test_policy(guards, case):
    env = guards.env
    cgroup = guards.cgroups[case.guard]
    before = env.counters(cgroup)

    result = env.probe(cgroup, case.op)
    after = env.counters(cgroup)

    assert result["error"] == errno.errorcode.get(case.errno), result
    if case.step:
        assert result["step"] == case.step
    if case.sockname:
        address, port = case.sockname
        assert same_address(result["sockname"][0], address), result["sockname"]
        if port is not None:
            assert result["sockname"][1] == port

    if case.event is None:
        assert nonzero_deltas(before, after) == {}
        wait_for_marker(guards, cgroup)
        assert events_of(guards.stream, result["pid"]) == []
        return

    expected = case.event
    counter = COUNTER_OF_VERDICT[expected["verdict"]]
    assert nonzero_deltas(before, after) == {expected["hook"]: {counter: 1}}

    found = guards.stream.wait_for(
        lambda record: record.get("type") == "event" and record.get("pid") == result["pid"])
    assert found is not None, f"no event from pid {result['pid']}: {guards.stream.describe()}"
    assert found["verdict"] == expected["verdict"]
    assert found["hook"] == expected["hook"]
    assert same_address(found["address"], expected["address"] or case.op["address"]), found
    assert found["port"] == (case.op["port"] if expected["port"] is None else expected["port"])
    assert found["family"] == ("ipv4" if expected["hook"].endswith("4") else "ipv6")
    assert found["protocol"] == case.op["type"]
    assert found["pid"] == result["pid"]
    assert found["comm"] == result["comm"]
    assert found["uid"] == 0
    assert found["schema"] == 1
    assert found["cgroup"] == env.relative(cgroup)
    assert found["cgroup_id"] == mcgtest.cgroup_id(cgroup)
    assert found["guard_cgroup"] == env.relative(cgroup)
    assert found["guard_cgroup_id"] == mcgtest.cgroup_id(cgroup)
    if "new_address" in expected:
        assert same_address(found["new_address"], expected["new_address"]), found
    else:
        assert "new_address" not in found
    assert len(events_of(guards.stream, result["pid"])) == 1


# Reachability of rewritten listeners. Each case: guard, the listen op, the
# addresses a client in the guarded namespace reaches, and those it does not.
REACH_CASES = [
    pytest.param("loopback", {"family": "ipv4", "address": "0.0.0.0"},
                 ["127.0.0.1"], [], id="v4-wildcard"),
    pytest.param("loopback", {"family": "ipv6", "address": "::", "v6only": False},
                 ["127.0.0.1"], ["::1"], id="dual-stack-mapped"),
    pytest.param("loopback6", {"family": "ipv6", "address": "::", "v6only": False},
                 ["::1"], ["127.0.0.1"], id="dual-stack-ipv6"),
    pytest.param("loopback", {"family": "ipv6", "address": "::", "v6only": True},
                 ["::1"], ["127.0.0.1"], id="v6only"),
]


@pytest.mark.parametrize("guard, listen, reached, refused", REACH_CASES)
def test_rewritten_listener_reach(guards, guard, listen, reached, refused):
    env = guards.env
    port = next(_ports)
    op = dict(listen, type="tcp", action="listen", port=port, hold=60)
    listener = env.in_guarded(guards.cgroups[guard],
                              [sys.executable, str(mcgtest.PROBE), json.dumps(op)],
                              stdin=subprocess.PIPE)
    try:
        bound = json.loads(listener.stdout.readline())
        assert bound["errno"] == 0, bound

        for address in reached:
            result = env.probe(None, connect(address, port))
            assert result["errno"] == 0, f"connect to {address}: {result}"
        for address in refused:
            result = env.probe(None, connect(address, port))
            assert result["error"] == "ECONNREFUSED", f"connect to {address}: {result}"
        for address in (GUARDED_V4, GUARDED_V6):
            result = env.peer_probe(connect(address, port))
            assert result["error"] == "ECONNREFUSED", f"peer connect to {address}: {result}"
    finally:
        listener.stdin.close()
        listener.wait(timeout=10)


def test_peer_reaches_unguarded(guards):
    """The peer checks above can fail: without a guard, the peer reaches a wildcard listener."""
    env = guards.env
    port = next(_ports)
    op = {"family": "ipv6", "type": "tcp", "action": "listen", "address": "::",
          "port": port, "v6only": False, "hold": 60}
    listener = env.in_guarded(env.cgroup("unguarded"),
                              [sys.executable, str(mcgtest.PROBE), json.dumps(op)],
                              stdin=subprocess.PIPE)
    try:
        assert json.loads(listener.stdout.readline())["errno"] == 0
        assert env.peer_probe(connect(GUARDED_V4, port))["errno"] == 0
        assert env.peer_probe(connect(GUARDED_V6, port))["errno"] == 0
    finally:
        listener.stdin.close()
        listener.wait(timeout=10)


# Counters. Each of these tests has its own TestEnv, so its ring buffer contains
# only the events of that test.

# One denied call per hook in the enforce policy.
DENIED_CALL = {
    "bind4": bind(GUARDED_V4, 0),
    "bind6": bind(GUARDED_V6, 0),
    "connect4": connect(REMOTE_V4, CLOSED_PORT),
    "connect6": connect(REMOTE_V6, CLOSED_PORT),
    "sendmsg4": sendto(REMOTE_V4, CLOSED_PORT),
    "sendmsg6": sendto(REMOTE_V6, CLOSED_PORT),
}


def is_event(hook, pids):
    """Return a predicate for the events of hook made by the processes in pids."""
    return lambda record: (record.get("type") == "event" and record.get("hook") == hook
                           and record.get("pid") in pids)


def count_delivered(stream, hook, pids, expected, timeout):
    """Wait for expected events of hook from pids, then count them after a short settle.

    The settle time lets events beyond the expected number arrive, so that
    duplicates show up as a count that is too high.
    """
    stream.wait_count(is_event(hook, pids), expected, timeout=timeout)
    time.sleep(0.5)
    return stream.count(is_event(hook, pids))


def test_counters_per_hook(env):
    calls = 25
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)

    # No consumer runs during the calls; the ring buffer keeps their events.
    ops = [dict(DENIED_CALL[hook], count=calls) for hook in DENIED_CALL]
    result = env.probe(cgroup, *ops)
    counters = env.counters(cgroup)
    stream = env.events(cgroup)

    for hook in DENIED_CALL:
        assert counters[hook]["denied"] == calls, hook
    for hook in DENIED_CALL:
        expected = calls - counters[hook]["dropped"]
        stream.wait_count(is_event(hook, [result["pid"]]), expected, timeout=10)
    time.sleep(0.5)
    for hook in DENIED_CALL:
        delivered = stream.count(is_event(hook, [result["pid"]]))
        assert delivered + counters[hook]["dropped"] == calls, \
            f"{hook}: {counters[hook]}, {stream.describe(3)}"


def test_counters_with_live_consumer(env):
    calls = 2000
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)
    stream = env.events(cgroup)

    result = env.probe(cgroup, dict(DENIED_CALL["connect4"], count=calls))
    counters = env.counters(cgroup)["connect4"]
    delivered = count_delivered(stream, "connect4", [result["pid"]],
                                calls - counters["dropped"], 20)

    assert result["errors"] == {"EPERM": calls}
    assert counters["denied"] == calls
    assert delivered + counters["dropped"] == calls


@pytest.fixture
def overflowed(env):
    """A guard whose ring buffer filled up with no consumer: (env, cgroup, calls, pids)."""
    cgroup = env.cgroup("a")
    env.mcguard("attach", cgroup)
    chunk, calls, pids = 20000, 0, []
    # A 4 MiB ring buffer has room for about 43,000 events of 96 bytes. Eight chunks
    # fill a buffer of up to 3.5 times that size before the test gives up.
    for _ in range(8):
        result = env.probe(cgroup, dict(DENIED_CALL["connect4"], count=chunk), timeout=60)
        assert result["errors"] == {"EPERM": chunk}
        calls += chunk
        pids.append(result["pid"])
        if env.counters(cgroup)["connect4"]["dropped"] > 0:
            break
    return env, cgroup, calls, pids


def test_counters_exact_on_overflow(overflowed):
    env, cgroup, calls, pids = overflowed
    counters = env.counters(cgroup)["connect4"]
    stream = env.events(cgroup)

    delivered = count_delivered(stream, "connect4", pids, calls - counters["dropped"], 30)
    assert counters["dropped"] > 0
    assert counters["denied"] == calls
    assert delivered + counters["dropped"] == calls


def test_dropped_report_on_overflow(overflowed):
    env, cgroup, _, _ = overflowed
    dropped = env.counters(cgroup)["connect4"]["dropped"]
    stream = env.events(cgroup)

    report = stream.wait_for(lambda record: record.get("type") == "dropped"
                             and record.get("hook") == "connect4", timeout=30)
    assert report is not None, stream.describe(3)
    assert report["dropped"] == dropped
    assert report["guard_cgroup"] == env.relative(cgroup)
