"""``talkinghead serve``: the web page and the HTTP job API (a thin layer over talkinghead.serve)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EPILOG = """\
examples:
  talkinghead serve                                  http://127.0.0.1:8000/ (this machine only)
  talkinghead serve --port 9000 --workers 2          two jobs at a time
  TALKINGHEAD_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(24))') \\
    talkinghead serve --host 0.0.0.0                 reachable from other machines, with a token

  curl -F face=@portrait.png -F text="Hello there." http://127.0.0.1:8000/api/jobs
  curl http://127.0.0.1:8000/api/jobs/JOB_ID
  curl -o hello.mp4 http://127.0.0.1:8000/api/jobs/JOB_ID/video

The API is described at /docs (OpenAPI: /openapi.json). Jobs are kept in DATA_DIR/jobs.sqlite3
and survive a restart: a job that was running when the server stopped is run again (once).
Safety: the server listens on 127.0.0.1 unless --host says otherwise, and then needs a token
(clients send 'Authorization: Bearer TOKEN'); uploads are checked by decoding them and limited
in size (--max-upload-mb).
Exit codes: 130/143 stopped by Ctrl-C/SIGTERM (after a clean shutdown: running jobs are queued
again), 2 bad options (e.g. --host off this machine without a token, or another server on the
data folder), 5 the address cannot be used, 6 the 'serve' extra is missing.
"""


def register(sub) -> None:
    from ..cli import add_command
    from ..serve.config import DEFAULT_MAX_QUEUED, DEFAULT_MAX_UPLOAD_MB, DEFAULT_PORT

    p = add_command(sub, "serve", help="a web page and an HTTP job API on this machine",
                    description="Serve a web page (upload or pick a face, type a script or upload a "
                    "recording, watch the progress, play and download the video and its subtitles) and "
                    "an HTTP API for the same (submit a job, poll it, cancel it, download the results).",
                    epilog=EPILOG)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; any other needs --token)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    p.add_argument("--token", default=None,
                   help="clients must send 'Authorization: Bearer TOKEN' (default: $TALKINGHEAD_TOKEN; "
                        "required with a --host other than a loopback address; at least 16 characters)")
    p.add_argument("--data-dir", metavar="DIR", default=None,
                   help="where jobs, faces and videos are kept (default: $TALKINGHEAD_SERVE_DIR, else "
                        "~/.local/share/talkinghead/serve)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="jobs run at the same time, each in its own worker process with cores/N threads "
                        "(default 1)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local worker processes (default) or Ray tasks (the 'ray' extra; the Ray workers "
                        "must see DATA_DIR at the same path)")
    p.add_argument("--ray-address", metavar="ADDR", help="Ray cluster (default: $RAY_ADDRESS, else a local Ray)")
    p.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB, metavar="MB",
                   help=f"largest face video or recording accepted (default {DEFAULT_MAX_UPLOAD_MB})")
    p.add_argument("--max-queued", type=int, default=DEFAULT_MAX_QUEUED, metavar="N",
                   help=f"most jobs waiting; more are refused until some finish (default {DEFAULT_MAX_QUEUED})")
    p.add_argument("--voice-dir", metavar="DIR",
                   help="also offer the Piper voices (NAME.onnx + NAME.onnx.json) in this folder, by name")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    """The :class:`~talkinghead.serve.ServeConfig` of the options, checked (InputError if bad)."""
    from ..errors import InputError
    from ..serve.config import ServeConfig, default_data_dir
    from ..serve.security import check_bind

    token = args.token if args.token is not None else (os.environ.get("TALKINGHEAD_TOKEN") or None)
    check_bind(args.host, token)
    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port} is out of range (1 to 65535)")
    if args.workers < 1:
        raise InputError(f"--workers {args.workers}: need at least 1")
    if not args.max_upload_mb > 0:
        raise InputError(f"--max-upload-mb {args.max_upload_mb:g} must be more than 0")
    if args.max_queued < 1:
        raise InputError(f"--max-queued {args.max_queued}: need at least 1")
    if args.executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            from ..errors import DependencyError

            raise DependencyError("--executor ray needs Ray: pip install 'talkinghead[ray]'") from None
    voice_dir = Path(args.voice_dir).expanduser() if args.voice_dir else None
    if voice_dir is not None and not voice_dir.is_dir():
        raise InputError(f"--voice-dir {args.voice_dir} is not a folder")
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()
    if data_dir.exists() and not data_dir.is_dir():
        raise InputError(f"--data-dir {data_dir} exists and is not a folder")
    return ServeConfig(data_dir=data_dir, host=args.host, port=args.port, token=token, workers=args.workers,
                       executor=args.executor, device=args.device, ray_address=args.ray_address,
                       max_upload_bytes=int(args.max_upload_mb * 1_000_000), max_queued=args.max_queued,
                       voice_dir=voice_dir)


def run(args: argparse.Namespace) -> int:
    from ..errors import DependencyError, OutputError

    config = config_from_args(args)
    try:
        import uvicorn

        from ..serve.app import create_app
    except ImportError as exc:
        raise DependencyError(f"talkinghead serve needs the 'serve' extra ({exc.name} is missing): "
                              "pip install 'talkinghead[serve]'") from None
    from ..serve.paths import DataDir

    try:
        DataDir(config.data_dir).lock().close()  # another server on the folder: say so now
        app = create_app(config)
    except OSError as exc:
        raise OutputError(f"cannot use the data folder {config.data_dir}: {exc.strerror or exc}") from None
    shown = f"[{config.host}]" if ":" in config.host else config.host
    if not args.quiet:
        print(f"talkinghead: serving on http://{shown}:{config.port}/ (API: /docs; data: {config.data_dir}; "
              f"Ctrl-C stops)", file=sys.stderr, flush=True)
    level = "warning" if args.quiet or args.verbose == 0 else ("info" if args.verbose == 1 else "debug")
    server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, log_level=level,
                                           access_log=args.verbose >= 1, timeout_graceful_shutdown=5))
    try:
        server.run()
    except SystemExit:  # uvicorn's answer to an address it cannot bind (its message is printed)
        server.started = False
    if not server.started:
        raise OutputError(f"could not listen on {config.host}:{config.port} (in use, or not an address of "
                          "this machine?)")
    return 0
