"""Options shared by several commands (script input, voice): the voice options come from
:class:`~talkinghead.options.SpeechOptions`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ..options import SpeechOptions, add_arguments, from_args


def add_script_options(p: argparse.ArgumentParser, positional: bool = False) -> None:
    """``TEXT`` / ``--text`` / ``--script FILE`` plus the voice and recording options."""
    if positional:
        p.add_argument("text", nargs="?", metavar="TEXT", help="what to say (or use --script)")
    else:
        p.add_argument("-t", "--text", help="what to say (or use --script)")
    p.add_argument("-s", "--script", metavar="FILE", help="read the script from a UTF-8 text file "
                   "(blank lines = paragraph pauses, [pause 0.8s] = explicit pause)")
    add_arguments(p, SpeechOptions, only=("tts", "voice", "rate", "sentence_pause", "paragraph_pause", "seed"))
    r = p.add_argument_group("own recording instead of TTS")
    r.add_argument("--audio", metavar="REC", help="a recording of the script (wav/mp3/flac...)")
    r.add_argument("--transcript", metavar="TEXT|FILE", help="what the recording says (text or a .txt file)")
    add_arguments(p, SpeechOptions, only=("align", "language"))


def script_input_files(args: argparse.Namespace) -> dict[str, str | None]:
    """The input files the script options name (for :func:`~talkinghead.fileio.check_not_an_input`):
    ``script``, ``recording`` and a ``transcript`` given as a file (``None`` where not given)."""
    t = getattr(args, "transcript", None)
    return {"script": getattr(args, "script", None), "recording": getattr(args, "audio", None),
            "transcript": t if t and Path(t).expanduser().is_file() else None}


def script_from_args(args: argparse.Namespace) -> str | None:
    """The script text from ``TEXT``/``--text`` or ``--script`` (exactly one unless --audio)."""
    from ..speech.script import read_script

    text = getattr(args, "text", None)
    if text is not None and args.script is not None:
        raise InputError("give the text or --script FILE, not both")
    if args.script is not None:
        return read_script(args.script)
    return text


def speech_from_args(args: argparse.Namespace):
    """Run the Speech stage as the options say."""
    from ..speech.script import read_script, transcript_file
    from ..speech.select import make_speech

    options = from_args(SpeechOptions, args)  # every value checked before any work
    text = script_from_args(args)
    transcript = args.transcript
    if transcript is not None and args.audio is None:
        raise InputError("--transcript goes with --audio REC (the recording it transcribes)")
    if args.audio is not None and text is not None and transcript is not None:
        raise InputError("give what the recording says once: --transcript, or TEXT/--script, not both")
    tfile = transcript_file(transcript)
    if tfile is not None:
        transcript = read_script(tfile)
    if args.audio is None and text is None:
        raise InputError("nothing to say: give TEXT or --script FILE (or --audio REC --transcript ...)")
    return make_speech(text, audio=args.audio, transcript=transcript, progress=not getattr(args, "quiet", False),
                       options=options)
