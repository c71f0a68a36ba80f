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
fields of :class:`talkinghead.refine.training.dataset.Augment` (e.g. ``teeth_ref_dropout``). The optional
``data.max_openness`` (mouth widths) leaves out the frames whose inner-lip opening is wider (the
widest-open training frames are expressions, not speech: e.g. a tongue stuck out), both as
targets and as references; the caches and data packs keep every frame.

Training resumes from ``--output`` if it exists and was written by this tool with the same
architecture; a checkpoint is written atomically every ``checkpoint_every`` steps and at the end,
so an interrupted run leaves usable weights. Per-step losses go to ``--log`` (JSON lines).

On a GPU machine (``--device cuda``) the per-sample augmentation runs in ``--workers`` processes,
and ``--plan-minutes M`` fits the run to a time budget: after ``PROBE_STEPS`` steps at constant
learning rates it measures the speed and sets ``train.steps`` so that training ends after about
M minutes, with the learning-rate decay ending at the last step (the probe times the machine as
it is: on a shared CPU, plan while nothing else runs, or give ``--steps``; a probe taken while other
work ran made run 8 end after 69 of 95 minutes). A GPU machine need not have the
tracking/rendering stack: ``--export-pack DIR`` writes the prepared clips as a compact data pack
(:mod:`talkinghead.refine.training.datapack`, ~2% of the cache's size) here, and ``--data-pack DIR``
trains from it there (NumPy, OpenCV and PyTorch suffice).
"""

from __future__ import annotations

import argparse
import dataclasses
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
from talkinghead.refine.training.dataset import (  # noqa: E402
    DATA_VERSION,
    Augment,
    BatchPrefetcher,
    ClipData,
    PairSampler,
    build_clip_data,
)
from talkinghead.refine.infer import Refiner, finetune_dtype, resolve_device  # noqa: E402
from talkinghead.refine.model import RefinerConfig, count_parameters  # noqa: E402
from talkinghead.refine.training.train import TrainSettings, train_refiner  # noqa: E402

log = logging.getLogger("train_generic_refiner")

#: Steps run at constant learning rates before ``--plan-minutes`` measures the speed.
PROBE_STEPS = 60


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


def limit_openness(clips: list[ClipData], max_openness: float) -> list[ClipData]:
    """The clips without their frames opened wider than ``max_openness`` mouth widths (clips left
    with no training frame are dropped)."""
    out = []
    for c in clips:
        keep = np.flatnonzero(c.openness <= max_openness)
        if len(keep) < len(c):
            log.info("clip %s: %d of %d frames opened wider than %.2f mouth widths left out", c.name,
                     len(c) - len(keep), len(c), max_openness)
        c = c.select(keep)
        if c.n_train > 0:
            out.append(c)
    return out


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
    ap.add_argument("--export-pack", metavar="DIR", help="write the prepared clips as a data pack and exit")
    ap.add_argument("--data-pack", metavar="DIR", help="train from a data pack instead of the clips")
    ap.add_argument("--workers", type=int, default=0, help="augmentation worker processes (0: in this one)")
    ap.add_argument("--plan-minutes", type=float, default=None,
                    help="set train.steps so that the run ends after about this many minutes "
                         "(timed by a probe of the first steps: plan on an otherwise idle machine)")
    ap.add_argument("--checkpoint-every", type=int, default=None, help="override checkpoint_every")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = resolve_paths(json.loads(Path(args.config).read_text()), Path(args.config).resolve().parent)
    torch.set_num_threads(int(cfg.get("threads", 2)))
    if args.checkpoint_every is not None:
        cfg["checkpoint_every"] = args.checkpoint_every
    t_start = time.time()

    clips = []
    if args.data_pack:
        from talkinghead.refine.training.datapack import load_pack

        clips = [c for c in load_pack(args.data_pack) if c.n_train > 0]
    else:
        paths = sorted({p for g in cfg["data"]["clips"] for p in glob.glob(g)})
        for p in paths:
            t0 = time.time()
            c = clip_cache(p, cfg)
            if c is not None and c.n_train > 0:
                clips.append(c)
                log.info("clip %s: %d frames (%.1fs)", c.name, len(c), time.time() - t0)
    log.info("%d clips, %d frames, data ready in %.0fs", len(clips), sum(len(c) for c in clips), time.time() - t_start)
    if args.export_pack:
        from talkinghead.refine.training.datapack import save_pack

        save_pack(clips, args.export_pack)
        log.info("data pack written to %s", args.export_pack)
        return 0
    if args.prepare_only:
        return 0
    max_open = cfg["data"].get("max_openness")
    if max_open is not None:
        clips = limit_openness(clips, float(max_open))
        log.info("%d clips, %d frames after data.max_openness", len(clips), sum(len(c) for c in clips))

    mcfg = RefinerConfig.from_dict(cfg["model"])
    ts = TrainSettings(**cfg["train"])
    if args.steps is not None:
        ts.steps = args.steps
    device = resolve_device(args.device)
    # bf16 autocast where `prepare`'s fine-tuning uses it (finetune_dtype): a GPU with bf16 (as
    # runs 6-7 trained) or a CPU with native bf16 (fine-tuning measured the same quality there);
    # float32 elsewhere (runs 1-5 on a CPU without it; float16 would need loss scaling).
    amp = finetune_dtype(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
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
    augment = Augment(**cfg.get("augment", {}))
    if args.workers > 0:
        sampler = BatchPrefetcher(clips, mcfg.n_refs, batch_size=ts.batch_size, workers=args.workers,
                                  augment=augment, seed=ts.seed + start, device=device)
    else:
        sampler = PairSampler(clips, mcfg.n_refs, augment=augment, seed=ts.seed + start)
    remaining = max(ts.steps - start, 0)
    ts.warmup_from = start  # a warm-up (train.warmup_steps) runs from this invocation's first step
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
    log.info("device %s, autocast %s, batch %d, %d workers", device, amp, ts.batch_size, args.workers)

    def run(settings: TrainSettings, first: int) -> list[dict]:
        return train_refiner(ref.generator, ref.discriminator, sampler, settings, device=device, amp_dtype=amp,
                             on_step=on_step, optimizers=(opt_g, opt_d), start_step=first)

    try:
        if args.plan_minutes is not None:
            # Probe at constant rates, then fit the step count (and the decay) to the budget.
            probe = run(dataclasses.replace(ts, steps=PROBE_STEPS, lr_decay_from=None), start)
            per_step = float(np.median([h["seconds"] for h in probe[PROBE_STEPS // 2:]]))
            left = args.plan_minutes * 60 - (time.time() - t_start)
            start = start + PROBE_STEPS
            ts.steps = start + max(int(0.97 * left / per_step), 1)
            if ts.lr_decay_from is not None:
                ts.lr_decay_from = max(ts.lr_decay_from, start)
            cfg["train"].update(steps=ts.steps, lr_decay_from=ts.lr_decay_from)
            log.info("%.1f ms/step: planned %d steps in all (decay from %s)", per_step * 1e3, ts.steps,
                     ts.lr_decay_from)
            remaining = ts.steps - start
        run(dataclasses.replace(ts, steps=remaining), start)
    except Stop:
        log.info("time limit reached at step %d", state["done"])
    ref.generator.eval()
    ref.save(out, meta=meta())
    log.info("saved %s (%d steps, %.1f MB)", out, state["done"], out.stat().st_size / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
