"""``talkinghead batch``: run many dubbing jobs from one YAML config (a thin layer over run_batch)."""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
examples:
  talkinghead batch examples/narration.yaml
  talkinghead batch examples/dubbing.yaml -j 2 -o out/dubbing
  talkinghead batch examples/dubbing.yaml --resume          only redo what is missing or changed
  talkinghead batch big.yaml --executor ray -j 8            on a Ray cluster ($RAY_ADDRESS)

config format (paths relative to the config file's folder):
  defaults:                       # optional; any job may override these
    face: ../assets/face/astronaut.png
    voice: joe                    # bundled Piper voice, or a .onnx path
    rate: 1.0
    steps: 150                    # refiner fine-tuning steps when preparing a face
    crf: 18
    output_dir: ../out/narration  # default: out/ beside the config
  jobs:
    - name: intro
      text: "Welcome to the quarterly update."
    - name: chapter1
      script: chapter1.txt        # a UTF-8 script file
      output: chapter-one.mp4     # default: NAME.mp4
    - name: mine
      face: me.mp4
      audio: me.wav               # your recording ...
      transcript: me.txt          # ... and what it says (text or a .txt file)
  other settings: tts, sentence_pause, paragraph_pause, fps, face_index, idle_seed, seed, align,
  language, sidecars, fast, skin_detail, colour_anchor, own_mouth, max_side, turn (auto, 0, 90, 180, 270)

Each distinct face is prepared once, then the jobs run (in parallel with -j N). A failing job does
not stop the others. A summary is printed and written to OUTDIR/batch_summary.json.
Exit codes: 0 all jobs succeeded, 1 some failed, 2 invalid config, or an output folder (-o or
output_dir) that is a file (nothing was run), 5 the output folder cannot be created (no permission,
disk full), 6 a missing optional dependency (e.g. ray), 130 interrupted
(Ctrl-C: running jobs are cancelled, finished ones kept, the summary still written).
"""


def register(sub) -> None:
    from ..cli import add_command

    p = add_command(sub, "batch", help="run many jobs from a YAML config (batch dubbing)",
                    description="Make many videos from one YAML config: each job has a face, a "
                    "script (text, a script file, or a recording + transcript) and its settings. "
                    "The config is checked completely before any work starts.", epilog=EPILOG)
    p.add_argument("config", metavar="CONFIG.yaml", help="the batch config file")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                   help="jobs run at the same time: 1 (default) runs them one by one in this "
                   "process, N > 1 in N worker processes with cores/N threads each")
    p.add_argument("--resume", action="store_true",
                   help="skip jobs whose output is complete and whose settings did not change")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local worker processes (default) or a Ray cluster (needs the 'ray' extra)")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="Ray cluster to use (default: $RAY_ADDRESS, else a local Ray instance)")
    p.add_argument("-o", "--output", metavar="OUTDIR",
                   help="output folder (default: the config's output_dir, else out/ beside it)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..batch import run_batch

    summary = run_batch(args.config, jobs=args.jobs, resume=args.resume, executor=args.executor,
                        outdir=args.output, progress=not args.quiet, device=args.device,
                        ray_address=args.ray_address)
    if args.quiet:
        for r in summary.results:
            if not r.ok:
                print(f"talkinghead: job {r.name!r} {r.status}: {r.error}", file=sys.stderr)
    else:
        print(summary.table())
        if summary.summary_path:
            print(f"summary: {summary.summary_path}")
    return summary.exit_code
