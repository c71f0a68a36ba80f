"""English text normalisation: the written forms espeak reads wrongly, rewritten as spoken words.

espeak (Piper's phonemizer, and the phonemizer that aligns a user's recording) reads numbers well
but reads some written forms as they are written: "$3.50" as "dollar three point five zero",
"£20" as "pound twenty", "1995" as "nineteen hundred ninety-five", "the 1990s" as "nineteen
hundred ninety z", "2026-11-27" as "two thousand twenty-six dash eleven dash twenty-seven",
"555-1234" as "five hundred fifty-five dash one thousand two hundred thirty-four" and "5-10" as
"five dash ten". :func:`normalize_english` rewrites those forms into words and digits that espeak
then reads as a person would: "3 dollars 50 cents", "20 pounds", "19 95", "the 19 nineties",
"November 27th, 2026", "5 5 5, 1 2 3 4", "5 to 10". The numbers themselves are left to espeak.

Every rule rewrites one written word, so that the word timing and subtitles, which count the
phonemes of each written word (:meth:`PiperSpeaker._word_counts
<talkinghead.speech.piper.PiperSpeaker._word_counts>`), keep the text as written ("$3.50" is one
subtitle word spoken as four). Three rules also look at the words around it, as a reader does:

- a bare four-digit number from 1010 to 1999 is a year ("in 1995": "19 95") unless the words next
  to it say it is a quantity ("over 1250", "1250 people": "1,250", which espeak reads "one
  thousand two hundred fifty"); :func:`_reads_as_quantity` gives the rules;
- a scale word after an amount, "$3 billion", is read "3 billion dollars" (word by word "3" and
  "billion dollars");
- a phone number written in several words, "(555) 123-4567" or "+44 20 7946 0958", is read digit
  by digit, each written word its own digits ("5 5 5," and "1 2 3, 4 5 6 7").

:func:`normalize_words` gives each word its spoken form with those neighbours, and
:func:`normalize_english` is its words put back in the text, so a word is read the same in the
word timing as in its sentence.

Where the words around a number 1010-1999 say nothing it is read as a year ("They hired 1250.":
"twelve fifty"; write "1,250"); a year inside a sentence after a lower-case word and before a
word that looks plural is read as a quantity ("they saw 1995 elections", "adjusted to 1995
dollars", "version 1909 includes": write "the elections of 1995"), and a quantity after "in",
"from", "by", "at", "before", "after" or "the" as a year ("won by 1250 votes": "twelve fifty";
round hundreds read the same either way). Not handled (read
by espeak as written): dates with a two-digit year or without a year ("11/27"), phone numbers of
other forms ("555 1234" with a space, "+44 (0)20 7946 0958"), currencies other than $, £, € and
¥, and other languages (this applies to English voices only).
"""

from __future__ import annotations

import bisect
import datetime
import re

#: Currency symbol -> (unit, units, subunit, subunits).
CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "sen", "sen"),
}
#: Scale words after an amount, as spoken: glued to it ("$2.5m", "$3bn", "$5k") or as a word
#: ("$3 billion").
GLUED_SCALES = {"k": "thousand", "K": "thousand", "m": "million", "M": "million", "mn": "million",
                "b": "billion", "bn": "billion", "B": "billion", "t": "trillion", "tn": "trillion"}
SCALE_WORDS = ("thousand", "million", "billion", "trillion")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
#: The decade of a year written "1990s", as spoken after its century ("19 nineties").
DECADES = {"0": "hundreds", "1": "tens", "2": "twenties", "3": "thirties", "4": "forties", "5": "fifties",
           "6": "sixties", "7": "seventies", "8": "eighties", "9": "nineties"}
#: Digits of a phone number as read aloud (a zero is "oh").
PHONE_DIGITS = {"0": "oh"}

_DASH = "[-–]"  # hyphen-minus or en dash
#: No digit, letter or number punctuation just before (a number inside "v1.1995" or "12:30").
_START = r"(?<![\w.,$£€¥/:])"
#: No letter, digit or number punctuation just after.
_END = r"(?![\w/:]|[.,\-–]\d)"
#: Digit runs are at most this long (Python refuses to convert a run of over 4300 digits).
_D = r"\d{1,15}"
_AMOUNT = r"(\d{1,3}(?:,\d{3}){1,5}|" + _D + r")?(?:\.(" + _D + r"))?"
_GLUED = "|".join(sorted(GLUED_SCALES, key=len, reverse=True))
_SCALE = r"(?:(" + _GLUED + r")|\s(?i:(" + "|".join(SCALE_WORDS) + r")))"
_CURRENCY = re.compile(
    r"(?<![\w.,])([$£€¥])" + _AMOUNT
    + r"(?:(?:" + _GLUED + r")?" + _DASH + r"\1?"  # a range: "$5-10", "$5–$10", "$5k-10k"
    + r"(\d{1,3}(?:,\d{3}){1,5}|" + _D + r")(?:\.(" + _D + r"))?" + r")?"
    + _SCALE + r"?"
    + r"(?:/([A-Za-z]+))?"  # "$3.50/hour"
    + r"(?![\w])(?![.,]\d)"
)
_ISO_DATE = re.compile(_START + r"(\d{4})-(\d{2})-(\d{2})" + _END)  # (fixed lengths)
_SLASH_DATE = re.compile(_START + r"(\d{1,2})/(\d{1,2})/(\d{4})" + _END)
_PHONE = re.compile(
    _START + r"(?:\+?(1)[-.])?(?:(\d{3})[-.]|\((\d{3})\)-?)?(\d{3})([-.])(\d{4})" + _END
)
#: A phone number written in several words (read by :func:`normalize_words`, each written word
#: its own digits): North American, ten digits ("(555) 123-4567", "555 123 4567", "1 800 555
#: 0199", "+1 800 555 0199"), or "+" and another country code, then groups split by spaces, dashes
#: or dots, 8 to 15 digits in all ("+44 20 7946 0958", "+33 1 23 45 67 89", "+44-20-7946-0958").
_SPACED_PHONE = re.compile(
    _START + r"(?:(?:\+?1[ .-])?(?:\(\d{3}\)|\d{3})[ .-]\d{3}[ .-]\d{4}"
    r"|\+[2-9]\d{0,2}(?:[ .-](?:\(\d{1,4}\)|\d{1,8})){2,6})" + _END
)
_RANGE = re.compile(_START + r"(?<![-–])(" + _D + r"(?:\." + _D + r")?)" + _DASH + r"(" + _D + r"(?:\." + _D + r")?)"
                    + _END)
_YEAR = re.compile(r"(?<![\w.,$£€¥/:])(?<!\d[-–])(1\d)(\d)(\d)(s|['’]s)?" + _END)

# A bare number 1010-1999, or a range "1500-2000", read as a year or as a quantity by the words
# around it (_reads_as_quantity); a decade ("1500s") or "1990-95" is always a year.
_CANDIDATE = re.compile(_START + r"(?<!\d[-–])(1\d{3})(?:[-–](1\d{3}|20\d{2}))?(?!['’]s)" + _END)
_NUM = r"\d(?:[\d,.]*\d)?"  # not a clause's comma or full stop: "in 2008, and 1250 workers"
_JOIN = r"(?:to|and|or|through|thru|[-–—])"
#: "1200 to " before / " to 1500" after a number: a pair of numbers is read alike ("between 1200
#: and 1500 calories", "from 1990 to 1995"), so the words around the pair decide for both; so is
#: a list ", 1300 and 1500" ("1200, 1300 and 1500 grams").
_PAIR_AFTER = re.compile(r"\A(?:,\s*" + _NUM + r")*,?\s+" + _JOIN + r"\s+(" + _NUM + r")(?![\w])", re.I)
#: Words before a number that say it is a time, even before a plural ("since 1995 prices rose",
#: "May 1995 workers"): matched in lower case, except months (not the verbs "may", "march").
TIME_WORDS = frozenset("since until till during circa c. ca. year years born died spring summer autumn "
                       "winter ad a.d.".split())
#: Words right before a number that say it is a year even before a plural ("in 1995 prices
#: rose", "from 1990 to 1995 sales", "the 1995 elections", "at 1500 hours", "at 1990 prices"): a quantity after them
#: is read as a year too, which is harmless for round hundreds ("in 1500 cases": "15 hundred").
YEAR_CUES = frozenset("in from by before after the at".split())
#: Words before a number that count: "over 1200", "exactly 1400", "the first 1500".
COUNT_WORDS = frozenset("over under exactly only just all another every first last next additional "
                        "extra estimated".split())
#: Words that come before a year as often as before a quantity ("about 1850 the town grew",
#: "about 1500 people"): they decide nothing; after a preposition of time they are skipped ("in
#: about 1850", "since around 1995").
APPROXIMATORS = frozenset("about around approximately approx. roughly nearly almost some".split())
TIME_PREPOSITIONS = frozenset("in by to from since until till before after during".split()) | TIME_WORDS
_ERA_AFTER = re.compile(r"\A\s+(?:AD|A\.D\.|BC|B\.C\.|BCE|B\.C\.E\.|CE|C\.E\.)(?![\w])")
#: Words after the number that are counted or measured (a plural noun is found by its ending).
_COUNTED = (
    # irregular plurals and nouns that count as plurals
    "people men women children feet teeth mice geese sheep deer fish cattle staff personnel aircraft "
    # units (abbreviated, so not plural in form)
    "km m cm mm mi ft yd kg g mg lb oz l ml cc kcal cal kj kw kwh mw v hz khz mhz ghz kb mb gb tb px dpi "
    "rpm mph kph km/h hp bps sq "
    # units, money and spans of time written out (a verb or a label's noun they are not)
    "grams kilograms kilos milligrams tonnes tons pounds ounces metres meters kilometres kilometers "
    "centimetres centimeters millimetres millimeters miles yards inches acres hectares litres liters "
    "gallons calories kilocalories joules watts kilowatts volts degrees bytes kilobytes megabytes "
    "gigabytes pixels dollars euros cents yen yuan rupees francs seconds minutes days weeks months "
    "years decades centuries milliseconds "
    # scales and other counting words
    "hundred thousand million billion trillion dozen more fewer less extra additional odd per percent "
    "pct"
).split()
#: Words ending in "s" that are not plurals (and so do not say "a quantity": "1995 was").
_NOT_PLURAL = ("as was has does its yes always perhaps whereas besides towards afterwards nowadays "
               "sometimes hers ours yours theirs news series").split()
_COUNT_AFTER = re.compile(r"\A(?:\+|\s*[%‰°]|\s+(?:or\s+(?:so|more|fewer|less)(?![\w])|([^\W\d_][\w'’/-]*)))")

_DECADE = re.compile(r"(?<![\w.,$£€¥/:])(?:(20)(\d)0|['’]?([1-9])0)(?:s|['’]s)" + _END)


def _ordinal(n: int) -> str:
    """``27`` -> ``"27th"`` (espeak reads the ordinal)."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _year(century: str, tens: str, ones: str, plural: str | None = None) -> str | None:
    """A year 1010-1999 as spoken: ``"19", "9", "5"`` -> ``"19 95"``; ``"19 oh 5"``, ``"19
    hundred"``, ``"19 nineties"`` (with ``plural``); ``None`` for 1000-1009 ("one thousand
    and one" is not a year's reading)."""
    if century == "10" and tens == "0":
        return None
    if plural:
        return f"{century} {DECADES[tens]}" if ones == "0" else None
    if tens == "0":
        return f"{century} hundred" if ones == "0" else f"{century} oh {ones}"
    return f"{century} {tens}{ones}"


def _spoken_year(year: str) -> str:
    m = re.fullmatch(r"(1\d)(\d)(\d)", year)
    return (_year(*m.groups()) if m else None) or year


def _date(year: str, month: int, day: int) -> str | None:
    """``"November 27th, 2026"`` (the year read as a year), or ``None`` for an impossible date."""
    try:
        datetime.date(int(year), month, day)
    except ValueError:
        return None
    return f"{MONTHS[month - 1]} {_ordinal(day)}, {_spoken_year(year)}"


def _money(whole: str | None, frac: str | None, names: tuple[str, str, str, str], yen: bool) -> str:
    """One amount without its scale: ``"3", "50"`` -> ``"3 dollars 50 cents"``."""
    unit, units, sub, subs = names
    n = int(whole.replace(",", "")) if whole else 0
    if frac is not None and (len(frac) > 2 or yen):  # "$0.125", "¥1.5": the number, then the unit
        return f"{whole or 0}.{frac} {units}"
    cents = int(frac.ljust(2, "0")) if frac else 0
    words = []
    if n or not cents:
        words.append(f"{n:,} {unit if n == 1 else units}")  # "1,234": never read as a year
    if cents:
        words.append(f"{cents} {sub if cents == 1 else subs}")
    return " ".join(words)


def _currency(m: re.Match) -> str:
    symbol, whole, frac, whole2, frac2, glued, word, per = m.groups()
    if not (whole or frac) or (m.group(0).count(symbol) == 2 and not (whole2 or frac2)):
        return m.group(0)
    if not glued and not word and re.search(_GLUED, m.group(0).split("-")[0].split("–")[0][1:].lstrip("0123456789.,")):
        return m.group(0)  # "$5k-10" (a scale on the first amount only): left to espeak
    names = CURRENCIES[symbol]
    per = f" per {per}" if per else ""
    scale = GLUED_SCALES.get(glued or "") or (word or "").lower()
    two = whole2 is not None or frac2 is not None

    def num(w: str | None, f: str | None) -> str:  # "1,995": never read as a year afterwards
        return f"{int(w.replace(',', '')) if w else 0:,}{'.' + f if f else ''}"

    if scale:  # "$2.5m" -> "2.5 million dollars"; "$2-3bn" -> "2 to 3 billion dollars"
        amount = f"{num(whole, frac)} to {num(whole2, frac2)}" if two else num(whole, frac)
        return f"{amount} {scale} {names[1]}{per}"
    if two:  # "$5-10" -> "5 to 10 dollars"
        if frac or frac2:
            return f"{_money(whole, frac, names, symbol == '¥')} to {_money(whole2, frac2, names, symbol == '¥')}{per}"
        return f"{num(whole, None)} to {num(whole2, None)} {names[1]}{per}"
    return _money(whole, frac, names, symbol == "¥") + per


def _slash_date(m: re.Match) -> str:
    a, b, year = int(m.group(1)), int(m.group(2)), m.group(3)
    # Month first (as US English writes it) unless the first number cannot be a month.
    month, day = (b, a) if a > 12 else (a, b)
    return _date(year, month, day) or m.group(0)


def _iso_date(m: re.Match) -> str:
    return _date(m.group(1), int(m.group(2)), int(m.group(3))) or m.group(0)


def _phone(m: re.Match) -> str:
    country, area, area_paren, exchange, sep, line = m.groups()
    area = area or area_paren
    if not (area or country) and sep == "-" and exchange.endswith("0") and line.endswith("0"):
        return m.group(0)  # "200-1000", "250-1250" are ranges of round numbers, not phone numbers
    if not (area or country) and sep == ".":
        return m.group(0)  # "123.4567" is a decimal number
    groups = [g for g in (country, area, exchange, line) if g]
    return ", ".join(" ".join(PHONE_DIGITS.get(d, d) for d in g) for g in groups)


def _range(m: re.Match) -> str:
    a, b = m.groups()
    if re.fullmatch(r"1\d{3}", a) and re.fullmatch(r"\d{2}|1\d{3}|20\d{2}", b) and int(a) >= 1010:
        # "1990-95", "1990-1995", "1990-2005": years
        return f"{_spoken_year(a)} to {_spoken_year(b) if len(b) == 4 else b}"
    # other numbers are quantities: "300-1500 words" is not "three hundred to fifteen hundred"
    return " to ".join(f"{int(x):,}" if x.isdigit() else x for x in (a, b))


def _year_match(m: re.Match) -> str:
    return _year(*m.groups()) or m.group(0)


def _counted(word: str) -> int:
    """How surely ``word`` after a number says the number counts or measures: 2 for a word of
    :data:`_COUNTED` ("people", "km", "million") or a plural acronym ("GPUs"), 1 for a word that
    only looks plural ("calories", "workers", but also the verbs "marks", "remains"), else 0 (not
    "was", "class", "census", "crisis", "onwards" or "Smith's")."""
    w = word.lower()
    if w in _COUNTED or re.fullmatch(r"[A-Z\d]+s", word):  # "GPUs"
        return 2
    return int(w.endswith("s") and not w.endswith(("ss", "us", "is", "'s", "’s", "wards")) and len(w) > 2
               and w not in _NOT_PLURAL)


def _reads_as_quantity(before: str, after: str, *, one_word_range: bool = False) -> bool:
    """Whether a number 1010-1999 between the texts ``before`` and ``after`` is a quantity (left
    to espeak: "one thousand two hundred fifty") rather than a year ("twelve fifty"), as a
    reader decides from the words next to it:

    1. a word that says a time wins: "since", "until", "during", "circa", "year", "born", a month
       or a season before it ("since 1995 prices rose", "May 1995"), an era after it ("1500 BC"),
       or right before it one of :data:`YEAR_CUES` ("in 1995 prices rose", "the 1995 elections";
       "in about 1850": an approximator after a preposition of time is skipped);
    2. then a counting word before it: "over", "exactly", "more than", "at least", "the first" ...
       ("over 1200"; not "about" or "nearly": "about 1850 the town grew");
    3. then a counted word right after it (no punctuation between): a unit ("1500 km"), a scale
       ("1500 million"), a plural that does not end in s ("1250 people"), "more", "per",
       "percent", "or so", a glued "%" or "+"; or a word that looks plural ("1500 miles",
       "1999 dollars"), except where that may be a verb or a label's number: after the number
       starting a sentence ("1945 marks the end"), after a capitalised word inside a sentence
       ("Form 1040 instructions", "Flight 1492 departs") and after a range written as one word
       ("1939-1945 casualties");
    4. else a year: the commonest use of such a number in prose ("1995 was", "summer of 1969",
       "about 1850", "1995." at a sentence's end).

    A pair of numbers joined by "to", "and", "or" or a dash is read alike: the words around the
    pair decide ("between 1200 and 1500 calories", "from 1990 to 1995"), except that a pair whose
    other number cannot be a year (outside 1000-2099, or with decimals) is a quantity ("from 800
    to 1250 dollars"). Only a few words on either side matter (:func:`normalize_words` gives each
    word :data:`CONTEXT_WORDS` written words each side)."""
    # the words before it, last first (none where punctuation is glued to it: "(1500")
    words = before.split()[::-1] if before[-1:].isspace() else []
    partner = None
    listed = lambda k: len(words) > k and re.fullmatch(_NUM + ",", words[k])  # noqa: E731 - "1200,"
    if len(words) >= 2 and re.fullmatch(_JOIN, words[0], re.I) and (
            re.fullmatch(_NUM, words[1]) or (listed(1) and listed(2))):  # "1300 and", "1200, 1300, and"
        partner, words = words[1].rstrip(","), words[2:]  # "1200 to 1500": the words before 1200
    pair = _PAIR_AFTER.match(after)
    if pair:
        partner = partner or pair.group(1)
        after = after[pair.end():]  # "1200 to 1500", "1200, 1300 and 1500": the words after the last
    if partner is not None:
        while listed(0):  # the earlier items of a list: "1200, 1300 and 1500"
            words = words[1:]
    if partner is not None and ("." in partner or not 1000 <= int(partner.replace(",", "")) <= 2099) and (
            not partner.startswith("0")):  # (not "between 0900 and 1700 hours")
        return True  # "from 800 to 1250", "1250 or 2500 people": not a pair of years
    w1, w0 = (words + ["", ""])[:2]
    l0, l1 = w0.lower(), w1.lower()
    if l1 in APPROXIMATORS and l0 in TIME_PREPOSITIONS:  # "in about 1850", "since around 1995"
        w1, l1, w0, l0 = w0, l0, "", ""
    if _is_time_word(w1) or l1 in YEAR_CUES or _ERA_AFTER.match(after):
        return False
    if (l1 in COUNT_WORDS or (l1 == "than" and l0 in ("more", "fewer", "less", "greater"))
            or (l1 in ("least", "most") and l0 == "at")):
        return True
    m = _COUNT_AFTER.match(after)
    if not m:
        return False
    counted = 2 if m.group(1) is None else _counted(m.group(1).rstrip("'’-"))
    if counted != 1:
        return counted == 2
    # a word that only looks plural: not after a label ("Flight 1492 departs") or at a sentence's start
    sentence_start = not words or re.search(r"[.!?][\"'’”)]*$", w1) is not None
    # a capitalised word names something ("Form 1040", "Route 1495 connects"), unless it is a
    # word that comes before counts anyway, starting a sentence ("Some 1250 workers", "Her 1250 fans")
    label = w1[:1].isupper() and l1 not in APPROXIMATORS | COUNT_WORDS | _DETERMINERS
    return not (sentence_start or label or one_word_range)


#: Words that start a sentence before a count as easily as anything ("Those 1250 employees").
_DETERMINERS = frozenset("the a an all those these this that her his our their my your its any each both "
                         "of out and but or so yet with than if when while".split())


def _is_time_word(word: str) -> bool:
    """Whether ``word`` before a number says it is a time (:data:`TIME_WORDS`, a month: "May",
    "Jan.")."""
    return (word.lower() in TIME_WORDS or word in MONTHS
            or word.rstrip(".") in {m[:3] for m in MONTHS} | {"Sept"})


def _quantities(text: str, before: str = "", after: str = "") -> str:
    """``text`` with each number 1010-1999 that its neighbours say is a quantity written with a
    thousands comma ("1,250", "1,500 to 2,000"), which no later rule reads as a year. ``before``
    and ``after``: the written text around ``text`` (for one written word, its neighbours)."""

    def repl(m: re.Match) -> str:
        a, b = m.group(1), m.group(2)
        if int(a) < 1010:
            return m.group(0)
        left = f"{before} {text[:m.start()]}" if before else text[:m.start()]
        right = f"{text[m.end():]} {after}" if after else text[m.end():]
        if not _reads_as_quantity(left, right, one_word_range=b is not None):
            return m.group(0)
        return f"{int(a):,} to {int(b):,}" if b else f"{int(a):,}"

    return _CANDIDATE.sub(repl, text)


def _decade(m: re.Match) -> str:
    century, tens, short = m.groups()
    if short:  # "the '90s", "the 90s"
        return DECADES[short]
    return "2 thousands" if tens == "0" else f"{century} {DECADES[tens]}"  # "the 2000s", "the 2020s"


def _rewrite(text: str, before: str = "", after: str = "") -> str:
    """The rules of :func:`normalize_english` applied to ``text`` (one written word, or an
    amount and its scale word); ``before`` and ``after``: the written words around it."""
    if not any(ch.isdigit() for ch in text):
        return text
    text = _quantities(text, before, after)
    text = _CURRENCY.sub(_currency, text)
    text = _ISO_DATE.sub(_iso_date, text)
    text = _SLASH_DATE.sub(_slash_date, text)
    text = _PHONE.sub(_phone, text)
    text = _RANGE.sub(_range, text)
    text = _DECADE.sub(_decade, text)
    return _YEAR.sub(_year_match, text)


def normalize_english(text: str) -> str:
    """``text`` with amounts of money, years, dates, phone numbers and number ranges written as
    espeak should read them (see the module's docstring): the words of :func:`normalize_words`,
    with ``text``'s own spacing. Text without such forms is returned unchanged.

    Examples:
        >>> normalize_english("It costs $3.50, up from £2 in 1995.")
        'It costs 3 dollars 50 cents, up from 2 pounds in 19 95.'
        >>> normalize_english("Call 555-1234 before 2026-11-27, not in the 1990s.")
        'Call 5 5 5, 1 2 3 4 before November 27th, 2026, not in the 19 nineties.'
        >>> normalize_english("About 1250 people came in 1250.")
        'About 1,250 people came in 12 50.'
    """
    if not any(ch.isdigit() for ch in text):
        return text
    spoken = iter(normalize_words(text.split()))
    return re.sub(r"\S+", lambda m: next(spoken), text)


_MONEY_WORD = re.compile(r"[$£€¥]" + _AMOUNT)
#: Written words of context each side that decide a number's reading (:func:`_reads_as_quantity`).
CONTEXT_WORDS = 4


def normalize_words(words: list[str]) -> list[str]:
    """The spoken form of each written word: the word alone normalised, except that

    - a number 1010-1999 is read as a year or as a quantity by the written words around it
      ("about 1250 people": ``"1,250"``, "in 1250": ``"12 50"``; :func:`_reads_as_quantity`);
    - an amount of money followed by a scale word ("$3 billion"), which is read "3 billion
      dollars": the amount's word becomes ``"3"`` and the scale word ``"billion dollars"``, so
      that word-by-word phonemes come in the spoken order;
    - a phone number written in several words ("(555) 123-4567") is read digit by digit, each
      written word its own digits: ``"5 5 5,"`` and ``"1 2 3, 4 5 6 7"``.

    :func:`normalize_english` of the words joined by spaces is the words returned joined by spaces.

    Examples:
        >>> normalize_words(["It", "cost", "$3", "billion.", "In", "1995"])
        ['It', 'cost', '3', 'billion dollars.', 'In', '19 95']
        >>> normalize_words(["Call", "(555)", "123-4567."])
        ['Call', '5 5 5,', '1 2 3, 4 5 6 7.']
    """
    n = CONTEXT_WORDS
    out = [_rewrite(w, " ".join(words[max(0, i - n):i]), " ".join(words[i + 1:i + 1 + n])) for i, w in enumerate(words)]
    for i in range(len(words) - 1):
        nxt = words[i + 1]
        core = nxt.rstrip(".,;:!?)\"'’”")
        if core.lower() not in SCALE_WORDS or not _MONEY_WORD.fullmatch(words[i]):
            continue
        full = _rewrite(f"{words[i]} {core}")
        cut = full.lower().rfind(f" {core.lower()} ")
        if cut > 0:
            out[i], out[i + 1] = full[:cut], full[cut + 1:] + nxt[len(core):]
    _spaced_phones(words, out)
    return out


def _spaced_phones(words: list[str], out: list[str]) -> None:
    """Each written word of a phone number in several words (:data:`_SPACED_PHONE`) in ``out``
    as its digits read one by one, a comma between groups: "+44" "20" "7946" "0958." -> "4 4,"
    "2 oh," "7 9 4 6," "oh 9 5 8."."""
    text = " ".join(words)
    if not any(ch.isdigit() for ch in text):
        return
    starts, pos = [], 0
    for w in words:
        starts.append(pos)
        pos += len(w) + 1
    for m in _SPACED_PHONE.finditer(text):
        written = m.group(0)
        groups = re.findall(r"\d+", written)
        if " " not in written and not written.startswith("+"):
            continue  # one word: the word rules read it ("555-123-4567")
        if not written.startswith(("+", "(")) and groups[-2].endswith("0") and groups[-1].endswith("0"):
            continue  # "100 250 1000": round numbers, not a phone number
        if written.startswith("+") and not 8 <= sum(map(len, groups)) <= 15:
            continue
        following = re.match(r"\s+([^\W\d_][\w'’]*)", text[m.end():])
        if following and _counted(following.group(1)):
            continue  # "128 256 1024 bytes": numbers of something, not a phone number
        first = bisect.bisect_right(starts, m.start()) - 1
        last = bisect.bisect_left(starts, m.end()) - 1
        for k in range(first, last + 1):
            w, s = words[k], starts[k]
            lo, hi = max(m.start(), s) - s, min(m.end(), s + len(w)) - s
            digits = ", ".join(" ".join(PHONE_DIGITS.get(d, d) for d in g) for g in re.findall(r"\d+", w[lo:hi]))
            out[k] = w[:lo] + digits + ("," if k < last else "") + w[hi:]
