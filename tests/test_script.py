import pytest

from talkinghead.errors import InputError, ScriptError
from talkinghead.speech.script import parse_script, read_script, script_text


def test_paragraphs_and_pauses():
    parts = parse_script("Hello there.\nSecond line.\n\n  New paragraph [pause 0.8s] after [pause 300ms] end.")
    kinds = [(p.text, p.pause, p.paragraph_break) for p in parts]
    assert kinds == [
        ("Hello there. Second line.", 0.0, False),
        ("", 0.0, True),
        ("New paragraph", 0.0, False),
        ("", 0.8, False),
        ("after", 0.0, False),
        ("", pytest.approx(0.3), False),
        ("end.", 0.0, False),
    ]
    assert script_text(parts) == "Hello there. Second line.\n\nNew paragraph after end."


@pytest.mark.parametrize("text", ["", "   \n\t  ", "[pause 1s]", "... !!! --"])
def test_nothing_to_say(text):
    with pytest.raises(ScriptError):
        parse_script(text)


def test_bad_markup_is_named():
    with pytest.raises(ScriptError, match=r"\[smile\]"):
        parse_script("Hello [smile] there")


def test_read_script_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_script(tmp_path / "missing.txt")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(InputError, match="UTF-8"):
        read_script(bad)


def test_markup_edge_cases():
    # an unclosed tag would be read out ("pause one s"): refused
    for text in ("Hello [pause 1s there.", "Hello pause 1s] there."):
        with pytest.raises(ScriptError, match="unmatched"):
            parse_script(text)
    # [pause 0s] stays a pause part: it replaces the sentence pause instead of vanishing
    parts = parse_script("Hello. [pause 0s] There.")
    assert [(p.text, p.pause) for p in parts] == [("Hello.", 0.0), ("", 0.0), ("There.", 0.0)]
    assert parts[1].text == "" and not parts[1].paragraph_break


def test_byte_order_mark_is_not_text(tmp_path):
    f = tmp_path / "bom.txt"
    f.write_bytes("\ufeffHello there.\r\n".encode("utf-8"))
    assert read_script(f) == "Hello there.\n"  # universal newlines
    assert parse_script("\ufeffHi.")[0].text == "Hi."


def test_subtitle_cues_end_at_sentences_and_pauses_not_abbreviations():
    import numpy as np

    from talkinghead.speech.types import PhonemeInterval, Speech, WordInterval, srt_text

    def cues(words):  # (text, start, end) -> the cues' texts
        sp = Speech(np.zeros(16000 * 20, np.float32), 16000, [PhonemeInterval("_", 0.0, 20.0)],
                    [WordInterval(t, a, b) for t, a, b in words])
        return [block.split("\n")[2] for block in srt_text(sp).strip().split("\n\n")]

    t = 0.0
    words = []
    for w in "Dr. Smith met the U.S. team, e.g. Ann. Then".split():
        words.append((w, t, t + 0.3))
        t += 0.35
    # (seven words fill a cue; the sentence's last word is not left alone: the two cues share it)
    assert cues(words) == ["Dr. Smith met the", "U.S. team, e.g. Ann.", "Then"]
    # a sentence of nine words: five and four, not seven and a flash of two
    nine = [(w, 0.3 * i, 0.3 * i + 0.25) for i, w in enumerate("one two three four five six seven eight nine.".split())]
    assert cues(nine) == ["one two three four five", "six seven eight nine."]
    # fourteen: seven and seven as before
    fourteen = [(f"w{i}" + ("." if i == 13 else ""), 0.3 * i, 0.3 * i + 0.25) for i in range(14)]
    assert [len(c.split()) for c in cues(fourteen)] == [7, 7]
    # never across a pause: seven words, a second's silence, then the last word
    paused = [(w, 0.3 * i, 0.3 * i + 0.25) for i, w in enumerate("one two three four five six seven".split())]
    paused.append(("eight.", 3.2, 3.5))
    assert cues(paused) == ["one two three four five six seven", "eight."]
    # cut by the seconds limit just before the last word ("About 1250 people came in" / "1995.")
    slow = [(w, 0.75 * i, 0.75 * i + 0.7) for i, w in enumerate("About 1250 people came in 1995.".split())]
    assert cues(slow) == ["About 1250 people", "came in 1995."]
    # a pause of a second ends the cue before it, even mid-sentence
    assert cues([("Hello", 0.0, 0.4), ("there.", 1.6, 2.0)]) == ["Hello", "there."]


def test_emoji_are_not_spoken():
    # the voice would say "grinning face", "thumbs up medium skin tone": words nobody wrote
    parts = parse_script("I love pizza 🍕 and 😀 emoji 👍🏽. A👨‍👩‍👧B, I ♥ NY © 2024, 50% & $5")
    assert parts[0].text == "I love pizza and emoji. A B, I NY 2024, 50% & $5"
    with pytest.raises(ScriptError, match="nothing to speak"):
        parse_script("😀 👍")


def test_a_transcript_of_words_is_never_taken_for_a_file(tmp_path):
    from talkinghead.speech.script import transcript_file

    assert transcript_file("The quick brown fox jumps over the lazy dog. " * 8) is None  # too long a "name"
    assert transcript_file("~ well, hello there") is None
    assert transcript_file("Bob said hi.\nThen left.") is None
    (tmp_path / "take.txt").write_text("Hi.")
    assert transcript_file(str(tmp_path / "take.txt")) == tmp_path / "take.txt"
    assert transcript_file(tmp_path / "take.txt") == tmp_path / "take.txt"
    with pytest.raises(InputError, match="does not exist"):
        transcript_file(str(tmp_path / "gone.txt"))
