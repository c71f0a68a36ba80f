"""Benchmark: recorded-speech alignment (DTW vs pocketsphinx) and Piper synthesis speed.

Recordings with known phoneme timings are made synthetically:

- ``piper xF``: the bundled Piper voice (joe), resampled so it is F times longer (and lower/higher
  pitched: another "voice"), with 0.4 s of silence added at the start and a 0.5 s pause inserted
  before a word a third of the way in. Truth: Piper's own durations, scaled and shifted.
- ``espeak N wpm``: espeak-ng's own synthesizer (a formant voice, very unlike Piper) driven
  through the ``espeakng-loader`` library; truth: its phoneme events (sample positions). Same
  silences inserted.

Error: for every speech phoneme of the truth matched (in order, by symbol) in the aligned
timeline, ``|start_aligned - start_true|``; median and 90th percentile over all phonemes of all
sentences. Time: the aligner only (features + DTW incl. the mismatch check's second DTW, or the
two pocketsphinx passes), not loading. Also: the alignment cost of matching vs mismatching
transcripts, and Piper's real-time factor.

Run: ``.venv/bin/python benchmarks/bench_alignment.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import ctypes
import difflib
import os
import platform
import time

import numpy as np

SENTENCES = [
    "Bob bought a map of Maple Park, and Pam made a pie.",
    "The weather in Paris is lovely in the spring, said the old man to his daughter.",
    "Five wise men found seven very fine violins on the shelf.",
    "I would like to order a large pizza with mushrooms and olives, please.",
]


# ---- espeak-ng synthesis with phoneme events --------------------------------------------------
class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_ESPEAK = {}


def espeak_synth(text: str, wpm: int = 160, voice: str = "en-us"):
    """Synthesize with espeak-ng: ``(audio float32, sr, phoneme_events, word_starts)``;
    phoneme events are ``(ipa, start_seconds)``, word starts in seconds."""
    import espeakng_loader

    if "lib" not in _ESPEAK:
        lib = ctypes.CDLL(str(espeakng_loader.get_library_path()))
        # AUDIO_OUTPUT_SYNCHRONOUS, phoneme events in IPA
        _ESPEAK["sr"] = lib.espeak_Initialize(2, 0, str(espeakng_loader.get_data_path()).encode(), 0x3)
        _ESPEAK["lib"] = lib
    lib, sr = _ESPEAK["lib"], _ESPEAK["sr"]
    chunks, phones, words = [], [], []
    proto = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))

    def callback(wav, n, ev):
        if n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while ev[i].type != 0:
            if ev[i].type == 7:
                phones.append((ev[i].id.decode("utf-8", "replace"), ev[i].sample / sr))
            elif ev[i].type == 1:
                words.append(ev[i].sample / sr)
            i += 1
        return 0

    cb = proto(callback)
    lib.espeak_SetSynthCallback(cb)
    lib.espeak_SetVoiceByName(voice.encode())
    lib.espeak_SetParameter(1, wpm, 0)
    data = text.encode()
    lib.espeak_Synth(ctypes.c_char_p(data), len(data) + 1, 0, 1, 0, 1, None, None)
    lib.espeak_Synchronize()
    return np.concatenate(chunks).astype(np.float32) / 32768.0, sr, phones, words


# ---- test recordings ----------------------------------------------------------------------------
def _insert_pauses(y, sr, starts, cut_t, lead=0.4, gap=0.5):
    """Add ``lead`` s of silence at the start and ``gap`` s at ``cut_t``; shift truth starts."""
    i = int(round(cut_t * sr))
    cut_t = i / sr
    y = np.concatenate([np.zeros(int(lead * sr), np.float32), y[:i], np.zeros(int(gap * sr), np.float32), y[i:]])
    return y, [(s, t + lead + (gap if t >= cut_t - 1e-9 else 0.0)) for s, t in starts]


def piper_case(speaker, text, factor):
    from fractions import Fraction

    from scipy.signal import resample_poly

    from talkinghead.speech.types import SILENCE

    sp = speaker.speak(text)
    f = Fraction(factor).limit_denominator(100)
    y = resample_poly(sp.audio, f.numerator, f.denominator).astype(np.float32)
    k = len(y) / len(sp.audio)
    starts = [(p.symbol, p.start * k) for p in sp.phonemes if p.symbol != SILENCE]
    cut = (sp.words[len(sp.words) // 3].start if sp.words else sp.phonemes[len(sp.phonemes) // 3].start) * k
    y, starts = _insert_pauses(y, sp.sample_rate, starts, cut)
    return y, sp.sample_rate, starts


def espeak_case(text, wpm):
    from talkinghead.speech.phonemize import split_phones

    y, sr, phones, words = espeak_synth(text, wpm)
    starts = [(split_phones(n)[0], t) for n, t in phones if split_phones(n)]
    y, starts = _insert_pauses(y, sr, starts, words[len(words) // 3])
    return y, sr, starts


def start_errors(timeline, starts) -> np.ndarray:
    from talkinghead.speech.types import SILENCE

    b = [(p.symbol, p.start) for p in timeline if p.symbol != SILENCE]
    sm = difflib.SequenceMatcher(a=[s for s, _ in starts], b=[s for s, _ in b], autojunk=False)
    out = []
    for blk in sm.get_matching_blocks():
        out += [abs(starts[blk.a + i][1] - b[blk.b + i][1]) for i in range(blk.size)]
    return np.array(out)


def main() -> None:
    import torch

    from talkinghead.speech import recorded as R
    from talkinghead.speech.phonemize import phonemize_words
    from talkinghead.speech.piper import PiperSpeaker

    torch.set_num_threads(2)
    speaker = PiperSpeaker(seed=0)  # the test recordings: the same takes on every run
    # warm up (numba JIT of librosa's DTW, pocketsphinx model load)
    wy, wsr, _ = piper_case(speaker, "Warm up.", 1.0)
    R.align_recording((wy, wsr), "Warm up.", method="pocketsphinx")

    conditions = [("piper x1.0 (resampled)", lambda t: piper_case(speaker, t, 1.0)),
                  ("piper x0.8 (faster, higher)", lambda t: piper_case(speaker, t, 0.8)),
                  ("piper x1.25 (slower, lower)", lambda t: piper_case(speaker, t, 1.25)),
                  ("espeak-ng 140 wpm", lambda t: espeak_case(t, 140)),
                  ("espeak-ng 200 wpm", lambda t: espeak_case(t, 200))]
    rows = []
    costs_match, costs_mismatch = [], []
    for name, make in conditions:
        errs = {"dtw": [], "pocketsphinx": []}
        secs = {"dtw": 0.0, "pocketsphinx": 0.0}
        audio_s = 0.0
        for k, text in enumerate(SENTENCES):
            y, sr, starts = make(text)
            audio_s += len(y) / sr
            words = phonemize_words(text)
            t0 = time.perf_counter()
            ph, _w, info = R._align_dtw(y, sr, words, speaker)
            secs["dtw"] += time.perf_counter() - t0
            errs["dtw"].append(start_errors(ph, starts))
            costs_match.append((name, k, info["alignment_cost"]))
            t0 = time.perf_counter()
            ph, _w, _ = R._align_pocketsphinx(y, sr, words)
            secs["pocketsphinx"] += time.perf_counter() - t0
            errs["pocketsphinx"].append(start_errors(ph, starts))
            other = SENTENCES[(k + 1) % len(SENTENCES)]
            try:
                cost = R._align_dtw(y, sr, phonemize_words(other), speaker)[2]["alignment_cost"]
            except Exception:  # noqa: BLE001 - refused by the length check
                cost = float("inf")
            costs_mismatch.append((name, k, cost))
        for m in ("dtw", "pocketsphinx"):
            e = np.concatenate(errs[m]) * 1000
            rows.append((name, m, len(e), np.median(e), np.percentile(e, 90), secs[m], audio_s))

    print(f"## Recorded-speech alignment ({platform.machine()}, {os.cpu_count()} cores, torch threads 2)\n")
    print("| recording | method | phonemes | median error (ms) | p90 error (ms) | align time (s) | audio (s) | x real time |")
    print("|---|---|---|---|---|---|---|---|")
    for name, m, n, med, p90, s, a in rows:
        print(f"| {name} | {m} | {n} | {med:.1f} | {p90:.1f} | {s:.2f} | {a:.1f} | {s / a:.3f} |")
    for m in ("dtw", "pocketsphinx"):
        sel = [r for r in rows if r[1] == m]
        print(f"| **all** | **{m}** | {sum(r[2] for r in sel)} | {np.mean([r[3] for r in sel]):.1f} (mean of medians) "
              f"| {np.mean([r[4] for r in sel]):.1f} | {sum(r[5] for r in sel):.2f} | {sum(r[6] for r in sel):.1f} | |")
    cm = np.array([c for *_, c in costs_match])
    cx = np.array([c for *_, c in costs_mismatch])
    print(f"\nAlignment cost (refused above {R.MAX_COST}): matching transcripts {cm.min():.3f}-{cm.max():.3f} "
          f"(median {np.median(cm):.3f}, {int((cm > R.MAX_COST).sum())}/{len(cm)} wrongly refused); "
          f"mismatching (next sentence's transcript) {cx.min():.3f}-{cx.max():.3f} (median "
          f"{np.median(cx):.3f}, {int((cx <= R.MAX_COST).sum())}/{len(cx)} wrongly accepted; inf = refused by "
          "the length check)\n")
    print("<!-- matching: " + ", ".join(f"{n}#{k}={c:.3f}" for n, k, c in costs_match) + " -->")
    print("<!-- mismatching: " + ", ".join(f"{n}#{k}={c:.3f}" for n, k, c in costs_mismatch) + " -->\n")

    # ---- Piper real-time factor
    text = " ".join(SENTENCES)
    speaker.speak("Warm up.")
    t0 = time.perf_counter()
    sp = speaker.speak(text)
    dt = time.perf_counter() - t0
    print("## Piper synthesis (bundled joe voice)\n")
    print("| text | audio (s) | synthesis (s) | real-time factor |")
    print("|---|---|---|---|")
    print(f"| {len(text.split())} words | {sp.duration:.2f} | {dt:.2f} | {dt / sp.duration:.3f} |")


if __name__ == "__main__":
    main()
