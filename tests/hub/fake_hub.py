# SPDX-License-Identifier: AGPL-3.0-or-later
"""A minimal fake Hugging Face hub serving a local Immich-layout model folder.

Every `<models>/<task>/<name>/` folder becomes the repo `immich-app/<name>`, served the way huggingface_hub reads
the real hub:
  GET /api/models/<org>/<repo>/revision/main      -> {"id": ..., "sha": <commit>}
  GET /api/models/<org>/<repo>/tree/<rev>?recursive=true
        -> [{"type": "file", "path", "size", "oid", "lfs": {"oid": sha256, "size", "pointerSize"}}, ...]
           (*.onnx are LFS files, the rest regular git blobs with their git SHA-1)
  GET /<org>/<repo>/resolve/<rev>/<path>          -> the file; LFS files through a 302 to /cdn/...

Use in-process (FakeHub(models).start(), .requests, .stop()) or standalone:
    python tests/hub/fake_hub.py --models DIR [--port N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit, parse_qs

COMMIT = "feedfacecafebeef0123456789abcdef01234567"
ORG = "immich-app"


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    def __init__(self, models: Path, host: str = "127.0.0.1", port: int = 0):
        self.models = Path(models)
        self.requests: list[str] = []
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                with hub._lock:
                    hub.requests.append(self.path)
                hub._handle(self)

            def do_HEAD(self):
                with hub._lock:
                    hub.requests.append("HEAD " + self.path)
                self._send(405, b"")

            def _send(self, status, body, ctype="application/json", headers=None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeHub":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _repo_dir(self, org: str, name: str) -> Path | None:
        if org != ORG or "/" in name or name in (".", ".."):
            return None
        for task_dir in self.models.iterdir() if self.models.is_dir() else []:
            candidate = task_dir / name
            if candidate.is_dir():
                return candidate
        return None

    def _tree(self, repo: Path) -> list[dict]:
        out = []
        for p in sorted(repo.rglob("*")):
            rel = p.relative_to(repo).as_posix()
            if p.is_dir():
                out.append({"type": "directory", "path": rel, "size": 0, "oid": "0" * 40})
                continue
            data = p.read_bytes()
            if p.suffix == ".onnx":
                out.append({"type": "file", "path": rel, "size": len(data), "oid": "1" * 40,
                            "lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}})
            else:
                out.append({"type": "file", "path": rel, "size": len(data), "oid": _git_blob_sha1(data)})
        return out

    def _handle(self, h) -> None:
        url = urlsplit(h.path)
        parts = [unquote(p) for p in url.path.split("/")[1:]]
        not_found = json.dumps({"error": "Repository not found"}).encode()
        # /api/models/<org>/<name>/revision/main and /api/models/<org>/<name>/tree/<rev>
        if len(parts) == 6 and parts[:2] == ["api", "models"]:
            repo = self._repo_dir(parts[2], parts[3])
            if repo is None:
                return h._send(404, not_found)
            if parts[4] == "revision" and parts[5] == "main":
                return h._send(200, json.dumps({"id": f"{ORG}/{parts[3]}", "sha": COMMIT}).encode())
            if parts[4] == "tree" and parts[5] in (COMMIT, "main"):
                if parse_qs(url.query).get("recursive") != ["true"]:
                    return h._send(400, b'{"error":"this fake needs recursive=true"}')
                return h._send(200, json.dumps(self._tree(repo)).encode())
            return h._send(404, not_found)
        # /<org>/<name>/resolve/<rev>/<path...> and /cdn/<org>/<name>/<path...>
        cdn = len(parts) >= 4 and parts[0] == "cdn"
        if cdn or (len(parts) >= 5 and parts[2] == "resolve"):
            org, name = (parts[1], parts[2]) if cdn else (parts[0], parts[1])
            rel = parts[3:] if cdn else parts[4:]
            repo = self._repo_dir(org, name)
            if repo is None or any(p in ("", ".", "..") for p in rel) or (not cdn and parts[3] != COMMIT):
                return h._send(404, not_found)
            f = repo.joinpath(*rel)
            if not f.is_file():
                return h._send(404, b'{"error":"Entry not found"}')
            if not cdn and f.suffix == ".onnx":
                return h._send(302, b"", headers={"Location": f"/cdn/{org}/{name}/" + "/".join(rel)})
            return h._send(200, f.read_bytes(), "application/octet-stream")
        return h._send(404, b'{"error":"not found"}')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", required=True, type=Path)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    hub = FakeHub(args.models, args.host, args.port)
    print(hub.endpoint, flush=True)
    hub._server.serve_forever()


if __name__ == "__main__":
    main()
