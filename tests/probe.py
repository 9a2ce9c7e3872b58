#!/usr/bin/env python3
"""Make socket calls as a guarded process would and print what the kernel returned.

Usage: probe.py OPS, where OPS is a JSON object or a list of them. Each op
runs in order and prints one JSON line:

    {"errno": 0 or N, "error": "EPERM" or null, "step": failing call or null,
     "sockname": [address, port] or null, "pid": N, "comm": "python3",
     "errors": {"EPERM": N}}   (errors only for "count")

Op fields:
    family    "ipv4" or "ipv6" (the socket's family)
    type      "tcp" or "udp"
    action    bind      bind to address:port
              listen    bind (when address is given), listen for TCP, keep the socket
              connect   connect to address:port
              send      connect, then send() one byte
              sendto    sendto() one byte to address:port, unconnected
              fastopen  TCP sendto(MSG_FASTOPEN) to address:port
    address, port   the address of the call
    scope     interface name for an IPv6 scope id (fe80::1%veth0)
    v6only    true or false sets IPV6_V6ONLY before the call; absent leaves the default
    count     repeat the action N times on fresh sockets, or on one UDP socket
              for sendto, and report the errno counts
    timeout   seconds a connect may take; 2 by default

Sockets from "listen" stay open after the last op for "hold" seconds (an op
field; the largest value counts, 30 by default), or until stdin closes when
stdin is a pipe.
The probe exits 0 whatever the calls returned; a bad op exits 2.
"""

import errno
import json
import os
import select
import socket
import stat
import sys
import time

MSG_FASTOPEN = getattr(socket, "MSG_FASTOPEN", 0x20000000)


def comm():
    with open("/proc/self/comm", encoding="utf-8") as name:
        return name.read().strip()


def make_socket(op):
    family = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}[op["family"]]
    kind = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}[op["type"]]
    sock = socket.socket(family, kind)
    if op.get("v6only") is not None:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(op["v6only"]))
    sock.settimeout(op.get("timeout", 2))
    return sock


def sockaddr(op):
    address = op.get("address", "")
    port = op.get("port", 0)
    if op["family"] == "ipv4":
        return (address, port)
    scope = socket.if_nametoindex(op["scope"]) if op.get("scope") else 0
    return (address, port, 0, scope)


def sockname(sock):
    try:
        name = sock.getsockname()
    except OSError:
        return None
    return [name[0], name[1]]


def steps(sock, op):
    """Return the (name, function) steps of the op's action, in order."""
    address = sockaddr(op)
    action = op["action"]
    if action == "bind":
        return [("bind", lambda: sock.bind(address))]
    if action == "listen":
        listed = [("bind", lambda: sock.bind(address))] if "address" in op else []
        if op["type"] == "tcp":
            listed.append(("listen", lambda: sock.listen(16)))
        return listed
    if action == "connect":
        return [("connect", lambda: sock.connect(address))]
    if action == "send":
        return [("connect", lambda: sock.connect(address)), ("send", lambda: sock.send(b"x"))]
    if action == "sendto":
        return [("sendto", lambda: sock.sendto(b"x", address))]
    if action == "fastopen":
        return [("sendto", lambda: sock.sendto(b"x", MSG_FASTOPEN, address))]
    raise ValueError(f"unknown action {action!r}")


def call(sock, op):
    """Make the op's calls on sock; return (errno, step) of the first failure, or (0, None)."""
    for name, function in steps(sock, op):
        try:
            function()
        except socket.timeout:
            return errno.ETIMEDOUT, name
        except OSError as error:
            return error.errno, name
    return 0, None


def run_op(op, open_sockets):
    count = op.get("count")
    if count is None:
        sock = make_socket(op)
        code, step = call(sock, op)
        result = {"sockname": sockname(sock), "step": step}
        if op["action"] == "listen" and code == 0:
            open_sockets.append(sock)
        else:
            sock.close()
    else:
        errors = {}
        code, step = 0, None
        shared = make_socket(op) if op["action"] == "sendto" else None
        for _ in range(count):
            sock = shared or make_socket(op)
            last, last_step = call(sock, op)
            if last and not code:
                code, step = last, last_step
            name = errno.errorcode.get(last, str(last)) if last else "OK"
            errors[name] = errors.get(name, 0) + 1
            if shared is None:
                sock.close()
        result = {"sockname": None, "step": step, "errors": errors}
    result["errno"] = code
    result["error"] = errno.errorcode.get(code) if code else None
    return result


def main():
    try:
        ops = json.loads(sys.argv[1])
    except (IndexError, ValueError) as error:
        print(f"probe: expected one JSON argument: {error}", file=sys.stderr)
        return 2
    if isinstance(ops, dict):
        ops = [ops]

    open_sockets = []
    identity = {"pid": os.getpid(), "comm": comm()}
    for op in ops:
        try:
            result = run_op(op, open_sockets)
        except (KeyError, ValueError) as error:
            print(f"probe: invalid op {op}: {error!r}", file=sys.stderr)
            return 2
        result.update(identity)
        print(json.dumps(result), flush=True)

    if open_sockets:
        hold(max(op.get("hold", 30) for op in ops))
    return 0


def hold(seconds):
    """Wait for seconds, or until stdin closes when stdin is a pipe."""
    deadline = time.monotonic() + seconds
    watch_stdin = stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode)
    while time.monotonic() < deadline:
        if not watch_stdin:
            time.sleep(max(0, deadline - time.monotonic()))
            break
        ready, _, _ = select.select([sys.stdin], [], [], max(0, deadline - time.monotonic()))
        if ready and not os.read(sys.stdin.fileno(), 1):
            break


if __name__ == "__main__":
    sys.exit(main())
