"""Viseme stage: phoneme timeline -> per-frame mouth parameters (with coarticulation)."""

from .coarticulation import visemes_from_speech, visemes_from_timeline
from .inventory import CLASSES, VISEMES, classify
from .types import MOUTH_PARAMS, VisemeTrack

__all__ = ["CLASSES", "MOUTH_PARAMS", "VISEMES", "VisemeTrack", "classify", "visemes_from_speech", "visemes_from_timeline"]
