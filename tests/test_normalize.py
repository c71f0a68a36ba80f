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
        ("1500 people", "1,500 people"),  # a quantity (espeak: "one thousand five hundred")
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
    # the word timing counts each written word's phonemes on its own: these forms need no neighbour
    text = ("It costs $3.50, up from £2 in 1995. Call 555-1234 before 2026-11-27 or 3/4/2026! Pay $5-10 for "
            "2-3 days in the 1990s, mid-1980s or the '70s.")
    assert norm(text) == " ".join(norm(w) for w in text.split())


@pytest.mark.parametrize(
    "written, spoken",
    [
        # a time: the default, and what a word before it says
        ("in 1995", "in 19 95"),
        ("since 1998", "since 19 98"),
        ("by 1850", "by 18 50"),
        ("from 1990 to 1995", "from 19 90 to 19 95"),
        ("summer of 1969", "summer of 19 69"),
        ("in May 1995", "in May 19 95"),
        ("1995 was a good year", "19 95 was a good year"),  # sentence-initial: ambiguous, a year
        ("born 1950", "born 19 50"),
        ("the 1995 election", "the 19 95 election"),  # a singular noun after it: a year
        ("They hired 1250.", "They hired 12 50."),  # no evidence: a year
        ("In 1995, people left.", "In 19 95, people left."),  # punctuation: the noun is not counted
        ("since 1995 prices rose", "since 19 95 prices rose"),  # a time word wins over a plural
        ("May 1995 sales", "May 19 95 sales"),
        ("Jan. 1850 floods", "Jan. 18 50 floods"),
        ("during 1990 and 1995 elections", "during 19 90 and 19 95 elections"),
        ("in about 1850", "in about 18 50"),  # an approximator after a preposition of time
        ("since around 1850 towns grew", "since around 18 50 towns grew"),
        ("about 1500 BC", "about 15 hundred BC"),  # an era after it
        ("c. 1500", "c. 15 hundred"),
        ("from 1995 onwards", "from 19 95 onwards"),  # words ending in s that are not plurals
        ("the 1990 census", "the 19 90 census"),
        ("1995 is when", "19 95 is when"),
        ("1995-96 season", "19 95 to 96 season"),  # "1990-95" is always years
        ("the 1990s crowds", "the 19 nineties crowds"),  # decades are always years
        ("1995-01-01 events", "January 1st, 19 95 events"),  # dates are always years
        # a quantity: a plural, a unit or a counting word after it, or a counting word before it
        ("1250 people", "1,250 people"),
        ("we ran 1500 miles", "we ran 1,500 miles"),
        ("eat 1200 calories", "eat 1,200 calories"),
        ("it cost 1999 dollars", "it cost 1,999 dollars"),
        ("the 1500 workers", "the 15 hundred workers"),  # "the": a year cue
        ("1500 GPUs", "1,500 GPUs"),
        ("1500 km", "1,500 km"),
        ("1500 million", "1,500 million"),
        ("1250 more", "1,250 more"),
        ("1500 or so", "1,500 or so"),
        ("1500%", "1,500%"),
        ("1500 °C", "1,500 °C"),
        ("1500+ people", "1,500+ people"),
        ("about 1500", "about 15 hundred"),  # an approximator decides nothing
        ("About 1850 the town grew.", "About 18 50 the town grew."),
        ("about 1250 people", "about 1,250 people"),
        ("over 1200", "over 1,200"),
        ("nearly 1800", "nearly 18 hundred"),
        ("exactly 1400", "exactly 1,400"),
        ("some 1300 years ago", "some 1,300 years ago"),
        ("more than 1500", "more than 1,500"),
        ("at least 1250", "at least 1,250"),
        ("the first 1500", "the first 1,500"),
        ("in about 1500 cases", "in about 15 hundred cases"),  # "in": a year cue
        ("In 1995 prices rose", "In 19 95 prices rose"),
        ("From 1990 to 1995 sales rose.", "From 19 90 to 19 95 sales rose."),
        ("the 1995 elections", "the 19 95 elections"),
        ("in 1999 dollars", "in 19 99 dollars"),
        ("after 1250 attempts", "after 12 50 attempts"),
        ("(1500 people)", "(1,500 people)"),
        # a pair of numbers is read alike, by the words around the pair
        ("between 1200 and 1500 calories", "between 1,200 and 1,500 calories"),
        ("1500 to 2000 people", "1,500 to 2000 people"),
        ("over 1200 or 1300", "over 1,200 or 1,300"),
        ("write 1200 - 1500 words", "write 1,200 - 1,500 words"),
        ("1500-2000 km", "1,500 to 2,000 km"),  # a range in one word, before a unit
        ("1500-2000 workers", "15 hundred to 2000 workers"),  # only a plural-looking word after it: years
        ("1939-1945 casualties were high.", "19 39 to 19 45 casualties were high."),
        ("1200–1500 people", "1,200 to 1,500 people"),
        ("1500-2000", "15 hundred to 2000"),  # no evidence: years
        # a word that only looks plural is not enough after a label or at a sentence's start
        ("1945 marks the end of the war.", "19 45 marks the end of the war."),
        ("Some 1250 workers left.", "Some 1,250 workers left."),  # the first word may be anything
        ("Add 1250 grams.", "Add 1,250 grams."),
        # lists are read alike, by the words around the list
        ("Add 1250, 1350 and 1450 grams.", "Add 1,250, 1,350 and 1,450 grams."),
        ("Sales were 1250, 1350, and 1450 units.", "Sales were 1,250, 1,350, and 1,450 units."),
        ("in 1990, 1995 and 1999 elections", "in 19 90, 19 95 and 19 99 elections"),
        ("In 1995, 1250 people came.", "In 19 95, 1,250 people came."),  # not a list
        ("Flight 1492 departs at noon.", "Flight 14 92 departs at noon."),
        ("Route 1495 connects the towns.", "Route 14 95 connects the towns."),
        ("Her 1250 followers", "Her 1,250 followers"),
        ("fill in Form 1040 instructions", "fill in Form 10 40 instructions"),
        ("The Paris 1924 Olympics", "The Paris 19 24 Olympics"),
        ("On Flight 1492 flew 1250 people.", "On Flight 14 92 flew 1,250 people."),  # "people": sure
        ("Meet me at 1500 hours.", "Meet me at 15 hundred hours."),
        ("GDP at 1990 prices", "GDP at 19 90 prices"),
        ("grew from 800 to 1250 dollars", "grew from 800 to 1,250 dollars"),  # not a pair of years
        ("from 1250 to 5000 people", "from 1,250 to 5000 people"),
        ("closed in 2008, and 1250 workers left", "closed in 2008, and 1,250 workers left"),
        ("Sept. 1850 workers", "Sept. 18 50 workers"),
        # other numbers are unchanged by the words around them
        ("1000 people", "1000 people"),
        ("1005 people", "1005 people"),
        ("$1500 people", "1,500 dollars people"),
        ("the 1,250 people", "the 1,250 people"),
        ("2015 people", "2015 people"),
    ],
)
def test_a_number_1010_to_1999_is_a_year_or_a_quantity_by_the_words_around_it(written, spoken):
    from talkinghead.speech.normalize import normalize_words

    assert norm(written) == spoken
    # word by word (the word timing), each word reads the same as in its sentence
    assert " ".join(normalize_words(written.split())) == spoken


def test_a_number_s_neighbours_decide_word_by_word():
    from talkinghead.speech.normalize import normalize_words

    words = "In 1995 there were about 1250 people, and by 1999 over 1500.".split()
    assert normalize_words(words) == [
        "In", "19 95", "there", "were", "about", "1,250", "people,", "and", "by", "19 99", "over", "1,500."]
    assert normalize_words(["1250"]) == ["12 50"]  # alone: no evidence, a year
    assert norm("About  1250\npeople  came.") == "About  1,250\npeople  came."  # the text's own spacing kept


@pytest.mark.parametrize(
    "written, spoken",
    [
        ("(555) 123-4567", "5 5 5, 1 2 3, 4 5 6 7"),
        ("(555) 123 4567", "5 5 5, 1 2 3, 4 5 6 7"),
        ("call 555 123 4567 now", "call 5 5 5, 1 2 3, 4 5 6 7 now"),
        ("555 123-4567.", "5 5 5, 1 2 3, 4 5 6 7."),
        ("1 800 555 0199", "1, 8 oh oh, 5 5 5, oh 1 9 9"),
        ("+1 800 555 0199", "1, 8 oh oh, 5 5 5, oh 1 9 9"),
        ("+1 (800) 555-0199", "1, 8 oh oh, 5 5 5, oh 1 9 9"),
        ("Call +1 800 555 0199 24 hours a day.", "Call 1, 8 oh oh, 5 5 5, oh 1 9 9 24 hours a day."),
        ("+44 20 7946 0958", "4 4, 2 oh, 7 9 4 6, oh 9 5 8"),
        ("+44-20-7946-0958", "4 4, 2 oh, 7 9 4 6, oh 9 5 8"),
        ("+33 1 23 45 67 89", "3 3, 1, 2 3, 4 5, 6 7, 8 9"),
        ("Ring (555) 123-4567, or (555) 765 4321!", "Ring 5 5 5, 1 2 3, 4 5 6 7, or 5 5 5, 7 6 5, 4 3 2 1!"),
    ],
)
def test_a_phone_number_written_with_spaces_is_read_digit_by_digit(written, spoken):
    assert norm(written) == spoken


@pytest.mark.parametrize(
    "text",
    ["3 123 4567", "555 2345", "100 250 1000", "128 256 2048 bytes", "500 600 7000 people", "+1 2 3", "+12 34", "+3 10 20", "12 345 6789", "+44 (0)20 7946 0958"],
)
def test_numbers_with_spaces_that_are_not_phone_numbers_are_left_to_espeak(text):
    assert norm(text) == text


def test_a_phone_number_in_several_words_reads_each_word_s_own_digits():
    from talkinghead.speech.normalize import normalize_words

    assert normalize_words(["Call", "(555)", "123-4567."]) == ["Call", "5 5 5,", "1 2 3, 4 5 6 7."]
    assert normalize_words("+44 20 7946 0958 today".split()) == ["4 4,", "2 oh,", "7 9 4 6,", "oh 9 5 8", "today"]
    text = "Call (555) 123-4567 or +1 800 555 0199 before 2026-11-27, about 1250 people did in 1995."
    assert " ".join(normalize_words(text.split())) == norm(text)


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


def test_transcripts_read_a_phone_number_in_several_words_word_by_word():
    from talkinghead.speech.phonemize import phonemize_words

    words = phonemize_words("Call (555) 123-4567 now.")
    assert [w.text for w in words] == ["Call", "(555)", "123-4567", "now."]
    assert len(words[1].ipa.split()) == 3 and len(words[2].ipa.split()) == 7  # "5 5 5", "1 2 3, 4 5 6 7"
    words = phonemize_words("About 1250 people came in 1250.")
    assert "hˈʌndɹɪd" in words[1].ipa and "θˈaʊzənd" in words[1].ipa  # one thousand two hundred fifty
    assert "θˈaʊzənd" not in words[5].ipa  # twelve fifty


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
