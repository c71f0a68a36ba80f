"""Run a batch: validate the config, skip finished jobs, prepare each face once, fan out, report.

>>> from talkinghead.batch import run_batch
>>> summary = run_batch("examples/dubbing.yaml", jobs=2)
>>> summary.exit_code, [(r.name, r.status, r.output) for r in summary.results]

A failing job is recorded (status ``"failed"`` with its error message) and the others go on. The
summary is printed as a table and written atomically to ``<output_dir>/batch_summary.json``.
After a job succeeds a small ``<output>.done.json`` marker is written holding a hash of the job's
settings; ``resume=True`` skips jobs whose mp4 probes fine (video + audio) and whose marker holds
the current hash, so a job changed in the config is redone.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..fileio import write_text_atomic
from .config import BatchConfig, JobSpec, load_config
from .executors import make_executor, threads_per_worker

log = logging.getLogger(__name__)

SUMMARY_NAME = "batch_summary.json"


@dataclass
class JobResult:
    """The outcome of one job.

    Attributes:
        name: the job's name.
        status: ``"ok"``, ``"failed"``, ``"skipped"`` (done already, ``resume``) or ``"cancelled"``
            (interrupted before it finished).
        output: the mp4 path (``None`` when failed).
        duration: seconds of video (``None`` when failed).
        seconds: wall-clock seconds the job took (preparing a shared face is not included).
        error: the error message of a failed job.
    """

    name: str
    status: str
    output: str | None = None
    duration: float | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped")


@dataclass
class BatchSummary:
    """What :func:`run_batch` did.

    Attributes:
        config: the config file (or ``"<dict>"``).
        output_dir: the output folder.
        results: one :class:`JobResult` per job, in config order.
        seconds: wall-clock seconds of the whole batch.
        interrupted: the run was stopped by Ctrl-C.
        summary_path: where the JSON summary was written.
    """

    config: str
    output_dir: str
    results: list[JobResult] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    summary_path: str | None = None

    @property
    def ok(self) -> bool:
        """Every job succeeded (or was already done)."""
        return not self.interrupted and all(r.ok for r in self.results)

    @property
    def exit_code(self) -> int:
        """0 all succeeded, 1 some failed, 130 interrupted."""
        return 130 if self.interrupted else (0 if self.ok else 1)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        d["counts"] = {s: sum(r.status == s for r in self.results)
                       for s in ("ok", "skipped", "failed", "cancelled")}
        d["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return d

    def table(self) -> str:
        """The summary as a plain-text table (job, status, video duration, seconds, output/error)."""
        rows = [("job", "status", "video s", "took s", "output / error")]
        for r in self.results:
            dur = f"{r.duration:.2f}" if r.duration is not None else "-"
            what = r.output if r.ok else (r.error or "")
            if r.ok and r.output:
                try:
                    rel = os.path.relpath(r.output)
                    what = rel if not rel.startswith("..") else r.output
                except ValueError:
                    pass
            rows.append((r.name, r.status, dur, f"{r.seconds:.1f}", what.replace("\n", " ")))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = []
        for j, row in enumerate(rows):
            lines.append("  ".join(c.ljust(w) if i in (0, 1) else c.rjust(w) for i, (c, w) in
                                   enumerate(zip(row[:4], widths))) + "  " + row[4])
            if j == 0:
                lines.append("-" * len(lines[0]))
        n_ok = sum(r.status == "ok" for r in self.results)
        n_sk = sum(r.status == "skipped" for r in self.results)
        n_f = sum(r.status == "failed" for r in self.results)
        n_c = sum(r.status == "cancelled" for r in self.results)
        lines.append(f"{n_ok} done, {n_sk} skipped, {n_f} failed" + (f", {n_c} cancelled" if n_c else "")
                     + f" in {self.seconds:.1f} s" + (" (interrupted)" if self.interrupted else ""))
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
def is_complete(job: JobSpec, settings_hash: str | None = None) -> bool:
    """The job's output is finished: its marker holds the current settings hash and the mp4
    (same size as when finished) probes fine with a video and an audio stream."""
    from ..errors import TalkingHeadError
    from ..media import probe

    if not job.output.is_file() or not job.marker.is_file():
        return False
    try:
        marker = json.loads(job.marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if marker.get("settings_sha256") != (settings_hash or job.settings_hash()):
        return False
    if marker.get("output_bytes") != job.output.stat().st_size:
        return False
    try:
        info = probe(job.output)
    except TalkingHeadError:
        return False
    return info.has_audio and info.n_frames > 0


def write_marker(job: JobSpec, result: JobResult, settings_hash: str) -> Path:
    """Write ``<output>.done.json`` (atomically) after the job succeeded."""
    return write_text_atomic(job.marker, json.dumps({
        "job": job.name,
        "settings_sha256": settings_hash,
        "output": job.output.name,
        "output_bytes": job.output.stat().st_size,
        "duration": result.duration,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }, indent=2) + "\n")


def _say(progress: bool, msg: str) -> None:
    if progress:
        print(msg, file=sys.stderr, flush=True)


def run_batch(
    config: str | os.PathLike | dict,
    *,
    jobs: int = 1,
    resume: bool = False,
    executor: str = "local",
    outdir: str | os.PathLike | None = None,
    progress: bool = True,
    device: str = "auto",
    ray_address: str | None = None,
) -> BatchSummary:
    """Run every job of a batch config.

    Args:
        config: YAML file path, or a parsed mapping (paths then relative to the current folder).
        jobs: jobs run at the same time (``-j``). ``1`` runs them in this process; more uses that
            many spawned worker processes (``executor="local"``) or Ray tasks, each with
            ``max(1, cores // jobs)`` torch threads.
        resume: skip jobs whose output is complete and whose settings did not change.
        executor: ``"local"`` or ``"ray"`` (needs the ``ray`` extra).
        outdir: output folder (overrides ``defaults.output_dir``); created if missing.
        progress: per-job start/end lines on stderr (and tqdm bars when ``jobs == 1``).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        ray_address: Ray cluster address (default: ``$RAY_ADDRESS`` or a local Ray instance).

    With ``jobs > 1`` the workers are *spawned*: a script calling this must do so under
    ``if __name__ == "__main__":`` (Python's rule for spawned processes).

    Returns:
        :class:`BatchSummary` (``.exit_code``: 0 all succeeded, 1 some failed, 130 interrupted).

    Raises:
        InputError / BatchConfigError: the config cannot be read or is invalid (nothing was run).
        OutputError: the output folder cannot be created.
    """
    from ..errors import InputError

    if int(jobs) < 1:
        raise InputError(f"-j {jobs}: need at least 1 parallel job")
    jobs = int(jobs)
    t_start = time.perf_counter()
    cfg: BatchConfig = load_config(config, outdir=outdir)
    _make_output_folder(cfg.output_dir)
    summary = BatchSummary(config=cfg.source, output_dir=str(cfg.output_dir))
    run = _Run(cfg.jobs, progress)
    _make_job_folders(cfg.jobs, run)
    todo = _jobs_to_do(cfg.jobs, run, resume)

    env = {k: v for k, v in os.environ.items() if k.startswith("TALKINGHEAD_")}
    ex = None
    inflight: dict = {}
    stopped_by: str | None = None  # why the batch stopped early, other than Ctrl-C
    try:
        pipelines = _prepare_faces(todo, run.results, device, progress, jobs, run.number, run.n, executor)
        todo = [j for j in todo if j.name not in run.results]
        if todo:
            in_process = executor == "local" and jobs == 1
            ex = make_executor(executor, jobs, env=env, pipelines=pipelines if in_process else None,
                               ray_address=ray_address)
            if not in_process:
                pipelines.clear()  # the workers load the prepared faces from the disk cache
            payload = {"device": device, "threads": None if in_process else threads_per_worker(jobs), "env": env,
                       "progress": progress and in_process}
            _run_jobs(ex, todo, payload, run, inflight)
    except KeyboardInterrupt:
        summary.interrupted = True
        _say(progress, "interrupted: cancelling the running jobs (no partial outputs are kept)")
        _uninterrupted(lambda: ex.cancel(list(inflight)) if ex is not None and inflight else None)
    except BaseException as exc:
        stopped_by = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if ex is not None and not _uninterrupted(ex.close):
            summary.interrupted = True  # a second Ctrl-C while the workers shut down
        why = "interrupted before it finished" if stopped_by is None else f"not run: the batch stopped ({stopped_by})"
        _finish_summary(summary, cfg, run.results, why, t_start)
    return summary


class _Run:
    """What the steps of one :func:`run_batch` share: each job's result so far (by name), its
    settings hash, its number for the progress lines."""

    def __init__(self, jobs: list[JobSpec], progress: bool):
        self.progress = progress
        self.results: dict[str, JobResult] = {}
        self.hashes = {j.name: j.settings_hash() for j in jobs}
        self.n = len(jobs)
        self.number = {j.name: k + 1 for k, j in enumerate(jobs)}

    def say(self, job: JobSpec, message: str) -> None:
        """A progress line ``[k/n] name: message``."""
        _say(self.progress, f"[{self.number[job.name]}/{self.n}] {job.name}: {message}")


def _make_output_folder(folder: Path) -> None:
    """Create the batch's output folder; raise :class:`OutputError` when it cannot be written."""
    from ..errors import OutputError

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {folder}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write in output folder {folder}")


def _make_job_folders(jobs: list[JobSpec], run: _Run) -> None:
    """Create each job's output folder; a job whose folder cannot be made fails (the others go on)."""
    for j in jobs:
        try:
            j.output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            run.results[j.name] = JobResult(j.name, "failed", error=f"cannot create folder {j.output.parent}: "
                                            f"{exc.strerror or exc}")


def _jobs_to_do(jobs: list[JobSpec], run: _Run, resume: bool) -> list[JobSpec]:
    """The jobs left to run: not failed already, and (with ``resume``) not complete with the same
    settings (those are recorded as skipped)."""
    todo: list[JobSpec] = []
    for j in jobs:
        if j.name in run.results:
            run.say(j, f"FAILED: {run.results[j.name].error}")
        elif resume and is_complete(j, run.hashes[j.name]):
            run.results[j.name] = JobResult(j.name, "skipped", str(j.output), _marker_duration(j), 0.0)
            run.say(j, f"already done, skipped ({j.output.name})")
        else:
            todo.append(j)
    return todo


def _run_jobs(ex, todo: list[JobSpec], payload: dict, run: _Run, inflight: dict) -> None:
    """Run ``todo`` on executor ``ex``, at most ``ex.slots`` at a time, recording each result in
    ``run`` as it ends. ``payload``: the run options every job's payload carries; ``inflight``
    (handle -> job) is kept up to date so that the caller can cancel the running jobs."""
    queue = list(todo)
    started: dict = {}
    while queue or inflight:
        while queue and len(inflight) < ex.slots:
            j = queue.pop(0)
            h = ex.submit({"job": j.to_payload(), **payload}, j.face_key)
            inflight[h] = j
            started[h] = time.perf_counter()
            run.say(j, f"started ({j.face.name} -> {j.output.name})")
        for h, res in ex.wait(list(inflight)):
            j = inflight.pop(h)
            _job_ended(j, res, started[h], run)


def _job_ended(j: JobSpec, res: dict, started: float, run: _Run) -> None:
    """Record the result ``res`` of job ``j`` (an executor's dict); a success gets its marker."""
    r = JobResult(j.name, res.get("status", "failed"), res.get("output"), res.get("duration"),
                  float(res.get("seconds") or round(time.perf_counter() - started, 2)), res.get("error"))
    if r.status == "ok":
        try:
            write_marker(j, r, run.hashes[j.name])
        except Exception as exc:  # noqa: BLE001 - the video is done; only --resume loses it
            log.warning("%s: could not write %s (--resume will redo this job): %s", j.name, j.marker.name, exc)
        run.say(j, f"done in {r.seconds:.1f} s -> {j.output.name} ({r.duration:.2f} s of video)")
    else:
        run.say(j, f"FAILED: {r.error}")
    run.results[j.name] = r


def _finish_summary(summary: BatchSummary, cfg: BatchConfig, results: dict[str, JobResult], why: str,
                    t_start: float) -> None:
    """Fill ``summary`` (a job without a result is ``cancelled`` for reason ``why``) and write it
    beside the outputs (:data:`SUMMARY_NAME`; a failure only logs a warning)."""
    for j in cfg.jobs:
        if j.name not in results:
            results[j.name] = JobResult(j.name, "cancelled", error=why)
    summary.results = [results[j.name] for j in cfg.jobs]
    summary.seconds = round(time.perf_counter() - t_start, 2)
    path = cfg.output_dir / SUMMARY_NAME
    summary.summary_path = str(path)
    try:
        write_text_atomic(path, json.dumps(summary.to_dict(), indent=2) + "\n")
    except Exception as exc:  # noqa: BLE001 - the summary must not hide the jobs' outcome
        summary.summary_path = None
        log.warning("could not write %s: %s", path, exc)


def _uninterrupted(step) -> bool:
    """Run a clean-up ``step`` to its end even if Ctrl-C is pressed again meanwhile (the batch
    summary must still be written). Returns ``False`` when an interrupt arrived during it."""
    import signal
    import threading

    got = []
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, lambda *_: got.append(True))
    try:
        step()
    except KeyboardInterrupt:
        got.append(True)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return not got


def _marker_duration(job: JobSpec) -> float | None:
    try:
        return json.loads(job.marker.read_text(encoding="utf-8")).get("duration")
    except (OSError, ValueError):
        return None


def _prepare_faces(todo: list[JobSpec], results: dict, device: str, progress: bool, jobs: int,
                   number: dict, n: int, executor: str = "local") -> dict:
    """Prepare each distinct face of ``todo`` once (track + fine-tune, cached on disk).

    A face that cannot be prepared (no face in it, unreadable) fails all its jobs, which are put
    in ``results``; the others go on. Returns ``{face_key: Pipeline}``.
    """
    from ..errors import TalkingHeadError
    from ..pipeline import Pipeline

    if jobs == 1 and executor == "local":
        threads = None
    else:
        threads = os.cpu_count() or 1  # the parent prepares alone, before the workers start
    if threads:
        import torch

        torch.set_num_threads(threads)
    pipelines: dict = {}
    keys: dict = {}
    for j in todo:
        keys.setdefault(j.face_key, []).append(j)
    for key, js in keys.items():
        face = js[0].face
        names = ", ".join(x.name for x in js)
        _say(progress, f"preparing face {face.name} (for {names})")
        t = time.perf_counter()
        try:
            j0 = js[0]
            pipelines[key] = Pipeline.from_face(face, device=device, cache=True, progress=progress and threads is None,
                                                options=j0.face_options)
        except TalkingHeadError as exc:
            err = f"face {face.name}: {exc}"
        except Exception as exc:  # noqa: BLE001 - recorded as the jobs' failure
            err = f"face {face.name}: {type(exc).__name__}: {exc}"
        else:
            _say(progress, f"face {face.name} ready in {time.perf_counter() - t:.1f} s")
            continue
        secs = round(time.perf_counter() - t, 2)
        for j in js:
            results[j.name] = JobResult(j.name, "failed", seconds=secs, error=err)
            _say(progress, f"[{number[j.name]}/{n}] {j.name}: FAILED: {err}")
    return pipelines
