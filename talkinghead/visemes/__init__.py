"""Viseme stage: phoneme timeline -> per-frame mouth parameters."""

from .types import MOUTH_PARAMS, VisemeTrack

__all__ = ["MOUTH_PARAMS", "VisemeTrack"]
