"""The server's settings (``talkinghead serve``'s options)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Default port.
DEFAULT_PORT = 8000
#: Default largest upload (a face video or a recording), megabytes.
DEFAULT_MAX_UPLOAD_MB = 200
#: Default most jobs waiting in the queue.
DEFAULT_MAX_QUEUED = 50


def default_data_dir() -> Path:
    """``$TALKINGHEAD_SERVE_DIR``, else ``$XDG_DATA_HOME/talkinghead/serve`` (default
    ``~/.local/share/talkinghead/serve``)."""
    if os.environ.get("TALKINGHEAD_SERVE_DIR"):
        return Path(os.environ["TALKINGHEAD_SERVE_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "talkinghead" / "serve"


@dataclass(frozen=True)
class ServeConfig:
    """How the server runs.

    Attributes:
        data_dir: where jobs, faces and results are kept (:mod:`talkinghead.serve.paths`).
        host: the address it listens on (a loopback one: only this machine may connect).
        port: the TCP port.
        token: clients must send ``Authorization: Bearer TOKEN`` (required off loopback).
        workers: jobs run at the same time.
        executor: ``"local"`` (worker processes) or ``"ray"``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        ray_address: the Ray cluster for ``executor="ray"``.
        max_upload_bytes: largest uploaded file (and request), bytes.
        max_queued: most jobs waiting; more are refused (429).
        voice_dir: a folder of extra Piper voices offered by name.
    """

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = None
    workers: int = 1
    executor: str = "local"
    device: str = "auto"
    ray_address: str | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1_000_000
    max_queued: int = DEFAULT_MAX_QUEUED
    voice_dir: Path | None = None
