"""Text -> IPA phonemes per word, with espeak-ng (through ``phonemizer``) in any espeak language.

The espeak-ng shared library and its data come from the ``espeakng-loader`` package, so no system
espeak is needed. The output uses the same IPA conventions as Piper's espeak phonemizer (stress
marks ``ˈ ˌ`` before the stressed vowel, length ``ː`` after it), so it can be rendered by any
Piper voice (:meth:`talkinghead.speech.piper.PiperSpeaker.speak_phonemes`).

Example:
    >>> [w.ipa for w in phonemize_words("Bob bought a map.")]
    ['bˈɑːb', 'bˈɔːt', 'ɐ', 'mˈæp']
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from ..errors import ScriptError, VoiceError
from .normalize import normalize_words

#: Default espeak language.
DEFAULT_LANGUAGE = "en-us"
_STRESS = "ˈˌ"
_SENTENCE_END = re.compile(r"(?<=[.!?;:…])\s+")


@dataclass(frozen=True)
class WordPhonemes:
    """One written word and its pronunciation.

    Attributes:
        text: the word as written in the input (with any attached punctuation).
        ipa: espeak's IPA for the word, e.g. ``"mˈæp"`` (stress marks and length marks included;
            a word espeak reads as several, e.g. a number, has spaces inside).
        phones: the phonemes, one string each, stress marks removed, length marks and
            diacritics kept on their phoneme: ``["m", "æ", "p"]``, ``["b", "ɑː", "b"]``.
        punct: punctuation that follows the word (``","``, ``"."``, ``""``), used for pauses.
    """

    text: str
    ipa: str
    phones: list[str]
    punct: str = ""


@functools.cache
def _setup_espeak() -> None:
    """Point phonemizer at the espeak-ng library and data shipped by ``espeakng-loader``."""
    import espeakng_loader
    from phonemizer.backend.espeak.wrapper import EspeakWrapper

    EspeakWrapper.set_library(str(espeakng_loader.get_library_path()))
    EspeakWrapper.set_data_path(str(espeakng_loader.get_data_path()))


@functools.lru_cache(maxsize=8)
def _backend(language: str):
    _setup_espeak()
    from phonemizer.backend import EspeakBackend

    try:
        return EspeakBackend(
            language,
            preserve_punctuation=False,
            with_stress=True,
            language_switch="remove-flags",
            words_mismatch="ignore",
        )
    except RuntimeError as exc:
        raise VoiceError(
            f"unknown language {language!r} for espeak-ng ({exc}); use an espeak code such as "
            "'en-us', 'en-gb', 'de', 'fr-fr', 'es'"
        ) from None


def supported_languages() -> dict[str, str]:
    """espeak language codes -> names available from the bundled espeak-ng."""
    _setup_espeak()
    from phonemizer.backend import EspeakBackend

    return dict(EspeakBackend.supported_languages())


def split_phones(ipa: str) -> list[str]:
    """Split espeak IPA into phonemes: stress marks dropped, ``ː`` and diacritics (Unicode
    ``Mn``/``Lm``) joined to the preceding phoneme, spaces and punctuation dropped.

    Diphthongs come out as separate vowels (``"eɪ" -> ["e", "ɪ"]``), as Piper's timeline has them.
    """
    out: list[str] = []
    for c in ipa:
        if c in _STRESS or c.isspace():
            continue
        cat = unicodedata.category(c)
        if cat[0] in "PSZ":
            continue
        if (c in "ːˑ" or cat in ("Mn", "Lm")) and out:
            out[-1] += c
        else:
            out.append(c)
    return out


def _strip_punct(word: str) -> tuple[str, str]:
    """``'park,'`` -> ``('park', ',')``; leading punctuation is dropped."""
    core = word.strip()
    i = len(core)
    while i > 0 and unicodedata.category(core[i - 1])[0] in "PS" and core[i - 1] not in "'’":
        i -= 1
    j = 0
    while j < i and unicodedata.category(core[j])[0] in "PS" and core[j] not in "'’":
        j += 1
    return core[j:i], core[i:]


def phonemize_words(text: str, language: str = DEFAULT_LANGUAGE) -> list[WordPhonemes]:
    """Phonemize ``text`` word by word (words are split at whitespace).

    Each word is phonemized on its own (one espeak call for the whole batch), so the mapping from
    written words to phonemes is exact. English words are first normalised on their own
    (:func:`~talkinghead.speech.normalize.normalize_words`: "$3.50" is read "three dollars fifty
    cents", as a person reading the transcript would say it). Words that espeak makes nothing of (pure punctuation,
    symbols) are dropped, their punctuation kept on the previous word.

    Raises:
        ScriptError: ``text`` is empty or has no pronounceable word.
        VoiceError: ``language`` is not an espeak-ng language.
    """
    if text is None or not text.strip():
        raise ScriptError("the transcript is empty")
    backend = _backend(language)
    raw = text.split()
    # English: money, years, dates and phone numbers as a person reads them, word by word.
    spoken = normalize_words(raw) if language.lower().startswith("en") else raw
    cores = [_strip_punct(w) for w in spoken]
    todo = [c for c, _ in cores if c]
    isolated = iter(backend.phonemize(todo, strip=True, njobs=1)) if todo else iter(())
    # (written word, punctuation, isolated IPA, spoken core) for pronounceable words
    items: list[tuple[str, str, str, str]] = []
    for word, (core, punct) in zip(raw, cores):
        ipa = next(isolated).strip() if core else ""
        if split_phones(ipa):
            items.append((word, punct, ipa, core))
        elif punct and items:
            w, p, i, c = items[-1]
            items[-1] = (w, p + punct, i, c)
    if not items:
        raise ScriptError(f"the transcript has nothing pronounceable: {text.strip()[:60]!r}")
    # Re-phonemize whole sentences so words get their in-context form ("a" -> "ɐ", not "ˈeɪ"),
    # and give each written word as many space-separated groups as it has on its own.
    spans, start = [], 0
    for k, (_, punct, _, _) in enumerate(items):
        if any(c in ".!?;:…" for c in punct) or k == len(items) - 1:
            spans.append((start, k + 1))
            start = k + 1
    lines = [" ".join(items[k][3] for k in range(a, b)) for a, b in spans]
    in_context = backend.phonemize(lines, strip=True, njobs=1)
    out: list[WordPhonemes] = []
    for (a, b), sent_ipa in zip(spans, in_context):
        groups = [g for g in sent_ipa.split() if split_phones(g)]
        counts = [len([g for g in items[k][2].split() if split_phones(g)]) for k in range(a, b)]
        if sum(counts) > len(groups):  # espeak joined words ("in the" -> "ɪnðə"): split them
            groups, counts = _split_joined(groups, [items[k][2] for k in range(a, b)], counts)
        if sum(counts) != len(groups):  # still different: keep the isolated forms
            groups, counts = [items[k][2] for k in range(a, b)], [1] * (b - a)
        g = 0
        for k, c in zip(range(a, b), counts):
            ipa = " ".join(groups[g : g + c])
            g += c
            out.append(WordPhonemes(items[k][0], ipa, split_phones(ipa), items[k][1]))
    return out


def _split_ipa(ipa: str, sizes: list[int]) -> list[str]:
    """Cut an IPA string into pieces holding ``sizes`` phones each (stress marks stay with the
    phone they precede, length marks with the phone they follow)."""
    pieces, cur, n, k = [], "", 0, 0
    for c in ipa:
        is_phone = not (c in _STRESS or c in "ːˑ" or unicodedata.category(c) in ("Mn", "Lm"))
        if is_phone and k < len(sizes) - 1 and n == sizes[k]:
            pieces.append(cur)
            cur, n, k = "", 0, k + 1
        cur += c
        n += is_phone
    pieces.append(cur)
    return pieces


def _split_joined(groups: list[str], isolated: list[str], counts: list[int]):
    """espeak joins some words in context (``"in the" -> "ɪnðə"``); give each written word its
    share of the joined group, in proportion to its isolated phone count. Words are assigned to
    groups by dynamic programming (each group takes one or more consecutive words whose
    isolated phone counts best add up to the group's). Returns new ``(groups, counts)``
    (unchanged if some word has several groups on its own)."""
    n, m = len(isolated), len(groups)
    if any(c != 1 for c in counts) or m == 0 or m > n:
        return groups, counts
    size = [len(split_phones(w)) for w in isolated]
    need = [len(split_phones(g)) for g in groups]
    inf = float("inf")
    dp = np.full((n + 1, m + 1), inf)
    back = np.zeros((n + 1, m + 1), dtype=int)
    dp[0, 0] = 0.0
    for j in range(1, m + 1):
        for i in range(j, n - (m - j) + 1):
            for k in range(j - 1, i):  # group j-1 takes words k..i-1
                c = dp[k, j - 1] + abs(sum(size[k:i]) - need[j - 1]) + 0.5 * (i - k - 1)
                if c < dp[i, j]:
                    dp[i, j], back[i, j] = c, k
    if not np.isfinite(dp[n, m]):
        return groups, counts
    spans, i = [], n
    for j in range(m, 0, -1):
        spans.append((back[i, j], i))
        i = back[i, j]
    out: list[str] = []
    for (k, i), g, nd in zip(reversed(spans), groups, need):
        if i - k == 1:
            out.append(g)
            continue
        sizes = np.array(size[k:i], dtype=float)
        scaled = np.maximum(1, np.round(sizes * nd / max(sizes.sum(), 1))).astype(int)
        scaled[-1] = nd - scaled[:-1].sum()
        if scaled[-1] < 1:
            return groups, counts
        out += _split_ipa(g, scaled.tolist())
    return out, [1] * n


def sentences_of(words: list[WordPhonemes]) -> list[list[WordPhonemes]]:
    """Group words into sentences, ending one at a word whose punctuation has ``. ! ? ; : …``."""
    sents: list[list[WordPhonemes]] = [[]]
    for w in words:
        sents[-1].append(w)
        if any(c in ".!?;:…" for c in w.punct):
            sents.append([])
    return [s for s in sents if s]


def piper_phonemes(sentence: list[WordPhonemes]) -> list[str]:
    """One sentence as Piper phoneme tokens (IPA code points, ``" "`` between words, the words'
    punctuation kept: commas make Piper pause)."""
    toks: list[str] = []
    for k, w in enumerate(sentence):
        if k:
            toks.append(" ")
        toks.extend(w.ipa)
        for c in w.punct:
            if c in ",.!?;:":
                toks.append(c)
                break
    return toks
