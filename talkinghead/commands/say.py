"""``talkinghead say``: script + face video (or portrait) -> lip-synced mp4."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ..fileio import check_not_an_input, check_writable
from ..scale import MIN_MAX_SIDE
from .common import add_script_options, script_input_files, speech_from_args

EPILOG = """\
examples:
  talkinghead say --text "Welcome to the quarterly update." --face presenter.mp4 -o intro.mp4
  talkinghead say --script talk.txt --face portrait.png -o talk.mp4 --sidecars
  talkinghead say --audio me.wav --transcript me.txt --face me.mp4 -o dubbed.mp4

The first run on a new face tracks it and fine-tunes the refiner (a few minutes on a CPU); the
result is cached, so later runs on the same face start at once (see 'talkinghead prepare').
"""


def register(sub) -> None:
    from ..cli import add_command

    p = add_command(sub, "say", help="make a face video say a script (the main command)",
                    description="Speak a script with a neural voice (or use your recording) and "
                    "make the face in the video (or portrait) say it. Writes an H.264 + AAC mp4 "
                    "at the face video's size and frame rate.", epilog=EPILOG)
    add_script_options(p)
    p.add_argument("-f", "--face", required=True, metavar="VIDEO|IMAGE", help="face video or portrait image")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="output video")
    p.add_argument("--face-index", type=int, default=None, metavar="N",
                   help="which face if several (0 = largest; needed when a portrait shows several)")
    p.add_argument("--idle-seed", type=int, default=0, metavar="N", help="seed of a portrait's idle motion")
    p.add_argument("--max-side", type=int, default=None, metavar="PX",
                   help="scale the face photo or video down first so that its longer side is at most PX "
                        "pixels (the output has that size): a phone photo or a 4K video renders several "
                        "times faster at 1920 (default: the face file's own size)")
    p.add_argument("--turn", default="auto", metavar="auto|0|90|180|270",
                   help="a face photo or video lying on its side or upside down is turned upright "
                        "(auto, the default); 0 uses it as it is, 90/180/270 turns it that many degrees "
                        "clockwise")
    p.add_argument("--fps", type=float, help="output frame rate (default: the face video's)")
    p.add_argument("--crf", type=int, default=18, help="x264 quality, lower = better (default 18)")
    p.add_argument("--steps", type=int, help="fine-tuning steps when preparing a new face (default 150 for a "
                   "video, 0 for a portrait or a video whose mouth barely moves)")
    p.add_argument("--no-cache", action="store_true", help="ignore and do not write the caches")
    p.add_argument("--sidecars", action="store_true", help="also write OUT.json (timeline) and OUT.srt")
    p.add_argument("--fast", action="store_true",
                   help="one refiner pass per frame instead of averaging it with the mirrored frame's: "
                        "about half the refiner's time, slightly lower quality")
    p.add_argument("--no-skin-detail", dest="skin_detail", action="store_false",
                   help="leave the rebuilt skin as the refiner draws it: smooth, without the face "
                        "video's own fine skin detail (stubble, pores, fine lines) and without its "
                        "own skin above the upper lip (which keeps a moustache)")
    p.add_argument("--no-colour-anchor", dest="colour_anchor", action="store_false",
                   help="keep the refiner's own lip and skin colours, even where they are far from "
                        "the face's (by default those are pulled back towards the face's own)")
    p.add_argument("--no-own-mouth", dest="own_mouth", action="store_false",
                   help="draw the lips, teeth and mouth interior with the refiner alone (by default they "
                        "are taken from the frames of the face video whose mouth has the wanted shape)")
    add_provenance_options(p)
    p.set_defaults(func=run)


def add_provenance_options(p: argparse.ArgumentParser) -> None:
    """Watermark, label and Content Credentials options (shared with other video commands)."""
    g = p.add_argument_group("provenance (every output is marked as synthetic)")
    g.add_argument("--no-watermark", action="store_true",
                   help="do not embed the invisible watermark (recorded in the metadata)")
    g.add_argument("--audio-watermark", action="store_true",
                   help="also watermark the speech track (needs talkinghead[audiowm]; ~1 s per s of speech)")
    g.add_argument("--label", nargs="?", const="AI-generated", metavar="TEXT",
                   help="draw a visible label away from the face (default text: AI-generated)")
    g.add_argument("--sign-cert", metavar="PEM", help="certificate chain to sign a C2PA manifest")
    g.add_argument("--sign-key", metavar="PEM", help="private key for --sign-cert")


def provenance_from_args(args: argparse.Namespace):
    from ..pipeline import Provenance

    prov = Provenance(watermark=not args.no_watermark, audio_watermark=args.audio_watermark, label=args.label,
                      sign_cert=args.sign_cert, sign_key=args.sign_key)
    prov.check()
    return prov


def run(args: argparse.Namespace) -> int:
    from ..pipeline import VIDEO_SUFFIXES, Pipeline, say_outputs

    out = check_writable(args.output)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(f"output {out} should be an .mp4 file")
    if args.fps is not None and not (1 <= args.fps <= 120):
        raise InputError(f"--fps {args.fps} is out of range (1 to 120)")
    if not Path(args.face).exists():
        raise InputError(f"face file {args.face} does not exist")
    if Path(args.face).is_dir():
        raise InputError(f"face path {args.face} is a folder: give a video or an image")
    if not 0 <= args.crf <= 51:
        raise InputError(f"--crf {args.crf} is out of range (0 to 51, lower = better)")
    if args.max_side is not None and args.max_side < MIN_MAX_SIDE:
        raise InputError(f"--max-side {args.max_side} is too small (at least {MIN_MAX_SIDE} pixels)")
    check_not_an_input(say_outputs(out, args.sidecars), {"face video": args.face, **script_input_files(args)})
    from ..face.orientation import check_turn

    turn = check_turn(args.turn)
    prov = provenance_from_args(args)
    speech = speech_from_args(args)  # fail fast on a bad script before the long preparation
    face = Pipeline.from_face(args.face, device=args.device, face_index=args.face_index, steps=args.steps,
                              cache=not args.no_cache, progress=not args.quiet, idle_seed=args.idle_seed,
                              max_side=args.max_side, turn=turn)
    result = face.say(speech=speech, output=out, fps=args.fps, crf=args.crf, sidecars=args.sidecars,
                      provenance=prov, fast=args.fast, skin_detail=args.skin_detail,
                      colour_anchor=args.colour_anchor, own_mouth=args.own_mouth)
    if not args.quiet:
        print(f"{result.path}: {result.duration:.2f} s, {result.n_frames} frames at {result.fps:g} fps")
    return 0
