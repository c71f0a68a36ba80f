"""Viseme classes, their mouth parameters, and the mapping from IPA phonemes to classes.

Sixteen classes (silence included). Each has a target value for every mouth parameter of
:data:`~talkinghead.visemes.types.MOUTH_PARAMS` and a dominance (how strongly it imposes that value
on its neighbours, see :mod:`talkinghead.visemes.coarticulation`).

English: every phoneme espeak-ng emits for ``en-us``/``en-gb`` is listed in :data:`IPA_TO_VISEME`
(diphthongs and affricates are split into their parts by :func:`split_phoneme`). Other languages:
a symbol that is not listed is classified by the IPA chart, from its place and manner of
articulation for consonants and height / backness / rounding for vowels (:func:`classify`).

| class | sounds | mouth |
|-------|--------|-------|
| sil | pause | closed, relaxed |
| PP | p b m | lips pressed together |
| FF | f v | lower lip under upper teeth |
| TH | θ ð | tongue between slightly parted teeth |
| DD | t d n l | slightly open, teeth visible |
| KK | k g ŋ h | open, neutral lips |
| CH | ʃ ʒ tʃ dʒ | lips pushed out, teeth visible |
| SS | s z | teeth nearly together, lips spread |
| RR | ɹ r ɾ | lips slightly rounded |
| WU | w u ʊ | lips rounded and pushed forward, small opening |
| AA | ɑ a æ ʌ ɐ | jaw wide open |
| EH | ɛ e | half open, lips a bit spread |
| IY | i ɪ j | nearly closed, lips spread |
| OH | ɔ o ɒ | open and rounded |
| ER | ə ɚ ɜ ᵻ | relaxed, half open |
| HH | h ʔ | takes the neighbours' shape (low dominance) |
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from ..speech.types import SILENCE
from .types import MOUTH_PARAMS


@dataclass(frozen=True)
class Viseme:
    """A viseme class.

    Attributes:
        name: short name (``"PP"``).
        target: target mouth parameters, shape ``(len(MOUTH_PARAMS),)``, each in [0, 1].
        dominance: per-parameter dominance magnitude, same shape (1 = ordinary; larger values win
            over neighbours, smaller values let neighbours decide).
        anticipation: per-parameter time constant (s) of the dominance before the sound starts.
        carryover: per-parameter time constant (s) of the dominance after the sound ends.
    """

    name: str
    target: np.ndarray
    dominance: np.ndarray
    anticipation: np.ndarray
    carryover: np.ndarray


def _v(
    name: str,
    dominance: float = 1.0,
    tau: float = 0.045,
    dom: dict[str, float] | None = None,
    ant: dict[str, float] | None = None,
    car: dict[str, float] | None = None,
    **target: float,
) -> Viseme:
    t = np.zeros(len(MOUTH_PARAMS), np.float32)
    for k, val in target.items():
        t[MOUTH_PARAMS.index(k)] = val
    d = np.full(len(MOUTH_PARAMS), dominance, np.float32)
    if name not in ("sil", "HH"):
        # every articulated sound resists the quick closure / tuck gestures of its neighbours
        d[MOUTH_PARAMS.index("lip_close")] = 4.0
        d[MOUTH_PARAMS.index("lower_lip_tuck")] = 4.0
    for k, val in (dom or {}).items():
        d[MOUTH_PARAMS.index(k)] = val
    a = np.full(len(MOUTH_PARAMS), tau, np.float32)
    for k, val in (ant or {}).items():
        a[MOUTH_PARAMS.index(k)] = val
    c = np.full(len(MOUTH_PARAMS), tau, np.float32)
    for k, val in (car or {}).items():
        c[MOUTH_PARAMS.index(k)] = val
    return Viseme(name, t, d, a, c)


# Consonants whose lips are free (t, k, h ...) get low dominance on the lip parameters, so the
# neighbouring vowels' rounding / spreading shows through them (coarticulation). Rounding is
# anticipated over a longer time (about 150 ms before the rounded sound).
_FREE_LIPS = {"lip_round": 0.25, "lip_spread": 0.25, "teeth_show": 0.5, "upper_lip_raise": 0.5}
_ROUND_AHEAD = {"lip_round": 0.15}
# Lip closure and the lower-lip tuck are quick gestures: they must not leak into the vowels.
_QUICK_CLOSE = {"lip_close": 0.02, "lower_lip_tuck": 0.02, "jaw_open": 0.035}

VISEMES: dict[str, Viseme] = {
    v.name: v
    for v in [
        _v("sil", dominance=0.6, tau=0.08),
        _v("PP", dominance=1.5, jaw_open=0.04, lip_close=1.0,
           dom={"lip_close": 12.0, "jaw_open": 3.0, "lower_lip_tuck": 4.0, "lip_round": 0.4},
           ant=_QUICK_CLOSE, car=_QUICK_CLOSE),
        _v("FF", jaw_open=0.1, lower_lip_tuck=1.0, teeth_show=0.7, upper_lip_raise=0.2,
           dom={"lower_lip_tuck": 8.0, "jaw_open": 2.0, "lip_close": 4.0},
           ant={"lower_lip_tuck": 0.025}, car={"lower_lip_tuck": 0.025}),
        _v("TH", jaw_open=0.2, teeth_show=0.6, lip_spread=0.1, dom=dict(_FREE_LIPS, jaw_open=1.5, lip_close=4.0)),
        _v("DD", jaw_open=0.18, teeth_show=0.55, lip_spread=0.15, dom=dict(_FREE_LIPS, jaw_open=0.8, lip_close=4.0)),
        _v("KK", jaw_open=0.3, teeth_show=0.35, dom=dict(_FREE_LIPS, jaw_open=0.6, lip_close=4.0)),
        _v("CH", jaw_open=0.14, lip_round=0.55, upper_lip_raise=0.6, teeth_show=0.8,
           dom={"lip_round": 2.0, "upper_lip_raise": 2.0, "jaw_open": 1.5, "lip_close": 4.0}),
        _v("SS", jaw_open=0.06, lip_spread=0.4, teeth_show=0.9,
           dom=dict(_FREE_LIPS, jaw_open=2.5, teeth_show=2.0, lip_close=4.0)),
        _v("RR", jaw_open=0.2, lip_round=0.45, upper_lip_raise=0.3, teeth_show=0.3,
           dom={"lip_round": 1.5, "lip_close": 4.0}, ant=_ROUND_AHEAD),
        _v("WU", jaw_open=0.14, lip_round=1.0, teeth_show=0.1,
           dom={"lip_round": 3.0, "lip_spread": 3.0, "lip_close": 4.0}, ant=_ROUND_AHEAD),
        _v("AA", jaw_open=1.0, teeth_show=0.35, lip_spread=0.1, dom={"jaw_open": 1.5, "lip_close": 4.0}),
        _v("EH", jaw_open=0.55, lip_spread=0.4, teeth_show=0.55, dom={"lip_close": 4.0}),
        _v("IY", jaw_open=0.18, lip_spread=0.85, teeth_show=0.7, dom={"lip_spread": 1.5, "lip_close": 4.0}),
        _v("OH", jaw_open=0.65, lip_round=0.7, teeth_show=0.2,
           dom={"lip_round": 2.0, "lip_close": 4.0}, ant=_ROUND_AHEAD),
        _v("ER", jaw_open=0.35, teeth_show=0.35, lip_round=0.1, dom={"lip_close": 4.0}),
        _v("HH", dominance=0.2, jaw_open=0.3, teeth_show=0.3, dom={"lip_close": 4.0}),
    ]
}
CLASSES: tuple[str, ...] = tuple(VISEMES)

#: English phonemes as espeak-ng writes them (after splitting diphthongs / affricates).
IPA_TO_VISEME: dict[str, str] = {
    # bilabials and labiodentals
    "p": "PP", "b": "PP", "m": "PP",
    "f": "FF", "v": "FF",
    # dentals, alveolars
    "θ": "TH", "ð": "TH",
    "t": "DD", "d": "DD", "n": "DD", "l": "DD", "ɾ": "DD", "ɫ": "DD", "ʔ": "HH",
    "s": "SS", "z": "SS",
    # postalveolars, rhotics, approximants
    "ʃ": "CH", "ʒ": "CH",
    "ɹ": "RR", "r": "RR", "ɚ": "ER", "ɝ": "ER",
    "w": "WU", "j": "IY",
    # velars, glottal
    "k": "KK", "g": "KK", "ɡ": "KK", "ŋ": "KK", "x": "KK", "h": "HH",
    # vowels
    "ɑ": "AA", "a": "AA", "æ": "AA", "ʌ": "AA", "ɐ": "AA", "ɒ": "OH",
    "ɛ": "EH", "e": "EH",
    "i": "IY", "ɪ": "IY", "ᵻ": "ER",
    "ɔ": "OH", "o": "OH",
    "u": "WU", "ʊ": "WU",
    "ə": "ER", "ɜ": "ER", "ɐ̃": "AA",
}

# IPA chart, for symbols of other languages. Consonants by place of articulation.
_PLACE = {
    "bilabial": ("pbmɸβʙɓ", "PP"),
    "labiodental": ("fvɱʋⱱ", "FF"),
    "dental": ("θð", "TH"),
    "alveolar_fricative": ("szɬɮʦʣ", "SS"),
    "alveolar": ("tdnlrɾɹɺɗʈɖɳɭɽɻ", "DD"),
    "postalveolar": ("ʃʒʂʐɕʑʧʤ", "CH"),
    "palatal": ("cɟçʝjɲʎ", "IY"),
    "velar": ("kgɡxɣŋɰʟqɢχʁɴʀ", "KK"),
    "labial_velar": ("wʍɥ", "WU"),
    "glottal": ("hɦʔħʕʜʢʡ", "HH"),
}
# Vowels: (openness 0 = close .. 1 = open, backness 0 = front .. 1 = back, rounded).
_VOWELS: dict[str, tuple[float, float, bool]] = {
    "i": (0.0, 0.0, False), "y": (0.0, 0.0, True), "ɨ": (0.0, 0.5, False), "ʉ": (0.0, 0.5, True),
    "ɯ": (0.0, 1.0, False), "u": (0.0, 1.0, True), "ɪ": (0.15, 0.1, False), "ʏ": (0.15, 0.1, True),
    "ʊ": (0.15, 0.9, True), "e": (0.33, 0.0, False), "ø": (0.33, 0.0, True), "ɘ": (0.33, 0.5, False),
    "ɵ": (0.33, 0.5, True), "ɤ": (0.33, 1.0, False), "o": (0.33, 1.0, True), "ə": (0.5, 0.5, False),
    "ɛ": (0.66, 0.0, False), "œ": (0.66, 0.0, True), "ɜ": (0.66, 0.5, False), "ɞ": (0.66, 0.5, True),
    "ʌ": (0.66, 1.0, False), "ɔ": (0.66, 1.0, True), "æ": (0.85, 0.0, False), "ɐ": (0.8, 0.5, False),
    "a": (1.0, 0.0, False), "ɶ": (1.0, 0.0, True), "ɑ": (1.0, 1.0, False), "ɒ": (1.0, 1.0, True),
    "ᵻ": (0.15, 0.5, False), "ɚ": (0.5, 0.5, False), "ɝ": (0.66, 0.5, False),
}


_AFFRICATES = ("tʃ", "dʒ", "ts", "dz", "tɕ", "dʑ", "tʂ", "dʐ", "pf")


def vowel_class(openness: float, backness: float, rounded: bool) -> str:
    """Viseme class of a vowel from its position in the IPA vowel chart."""
    if rounded:
        return "WU" if openness < 0.3 else "OH"
    if openness >= 0.75:
        return "AA"
    if openness >= 0.55:
        return "EH" if backness < 0.5 else "AA"
    if openness >= 0.3:
        return "EH" if backness < 0.3 else "ER"
    return "IY" if backness < 0.7 else "ER"


def classify(symbol: str) -> str:
    """Viseme class of one phoneme (a base IPA letter, possibly with diacritics / length marks).

    English symbols use :data:`IPA_TO_VISEME`; other symbols the IPA chart; anything unknown
    (e.g. a click) falls back to ``"KK"`` (open, neutral lips), and :data:`SILENCE` to ``"sil"``.
    """
    if symbol == SILENCE or not symbol:
        return "sil"
    base = strip_modifiers(symbol)
    if not base:
        return "sil"
    if base in IPA_TO_VISEME:
        return IPA_TO_VISEME[base]
    if base in _AFFRICATES:
        base = base[1]
    ch = base[0]
    if ch in IPA_TO_VISEME:
        return IPA_TO_VISEME[ch]
    if ch in _VOWELS:
        return vowel_class(*_VOWELS[ch])
    for letters, cls in _PLACE.values():
        if ch in letters:
            return cls
    plain = unicodedata.normalize("NFD", ch)[0].lower()
    if plain in IPA_TO_VISEME:
        return IPA_TO_VISEME[plain]
    if plain in _VOWELS:
        return vowel_class(*_VOWELS[plain])
    return "KK"


def strip_modifiers(symbol: str) -> str:
    """Remove length and stress marks, tie bars, modifier letters (ʲ ʰ ʷ) and diacritics."""
    out = []
    for c in unicodedata.normalize("NFD", symbol):
        if unicodedata.category(c) in ("Mn", "Lm", "Sk") or c in "\u02d0\u02d1\u02c8\u02cc\u035c\u0361":
            continue
        out.append(c)
    return "".join(out)


def _is_vowel(c: str) -> bool:
    return c in _VOWELS


def split_phoneme(symbol: str) -> list[str]:
    """Split a multi-letter phoneme into the parts that have their own mouth shape.

    Diphthongs (``"aɪ"`` -> ``["a", "ɪ"]``) are split; affricates keep their release
    (``"tʃ"`` -> ``["ʃ"]``, ``"dʒ"`` -> ``["ʒ"]``); a length mark stays with its vowel.
    """
    base = strip_modifiers(symbol)
    if len(base) <= 1:
        return [symbol] if base else []
    if base in _AFFRICATES:
        return [base[1]]
    if all(_is_vowel(c) for c in base):
        return list(base)
    return [c for c in base if c.isalpha() or c in _VOWELS]
