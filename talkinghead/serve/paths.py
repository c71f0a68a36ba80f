"""Where the server keeps its files. Every path is built from a server-made id checked by
:func:`check_id`, never from a name a request supplied.

Layout of the data folder::

    jobs.sqlite3                the job and face store
    faces/<face id>/face.<ext>  an uploaded face (the extension from its content)
    faces/<face id>/thumb.jpg   its thumbnail for the page
    jobs/<job id>/recording.<ext>   an uploaded recording (jobs with their own voice)
    jobs/<job id>/progress.json     the running job's progress
    jobs/<job id>/out/talkinghead.mp4, .srt, .json   the results
    incoming/                   uploads being checked (removed whatever the outcome)
    server.lock                 held by the one server using the folder
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import IO

from ..errors import InputError

_ID = re.compile(r"[0-9a-f]{32}")
#: Base name of a job's outputs (``.mp4``, ``.srt``, ``.json``).
OUTPUT_STEM = "talkinghead"


def check_id(value: str) -> str:
    """``value`` if it is an id the server makes (32 lower-case hex digits), else ``ValueError``."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(f"not a valid id: {value[:40]!r}" if isinstance(value, str) else "not a valid id")
    return value


class DataDir:
    """The server's data folder (created if missing)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().resolve()
        for d in (self.root, self.root / "faces", self.root / "jobs", self.root / "incoming"):
            d.mkdir(parents=True, exist_ok=True)

    @property
    def database(self) -> Path:
        return self.root / "jobs.sqlite3"

    @property
    def incoming(self) -> Path:
        return self.root / "incoming"

    def face_dir(self, face_id: str) -> Path:
        return self.root / "faces" / check_id(face_id)

    def job_dir(self, job_id: str) -> Path:
        return self.root / "jobs" / check_id(job_id)

    def out_dir(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "out"

    def output(self, job_id: str, suffix: str) -> Path:
        """A job's result: ``suffix`` ``.mp4``, ``.srt`` or ``.json``."""
        if suffix not in (".mp4", ".srt", ".json"):
            raise ValueError(f"no job output with suffix {suffix!r}")
        return self.out_dir(job_id) / f"{OUTPUT_STEM}{suffix}"

    def progress_file(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "progress.json"

    def clear_outputs(self, job_id: str) -> None:
        """Remove whatever a job wrote (its results, its progress), keeping its inputs."""
        shutil.rmtree(self.out_dir(job_id), ignore_errors=True)
        self.progress_file(job_id).unlink(missing_ok=True)

    def remove_job(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def lock(self) -> IO:
        """Take the folder for this process (an exclusive ``flock`` on ``server.lock``, released
        when the returned file is closed or the process ends, however it ends).

        Raises:
            InputError: another server uses the folder (two would run the same jobs).
        """
        import fcntl

        f = open(self.root / "server.lock", "a+", encoding="utf-8")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            pid = f.read().strip() or "?"
            f.close()
            raise InputError(f"another talkinghead serve (process {pid}) uses the data folder {self.root}: "
                             "stop it, or give this one another --data-dir") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        return f

    def hide_root(self, message: str) -> str:
        """``message`` with the data folder's path left out (error messages go to clients)."""
        return message.replace(str(self.root) + os.sep, "").replace(str(self.root), "<data>")
