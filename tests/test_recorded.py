"""Recorded speech: aligning a recording to its transcript (talkinghead.speech.recorded)."""

from __future__ import annotations

import difflib

import numpy as np
import pytest

from talkinghead.errors import AlignmentError, InputError, MediaError, ScriptError, VoiceError
from talkinghead.speech.phonemize import phonemize_words, split_phones
from talkinghead.speech.recorded import ARPABET_TO_IPA, align_recording, ipa_to_arpabet, load_audio
from talkinghead.speech.types import SILENCE

TEXT = "Bob bought a map of Maple Park, and Pam made a pie. The quick brown fox jumps over the dog."


@pytest.fixture(scope="module")
def speaker():
    from talkinghead.speech.piper import PiperSpeaker

    return PiperSpeaker(seed=0)  # one take: the alignments below are deterministic


def _stretched_with_pauses(speech, stretch: float, lead: float = 0.4, gap: float = 0.5):
    """Slow a Piper rendering down by ``stretch`` (resampling: longer and lower-pitched, so the
    "recording" sounds like another voice), insert ``lead`` s of silence at the start and ``gap``
    s between two words; return ``(audio, sr, true_phonemes)``."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    sr = speech.sample_rate
    f = Fraction(stretch).limit_denominator(100)
    y = resample_poly(speech.audio, f.numerator, f.denominator).astype(np.float32)
    stretch = len(y) / len(speech.audio)
    if speech.words:
        t_gap = speech.words[len(speech.words) // 3].start * stretch
    else:  # no word timings: cut before a phoneme a third of the way in
        t_gap = speech.phonemes[len(speech.phonemes) // 3].start * stretch
    i = int(round(t_gap * sr))
    t_gap = i / sr
    y = np.concatenate([np.zeros(int(lead * sr), np.float32), y[:i],
                        np.zeros(int(gap * sr), np.float32), y[i:]])

    def shift(t: float, is_end: bool) -> float:
        after = t > t_gap + 1e-9 or (not is_end and t >= t_gap - 1e-9)
        return t + lead + (gap if after else 0.0)

    truth = [(p.symbol, shift(p.start * stretch, False), shift(p.end * stretch, True))
             for p in speech.phonemes]
    return y, sr, truth


def _boundary_errors(timeline, truth) -> np.ndarray:
    """|start|/|end| errors (s) of the speech phonemes matched in order between the two."""
    a = [p for p in truth if p[0] != SILENCE]
    b = [(p.symbol, p.start, p.end) for p in timeline if p.symbol != SILENCE]
    sm = difflib.SequenceMatcher(a=[x[0] for x in a], b=[x[0] for x in b], autojunk=False)
    errs = []
    for blk in sm.get_matching_blocks():
        for k in range(blk.size):
            x, y = a[blk.a + k], b[blk.b + k]
            errs += [abs(x[1] - y[1]), abs(x[2] - y[2])]
    assert len(errs) >= 1.6 * len(a), "most phonemes must be matched"
    return np.array(errs)


@pytest.fixture(scope="module")
def rendered(speaker):
    return speaker.speak(TEXT)


@pytest.fixture(scope="module")
def stretched(rendered):
    return _stretched_with_pauses(rendered, 1.25)


def test_dtw_recovers_known_boundaries(stretched):
    y, sr, truth = stretched
    speech = align_recording((y, sr), TEXT, method="dtw")
    err = _boundary_errors(speech.phonemes, truth)
    assert np.median(err) <= 0.040, np.median(err)
    assert np.percentile(err, 90) <= 0.120
    speech.check_tiling()
    assert speech.backend == "recorded" and speech.info["method"] == "dtw"
    assert speech.sample_rate == sr and len(speech.audio) == len(y)
    # the inserted silences are silences of the timeline
    assert speech.phonemes[0].symbol == SILENCE and speech.phonemes[0].end >= 0.35
    sil = [p for p in speech.phonemes if p.symbol == SILENCE and p.duration >= 0.4 and p.start > 0.5]
    assert sil, "the inserted 0.5 s pause must be a silence interval"


def test_auto_is_dtw_and_words_are_ordered(stretched):
    y, sr, truth = stretched
    speech = align_recording((y, sr), TEXT)
    assert speech.info["method"] == "dtw"
    words = speech.words
    assert [w.text for w in words] == TEXT.split()
    for w0, w1 in zip(words, words[1:]):
        assert w0.start < w0.end <= w1.start + 1e-9
    assert words[0].start >= 0.35  # after the 0.4 s lead-in
    assert words[-1].end <= speech.duration
    # word timing agrees with the phoneme truth: first word starts at its first phoneme
    first = next(p for p in truth if p[0] != SILENCE)
    assert abs(words[0].start - first[1]) < 0.06


def test_pocketsphinx_aligns_english(stretched):
    y, sr, truth = stretched
    speech = align_recording((y, sr), TEXT, method="pocketsphinx")
    speech.check_tiling()
    err = _boundary_errors(speech.phonemes, truth)
    assert np.median(err) <= 0.070
    assert len(speech.words) == len(TEXT.split())


def test_mismatched_transcript_is_refused(stretched):
    y, sr, _ = stretched
    with pytest.raises(AlignmentError, match="does not match"):
        align_recording((y, sr), "The weather in Paris is lovely in the spring, said the old man "
                        "to his daughter at the station.", method="dtw")
    with pytest.raises(AlignmentError, match="does not match"):
        align_recording((y, sr), "Hello.", method="dtw")


def test_speech_the_transcript_lacks_is_refused_not_called_silence(stretched, rendered):
    from talkinghead.speech.recorded import unaligned_speech
    from talkinghead.speech.types import PhonemeInterval

    y, sr, _ = stretched
    # the timeline of the first copy, then "silence" over a second copy of the speech: found
    twice = np.concatenate([y, y])
    d = len(y) / sr
    first = align_recording((y, sr), TEXT, method="dtw").phonemes
    timeline = first[:-1] + [PhonemeInterval(SILENCE, first[-1].start, 2 * d)]
    a, b = unaligned_speech(timeline, twice, sr)
    assert d - 0.1 < a < d + 1.0 and b > 2 * d - 1.0
    # the same silence over a tone 20 dB below the voice (background music): not speech
    level = np.sqrt(np.mean(y[np.abs(y) > 0.01] ** 2)) * 10 ** (-20 / 20)
    music = np.sin(2 * np.pi * 220 * np.arange(len(y)) / sr).astype(np.float32) * level * np.sqrt(2)
    assert unaligned_speech(timeline, np.concatenate([y, music]), sr) is None
    # end to end: pocketsphinx fits the words to one copy and calls the other silence; refused
    with pytest.raises(AlignmentError, match=r"speech at .* that the transcript does not cover"):
        align_recording((twice, sr), TEXT, method="pocketsphinx")
    # a real 2 s pause, under that music or not, is not refused
    z = np.concatenate([y, np.zeros(int(2.0 * sr), np.float32), y])
    music = np.sin(2 * np.pi * 220 * np.arange(len(z)) / sr).astype(np.float32) * level * np.sqrt(2)
    for audio in (z, z + music):
        speech = align_recording((audio, sr), TEXT + " " + TEXT, method="dtw")
        assert len(speech.words) == 2 * len(TEXT.split())


def test_matching_cost_is_below_threshold(stretched):
    from talkinghead.speech.recorded import MAX_COST

    y, sr, _ = stretched
    speech = align_recording((y, sr), TEXT, method="dtw")
    assert 0 < speech.info["alignment_cost"] < MAX_COST


def test_file_input_and_bad_inputs(tmp_path, rendered):
    import soundfile as sf

    wav = tmp_path / "rec.wav"
    sf.write(wav, rendered.audio, rendered.sample_rate)
    speech = align_recording(wav, TEXT)
    speech.check_tiling()
    assert speech.sample_rate == rendered.sample_rate
    with pytest.raises(ScriptError):
        align_recording(wav, "   ")
    with pytest.raises(MediaError, match="does not exist"):
        align_recording(tmp_path / "missing.wav", TEXT)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(MediaError):
        align_recording(bad, TEXT)
    with pytest.raises(MediaError, match="silent"):
        align_recording((np.zeros(16000, np.float32), 16000), TEXT)
    with pytest.raises(MediaError, match="empty"):
        align_recording((np.zeros(0, np.float32), 16000), TEXT)
    with pytest.raises(InputError, match="method"):
        align_recording(wav, TEXT, method="magic")
    with pytest.raises(VoiceError, match="language"):
        align_recording(wav, TEXT, language="xx-nope")


def test_load_audio_stereo_int16():
    y = (np.random.default_rng(0).standard_normal((8000, 2)) * 3000).astype(np.int16)
    mono, sr = load_audio((y, 8000))
    assert mono.shape == (8000,) and mono.dtype == np.float32 and sr == 8000
    assert np.abs(mono).max() <= 1.0


def test_phonemize_words_context_and_languages():
    words = phonemize_words("Bob bought a map, and 1984 pies!")
    assert [w.text for w in words] == ["Bob", "bought", "a", "map,", "and", "1984", "pies!"]
    assert words[0].phones == ["b", "ɑː", "b"]
    assert words[2].ipa == "ɐ"  # in context, not the citation form "eɪ"
    assert words[3].punct == "," and words[-1].punct == "!"
    assert len(words[5].ipa.split()) >= 2  # a number is several spoken words
    # espeak joins "in the" into one group in context; each word still gets its own phonemes
    joined = phonemize_words("It is lovely in the spring.")
    assert [w.ipa for w in joined][3:5] == ["ɪn", "ðə"]
    de = phonemize_words("Guten Tag", language="de")
    assert de[0].phones[0] == "ɡ" and "uː" in de[0].phones
    with pytest.raises(ScriptError):
        phonemize_words("  ")
    with pytest.raises(VoiceError, match="unknown language"):
        phonemize_words("hi", language="xx-nope")


def test_ipa_arpabet_maps_are_consistent():
    assert split_phones("mˈeɪpəl") == ["m", "e", "ɪ", "p", "ə", "l"]
    assert ipa_to_arpabet(split_phones("mˈeɪpəl")) == ["M", "EY", "P", "AH", "L"]
    assert ipa_to_arpabet(split_phones("tʃˈɜːtʃ")) == ["CH", "ER", "CH"]
    assert ARPABET_TO_IPA["AA"] == ("ɑː",) and ARPABET_TO_IPA["P"] == ("p",)


def test_other_language_uses_dtw(speaker):
    """A German transcript rendered by the (English) voice from espeak 'de' phonemes aligns."""
    from talkinghead.speech.phonemize import piper_phonemes, sentences_of

    words = phonemize_words("Guten Tag, wie geht es dir heute?", language="de")
    ref = speaker.speak_phonemes([piper_phonemes(s) for s in sentences_of(words)])
    y = np.concatenate([np.zeros(int(0.3 * ref.sample_rate), np.float32), ref.audio])
    speech = align_recording((y, ref.sample_rate), "Guten Tag, wie geht es dir heute?",
                             language="de")
    speech.check_tiling()
    assert speech.info["method"] == "dtw"
    first = next(p for p in speech.phonemes if p.symbol != SILENCE)
    true_first = next(p for p in ref.phonemes if p.symbol != SILENCE)
    assert abs(first.start - (true_first.start + 0.3)) < 0.04
    with pytest.raises(InputError, match="English only"):
        align_recording((y, ref.sample_rate), "Guten Tag", language="de", method="pocketsphinx")


def test_a_pause_does_not_split_a_phoneme_in_two():
    # one "b" on both sides of a cut silence would close the lips twice
    from talkinghead.speech.recorded import _overlay_gaps

    ivs = [("a", 0.0, 1.0), ("b", 1.0, 2.2), ("c", 2.2, 3.0)]
    out = _overlay_gaps(ivs, [(1.4, 2.0)], 3.0)
    assert [p.symbol for p in out] == ["a", "b", SILENCE, "c"]
    assert (out[1].start, out[1].end) == (1.0, 1.4) and out[-1].end == 3.0
    out = _overlay_gaps([("a", 0.0, 1.3), ("b", 1.3, 2.6), ("c", 2.6, 3.0)], [(1.4, 2.0)], 3.0)
    assert [p.symbol for p in out] == ["a", SILENCE, "b", "c"]  # the longer side kept
    for p, q in zip(out, out[1:]):
        assert p.end == q.start


def test_make_speech_reads_a_transcript_file_as_the_command_line_does(speaker, tmp_path):
    import soundfile as sf

    from talkinghead import make_speech

    text = "Bob bought a big map."
    take = speaker.speak(text)
    wav = tmp_path / "take.wav"
    sf.write(wav, take.audio, take.sample_rate)
    (tmp_path / "take.txt").write_text(text + "\n")
    expected = [w.text for w in make_speech(audio=wav, transcript=text).words]
    for transcript in (tmp_path / "take.txt", str(tmp_path / "take.txt")):
        assert [w.text for w in make_speech(audio=wav, transcript=transcript).words] == expected
    with pytest.raises(InputError, match="does not exist"):
        make_speech(audio=wav, transcript=str(tmp_path / "missing.txt"))
