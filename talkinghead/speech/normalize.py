"""English text normalisation: the written forms espeak reads wrongly, rewritten as spoken words.

espeak (Piper's phonemizer, and the phonemizer that aligns a user's recording) reads numbers well
but reads some written forms as they are written: "$3.50" as "dollar three point five zero",
"£20" as "pound twenty", "1995" as "nineteen hundred ninety-five", "the 1990s" as "nineteen
hundred ninety z", "2026-11-27" as "two thousand twenty-six dash eleven dash twenty-seven" and
"555-1234" as "five hundred fifty-five dash one thousand two hundred thirty-four".
:func:`normalize_english` rewrites those forms into words and digits that espeak then reads as
a person would: "3 dollars 50 cents", "20 pounds", "19 95", "the 19 nineties", "November 27th,
2026", "5 5 5, 1 2 3 4". The numbers themselves are left to espeak.

Every rule looks at one written word alone (no context from its neighbours), so a word
normalised on its own is read the same as inside its sentence: the word timing and subtitles,
which count the phonemes of each written word (:meth:`PiperSpeaker._word_counts
<talkinghead.speech.piper.PiperSpeaker._word_counts>`), keep the text as written ("$3.50" is
one subtitle word spoken as four).

Not handled (read by espeak as written): dates with two-digit years or without a year
("11/27"), currencies other than $, £, € and ¥, and numbers in other languages' conventions
(this applies to English voices only).
"""

from __future__ import annotations

import re

#: Currency symbol -> (unit, units, subunit, subunits).
CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "sen", "sen"),
}
#: Scale words after an amount ("$2.5m", "£3 billion"), as spoken.
SCALES = {
    "k": "thousand", "K": "thousand", "thousand": "thousand",
    "m": "million", "M": "million", "mn": "million", "million": "million",
    "b": "billion", "B": "billion", "bn": "billion", "billion": "billion",
    "t": "trillion", "T": "trillion", "tn": "trillion", "trillion": "trillion",
}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
#: The decade of a year written "1990s", as spoken after its century ("19 nineties").
DECADES = {"0": "hundreds", "1": "tens", "2": "twenties", "3": "thirties", "4": "forties", "5": "fifties",
           "6": "sixties", "7": "seventies", "8": "eighties", "9": "nineties"}

_NO_DIGIT_BEFORE = r"(?<![\w.,$£€¥/:-])"
_NO_DIGIT_AFTER = r"(?![\w/:]|[.,-]\d)"
_AMOUNT = r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?"
_CURRENCY = re.compile(
    r"(?<![\w.,])([$£€¥])" + _AMOUNT + r"(?:\s?(" + "|".join(sorted(SCALES, key=len, reverse=True)) + r")\b)?"
    r"(?!\w|[.,]\d)"  # "$3.50/hour" and "$3.50." are amounts; "$3.50.1" is not
)
_ISO_DATE = re.compile(_NO_DIGIT_BEFORE + r"(\d{4})-(\d{2})-(\d{2})" + _NO_DIGIT_AFTER)
_SLASH_DATE = re.compile(_NO_DIGIT_BEFORE + r"(\d{1,2})/(\d{1,2})/(\d{4})" + _NO_DIGIT_AFTER)
_PHONE = re.compile(_NO_DIGIT_BEFORE + r"(?:(\d{3})-)?(\d{3})-(\d{4})" + _NO_DIGIT_AFTER)
_YEAR = re.compile(_NO_DIGIT_BEFORE + r"(1\d)(\d)(\d)(s|'s)?" + _NO_DIGIT_AFTER)


def _ordinal(n: int) -> str:
    """``27`` -> ``"27th"`` (espeak reads the ordinal)."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _year(century: str, tens: str, ones: str, plural: str | None) -> str:
    """A year 1001-1999 as spoken: ``"19", "9", "5"`` -> ``"19 95"``; ``"19 oh 5"``, ``"19
    hundred"``, ``"19 nineties"`` (with ``plural``); 1000 stays a thousand."""
    if century == "10" and tens == ones == "0":
        return f"1000{plural or ''}"
    if plural:
        return f"{century} {DECADES[tens]}" if ones == "0" else f"{century} {tens}{ones}{plural}"
    if tens == "0":
        return f"{century} hundred" if ones == "0" else f"{century} oh {ones}"
    return f"{century} {tens}{ones}"


def _date(year: str, month: int, day: int) -> str | None:
    """``"November 27th, 2026"`` (the year read as a year), or ``None`` for an impossible date."""
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    m = _YEAR.fullmatch(year)
    spoken_year = _year(*m.groups()) if m else year
    return f"{MONTHS[month - 1]} {_ordinal(day)}, {spoken_year}"


def _currency(m: re.Match) -> str:
    symbol, whole, frac, scale = m.groups()
    unit, units, sub, subs = CURRENCIES[symbol]
    if scale:  # "$2.5m" -> "2.5 million dollars"
        return f"{whole}{'.' + frac if frac else ''} {SCALES[scale]} {units}"
    n = int(whole.replace(",", ""))
    if frac is not None and len(frac) > 2:  # "$0.125": read the number, then the unit
        return f"{whole}.{frac} {units}"
    cents = int(frac.ljust(2, "0")) if frac else 0
    words = []
    if n or not cents:
        words.append(f"{whole} {unit if n == 1 else units}")
    if cents and symbol != "¥":
        words.append(f"{cents} {sub if cents == 1 else subs}")
    elif cents:
        words = [f"{whole}.{frac} {units}"]
    return " ".join(words)


def _slash_date(m: re.Match) -> str:
    a, b, year = int(m.group(1)), int(m.group(2)), m.group(3)
    # Month first (as US English writes it) unless the first number cannot be a month.
    month, day = (b, a) if a > 12 else (a, b)
    return _date(year, month, day) or m.group(0)


def _iso_date(m: re.Match) -> str:
    return _date(m.group(1), int(m.group(2)), int(m.group(3))) or m.group(0)


def _phone(m: re.Match) -> str:
    return ", ".join(" ".join(g) for g in m.groups() if g)


def normalize_english(text: str) -> str:
    """``text`` with amounts of money, years, dates and phone numbers written as espeak should
    read them (see the module's docstring). Text without such forms is returned unchanged.

    Examples:
        >>> normalize_english("It costs $3.50, up from £2 in 1995.")
        'It costs 3 dollars 50 cents, up from 2 pounds in 19 95.'
        >>> normalize_english("Call 555-1234 before 2026-11-27.")
        'Call 5 5 5, 1 2 3 4 before November 27th, 2026.'
    """
    if not any(ch.isdigit() for ch in text):
        return text
    text = _CURRENCY.sub(_currency, text)
    text = _ISO_DATE.sub(_iso_date, text)
    text = _SLASH_DATE.sub(_slash_date, text)
    text = _PHONE.sub(_phone, text)
    return _YEAR.sub(lambda m: _year(*m.groups()), text)
