"""mcguard daemon --kubernetes: labelled pods of this node guarded at their
pod-level cgroup, detached and cleaned up when they go, through a list and
watch that survives dropped streams, 410 Gone and a rotated token.

No API server, kubelet or container runtime runs here. In their place the
tests start kube_standin.py, an HTTPS stand-in for the API server with a
self-signed certificate made by openssl. It listens on 127.0.0.1 of the
guarded network namespace, and the daemon runs in that namespace too, so all
API traffic stays on that namespace's loopback. kubelet is replaced by cgroup
directories with kubelet's names for both cgroup drivers, which the tests make
below their own test root; the daemon's --cgroup-root points there.
"""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid

import pytest

from mcgtest import HOOKS, TESTS_DIR, run_daemon_config

STANDIN = TESTS_DIR / "kube_standin.py"
NODE = "node-a"
GUARD_LABEL = {"mcguard.io/guard": "loopback"}

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


def wait_until(predicate, timeout=10, interval=0.05):
    """Return predicate()'s first true value, or its last value after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# Pods and their cgroups

def container_id():
    return uuid.uuid4().hex + uuid.uuid4().hex


def pod_object(name, uid=None, *, namespace="default", qos="Burstable", phase="Running",
               labels=None, annotations=None, node=NODE, containers=("mailpit",)):
    """Return a Pod object in the API's shape; container IDs are random 64-digit hex."""
    uid = uid or str(uuid.uuid4())
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": namespace, "uid": uid,
            "labels": dict(GUARD_LABEL if labels is None else labels),
            "annotations": dict(annotations or {}),
            "creationTimestamp": "2026-12-04T20:00:00Z",
            "managedFields": [{"manager": "kubectl", "operation": "Update", "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:mcguard.io/guard": {}}}}}],
        },
        "spec": {"nodeName": node,
                 "containers": [{"name": c, "image": "axllent/mailpit"} for c in containers]},
        "status": {
            "phase": phase, "qosClass": qos,
            "containerStatuses": [{"name": c, "containerID": f"containerd://{container_id()}",
                                   "ready": True} for c in containers],
        },
    }


def pod_cgroup(pod, driver):
    """Return kubelet's pod-level cgroup path for driver, relative to its cgroup root."""
    uid = pod["metadata"]["uid"]
    qos = pod["status"]["qosClass"].lower()
    if driver == "systemd":
        escaped = uid.replace("-", "_")
        if qos == "guaranteed":
            return f"kubepods.slice/kubepods-pod{escaped}.slice"
        return f"kubepods.slice/kubepods-{qos}.slice/kubepods-{qos}-pod{escaped}.slice"
    if qos == "guaranteed":
        return f"kubepods/pod{uid}"
    return f"kubepods/{qos}/pod{uid}"


def container_cgroup(pod, driver, index=0):
    """Return the cgroup of the pod's container number index, below its pod cgroup."""
    full_id = pod["status"]["containerStatuses"][index]["containerID"].split("://")[1]
    name = f"cri-containerd-{full_id}.scope" if driver == "systemd" else full_id
    return f"{pod_cgroup(pod, driver)}/{name}"


def bind_in(env, cgroup, delay=0.0):
    result = env.run_guarded(cgroup, [sys.executable, "-c", BIND_ANY, str(delay)])
    return result.stdout.strip()


# The stand-in API server and the daemon

class Standin:
    """kube_standin.py in the guarded namespace, with a fake service account directory."""

    def __init__(self, env, workdir):
        self.env = env
        self.workdir = workdir
        self.sa_dir = os.path.join(workdir, "serviceaccount")
        os.mkdir(self.sa_dir)
        cert, key = os.path.join(workdir, "tls.crt"), os.path.join(workdir, "tls.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=30)
        shutil.copy(cert, os.path.join(self.sa_dir, "ca.crt"))
        with open(os.path.join(self.sa_dir, "namespace"), "w", encoding="ascii") as file:
            file.write("mcguard-system")
        self.write_token("token-1")
        self.control_path = os.path.join(workdir, "control.sock")
        self.process = env.in_guarded(None, [sys.executable, STANDIN, "--cert", cert,
                                             "--key", key, "--token", "token-1",
                                             "--control", self.control_path])
        ready, _, _ = select.select([self.process.stdout], [], [], 15)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith("listening "):
            raise RuntimeError(f"the stand-in did not start: {line!r} "
                               f"{self.process.stderr.read() if self.process.poll() else ''}")
        self.port = int(line.split()[1])
        self.url = f"https://127.0.0.1:{self.port}"
        self._control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._control.settimeout(10)
        self._control.connect(self.control_path)
        self._replies = self._control.makefile("r", encoding="utf-8")
        # The stand-in logs every request to stderr: drain it so the pipe never fills.
        threading.Thread(target=self.process.stderr.read, daemon=True).start()

    def write_token(self, token):
        """Replace the token file in one rename, as kubelet's projected volumes do."""
        path = os.path.join(self.sa_dir, "token")
        with open(path + ".new", "w", encoding="ascii") as file:
            file.write(token + "\n")
        os.rename(path + ".new", path)

    def command(self, op, **fields):
        self._control.sendall(json.dumps(dict(fields, op=op)).encode() + b"\n")
        reply = json.loads(self._replies.readline())
        assert "error" not in reply, reply
        return reply

    def put(self, pod):
        return self.command("put", pod=pod)["resourceVersion"]

    def delete(self, pod):
        return self.command("delete", uid=pod["metadata"]["uid"])["resourceVersion"]

    def requests(self):
        return self.command("requests")["requests"]

    def events(self):
        return self.command("events")["events"]

    def watches(self):
        return [r for r in self.requests() if r["method"] == "GET" and r["query"].get("watch")]

    def lists(self):
        return [r for r in self.requests()
                if r["method"] == "GET" and not r["query"].get("watch")]

    def wait_event(self, predicate, timeout=10):
        return wait_until(lambda: next((e for e in self.events() if predicate(e)), None),
                          timeout)

    def close(self):
        self._control.close()
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)


class KubeDaemon:
    """mcguard daemon --kubernetes in the guarded namespace; its log and events are collected."""

    def __init__(self, env, standin, *args, extra_env=None, argv=None):
        argv = argv or env.mcguard_argv(
            "daemon", "--kubernetes", "--node-name", NODE, "--cgroup-root", env.root,
            "--service-account-dir", standin.sa_dir, "--api-server", standin.url,
            "--json", "--reconcile", "1", *args)
        environment = dict(os.environ, **(extra_env or {}))
        self.process = env.in_guarded(None, argv, env=environment)
        self.log, self.events = [], []
        self._changed = threading.Condition()
        self._readers = [threading.Thread(target=self._read, args=(self.process.stderr, False),
                                          daemon=True),
                         threading.Thread(target=self._read, args=(self.process.stdout, True),
                                          daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, events):
        for line in stream:
            with self._changed:
                if events and line.startswith("{"):
                    self.events.append(json.loads(line))
                else:
                    self.log.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_log(self, text, timeout=10, after=0):
        """Return the first log line from index after on that contains text; fail after timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.log[after:]:
                    if text in line:
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None
                                      and not self._readers[0].is_alive()):
                    raise AssertionError(f"daemon did not log {text!r}; log: {self.log}")
                self._changed.wait(min(remaining, 0.2))

    def mark(self):
        """Return the current length of the log, for wait_log(after=...)."""
        with self._changed:
            return len(self.log)

    def lines(self, text):
        with self._changed:
            return [line for line in self.log if text in line]

    def wait_event(self, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for record in self.events:
                    if predicate(record):
                        return record
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(min(remaining, 0.2))

    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(timeout=10)
        for reader in self._readers:
            reader.join(timeout=5)
        return self.process.returncode


@pytest.fixture
def standin(env):
    # A short directory: a Unix socket path must fit in 108 bytes.
    workdir = tempfile.mkdtemp(prefix="mcgk")
    server = Standin(env, workdir)
    yield server
    server.close()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def daemons():
    started = []
    yield started
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait(timeout=10)


def start_daemon(env, standin, daemons, *args, **kwargs):
    daemon = KubeDaemon(env, standin, *args, **kwargs)
    daemons.append(daemon)
    daemon.wait_log("kubernetes: listed")
    return daemon


def guard_on(env, cgroup):
    """Return the status object of the guard on cgroup (relative to the test root), or None."""
    return env.status().get(env.relative(cgroup))


def make_pod_cgroups(env, pod, driver):
    """Create the pod's cgroup and its first container's, as kubelet and the runtime would."""
    env.cgroup(pod_cgroup(pod, driver))
    return env.cgroup(container_cgroup(pod, driver))


# Pods added, removed and deleted

@pytest.mark.parametrize("driver, qos", [
    ("systemd", "Burstable"), ("systemd", "BestEffort"), ("systemd", "Guaranteed"),
    ("cgroupfs", "Burstable"), ("cgroupfs", "BestEffort"), ("cgroupfs", "Guaranteed"),
])
def test_pod_added_guarded(env, standin, daemons, driver, qos):
    daemon = start_daemon(env, standin, daemons)
    pod = pod_object("mailpit", qos=qos)
    container = make_pod_cgroups(env, pod, driver)

    standin.put(pod)
    daemon.wait_log("pod default/mailpit: guarded")

    guard = guard_on(env, pod_cgroup(pod, driver))
    assert guard is not None, env.status()
    assert guard["hooks"] == {hook: "attached" for hook in HOOKS}
    assert guard["mode"] == "enforce"
    assert guard["wildcard"] == "deny"
    assert bind_in(env, container) == "EPERM"
    assert list(env.status()) == [env.relative(pod_cgroup(pod, driver))]


def test_event_names_pod_container_node(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons)
    pod = pod_object("mailpit", containers=("mailpit", "sidecar"))
    make_pod_cgroups(env, pod, "systemd")
    sidecar = env.cgroup(container_cgroup(pod, "systemd", index=1))
    standin.put(pod)
    daemon.wait_log("pod default/mailpit: guarded")

    assert bind_in(env, sidecar) == "EPERM"
    event = daemon.wait_event(lambda record: record.get("type") == "event")

    assert event is not None, daemon.log
    assert event["hook"] == "bind4"
    assert event["kubernetes"] == {"namespace": "default", "pod": "mailpit",
                                   "container": "sidecar", "node": NODE}
    assert event["guard_cgroup"] == env.relative(pod_cgroup(pod, "systemd"))


def test_guarded_event_posted(env, standin, daemons):
    start_daemon(env, standin, daemons)
    pod = pod_object("mailpit")
    make_pod_cgroups(env, pod, "cgroupfs")
    standin.put(pod)

    posted = standin.wait_event(lambda event: event["reason"] == "Guarded")

    assert posted is not None, standin.events()
    assert posted["type"] == "Normal"
    assert posted["involvedObject"] == {"apiVersion": "v1", "kind": "Pod",
                                        "namespace": "default", "name": "mailpit",
                                        "uid": pod["metadata"]["uid"]}
    assert posted["metadata"]["namespace"] == "default"
    assert posted["source"] == {"component": "mcguard", "host": NODE}
    assert env.relative(pod_cgroup(pod, "cgroupfs")) in posted["message"]


def test_pod_cgroup_appears_later(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons)
    pod = pod_object("mailpit", phase="Pending")
    standin.put(pod)
    wait_until(lambda: standin.watches() and standin.command("state")["open_watches"])
    time.sleep(0.5)
    assert guard_on(env, pod_cgroup(pod, "systemd")) is None

    container = make_pod_cgroups(env, pod, "systemd")
    # A catcher takes tens of milliseconds to start before it binds.
    result = bind_in(env, container, delay=0.03)
    line = daemon.wait_log("ms after it appeared (pod default/mailpit)")

    assert result == "EPERM", daemon.log
    assert env.relative(pod_cgroup(pod, "systemd")) in line


def test_label_removed_detached(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons)
    pod = pod_object("mailpit")
    container = make_pod_cgroups(env, pod, "systemd")
    standin.put(pod)
    daemon.wait_log("pod default/mailpit: guarded")

    unlabelled = json.loads(json.dumps(pod))
    unlabelled["metadata"]["labels"] = {"app": "mailpit"}
    standin.put(unlabelled)
    line = daemon.wait_log("removed the guard of")

    assert "no longer matches mcguard.io/guard=loopback" in line
    assert guard_on(env, pod_cgroup(pod, "systemd")) is None
    assert bind_in(env, container) == "bound"
    assert standin.wait_event(lambda event: event["reason"] == "Unguarded") is not None


def test_pod_deleted_cleaned(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons)
    pod = pod_object("mailpit", qos="BestEffort")
    make_pod_cgroups(env, pod, "cgroupfs")
    standin.put(pod)
    daemon.wait_log("pod default/mailpit: guarded")
    guard_id = guard_on(env, pod_cgroup(pod, "cgroupfs"))["cgroup_id"]

    # kubelet removes the pod's cgroups before the API server deletes the object.
    for cgroup in (container_cgroup(pod, "cgroupfs"), pod_cgroup(pod, "cgroupfs")):
        os.rmdir(os.path.join(env.root, cgroup))
    standin.delete(pod)
    line = daemon.wait_log("pod default/mailpit was deleted")

    assert f"its cgroup {env.relative(pod_cgroup(pod, 'cgroupfs'))} is gone" in line
    # Checked before any other mcguard command, which would prune the pins too.
    assert not os.path.exists(os.path.join(env.pin_root, "v1", "guards", str(guard_id)))
    assert env.status() == {}
    assert not standin.wait_event(lambda event: event["reason"] == "Unguarded", timeout=1)


def test_deleted_pod_with_cgroup_detached(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons)
    pod = pod_object("mailpit")
    container = make_pod_cgroups(env, pod, "cgroupfs")
    standin.put(pod)
    daemon.wait_log("pod default/mailpit: guarded")

    standin.delete(pod)
    line = daemon.wait_log("removed the guard of")

    assert "pod default/mailpit was deleted" in line
    assert env.status() == {}
    assert bind_in(env, container) == "bound"


def test_other_pods_not_guarded(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons)
    unlabelled = pod_object("web", labels={"app": "web"})
    other_node = pod_object("mailpit-b", node="node-b")
    selected = pod_object("mailpit")
    for pod in (unlabelled, other_node, selected):
        make_pod_cgroups(env, pod, "systemd")
        standin.put(pod)
    daemon.wait_log("pod default/mailpit: guarded")

    assert list(env.status()) == [env.relative(pod_cgroup(selected, "systemd"))]


# The list and watch

@pytest.mark.parametrize("gone_as", ["status", "event"])
def test_watch_dropped_relist_keeps_guard(env, standin, daemons, gone_as):
    daemon = start_daemon(env, standin, daemons)
    kept, other, deleted, added = (pod_object(name)
                                   for name in ("kept", "other", "deleted", "added"))
    for pod in (kept, other, deleted):
        make_pod_cgroups(env, pod, "systemd")
        standin.put(pod)
    daemon.wait_log("pod default/kept: guarded")
    daemon.wait_log("pod default/deleted: guarded")
    kept_cgroup = pod_cgroup(kept, "systemd")
    generation = guard_on(env, kept_cgroup)["generation"]
    make_pod_cgroups(env, added, "systemd")
    mark = daemon.mark()

    # While the watch is down, one pod goes, one comes, and the history is compacted.
    standin.command("outage", gone_as=gone_as,
                    ops=[{"op": "delete", "uid": deleted["metadata"]["uid"]},
                         {"op": "put", "pod": added}])
    daemon.wait_log("too old (410 Gone): listing the pods again", after=mark)
    daemon.wait_log("pod default/added: guarded", after=mark)
    daemon.wait_log("pod default/deleted is no longer listed", after=mark)

    guard = guard_on(env, kept_cgroup)
    assert guard["generation"] == generation
    assert guard["hooks"] == {hook: "attached" for hook in HOOKS}
    assert not any(env.relative(kept_cgroup) in line for line in daemon.lines("removed"))
    assert guard_on(env, pod_cgroup(deleted, "systemd")) is None
    assert guard_on(env, pod_cgroup(added, "systemd")) is not None
    assert bind_in(env, container_cgroup(kept, "systemd")) == "EPERM"
    # The stand-in serves two pods a page: the relist of three took two.
    assert any("continue" in request["query"] for request in standin.lists())


def test_expired_continue_lists_again(env, standin, daemons):
    pods = [pod_object(f"mailpit-{index}") for index in range(3)]
    for pod in pods:
        make_pod_cgroups(env, pod, "cgroupfs")
        standin.put(pod)
    standin.command("expire_continues", count=1)

    daemon = start_daemon(env, standin, daemons)
    for index in range(3):
        daemon.wait_log(f"pod default/mailpit-{index}: guarded")

    assert daemon.lines("the list snapshot expired (410 Gone): listing from the start")
    assert len(daemon.lines("kubernetes: listed 3 pods")) == 1
    assert len(env.status()) == 3


def test_watch_resumes_from_bookmark(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons)
    pod = pod_object("mailpit")
    make_pod_cgroups(env, pod, "systemd")
    standin.put(pod)
    daemon.wait_log("pod default/mailpit: guarded")
    # A change this watch does not see moves the resourceVersion on; a BOOKMARK tells.
    version = standin.put(pod_object("elsewhere", node="node-b"))
    standin.command("bookmark")
    time.sleep(0.5)
    watches_before = len(standin.watches())

    standin.command("drop_watches", mode="close")
    resumed = wait_until(lambda: standin.watches()[watches_before:], timeout=10)

    assert resumed, daemon.log
    assert resumed[0]["query"]["resourceVersion"] == version
    assert resumed[0]["query"]["allowWatchBookmarks"] == "true"
    assert resumed[0]["query"]["fieldSelector"] == f"spec.nodeName={NODE}"
    assert resumed[0]["query"]["labelSelector"] == "mcguard.io/guard=loopback"
    assert len(standin.lists()) == 1
    assert guard_on(env, pod_cgroup(pod, "systemd")) is not None
    assert daemon.lines("the watch of pods ended")


def test_token_rotated_mid_watch(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons)
    wait_until(lambda: standin.command("state")["open_watches"])
    before = len(standin.requests())

    # kubelet writes the new token first; the old one stays valid until it expires.
    standin.write_token("token-2")
    standin.command("rotate_token", token="token-2")
    pod = pod_object("mailpit")
    make_pod_cgroups(env, pod, "cgroupfs")
    standin.put(pod)
    daemon.wait_log("pod default/mailpit: guarded")

    requests = standin.requests()
    assert all(request["token"] == "token-1" for request in requests[:before])
    assert requests[before:], "no request after the rotation"
    assert all(request["token"] == "token-2" for request in requests[before:])
    assert all(request["accepted"] for request in requests)


def test_token_file_late_retried(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons)
    mark = daemon.mark()

    standin.command("rotate_token", token="token-3")
    daemon.wait_log("rejected the watch (HTTP 401: Unauthorized)", after=mark)
    pod = pod_object("mailpit")
    make_pod_cgroups(env, pod, "systemd")
    standin.put(pod)
    standin.write_token("token-3")
    daemon.wait_log("pod default/mailpit: guarded", timeout=15)

    rejected = [request for request in standin.requests() if not request["accepted"]]
    assert rejected and all(request["token"] == "token-1" for request in rejected)
    assert standin.requests()[-1]["token"] == "token-3"


def test_restart_sweeps_unselected_guard(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons)
    pod = pod_object("mailpit")
    container = make_pod_cgroups(env, pod, "systemd")
    standin.put(pod)
    daemon.wait_log("pod default/mailpit: guarded")
    assert daemon.stop() == 0
    assert guard_on(env, pod_cgroup(pod, "systemd")) is not None

    unlabelled = json.loads(json.dumps(pod))
    unlabelled["metadata"]["labels"] = {}
    standin.put(unlabelled)
    restarted = start_daemon(env, standin, daemons)
    line = restarted.wait_log("removed the guard of")

    assert f"pod UID {pod['metadata']['uid']} is not selected" in line
    assert env.status() == {}
    assert bind_in(env, container) == "bound"


# Policies from annotations

def test_annotations_set_policy(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons, "--wildcard", "loopback")
    pod = pod_object("mailpit", annotations={
        "mcguard.io/mode": "audit",
        "mcguard.io/wildcard6": "ipv6",
        "mcguard.io/allow-connect": "udp:10.96.0.10:53, tcp:10.96.0.10:53",
    })
    make_pod_cgroups(env, pod, "systemd")
    standin.put(pod)
    daemon.wait_log("pod default/mailpit: guarded")

    guard = guard_on(env, pod_cgroup(pod, "systemd"))
    assert guard["mode"] == "audit"
    assert guard["wildcard"] == "loopback"
    assert guard["wildcard6"] == "ipv6"
    assert guard["allow_connect"] == ["udp:10.96.0.10:53", "tcp:10.96.0.10:53"]
    assert guard["backstop"] is False


@pytest.mark.parametrize("annotations, reason", [
    ({"mcguard.io/wildcard": "loopbak"}, 'invalid mcguard.io/wildcard "loopbak"'),
    ({"mcguard.io/colour": "red"}, "unknown annotation mcguard.io/colour"),
    ({"mcguard.io/allow-connect": "192.0.2.1/24"}, 'invalid mcguard.io/allow-connect "192.0.2.1/24"'),
    ({"mcguard.io/mode": "audit", "mcguard.io/backstop": "maybe"},
     'invalid mcguard.io/backstop "maybe"'),
])
def test_bad_annotation_strict_default(env, standin, daemons, annotations, reason):
    daemon = start_daemon(env, standin, daemons, "--wildcard", "loopback", "--mode", "audit")
    pod = pod_object("mailpit", annotations=annotations)
    container = make_pod_cgroups(env, pod, "systemd")
    standin.put(pod)
    line = daemon.wait_log("invalid annotation")
    daemon.wait_log("pod default/mailpit: guarded")

    guard = guard_on(env, pod_cgroup(pod, "systemd"))
    assert reason in line
    assert "strict default policy" in line
    assert (guard["mode"], guard["wildcard"], guard["backstop"]) == ("enforce", "deny", True)
    assert guard["allow_connect"] == [] and guard["allow_bind"] == []
    assert bind_in(env, container) == "EPERM"
    posted = standin.wait_event(lambda event: event["reason"] == "InvalidGuardAnnotation")
    assert posted is not None, standin.events()
    assert posted["type"] == "Warning"
    assert reason in posted["message"]


def test_fixed_annotation_updates_policy(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons)
    pod = pod_object("mailpit", annotations={"mcguard.io/wildcard": "loopbak"})
    make_pod_cgroups(env, pod, "systemd")
    standin.put(pod)
    daemon.wait_log("pod default/mailpit: guarded")
    mark = daemon.mark()

    pod["metadata"]["annotations"]["mcguard.io/wildcard"] = "loopback"
    standin.put(pod)
    daemon.wait_log("updated the policy of", after=mark)

    assert guard_on(env, pod_cgroup(pod, "systemd"))["wildcard"] == "loopback"
    assert len(daemon.lines("invalid annotation")) == 1


# Pods that cannot be guarded are reported

def test_invalid_uid_never_attached(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons)
    pod = pod_object("evil", uid="../../../escape")
    env.cgroup("escape")

    standin.put(pod)
    line = daemon.wait_log("skipping a watch event (ADDED)")

    assert 'invalid metadata.uid "../../../escape"' in line
    assert env.status() == {}


def test_own_pod_not_guarded(env, standin, daemons):
    pod = pod_object("mcguard-x7k2p")
    make_pod_cgroups(env, pod, "systemd")
    standin.put(pod)
    daemon = start_daemon(env, standin, daemons, extra_env={"POD_UID": pod["metadata"]["uid"]})

    line = daemon.wait_log("not guarded: this is mcguard's own pod")

    assert "pod default/mcguard-x7k2p" in line
    assert env.status() == {}


def cgroup_v1_mount():
    """Return the mount point of a cgroup v1 hierarchy, or None on a host with none."""
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup":
                return fields[4]
    return None


def test_cgroup_v1_pod_reported(env, standin, daemons):
    v1_mount = cgroup_v1_mount()
    if v1_mount is None:
        pytest.skip("this host mounts no cgroup v1 hierarchy to put a pod cgroup in")
    pod = pod_object("legacy", qos="BestEffort")
    v1_root = os.path.join(v1_mount, os.path.relpath(env.root, env.mount))
    made = os.path.join(v1_root, pod_cgroup(pod, "cgroupfs"))
    try:
        # Only directories without processes, below a v1 directory named like the test root.
        os.makedirs(made)
        daemon = start_daemon(env, standin, daemons)
        standin.put(pod)
        line = daemon.wait_log("pod default/legacy: not guarded")
    finally:
        for directory in (made, os.path.dirname(made), os.path.dirname(os.path.dirname(made)),
                          v1_root):
            if os.path.isdir(directory):
                os.rmdir(directory)

    assert f"its cgroup {made} is in a cgroup v1 hierarchy only" in line
    posted = standin.wait_event(lambda event: event["reason"] == "NotGuarded")
    assert posted is not None and posted["type"] == "Warning"


def test_running_pod_without_cgroup_reported(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons, "--cgroup-driver", "systemd")
    pod = pod_object("mailpit")
    # The cgroupfs layout exists, but the daemon was told the driver is systemd.
    make_pod_cgroups(env, pod, "cgroupfs")
    standin.put(pod)

    line = daemon.wait_log("pod default/mailpit: not guarded yet")

    assert "none of its cgroups exists below" in line
    assert env.status() == {}


# Options, metrics and what the daemon refuses

def test_metrics_count_pods(env, standin, daemons):
    daemon = start_daemon(env, standin, daemons, "--metrics", "127.0.0.1:9465")
    pod = pod_object("mailpit", annotations={"mcguard.io/mode": "strict"})
    make_pod_cgroups(env, pod, "systemd")
    standin.put(pod)
    daemon.wait_log("pod default/mailpit: guarded")
    time.sleep(1.5)

    result = env.run_guarded(None, ["curl", "-sf", "http://127.0.0.1:9465/metrics"])
    text = result.stdout

    assert result.returncode == 0, result.stderr
    assert 'mcguard_kubernetes_pods{state="guarded"} 1' in text
    assert "mcguard_kubernetes_pods_invalid_annotations 1" in text
    assert (f'mcguard_kubernetes_pod_guard_info{{namespace="default",pod="mailpit",'
            f'cgroup="{env.relative(pod_cgroup(pod, "systemd"))}"}} 1') in text
    assert "mcguard_kubernetes_lists_total 1" in text


@pytest.mark.parametrize("args, message", [
    (["--match", "x", "--selector", "app=x"], "--selector needs --kubernetes"),
    (["--kubernetes", "--api-server", "http://127.0.0.1:1"], "expected an https:// URL"),
    (["--kubernetes", "--cgroup-driver", "docker"], 'invalid --cgroup-driver "docker"'),
    (["--kubernetes", "--cgroup-root", "relative"], "expected an absolute path"),
])
def test_kubernetes_usage_errors(env, args, message):
    result = env.mcguard("daemon", *args, check=False)

    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_missing_node_name_rejected(env, tmp_path):
    environment = {key: value for key, value in os.environ.items() if key != "NODE_NAME"}
    result = subprocess.run(env.mcguard_argv("daemon", "--kubernetes", "--api-server",
                                             "https://127.0.0.1:1"),
                            capture_output=True, text=True, timeout=10, env=environment)

    assert result.returncode == 2
    assert "no node name" in result.stderr


def test_cgroup_root_outside_cgroup2_rejected(env, tmp_path):
    result = env.mcguard("daemon", "--kubernetes", "--node-name", NODE, "--api-server",
                         "https://127.0.0.1:1", "--cgroup-root", str(tmp_path), check=False)

    assert result.returncode == 2
    assert "is not a cgroup v2 directory" in result.stderr


def test_config_group_kubernetes(env, standin, daemons, tmp_path):
    config = tmp_path / "mcguard.conf"
    config.write_text(textwrap.dedent(f"""\
        pin_root = "{env.pin_root}";
        kubernetes = {{
          selector = "app=mailpit";
          node_name = "{NODE}";
          cgroup_root = "{env.root}";
          cgroup_driver = "cgroupfs";
          service_account_dir = "{standin.sa_dir}";
          api_server = "{standin.url}";
          events = false;
          wildcard = "loopback";
        }};
    """))
    daemon = KubeDaemon(env, standin, argv=env.mcguard_argv("daemon", "--config", str(config)))
    daemons.append(daemon)
    daemon.wait_log("kubernetes: listed")
    pod = pod_object("mailpit", labels={"app": "mailpit"})
    make_pod_cgroups(env, pod, "cgroupfs")

    standin.put(pod)
    daemon.wait_log("pod default/mailpit: guarded")
    time.sleep(0.5)

    assert guard_on(env, pod_cgroup(pod, "cgroupfs"))["wildcard"] == "loopback"
    assert standin.lists()[0]["query"]["labelSelector"] == "app=mailpit"
    assert standin.events() == []


@pytest.mark.parametrize("text, message", [
    ('kubernetes = { colour = "red"; };', ':1: unknown key "colour" in kubernetes'),
    ('kubernetes = { cgroup_driver = "docker"; };', 'invalid cgroup_driver "docker"'),
    ('kubernetes = { api_server = "http://10.0.0.1"; };', "must be an https:// URL"),
    ('kubernetes = { cgroup_root = "kubepods"; };', "must be an absolute path"),
    ('kubernetes = { events = "yes"; };', "events must be true or false"),
    ('kubernetes = { mode = "strict"; };', 'invalid mode "strict"'),
    ('kubernetes = { selector = ""; };', "selector must be a non-empty string"),
])
def test_config_kubernetes_errors(env, tmp_path, text, message):
    config = tmp_path / "bad.conf"

    result = run_daemon_config(env.binary, config, text)

    assert result.returncode == 2
    assert message in result.stderr
    assert str(config) in result.stderr


# The manifests and the image

DEPLOY = TESTS_DIR.parent / "deploy"


def manifests():
    """Return every object of deploy/kubernetes/*.yaml, keyed by (kind, name)."""
    yaml = pytest.importorskip("yaml")
    objects = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert document, f"{path.name} has an empty document"
            objects[(document["kind"], document["metadata"]["name"])] = document
    return objects


def example_pod():
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((DEPLOY / "kubernetes" / "example" / "mailpit.yaml").read_text())


def test_manifests_complete():
    kinds = sorted(kind for kind, _ in manifests())

    assert kinds == ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet",
                     "Namespace", "ServiceAccount"]


def test_role_has_exact_verbs():
    objects = manifests()
    rules = objects[("ClusterRole", "mcguard")]["rules"]
    binding = objects[("ClusterRoleBinding", "mcguard")]

    granted = sorted((group, resource, tuple(sorted(rule["verbs"])))
                     for rule in rules for group in rule["apiGroups"]
                     for resource in rule["resources"])
    assert granted == [("", "events", ("create",)), ("", "pods", ("get", "list", "watch"))]
    assert all(set(rule) == {"apiGroups", "resources", "verbs"} for rule in rules)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": "ClusterRole", "name": "mcguard"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "mcguard",
                                    "namespace": "mcguard-system"}]


def daemonset_parts():
    daemonset = manifests()[("DaemonSet", "mcguard")]
    pod = daemonset["spec"]["template"]
    container = pod["spec"]["containers"][0]
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    return daemonset, pod, container, mounts, volumes


def test_daemonset_mounts_host_cgroup_and_bpffs():
    _, _, container, mounts, volumes = daemonset_parts()

    assert volumes["cgroup"]["hostPath"]["path"] == "/sys/fs/cgroup"
    assert mounts["cgroup"]["mountPath"] == "/sys/fs/cgroup"
    assert mounts["cgroup"]["mountPropagation"] == "HostToContainer"
    assert volumes["bpffs"]["hostPath"]["path"] == "/sys/fs/bpf"
    assert mounts["bpffs"]["mountPath"] == "/sys/fs/bpf"
    assert mounts["bpffs"]["mountPropagation"] == "Bidirectional"
    # Kubernetes accepts Bidirectional propagation only in a privileged container.
    assert container["securityContext"]["privileged"] is True
    assert not mounts["bpffs"].get("readOnly", False)


def test_daemonset_node_name_and_config():
    objects = manifests()
    _, pod, container, mounts, volumes = daemonset_parts()
    env_vars = {item["name"]: item for item in container["env"]}

    assert env_vars["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert env_vars["POD_UID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.uid"
    assert pod["spec"]["serviceAccountName"] == "mcguard"
    assert ("ServiceAccount", "mcguard") in objects
    assert pod["spec"]["hostPID"] is True
    config_map = volumes["config"]["configMap"]["name"]
    assert ("ConfigMap", config_map) in objects
    assert container["args"][:3] == ["daemon", "--config",
                                     mounts["config"]["mountPath"] + "/mcguard.conf"]


def test_daemonset_scrape_settings():
    objects = manifests()
    _, pod, container, _, _ = daemonset_parts()
    annotations = pod["metadata"]["annotations"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    config = objects[("ConfigMap", "mcguard-config")]["data"]["mcguard.conf"]

    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == ports["metrics"]
    assert f'metrics = "0.0.0.0:{ports["metrics"]}";' in config


def test_configmap_config_parses(env, tmp_path):
    config = manifests()[("ConfigMap", "mcguard-config")]["data"]["mcguard.conf"]
    path = tmp_path / "mcguard.conf"
    path.write_text(config.replace('"/sys/fs/bpf/mcguard"', f'"{env.pin_root}"'))
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("KUBERNETES_")}
    environment["NODE_NAME"] = NODE

    # Without KUBERNETES_SERVICE_HOST the daemon stops at the API URL, which it
    # resolves after the configuration parsed, and sends no request.
    result = subprocess.run([env.binary, "daemon", "--config", str(path)], capture_output=True,
                            text=True, timeout=10, env=environment)

    assert result.returncode == 2
    assert "no API server: KUBERNETES_SERVICE_HOST is not set" in result.stderr, result.stderr


def test_example_pod_selected_and_probed():
    pod = example_pod()
    config = manifests()[("ConfigMap", "mcguard-config")]["data"]["mcguard.conf"]
    container = pod["spec"]["containers"][0]

    assert 'selector = "mcguard.io/guard=loopback";' in config
    assert pod["metadata"]["labels"]["mcguard.io/guard"] == "loopback"
    for probe in ("readinessProbe", "livenessProbe"):
        assert set(container[probe]) - {"periodSeconds"} == {"exec"}, probe
    assert "ports" not in container


def test_example_pod_guarded(env, standin, daemons):
    pod = example_pod()
    pod["metadata"]["uid"] = str(uuid.uuid4())
    pod["spec"]["nodeName"] = NODE
    pod["status"] = {"phase": "Running", "qosClass": "Burstable",
                     "containerStatuses": [{"name": "mailpit",
                                            "containerID": f"containerd://{container_id()}"}]}
    make_pod_cgroups(env, pod, "systemd")
    daemon = start_daemon(env, standin, daemons)

    standin.put(pod)
    daemon.wait_log("pod default/mailpit: guarded")

    assert not daemon.lines("invalid annotation")
    assert guard_on(env, pod_cgroup(pod, "systemd"))["wildcard"] == "loopback"


def test_dockerfile_uses_ci_targets():
    text = (DEPLOY / "container" / "Dockerfile").read_text(encoding="utf-8")
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]

    assert len(stages) == 2
    assert stages[0].endswith(" AS build")
    assert "RUN make all && make check-unit" in text
    assert "COPY --from=build /src/.output/mcguard /usr/local/sbin/mcguard" in text
