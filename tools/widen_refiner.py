#!/usr/bin/env python
"""Widen the generic refiner's generator without changing its output, to train it on.

Usage (the GPU run this prepares: models/README.md, "A wider generator")::

    python tools/widen_refiner.py --input models/refiner_generic.pt \
        --channels 16 48 96 192 384 --output /tmp/refiner_wide.pt
    python tools/train_generic_refiner.py --config models/refiner_wide.json \
        --output /tmp/refiner_wide.pt --data-pack .pack --device cuda ...

The new checkpoint computes what the input computes (:func:`talkinghead.refine.training.widen.widen_generator`,
checked here on random inputs before it is written) and carries the input's step count and the
tag of ``train_generic_refiner.py``, so that tool resumes from it when its config's ``model``
section has the new channels. The discriminator is copied unchanged.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkinghead.refine.infer import Refiner  # noqa: E402
from talkinghead.refine.model import count_parameters  # noqa: E402
from talkinghead.refine.training.widen import widen_config, widen_generator  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default="models/refiner_generic.pt", help="trained checkpoint to widen")
    ap.add_argument("--channels", type=int, nargs="+", required=True, help="new generator widths, finest first")
    ap.add_argument("--output", required=True, help="checkpoint to write")
    ap.add_argument("--noise", type=float, default=0.1, help="symmetry-breaking perturbation (weight std units)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    ref = Refiner.load(args.input, "cpu", with_discriminator=True)
    old = ref.generator.float().to(memory_format=torch.contiguous_format)
    wide = widen_generator(old, args.channels, noise=args.noise, seed=args.seed)
    torch.manual_seed(args.seed)
    x = torch.randn(2, ref.config.in_channels, ref.config.resolution, ref.config.resolution)
    with torch.no_grad():
        err = float((old.eval()(x) - wide.eval()(x)).abs().max())
    if err > 1e-4:
        raise SystemExit(f"widened generator differs from the input by {err:.2e}: not written")
    meta = dict(ref.meta)
    meta["widened_from"] = {"path": str(args.input), "channels": ref.config.channels, "steps": meta.get("steps"),
                            "noise": args.noise, "seed": args.seed}
    out = Refiner(widen_config(ref.config, args.channels), wide, ref.discriminator, "cpu", meta)
    out.save(args.output)
    print(f"{args.output}: generator {count_parameters(old) / 1e6:.2f}M -> {count_parameters(wide) / 1e6:.2f}M "
          f"parameters, channels {ref.config.channels} -> {args.channels}, max output difference {err:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
