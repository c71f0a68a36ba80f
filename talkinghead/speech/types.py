"""The Speech stage's result: audio plus a phoneme timeline that tiles it."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..fileio import atomic_path, write_text_atomic

#: Timeline symbol for silence (start/end of speech, pauses, punctuation).
SILENCE = "_"


@dataclass(frozen=True)
class PhonemeInterval:
    """One phoneme of the timeline.

    Attributes:
        symbol: IPA phoneme as espeak writes it (e.g. ``"p"``, ``"ɑː"``, ``"aɪ"``), or
            :data:`SILENCE` for a pause.
        start: start time in seconds from the start of the audio.
        end: end time in seconds (``end > start``).
    """

    symbol: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start


@dataclass(frozen=True)
class WordInterval:
    """A word of the script and when it is spoken (seconds)."""

    text: str
    start: float
    end: float


@dataclass
class Speech:
    """Synthesized (or recorded) speech with its timing.

    Attributes:
        audio: mono waveform, shape ``(n_samples,)``, float32 in ``[-1, 1]``.
        sample_rate: samples per second (Hz).
        phonemes: phoneme timeline; consecutive intervals tile ``[0, duration]`` exactly: the first
            starts at 0, each starts where the previous ends, the last ends at ``duration``.
        words: word timings, where the backend can provide them (may be empty).
        text: the script that was spoken (after markup was interpreted).
        backend: name of the backend that produced it (``"piper"``, ``"coqui"``, ``"recorded"``).
        info: backend-specific facts (voice name, alignment cost, ...), JSON-serializable.
    """

    audio: np.ndarray
    sample_rate: int
    phonemes: list[PhonemeInterval]
    words: list[WordInterval] = field(default_factory=list)
    text: str = ""
    backend: str = ""
    info: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Length of the audio in seconds."""
        return len(self.audio) / float(self.sample_rate)

    def check_tiling(self, tol: float = 1e-6) -> None:
        """Raise ``ValueError`` unless :attr:`phonemes` tile ``[0, duration]`` exactly."""
        if not self.phonemes:
            raise ValueError("empty phoneme timeline")
        t = 0.0
        for p in self.phonemes:
            if abs(p.start - t) > tol or p.end <= p.start:
                raise ValueError(f"timeline gap/overlap at {p}")
            t = p.end
        if abs(t - self.duration) > tol:
            raise ValueError(f"timeline ends at {t:.6f}s, audio at {self.duration:.6f}s")

    # ---- serialization -------------------------------------------------------------------
    def timeline_dict(self) -> dict:
        """Timeline (no audio) as a JSON-serializable dict."""
        return {
            "text": self.text,
            "backend": self.backend,
            "sample_rate": self.sample_rate,
            "duration": self.duration,
            "phonemes": [asdict(p) for p in self.phonemes],
            "words": [asdict(w) for w in self.words],
            "info": self.info,
        }

    def write_wav(self, path: str | Path) -> Path:
        """Write the audio as 16-bit PCM WAV, atomically."""
        import soundfile as sf

        with atomic_path(path) as tmp:
            sf.write(str(tmp), self.audio, self.sample_rate, subtype="PCM_16", format="WAV")
        return Path(path)

    def write_timeline(self, path: str | Path) -> Path:
        """Write :meth:`timeline_dict` as JSON, atomically."""
        return write_text_atomic(path, json.dumps(self.timeline_dict(), ensure_ascii=False, indent=1))

    def write_srt(self, path: str | Path, max_words: int = 7, max_seconds: float = 3.5) -> Path:
        """Write subtitles (SubRip) built from the word timings, atomically.

        Words are grouped into cues of at most ``max_words`` words / ``max_seconds`` seconds, and a
        cue also ends at a sentence end. Without word timings the whole text is one cue.
        """
        return write_text_atomic(path, srt_text(self, max_words, max_seconds))


def _srt_time(t: float) -> str:
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


#: A silence at least this long (seconds) between two words ends a subtitle cue: a cue is not left
#: on screen through a pause or a paragraph break.
CUE_GAP = 0.6


def _ends_sentence(word: str) -> bool:
    """A written word that ends a sentence: a final ``. ! ? ; :``, but not an abbreviation's full
    stop ("Dr.", "St.", "e.g.", "U.S."), which a name or more words follow."""
    from .script import AFTER_NAME, BEFORE_NAME, BEFORE_NUMBER

    w = word.rstrip().rstrip("\"'”’)]")
    if not w.endswith((".", "!", "?", ";", ":")):
        return False
    if not w.endswith("."):
        return True
    core = w[:-1].lstrip("\"'“‘([")
    if core in BEFORE_NAME or core in BEFORE_NUMBER or core in AFTER_NAME or core in ("St", "vs", "Vs", "approx"):
        return False
    return not re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", core)  # e.g, i.e, U.S: dotted initialisms


def srt_text(speech: Speech, max_words: int = 7, max_seconds: float = 3.5) -> str:
    """SubRip text for ``speech`` (see :meth:`Speech.write_srt`).

    Words are grouped into cues of at most ``max_words`` words and ``max_seconds`` seconds; a cue
    also ends at a sentence's end (not at an abbreviation's full stop) and before a silence of
    :data:`CUE_GAP` seconds or more, so that no cue stays on screen through a pause. Where the
    limits would leave the last one or two words of a sentence as a cue of their own, the last two
    cues of the sentence share its words evenly.
    """
    cues: list[tuple[float, float, str]] = []
    if speech.words:
        groups: list[list[WordInterval]] = []
        cut_short: list[bool] = []  # ended by a limit, its sentence going on in the next group
        group: list[WordInterval] = []
        for w in speech.words:
            paused = bool(group) and w.start - group[-1].end >= CUE_GAP
            if group and (paused or w.end - group[0].start > max_seconds):
                groups.append(group)
                cut_short.append(not paused)  # too long with this word: cut by the limit
                group = []
            group.append(w)
            if _ends_sentence(w.text):
                groups.append(group)
                cut_short.append(False)
                group = []
            elif len(group) >= max_words or w.end - group[0].start >= max_seconds:
                groups.append(group)
                cut_short.append(True)
                group = []
        if group:
            groups.append(group)
            cut_short.append(False)
        # a sentence cut by the limits does not leave one or two words flashing on their own
        # ("... the rest of the" / "day."): the last two cues of the cut share its words evenly
        for i in range(len(groups) - 1):
            a, b = groups[i], groups[i + 1]
            if (cut_short[i] and not cut_short[i + 1] and len(b) <= 2 and len(a) > len(b) + 1
                    and b[0].start - a[-1].end < CUE_GAP):  # (never across a pause)
                both = a + b
                k = (len(both) + 1) // 2
                if both[-1].end - both[k].start <= max_seconds:
                    groups[i], groups[i + 1] = both[:k], both[k:]
        cues = [(g[0].start, g[-1].end, " ".join(x.text for x in g)) for g in groups]
    elif speech.text.strip():
        cues.append((0.0, speech.duration, " ".join(speech.text.split())))
    lines = []
    for i, (a, b, txt) in enumerate(cues, 1):
        lines += [str(i), f"{_srt_time(a)} --> {_srt_time(b)}", txt, ""]
    return "\n".join(lines)


def timeline_from_durations(
    symbols: list[str], durations: np.ndarray | list[float], total: float
) -> list[PhonemeInterval]:
    """Build a tiling timeline from per-symbol durations (seconds).

    Durations are rescaled so that they sum to ``total`` exactly, zero-length entries are dropped
    and adjacent identical silences are merged. ``symbols`` and ``durations`` have equal length.
    """
    d = np.asarray(durations, dtype=np.float64)
    if len(d) != len(symbols) or len(d) == 0:
        raise ValueError("symbols and durations must be non-empty and of equal length")
    d = np.clip(d, 0.0, None)
    s = d.sum()
    d = d * (total / s) if s > 0 else np.full(len(d), total / len(d))
    edges = np.concatenate([[0.0], np.cumsum(d)])
    edges[-1] = total
    out: list[PhonemeInterval] = []
    for sym, a, b in zip(symbols, edges[:-1], edges[1:]):
        if b - a <= 1e-9:
            continue
        if out and sym == SILENCE and out[-1].symbol == SILENCE:
            out[-1] = PhonemeInterval(SILENCE, out[-1].start, float(b))
            continue
        out.append(PhonemeInterval(sym, float(a), float(b)))
    if out:
        last = out[-1]
        out[-1] = PhonemeInterval(last.symbol, last.start, float(total))
    return out
