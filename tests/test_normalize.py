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
        ("800-555-1234", "8 oh oh, 5 5 5, 1 2 3 4"),
        ("+1-800-555-1234", "1, 8 oh oh, 5 5 5, 1 2 3 4"),
        ("(555)123-4567", "5 5 5, 1 2 3, 4 5 6 7"),
        ("555.123.4567", "5 5 5, 1 2 3, 4 5 6 7"),
        ("$1234.56", "1,234 dollars 56 cents"),  # not "twelve thirty-four dollars"
        ("$.99", "99 cents"),
        ("$5-10 each", "5 to 10 dollars each"),
        ("$5–$10", "5 to 10 dollars"),
        ("$2-3bn", "2 to 3 billion dollars"),
        ("$3 billion", "3 billion dollars"),
        ("£3 Billion", "3 billion pounds"),
        ("$5k", "5 thousand dollars"),
        ("Buy a $5 T-shirt", "Buy a 5 dollars T-shirt"),  # not "5 trillion dollars-shirt"
        ("$3.50/hour", "3 dollars 50 cents per hour"),
        ("1990-1995", "19 90 to 19 95"),
        ("1990–95", "19 90 to 95"),
        ("200-1000 calories", "200 to 1,000 calories"),  # round numbers: a range, not a phone number
        ("300-1500 words", "300 to 1,500 words"),  # quantities, not years
        ("2-3 days", "2 to 3 days"),
        ("mid-1990s", "mid-19 nineties"),
        ("the 1990’s", "the 19 nineties"),
        ("the 2020s", "the 20 twenties"),
        ("the 2000s", "the 2 thousands"),
        ("the '90s", "the nineties"),
        ("$1995m", "1,995 million dollars"),  # amounts never re-read as years
        ("$1500-2000", "1,500 to 2,000 dollars"),
        ("$5k-10k", "5 to 10 thousand dollars"),
        ("1990-2005", "19 90 to 2005"),
        ("250-1250 words", "250 to 1,250 words"),
    ],
)
def test_written_forms_become_words(written, spoken):
    assert norm(written) == spoken


@pytest.mark.parametrize(
    "text",
    ["pi is 3.1415", "v1.1995", "1000 people", "1001 Nights", "2015", "2,000 people", "US$5", "2026-13-45",
     "2026-02-30", "12:30", "no digits at all", "3/4 of a cup", "24/7", "COVID-19", "1080p", "123.4567"],
)
def test_other_numbers_are_left_to_espeak(text):
    assert norm(text) == text


def test_a_very_long_number_is_left_to_espeak_not_a_crash():
    for text in ("$" + "1" * 5000, "1" * 5000 + "-2", "in " + "9" * 5000):
        assert norm(text) == text


def test_an_amount_before_a_scale_word_is_read_in_the_spoken_order_word_by_word():
    from talkinghead.speech.normalize import normalize_words

    assert normalize_words(["It", "cost", "$3", "billion.", "In", "1995"]) == [
        "It", "cost", "3", "billion dollars.", "In", "19 95"]
    assert normalize_words(["$5", "T-shirts"]) == ["5 dollars", "T-shirts"]
    assert " ".join(normalize_words("It cost $3 billion.".split())) == norm("It cost $3 billion.")


def test_each_word_reads_the_same_alone_and_in_its_sentence():
    # the word timing counts each written word's phonemes on its own: no rule may need a neighbour
    text = ("It costs $3.50, up from £2 in 1995. Call 555-1234 before 2026-11-27 or 3/4/2026! Pay $5-10 for "
            "2-3 days in the 1990s, mid-1980s or the '70s.")
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
    assert "dˈɑːlɚz" in words[2].ipa and "pɔɪnt" not in words[2].ipa  # the sentence is read normalised too
    assert "hˈʌndɹɪd" not in words[4].ipa
    words = phonemize_words("It cost $3 billion.")  # not "three dollars billion"
    assert words[2].ipa == "θɹˈiː" and words[3].ipa.split()[-1] == "dˈɑːlɚz"
    words = phonemize_words("The 1990s cost $2.5m then.")
    assert [w.text for w in words] == ["The", "1990s", "cost", "$2.5m", "then."]
    assert "kˈɔst" in words[2].ipa and "mˈɪliən" in words[3].ipa  # no word shifted onto its neighbour
    # other languages are left to espeak
    assert len(phonemize_words("Es kostet $3.50.", language="de")[2].ipa.split()) != 4


def test_a_word_read_as_many_keeps_all_its_time(piper):
    # "555-1234" is seven spoken words; with a join elsewhere in the sentence ("In the") the word
    # matching once gave it four and handed the rest of its time to the next word
    s = piper.speak("In the end call 555-1234 now please.")
    words = {w.text: w for w in s.words}
    phone, now = words["555-1234"], words["now"]
    assert now.end - now.start < 0.6, (now.start, now.end)
    digits = [p for p in s.phonemes if phone.start <= (p.start + p.end) / 2 < phone.end]
    assert sum(p.symbol == "v" for p in digits) == 3 and "θ" in {p.symbol for p in digits}  # 5 5 5 ... 3
    assert phone.end - phone.start > 1.6
