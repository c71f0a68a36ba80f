#!/usr/bin/env python
"""All benchmarks in one pass: speed (bench_pipeline.py) and quality (quality.py) per clip.

For each 512x512 development clip: prepare the face without any cache (timed), make it say
``benchmarks/script_10s.txt`` with every stage timed, then measure reconstruction on the
held-out frames, lip-sync against the plan, identity and stability on the output video. Prints
Markdown tables (speed, preparation, per-clip quality, averages; a figure that misses one of
the project's targets says so) and writes the figures to ``benchmarks/results/`` (a timestamped
``bench-*.json`` and ``latest.json``).

    make bench                                         # = .venv/bin/python benchmarks/run_all.py
    .venv/bin/python benchmarks/run_all.py --quick     # one clip, 10 fine-tuning steps (minutes)
    .venv/bin/python benchmarks/run_all.py --clips RD_Radio2_000 WDA_KatieHill_000
    .venv/bin/python benchmarks/run_all.py --long      # + peak memory of a 10-minute narration

Needs the development data (``../shared/data``) and, for the identity figure, ``dlib-bin`` and
``face-recognition-models``. Expect several minutes per clip on a 2-core CPU (mostly the
refiner's fine-tuning).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_pipeline as bp  # noqa: E402
import bench_say  # noqa: E402
from bench_long import long_narration  # noqa: E402
import quality as q  # noqa: E402
from common import (  # noqa: E402
    RESULTS,
    TARGETS,
    PeakRSS,
    dev_clips,
    machine_info,
    machine_line,
    md_table,
    utc_stamp,
    verdict,
    write_results,
)


def generic_weights_info() -> dict:
    """Which generic refiner weights were measured (they change as they are trained further)."""
    from talkinghead.face.cache import file_sha256
    from talkinghead.refine.infer import GENERIC_WEIGHTS, Refiner

    meta = Refiner.load(GENERIC_WEIGHTS, "cpu").meta
    return {"file": GENERIC_WEIGHTS.name, "sha256_16": file_sha256(GENERIC_WEIGHTS)[:16],
            "steps": meta.get("steps")}


def run_long(clip: Path, text: str, minutes: float, steps: int | None, device: str, out_dir: Path) -> dict:
    """Peak RSS (process + children) and wall time of ``Pipeline.say`` on a long narration."""
    from talkinghead import Pipeline

    narration = long_narration(text, minutes)
    pipe = Pipeline.from_face(clip, device=device, steps=steps, progress=False)  # cached if prepared before
    out = out_dir / f"long_{clip.stem}.mp4"
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        res = pipe.say(narration, out)
        dt = time.perf_counter() - t0
    return {"clip": clip.stem, "audio_s": res.duration, "frames": res.n_frames, "wall_s": dt,
            "rtf": dt / res.duration, "memory": mem.as_dict(), "timings": res.timings}


def main(argv: list[str] | None = None, prog: str = "run_all.py", doc: str = __doc__) -> int:
    ap = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="*", help="clip names under ../shared/data/faces (default: all 512x512)")
    ap.add_argument("--quick", action="store_true", help="one clip, few fine-tuning steps (a smoke run)")
    ap.add_argument("--steps", type=int, default=None,
                    help="fine-tuning steps (default: the product's, 150; --quick: 10)")
    ap.add_argument("--script", type=Path, default=bp.SCRIPT, help="script to say (default: script_10s.txt)")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    ap.add_argument("--no-quality", action="store_true", help="speed figures only")
    ap.add_argument("--no-own-mouth", dest="own_mouth", action="store_false",
                    help="the refiner's mouth alone (talkinghead say --no-own-mouth), for comparison")
    ap.add_argument("--identity-every", type=int, default=5, help="embed every N-th output frame (identity)")
    ap.add_argument("--no-end-to-end", dest="end_to_end", action="store_false",
                    help="leave out the end-to-end line (`talkinghead prepare` + `say` of the first clip as "
                         "separate processes, as a user runs them: about two more minutes; --quick leaves it out)")
    ap.add_argument("--long", action="store_true", help="also measure peak RSS of a long narration (slow)")
    ap.add_argument("--long-minutes", type=float, default=10.0, help="length of the long narration")
    ap.add_argument("--keep", type=Path, default=None, help="keep the output videos and example PNGs here")
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON results")
    ap.add_argument("--no-save", action="store_true", help="print only, write no JSON")
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="time budget: start no further clip that would end past it (the clips left out are named)")
    ap.add_argument("--report", type=Path, default=None, metavar="JSON",
                    help="print the tables of a saved results file (e.g. results/latest.json) and exit")
    args = ap.parse_args(argv)
    if args.report is not None:
        data = json.loads(args.report.read_text())
        print_report(data, quality=any(c.get("output") for c in data["clips"]))
        return 0

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GLOG_minloglevel", "2")
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    clips = dev_clips(args.clips)
    missing = sorted({Path(n).stem for n in args.clips or []} - {c.stem for c in clips})
    if missing:
        print(f"not a 512x512 clip of ../shared/data/faces: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not clips:
        print("no 512x512 clips found under ../shared/data/faces (the development data is needed)", file=sys.stderr)
        return 2
    if args.quick:
        clips = clips[:1]
    steps = args.steps if args.steps is not None else (10 if args.quick else None)
    text = args.script.read_text().strip()
    info = machine_info()
    print(f"Machine: {machine_line(info)}", file=sys.stderr)
    print(f"Clips: {', '.join(c.stem for c in clips)}; fine-tuning steps: "
          f"{steps if steps is not None else 'default (150)'}", file=sys.stderr, flush=True)

    tmp = tempfile.TemporaryDirectory(prefix="talkinghead-bench-")
    out_dir = args.keep or Path(tmp.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = generic_weights_info()
    piper = bp.piper_rtf(text)
    records = []
    long = None
    e2e = None
    stamp = utc_stamp()
    command = " ".join([prog] + (argv if argv is not None else sys.argv[1:]))

    skipped: list[str] = []
    t_start = time.perf_counter()

    def data(complete: bool) -> dict:
        return {"machine": info, "command": command, "complete": complete, "quick": args.quick,
                "script": text, "fine_tune_steps": steps, "base_weights": weights, "piper": piper,
                "clips": [_clean(r) for r in records], "skipped_clips": skipped, "long": long,
                "end_to_end": e2e}

    def save(complete: bool):
        return None if args.no_save else write_results(data(complete), folder=args.results, stamp=stamp)

    for clip in clips:
        if args.max_minutes is not None and records:
            per_clip = (time.perf_counter() - t_start) / len(records)
            if time.perf_counter() - t_start + per_clip > 60 * args.max_minutes:
                skipped.append(clip.stem)
                continue
        print(f"## {clip.stem}: preparing (no cache) ...", file=sys.stderr, flush=True)
        prepared, prep = bp.prepare_timed(clip, steps=steps, device=args.device)
        print(f"   prepared in {prep['total_s']:.0f} s; synthesizing ...", file=sys.stderr, flush=True)
        synth = bp.synthesize_timed(prepared, clip, text, out_dir / f"{clip.stem}.mp4", device=args.device,
                                    own_mouth=args.own_mouth)
        rec = out = None
        if not args.no_quality:
            print(f"   synthesized in {synth['total_s']:.0f} s; measuring quality ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            rec = q.reconstruction_metrics(prepared, clip, bp.HOLDOUT)
            out = q.output_metrics(Path(synth["output"]), clip, synth["src_index"], synth["params"],
                                   synth["planned_opening"], prepared.track.canonical,
                                   identity_every=args.identity_every)
            print(f"   quality measured in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
            if args.keep:
                import cv2

                real, rebuilt = rec["_example"]
                cv2.imwrite(str(out_dir / f"{clip.stem}_reconstruction.png"),
                            cv2.cvtColor(np.concatenate([real, rebuilt], 1), cv2.COLOR_RGB2BGR))
        records.append({"clip": clip.stem, "prepare": prep, "synthesis": synth, "reconstruction": rec, "output": out})
        del prepared
        save(complete=False)  # a long run interrupted later still leaves the clips done so far

    if args.end_to_end and not args.quick:
        print(f"## end to end: `talkinghead prepare` + `say` on {clips[0].stem} ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="talkinghead-e2e-") as e2e_dir:
            script = Path(e2e_dir) / "script.txt"
            script.write_text(text + "\n")
            e2e = bench_say.end_to_end(clips[0], script, runs=1, modes=("default",),
                                       cache=Path(e2e_dir) / "cache")

    if args.long:
        print(f"## long narration ({args.long_minutes:g} min) on {clips[0].stem} ...", file=sys.stderr, flush=True)
        long = run_long(clips[0], text, args.long_minutes, steps, args.device, out_dir)

    final = data(complete=True)
    print_report(final, quality=not args.no_quality)
    paths = save(complete=True)
    if paths:
        print(f"Figures written to {paths[0]} and {paths[1].name}")
    tmp.cleanup()
    return 0


def print_report(data: dict, quality: bool = True) -> None:
    """Print the Markdown report of a results dict (as saved in ``results/*.json``)."""
    records, info = data["clips"], data["machine"]
    w = data.get("base_weights") or {}
    print(f"# talkinghead benchmark{' (--quick)' if data.get('quick') else ''}\n")
    print(f"Machine: {machine_line(info)}\n")
    steps = data.get("fine_tune_steps")
    print(f"Clips: {', '.join(r['clip'] for r in records)}; fine-tuning steps: "
          f"{steps if steps is not None else 'default (150)'}; refiner base weights: {w.get('file')} "
          f"(sha256 {w.get('sha256_16')}, {w.get('steps')} training steps)\n")
    if data.get("skipped_clips"):
        print(f"Left out for the time budget (--max-minutes): {', '.join(data['skipped_clips'])}\n")
    if not data.get("complete", True):
        print("(an incomplete run: the clips finished so far)\n")
    print("## Speed\n")
    print(f"Synthesis of the {records[0]['synthesis']['audio_s']:.1f} s script "
          f"({data.get('script', '')[:40]}...), per stage, all clips together (wall clock):\n")
    print(bp.stage_table([r["synthesis"] for r in records]) + "\n")
    print(bp.synth_table([(r["clip"], r["synthesis"]) for r in records]) + "\n")
    e2e = data.get("end_to_end")
    if e2e:
        run = e2e["runs"][0]
        print(f"End to end, `talkinghead say` as a user runs it on a prepared face ({e2e['face']}; start-up, "
              f"speech, synthesis, encoding): {run['wall_s']:.1f} s for {run['audio_s']:.1f} s of speech, "
              f"**{run['x_real_time']:.2f}x real time** (`talkinghead prepare` of that face: {e2e['prepare_s']:.0f} s)\n")
    print("Preparation of a new face (tracking + fine-tuning; every cache disabled):\n")
    print(bp.prep_table([(r["clip"], r["prepare"]) for r in records]) + "\n")
    print("Piper TTS alone (bundled voice, loaded once):\n")
    print(bp.piper_table(data["piper"]) + "\n")
    long = data.get("long")
    if long:
        gb = long["memory"]["peak_mb"] / 1024
        print(f"Long narration ({long['audio_s'] / 60:.1f} min of speech, `Pipeline.say`):\n")
        print(md_table(("clip", "frames", "wall (s)", "x real time", "peak RSS (GiB)", "target"),
                       [(long["clip"], long["frames"], f"{long['wall_s']:.0f}", f"{long['rtf']:.2f}", f"{gb:.2f}",
                         verdict("peak_rss_gb", gb))]) + "\n")
    if quality:
        print("## Quality\n")
        for r in records:
            print(q.quality_table(r["clip"], r.get("reconstruction"), r.get("output")) + "\n")
        print("Summary (one row per clip):\n")
        print(q.mean_table([(r["clip"], r.get("reconstruction"), r.get("output")) for r in records]) + "\n")
        for key, name in (("recon_psnr", "psnr"), ("recon_ssim", "ssim")):
            bad = [r["clip"] for r in records if not (r.get("reconstruction") and
                                                      TARGETS[key].met(r["reconstruction"][name]))]
            if bad:
                print(f"- reconstruction {name.upper()} misses its target on: {', '.join(bad)}")
        print()


def _clean(r: dict) -> dict:
    """A record without the bulky arrays (per-frame series are kept, rounded, for plots)."""
    import numpy as np

    out = {"clip": r["clip"], "prepare": r["prepare"]}
    s = dict(r["synthesis"])
    for k in ("src_index", "params"):
        s.pop(k, None)
    s["planned_opening"] = np.round(s["planned_opening"], 4).tolist()
    out["synthesis"] = s
    if r["reconstruction"]:
        out["reconstruction"] = {k: v for k, v in r["reconstruction"].items() if not k.startswith("_")}
    if r["output"]:
        o = {k: v for k, v in r["output"].items() if not k.startswith("_")}
        o["measured_opening"] = [None if not np.isfinite(x) else round(float(x), 4)
                                 for x in r["output"]["_series"]["measured"]]
        out["output"] = o
    return json.loads(json.dumps(out, default=lambda x: x.item() if hasattr(x, "item") else str(x),
                                 allow_nan=True))


if __name__ == "__main__":
    sys.exit(main())
