#!/usr/bin/env python
"""Make the README's pictures from real outputs (nothing here is drawn by hand).

* ``assets/readme/demo_frames.jpg`` and ``demo.gif``: the bundled portrait and frames of
  ``make demo``'s output (``out/demo.mp4`` with its ``.json`` timeline): the widest-open frame of
  "talking", the shut lips of the m of "from", the widest-open frame of "watch"; and 3.2 s of it
  animated (256 px, no sound).
* ``assets/readme/mouth_realism.jpg``: real | refiner alone | what ``say`` makes (real mouths), on
  held-out frames, from the pictures ``benchmarks/bench_mouth.py --png PREFIX`` wrote.

    make demo && python tools/readme_pictures.py --demo out/demo.mp4
    python benchmarks/bench_mouth.py --png out/mouth/m && python tools/readme_pictures.py --mouth out/mouth/m
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkinghead.media import load_frames  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "assets" / "readme"


def _label(img: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((26, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([img, bar], 0)


def _word(words: list[dict], text: str) -> dict:
    return next(w for w in words if w["text"].strip(".,!?").lower() == text)


def demo_pictures(video: Path, face: Path, crop: tuple[int, int, int, int]) -> None:
    timeline = json.loads(video.with_suffix(".json").read_text())
    frames = load_frames(video)
    fps = len(frames) / timeline["duration"]
    opening = np.array([_mouth_dark(f) for f in frames])  # dark pixels of the mouth: how open it is

    def widest(word: str) -> int:
        w = _word(timeline["words"], word)
        a, b = int(w["start"] * fps), max(int(w["end"] * fps), int(w["start"] * fps) + 1)
        return a + int(np.argmax(opening[a:b]))

    frm = _word(timeline["words"], "from")
    m = next(p for p in timeline["phonemes"] if p["symbol"] == "m" and frm["start"] <= p["start"] < frm["end"])
    picks = [(widest("talking"), '"talking"'), (int((m["start"] + m["end"]) / 2 * fps), '"from": lips shut on m'),
             (widest("watch"), '"watch"')]
    src = cv2.cvtColor(cv2.imread(str(face)), cv2.COLOR_BGR2RGB)
    size = 190
    x0, y0, x1, y1 = crop

    def tile(img: np.ndarray, text: str) -> np.ndarray:
        return _label(cv2.resize(img[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA), text)

    tiles = [tile(src, "source photo")] + [tile(frames[i], t) for i, t in picks]
    sheet = np.concatenate([np.pad(t, ((0, 0), (0, 4), (0, 0)), constant_values=255) for t in tiles], 1)
    OUT.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(OUT / "demo_frames.jpg"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-t", "3.2", "-i", str(video),
                    "-vf", f"crop={x1 - x0}:{y1 - y0}:{x0}:{y0},fps=15,scale=256:-2:flags=lanczos,split[a][b];[a]palettegen=max_colors=128[p];[b][p]paletteuse",
                    str(OUT / "demo.gif")], check=True)
    print("wrote", OUT / "demo_frames.jpg", OUT / "demo.gif", "frames", [i for i, _ in picks])


def _mouth_dark(frame: np.ndarray) -> float:
    """Share of dark pixels in the frame's middle-lower quarter (the open mouth of a centred
    face): only to pick the widest-open frame of a word."""
    h, w = frame.shape[:2]
    g = cv2.cvtColor(frame[h // 5: h // 2, w // 3: 2 * w // 3], cv2.COLOR_RGB2GRAY)
    return float((g < 70).mean())


def mouth_picture(prefix: Path, names: list[str]) -> None:
    """Stack the bench's ``real | refiner | own`` pictures of the named clips (both frames each)."""
    rows = []
    for name in names:
        for f in sorted(prefix.parent.glob(f"{prefix.name}_{name}_*.png")):
            img = cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)
            rows.append(cv2.resize(img, (576, int(576 * img.shape[0] / img.shape[1])), interpolation=cv2.INTER_AREA))
    if not rows:
        raise SystemExit(f"no pictures {prefix}_<clip>_*.png")
    head = np.full((26, 576, 3), 255, np.uint8)
    for x, t in ((6, "real (held out)"), (198, "refiner alone"), (390, "talkinghead")):
        cv2.putText(head, t, (x, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    sheet = np.concatenate([head] + rows, 0)
    OUT.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(OUT / "mouth_realism.jpg"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print("wrote", OUT / "mouth_realism.jpg", sheet.shape)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", type=Path, help="make demo's output video (with its .json beside it)")
    ap.add_argument("--face", type=Path, default=ROOT / "assets" / "face" / "astronaut.png")
    ap.add_argument("--crop", default="140,10,360,230", help="x0,y0,x1,y1 of the face in the frames (default: the "
                    "bundled portrait's)")
    ap.add_argument("--mouth", type=Path, help="the --png prefix bench_mouth.py wrote its pictures with")
    ap.add_argument("--clips", nargs="+", default=["MimicTalk__German_20s", "Real3DPortrait__May_5s",
                                                    "styletalk__feifeili_clip1"])
    args = ap.parse_args(argv)
    if args.demo:
        demo_pictures(args.demo, args.face, tuple(int(v) for v in args.crop.split(",")))
    if args.mouth:
        mouth_picture(args.mouth, args.clips)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
