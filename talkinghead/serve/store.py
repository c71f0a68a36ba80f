"""The server's job and face store: one SQLite file, so that jobs survive a restart.

Jobs go ``queued -> running -> done | failed | cancelled`` (a queued job can be cancelled
directly). Every change of state is one SQL statement under a lock (the store is shared by the
request handlers and the worker threads); :meth:`JobStore.claim_next` takes the oldest queued job
and marks it running atomically. :meth:`JobStore.recover` runs at start-up: a job that was running
when the server stopped is queued again (once), or failed with a message that says why.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

#: The states of a job.
STATUSES = ("queued", "running", "done", "failed", "cancelled")
#: States a job never leaves.
FINISHED = ("done", "failed", "cancelled")
#: A job that was running when the server stopped this many times is failed, not queued again
#: (it might be what stopped the server).
MAX_ATTEMPTS = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS faces (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    filename TEXT NOT NULL,
    label TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    frames INTEGER NOT NULL,
    fps REAL NOT NULL,
    size INTEGER NOT NULL,
    created REAL NOT NULL,
    prepared INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    error TEXT,
    note TEXT,
    face_id TEXT NOT NULL,
    request TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    duration REAL,
    n_frames INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created);
"""


def new_id() -> str:
    """A fresh random id: 32 lower-case hex digits (the only form the API accepts)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Face:
    """A face file the server keeps.

    Attributes:
        id: its id.
        sha256: the file's content hash (the same file uploaded twice is kept once).
        kind: ``"image"`` (a portrait) or ``"video"``.
        filename: the stored file's name inside the face's folder (chosen by the server).
        label: the uploaded file's name, for display only (never used as a path).
        width, height: pixels.
        frames: number of frames (1 for an image).
        fps: frames per second (0 for an image).
        size: bytes.
        created: when it was uploaded (Unix seconds).
        prepared: a job on it has finished, so it is prepared (tracked, and fine-tuned for a
            video) in the cache: the next job starts at once.
    """

    id: str
    sha256: str
    kind: str
    filename: str
    label: str
    width: int
    height: int
    frames: int
    fps: float
    size: int
    created: float
    prepared: bool = False


@dataclass(frozen=True)
class Job:
    """A job: what was asked, and where it stands.

    Attributes:
        id: its id.
        status: one of :data:`STATUSES`.
        stage: what it is doing (``"preparing face"``, ``"speech"``, ``"rendering"``...).
        progress: fraction done, 0 to 1.
        error: why it failed (status ``"failed"``), else ``None``.
        note: something the user should know (it was queued again after a restart...).
        face_id: the face it uses.
        request: the job's options as submitted (text, voice, rate...; see
            :class:`talkinghead.serve.jobs.JobRequest`).
        created, started, finished: Unix seconds (``None`` until then).
        duration: seconds of video made (status ``"done"``).
        n_frames: frames of video made.
        attempts: times it was started.
        cancel_requested: a cancel was asked while it ran; it stops shortly.
    """

    id: str
    status: str
    stage: str
    progress: float
    error: str | None
    note: str | None
    face_id: str
    request: dict = field(default_factory=dict)
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    duration: float | None = None
    n_frames: int | None = None
    attempts: int = 0
    cancel_requested: bool = False


class JobStore:
    """Jobs and faces in the SQLite file ``path`` (created if missing). Thread-safe."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _one(self, sql: str, args: tuple = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _run(self, sql: str, args: tuple = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        with self._lock:
            return self._db.execute(sql, args).rowcount

    # -- faces -------------------------------------------------------------------------------
    def add_face(self, face: Face) -> Face:
        """Keep ``face``; if a face with the same content is kept already, return that one."""
        with self._lock:
            old = self.face_by_hash(face.sha256)
            if old is not None:
                return old
            self._run("INSERT INTO faces VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                      (face.id, face.sha256, face.kind, face.filename, face.label, face.width, face.height,
                       face.frames, face.fps, face.size, face.created, int(face.prepared)))
            return face

    def face(self, face_id: str) -> Face | None:
        row = self._one("SELECT * FROM faces WHERE id = ?", (face_id,))
        return _face(row) if row else None

    def face_by_hash(self, sha256: str) -> Face | None:
        row = self._one("SELECT * FROM faces WHERE sha256 = ?", (sha256,))
        return _face(row) if row else None

    def faces(self) -> list[Face]:
        """Every kept face, newest first."""
        return [_face(r) for r in self._all("SELECT * FROM faces ORDER BY created DESC")]

    def mark_prepared(self, face_id: str) -> None:
        self._run("UPDATE faces SET prepared = 1 WHERE id = ?", (face_id,))

    def delete_face(self, face_id: str) -> bool:
        """Forget a face no queued or running job uses. Returns ``False`` if one does."""
        with self._lock:
            if self._one("SELECT 1 FROM jobs WHERE face_id = ? AND status IN ('queued', 'running')", (face_id,)):
                return False
            self._run("DELETE FROM faces WHERE id = ?", (face_id,))
            return True

    # -- jobs --------------------------------------------------------------------------------
    def add_job(self, job_id: str, face_id: str, request: dict) -> Job:
        """Queue a new job."""
        self._run("INSERT INTO jobs (id, status, stage, face_id, request, created) VALUES (?,?,?,?,?,?)",
                  (job_id, "queued", "queued", face_id, json.dumps(request), time.time()))
        return self.job(job_id)

    def job(self, job_id: str) -> Job | None:
        row = self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job(row) if row else None

    def jobs(self, limit: int = 100) -> list[Job]:
        """The newest ``limit`` jobs, newest first."""
        return [_job(r) for r in self._all("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (int(limit),))]

    def count(self, *statuses: str) -> int:
        marks = ",".join("?" * len(statuses))
        return int(self._one(f"SELECT COUNT(*) FROM jobs WHERE status IN ({marks})", statuses)[0])

    def claim_next(self) -> Job | None:
        """The oldest queued job, now marked running (one attempt more); ``None`` if none."""
        with self._lock:
            row = self._one("SELECT id FROM jobs WHERE status = 'queued' ORDER BY created LIMIT 1")
            if row is None:
                return None
            self._run("UPDATE jobs SET status = 'running', stage = 'starting', progress = 0, started = ?, "
                      "attempts = attempts + 1 WHERE id = ?", (time.time(), row["id"]))
            return self.job(row["id"])

    def set_progress(self, job_id: str, stage: str, progress: float) -> None:
        """Record a running job's stage and fraction done (0-1; it never goes back)."""
        self._run("UPDATE jobs SET stage = ?, progress = MAX(progress, ?) WHERE id = ? AND status = 'running'",
                  (stage, float(progress), job_id))

    def finish(self, job_id: str, duration: float, n_frames: int) -> None:
        self._run("UPDATE jobs SET status = 'done', stage = 'done', progress = 1, finished = ?, duration = ?, "
                  "n_frames = ? WHERE id = ?", (time.time(), float(duration), int(n_frames), job_id))

    def fail(self, job_id: str, error: str) -> None:
        self._run("UPDATE jobs SET status = 'failed', stage = 'failed', finished = ?, error = ? WHERE id = ?",
                  (time.time(), error, job_id))

    def cancelled(self, job_id: str) -> None:
        self._run("UPDATE jobs SET status = 'cancelled', stage = 'cancelled', finished = ? WHERE id = ?",
                  (time.time(), job_id))

    def requeue(self, job_id: str, note: str) -> None:
        """Put a job that was stopped by the server's shutdown back in the queue."""
        self._run("UPDATE jobs SET status = 'queued', stage = 'queued', progress = 0, started = NULL, note = ? "
                  "WHERE id = ?", (note, job_id))

    def request_cancel(self, job_id: str) -> Job | None:
        """Cancel a job: a queued one at once, a running one is flagged (the worker stops it).

        Returns the job as it is now, ``None`` if there is no such job.
        """
        with self._lock:
            if self._run("UPDATE jobs SET status = 'cancelled', stage = 'cancelled', finished = ? "
                         "WHERE id = ? AND status = 'queued'", (time.time(), job_id)) == 0:
                self._run("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status = 'running'", (job_id,))
            return self.job(job_id)

    def delete_job(self, job_id: str) -> bool:
        """Forget a finished job. Returns ``False`` if it is queued or running."""
        return self._run(f"DELETE FROM jobs WHERE id = ? AND status IN {FINISHED}", (job_id,)) == 1

    def recover(self) -> list[Job]:
        """At start-up: jobs left running by a server that stopped are queued again, or failed after
        :data:`MAX_ATTEMPTS` starts, or cancelled if that was asked. Returns the jobs it changed."""
        with self._lock:
            rows = self._all("SELECT * FROM jobs WHERE status = 'running'")
            for r in rows:
                if r["cancel_requested"]:
                    self.cancelled(r["id"])
                elif r["attempts"] >= MAX_ATTEMPTS:
                    self.fail(r["id"], f"the server stopped while this job was running, {r['attempts']} times; "
                              "it was not started again (submit it again to retry)")
                else:
                    self.requeue(r["id"], "queued again: the server stopped while it was running")
            return [self.job(r["id"]) for r in rows]


def _face(row: sqlite3.Row) -> Face:
    d = dict(row)
    d["prepared"] = bool(d["prepared"])
    return Face(**d)


def _job(row: sqlite3.Row) -> Job:
    d = dict(row)
    d["request"] = json.loads(d["request"])
    d["cancel_requested"] = bool(d["cancel_requested"])
    return Job(**d)
