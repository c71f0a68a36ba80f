"""Where batch jobs run: in this process, in spawned worker processes, or on a Ray cluster.

Every executor runs the same function, :func:`execute_job`, on a JSON-able payload (a
:meth:`JobSpec.to_payload` plus run options) and returns a plain dict (so that results cross
process and machine boundaries without importing anything heavy in the parent).

An executor has a tiny interface used by :mod:`talkinghead.batch.runner`::

    handle = ex.submit(payload)          # start the job now (the runner keeps <= slots in flight)
    done = ex.wait(handles)              # [(handle, result_dict), ...], at least one
    ex.cancel(handles)                   # interrupt running jobs (KeyboardInterrupt in them)
    ex.close()
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Any

EXECUTORS = ("local", "ray")

#: In a worker process: whether a job is running and whether it has been interrupted already
#: (see :func:`_worker_sigint`).
_JOB = {"running": False, "interrupted": False}


def threads_per_worker(n_workers: int) -> int:
    """Torch threads for each of ``n_workers`` parallel workers: ``max(1, cores // n)``."""
    return max(1, (os.cpu_count() or 1) // max(1, n_workers))


def _set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(max(1, int(n)))


def execute_job(payload: dict, pipeline: Any = None) -> dict:
    """Run one job: prepare (a cache hit when the parent prepared the face), speak, render.

    Args:
        payload: ``{"job": JobSpec.to_payload(), "device": str, "progress": bool,
            "threads": int | None, "env": {name: value}}``, and optionally ``"progress_file": str``:
            a file the job keeps its stage and fraction done in (:mod:`talkinghead.batch.progress`).
        pipeline: an already prepared :class:`~talkinghead.pipeline.Pipeline` of the job's face
            (in-process runs reuse the parent's).

    Returns:
        ``{"name", "status": "ok" | "failed", "output", "duration" (s of video), "n_frames",
        "seconds" (wall time), "error"}``. Never raises except for ``KeyboardInterrupt``.
    """
    _JOB.update(running=True, interrupted=False)  # first: a Ctrl-C from here on interrupts the job
    from ..errors import TalkingHeadError
    from .config import JobSpec

    t0 = time.perf_counter()
    for k, v in (payload.get("env") or {}).items():
        os.environ[k] = v
    if payload.get("threads"):
        _set_threads(payload["threads"])
    job = JobSpec.from_payload(payload["job"])
    res = {"name": job.name, "status": "failed", "output": None, "duration": None, "n_frames": None,
           "seconds": 0.0, "error": None}
    tracker = None
    if payload.get("progress_file"):
        from .progress import ProgressFile

        tracker = ProgressFile(payload["progress_file"])
    try:
        from ..pipeline import Pipeline

        progress = bool(payload.get("progress", False))
        if tracker is not None:
            tracker.report("preparing face")
        if pipeline is None:
            pipeline = Pipeline.from_face(job.face, device=payload.get("device", "auto"), cache=True, progress=progress,
                                          options=job.face_options)
        pipeline.progress = progress
        from ..speech.select import make_speech

        if tracker is not None:
            tracker.report("speech")
        speech = make_speech(job.text, audio=job.audio, transcript=job.transcript, progress=progress,
                             options=job.speech)
        on_frame = None
        if tracker is not None:
            total = max(1, round(speech.duration * float(job.fps or pipeline.fps)))

            def on_frame(i: int, frame) -> None:  # noqa: ARG001 - the pipeline's callback signature
                tracker.report("rendering", (i + 1) / total)

            tracker.report("rendering", 0.0)
        r = pipeline.say(speech=speech, output=job.output, options=job.render, on_frame=on_frame)
        if tracker is not None:
            tracker.report("finishing", 1.0)
        res.update(status="ok", output=str(r.path), duration=round(float(r.duration), 3), n_frames=int(r.n_frames))
    except TalkingHeadError as exc:
        res["error"] = str(exc)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - one broken job must not stop the batch
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" ({tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
        res["error"] = f"{type(exc).__name__}: {exc}{where}"
    finally:
        _JOB.update(running=False)
    res["seconds"] = round(time.perf_counter() - t0, 2)
    return res


# ---------------------------------------------------------------------------------------------
class InProcessExecutor:
    """Runs jobs one at a time in this process (``-j 1``), reusing the prepared pipelines."""

    slots = 1

    def __init__(self, pipelines: dict | None = None):
        self.pipelines = pipelines if pipelines is not None else {}
        self._n = 0
        self._queued: dict[int, tuple[dict, Any]] = {}

    def submit(self, payload: dict, face_key: Any = None) -> int:
        self._n += 1
        self._queued[self._n] = (payload, face_key)
        return self._n

    def wait(self, handles: list) -> list[tuple[Any, dict]]:
        h = handles[0]
        payload, key = self._queued.pop(h)
        return [(h, execute_job(payload, pipeline=self.pipelines.get(key)))]

    def cancel(self, handles: list) -> None:
        pass  # the KeyboardInterrupt already unwound the running job

    def close(self) -> None:
        self.pipelines.clear()


def _init_worker(threads: int, env: dict) -> None:
    import signal

    os.environ.update(env)
    _set_threads(threads)
    signal.signal(signal.SIGINT, _worker_sigint)
    _interrupt_when_orphaned()


def _interrupt_when_orphaned() -> None:
    """Linux: have the kernel send this worker SIGINT when its parent dies (killed with SIGKILL,
    say), so that a running job stops and removes its partial files instead of running on
    unwatched (a restarted server would run it again). Elsewhere: nothing."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGINT), 0, 0, 0)
    except (OSError, AttributeError):
        return
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # the parent died before the call
        os.kill(os.getpid(), signal.SIGINT)


def _worker_sigint(signum, frame) -> None:
    """SIGINT in a worker process (Ctrl-C reaches the whole process group; the parent also sends
    one when it cancels): the running job is interrupted once (``KeyboardInterrupt``: it removes
    its partial files); an idle worker, or a job already unwinding, ignores it. The parent alone
    decides what a Ctrl-C means: a second one used to print a worker's traceback (interrupted
    while it waited for work, or while the first interrupt was being handled)."""
    if _JOB["running"] and not _JOB["interrupted"]:
        _JOB["interrupted"] = True
        raise KeyboardInterrupt


class ProcessExecutor:
    """``-j N``: a ``ProcessPoolExecutor`` of N spawned workers (torch threads = cores // N unless
    ``threads`` says otherwise)."""

    def __init__(self, workers: int, env: dict, threads: int | None = None):
        self.slots = workers
        self.threads = threads if threads is not None else threads_per_worker(workers)
        self.env = env
        self._pool = None

    def _ensure_pool(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.slots, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker, initargs=(self.threads, self.env))
        return self._pool

    def submit(self, payload: dict, face_key: Any = None):
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self._ensure_pool().submit(execute_job, payload)
        except BrokenProcessPool:  # a worker died earlier (e.g. killed for memory): start afresh
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            return self._ensure_pool().submit(execute_job, payload)

    def wait(self, handles: list) -> list[tuple[Any, dict]]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        done, _ = wait(handles, return_when=FIRST_COMPLETED)
        out = []
        for f in done:
            try:
                out.append((f, f.result()))
            except BrokenProcessPool:
                out.append((f, {"status": "failed", "error": "a worker process died (out of memory? In a "
                                "script, call run_batch(jobs>1) under `if __name__ == '__main__':`)"}))
            except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be pickled
                out.append((f, {"status": "failed", "error": f"worker process failed: {type(exc).__name__}: {exc}"}))
        return out

    def cancel(self, handles: list) -> None:
        """Interrupt the running workers (SIGINT: the pipeline removes its partial files)."""
        import signal

        if self._pool is None:
            return
        for f in handles:
            f.cancel()
        procs = list((getattr(self._pool, "_processes", None) or {}).values())

        def interrupt() -> None:
            for p in procs:
                try:
                    if p.is_alive():
                        os.kill(p.pid, signal.SIGINT)
                except (OSError, AttributeError, ValueError):
                    pass

        interrupt()
        # the interrupted job returns its KeyboardInterrupt; the shutdown sentinel then ends the worker
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + 15.0
        while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
            # again every half second: a job a worker took from the queue after the first signal is
            # interrupted too (a worker that is idle or already unwinding ignores it)
            for p in procs:
                p.join(timeout=0.5 / max(len(procs), 1))
            interrupt()
        for p in procs:
            if p.is_alive():
                p.terminate()
        self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor:
    """``--executor ray``: each job is a Ray task (``ray.init(address)``; local Ray if ``None``)."""

    def __init__(self, workers: int, env: dict, address: str | None = None):
        from ..errors import DependencyError

        try:
            import ray
        except ImportError:
            raise DependencyError("--executor ray needs Ray: pip install 'talkinghead[ray]'") from None
        self.ray = ray
        self.slots = workers
        self.threads = threads_per_worker(workers)
        self.env = env
        self._started = False
        if not ray.is_initialized():
            kw: dict = {"address": address, "include_dashboard": False, "log_to_driver": False,
                        "configure_logging": False}
            if address is None:
                kw["num_cpus"] = max(workers, os.cpu_count() or 1)
            ray.init(**kw)
            self._started = True
        self._task = ray.remote(num_cpus=1, max_retries=0)(execute_job)

    def submit(self, payload: dict, face_key: Any = None):
        return self._task.remote(payload)

    def wait(self, handles: list) -> list[tuple[Any, dict]]:
        ready, _ = self.ray.wait(list(handles), num_returns=1)
        out = []
        for ref in ready:
            try:
                out.append((ref, self.ray.get(ref)))
            except Exception as exc:  # noqa: BLE001 - task or worker died
                msg = str(exc).strip().splitlines()
                out.append((ref, {"status": "failed", "error": f"Ray task failed: {type(exc).__name__}: "
                                  f"{msg[-1] if msg else ''}"}))
        return out

    def cancel(self, handles: list) -> None:
        for ref in handles:
            try:
                self.ray.cancel(ref)  # KeyboardInterrupt inside the task
            except Exception:  # noqa: BLE001
                pass
        if handles:
            self.ray.wait(list(handles), num_returns=len(handles), timeout=20)

    def close(self) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False


def make_executor(kind: str, workers: int, *, env: dict, pipelines: dict | None = None,
                  ray_address: str | None = None):
    """The executor for ``--executor kind`` and ``-j workers``."""
    from ..errors import InputError

    if kind == "local":
        return InProcessExecutor(pipelines) if workers == 1 else ProcessExecutor(workers, env)
    if kind == "ray":
        return RayExecutor(workers, env, ray_address)
    raise InputError(f"unknown executor {kind!r}: choose one of {', '.join(EXECUTORS)}")
