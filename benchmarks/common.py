"""Shared helpers of the benchmark scripts: machine description, Markdown tables, JSON results,
peak memory (RSS) measurement, the project's targets and the development clips.

Nothing here measures the pipeline itself; see ``bench_pipeline.py`` (speed) and ``quality.py``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
#: Development data (not shipped; see ../shared/data/README.md).
DATA = ROOT.parent / "shared" / "data"

# ------------------------------------------------------------------------------------------
# Targets (from the project's issues). ``op`` is how a measured value must compare to ``value``.


@dataclass(frozen=True)
class Target:
    """A published goal: ``measured <op> value`` (``op`` one of ``>=``, ``<=``, ``<``, ``abs<=``)."""

    op: str
    value: float
    text: str

    def met(self, x: float | None) -> bool | None:
        """Whether ``x`` meets the target (``None`` when ``x`` is unknown)."""
        if x is None or x != x:  # None or NaN
            return None
        if self.op == ">=":
            return x >= self.value
        if self.op == "<=":
            return x <= self.value
        if self.op == "<":
            return x < self.value
        if self.op == "abs<=":
            return abs(x) <= self.value
        raise ValueError(f"unknown comparison {self.op!r}")


TARGETS: dict[str, Target] = {
    "tracking_fps": Target(">=", 25.0, ">= 25 fps at 512x512"),
    "render_ms": Target("<=", 10.0, "<= 10 ms/frame"),
    "recon_ssim": Target(">=", 0.82, ">= 0.82 on every clip"),
    "recon_psnr": Target(">=", 23.0, ">= 23 dB on every clip"),
    "synthesis_rtf": Target("<=", 3.0, "<= 3x real time on 2 cores"),
    "prepare_s": Target("<=", 300.0, "<= 5 min for an 8 s 512x512 clip"),
    "lag_frames": Target("abs<=", 1.0, "0 +/- 1 frame"),
    "piper_rtf": Target("<=", 0.2, "<= 0.2"),
    "peak_rss_gb": Target("<", 4.0, "< 4 GB (long scripts)"),
}


def verdict(key: str, x: float | None) -> str:
    """``"ok"``, ``"**MISSES** (target ...)"`` or ``"n/a"`` for the table's last column."""
    t = TARGETS[key]
    m = t.met(x)
    if m is None:
        return "n/a"
    return "ok" if m else f"**MISSES** ({t.text})"


# ------------------------------------------------------------------------------------------
# Machine


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """Where and when the figures were measured: CPU, cores, memory, GPU, torch threads, date."""
    import torch

    info = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }
    try:
        info["load_average_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    try:
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
        info["memory_gb"] = round(int(mem[1]) / 1024**2, 1)
    except (OSError, IndexError, ValueError):
        pass
    return info


def machine_line(info: dict) -> str:
    """One line describing the machine for the printed report."""
    gpu = info.get("gpu") or "no GPU"
    load = info.get("load_average_1_5_15")
    s = (f"{info['date_utc']}; {info['cpu']}, {info['cores']} cores, {info.get('memory_gb', '?')} GB, {gpu}; "
         f"torch {info['torch']} with {info['torch_threads']} threads")
    if load:
        s += f"; load average at start {load[0]} (other jobs share the machine)"
    return s


# ------------------------------------------------------------------------------------------
# Output


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; floats are printed as given (format them beforehand)."""
    def cell(x: object) -> str:
        return "-" if x is None else str(x).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "---|" * len(headers)]
    for r in rows:
        if len(r) != len(headers):
            raise ValueError(f"row has {len(r)} cells, table has {len(headers)} columns")
        lines.append("| " + " | ".join(cell(x) for x in r) + " |")
    return "\n".join(lines)


def fmt(x: float | None, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals, ``-`` when unknown."""
    if x is None or x != x:
        return "-"
    return f"{x:.{digits}f}"


def utc_stamp() -> str:
    """The current UTC time as ``YYYYmmddTHHMMSSZ`` (file names)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def write_results(data: dict, name: str = "bench", folder: Path = RESULTS,
                  stamp: str | None = None) -> tuple[Path, Path]:
    """Write ``data`` as strict JSON (NaN -> null) to ``folder/<name>-<stamp>.json`` (default
    stamp: now, UTC) and ``folder/latest.json`` (``latest-<name>.json`` for another ``name``
    than ``bench``). Returns both paths."""
    from talkinghead.fileio import write_text_atomic

    folder.mkdir(parents=True, exist_ok=True)
    stamp = stamp or utc_stamp()
    text = json.dumps(_finite(data), indent=2, default=_json_default, allow_nan=False) + "\n"
    stamped = folder / f"{name}-{stamp}.json"
    latest = folder / ("latest.json" if name == "bench" else f"latest-{name}.json")
    write_text_atomic(stamped, text)
    write_text_atomic(latest, text)
    return stamped, latest


def _finite(o):
    """``o`` with NaN/inf floats replaced by ``None`` (strict JSON), recursively."""
    import math

    import numpy as np

    if isinstance(o, dict):
        return {str(k): _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    if isinstance(o, np.ndarray):
        return _finite(o.tolist())
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


# ------------------------------------------------------------------------------------------
# Memory


def rusage_peaks_mb() -> dict:
    """Peak resident set sizes so far from ``getrusage`` (MB): ``self`` (this process) and
    ``children`` (the largest terminated, waited-for child, e.g. an ffmpeg encoder)."""
    div = 2**20 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, kB on Linux
    return {"self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / div,
            "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / div}


class PeakRSS:
    """Peak memory of this process plus its live children while the ``with`` block runs.

    With ``psutil`` installed, a thread samples ``RSS(self) + sum(RSS(children, recursive))``
    every ``interval`` seconds (so the ffmpeg encoder/decoder processes are counted while they
    run); without it, only ``getrusage`` peaks are available (``peak_mb`` is then the process's
    own peak plus the largest finished child's, an upper bound). ``getrusage`` peaks are always
    reported too (``self_peak_mb``, ``children_peak_mb``, since process start).

    >>> with PeakRSS() as m:
    ...     work()
    >>> m.peak_mb
    """

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.peak_mb: float = 0.0
        self.sampled = False
        #: ``(seconds since enter, MB)`` of every sample (psutil only): memory over time.
        self.trace: list[tuple[float, float]] = []
        self._t0 = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> float:
        import psutil

        p = psutil.Process()
        total = p.memory_info().rss
        for c in p.children(recursive=True):
            try:
                total += c.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                mb = self._sample()
                self.peak_mb = max(self.peak_mb, mb)
                self.trace.append((time.perf_counter() - self._t0, mb))
            except Exception:  # noqa: BLE001 - a vanished child between listing and reading
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakRSS":
        try:
            import psutil  # noqa: F401

            self.sampled = True
            self._t0 = time.perf_counter()
            self.peak_mb = self._sample()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        except ImportError:
            self.sampled = False
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        r = rusage_peaks_mb()
        self.self_peak_mb = r["self"]
        self.children_peak_mb = r["children"]
        if not self.sampled:
            self.peak_mb = r["self"] + r["children"]

    def as_dict(self) -> dict:
        return {"peak_mb": round(self.peak_mb, 1), "method": "psutil sampling (process + children)"
                if self.sampled else "getrusage (self peak + largest child peak)",
                "self_peak_mb_since_start": round(self.self_peak_mb, 1),
                "children_peak_mb_since_start": round(self.children_peak_mb, 1)}


# ------------------------------------------------------------------------------------------
# Data and timing


def dev_clips(names: Sequence[str] | None = None, size: tuple[int, int] = (512, 512)) -> list[Path]:
    """The development face clips of ``size`` (default: the five 512x512 HDTF clips), sorted;
    ``names`` (stems or file names) selects some of them."""
    from talkinghead.media import probe

    folder = DATA / "faces"
    if not folder.is_dir():
        return []
    clips = sorted(folder.glob("*.mp4"))
    if names:
        want = {Path(n).stem for n in names}
        clips = [c for c in clips if c.stem in want]
    return [c for c in clips if (probe(c).width, probe(c).height) == tuple(size)]


class Timer:
    """Accumulates wall time per named stage: ``with timer("refine"): ...``."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._name: str | None = None

    def __call__(self, name: str) -> "Timer":
        self._name = name
        return self

    def __enter__(self) -> "Timer":
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds[self._name] = self.seconds.get(self._name, 0.0) + time.perf_counter() - self._t0
