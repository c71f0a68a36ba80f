"""Options shared by several commands (script input, voice)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError


def add_script_options(p: argparse.ArgumentParser, positional: bool = False) -> None:
    """``TEXT`` / ``--text`` / ``--script FILE`` plus the voice and recording options."""
    if positional:
        p.add_argument("text", nargs="?", metavar="TEXT", help="what to say (or use --script)")
    else:
        p.add_argument("-t", "--text", help="what to say (or use --script)")
    p.add_argument("-s", "--script", metavar="FILE", help="read the script from a UTF-8 text file "
                   "(blank lines = paragraph pauses, [pause 0.8s] = explicit pause)")
    v = p.add_argument_group("voice")
    v.add_argument("--tts", choices=("piper", "coqui"), default="piper", help="TTS engine (default: piper)")
    v.add_argument("--voice", help="Piper: 'joe' (bundled, default) or path to a .onnx voice; "
                   "Coqui: model folder / .pth / name in the local model cache")
    v.add_argument("--rate", type=float, default=1.0, help="speaking rate, 1.0 = normal (Piper)")
    v.add_argument("--sentence-pause", type=float, default=0.25, metavar="S", help="seconds between sentences")
    v.add_argument("--paragraph-pause", type=float, default=0.7, metavar="S", help="seconds for a blank line")
    v.add_argument("--seed", type=int, default=None, metavar="N",
                   help="seed of the voice's sampling noise: the same seed gives the same audio (Piper)")
    r = p.add_argument_group("own recording instead of TTS")
    r.add_argument("--audio", metavar="REC", help="a recording of the script (wav/mp3/flac...)")
    r.add_argument("--transcript", metavar="TEXT|FILE", help="what the recording says (text or a .txt file)")
    r.add_argument("--align", choices=("auto", "dtw", "pocketsphinx"), default="auto",
                   help="alignment method for --audio (default: auto)")
    r.add_argument("--language", default="en-us", help="espeak language of the transcript (default: en-us)")


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


def check_number_options(args: argparse.Namespace) -> None:
    """Range checks of the numeric options several commands share, before any work starts."""
    from ..speech.piper import MAX_SEED
    from ..speech.script import MAX_PAUSE

    seed = getattr(args, "seed", None)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise InputError(f"--seed {seed} is out of range (0 to {MAX_SEED})")
    for opt in ("sentence_pause", "paragraph_pause"):
        v = getattr(args, opt, None)
        if v is not None and not 0.0 <= v <= MAX_PAUSE:  # also refuses NaN
            raise InputError(f"--{opt.replace('_', '-')} {v:g} is out of range (0 to {MAX_PAUSE:g} seconds)")
    for opt in ("idle_seed", "face_index", "steps"):
        v = getattr(args, opt, None)
        if v is not None and v < 0:
            raise InputError(f"--{opt.replace('_', '-')} must be >= 0, got {v}")
    if getattr(args, "idle_seed", None) is not None and args.idle_seed > MAX_SEED:
        raise InputError(f"--idle-seed {args.idle_seed} is out of range (0 to {MAX_SEED})")


def speech_from_args(args: argparse.Namespace):
    """Run the Speech stage as the options say."""
    from ..speech.script import read_script, transcript_file
    from ..speech.select import make_speech

    check_number_options(args)
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
    return make_speech(
        text,
        tts=args.tts,
        voice=args.voice,
        rate=args.rate,
        sentence_pause=args.sentence_pause,
        paragraph_pause=args.paragraph_pause,
        audio=args.audio,
        transcript=transcript,
        align=args.align,
        language=args.language,
        seed=args.seed,
        progress=not getattr(args, "quiet", False),
    )
