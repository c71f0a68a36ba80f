"""``talkinghead speak``: text -> speech audio, phoneme timeline (JSON) and subtitles (SRT)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..fileio import check_not_an_input, check_writable
from ..errors import InputError
from .common import add_script_options, script_input_files, speech_from_args

EPILOG = """\
examples:
  talkinghead speak "Bob bought a map." -o bob.wav
      writes bob.wav, bob.json (phoneme + word timeline) and bob.srt
  talkinghead speak --script talk.txt --rate 1.1 -o talk.wav
  talkinghead speak --audio me.wav --transcript me.txt -o aligned.wav
"""


def register(sub) -> None:
    from ..cli import add_command

    p = add_command(sub, "speak", help="text -> speech audio + phoneme timeline + subtitles",
                    description="Synthesize speech (or align your recording) and write the audio, "
                    "its phoneme/word timeline as JSON and subtitles as SRT.", epilog=EPILOG)
    add_script_options(p, positional=True)
    p.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="output WAV file")
    p.add_argument("--timeline", metavar="FILE", help="timeline JSON (default: OUT.json)")
    p.add_argument("--srt", metavar="FILE", help="subtitles (default: OUT.srt)")
    p.add_argument("--no-sidecars", action="store_true", help="write only the WAV")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = check_writable(args.output)
    if out.suffix.lower() != ".wav":
        raise InputError(f"output {out} should be a .wav file (the speech is written as WAV)")
    timeline = Path(args.timeline) if args.timeline else out.with_suffix(".json")
    srt = Path(args.srt) if args.srt else out.with_suffix(".srt")
    if not args.no_sidecars:
        check_writable(timeline)
        check_writable(srt)
    check_not_an_input([out] if args.no_sidecars else [out, timeline, srt], script_input_files(args))
    speech = speech_from_args(args)
    speech.write_wav(out)
    if not args.no_sidecars:
        speech.write_timeline(timeline)
        speech.write_srt(srt)
    if not args.quiet:
        n = sum(1 for p in speech.phonemes if p.symbol != "_")
        print(f"{out}: {speech.duration:.2f} s, {n} phonemes, {len(speech.words)} words ({speech.backend})")
    return 0
