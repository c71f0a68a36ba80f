"""Pick a Speech backend by name and run it."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError, VoiceError
from ..options import SpeechOptions, option_keywords, reject_unknown
from .types import Speech

#: Where a Speech can come from (TTS engines: :attr:`SpeechOptions.tts <talkinghead.options.SpeechOptions.tts>`).
BACKENDS = ("piper", "coqui", "recorded")


@option_keywords(SpeechOptions)
def make_speech(
    text: str | None = None,
    *,
    audio: str | Path | None = None,
    transcript: str | os.PathLike | None = None,
    progress: bool = False,
    options: SpeechOptions | None = None,
    **kwargs,
) -> Speech:
    """Text -> :class:`Speech` with the chosen backend, or a recording + transcript -> Speech.

    Args:
        text: the script (markup allowed, see :mod:`talkinghead.speech.script`).
        audio: a recording to use instead of TTS; ``transcript`` (the words, or a ``.txt`` file
            holding them; or ``text``) says what it says.
        progress: a progress bar while Piper speaks a long script.
        options: :class:`~talkinghead.options.SpeechOptions` (backend ``tts``, ``voice``, ``rate``,
            pauses, ``seed``; ``align`` and ``language`` for a recording).
        **kwargs: any field of :class:`~talkinghead.options.SpeechOptions`, replacing the one in
            ``options`` (``make_speech(text, voice="joe", seed=0)``).

    Raises:
        OptionError: a bad option value; TypeError: an unknown keyword.
    """
    o = SpeechOptions.merged(options, kwargs)
    reject_unknown("make_speech", kwargs)
    if audio is not None:
        from .recorded import align_recording

        from .script import read_script, transcript_file

        words = transcript if transcript is not None else text
        if words is None:
            raise InputError("a recording needs its transcript (--transcript TEXT or FILE)")
        tfile = transcript_file(transcript) if transcript is not None else None
        if tfile is not None:  # a .txt file, as on the command line
            words = read_script(tfile)
        return align_recording(audio, words, method=o.align, language=o.language)
    if text is None:
        raise InputError("nothing to say: give a text or a script file")
    if o.tts == "piper":
        from .piper import PiperSpeaker

        return PiperSpeaker(o.voice, rate=o.rate, sentence_pause=o.sentence_pause, paragraph_pause=o.paragraph_pause,
                            seed=o.seed, progress=progress).speak(text)
    if o.voice is None:  # coqui (SpeechOptions allows no other backend)
        raise VoiceError("--tts coqui needs --voice: a Coqui model folder, .pth file or model name in your local cache")
    from .coqui import CoquiSpeaker

    return CoquiSpeaker(o.voice).speak(text)
