"""Script input: plain text with paragraph breaks and explicit pause markup.

A script is a string (or the contents of a UTF-8 text file). Rules:

- One or more blank lines separate paragraphs; a paragraph break becomes a paragraph pause.
- ``[pause 0.8s]``, ``[pause 800ms]`` or ``[pause 1]`` (seconds) inserts that much silence.
- Line breaks inside a paragraph are ordinary spaces.
- English voices: an abbreviation's full stop is not the end of a sentence where a name or a
  number follows ("Dr. Smith", "Gen. Lee", "No. 5", "Jan. 5", "the U.S. Army"), and a few that
  espeak would spell out are read as words ("Jr." -> "Junior", "Ms Smith" -> "Miz Smith"):
  :func:`expand_abbreviations`; money, years, dates and phone numbers are read as words
  (:func:`talkinghead.speech.normalize.normalize_english`, applied by the speaker).
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, ScriptError
from ..fileio import read_text_file
from ..options import MAX_PAUSE  # noqa: F401  (re-exported)

_PAUSE = re.compile(r"\[\s*pause\s+([0-9]*\.?[0-9]+)\s*(ms|s)?\s*\]", re.IGNORECASE)
_ANY_MARKUP = re.compile(r"\[[^\]]*\]")
_PARAGRAPH = re.compile(r"\n\s*\n")
#: Abbreviations read as these words when a capitalised word follows ("Dr. Smith", "Gen. Lee",
#: "Mt. Everest"): espeak (Piper's phonemizer) would end the sentence at the full stop and say
#: "Doctor." with a falling tone, pause, then start "Smith" as a new sentence.
BEFORE_NAME = {
    "Dr": "Doctor", "Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Prof": "Professor", "Gen": "General",
    "Sen": "Senator", "Rep": "Representative", "Gov": "Governor", "Pres": "President", "Capt": "Captain",
    "Lt": "Lieutenant", "Col": "Colonel", "Sgt": "Sergeant", "Rev": "Reverend", "Hon": "Honorable",
    "Mt": "Mount", "Ft": "Fort",
}
#: Abbreviations read as these words when a number follows ("No. 5", "Fig. 3", "Jan. 5"): the same
#: sentence split, and espeak would also say "no", "fig", "jan".
BEFORE_NUMBER = {
    "No": "Number", "no": "number", "Nos": "Numbers", "nos": "numbers", "Fig": "Figure", "fig": "figure",
    "Figs": "Figures", "figs": "figures", "Vol": "Volume", "vol": "volume", "Ch": "Chapter", "ch": "chapter",
    "Sec": "Section", "Art": "Article", "Eq": "Equation", "eq": "equation", "p": "page", "pp": "pages",
    "Jan": "January", "Feb": "February", "Mar": "March", "Apr": "April", "Jun": "June", "Jul": "July",
    "Aug": "August", "Sep": "September", "Sept": "September", "Oct": "October", "Nov": "November",
    "Dec": "December",
}
#: Read as these words after a capitalised word ("John Smith Jr."; espeak spells "J R"). The full
#: stop stays, so a sentence that ends with the name still ends there.
AFTER_NAME = {"Jr": "Junior", "Sr": "Senior"}
#: Capitalised words that usually begin a sentence: a dotted initialism before one of them ("... in
#: the U.S. The next day") keeps its full stop as a sentence end.
SENTENCE_STARTERS = frozenset(
    "A After Also An And As At Before But During Each For From He Her Here His How However I If In It Its "
    "Meanwhile My Now Of On Once One Our She So Some Still That The Their Then There These They This "
    "Those Today Tomorrow We What When Where Which While Who Why Yesterday Yet You Your".split()
)
_BEFORE_NAME = re.compile(r"\b(" + "|".join(BEFORE_NAME) + r")\.(?=\s+[A-Z])")
_MS = re.compile(r"\bMs(?=\s+[A-Z])")
_BEFORE_NUMBER = re.compile(r"\b(" + "|".join(BEFORE_NUMBER) + r")\.(?=\s+\d)")
_AFTER_NAME = re.compile(r"(\b[A-Z][a-z]+,?\s+)(" + "|".join(AFTER_NAME) + r")\b")
_INITIALISM = re.compile(r"\b((?:[A-Z]\.){2,})(?=\s+([A-Z][A-Za-z']*))")


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
    if text is not None:
        text = text.replace("\ufeff", "")  # a byte-order mark (a Windows editor's UTF-8) is not text
    if text is None or not text.strip():
        raise ScriptError("the script is empty")
    text = drop_pictographs(text)
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
            # kept even at 0 s: it replaces the pause that would otherwise end the sentence
            parts.append(ScriptPart(pause=seconds))
            pos = m.end()
        _add_text(parts, para[pos:])
    if not any(p.text and _speakable(p.text) for p in parts):
        raise ScriptError("the script has nothing to speak (no words, only markup or punctuation)")
    return parts


def drop_pictographs(text: str) -> str:
    """``text`` without emoji and other pictographic symbols (Unicode category So, e.g. 😀 ♥ ©
    ™, with their skin-tone modifiers, variation selectors and joiners).

    The voice would read them out by name ("grinning face", "thumbs up medium skin tone"), words
    the script does not show and the subtitles cannot place. Currency, maths and punctuation
    (``$ % & + -``) are kept: the voice reads those as the words they stand for.
    """
    if text.isascii():
        return text
    out: list[str] = []
    dropped = False
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "So" or (cat == "Sk" and 0x1F3FB <= ord(ch) <= 0x1F3FF) or ch in "\u200d\ufe0e\ufe0f" \
                or 0xE0020 <= ord(ch) <= 0xE007F:
            dropped = True
            continue
        if dropped and out and out[-1].isalnum() and ch.isalnum():
            out.append(" ")  # "A😀B" -> "A B", two words as written
        dropped = False
        out.append(ch)
    return re.sub(r"[ \t]+(?=[.,!?;:])", "", "".join(out))  # "emoji 👍." -> "emoji."


def _speakable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _add_text(parts: list[ScriptPart], chunk: str) -> None:
    chunk = " ".join(chunk.split())
    stray = next((c for c in chunk if c in "[]"), None)
    if stray is not None:  # an unclosed "[pause 1s" would otherwise be read out
        raise ScriptError(f"unmatched {stray!r} in {chunk!r}: markup is a pause in brackets, e.g. [pause 0.8s]")
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


def expand_abbreviations(text: str) -> str:
    """English abbreviations that espeak misreads, written out, one word for one.

    espeak ends a sentence at a full stop followed by a capital letter or a digit, so the voice
    would say "Doctor." with a falling tone, pause, and start "Smith" as a new sentence; it also
    spells some abbreviations ("Jr" -> "J R"). Changed: a title or similar before a capitalised
    word (:data:`BEFORE_NAME`; "Ms" also without its full stop), an abbreviation before a number
    (:data:`BEFORE_NUMBER`), "Jr"/"Sr" after a capitalised word (:data:`AFTER_NAME`, the full stop
    kept), and a dotted initialism before a capitalised word that does not usually begin a
    sentence (:data:`SENTENCE_STARTERS`) loses its last full stop ("the U.S. Army" -> "the U.S
    Army", which espeak reads as one sentence). Every written word stays one word, so word
    timings and subtitles keep the text as written.

    An abbreviation that really ends a sentence before a name ("... the Dr. Smith came") is read
    as one sentence: rarer, and the lesser fault.
    """
    text = _BEFORE_NAME.sub(lambda m: BEFORE_NAME[m.group(1)], text)
    text = _MS.sub("Miz", text)
    text = _BEFORE_NUMBER.sub(lambda m: BEFORE_NUMBER[m.group(1)], text)
    text = _AFTER_NAME.sub(lambda m: m.group(1) + AFTER_NAME[m.group(2)], text)
    return _INITIALISM.sub(lambda m: m.group(1) if m.group(2) in SENTENCE_STARTERS else m.group(1)[:-1], text)


def transcript_file(value: str | os.PathLike | None) -> Path | None:
    """The file a ``--transcript`` value names, or ``None`` when it is the words themselves.

    A value is a file when such a file exists, or when it looks like one (it ends in ``.txt``, or
    is a single token with a path separator): a mistyped file name must not be aligned as if it
    were what the recording says.

    Raises:
        InputError: it looks like a file name but there is no such file.
    """
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        if not Path(value).expanduser().is_file():
            raise InputError(f"transcript file {value} does not exist")
        return Path(value).expanduser()
    token = value.strip()
    if "\n" not in token and len(token.encode("utf-8", "surrogatepass")) <= 4096:  # words are not a path
        try:
            p = Path(token).expanduser()
            if p.is_file():
                return p
        except (OSError, RuntimeError, ValueError):  # too long a name, "~words", a NUL: the words
            pass
    looks_like_a_file = token.lower().endswith(".txt") or (("/" in token or "\\" in token) and not any(
        c.isspace() for c in token))
    if looks_like_a_file:
        raise InputError(f"transcript file {value} does not exist (give the words themselves or an existing .txt file)")
    return None
