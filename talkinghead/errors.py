"""User-facing errors.

Every failure caused by the user's input (a missing file, an empty script, an unknown voice, a face
that cannot be found...) raises a subclass of :class:`TalkingHeadError` with a one-line message
that says what is wrong and, where possible, what to do. The CLI prints that line and exits with
:attr:`TalkingHeadError.exit_code`; it never shows a traceback for these.
"""

from __future__ import annotations


class TalkingHeadError(Exception):
    """Base class of all errors caused by input, configuration or environment."""

    exit_code: int = 1


class InputError(TalkingHeadError):
    """An input (text, file, option) is missing, empty, unreadable or malformed."""

    exit_code = 2


class ScriptError(InputError):
    """The script is empty, has nothing speakable, or has bad markup."""


class VoiceError(InputError):
    """The requested voice or TTS model does not exist or cannot be loaded."""


class AlignmentError(TalkingHeadError):
    """A recording could not be aligned to its transcript (e.g. they do not match)."""

    exit_code = 3


class FaceError(TalkingHeadError):
    """No usable face in the video or image (names the frames concerned)."""

    exit_code = 4


class MediaError(InputError):
    """A video, image or audio file cannot be decoded, or has no usable stream."""


class OutputError(TalkingHeadError):
    """An output path cannot be written (missing folder, no permission, disk full)."""

    exit_code = 5


class DependencyError(TalkingHeadError):
    """An optional component (e.g. Coqui TTS) is needed but not installed."""

    exit_code = 6
