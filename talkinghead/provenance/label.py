"""Visible "AI-generated" label drawn on the frames (on request).

The label is white text on a semi-transparent dark box in the corner of the frame farthest from
the face, sized from the frame (text height ~4 % of the frame's short side, at least 11 px),
with OpenCV's Hershey font (ASCII only: other characters are replaced by ``?``).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

DEFAULT_TEXT = "AI-generated video"

#: Corners in the order tried when several are equally far from the face.
CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")


def face_box_from_landmarks(landmarks_px: np.ndarray) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` pixel box around ``(478, 2+)`` landmarks."""
    lm = np.asarray(landmarks_px, dtype=np.float64)[:, :2]
    lo, hi = np.nanmin(lm, axis=0), np.nanmax(lm, axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def label_layout(
    frame_hw: tuple[int, int],
    text: str,
    face_box: tuple[float, float, float, float] | None,
) -> tuple[tuple[int, int, int, int], str, float, int]:
    """Where the label goes: ``((x0, y0, x1, y1) box, corner, font scale, thickness)``.

    The corner is the one whose box overlaps the face box least, then is farthest from the
    face's centre (ties in :data:`CORNERS` order).
    """
    import cv2

    h, w = frame_hw
    short = min(h, w)
    font = cv2.FONT_HERSHEY_SIMPLEX
    target = max(11.0, 0.04 * short)  # cap height in px
    (tw, th), _ = cv2.getTextSize(text, font, 1.0, 1)
    scale = target / max(th, 1)
    thick = max(1, int(round(scale * 1.6)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    pad = max(3, int(round(0.35 * th)))
    bw, bh = tw + 2 * pad, th + base + 2 * pad
    if bw > 0.95 * w:  # shrink to fit the width
        scale *= 0.95 * w / bw
        thick = max(1, int(round(scale * 1.6)))
        (tw, th), base = cv2.getTextSize(text, font, scale, thick)
        pad = max(2, int(round(0.35 * th)))
        bw, bh = tw + 2 * pad, th + base + 2 * pad
    margin = max(4, int(round(0.02 * short)))
    boxes = {
        "top-left": (margin, margin),
        "top-right": (w - margin - bw, margin),
        "bottom-left": (margin, h - margin - bh),
        "bottom-right": (w - margin - bw, h - margin - bh),
    }

    def cost(corner: str) -> tuple[float, float, int]:
        x0, y0 = boxes[corner]
        if face_box is None:
            return (0.0, 0.0, CORNERS.index(corner))
        fx0, fy0, fx1, fy1 = face_box
        ix = max(0.0, min(x0 + bw, fx1) - max(x0, fx0))
        iy = max(0.0, min(y0 + bh, fy1) - max(y0, fy0))
        dist = np.hypot(x0 + bw / 2 - (fx0 + fx1) / 2, y0 + bh / 2 - (fy0 + fy1) / 2)
        return (ix * iy, -float(dist), CORNERS.index(corner))

    corner = min(CORNERS, key=cost)
    x0, y0 = boxes[corner]
    return (int(x0), int(y0), int(x0 + bw), int(y0 + bh)), corner, float(scale), int(thick)


def draw_label(
    frame: np.ndarray,
    text: str = DEFAULT_TEXT,
    face_box: tuple[float, float, float, float] | None = None,
    *,
    opacity: float = 0.6,
) -> np.ndarray:
    """Draw the visible label on a frame.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB frame (not modified).
        text: the label (ASCII; default ``"AI-generated video"``).
        face_box: ``(x0, y0, x1, y1)`` of the face in pixels (see
            :func:`face_box_from_landmarks`), or None (bottom-right corner).
        opacity: opacity of the dark backing box, 0-1.

    Returns:
        The labelled frame, ``(H, W, 3)`` uint8 (a new array).
    """
    import cv2

    f = np.asarray(frame)
    if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
        raise InputError(f"frame must be RGB uint8 (H, W, 3), got {f.shape} {f.dtype}")
    if not text.strip():
        raise InputError("the label text is empty")
    text = text.encode("ascii", "replace").decode("ascii")
    (x0, y0, x1, y1), _, scale, thick = label_layout(f.shape[:2], text, face_box)
    out = f.copy()
    x0c, y0c, x1c, y1c = max(x0, 0), max(y0, 0), min(x1, f.shape[1]), min(y1, f.shape[0])
    roi = out[y0c:y1c, x0c:x1c].astype(np.float32)
    out[y0c:y1c, x0c:x1c] = np.clip(roi * (1.0 - opacity), 0, 255).astype(np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    pad_x = (x1 - x0 - tw) // 2
    org = (x0 + pad_x, y1 - (y1 - y0 - th - base) // 2 - base)
    cv2.putText(out, text, org, font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out
