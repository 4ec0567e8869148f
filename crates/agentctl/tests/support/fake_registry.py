#!/usr/bin/env python3
"""A minimal fake OCI distribution registry for agentctl's tests (stdlib only).

Usage:
    fake_registry.py --port 0 --images images.json [--auth bearer|basic|none] [--user U:P]

Prints the bound port as the first line on stdout, then serves forever on
127.0.0.1. Each request is logged to stderr.

images.json maps "name:tag" to one of:
    {"index": [["linux", "amd64"], ["linux", "arm64", "v8"]]}
        -> an OCI image index whose manifests each carry a platform and point
           at a per-platform image manifest (served too, by digest)
    {"single": ["linux", "arm64"]}
        -> an OCI image manifest whose config blob holds {"architecture", "os"}

Auth modes:
    bearer (default): like Docker Hub / public.ecr.aws. /v2/... without a valid
        "Authorization: Bearer <token>" gets 401 + WWW-Authenticate: Bearer
        realm="http://127.0.0.1:PORT/token",service="fake"[,scope=...].
        GET /token?service=fake&scope=repository:NAME:pull issues a token for the
        named repositories. With --user, /token requires that Basic credential.
    basic: like private ECR. /v2/... needs "Authorization: Basic" with --user.
    none: no auth at all.
"""

import argparse
import base64
import hashlib
import json
import re
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SERVICE = "fake"

MANIFEST_RE = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
BLOB_RE = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$")
TAGS_RE = re.compile(r"^/v2/(?P<name>.+)/tags/list$")


def canon(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Store:
    """Content-addressed manifests and blobs, plus tags, per repository."""

    def __init__(self):
        self.manifests = {}  # name -> {digest: (media_type, bytes)}
        self.blobs = {}  # name -> {digest: bytes}
        self.tags = {}  # name -> {tag: digest}

    def _put_manifest(self, name, media_type, body):
        digest = sha256(body)
        self.manifests.setdefault(name, {})[digest] = (media_type, body)
        return digest

    def _image_manifest(self, name, platform):
        os_, arch = platform[0], platform[1]
        config = {"architecture": arch, "os": os_, "rootfs": {"type": "layers", "diff_ids": []}}
        if len(platform) > 2:
            config["variant"] = platform[2]
        config_bytes = canon(config)
        config_digest = sha256(config_bytes)
        self.blobs.setdefault(name, {})[config_digest] = config_bytes
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
            "layers": [],
        }
        body = canon(manifest)
        return self._put_manifest(name, OCI_MANIFEST, body), len(body)

    def add(self, key, spec):
        name, sep, tag = key.rpartition(":")
        if not sep or not name or "/" in tag:
            raise SystemExit(f"bad image key {key!r}: expected name:tag")
        self.manifests.setdefault(name, {})
        self.blobs.setdefault(name, {})
        if "index" in spec:
            entries = []
            for platform in spec["index"]:
                digest, size = self._image_manifest(name, platform)
                plat = {"architecture": platform[1], "os": platform[0]}
                if len(platform) > 2:
                    plat["variant"] = platform[2]
                entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": size, "platform": plat})
            body = canon({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
            digest = self._put_manifest(name, OCI_INDEX, body)
        elif "single" in spec:
            digest, _ = self._image_manifest(name, spec["single"])
        else:
            raise SystemExit(f"image {key!r}: expected 'index' or 'single'")
        self.tags.setdefault(name, {})[tag] = digest


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-registry/1"

    # -- plumbing ---------------------------------------------------------
    def log_message(self, fmt, *args):
        sys.stderr.write("fake_registry: %s %s\n" % (self.address_string(), fmt % args))
        sys.stderr.flush()

    def send(self, status, body=b"", headers=None, head=False):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def error(self, status, code, message, headers=None, head=False):
        body = canon({"errors": [{"code": code, "message": message, "detail": None}]})
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        self.send(status, body, hdrs, head)

    # -- auth -------------------------------------------------------------
    def basic_ok(self):
        user = self.server.user
        got = self.headers.get("Authorization", "")
        if user is None:
            return True
        expected = "Basic " + base64.b64encode(user.encode()).decode()
        return got == expected

    def authorized(self, name, head):
        mode = self.server.auth_mode
        if mode == "none":
            return True
        if mode == "basic":
            if self.server.user is not None and self.basic_ok() and self.headers.get("Authorization"):
                return True
            challenge = f'Basic realm="http://127.0.0.1:{self.server.port}/",service="{SERVICE}"'
            self.error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge}, head)
            return False
        # bearer
        got = self.headers.get("Authorization", "")
        if got.startswith("Bearer "):
            with self.server.lock:
                granted = self.server.tokens.get(got[len("Bearer "):])
            if granted is not None and (name is None or name in granted):
                return True
        challenge = f'Bearer realm="http://127.0.0.1:{self.server.port}/token",service="{SERVICE}"'
        if name is not None:
            challenge += f',scope="repository:{name}:pull"'
        self.error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge}, head)
        return False

    def token(self, query):
        if self.server.user is not None and not self.basic_ok():
            self.error(401, "UNAUTHORIZED", "bad credentials",
                       {"WWW-Authenticate": f'Basic realm="http://127.0.0.1:{self.server.port}/token"'})
            return
        granted = set()
        for scope in query.get("scope", []):
            for part in scope.split(" "):
                bits = part.split(":")
                if len(bits) >= 3 and bits[0] == "repository" and "pull" in bits[-1].split(","):
                    granted.add(":".join(bits[1:-1]))
        tok = "fake-" + secrets.token_hex(16)
        with self.server.lock:
            self.server.tokens[tok] = granted
        body = canon({"token": tok, "access_token": tok, "expires_in": 300})
        self.send(200, body, {"Content-Type": "application/json"})

    # -- routes -----------------------------------------------------------
    def handle_request(self, head):
        url = urlsplit(self.path)
        path = url.path
        store = self.server.store
        if path == "/token" and not head:
            return self.token(parse_qs(url.query))
        if path in ("/v2", "/v2/"):
            if self.authorized(None, head):
                self.send(200, b"{}", {"Content-Type": "application/json"}, head)
            return
        for regex in (MANIFEST_RE, BLOB_RE, TAGS_RE):
            m = regex.match(path)
            if m:
                break
        else:
            return self.error(404, "NOT_FOUND", "no such endpoint", head=head)
        name = m.group("name")
        if not self.authorized(name, head):
            return
        if name not in store.tags:
            return self.error(404, "NAME_UNKNOWN", f"repository {name} not known to registry", head=head)
        if regex is TAGS_RE:
            body = canon({"name": name, "tags": sorted(store.tags[name])})
            return self.send(200, body, {"Content-Type": "application/json"}, head)
        if regex is MANIFEST_RE:
            ref = m.group("ref")
            digest = ref if ref.startswith("sha256:") else store.tags[name].get(ref)
            entry = store.manifests[name].get(digest) if digest else None
            if entry is None:
                return self.error(404, "MANIFEST_UNKNOWN", f"manifest unknown: {name}:{ref}", head=head)
            media_type, body = entry
            return self.send(200, body, {"Content-Type": media_type, "Docker-Content-Digest": digest}, head)
        digest = m.group("digest")
        body = store.blobs[name].get(digest)
        if body is None:
            return self.error(404, "BLOB_UNKNOWN", f"blob unknown: {digest}", head=head)
        self.send(200, body, {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest}, head)

    def do_GET(self):
        self.handle_request(head=False)

    def do_HEAD(self):
        self.handle_request(head=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--images", required=True, help="JSON file: {\"name:tag\": {\"index\"|\"single\": ...}}")
    p.add_argument("--auth", choices=["bearer", "basic", "none"], default="bearer")
    p.add_argument("--user", help="USER:PASS required on /token (bearer) or on every request (basic)")
    args = p.parse_args()
    if args.auth == "basic" and not args.user:
        p.error("--auth basic needs --user")

    store = Store()
    with open(args.images, encoding="utf-8") as f:
        for key, spec in json.load(f).items():
            store.add(key, spec)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.store = store
    server.auth_mode = args.auth
    server.user = args.user
    server.tokens = {}
    server.lock = threading.Lock()
    server.port = server.server_address[1]
    print(server.port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
