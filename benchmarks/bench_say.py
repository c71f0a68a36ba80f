#!/usr/bin/env python
"""End to end, as a user runs it: ``talkinghead say`` on a prepared face, wall clock from start to
file written, against the length of the speech; and the streaming API's first frame.

The face is prepared once (``talkinghead prepare``, into the cache given by ``--cache``, untimed
unless it is new there), then ``talkinghead say`` runs ``--runs`` times per mode as a separate
process (start-up, imports, model loading, speech, rendering, encoding: everything), with a fixed
Piper seed so that every run says the same audio. The streaming figure is
``Pipeline.from_face`` (cached) and then the time from calling :meth:`Pipeline.frames` with
ready speech to its first frame.

Prints a Markdown table and writes ``results/say.json``.

    python benchmarks/bench_say.py                                  # KatieHill, a ~20 s script
    python benchmarks/bench_say.py --face ../shared/data/faces/RD_Radio2_000.mp4 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import machine_info, machine_line, md_table  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"
MODES = {"default": [], "fast": ["--fast"]}


def talkinghead_exe() -> list[str]:
    """The command line of the installed ``talkinghead`` (beside this Python)."""
    exe = Path(sys.executable).with_name("talkinghead")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "talkinghead"]


def timed_say(face: Path, script: Path, out: Path, extra: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run([*talkinghead_exe(), "say", "-q", "--script", str(script), "--face", str(face), "-o", str(out),
                    "--seed", "0", "--sidecars", *extra], check=True, env=env)
    return time.perf_counter() - t0


def first_frame(face: Path, text: str, env: dict) -> dict:
    """In a child process with the same cache: seconds of ``Pipeline.from_face`` and from
    ``frames()`` to its first frame."""
    code = f"""
import json, time
from talkinghead import Pipeline
from talkinghead.speech.select import make_speech
t0 = time.perf_counter()
face = Pipeline.from_face({str(face)!r}, progress=False)
t1 = time.perf_counter()
speech = make_speech({text!r}, seed=0, progress=False)
t2 = time.perf_counter()
next(iter(face.frames(speech)))
t3 = time.perf_counter()
print(json.dumps({{"from_face_s": t1 - t0, "speech_s": t2 - t1, "first_frame_s": t3 - t2}}))
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def end_to_end(face: Path, script: Path, *, runs: int = 2, modes=tuple(MODES), cache: Path | None = None,
               stream_text: str | None = None) -> dict:
    """Prepare ``face`` once with ``talkinghead prepare`` (into ``cache``), then time ``talkinghead say``
    ``runs`` times per mode (a separate process each: everything a user waits for) and, when
    ``stream_text`` is given, the streaming API's first frame.

    Returns:
        ``{"face", "prepare_s", "runs": [{"mode", "wall_s", "audio_s", "x_real_time"}, ...],
        "best": {mode: x_real_time}, "streaming": {...} or None}``.
    """
    cache = cache or Path(tempfile.gettempdir()) / "talkinghead-bench-say-cache"
    env = {**os.environ, "TALKINGHEAD_CACHE": str(cache)}
    t0 = time.perf_counter()
    subprocess.run([*talkinghead_exe(), "prepare", "-q", str(face)], check=True, env=env)
    prepare_s = time.perf_counter() - t0
    runs_out, best = [], {}
    with tempfile.TemporaryDirectory(prefix="talkinghead-bench-say-") as tmp:
        for mode in modes:
            for k in range(runs):
                out = Path(tmp) / f"{mode}_{k}.mp4"
                wall = timed_say(face, script, out, MODES[mode], env)
                audio = json.loads(out.with_suffix(".json").read_text())["duration"]
                runs_out.append({"mode": mode, "wall_s": round(wall, 2), "audio_s": round(audio, 2),
                                 "x_real_time": round(wall / audio, 3)})
                print(json.dumps(runs_out[-1]), file=sys.stderr, flush=True)
                best[mode] = min(best.get(mode, float("inf")), runs_out[-1]["x_real_time"])
    stream = first_frame(face, stream_text, env) if stream_text else None
    return {"face": face.name, "prepare_s": round(prepare_s, 1), "runs": runs_out, "best": best, "streaming": stream}


def twice_script(folder: Path) -> Path:
    """``script_10s.txt`` said twice (about 20 s of speech), written into ``folder``."""
    text = (HERE / "script_10s.txt").read_text().strip()
    script = Path(folder) / "script_20s.txt"
    script.write_text(f"{text}\n\n{text}\n")
    return script


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--face", type=Path, default=DATA / "faces" / "WDA_KatieHill_000.mp4")
    ap.add_argument("--script", type=Path, default=None,
                    help="script file (default: benchmarks/script_10s.txt twice, ~20 s of speech)")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "talkinghead-bench-say-cache",
                    help="TALKINGHEAD_CACHE of the runs (kept, so that the face is prepared once)")
    ap.add_argument("--output", type=Path, default=HERE / "results" / "say.json")
    args = ap.parse_args(argv)
    if not args.face.exists():
        print(f"no face video {args.face} (the development data is needed)", file=sys.stderr)
        return 2
    info = machine_info()
    print(f"Machine: {machine_line(info)}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="talkinghead-bench-say-") as tmp:
        script = args.script if args.script is not None else twice_script(Path(tmp))
        r = end_to_end(args.face, script, runs=args.runs, modes=args.modes, cache=args.cache,
                       stream_text=script.read_text().split("\n")[0])
    rows = []
    for mode in args.modes:
        walls = [x["wall_s"] for x in r["runs"] if x["mode"] == mode]
        audio = next(x["audio_s"] for x in r["runs"] if x["mode"] == mode)
        rows.append((mode, f"{audio:.1f}", " / ".join(f"{w:.1f}" for w in walls), f"{r['best'][mode]:.2f}x"))
    stream = r["streaming"]
    print(f"\n`talkinghead say` on a prepared face ({args.face.name}), wall clock from start to file written "
          f"(preparation, once: {r['prepare_s']:.0f} s):\n")
    print(md_table(("mode", "speech (s)", "wall per run (s)", "best x real time"), rows))
    print(f"\nStreaming API: `Pipeline.from_face` (cached) {stream['from_face_s']:.2f} s; `frames()` to the first "
          f"frame {stream['first_frame_s']:.2f} s (speech of the first sentence made before: "
          f"{stream['speech_s']:.2f} s)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"machine": info, "face": args.face.name, "prepare_s": r["prepare_s"],
                                       "runs": r["runs"], "streaming": stream}, indent=1) + "\n")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
