"""Speech stage: text (or a recording and its transcript) -> audio + phoneme timeline."""

from .types import SILENCE, PhonemeInterval, Speech, WordInterval

__all__ = ["SILENCE", "PhonemeInterval", "Speech", "WordInterval"]
