"""Watermark robustness, false positives, visibility and speed; prints Markdown tables.

For each real clip (default: every clip in ../shared/data/faces/), the benchmark

1. tracks the face (talkinghead.face.tracking.track_face), embeds the mark in every frame
   (``embed(frame, track.landmarks[t], payload)``) and writes the marked clip with the project's
   VideoWriter at its default quality (H.264 CRF 18), as the pipeline does;
2. derives the transformed copies with ffmpeg (libx264, yuv420p):
   ``crf28``  re-encoded at CRF 28;
   ``half``   downscaled to half width and height (area filter), CRF 23;
   ``crop10`` 10 % cut off every edge (the central 80 % x 80 % kept), CRF 23;
   ``all``    crop 10 %, then half size, then CRF 28;
3. runs ``detect`` on the marked clip and on each copy, and on the *unmarked* originals of every
   clip in faces/ and train/ (false positives), and on their crop + half-size + CRF 28 copies;
4. audio: marks Piper speech and the real speech tracks (faces/*.mp4 with audio, audio/*.wav,
   first 30 s) with the Perth audio watermark, passes marked and unmarked versions through AAC
   160k, AAC 48k and MP3 64k at 16 kHz, and reports the detector's scores.

Usage::

    python benchmarks/bench_watermark.py                    # all clips (several minutes)
    python benchmarks/bench_watermark.py --clips RD_Radio2_000.mp4 --max-frames 100
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from talkinghead.errors import FaceError  # noqa: E402
from talkinghead.media import ffmpeg_exe, probe, read_frames, VideoWriter  # noqa: E402
from talkinghead.provenance import watermark as wm  # noqa: E402

DATA = ROOT.parent / "shared" / "data"

TRANSFORMS = {
    "crf28": ["-c:v", "libx264", "-crf", "28"],
    "half": ["-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2:flags=area", "-c:v", "libx264", "-crf", "23"],
    "crop10": ["-vf", "crop=trunc(iw*0.4)*2:trunc(ih*0.4)*2", "-c:v", "libx264", "-crf", "23"],
    "all": ["-vf", "crop=trunc(iw*0.4)*2:trunc(ih*0.4)*2,scale=trunc(iw/4)*2:trunc(ih/4)*2:flags=area",
            "-c:v", "libx264", "-crf", "28"],
}


def transform(src: Path, dst: Path, args: list[str]) -> Path:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-an", *args,
                    "-pix_fmt", "yuv420p", str(dst)], check=True)
    return dst


def mark_clip(src: Path, dst: Path, payload: bytes, max_frames: int | None, strength: float):
    """Embed in every frame, write with VideoWriter (CRF 18); return (psnrs, ms per frame)."""
    from talkinghead.face.tracking import track_face

    info = probe(src)
    track = track_face(src, progress=False)
    psnrs, times = [], []
    with VideoWriter(dst, info.fps) as w:
        for t, frame in enumerate(read_frames(src, info=info, max_frames=max_frames)):
            t0 = time.perf_counter()
            out = wm.embed(frame, track.landmarks[t], payload, strength, time_s=t / info.fps)
            times.append(time.perf_counter() - t0)
            psnrs.append(wm.psnr(out, frame))
            w.write(out)
    return np.array(psnrs), 1000 * float(np.median(times)), info


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="*", help="file names in faces/ to mark (default: all)")
    ap.add_argument("--max-frames", type=int, default=250, help="frames marked per clip (default 250)")
    ap.add_argument("--strength", type=float, default=wm.DEFAULT_STRENGTH)
    ap.add_argument("--no-null", action="store_true", help="skip the unmarked clips")
    ap.add_argument("--null-only", action="store_true")
    ap.add_argument("--no-audio", action="store_true", help="skip the audio watermark section")
    ap.add_argument("--audio-only", action="store_true", help="only the audio watermark section")
    args = ap.parse_args()
    if not DATA.exists():
        print(f"development data {DATA} not found", file=sys.stderr)
        return 1
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    faces = sorted((DATA / "faces").glob("*.mp4"))
    marked = [p for p in faces if not args.clips or p.name in args.clips]
    payload = wm.make_payload("bench-job")
    tmp = Path(tempfile.mkdtemp(prefix="bench_wm_"))
    cpu = platform.processor() or platform.machine()
    print(f"machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}; "
          f"strength {args.strength}, key = default; threshold z >= {wm.Z_THRESHOLD}\n")

    if args.audio_only:
        audio_section(tmp)
        return 0
    rows = []
    skipped: list[tuple[str, str]] = []
    det_times = []
    if not args.null_only:
        for src in marked:
            out = tmp / f"{src.stem}_marked.mp4"
            try:
                psnrs, ms, info = mark_clip(src, out, payload, args.max_frames, args.strength)
            except FaceError as exc:
                print(f"  {src.name}: not marked ({exc})", file=sys.stderr, flush=True)
                skipped.append((src.name, str(exc)))
                continue
            variants = {"marked (CRF 18)": out}
            for name, targs in TRANSFORMS.items():
                variants[name] = transform(out, tmp / f"{src.stem}_{name}.mp4", targs)
            res = {}
            for name, path in variants.items():
                t0 = time.perf_counter()
                d = wm.detect(path)
                det_times.append((time.perf_counter() - t0) / max(d.frames_used, 1))
                res[name] = d
            rows.append((src.name, f"{info.width}x{info.height}", len(psnrs), float(psnrs.min()),
                         float(np.median(psnrs)), ms, res))
            print(f"  {src.name}: " + ", ".join(f"{k} z={v.score:.1f} "
                  f"{'ok' if v.payload == payload else 'no-payload'}" for k, v in res.items()),
                  file=sys.stderr, flush=True)

        names = ["marked (CRF 18)", *TRANSFORMS]
        print("### Marked clips: z-score (payload decoded?)\n")
        print("| clip | size | frames | PSNR min / median (dB) | embed ms/frame | "
              + " | ".join(names) + " |")
        print("|" + "---|" * (5 + len(names)))
        for name, size, n, pmin, pmed, ms, res in rows:
            cells = []
            for k in names:
                d = res[k]
                tag = "payload ok" if d.payload == payload else ("wrong payload" if d.payload else "no payload")
                cells.append(f"{d.score:.1f} {'detected' if d.present else 'MISSED'}, {tag}")
            print(f"| {name} | {size} | {n} | {pmin:.1f} / {pmed:.1f} | {ms:.1f} | " + " | ".join(cells) + " |")
        for name, why in skipped:
            print(f"| {name} | - | - | - | - | " + " | ".join(["no face tracked"] * len(names)) + " |")
        print()
        print("| transformation | detected | payload recovered | min z | median z |")
        print("|---|---|---|---|---|")
        for k in names:
            zs = [r[6][k].score for r in rows]
            det = sum(r[6][k].present for r in rows)
            pay = sum(r[6][k].payload == payload for r in rows)
            print(f"| {k} | {det}/{len(rows)} | {pay}/{len(rows)} | {min(zs):.1f} | {float(np.median(zs)):.1f} |")
        print()
        print(f"detection time: {1000 * float(np.median(det_times)):.0f} ms per frame used (median; "
              "face tracking included)\n")

    if not args.no_null:
        null = faces + sorted((DATA / "train").glob("*.mp4"))
        print("### Unmarked real clips (false positives)\n")
        print("| clip | frames used | z (original) | z (CRF 28 + half) | detected |")
        print("|---|---|---|---|---|")
        fp = 0
        allz = []
        for src in null:
            d0 = wm.detect(src)
            d1 = wm.detect(transform(src, tmp / f"null_{src.stem}.mp4", TRANSFORMS["all"]))
            zs = [*d0.scores.values(), *d1.scores.values()]
            allz += zs
            hit = d0.present or d1.present
            fp += hit
            print(f"| {src.parent.name}/{src.name} | {d0.frames_used} | "
                  f"{', '.join(f'{m} {z:.2f}' for m, z in d0.scores.items())} | "
                  f"{', '.join(f'{m} {z:.2f}' for m, z in d1.scores.items())} | {'YES' if hit else 'no'} |",
                  flush=True)
        print(f"\nfalse positives: {fp}/{len(null)} clips; max |z| over all {len(allz)} tests "
              f"{max(abs(z) for z in allz):.2f}; threshold {wm.Z_THRESHOLD}")
    if not args.no_audio:
        audio_section(tmp)
    return 0


AUDIO_CODECS = {
    "AAC 160k (mp4)": ["-c:a", "aac", "-b:a", "160k"],
    "AAC 48k": ["-c:a", "aac", "-b:a", "48k"],
    "MP3 64k, 16 kHz": ["-c:a", "libmp3lame", "-b:a", "64k", "-ar", "16000"],
}


def audio_section(tmp: Path) -> None:
    """Perth audio watermark: marked Piper speech and real speech through lossy codecs."""
    import soundfile as sf

    from talkinghead.media import read_audio
    from talkinghead.provenance import audio_watermark as aw

    if not aw.audio_watermark_available():
        print("\n(audio watermark skipped: resemble-perth not installed)")
        return
    from talkinghead.speech.piper import PiperSpeaker

    sp = PiperSpeaker()
    texts = ["Bob bought a map of Maple Park, and Pam made a pie.",
             "This video was generated by a computer program. The person in it never said these words.",
             "Provenance matters: every output says that it is synthetic, and what made it."]
    sources = [(f"piper: '{t[:28]}...'", sp.speak(t).audio, sp.sample_rate) for t in texts]
    real = [p for p in sorted((DATA / "faces").glob("*.mp4")) if probe(p).has_audio]
    real += sorted((DATA / "audio").glob("*.wav"))
    sources += [(f"real: {p.name}", read_audio(p, 22050), 22050) for p in real]

    def through(sig, sr, codec, name):
        src = tmp / f"{name}.wav"
        sf.write(src, sig, sr)
        ext = "mp3" if "libmp3lame" in codec else "m4a"
        dst = tmp / f"{name}.{ext}"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), *codec, str(dst)], check=True)
        return aw.detect_audio(dst).score

    print("\n### Audio watermark (Perth), score in [0, 1], threshold "
          f"{aw.AUDIO_THRESHOLD}\n")
    print("| audio | seconds | " + " | ".join(f"unmarked {c}" for c in AUDIO_CODECS) + " | "
          + " | ".join(f"marked {c}" for c in AUDIO_CODECS) + " | embed s |")
    print("|" + "---|" * (3 + 2 * len(AUDIO_CODECS)))
    worst_null, worst_marked = 0.0, 1.0
    for i, (name, sig, sr) in enumerate(sources):
        sig = sig[: 30 * sr]
        if not np.any(np.abs(sig) > 1e-4):
            print(f"| {name} | {len(sig) / sr:.1f} | silent track: nothing to mark or detect |" + " |" * (2 * len(AUDIO_CODECS)))
            continue
        t0 = time.perf_counter()
        marked = aw.embed_audio(sig, sr)
        emb = time.perf_counter() - t0
        null = [through(sig, sr, c, f"a{i}n") for c in AUDIO_CODECS.values()]
        mk = [through(marked, sr, c, f"a{i}m") for c in AUDIO_CODECS.values()]
        worst_null, worst_marked = max(worst_null, *null), min(worst_marked, *mk)
        print(f"| {name} | {len(sig) / sr:.1f} | " + " | ".join(f"{v:.3f}" for v in null) + " | "
              + " | ".join(f"{v:.3f}" for v in mk) + f" | {emb:.2f} |", flush=True)
    print(f"\nhighest unmarked score {worst_null:.3f}, lowest marked score {worst_marked:.3f} "
          f"(threshold {aw.AUDIO_THRESHOLD})")


if __name__ == "__main__":
    sys.exit(main())
