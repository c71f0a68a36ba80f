"""The ``talkinghead`` command line: a thin layer over the Python API.

Each subcommand lives in :mod:`talkinghead.commands` as a module with ``register(subparsers)`` and
``run(args) -> int``. User errors (:class:`~talkinghead.errors.TalkingHeadError`) are printed as one
line, ``talkinghead: error: ...``, with the error's exit code; no traceback unless ``-v -v``.

Exit codes: 0 success, 1 failure (an internal error: one line, the traceback with ``-v -v``), 2 bad
input or usage, 3 alignment refused, 4 no usable face, 5 output not writable, 6 missing optional
dependency, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM; 129 for SIGHUP). Interrupted or
terminated, the command cleans up as on any error: no partial output, no temporary files.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback

from . import __version__
from .errors import TalkingHeadError

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("say", "speak", "batch", "prepare", "serve", "track", "mesh", "verify", "doctor")

EPILOG = """\
examples:
  talkinghead speak "Hello there." -o hello.wav        hello.wav + hello.json (timeline) + hello.srt
  talkinghead say --text "Hello there." --face me.mp4 -o hello.mp4
  talkinghead doctor                                   check the installation

Run 'talkinghead COMMAND --help' for a command's options.
"""


def _global_options(suppress: bool) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("global options")

    def default(value):
        return argparse.SUPPRESS if suppress else value

    g.add_argument("-q", "--quiet", action="store_true", default=default(False),
                   help="no progress bars, only errors")
    g.add_argument("-v", "--verbose", action="count", default=default(0),
                   help="more log output (-vv also shows tracebacks)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default=default("auto"),
                   help="where torch work runs (default: auto = cuda if available)")
    return common


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (global flags + every available subcommand)."""
    common = _global_options(suppress=False)
    parser = argparse.ArgumentParser(
        prog="talkinghead",
        description="Turn a script into a lip-synced video of a real face, offline.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"talkinghead {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    # the subcommands accept the global options too; SUPPRESS keeps their defaults from
    # overwriting a value given before the command name (``talkinghead -q say ...``)
    sub._common_parent = _global_options(suppress=True)  # type: ignore[attr-defined]
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"talkinghead.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"talkinghead.commands.{name}":
                continue  # command not part of this build
            raise
        mod.register(sub)
    return parser


def add_command(subparsers, name: str, help: str, description: str, epilog: str = "") -> argparse.ArgumentParser:
    """Create a subcommand parser that also accepts the global options."""
    return subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[subparsers._common_parent],
    )


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="talkinghead: %(levelname)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # silence mediapipe / TFLite chatter
    os.environ.setdefault("GLOG_minloglevel", "2")


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C's ``KeyboardInterrupt`` so that every ``finally`` and
    ``with`` block cleans up (Python's default for these signals ends the process on the spot,
    leaving temporary files and a running encoder behind)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum, frame):  # noqa: ARG001 - signal handler signature
    raise Terminated(signum)


def _termination_handlers() -> dict:
    """Route SIGTERM/SIGHUP to :class:`Terminated` (main thread only); returns the previous
    handlers."""
    import signal
    import threading

    previous: dict = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) in (signal.SIG_DFL, None):
            previous[sig] = signal.signal(sig, _raise_terminated)
    return previous


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``talkinghead`` command. Returns the exit code."""
    import signal

    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    previous = _termination_handlers()
    try:
        return int(args.func(args) or 0)
    except TalkingHeadError as exc:
        if args.verbose >= 2:  # the traceback too, but the same exit code
            traceback.print_exc()
        print(f"talkinghead: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated as exc:
        print("talkinghead: terminated", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("talkinghead: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: one line, not a traceback, unless asked
        if args.verbose >= 2:
            traceback.print_exc()
        print(f"talkinghead: internal error: {type(exc).__name__}: {exc} (run with -v -v for the traceback; "
              "please report it)", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
