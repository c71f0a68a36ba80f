"""Pick a Speech backend by name and run it."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError, VoiceError
from .types import Speech

BACKENDS = ("piper", "coqui", "recorded")


def make_speech(
    text: str | None = None,
    *,
    tts: str = "piper",
    voice: str | Path | None = None,
    rate: float = 1.0,
    sentence_pause: float = 0.25,
    paragraph_pause: float = 0.7,
    audio: str | Path | None = None,
    transcript: str | os.PathLike | None = None,
    align: str = "auto",
    language: str = "en-us",
    seed: int | None = None,
    progress: bool = False,
) -> Speech:
    """Text -> :class:`Speech` with the chosen backend, or a recording + transcript -> Speech.

    Args:
        text: the script (markup allowed, see :mod:`talkinghead.speech.script`).
        tts: ``"piper"`` (default) or ``"coqui"``; ignored when ``audio`` is given.
        voice: Piper voice name/path, or Coqui model path/name.
        rate, sentence_pause, paragraph_pause: Piper options.
        audio: a recording to use instead of TTS; ``transcript`` (the words, or a ``.txt`` file
            holding them; or ``text``) says what it says.
        align: alignment method for recordings (``auto``, ``dtw``, ``pocketsphinx``).
        language: espeak language of the transcript (recordings).
        seed: Piper's sampling-noise seed (same seed, same audio); ``None`` = a fresh draw.
        progress: a progress bar while Piper speaks a long script.
    """
    if audio is not None:
        from .recorded import align_recording

        from .script import read_script, transcript_file

        words = transcript if transcript is not None else text
        if words is None:
            raise InputError("a recording needs its transcript (--transcript TEXT or FILE)")
        tfile = transcript_file(transcript) if transcript is not None else None
        if tfile is not None:  # a .txt file, as on the command line
            words = read_script(tfile)
        return align_recording(audio, words, method=align, language=language)
    if text is None:
        raise InputError("nothing to say: give a text or a script file")
    if tts == "piper":
        from .piper import PiperSpeaker

        return PiperSpeaker(voice, rate=rate, sentence_pause=sentence_pause, paragraph_pause=paragraph_pause,
                            seed=seed, progress=progress).speak(text)
    if tts == "coqui":
        from .coqui import CoquiSpeaker

        if voice is None:
            raise VoiceError("--tts coqui needs --voice: a Coqui model folder, .pth file or model name in your local cache")
        return CoquiSpeaker(voice).speak(text)
    raise VoiceError(f"unknown TTS backend {tts!r}: choose one of piper, coqui")
