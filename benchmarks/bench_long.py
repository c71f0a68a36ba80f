"""Memory of a long narration: peak RSS (process + ffmpeg children) of ``Pipeline.say`` on a
narration of about ``--minutes`` minutes, and RSS over time (bounded memory shows as a flat line,
not one that grows with the video). Prints a Markdown table; writes
``benchmarks/results/long-<stamp>.json`` and ``latest-long.json``.

    .venv/bin/python benchmarks/bench_long.py                      # 10 min on the bundled portrait
    .venv/bin/python benchmarks/bench_long.py --minutes 1 --face ../shared/data/faces/X.mp4

The face defaults to the bundled astronaut portrait (no development data needed). The face is
prepared before the measurement (``--steps``, default 20: memory does not depend on the number of
fine-tuning steps; a face already prepared with other settings is taken from the cache); only
``say`` is measured. The script is ``script_10s.txt`` repeated in paragraphs (at least ``--minutes`` of speech). Needs ``psutil``
(``pip install -e '.[bench]'``) for the samples over time.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PeakRSS, machine_info, machine_line, md_table, utc_stamp, write_results  # noqa: E402

SCRIPT = Path(__file__).with_name("script_10s.txt")
DEFAULT_FACE = ROOT / "assets" / "face" / "astronaut.png"
LIMIT_GB = 4.0


def long_narration(text: str, minutes: float) -> str:
    """``text`` repeated into paragraphs until at least ``minutes`` of speech (the length of one
    repetition is measured by speaking it once with the default voice)."""
    import math

    from talkinghead.speech.piper import PiperSpeaker

    once = PiperSpeaker().speak(text).duration + 0.7  # + the paragraph pause between repetitions
    reps = max(1, math.ceil(minutes * 60 / once))
    return "\n\n".join(text for _ in range(reps))


def rss_at_fractions(trace: list[tuple[float, float]], fractions=(0.1, 0.25, 0.5, 0.75, 0.9, 1.0)) -> dict:
    """RSS (MB) at given fractions of the run's duration (the last sample at or before each)."""
    if not trace:
        return {}
    end = trace[-1][0]
    out = {}
    for f in fractions:
        mb = [m for t, m in trace if t <= f * end + 1e-9]
        out[f"{int(f * 100)}%"] = round(mb[-1], 1) if mb else None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--face", type=Path, default=DEFAULT_FACE, help="face video or portrait (default: bundled astronaut)")
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the narration (default 10)")
    ap.add_argument("--steps", type=int, default=20, help="fine-tuning steps of the preparation (default 20)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--keep", type=Path, default=None, help="keep the output video in this folder")
    ap.add_argument("--no-save", action="store_true", help="print only, write no JSON")
    args = ap.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import torch

    from talkinghead import Pipeline

    torch.set_num_threads(args.threads)
    info = machine_info()
    print(f"Machine: {machine_line(info)}", file=sys.stderr, flush=True)
    text = long_narration(SCRIPT.read_text().strip(), args.minutes)
    pipe = Pipeline.from_face(args.face, device=args.device, steps=args.steps, progress=True)
    tmp = tempfile.TemporaryDirectory(prefix="talkinghead-long-")
    out_dir = args.keep or Path(tmp.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"long_{args.face.stem}.mp4"
    with PeakRSS(interval=0.5) as mem:
        t0 = time.perf_counter()
        res = pipe.say(text, out)
        wall = time.perf_counter() - t0
    size_mb = out.stat().st_size / 2**20
    at = rss_at_fractions(mem.trace)
    data = {
        "machine": info, "face": args.face.name, "minutes_asked": args.minutes, "audio_s": res.duration,
        "frames": res.n_frames, "fps": res.fps, "wall_s": wall, "rtf": wall / res.duration,
        "memory": mem.as_dict(), "rss_mb_at": at, "output_mb": size_mb,
        "timings": res.timings, "limit_gb": LIMIT_GB,
        "trace_mb": [(round(t, 1), round(m, 1)) for t, m in mem.trace[:: max(1, len(mem.trace) // 400)]],
    }
    gb = mem.peak_mb / 1024
    verdict = "meets" if gb < LIMIT_GB else "MISSES"
    print(f"\nMachine: {machine_line(info)}\n")
    print(md_table(
        ["face", "speech (min)", "frames", "wall (s)", "x real time", "peak RSS (GB)", f"target < {LIMIT_GB:g} GB"],
        [(args.face.name, f"{res.duration / 60:.2f}", res.n_frames, f"{wall:.0f}", f"{wall / res.duration:.2f}",
          f"{gb:.2f}", verdict)]))
    if at:
        print("\nRSS (MB, process + children) at fractions of the run:\n")
        print(md_table(list(at), [list(at.values())]))
    if not args.no_save:
        paths = write_results(data, name="long", stamp=utc_stamp())
        print(f"\nresults: {paths[0]}", file=sys.stderr)
    return 0 if gb < LIMIT_GB else 1


if __name__ == "__main__":
    sys.exit(main())
