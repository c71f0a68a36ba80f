"""``talkinghead verify``: is this video marked as synthetic (watermark, metadata, C2PA)?"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import InputError, MediaError

EPILOG = """\
examples:
  talkinghead verify out.mp4
      watermark (score), container metadata and C2PA manifest; exit 0 if marked
  talkinghead verify clip.mp4 --trust my_ca.pem --json
      also check that the C2PA signer chains to my_ca.pem; machine-readable report
  talkinghead verify clip.mp4 --key my-secret-key
      look for a watermark embedded with another key (through the Python module
      talkinghead.provenance.watermark; the commands embed the public key)

exit status:
  0  marked: the video watermark or the speech-track (audio) watermark is detected, or the
     container tags say synthetic=true, or a valid C2PA manifest declares the video AI-generated
  1  none of these found (the video carries no sign of this tool)
  2  bad input (missing or unreadable file)
"""


def register(sub) -> None:
    from ..cli import add_command

    p = add_command(sub, "verify", help="check a video for the synthetic-media marks",
                    description="Report whether a video carries talkinghead's provenance marks: the "
                    "invisible video watermark (with its detection score and payload), the audio "
                    "watermark of the speech track, the container metadata and a C2PA manifest "
                    "(Content Credentials).", epilog=EPILOG)
    p.add_argument("video", metavar="VIDEO", help="the video to check")
    p.add_argument("--key", default=None, help="watermark key (default: the public talkinghead key, the one say and batch embed)")
    p.add_argument("--trust", metavar="CA.pem", help="PEM trust anchors for the C2PA signer")
    p.add_argument("--max-frames", type=int, default=300, metavar="N",
                   help="frames used for watermark detection (default 300; more = slower, surer)")
    p.add_argument("--skip-watermark", action="store_true",
                   help="only metadata and C2PA (fast: no video or audio watermark detection)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def _watermark(args) -> dict:
    from ..provenance import watermark as wm

    d = wm.detect(args.video, key=args.key or wm.DEFAULT_KEY, max_frames=args.max_frames,
                  progress=not args.quiet and not args.json)
    out = {"present": d.present, "score": round(d.score, 2), "threshold": wm.Z_THRESHOLD,
           "frames_used": d.frames_used, "mode": d.mode,
           "scores": {k: round(v, 2) for k, v in d.scores.items()}}
    if d.info is not None:
        out["payload"] = {"tool": "talkinghead" if d.info.tool == wm.TOOL_CODE else f"code {d.info.tool}",
                          "version": d.info.version, "job_code": d.info.job_id}
    return out


def _audio(args) -> dict | None:
    """The speech-track watermark (Perth), when the file has audio and resemble-perth is there."""
    from ..media import probe
    from ..provenance import audio_watermark as aw

    info = probe(args.video, require_video=False)
    if not info.has_audio:
        return None
    if not aw.audio_watermark_available():
        return {"present": False, "error": f"not checked: pip install '{aw.REQUIREMENT}'"}
    d = aw.detect_audio(args.video)
    return {"present": d.present, "score": round(d.score, 3), "threshold": aw.AUDIO_THRESHOLD,
            "seconds": round(d.seconds, 2)}


def _c2pa(args) -> dict:
    from ..errors import DependencyError
    from ..provenance.c2pa_manifest import read_c2pa

    try:
        r = read_c2pa(args.video, trust_anchors=args.trust)
    except DependencyError as exc:
        return {"present": False, "error": str(exc)}
    return {"present": r.present, "validation_state": r.validation_state, "valid": r.valid,
            "ai_generated": r.ai_generated, "generator": r.generator, "signer": r.signer,
            "failures": r.failures, "provenance": r.provenance}


def run(args: argparse.Namespace) -> int:
    from ..media import probe
    from ..provenance.metadata import is_marked_synthetic, read_metadata

    path = Path(args.video)
    if path.is_dir():
        raise MediaError(f"{path} is a folder: give a video or audio file")
    if not path.is_file():
        raise MediaError(f"file not found: {path}")
    if args.max_frames < 1:
        raise InputError(f"--max-frames must be >= 1, got {args.max_frames}")
    meta = read_metadata(path)
    report: dict = {"file": str(path)}
    tags = {k: v for k, v in meta.items() if k not in ("major_brand", "minor_version", "compatible_brands")}
    report["metadata"] = {"synthetic": is_marked_synthetic(meta), "tags": tags}
    report["c2pa"] = _c2pa(args)
    has_video = probe(path, require_video=False).width > 0
    report["watermark"] = None if args.skip_watermark or not has_video else _watermark(args)
    report["audio_watermark"] = None if args.skip_watermark else _audio(args)
    wm_ok = bool(report["watermark"] and report["watermark"]["present"])
    audio_ok = bool(report["audio_watermark"] and report["audio_watermark"]["present"])
    c2 = report["c2pa"]
    c2pa_ok = bool(c2.get("present") and c2.get("valid") and c2.get("ai_generated"))
    marked = bool(wm_ok or audio_ok or report["metadata"]["synthetic"] or c2pa_ok)
    report["marked"] = marked

    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0 if marked else 1
    print(f"{path}: {'MARKED as synthetic' if marked else 'no synthetic-media marks found'}")
    w = report["watermark"]
    if w is None:
        print("  watermark: not checked (" + ("--skip-watermark" if args.skip_watermark else "no video stream") + ")")
    else:
        what = "PRESENT" if w["present"] else "not found"
        line = (f"  watermark: {what} (score z = {w['score']:.1f}, threshold {w['threshold']}, "
                f"{w['frames_used']} frames, {w['mode']} grid)")
        if "payload" in w:
            p = w["payload"]
            line += f"; payload: {p['tool']} {p['version']}, job {p['job_code']}"
        elif w["present"]:
            line += "; payload unreadable"
        print(line)
    a = report["audio_watermark"]
    if a is not None:
        if "error" in a:
            print(f"  audio:     {a['error']}")
        else:
            print(f"  audio:     {'PRESENT' if a['present'] else 'not found'} (Perth score {a['score']:.3f}, "
                  f"threshold {a['threshold']}, {a['seconds']:.1f} s; heuristic, no proven "
                  "false-positive bound)")
    m = report["metadata"]["tags"]
    if report["metadata"]["synthetic"]:
        print(f"  metadata:  synthetic=true, generator {m.get('generator', '?')} "
              f"{m.get('generator_version', '')}, created {m.get('creation_time', '?')}, "
              f"job {m.get('job_id', '?')}, watermark {m.get('watermark', '?')}, "
              f"script sha256 {m.get('script_sha256', '?')[:16]}...")
    else:
        print("  metadata:  no synthetic tag" + (f" (generator: {m['generator']})" if "generator" in m else ""))
    if "error" in c2:
        print(f"  c2pa:      not checked ({c2['error']})")
    elif not c2["present"]:
        print("  c2pa:      no manifest")
    else:
        trust = {"Trusted": "signature valid, signer trusted",
                 "Valid": "signature valid, signer not in a trust list (give --trust CA.pem)",
                 }.get(c2["validation_state"], f"INVALID ({', '.join(c2['failures']) or 'unreadable'})")
        ai = "declares AI-generated (trainedAlgorithmicMedia)" if c2["ai_generated"] else "no AI-generation claim"
        print(f"  c2pa:      {trust}; {ai}; signer {c2['signer'] or '?'}")
    return 0 if marked else 1
