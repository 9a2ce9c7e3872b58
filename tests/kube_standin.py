#!/usr/bin/env python3
"""A stand-in for the Kubernetes API server, for mcguard's Kubernetes tests.

It serves, over HTTPS on 127.0.0.1 only, the few requests mcguard makes:

    GET  /api/v1/pods?labelSelector=..&fieldSelector=spec.nodeName=..&limit=..[&continue=..]
    GET  /api/v1/pods?watch=true&labelSelector=..&fieldSelector=..&resourceVersion=..
         [&allowWatchBookmarks=true][&timeoutSeconds=..]
    POST /api/v1/namespaces/NAMESPACE/events

in the shapes the API reference documents: a PodList with metadata.resourceVersion
and metadata.continue, and a chunked watch stream of {"type": ..., "object": ...}
objects with the types ADDED, MODIFIED, DELETED, BOOKMARK and ERROR. Like the real
API server (k8s.io/apiserver, cacheWatcher.convertToWatchEvent), a watch with a
label selector reports an object that stops matching as DELETED, with the object's
previous content, and one that starts matching as ADDED. A watch or a list
continuation from a resourceVersion older than the last compaction gets 410 Gone,
either as an HTTP status or, as the real server does for watches, as an ERROR event
in a 200 stream. Pages hold at most PAGE_SIZE pods whatever limit the client asks
for, which the API allows, so every test with more pods exercises continue tokens.
Each watch event is sent in two chunks split mid-object.

The test controls it through a Unix socket (--control): one JSON object per line
in, one JSON object per line out. See Cluster.command for the operations.

Run it inside the test's network namespace; it prints "listening PORT" when ready.
"""

import argparse
import base64
import copy
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE_SIZE = 2


def status_object(code, reason, message):
    """Return a metav1.Status object as the API server sends it with an error."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def parse_label_selector(text):
    """Parse the equality-based selector forms: k=v, k==v, k!=v, k and !k, joined by commas."""
    requirements = []
    for term in filter(None, (part.strip() for part in text.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            requirements.append(("!=", key.strip(), value.strip()))
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            requirements.append(("=", key.strip(), value.strip()))
        elif term.startswith("!"):
            requirements.append(("!exists", term[1:].strip(), None))
        else:
            requirements.append(("exists", term, None))
    return requirements


def labels_match(requirements, pod):
    labels = pod.get("metadata", {}).get("labels") or {}
    for operator, key, value in requirements:
        if operator == "=" and labels.get(key) != value:
            return False
        if operator == "!=" and labels.get(key) == value:
            return False
        if operator == "exists" and key not in labels:
            return False
        if operator == "!exists" and key in labels:
            return False
    return True


class Selection:
    """The label and field selectors of one request."""

    def __init__(self, query):
        self.labels = parse_label_selector(query.get("labelSelector", ""))
        self.node = None
        field = query.get("fieldSelector", "")
        if field:
            key, _, value = field.partition("=")
            if key != "spec.nodeName" or not value:
                raise ValueError(f"unsupported fieldSelector {field!r}")
            self.node = value

    def matches(self, pod):
        if pod is None:
            return False
        if self.node is not None and pod.get("spec", {}).get("nodeName") != self.node:
            return False
        return labels_match(self.labels, pod)


class Cluster:
    """The stand-in's state: pods, their change history and what clients did."""

    def __init__(self, token):
        self.changed = threading.Condition()
        self.pods = {}
        self.resource_version = 100
        self.history = []        # (resourceVersion, old object or None, new object or None)
        self.compacted = 0       # watches and continues from before this get 410 Gone
        self.gone_as = "status"  # "status" (HTTP 410) or "event" (ERROR event in a 200 stream)
        self.token = token
        self.generation = 0      # bumping it ends every open watch
        self.drop_mode = "close"
        self.bookmarks = 0
        self.requests = []
        self.events = []
        self.open_watches = 0
        self.snapshots = {}      # continue token id: (resourceVersion, items)
        self.expire_continues = 0  # this many continue requests get 410 Gone

    # Changes, under self.changed

    def _next_version(self):
        self.resource_version += 1
        return str(self.resource_version)

    def _put(self, pod):
        pod = copy.deepcopy(pod)
        uid = pod["metadata"]["uid"]
        old = self.pods.get(uid)
        pod["metadata"]["resourceVersion"] = self._next_version()
        self.pods[uid] = pod
        self.history.append((self.resource_version, old, pod))

    def _delete(self, uid):
        old = self.pods.pop(uid, None)
        if old is None:
            return
        final = copy.deepcopy(old)
        final["metadata"]["deletionTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                               time.gmtime())
        final["metadata"]["resourceVersion"] = self._next_version()
        self.history.append((self.resource_version, final, None))

    def command(self, request):
        """Run one control operation and return its reply.

        The operations: put {pod}, delete {uid}, drop_watches {mode: close or
        end}, bookmark, expire_continues {count}, outage {ops, gone_as},
        rotate_token {token}, requests, events and state. An outage ends every watch, applies its ops (put and
        delete) and compacts, so the next watch from an old resourceVersion
        gets 410 Gone. rotate_token accepts only the new token from then on
        and ends every watch.
        """
        op = request["op"]
        with self.changed:
            if op == "put":
                self._put(request["pod"])
            elif op == "delete":
                self._delete(request["uid"])
            elif op == "drop_watches":
                self.drop_mode = request.get("mode", "close")
                self.generation += 1
            elif op == "bookmark":
                self.bookmarks += 1
            elif op == "expire_continues":
                self.expire_continues = request["count"]
            elif op == "outage":
                self.drop_mode = "close"
                self.generation += 1
                for change in request.get("ops", []):
                    if change["op"] == "put":
                        self._put(change["pod"])
                    else:
                        self._delete(change["uid"])
                self.compacted = self.resource_version
                self.gone_as = request.get("gone_as", "status")
            elif op == "rotate_token":
                self.token = request["token"]
                self.drop_mode = "end"
                self.generation += 1
            elif op == "requests":
                return {"requests": list(self.requests)}
            elif op == "events":
                return {"events": list(self.events)}
            elif op == "state":
                return {"resourceVersion": str(self.resource_version),
                        "open_watches": self.open_watches}
            else:
                return {"error": f"unknown op {op!r}"}
            self.changed.notify_all()
        return {"ok": True, "resourceVersion": str(self.resource_version)}

    # Views

    def snapshot(self, selection):
        with self.changed:
            items = [copy.deepcopy(pod) for pod in self.pods.values() if selection.matches(pod)]
            return items, str(self.resource_version)

    def watch_events(self, selection, since):
        """Return the watch events after resourceVersion since, as the API server filters them."""
        events = []
        for version, old, new in self.history:
            if version <= since:
                continue
            old_matches, new_matches = selection.matches(old), selection.matches(new)
            if new_matches and not old_matches:
                events.append({"type": "ADDED", "object": new})
            elif new_matches and old_matches:
                events.append({"type": "MODIFIED", "object": new})
            elif old_matches and not new_matches:
                gone = copy.deepcopy(old)
                gone["metadata"]["resourceVersion"] = str(version)
                events.append({"type": "DELETED", "object": gone})
        return events


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cluster = None  # set by main()

    def log_message(self, fmt, *args):
        sys.stderr.write("standin: " + (fmt % args) + "\n")

    # Responses

    def _send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _send_event(self, event):
        data = json.dumps(event).encode() + b"\n"
        middle = len(data) // 2
        self._send_chunk(data[:middle])
        self._send_chunk(data[middle:])

    # Requests

    def _authorized(self, parsed, query):
        header = self.headers.get("Authorization", "")
        token = header[len("Bearer "):] if header.startswith("Bearer ") else None
        cluster = self.cluster
        with cluster.changed:
            accepted = token == cluster.token
            # A watch that passed this check before a rotation still ends with it.
            self.generation = cluster.generation
            cluster.requests.append({"method": self.command, "path": parsed.path,
                                     "query": query, "token": token, "accepted": accepted,
                                     "time": time.time()})
        if not accepted:
            self._send_json(401, status_object(401, "Unauthorized", "Unauthorized"))
        return accepted

    def do_GET(self):
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        if not self._authorized(parsed, query):
            return
        if parsed.path != "/api/v1/pods":
            self._send_json(404, status_object(404, "NotFound", f"{parsed.path} not found"))
            return
        try:
            selection = Selection(query)
        except ValueError as error:
            self._send_json(400, status_object(400, "BadRequest", str(error)))
            return
        if query.get("watch") in ("true", "1"):
            self._watch(selection, query)
        else:
            self._list(selection, query)

    def _list(self, selection, query):
        cluster = self.cluster
        if "continue" in query:
            # Like the API server's tokens: base64 of a small JSON object.
            state = json.loads(base64.b64decode(query["continue"]))
            with cluster.changed:
                expired = int(state["rv"]) < cluster.compacted or cluster.expire_continues > 0
                cluster.expire_continues = max(0, cluster.expire_continues - 1)
                version, items = cluster.snapshots.get(state["id"], (None, None))
            if expired or items is None:
                self._send_json(410, status_object(
                    410, "Expired", "The provided continue parameter is too old"))
                return
            offset = state["start"]
        else:
            items, version = self.cluster.snapshot(selection)
            items.sort(key=lambda pod: (pod["metadata"]["namespace"], pod["metadata"]["name"]))
            offset = 0
        page = items[offset:offset + PAGE_SIZE]
        metadata = {"resourceVersion": version}
        if offset + PAGE_SIZE < len(items):
            with cluster.changed:
                snapshot_id = len(cluster.snapshots)
                cluster.snapshots[snapshot_id] = (version, items)
            metadata["continue"] = base64.b64encode(json.dumps(
                {"v": "meta.k8s.io/v1", "rv": version, "start": offset + PAGE_SIZE,
                 "id": snapshot_id}).encode()).decode()
        self._send_json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": metadata,
                              "items": page})

    def _watch(self, selection, query):
        cluster = self.cluster
        since = int(query.get("resourceVersion") or 0)
        bookmarks = query.get("allowWatchBookmarks") == "true"
        timeout = float(query.get("timeoutSeconds") or 1800)
        with cluster.changed:
            too_old = since < cluster.compacted
            gone_as = cluster.gone_as
        gone = status_object(410, "Expired",
                             f"too old resource version: {since} ({cluster.compacted})")
        if too_old and gone_as == "status":
            self._send_json(410, gone)
            return

        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        if too_old:
            self._send_event({"type": "ERROR", "object": gone})
            self._send_chunk(b"")
            return
        self._stream(selection, since, bookmarks, timeout)

    def _stream(self, selection, since, bookmarks, timeout):
        cluster = self.cluster
        deadline = time.monotonic() + timeout
        generation = self.generation
        with cluster.changed:
            bookmarks_seen = cluster.bookmarks
            cluster.open_watches += 1
        try:
            while True:
                with cluster.changed:
                    ended = cluster.generation != generation
                    drop_mode = cluster.drop_mode
                    outgoing = [] if ended else cluster.watch_events(selection, since)
                    if not ended:
                        since = cluster.resource_version
                        if bookmarks and cluster.bookmarks != bookmarks_seen:
                            bookmarks_seen = cluster.bookmarks
                            outgoing.append({"type": "BOOKMARK", "object": {
                                "kind": "Pod", "apiVersion": "v1",
                                "metadata": {"resourceVersion": str(since)}}})
                if ended and drop_mode == "close":
                    # Abruptly, as a connection that breaks: no terminating chunk.
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if ended or time.monotonic() >= deadline:
                    self._send_chunk(b"")
                    return
                for event in outgoing:
                    self._send_event(event)
                with cluster.changed:
                    if cluster.generation == generation and cluster.resource_version == since:
                        cluster.changed.wait(0.2)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            with cluster.changed:
                cluster.open_watches -= 1

    def do_POST(self):
        parsed = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if not self._authorized(parsed, {}):
            return
        parts = parsed.path.strip("/").split("/")
        if len(parts) != 5 or parts[:3] != ["api", "v1", "namespaces"] or parts[4] != "events":
            self._send_json(404, status_object(404, "NotFound", f"{parsed.path} not found"))
            return
        try:
            event = json.loads(body)
        except ValueError:
            self._send_json(400, status_object(400, "BadRequest", "the body is not JSON"))
            return
        if event.get("metadata", {}).get("namespace") != parts[3]:
            self._send_json(400, status_object(400, "BadRequest",
                                               "the namespace of the body does not match"))
            return
        with self.cluster.changed:
            self.cluster.events.append(event)
        self._send_json(201, event)


class ControlHandler(socketserver.StreamRequestHandler):
    cluster = None  # set by main()

    def handle(self):
        for line in self.rfile:
            reply = self.cluster.command(json.loads(line))
            self.wfile.write(json.dumps(reply).encode() + b"\n")
            self.wfile.flush()


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--control", required=True, help="path of the control Unix socket")
    args = parser.parse_args()

    cluster = Cluster(args.token)
    Handler.cluster = ControlHandler.cluster = cluster

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    control = ControlServer(args.control, ControlHandler)

    threading.Thread(target=control.serve_forever, daemon=True).start()
    print(f"listening {httpd.server_address[1]}", flush=True)
    try:
        httpd.serve_forever()
    finally:
        os.unlink(args.control)


if __name__ == "__main__":
    main()
