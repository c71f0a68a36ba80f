"""Runs the server's queued jobs through the batch executors, one thread per slot.

Each slot takes the oldest queued job from the store, turns it into a batch
:class:`~talkinghead.batch.JobSpec` and hands it to an executor of
:mod:`talkinghead.batch.executors`: with ``executor="local"`` each slot has its own worker
process (spawned once, kept for the next jobs; cancelling a job interrupts that process alone);
with ``"ray"`` the slots share a Ray connection and each job is a Ray task. The job writes its
progress to a file (:mod:`talkinghead.batch.progress`) which a monitor thread copies into the
store every :attr:`JobWorker.poll_s` seconds.

A cancelled or failed job leaves no result behind (the pipeline writes atomically, and the job's
output folder is emptied); a job stopped by the server's shutdown is queued again.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from ..errors import TalkingHeadError
from .jobs import JobRequest, RequestError, build_spec
from .paths import OUTPUT_STEM, DataDir
from .store import Job, JobStore

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    """One worker thread's state."""

    index: int
    executor: Any = None  # its own (local worker process); Ray's is shared
    job_id: str | None = None
    handle: Any = None
    running_on: Any = None  # the executor running ``handle``
    stop_reason: str | None = None  # "cancel" or "shutdown" while a job runs
    canceller: threading.Thread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class JobWorker:
    """Runs queued jobs.

    Args:
        store: the job store.
        data: the data folder.
        voice_table: the voices jobs may name (:func:`talkinghead.serve.jobs.voices`).
        workers: jobs run at the same time (each with ``cores // workers`` torch threads).
        executor: ``"local"`` (worker processes) or ``"ray"``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        ray_address: the Ray cluster (``None``: ``$RAY_ADDRESS`` or a local Ray); its workers
            must see the data folder at the same path.
        poll_s: seconds between two looks at the queue and at the running jobs' progress.
    """

    def __init__(self, store: JobStore, data: DataDir, voice_table: dict[str, str], *, workers: int = 1,
                 executor: str = "local", device: str = "auto", ray_address: str | None = None,
                 poll_s: float = 0.5):
        self.store = store
        self.data = data
        self.voice_table = voice_table
        self.workers = max(1, int(workers))
        self.executor = executor
        self.device = device
        self.ray_address = ray_address
        self.poll_s = poll_s
        self._slots = [_Slot(i) for i in range(self.workers)]
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._shared = None  # the Ray executor, shared by the slots
        self._shared_lock = threading.Lock()
        # the jobs' settings (the cache folder...), not the server's own secret
        self.env = {k: v for k, v in os.environ.items() if k.startswith("TALKINGHEAD_") and k != "TALKINGHEAD_TOKEN"}

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        for slot in self._slots:
            t = threading.Thread(target=self._loop, args=(slot,), name=f"talkinghead-job-{slot.index}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._monitor, name="talkinghead-progress", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop: running jobs are interrupted and queued again (the next start runs them)."""
        self._stop.set()
        for slot in self._slots:
            self._interrupt(slot, "shutdown")
        with self._wake:
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout)
        for slot in self._slots:
            if slot.executor is not None and slot.executor is not self._shared:
                _quietly(slot.executor.close)
        if self._shared is not None:
            _quietly(self._shared.close)

    def wake(self) -> None:
        """A job was queued: let an idle slot take it now."""
        with self._wake:
            self._wake.notify()

    def cancel(self, job_id: str) -> bool:
        """Interrupt ``job_id`` if a slot runs it (in the background). Returns whether one did."""
        for slot in self._slots:
            if slot.job_id == job_id:
                self._interrupt(slot, "cancel")
                return True
        return False

    def running(self) -> list[str]:
        """Ids of the jobs running now."""
        return [s.job_id for s in self._slots if s.job_id is not None]

    # -- the slots -------------------------------------------------------------------------
    def _interrupt(self, slot: _Slot, reason: str) -> None:
        with slot.lock:
            if slot.handle is None or slot.stop_reason is not None:
                return
            slot.stop_reason = reason
            ex, handle = slot.running_on, slot.handle
            # ProcessExecutor.cancel waits for the worker to unwind (seconds): not in a request
            slot.canceller = threading.Thread(target=_quietly, args=(ex.cancel, [handle]), daemon=True,
                                              name=f"talkinghead-cancel-{slot.index}")
            slot.canceller.start()

    def _loop(self, slot: _Slot) -> None:
        while not self._stop.is_set():
            job = self.store.claim_next()
            if job is None:
                with self._wake:
                    self._wake.wait(self.poll_s * 4)
                continue
            try:
                self._run(slot, job)
            except Exception as exc:  # noqa: BLE001 - a bug: the job fails, the slot goes on
                log.exception("job %s", job.id)
                self.store.fail(job.id, f"internal error: {type(exc).__name__}: {exc}")

    def _executor(self, slot: _Slot):
        from ..batch.executors import ProcessExecutor, RayExecutor, threads_per_worker

        if self.executor == "ray":
            with self._shared_lock:
                if self._shared is None:
                    self._shared = RayExecutor(self.workers, self.env, self.ray_address)
                return self._shared
        if slot.executor is None:
            slot.executor = ProcessExecutor(1, self.env, threads=threads_per_worker(self.workers))
        return slot.executor

    def _run(self, slot: _Slot, job: Job) -> None:
        data = self.data
        face = self.store.face(job.face_id)
        if face is None:
            self.store.fail(job.id, "its face was deleted before the job started")
            return
        data.clear_outputs(job.id)
        out_dir = data.out_dir(job.id)
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            spec = build_spec(JobRequest.from_dict(job.request), job_id=job.id,
                              face=data.face_dir(face.id) / face.filename, job_dir=data.job_dir(job.id),
                              out_dir=out_dir, voice_table=self.voice_table, output_name=f"{OUTPUT_STEM}.mp4")
        except RequestError as exc:  # e.g. a voice removed from --voice-dir since
            self.store.fail(job.id, data.hide_root(str(exc)))
            return
        payload = {"job": spec.to_payload(), "device": self.device, "threads": None, "env": self.env,
                   "progress": False, "progress_file": str(data.progress_file(job.id))}
        with slot.lock:
            if self._stop.is_set():
                self.store.requeue(job.id, "queued again: the server stopped before it started")
                return
            try:
                ex = self._executor(slot)
                handle = ex.submit(payload, spec.face_key)
            except TalkingHeadError as exc:  # e.g. Ray cannot be reached
                self.store.fail(job.id, f"the job could not be started: {exc}")
                return
            slot.job_id, slot.stop_reason, slot.running_on, slot.handle = job.id, None, ex, handle
        if self.store.job(job.id).cancel_requested:  # cancelled between the claim and the submit
            self._interrupt(slot, "cancel")
        log.info("job %s started", job.id)
        interrupted = False
        try:
            result = ex.wait([slot.handle])[0][1]
        except KeyboardInterrupt:  # the job's worker got SIGINT: a cancel, or Ctrl-C in the terminal
            interrupted = True
            result = {"status": "failed", "error": "interrupted"}
        except BaseException as exc:  # noqa: BLE001 - a dead worker
            result = {"status": "failed", "error": f"the worker stopped: {type(exc).__name__}: {exc}"}
        with slot.lock:
            reason, canceller = slot.stop_reason, slot.canceller
            slot.job_id = slot.handle = slot.canceller = slot.running_on = None
            slot.stop_reason = None
        if canceller is not None:
            canceller.join()  # the executor is usable again once its cancel is over
        if reason is None and self.store.job(job.id).cancel_requested:
            reason = "cancel"
        if reason is None and interrupted:  # not asked by the server: Ctrl-C in its terminal
            reason = "shutdown"
        if reason is not None or result.get("status") != "ok":
            data.clear_outputs(job.id)
        if reason == "cancel":
            self.store.cancelled(job.id)
            log.info("job %s cancelled", job.id)
        elif reason == "shutdown":
            self.store.requeue(job.id, "queued again: the server stopped while it was running")
        elif result.get("status") == "ok" and data.output(job.id, ".mp4").exists():
            data.progress_file(job.id).unlink(missing_ok=True)
            self.store.finish(job.id, result.get("duration") or 0.0, result.get("n_frames") or 0)
            self.store.mark_prepared(face.id)
            log.info("job %s done in %.1f s", job.id, result.get("seconds") or 0.0)
        else:
            error = result.get("error") or "the job made no video"
            self.store.fail(job.id, data.hide_root(error))
            log.info("job %s failed: %s", job.id, error)

    def _monitor(self) -> None:
        from ..batch.progress import read_progress

        while not self._stop.wait(self.poll_s):
            for job_id in self.running():
                p = read_progress(self.data.progress_file(job_id))
                if p is not None:
                    self.store.set_progress(job_id, p.stage, p.progress)


def _quietly(step, *args) -> None:
    try:
        step(*args)
    except Exception as exc:  # noqa: BLE001 - shutting down: log and go on
        log.warning("%s: %s", getattr(step, "__name__", step), exc)
