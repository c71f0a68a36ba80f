#!/usr/bin/env python
"""Train the generic refiner shipped in ``models/refiner_generic.pt``.

Usage (the exact command and provenance of the shipped weights are in ``models/README.md``)::

    python tools/train_generic_refiner.py --config models/refiner_generic.json \
        --output models/refiner_generic.pt --max-minutes 60

For every clip matched by ``data.clips`` the face is tracked (:func:`track_face`), up to
``data.max_frames_per_clip`` evenly spaced frames are rendered with their own expression and
cropped (:func:`build_clip_data`), and the result is cached as ``.npz`` under ``cache_dir`` (so a
restart does not re-render). Clips matched by ``data.holdout_globs`` contribute only their first
``data.train_fraction`` of frames (tracked on those frames alone), the rest being reserved for
measuring reconstruction (benchmarks/bench_refine.py). The optional ``augment`` section sets
fields of :class:`talkinghead.refine.dataset.Augment` (e.g. ``teeth_ref_dropout``).

Training resumes from ``--output`` if it exists and was written by this tool with the same
architecture; a checkpoint is written atomically every ``checkpoint_every`` steps and at the end,
so an interrupted run leaves usable weights. Per-step losses go to ``--log`` (JSON lines).
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkinghead.errors import TalkingHeadError  # noqa: E402
from talkinghead.refine.dataset import DATA_VERSION, Augment, ClipData, PairSampler, build_clip_data  # noqa: E402
from talkinghead.refine.infer import Refiner, resolve_device  # noqa: E402
from talkinghead.refine.model import RefinerConfig, count_parameters  # noqa: E402
from talkinghead.refine.train import TrainSettings, train_refiner  # noqa: E402

log = logging.getLogger("train_generic_refiner")


def clip_cache(path: str, cfg: dict) -> ClipData | None:
    """Load or build the cached training data of one clip (``None`` if no face is usable)."""
    from talkinghead.face.tracking import track_face
    from talkinghead.media import probe, read_frames

    data = cfg["data"]
    res = cfg["model"]["resolution"]
    holdout = any(fnmatch.fnmatch(path, g) for g in data.get("holdout_globs", []))
    frac = float(data["train_fraction"]) if holdout else 1.0
    name = Path(path).stem
    out = Path(cfg["cache_dir"]) / f"{Path(path).parent.name}_{name}_{res}_{int(frac * 100)}_v{DATA_VERSION}.npz"
    if out.exists():
        return ClipData.load(out)
    info = probe(path)
    n_use = max(1, int(info.n_frames * frac))
    frames = [f.copy() for f in read_frames(path, info=info, max_frames=n_use)]
    try:
        if holdout:
            track = track_face(frames, fps=info.fps, progress=False)
        else:
            track = track_face(path, progress=False)
    except TalkingHeadError as exc:
        log.warning("skipping %s: %s", path, exc)
        return None
    n = min(len(frames), track.n_frames)
    ids = np.unique(np.linspace(0, n - 1, min(n, int(data["max_frames_per_clip"]))).round().astype(np.int64))
    clip = build_clip_data(frames, track, ids, res, name=name)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part.npz")
    clip.save(tmp)
    os.replace(tmp, out)
    return clip


def resolve_paths(cfg: dict, base: Path) -> dict:
    """Make the config's relative clip globs, hold-out globs and cache folder absolute, relative
    to ``base`` (the config file's folder)."""
    def absolute(p: str) -> str:
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(base, p))

    data = cfg["data"]
    data["clips"] = [absolute(g) for g in data["clips"]]
    data["holdout_globs"] = [absolute(g) for g in data.get("holdout_globs", [])]
    cfg["cache_dir"] = absolute(cfg["cache_dir"])
    return cfg


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="models/refiner_generic.json")
    ap.add_argument("--output", default="models/refiner_generic.pt")
    ap.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this wall time")
    ap.add_argument("--steps", type=int, default=None, help="override train.steps")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--log", default="/tmp/train_generic_refiner.log.jsonl", help="per-step losses (JSON lines)")
    ap.add_argument("--prepare-only", action="store_true", help="build the clip caches and exit")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = resolve_paths(json.loads(Path(args.config).read_text()), Path(args.config).resolve().parent)
    torch.set_num_threads(int(cfg.get("threads", 2)))
    t_start = time.time()

    paths = sorted({p for g in cfg["data"]["clips"] for p in glob.glob(g)})
    clips = []
    for p in paths:
        t0 = time.time()
        c = clip_cache(p, cfg)
        if c is not None and c.n_train > 0:
            clips.append(c)
            log.info("clip %s: %d frames (%.1fs)", c.name, len(c), time.time() - t0)
    log.info("%d clips, %d frames, data ready in %.0fs", len(clips), sum(len(c) for c in clips), time.time() - t_start)
    if args.prepare_only:
        return 0

    mcfg = RefinerConfig.from_dict(cfg["model"])
    ts = TrainSettings(**cfg["train"])
    if args.steps is not None:
        ts.steps = args.steps
    device = resolve_device(args.device)
    out = Path(args.output)
    start = 0
    if out.exists():
        ref = Refiner.load(out, device, with_discriminator=True)
        if ref.config.to_dict() == mcfg.to_dict() and ref.meta.get("tool") == "train_generic_refiner":
            start = int(ref.meta.get("steps", 0))
            log.info("resuming from %s at step %d", out, start)
        else:
            ref = Refiner.new(mcfg, device, seed=ts.seed)
    else:
        ref = Refiner.new(mcfg, device, seed=ts.seed)
    log.info("generator %.2fM params, discriminator %.2fM", count_parameters(ref.generator) / 1e6,
             count_parameters(ref.discriminator) / 1e6)
    sampler = PairSampler(clips, mcfg.n_refs, augment=Augment(**cfg.get("augment", {})), seed=ts.seed + start)
    remaining = max(ts.steps - start, 0)
    logf = open(args.log, "a")
    deadline = t_start + args.max_minutes * 60 if args.max_minutes else None
    state = {"done": start, "seconds": float(ref.meta.get("train_seconds", 0.0))}
    t_train = time.time()

    def meta() -> dict:
        return {
            "tool": "train_generic_refiner",
            "steps": state["done"],
            "train_seconds": round(state["seconds"] + time.time() - t_train, 1),
            "config": cfg,
            "clips": [c.name for c in clips],
            "n_frames": int(sum(len(c) for c in clips)),
            "machine": f"{os.cpu_count()} CPU threads" if device.type == "cpu" else torch.cuda.get_device_name(),
        }

    class Stop(Exception):
        pass

    def on_step(step: int, rec: dict) -> None:
        state["done"] = step + 1
        logf.write(json.dumps(rec) + "\n")
        logf.flush()
        if (step + 1) % int(cfg["checkpoint_every"]) == 0:
            ref.save(out, meta=meta())
            log.info("step %d l1 %.4f ssim %.4f d %.3f (%.2fs/step) saved", step + 1, rec["l1"], 1 - rec["ssim"],
                     rec["d"], rec["seconds"])
        if deadline is not None and time.time() > deadline:
            raise Stop

    opt_g = torch.optim.Adam(ref.generator.parameters(), lr=ts.lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(ref.discriminator.parameters(), lr=ts.lr_d, betas=(0.5, 0.999))
    try:
        train_refiner(ref.generator, ref.discriminator, sampler, ts.__class__(**{**ts.to_dict(), "steps": remaining}),
                      device=device, on_step=on_step, optimizers=(opt_g, opt_d), start_step=start)
    except Stop:
        log.info("time limit reached at step %d", state["done"])
    ref.generator.eval()
    ref.save(out, meta=meta())
    log.info("saved %s (%d steps, %.1f MB)", out, state["done"], out.stat().st_size / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
