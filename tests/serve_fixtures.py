"""A real ``talkinghead serve`` on a loopback port, and a tiny HTTP client (a plain module:
``from serve_fixtures import LiveServer``). Nothing here fakes the server or the pipeline."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PORTRAIT = REPO / "assets" / "face" / "astronaut.png"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def multipart(fields: dict | None = None, files: dict | None = None) -> tuple[bytes, str]:
    """``(body, content type)`` of a multipart form: ``fields`` name -> str, ``files`` name ->
    ``(filename, bytes)``."""
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, value in (fields or {}).items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()
    for name, (filename, data) in (files or {}).items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


class LiveServer:
    """``talkinghead serve`` in a subprocess (the test session's cache, its own data folder)."""

    def __init__(self, data_dir: Path, *args: str, host: str = "127.0.0.1", token: str | None = None):
        self.data_dir = Path(data_dir)
        self.host = host
        self.token = token
        self.port = free_port()
        self.args = args
        self.proc: subprocess.Popen | None = None
        self.log = self.data_dir.parent / f"{self.data_dir.name}-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "LiveServer":
        cmd = [sys.executable, "-m", "talkinghead", "-q", "serve", "--host", self.host, "--port", str(self.port),
               "--data-dir", str(self.data_dir), *self.args]
        if self.token:
            cmd += ["--token", self.token]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._log = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if self.get("/api/health").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer in {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            self._log.close()

    # -- HTTP ------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 60.0) -> Reply:
        h = dict(headers or {})
        if self.token and "Authorization" not in h:
            h["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Reply(r.status, dict(r.headers), r.read())
        except urllib.error.HTTPError as e:
            return Reply(e.code, dict(e.headers), e.read())

    def get(self, path: str, **kw) -> Reply:
        return self.request("GET", path, **kw)

    def post_form(self, path: str, fields: dict | None = None, files: dict | None = None, **kw) -> Reply:
        body, ctype = multipart(fields, files)
        headers = {"Content-Type": ctype, **kw.pop("headers", {})}
        return self.request("POST", path, body=body, headers=headers, **kw)

    def submit(self, text: str, **fields) -> dict:
        """Submit a job on the bundled portrait; returns the job."""
        files = {"face": ("astronaut.png", PORTRAIT.read_bytes())} if "face_id" not in fields else None
        r = self.post_form("/api/jobs", {"text": text, **{k: str(v).lower() if isinstance(v, bool) else str(v)
                                                          for k, v in fields.items()}}, files)
        assert r.status == 202, r.body
        return r.json()

    def wait(self, job_id: str, until=("done", "failed", "cancelled"), timeout: float = 240.0) -> dict:
        """Poll a job until its status is one of ``until`` (or its stage is, for ``"rendering"``)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(f"/api/jobs/{job_id}").json()
            if job["status"] in until or job["stage"] in until:
                return job
            if job["status"] in ("done", "failed", "cancelled"):
                raise AssertionError(f"job ended {job['status']} before reaching {until}: {job}")
            if time.monotonic() > deadline:
                raise AssertionError(f"job still {job['status']}/{job['stage']} after {timeout} s")
            time.sleep(0.3)
