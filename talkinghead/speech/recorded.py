"""Recorded speech: the user's own recording + its transcript -> :class:`Speech` with a timeline.

Two aligners:

``"dtw"`` (any espeak language)
    The transcript is phonemized (:mod:`.phonemize`), the same phonemes are rendered with a Piper
    voice (whose phoneme timeline is exact), and the recording is aligned to that rendering with
    dynamic time warping (``librosa.sequence.dtw``) of per-utterance normalized MFCCs (16 kHz,
    10 ms hop); the rendering's phoneme and word boundaries are carried over through the warping
    path. Long silent stretches of the recording (leading, trailing, pauses inside, found by
    energy with ``librosa.effects.split``) are cut out before the DTW and put back afterwards as
    :data:`SILENCE` intervals, so the warping never has to absorb them. This is the approach of
    aeneas (MFCC DTW against synthetic speech).

``"pocketsphinx"`` (English only)
    Forced alignment with pocketsphinx 5.1.1's bundled US-English acoustic model and dictionary
    (two passes: word alignment, then phone alignment), 10 ms frames. Its ARPAbet phones are
    mapped to the espeak IPA symbols of the Piper timeline (diphthongs and affricates are split in
    two halves, as Piper's timeline has them). Words missing from the dictionary get a
    pronunciation converted from espeak's.

``"auto"`` picks ``"dtw"`` (for every language): on recordings with known phoneme timings it
starts phonemes closer to the truth than pocketsphinx on average (median error 15 ms against 25),
and pocketsphinx stays available for English, where it wins on voices very unlike Piper's
(``benchmarks/bench_alignment.py``; table in ``benchmarks/README.md``, "Speech alignment").

The result's audio is the recording itself, mono float32 at its own sample rate (files that
``soundfile`` cannot read are decoded by ffmpeg at 22.05 kHz); it is not normalized.

A transcript that does not match the recording is refused with :class:`AlignmentError`, judged
from the DTW cost (``info["alignment_cost"]``, see :data:`MAX_COST`) and from the speech-length
ratio between the recording and the rendering.
"""

from __future__ import annotations

import logging
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AlignmentError, InputError, MediaError, ScriptError
from .phonemize import DEFAULT_LANGUAGE, WordPhonemes, phonemize_words, piper_phonemes, sentences_of
from .types import SILENCE, PhonemeInterval, Speech, WordInterval

_LOG = logging.getLogger(__name__)

METHODS = ("auto", "dtw", "pocketsphinx")
#: Feature rate for alignment.
FEATURE_SR = 16000
HOP = 160  # 10 ms
#: Longest feature sequence for one DTW; longer recordings use a coarser hop (20 ms for 30-60 s of
#: speech...) so the cost matrices stay under ~100 MB.
MAX_FRAMES = 3000
N_FFT = 400  # 25 ms
#: Silences at least this long (seconds) are cut out before DTW and restored as SILENCE.
MIN_GAP = 0.25
#: Silence kept on each side of a cut (seconds), so that short pauses still match.
GAP_MARGIN = 0.05
#: Level (dB below the recording's peak) under which a frame counts as silence.
SILENCE_DB = 35.0
#: Alignment cost above which the transcript is taken not to match the recording. The cost is
#: the DTW path's mean rank cost (:func:`dtw_map`) divided by the same for the time-reversed
#: rendering (same voice, same sounds, wrong order), which cancels much of the voice/channel
#: difference. Matching and mismatching transcripts overlap in 0.55-0.65 (measured on a real
#: radio clip and 20 synthetic recordings: ``benchmarks/README.md``, "Speech alignment"); the
#: threshold refuses clear mismatches and accepts the rest.
MAX_COST = 0.63
#: Recording speech length / rendering speech length must lie in this range.
LENGTH_RATIO = (0.33, 3.0)


# ---- audio input ---------------------------------------------------------------------------------
def load_audio(audio: str | Path | tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    """Load a recording as mono float32 ``(n,)`` and its sample rate (Hz).

    ``audio`` is a file path (anything soundfile reads keeps its own rate; other formats, e.g.
    mp3/m4a/mp4, are decoded with ffmpeg at 22050 Hz) or an ``(array, sample_rate)`` pair where
    the array is ``(n,)`` or ``(n, channels)`` (channels are averaged; int16 is scaled to [-1, 1]).

    Raises:
        MediaError: missing, unreadable, empty or silent recording.
    """
    if isinstance(audio, tuple):
        if len(audio) != 2:
            raise InputError("audio must be a path or an (array, sample_rate) pair")
        y, sr = np.asarray(audio[0]), int(audio[1])
        name = "the recording"
    else:
        p = Path(audio)
        name = str(p)
        if not p.exists():
            raise MediaError(f"recording {p} does not exist")
        if p.is_dir():
            raise MediaError(f"recording path {p} is a folder, not an audio file")
        y, sr = _read_file(p)
    if sr <= 0:
        raise MediaError(f"{name}: invalid sample rate {sr}")
    if np.issubdtype(y.dtype, np.integer):
        y = y.astype(np.float32) / float(np.iinfo(y.dtype).max)
    y = y.astype(np.float32)
    if y.ndim == 2:
        y = y.mean(axis=1) if y.shape[1] <= 8 else y.mean(axis=0)
    if y.ndim != 1:
        raise MediaError(f"{name}: expected mono or multichannel audio, got shape {y.shape}")
    if y.size < int(0.1 * sr):
        raise MediaError(f"{name} is empty or shorter than 0.1 s")
    if not np.all(np.isfinite(y)):
        raise MediaError(f"{name} contains NaN or infinite samples")
    if float(np.max(np.abs(y))) < 1e-3:
        raise MediaError(f"{name} is silent (peak below -60 dBFS)")
    return np.clip(y, -1.0, 1.0), sr


def _read_file(p: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        y, sr = sf.read(str(p), dtype="float32", always_2d=False)
        return y, int(sr)
    except Exception:  # noqa: BLE001 - fall back to ffmpeg for formats libsndfile lacks
        pass
    import imageio_ffmpeg

    sr = 22050
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(p), "-vn", "-ac", "1",
           "-ar", str(sr), "-f", "f32le", "-"]
    try:
        res = subprocess.run(cmd, capture_output=True, check=False, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MediaError(f"cannot decode recording {p}: {exc}") from None
    if res.returncode != 0 or not res.stdout:
        msg = res.stderr.decode(errors="replace").strip().splitlines()
        raise MediaError(f"cannot decode recording {p}: {msg[-1] if msg else 'no audio stream'}")
    return np.frombuffer(res.stdout, dtype=np.float32).copy(), sr


# ---- features ------------------------------------------------------------------------------------
def _features(y: np.ndarray, sr: int, hop: int = HOP) -> np.ndarray:
    """MFCC 1-12 + deltas, per-coefficient standardized: ``(n_frames, 24)`` float64, one frame
    per ``hop`` samples at 16 kHz (10 ms by default)."""
    import librosa

    if sr != FEATURE_SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=FEATURE_SR)
    m = librosa.feature.mfcc(y=y, sr=FEATURE_SR, n_mfcc=13, n_fft=max(N_FFT, 2 * hop if hop > HOP else 0),
                             hop_length=hop, n_mels=40, fmin=60, fmax=7600)[1:]
    delta = librosa.feature.delta(m, width=5) if m.shape[1] >= 5 else np.zeros_like(m)
    f = np.vstack([m, delta]).T.astype(np.float64)
    f -= f.mean(axis=0)
    f /= f.std(axis=0) + 1e-8
    return f


def _speech_regions(y: np.ndarray, sr: int) -> np.ndarray:
    """Non-silent regions ``(k, 2)`` in seconds, gaps shorter than :data:`MIN_GAP` closed."""
    import librosa

    iv = librosa.effects.split(y, top_db=SILENCE_DB, frame_length=int(0.025 * sr) or 1,
                               hop_length=int(0.010 * sr) or 1) / float(sr)
    if len(iv) == 0:
        return np.array([[0.0, len(y) / sr]])
    merged = [list(iv[0])]
    for a, b in iv[1:]:
        if a - merged[-1][1] < MIN_GAP:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return np.array(merged)


@dataclass
class _Cut:
    """The recording with long silences removed: kept pieces ``(orig_start, orig_end)`` seconds."""

    pieces: list[tuple[float, float]]
    gaps: list[tuple[float, float]]  # silent stretches [start, end) in original seconds

    def condensed_to_original(self, t: np.ndarray) -> np.ndarray:
        lens = np.array([b - a for a, b in self.pieces])
        starts_c = np.concatenate([[0.0], np.cumsum(lens)[:-1]])
        t = np.asarray(t, dtype=np.float64)
        k = np.clip(np.searchsorted(starts_c, t, side="right") - 1, 0, len(self.pieces) - 1)
        return np.array([p[0] for p in self.pieces])[k] + (t - starts_c[k])


def _cut_silences(y: np.ndarray, sr: int) -> tuple[np.ndarray, _Cut]:
    """Remove leading/trailing silence and pauses >= :data:`MIN_GAP`, keeping
    :data:`GAP_MARGIN` seconds of each on either side of the speech."""
    total = len(y) / sr
    speech = _speech_regions(y, sr)
    pieces = [(max(0.0, float(s) - GAP_MARGIN), min(total, float(e) + GAP_MARGIN)) for s, e in speech]
    bounds = [0.0] + [float(v) for v in speech.reshape(-1)] + [total]
    gaps = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2) if bounds[i + 1] > bounds[i]]
    cond = np.concatenate([y[int(round(a * sr)) : int(round(b * sr))] for a, b in pieces])
    return cond, _Cut(pieces, gaps)


#: Longest stretch of speech-loud sound (seconds) an alignment may place inside a silence of its
#: timeline. A breath, a click or a short "um" fit; a sentence the transcript lacks does not (the
#: alignment then puts the words around it and calls it silence).
MAX_UNALIGNED_SOUND = 1.0
#: Sound within this many dB of the aligned speech's loud level (the 90th percentile of its frames'
#: levels: the vowels) counts as speech; background music or room noise under a pause, mixed 20 dB
#: or more below the voice, does not.
SPEECH_LEVEL_DB = 15.0


def unaligned_speech(phonemes: list[PhonemeInterval], y: np.ndarray, sr: int,
                     limit: float = MAX_UNALIGNED_SOUND) -> tuple[float, float] | None:
    """The first silence of the timeline that holds more than ``limit`` seconds of sound as loud
    as speech.

    Args:
        phonemes: the aligned timeline (tiling the recording).
        y, sr: the recording, mono.
        limit: seconds (:data:`MAX_UNALIGNED_SOUND`).

    Returns:
        ``(start, end)`` seconds from the first to the last loud frame in that silence, or ``None``.
        "As loud as speech": a 25 ms frame's RMS level within :data:`SPEECH_LEVEL_DB` of the 90th
        percentile of the levels of the frames the timeline calls speech.
    """
    import librosa

    hop = max(int(0.010 * sr), 1)
    rms = librosa.feature.rms(y=np.asarray(y, np.float32), frame_length=max(int(0.025 * sr), 2), hop_length=hop)[0]
    db = 20 * np.log10(np.maximum(rms, 1e-6))
    t = np.arange(len(db)) * hop / sr
    silent = np.zeros(len(db), bool)
    for p in phonemes:
        if p.symbol == SILENCE:
            silent[(t >= p.start) & (t < p.end)] = True
    if silent.all() or not silent.any():
        return None
    level = np.percentile(db[~silent], 90) - SPEECH_LEVEL_DB
    for p in phonemes:
        if p.symbol != SILENCE or p.end - p.start <= limit:
            continue
        inside = (t >= p.start) & (t < p.end)
        loud = inside & (db > level)
        if loud.sum() * hop / sr > limit:  # speech has short gaps: the loud time, not one run
            k = np.flatnonzero(loud)
            return float(t[k[0]]), float(t[k[-1]] + hop / sr)
    return None


# ---- reference rendering -------------------------------------------------------------------------
def _reference(words: list[WordPhonemes], speaker) -> Speech:
    """Render the transcript's phonemes with Piper; timeline + word timings of the rendering."""
    from .piper import _TimelineBuilder

    builder = _TimelineBuilder(speaker.sample_rate)
    builder.expect_words([w.text for w in words], [(len(w.ipa.split()), len(w.phones)) for w in words])
    for k, sent in enumerate(sentences_of(words)):
        if k:
            builder.add_silence(speaker.sentence_pause)
        builder.add_sentence(speaker.synthesize_sentence(piper_phonemes(sent)))
    builder.end_words()
    if not builder.has_speech:
        raise ScriptError("the transcript has nothing the voice can pronounce")
    return builder.build(text=" ".join(w.text for w in words), backend="piper", info={})


#: Seed of the bundled voice's sampling noise in the reference rendering: the same recording and
#: transcript always give the same alignment (and the same cost against :data:`MAX_COST`).
REFERENCE_SEED = 0


def _default_speaker():
    """The bundled voice for the reference rendering, loaded afresh with :data:`REFERENCE_SEED`
    (~0.8 s on 2 cores): ONNX Runtime's noise generator cannot be reset once a session runs, so a
    voice kept between alignments (or an unseeded one, which draws a fresh seed) would render
    another take each time, and the alignment and its cost would vary from run to run."""
    from .piper import PiperSpeaker

    return PiperSpeaker(seed=REFERENCE_SEED)


# ---- DTW -----------------------------------------------------------------------------------------
def dtw_map(ref: np.ndarray, rec: np.ndarray, hop: int = HOP) -> tuple[np.ndarray, np.ndarray, float]:
    """Align two feature sequences ``(n, d)`` and ``(m, d)``.

    Returns ``(ref_t, rec_t, cost)``: strictly increasing reference frame times (s) and the
    matching recording times (s, mean over the frames warped onto each reference frame), and the
    rank cost: for each path cell, the fraction of reference frames closer to that recording
    frame than the matched one, averaged over the path (0 = every frame matched its nearest
    reference frame; ~0.5 = chance). Ranks, unlike raw distances, barely depend on the voice.
    """
    import librosa
    from scipy.spatial.distance import cdist

    C = cdist(ref, rec, metric="euclidean").astype(np.float32)
    _D, wp = librosa.sequence.dtw(C=C, backtrack=True)
    del _D
    wp = wp[::-1]
    # percentile rank of each path cell among all reference frames for that recording frame
    ranks = np.concatenate([
        (C[:, wp[k : k + 512, 1]] < C[wp[k : k + 512, 0], wp[k : k + 512, 1]][None, :]).mean(axis=0)
        for k in range(0, len(wp), 512)
    ])
    cost = float(ranks.mean())
    n = ref.shape[0]
    sums = np.bincount(wp[:, 0], weights=wp[:, 1], minlength=n)
    cnt = np.bincount(wp[:, 0], minlength=n)
    rec_idx = sums / np.maximum(cnt, 1)
    hop_s = hop / FEATURE_SR
    return np.arange(n) * hop_s, rec_idx * hop_s, cost


def _overlay_gaps(ivs: list[tuple[str, float, float]], gaps: list[tuple[float, float]], total: float
                  ) -> list[PhonemeInterval]:
    """Make each gap SILENCE (cutting the intervals it overlaps), merge silences, retile.

    A phoneme the gap cuts in two keeps only its longer side: the same sound on both sides of a
    pause would close the lips twice for one "b"."""
    for g0, g1 in gaps:
        out: list[tuple[str, float, float]] = []
        for s, a, b in ivs:
            if b <= g0 or a >= g1:
                out.append((s, a, b))
                continue
            before, after = max(g0 - a, 0.0), max(b - g1, 0.0)
            if before > 0 and (after == 0 or before >= after or s == SILENCE):
                out.append((s, a, g0))
            if after > 0 and (before == 0 or after > before or s == SILENCE):
                out.append((s, g1, b))
        out.append((SILENCE, g0, g1))
        ivs = sorted(out, key=lambda x: (x[1], x[2]))
    merged: list[list] = []
    for s, a, b in ivs:
        if b - a < 1e-4:
            continue
        if merged and s == SILENCE and merged[-1][0] == SILENCE:
            merged[-1][2] = max(merged[-1][2], b)
        else:
            merged.append([s, a, b])
    res: list[PhonemeInterval] = []
    t = 0.0
    for i, (s, _a, b) in enumerate(merged):
        end = total if i == len(merged) - 1 else b
        if end > t:
            res.append(PhonemeInterval(s, t, float(end)))
            t = end
    if not res:
        res = [PhonemeInterval(SILENCE, 0.0, total)]
    return res


def _align_dtw(y, sr, words, speaker) -> tuple[list[PhonemeInterval], list[WordInterval], dict]:
    ref = _reference(words, speaker)
    cond, cut = _cut_silences(y, sr)
    ref_cond, ref_cut = _cut_silences(ref.audio, ref.sample_rate)
    ratio = (len(cond) / sr) / max(len(ref_cond) / ref.sample_rate, 1e-3)
    if not (LENGTH_RATIO[0] <= ratio <= LENGTH_RATIO[1]):
        raise AlignmentError(
            f"the transcript does not match the recording: {len(cond) / sr:.1f} s of speech for a "
            f"transcript that takes about {len(ref_cond) / ref.sample_rate:.1f} s to say"
        )
    longest = max(len(cond) / sr, len(ref_cond) / ref.sample_rate) * FEATURE_SR / HOP
    hop = HOP * int(np.ceil(longest / MAX_FRAMES))
    f_ref, f_rec = _features(ref_cond, ref.sample_rate, hop), _features(cond, sr, hop)
    ref_t, rec_t, cost = dtw_map(f_ref, f_rec, hop)
    null_cost = dtw_map(f_ref[::-1], f_rec, hop)[2]
    total = len(y) / sr

    def mapt(t_ref_orig: np.ndarray) -> np.ndarray:
        # original reference time -> condensed reference time -> condensed rec -> original rec
        tc = _original_to_condensed(ref_cut, np.asarray(t_ref_orig, dtype=np.float64))
        return np.clip(cut.condensed_to_original(np.interp(tc, ref_t, rec_t)), 0.0, total)

    edges = np.array([p.start for p in ref.phonemes] + [ref.phonemes[-1].end])
    e = mapt(edges)
    e[0], e[-1] = 0.0, total
    e = np.maximum.accumulate(e)
    ivs = [(p.symbol, float(a), float(b)) for p, a, b in zip(ref.phonemes, e[:-1], e[1:])]
    phonemes = _overlay_gaps(ivs, cut.gaps, total)
    w_edges = mapt(np.array([[w.start, w.end] for w in ref.words]).reshape(-1)) if ref.words else []
    wlist = _words_from_edges(ref.words, np.asarray(w_edges).reshape(-1, 2), cut.gaps)
    info = {"alignment_cost": round(cost / max(null_cost, 1e-6), 4), "dtw_cost": round(cost, 4),
            "null_cost": round(null_cost, 4), "length_ratio": round(ratio, 3),
            "hop_ms": hop * 1000 // FEATURE_SR}
    return phonemes, wlist, info


def _original_to_condensed(cut: _Cut, t: np.ndarray) -> np.ndarray:
    """Inverse of :meth:`_Cut.condensed_to_original` (times inside a cut go to its edge)."""
    out = np.zeros_like(t)
    acc = 0.0
    for a, b in cut.pieces:
        inside = t >= a
        out = np.where(inside, acc + np.clip(t - a, 0.0, b - a), out)
        acc += b - a
    return out


def _words_from_edges(words: list[WordInterval], edges: np.ndarray, gaps) -> list[WordInterval]:
    out: list[WordInterval] = []
    for w, (a, b) in zip(words, edges):
        for g0, g1 in gaps:  # a word does not start or end inside a silence
            if g0 < a < g1:
                a = g1
            if g0 < b < g1:
                b = g0
        if out:
            a = max(a, out[-1].end)
        if b <= a:
            b = a + 1e-3
        out.append(WordInterval(w.text, float(a), float(b)))
    return out


# ---- pocketsphinx --------------------------------------------------------------------------------
#: CMU ARPAbet (pocketsphinx en-us) -> espeak IPA symbols of the Piper timeline; a diphthong or an
#: affricate becomes two symbols sharing the segment (Piper's timeline has them as two).
ARPABET_TO_IPA: dict[str, tuple[str, ...]] = {
    "AA": ("ɑː",), "AE": ("æ",), "AH": ("ə",), "AO": ("ɔː",), "AW": ("a", "ʊ"), "AY": ("a", "ɪ"),
    "B": ("b",), "CH": ("t", "ʃ"), "D": ("d",), "DH": ("ð",), "EH": ("ɛ",), "ER": ("ɚ",),
    "EY": ("e", "ɪ"), "F": ("f",), "G": ("ɡ",), "HH": ("h",), "IH": ("ɪ",), "IY": ("iː",),
    "JH": ("d", "ʒ"), "K": ("k",), "L": ("l",), "M": ("m",), "N": ("n",), "NG": ("ŋ",),
    "OW": ("o", "ʊ"), "OY": ("ɔ", "ɪ"), "P": ("p",), "R": ("ɹ",), "S": ("s",), "SH": ("ʃ",),
    "T": ("t",), "TH": ("θ",), "UH": ("ʊ",), "UW": ("uː",), "V": ("v",), "W": ("w",),
    "Y": ("j",), "Z": ("z",), "ZH": ("ʒ",), "SIL": (SILENCE,),
}
#: espeak IPA (en-us) -> ARPAbet, for words missing from pocketsphinx's dictionary.
_IPA_TO_ARPABET: dict[str, str] = {
    "ɑː": "AA", "ɑ": "AA", "ɑːɹ": "AA R", "æ": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH", "ɔː": "AO",
    "ɔ": "AO", "aʊ": "AW", "aɪ": "AY", "b": "B", "tʃ": "CH", "d": "D", "ð": "DH", "ɛ": "EH",
    "ɜː": "ER", "ɚ": "ER", "eɪ": "EY", "f": "F", "ɡ": "G", "h": "HH", "ɪ": "IH", "ᵻ": "IH",
    "i": "IY", "iː": "IY", "dʒ": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "ŋ": "NG",
    "oʊ": "OW", "ɔɪ": "OY", "p": "P", "ɹ": "R", "s": "S", "ʃ": "SH", "t": "T", "ɾ": "T", "θ": "TH",
    "ʊ": "UH", "uː": "UW", "u": "UW", "v": "V", "w": "W", "j": "Y", "z": "Z", "ʒ": "ZH",
    "ʔ": "T", "o": "OW", "e": "EH", "a": "AE", "x": "K", "r": "R", "ɬ": "L",
}


def ipa_to_arpabet(phones: list[str]) -> list[str]:
    """espeak phones (``split_phones``) -> ARPAbet, joining diphthongs/affricates; unknown dropped."""
    out: list[str] = []
    i = 0
    while i < len(phones):
        pair = phones[i] + phones[i + 1] if i + 1 < len(phones) else None
        if pair and pair in _IPA_TO_ARPABET and pair not in ("ɑːɹ",):
            out += _IPA_TO_ARPABET[pair].split()
            i += 2
            continue
        base = phones[i].rstrip("̃ʰʲʷ")
        arp = _IPA_TO_ARPABET.get(base) or _IPA_TO_ARPABET.get(base.rstrip("ː"))
        if arp:
            out += arp.split()
        i += 1
    return out


def _align_pocketsphinx(y, sr, words: list[WordPhonemes]):
    """Forced alignment with pocketsphinx on the recording with long silences cut out (a long
    pause makes its aligner fail), times mapped back and the silences restored."""
    import librosa
    from pocketsphinx import Decoder

    cond, cut = _cut_silences(y, sr)
    y16 = librosa.resample(cond, orig_sr=sr, target_sr=16000) if sr != 16000 else cond
    pcm = (np.clip(y16, -1, 1) * 32767).astype(np.int16).tobytes()
    # no pruning (beams 0): the alignment graph is small, and pruning loses unusual voices
    dec = Decoder(samprate=16000, loglevel="FATAL", bestpath=False, beam=0.0, wbeam=0.0, pbeam=0.0)
    tokens = []
    for k, w in enumerate(words):
        tok = "".join(c for c in w.text.lower() if c.isalnum() or c == "'").strip("'")
        if not tok or dec.lookup_word(tok) is None:
            tok = f"w{k}oov"
            arp = ipa_to_arpabet(w.phones)
            if not arp:
                continue
            dec.add_word(tok, " ".join(arp), True)
        tokens.append((tok, w.text))
    if not tokens:
        raise ScriptError("no transcript word can be pronounced by pocketsphinx")
    try:
        dec.set_align_text(" ".join(t for t, _ in tokens))
        for second in (False, True):
            if second:
                dec.set_alignment()
            dec.start_utt()
            dec.process_raw(pcm, full_utt=True)
            dec.end_utt()
        al = dec.get_alignment()
    except RuntimeError as exc:
        raise AlignmentError(f"pocketsphinx could not align the transcript ({exc}); "
                             "check the transcript or use method='dtw'") from None
    if al is None:
        raise AlignmentError("pocketsphinx could not align the transcript to the recording")
    fr = 0.01
    total = len(y) / sr

    def orig(t: float) -> float:
        return float(cut.condensed_to_original(np.array([t]))[0])

    ivs: list[tuple[str, float, float]] = []
    wl: list[WordInterval] = []
    wi = 0
    for seg in al:
        name = seg.name.split("(")[0]
        ws, we = seg.start * fr, (seg.start + seg.duration) * fr
        if name.startswith(("<", "[", "+")):
            ivs.append((SILENCE, ws, we))
            continue
        while wi < len(tokens) and tokens[wi][0] != name:
            wi += 1
        if wi < len(tokens):
            wl.append(WordInterval(tokens[wi][1], ws, we))
            wi += 1
        for ph in seg:
            syms = ARPABET_TO_IPA.get(ph.name, (SILENCE,))
            a, b = ph.start * fr, (ph.start + ph.duration) * fr
            step = (b - a) / len(syms)
            ivs += [(s, a + j * step, a + (j + 1) * step) for j, s in enumerate(syms)]
    # condensed -> original time; an interval spanning a cut is split by the gap overlay
    ivs = [(s, min(orig(a), total), min(orig(b - 1e-6) + 1e-6, total)) for s, a, b in ivs]
    out, t = [], 0.0
    for s, a, b in ivs:  # close the small holes left where intervals met at a cut
        out.append((s, t, max(b, t)))
        t = max(b, t)
    if t < total:
        out.append((SILENCE, t, total))
    wl = [WordInterval(w.text, orig(w.start), min(orig(w.end - 1e-6) + 1e-6, total)) for w in wl]
    return _overlay_gaps(out, cut.gaps, total), _words_from_edges(
        wl, np.array([[w.start, w.end] for w in wl]).reshape(-1, 2), cut.gaps), {}


# ---- entry point ---------------------------------------------------------------------------------
def align_recording(
    audio: str | Path | tuple[np.ndarray, int],
    transcript: str,
    *,
    method: str = "auto",
    language: str = DEFAULT_LANGUAGE,
    speaker=None,
) -> Speech:
    """Align a recording to its transcript.

    Args:
        audio: path of an audio (or video) file, or ``(samples, sample_rate)``.
        transcript: the words spoken in the recording.
        method: ``"auto"``, ``"dtw"`` or ``"pocketsphinx"`` (English only).
        language: espeak language of the transcript (``"en-us"``, ``"de"``, ``"fr-fr"``...).
        speaker: the Piper voice (:class:`~talkinghead.speech.piper.PiperSpeaker`) used to render
            the reference for ``"dtw"``; default the bundled voice.

    Returns:
        :class:`Speech` with ``backend="recorded"``, the recording as audio (mono float32 at its
        own sample rate), a phoneme timeline tiling it, word timings, and ``info`` with
        ``method``, ``alignment_cost`` (see :data:`MAX_COST`; lower is better, matching speech
        measured 0.40-0.54), ``dtw_cost``, ``null_cost``, ``length_ratio``, ``seconds``.

    Raises:
        ScriptError: empty transcript. MediaError: missing/unreadable/empty/silent recording.
        VoiceError: unknown language. InputError: unknown method or pocketsphinx for non-English.
        AlignmentError: the transcript clearly does not match the recording.
    """
    if method not in METHODS:
        raise InputError(f"unknown alignment method {method!r}: use one of {', '.join(METHODS)}")
    if transcript is None or not transcript.strip():
        raise ScriptError("the transcript is empty")
    english = language.lower().startswith("en")
    if method == "pocketsphinx" and not english:
        raise InputError(f"pocketsphinx alignment is English only; use method='dtw' for {language!r}")
    if method == "auto":
        method = "dtw"
    y, sr = load_audio(audio)
    words = phonemize_words(transcript, language)
    t0 = time.perf_counter()
    if method == "dtw":
        phonemes, wl, info = _align_dtw(y, sr, words, speaker or _default_speaker())
    else:
        phonemes, wl, info = _align_pocketsphinx(y, sr, words)
        # the mismatch check uses the DTW cost against the rendering
        _p, _w, dinfo = _align_dtw(y, sr, words, speaker or _default_speaker())
        info["alignment_cost"] = dinfo["alignment_cost"]
    info = {"method": method, "language": language, **info,
            "seconds": round(time.perf_counter() - t0, 3)}
    if info["alignment_cost"] > MAX_COST:
        raise AlignmentError(
            f"the transcript does not match the recording (alignment cost "
            f"{info['alignment_cost']:.2f} > {MAX_COST}); check the transcript"
        )
    unspoken = unaligned_speech(phonemes, y, sr)
    if unspoken is not None:
        a, b = unspoken
        raise AlignmentError(
            f"the recording has speech at {a:.2f}-{b:.2f} s that the transcript does not cover (the "
            "face would keep its mouth shut through it); check that the transcript has every word")
    speech = Speech(audio=y, sample_rate=sr, phonemes=phonemes, words=wl,
                    text=" ".join(transcript.split()), backend="recorded", info=info)
    speech.check_tiling(tol=1e-6)
    return speech
