"""``talkinghead say``: script + face video (or portrait) -> lip-synced mp4."""

from __future__ import annotations

import argparse

from ..options import FaceOptions, RenderOptions, add_arguments, from_args
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
    add_arguments(p, FaceOptions, group="")
    add_arguments(p, RenderOptions, group="")
    p.add_argument("--no-cache", action="store_true", help="ignore and do not write the caches")
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
    from ..inputs import check_face_file
    from ..pipeline import Pipeline, check_say_outputs

    # the API's own checks, made before the long preparation
    face_options = from_args(FaceOptions, args)
    render_options = from_args(RenderOptions, args)
    check_say_outputs(args.output, render_options.sidecars, {"face video": args.face, **script_input_files(args)})
    check_face_file(args.face)
    prov = provenance_from_args(args)
    speech = speech_from_args(args)  # fail fast on a bad script before the long preparation
    face = Pipeline.from_face(args.face, device=args.device, cache=not args.no_cache, progress=not args.quiet,
                              options=face_options)
    result = face.say(speech=speech, output=args.output, provenance=prov, options=render_options)
    if not args.quiet:
        print(f"{result.path}: {result.duration:.2f} s, {result.n_frames} frames at {result.fps:g} fps")
    return 0
