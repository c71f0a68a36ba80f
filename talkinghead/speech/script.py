"""Script input: plain text with paragraph breaks and explicit pause markup.

A script is a string (or the contents of a UTF-8 text file). Rules:

- One or more blank lines separate paragraphs; a paragraph break becomes a paragraph pause.
- ``[pause 0.8s]``, ``[pause 800ms]`` or ``[pause 1]`` (seconds) inserts that much silence.
- Line breaks inside a paragraph are ordinary spaces.
- A title before a name ("Dr. Smith", "Mrs. Brown") is not the end of a sentence
  (:func:`expand_titles`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ScriptError
from ..fileio import read_text_file

_PAUSE = re.compile(r"\[\s*pause\s+([0-9]*\.?[0-9]+)\s*(ms|s)?\s*\]", re.IGNORECASE)
_ANY_MARKUP = re.compile(r"\[[^\]]*\]")
_PARAGRAPH = re.compile(r"\n\s*\n")
#: Longest pause accepted from markup, in seconds.
MAX_PAUSE = 60.0
#: Titles that espeak (Piper's phonemizer) would otherwise end a sentence at ("Dr. Smith" ->
#: "Doctor." + pause + "Smith"), and the words they are read as.
TITLES = {"Dr": "Doctor", "Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Prof": "Professor"}
_TITLE = re.compile(r"\b(" + "|".join(TITLES) + r")\.(?=\s+[A-Z])")


@dataclass(frozen=True)
class ScriptPart:
    """One piece of a parsed script: text to speak, or a pause.

    Attributes:
        text: words to speak (``""`` for a pause).
        pause: seconds of silence (0 for text).
        paragraph_break: True for the pause that stands for a blank line.
    """

    text: str = ""
    pause: float = 0.0
    paragraph_break: bool = False


def read_script(path: str | Path) -> str:
    """Read a script file (UTF-8). Raises :class:`InputError` if missing or unreadable."""
    return read_text_file(path, "script file")


def parse_script(text: str) -> list[ScriptPart]:
    """Split a script into text parts and pauses (see the module docstring for the syntax).

    Raises:
        ScriptError: the script is empty or whitespace only, has malformed markup, or has nothing
            speakable (no letter or digit outside markup).
    """
    if text is None or not text.strip():
        raise ScriptError("the script is empty")
    parts: list[ScriptPart] = []
    paragraphs = [p for p in _PARAGRAPH.split(text.replace("\r\n", "\n")) if p.strip()]
    for k, para in enumerate(paragraphs):
        if k > 0:
            parts.append(ScriptPart(paragraph_break=True))
        pos = 0
        for m in _ANY_MARKUP.finditer(para):
            _add_text(parts, para[pos : m.start()])
            pm = _PAUSE.fullmatch(m.group(0))
            if pm is None:
                raise ScriptError(
                    f"unknown markup {m.group(0)!r}: the only markup is a pause, e.g. [pause 0.8s]"
                )
            seconds = float(pm.group(1)) / (1000.0 if (pm.group(2) or "s").lower() == "ms" else 1.0)
            if seconds > MAX_PAUSE:
                raise ScriptError(f"pause {m.group(0)} is longer than {MAX_PAUSE:g} s")
            if seconds > 0:
                parts.append(ScriptPart(pause=seconds))
            pos = m.end()
        _add_text(parts, para[pos:])
    if not any(p.text and _speakable(p.text) for p in parts):
        raise ScriptError("the script has nothing to speak (no words, only markup or punctuation)")
    return parts


def _speakable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _add_text(parts: list[ScriptPart], chunk: str) -> None:
    chunk = " ".join(chunk.split())
    if chunk and _speakable(chunk):
        parts.append(ScriptPart(text=chunk))


def script_text(parts: list[ScriptPart]) -> str:
    """The spoken words of a parsed script, paragraphs separated by blank lines."""
    out: list[str] = []
    for p in parts:
        if p.paragraph_break:
            out.append("\n\n")
        elif p.text:
            out.append((" " if out and not out[-1].endswith("\n") else "") + p.text)
    return "".join(out)


def expand_titles(text: str) -> str:
    """Spell out a title followed by a capitalised word: ``"Dr. Smith"`` -> ``"Doctor Smith"``.

    espeak ends a sentence at the title's full stop, so the voice would say "Doctor." with a
    falling tone, pause, and start "Smith" as a new sentence. Only the capitalised titles in
    :data:`TITLES` directly before a capitalised word are changed, one word for one, so the
    written words and their timings still match. "the Dr. He" (a title ending a sentence before
    a capitalised word) is read as one sentence: rare, and the lesser fault.
    """
    return _TITLE.sub(lambda m: TITLES[m.group(1)], text)
