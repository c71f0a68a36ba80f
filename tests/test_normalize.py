"""English normalisation of money, years, dates and phone numbers (talkinghead.speech.normalize)."""

import pytest

from talkinghead.speech.normalize import normalize_english as norm


@pytest.mark.parametrize(
    "written, spoken",
    [
        ("$3.50", "3 dollars 50 cents"),
        ("$1", "1 dollar"),
        ("$1.01", "1 dollar 1 cent"),
        ("$0.99", "99 cents"),
        ("€5.5", "5 euros 50 cents"),
        ("£20.", "20 pounds."),
        ("£2.50", "2 pounds 50 pence"),
        ("¥100", "100 yen"),
        ("$1,200,000", "1,200,000 dollars"),
        ("$2.5m", "2.5 million dollars"),
        ("£3 billion", "3 billion pounds"),
        ("$3.50/hour", "3 dollars 50 cents/hour"),
        ("1995", "19 95"),
        ("1905", "19 oh 5"),
        ("1900", "19 hundred"),
        ("1066", "10 66"),
        ("the 1990s", "the 19 nineties"),
        ("1500 people", "15 hundred people"),
        ("2026-11-27", "November 27th, 2026"),
        ("27/11/2026", "November 27th, 2026"),  # the day first: 27 cannot be a month
        ("3/4/2026", "March 4th, 2026"),  # month first, as US English writes it
        ("1999-01-01", "January 1st, 19 99"),
        ("555-1234", "5 5 5, 1 2 3 4"),
        ("800-555-1234", "8 0 0, 5 5 5, 1 2 3 4"),
    ],
)
def test_written_forms_become_words(written, spoken):
    assert norm(written) == spoken


@pytest.mark.parametrize(
    "text",
    ["pi is 3.1415", "v1.1995", "1000 people", "2015", "2,000 people", "US$5", "1995-96", "2026-13-45", "12:30",
     "no digits at all", "3/4 of a cup"],
)
def test_other_numbers_are_left_to_espeak(text):
    assert norm(text) == text


def test_each_word_reads_the_same_alone_and_in_its_sentence():
    # the word timing counts each written word's phonemes on its own: no rule may need a neighbour
    text = "It costs $3.50, up from £2 in 1995. Call 555-1234 before 2026-11-27 or 3/4/2026!"
    assert norm(text) == " ".join(norm(w) for w in text.split())


def test_piper_speaks_money_and_years_as_words_and_keeps_the_written_word_timed(piper):
    text = "It costs $3.50 in 1995."
    ipa = "".join("".join(s) for s in piper.phonemize(text))
    assert "dˈɑːlɚz" in ipa and "sˈɛnts" in ipa and "pɔɪnt" not in ipa  # not "dollar three point five zero"
    assert "hˈʌndɹɪd" not in ipa  # "nineteen ninety-five", not "nineteen hundred ninety-five"
    s = piper.speak(text)
    assert [w.text for w in s.words] == text.split()  # the subtitles keep "$3.50" as written
    money = s.words[2]
    inside = [p for p in s.phonemes if money.start <= (p.start + p.end) / 2 < money.end]
    assert money.end - money.start > 0.8  # "three dollars fifty cents" is four spoken words
    assert {"θ", "d", "l", "f", "s"} <= {p.symbol for p in inside}  # three dollars fifty cents


def test_transcripts_are_normalised_word_by_word():
    from talkinghead.speech.phonemize import phonemize_words

    words = phonemize_words("It costs $3.50 in 1995.")
    assert [w.text for w in words] == ["It", "costs", "$3.50", "in", "1995."]
    assert len(words[2].ipa.split()) == 4 and len(words[4].ipa.split()) == 3
    # other languages are left to espeak
    assert len(phonemize_words("Es kostet $3.50.", language="de")[2].ipa.split()) != 4
