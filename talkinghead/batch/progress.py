"""How far a running job is: a small JSON file the job rewrites as it goes, read by whoever waits.

A job runs in another process (a worker process, a Ray task), so its progress crosses the process
boundary through the file system: :class:`ProgressFile` writes ``{"stage": str, "progress":
0-1, "time": unix seconds}`` atomically (a reader never sees half a file), at most every
:data:`MIN_INTERVAL` seconds unless the stage changes; :func:`read_progress` reads it back.

The fraction is coarse: each stage has a share of the whole (:data:`STAGES`), and only rendering
advances smoothly (frame by frame).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

#: ``stage -> (start, end)`` fraction of the whole job it covers.
STAGES: dict[str, tuple[float, float]] = {
    "preparing face": (0.0, 0.25),
    "speech": (0.25, 0.30),
    "rendering": (0.30, 0.98),
    "finishing": (0.98, 1.0),
}
#: Seconds between two writes of the same stage.
MIN_INTERVAL = 0.25


@dataclass(frozen=True)
class Progress:
    """A job's progress.

    Attributes:
        stage: one of :data:`STAGES`' names.
        progress: fraction of the whole job done, 0 to 1.
        time: when it was written (Unix seconds).
    """

    stage: str
    progress: float
    time: float


class ProgressFile:
    """Writes a job's progress to ``path`` (atomically, throttled)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._last_stage: str | None = None
        self._last_time = 0.0

    def report(self, stage: str, fraction: float = 0.0) -> None:
        """Record that the job is in ``stage``, ``fraction`` (0-1) of the way through it.

        Never raises: progress is informative, a failure to write it must not fail the job.
        """
        now = time.time()
        if stage == self._last_stage and now - self._last_time < MIN_INTERVAL:
            return
        lo, hi = STAGES.get(stage, (0.0, 1.0))
        value = lo + (hi - lo) * min(1.0, max(0.0, float(fraction)))
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps({"stage": stage, "progress": round(value, 4), "time": now}), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
            return
        self._last_stage, self._last_time = stage, now


def read_progress(path: str | os.PathLike) -> Progress | None:
    """The progress last written to ``path``, or ``None`` (no file yet, or unreadable)."""
    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        return Progress(str(d["stage"]), float(d["progress"]), float(d["time"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
