"""Limits of the user options, in one place (ranges, seeds, pauses, turns)."""


from __future__ import annotations

from typing import Any

#: Largest seed (onnxruntime and numpy seed with a signed 64-bit integer).
MAX_SEED = 2**63 - 1
#: The longest pause (seconds) a script or an option may ask for.
MAX_PAUSE = 60.0
#: The smallest ``max_side`` accepted (pixels): a face in a smaller frame is too small to track.
MIN_MAX_SIDE = 128
#: Output frame rates (frames per second) and x264 quality accepted.
FPS_RANGE = (1.0, 120.0)
CRF_RANGE = (0, 51)
#: Speaking rates accepted (1.0 = the voice's own pace).
RATE_RANGE = (0.25, 4.0)
#: Largest step count or face index accepted.
MAX_COUNT = 1_000_000
#: Turns of a face file accepted, clockwise degrees (``None``: decided by the face detector).
TURN_DEGREES = (0, 90, 180, 270)


def parse_turn(turn: Any) -> int | None:
    """A turn as clockwise degrees (:data:`TURN_DEGREES`), or ``None`` for ``"auto"``.

    Raises:
        ValueError: any other value.
    """
    if turn is None or (isinstance(turn, str) and turn.strip().lower() == "auto"):
        return None
    try:
        value = int(str(turn).strip()) if not isinstance(turn, bool) else None
    except ValueError:
        value = None
    if value not in TURN_DEGREES:
        raise ValueError(turn)
    return value
