"""talkinghead: script in, lip-synced video of a real face out.

The public API (imported lazily, so ``import talkinghead`` stays light):

- :class:`Pipeline` — ``Pipeline.from_face(path)`` then ``.say(text, "out.mp4")`` / ``.frames(speech)``.
- :class:`SayResult` — what ``say`` returns (path, speech, visemes, duration, timings).
- :func:`make_speech` — text (or a recording + transcript) -> :class:`Speech`.
- :func:`visemes_from_speech` — :class:`Speech` -> :class:`VisemeTrack` at a frame rate.
- :func:`track_face` — a face video/image -> :class:`FaceTrack`.
- :class:`SpeechOptions`, :class:`FaceOptions`, :class:`RenderOptions` — every option of ``say``
  (:mod:`talkinghead.options`), accepted as ``options=`` or field by field as keywords.
- :class:`TalkingHeadError` — base class of every error caused by input.
"""

from __future__ import annotations

import importlib

#: The package version (pyproject.toml reads it from here; CHANGELOG.md says what changed in each).
__version__ = "0.2.0"

_EXPORTS = {
    "Pipeline": "talkinghead.pipeline",
    "SayResult": "talkinghead.pipeline",
    "Provenance": "talkinghead.pipeline",
    "make_speech": "talkinghead.speech.select",
    "Speech": "talkinghead.speech.types",
    "PhonemeInterval": "talkinghead.speech.types",
    "WordInterval": "talkinghead.speech.types",
    "visemes_from_speech": "talkinghead.visemes",
    "VisemeTrack": "talkinghead.visemes",
    "track_face": "talkinghead.face.tracking",
    "FaceTrack": "talkinghead.face.types",
    "TalkingHeadError": "talkinghead.errors",
    "SpeechOptions": "talkinghead.options",
    "FaceOptions": "talkinghead.options",
    "RenderOptions": "talkinghead.options",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'talkinghead' has no attribute {name!r}")
