"""English text normalisation: the written forms espeak reads wrongly, rewritten as spoken words.

espeak (Piper's phonemizer, and the phonemizer that aligns a user's recording) reads numbers well
but reads some written forms as they are written: "$3.50" as "dollar three point five zero",
"£20" as "pound twenty", "1995" as "nineteen hundred ninety-five", "the 1990s" as "nineteen
hundred ninety z", "2026-11-27" as "two thousand twenty-six dash eleven dash twenty-seven",
"555-1234" as "five hundred fifty-five dash one thousand two hundred thirty-four" and "5-10" as
"five dash ten". :func:`normalize_english` rewrites those forms into words and digits that espeak
then reads as a person would: "3 dollars 50 cents", "20 pounds", "19 95", "the 19 nineties",
"November 27th, 2026", "5 5 5, 1 2 3 4", "5 to 10". The numbers themselves are left to espeak.

Every rule looks at one written word alone (no context from its neighbours; the one exception is
a scale word after an amount, "$3 billion", read "3 billion dollars", which
:func:`normalize_words` gives word by word as "3" and "billion dollars"), so a word normalised on
its own is read the same as inside its sentence: the word timing and subtitles, which count the
phonemes of each written word (:meth:`PiperSpeaker._word_counts
<talkinghead.speech.piper.PiperSpeaker._word_counts>`), keep the text as written ("$3.50" is one
subtitle word spoken as four).

A bare four-digit number from 1010 to 1999 is read as a year ("1250 people": "twelve fifty
people"; write "1,250"). Not handled (read by espeak as written): dates with a two-digit year or
without a year ("11/27"), phone numbers written with spaces ("(555) 123-4567") or of other
countries' formats, currencies other than $, £, € and ¥, and other languages (this applies to
English voices only).
"""

from __future__ import annotations

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
_RANGE = re.compile(_START + r"(?<![-–])(" + _D + r"(?:\." + _D + r")?)" + _DASH + r"(" + _D + r"(?:\." + _D + r")?)"
                    + _END)
_YEAR = re.compile(r"(?<![\w.,$£€¥/:])(?<!\d[-–])(1\d)(\d)(\d)(s|['’]s)?" + _END)
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


def _decade(m: re.Match) -> str:
    century, tens, short = m.groups()
    if short:  # "the '90s", "the 90s"
        return DECADES[short]
    return "2 thousands" if tens == "0" else f"{century} {DECADES[tens]}"  # "the 2000s", "the 2020s"


def normalize_english(text: str) -> str:
    """``text`` with amounts of money, years, dates, phone numbers and number ranges written as
    espeak should read them (see the module's docstring). Text without such forms is returned
    unchanged.

    Examples:
        >>> normalize_english("It costs $3.50, up from £2 in 1995.")
        'It costs 3 dollars 50 cents, up from 2 pounds in 19 95.'
        >>> normalize_english("Call 555-1234 before 2026-11-27, not in the 1990s.")
        'Call 5 5 5, 1 2 3 4 before November 27th, 2026, not in the 19 nineties.'
    """
    if not any(ch.isdigit() for ch in text):
        return text
    text = _CURRENCY.sub(_currency, text)
    text = _ISO_DATE.sub(_iso_date, text)
    text = _SLASH_DATE.sub(_slash_date, text)
    text = _PHONE.sub(_phone, text)
    text = _RANGE.sub(_range, text)
    text = _DECADE.sub(_decade, text)
    return _YEAR.sub(_year_match, text)


_MONEY_WORD = re.compile(r"[$£€¥]" + _AMOUNT)


def normalize_words(words: list[str]) -> list[str]:
    """The spoken form of each written word (:func:`normalize_english` of the word alone), except
    an amount of money followed by a scale word ("$3 billion"), which :func:`normalize_english`
    reads "3 billion dollars": the amount's word becomes ``"3"`` and the scale word ``"billion
    dollars"``, so that word-by-word phonemes come in the spoken order.

    Examples:
        >>> normalize_words(["It", "cost", "$3", "billion.", "In", "1995"])
        ['It', 'cost', '3', 'billion dollars.', 'In', '19 95']
    """
    out = [normalize_english(w) for w in words]
    for i in range(len(words) - 1):
        nxt = words[i + 1]
        core = nxt.rstrip(".,;:!?)\"'’”")
        if core.lower() not in SCALE_WORDS or not _MONEY_WORD.fullmatch(words[i]):
            continue
        full = normalize_english(f"{words[i]} {core}")
        cut = full.lower().rfind(f" {core.lower()} ")
        if cut > 0:
            out[i], out[i + 1] = full[:cut], full[cut + 1:] + nxt[len(core):]
    return out
