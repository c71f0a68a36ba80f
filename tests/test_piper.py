import json

import numpy as np
import pytest
import soundfile as sf

from talkinghead.errors import ScriptError, VoiceError
from talkinghead.speech import SILENCE
from talkinghead.speech.piper import PiperSpeaker


def test_timeline_tiles_audio_and_has_words(piper):
    s = piper.speak("Bob bought a map of Maple Park. Twenty-five people came!")
    s.check_tiling()
    assert s.sample_rate == 22050 and s.audio.dtype == np.float32
    assert 0.5 < np.abs(s.audio).max() <= 1.0
    assert s.phonemes[0].symbol == SILENCE and s.phonemes[-1].symbol == SILENCE
    symbols = [p.symbol for p in s.phonemes]
    # stress marks are folded into phonemes, length marks attached to their vowel
    assert not any(c in "ˈˌ" for sym in symbols for c in sym)
    assert "ɑː" in symbols
    assert [w.text for w in s.words][:4] == ["Bob", "bought", "a", "map"]
    starts = [w.start for w in s.words]
    assert starts == sorted(starts)
    # the first word starts at its first phoneme
    first_b = next(p for p in s.phonemes if p.symbol == "b")
    assert s.words[0].start == pytest.approx(first_b.start)


def test_pauses_are_silent(piper):
    paused = piper.speak("Hello there. [pause 1.5s] Goodbye.")
    longest = max((p for p in paused.phonemes if p.symbol == SILENCE), key=lambda p: p.duration)
    # the pause itself plus the voice's own sentence-end and sentence-start silences (the model's
    # durations are stochastic, so compare the silence interval, not total lengths of two runs)
    assert 1.5 <= longest.duration <= 1.5 + 0.6
    a, b = int(longest.start * paused.sample_rate) + 2000, int(longest.end * paused.sample_rate) - 2000
    assert np.abs(paused.audio[a:b]).max() < 1e-3


def test_paragraph_pause(piper):
    one = piper.speak("First part. Second part.")
    two = piper.speak("First part.\n\nSecond part.")

    def gap(speech):  # the silence between the two sentences
        inner = [p for p in speech.phonemes[1:-1] if p.symbol == SILENCE]
        return max(p.duration for p in inner)

    assert piper.paragraph_pause <= gap(two) <= piper.paragraph_pause + 0.6
    assert piper.sentence_pause <= gap(one) < piper.paragraph_pause


def test_rate_changes_duration():
    slow = PiperSpeaker(rate=0.8, seed=0).speak("The quick brown fox jumps over the lazy dog.")
    fast = PiperSpeaker(rate=1.25, seed=0).speak("The quick brown fox jumps over the lazy dog.")
    assert fast.duration < 0.8 * slow.duration


def test_errors(piper, tmp_path):
    with pytest.raises(ScriptError):
        piper.speak("  ")
    with pytest.raises(VoiceError, match="unknown voice"):
        PiperSpeaker("no-such-voice")
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"not a model")
    (tmp_path / "fake.onnx.json").write_text("{}")
    with pytest.raises(VoiceError, match="cannot load"):
        PiperSpeaker(fake)
    with pytest.raises(VoiceError, match="no config"):
        (tmp_path / "fake.onnx.json").unlink()
        PiperSpeaker(fake)


def test_outputs_written(piper, tmp_path):
    s = piper.speak("Bob bought a map.")
    s.write_wav(tmp_path / "a.wav")
    s.write_timeline(tmp_path / "a.json")
    s.write_srt(tmp_path / "a.srt")
    audio, sr = sf.read(tmp_path / "a.wav")
    assert sr == s.sample_rate and len(audio) == len(s.audio)
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["phonemes"][-1]["end"] == pytest.approx(s.duration)
    srt = (tmp_path / "a.srt").read_text()
    assert "Bob bought a map." in srt and "-->" in srt
    assert not list(tmp_path.glob(".*part*"))  # no temporary files left


def test_words_when_espeak_joins_them(piper):
    # espeak reads "in the" as one phoneme word here; every written word still gets a timing
    s = piper.speak("The weather in Paris is lovely in the spring, said the old man.")
    assert [w.text for w in s.words] == "The weather in Paris is lovely in the spring, said the old man.".split()
    for a, b in zip(s.words, s.words[1:]):
        assert a.start < a.end <= b.start + 1e-9


def test_seed_makes_the_voice_reproducible():
    from talkinghead.speech.piper import PiperSpeaker

    text = "Bob bought a map, and the seed makes it the same."
    a = PiperSpeaker(seed=5).speak(text)
    b = PiperSpeaker(seed=5).speak(text)
    assert np.array_equal(a.audio, b.audio)
    assert [p.end for p in a.phonemes] == [p.end for p in b.phonemes]
    c = PiperSpeaker(seed=6).speak(text)
    assert not (len(c.audio) == len(a.audio) and np.array_equal(c.audio, a.audio))


def test_abbreviations_do_not_end_the_sentence(piper):
    from talkinghead.speech.script import expand_abbreviations as expand

    assert expand("Dr. Smith met Mrs. Brown and Prof. Lee.") == "Doctor Smith met Missus Brown and Professor Lee."
    assert expand("Ask the Dr. about it. Mr. X!") == "Ask the Dr. about it. Mister X!"  # not before a name
    assert expand("Adr. Smith") == "Adr. Smith"
    assert expand("Gen. Lee climbed Mt. Everest.") == "General Lee climbed Mount Everest."
    assert expand("Call No. 5 or see Fig. 3 on Jan. 5 at p. 7.") == "Call Number 5 or see Figure 3 on January 5 at page 7."
    assert expand("I said no. Then I left. Jan. Smith") == "I said no. Then I left. Jan. Smith"  # no number after
    assert expand("John Smith Jr. went home with Tom Brown, Sr.") == "John Smith Junior. went home with Tom Brown, Senior."
    assert expand("Ms Smith") == "Miz Smith" and expand("the jr. class") == "the jr. class"
    assert expand("The U.S. Army. In the U.K. The end.") == "The U.S Army. In the U.K. The end."
    # espeak alone would make two sentences of each
    for text in ("Dr. Smith paid.", "Call No. 5 now.", "On Jan. 5 we met.", "The U.S. Army marched.", "Gen. Lee won."):
        assert len(piper.phonemize(text)) == 1, text
    assert len(piper.phonemize("We live in the U.S. The weather is fine.")) == 2
    text = "Dr. Smith paid Mrs. Brown No. 5 on Jan. 5."
    s = piper.speak(text)
    assert [w.text for w in s.words] == text.split()  # the written words keep their timings
    gaps = [b.start - a.end for a, b in zip(s.words, s.words[1:])]
    assert max(gaps) < 0.1, gaps  # no sentence pause after an abbreviation


def test_abbreviations_are_expanded_for_english_voices_only(piper, monkeypatch):
    monkeypatch.setattr(piper._voice.config, "espeak_voice", "de")  # as a German voice's config says
    assert len(piper.phonemize("Dr. Smith paid.")) == 2  # left to espeak


def test_progress_bar_counts_sentences(piper, capsys):
    piper.progress = True
    try:
        piper.speak("One sentence here. Another one. [pause 0.2s] A third.")
    finally:
        piper.progress = False
    err = capsys.readouterr().err
    assert "speech" in err and "0/3" in err and "sentence" in err  # three sentences, the pause is none
    piper.speak("Quiet now.")
    assert "speech" not in capsys.readouterr().err


def test_symbols_read_as_words_have_their_own_time(piper):
    # "&" is read "and", "%" "percent": each written symbol gets its own word interval, and the
    # words after it are not shifted onto its sound
    s = piper.speak("Tom & Jerry cost 5 % more.")
    w = {x.text: x for x in s.words}
    assert [x.text for x in s.words] == ["Tom", "&", "Jerry", "cost", "5", "%", "more."]
    assert w["&"].end - w["&"].start > 0.05 and w["%"].end - w["%"].start > 0.15
    # "Jerry" starts where its own phonemes do, after the "and"
    first_jerry_phone = next(p for p in s.phonemes if p.start >= w["&"].end - 1e-6 and p.symbol != "_")
    assert abs(w["Jerry"].start - first_jerry_phone.start) < 1e-6


def test_word_timing_follows_the_phonemes_when_espeak_rewrites_words(piper):
    # espeak reads "e.g." as "for example" and joins "Main St."; the written words are matched to
    # the phoneme words locally (a global proportional split drifted by up to half a second)
    s = piper.speak("Dr. Smith lives on Main St. near Mt. Everest, e.g. next to the U.S. Army base.")
    w = {x.text: x for x in s.words}
    f = next(p for p in s.phonemes if p.symbol == "f")  # the "f" of "for example"
    assert w["Everest,"].end <= f.start + 1e-6
    assert w["e.g."].start <= f.start < w["e.g."].end
    assert w["e.g."].end - w["e.g."].start > 0.4  # "for example" is long
    assert [x.text for x in s.words] == "Dr. Smith lives on Main St. near Mt. Everest, e.g. next to the U.S. Army base.".split()


def test_match_words_to_groups():
    from talkinghead.speech.piper import match_words_to_groups

    # exact, joined ("in the" -> one), expanded ("e.g." -> two), unsaid (a word with no group)
    assert match_words_to_groups([(1, 3), (1, 2)], [3, 2]) == [((0, 1), (0, 1)), ((1, 2), (1, 2))]
    assert match_words_to_groups([(1, 2), (1, 2), (1, 5)], [4, 5]) == [((0, 2), (0, 1)), ((2, 3), (1, 2))]
    assert match_words_to_groups([(1, 4), (1, 10), (1, 3)], [4, 3, 7, 3]) == [
        ((0, 1), (0, 1)), ((1, 2), (1, 3)), ((2, 3), (3, 4))]
