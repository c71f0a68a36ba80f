"""Which way up a face photo is.

A photo taken with the phone on its side and saved without an EXIF orientation tag (or with the
tag stripped) shows the face lying sideways or upside down. MediaPipe's face mesh still fits an
*upright* face to it (an upside-down face gets its nose and chin drawn on the forehead), and the
rebuilt mouth is a smear. The face detector (BlazeFace, short range) is much less sure of a face
that is not upright, so the photo is scored in its four quarter turns and turned to the one the
detector is clearly surest of.

Measured (detector confidence, as given / turned 90 clockwise / 180 / 90 counter-clockwise): the
bundled astronaut 0.92 / 0.77 / 0.65 / 0.79; the same photo upside down 0.65 / 0.79 / 0.92 / 0.77;
seven upright photos of other people (dark, turned head, painting, two faces, tilted by 20
degrees) all surest as given, by 0.03-0.35.

* :func:`upright_turns` - the clockwise quarter turns that make a photo's face upright.
* :func:`upright_face` - a face photo turned upright (a cached copy), or the photo itself.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..fileio import atomic_path, cache_folder_usable, cache_root, file_sha256, private_temp_folder

log = logging.getLogger(__name__)

#: A quarter turn is taken only when the detector is surer of it than of the photo as given by at
#: least this much (confidence in [0, 1]) and at least :data:`MIN_CONFIDENCE` sure: an upright
#: photo is never turned on a near tie (a head tilted 20 degrees scored 0.90 as given, 0.87 turned).
ORIENTATION_MARGIN = 0.1
MIN_CONFIDENCE = 0.5
#: The photo is scored at this size (longer side, pixels): the short-range detector expects a face
#: that fills a good part of the picture.
SCORE_SIDE = 512


def upright_turns(image_rgb: np.ndarray) -> int:
    """Clockwise quarter turns (0-3) that make the face in a photo upright; 0 when the detector
    is not clearly surer of another turn (or finds no face in any).

    Args:
        image_rgb: ``(H, W, 3)`` uint8 RGB.
    """
    import cv2
    import mediapipe as mp

    from .tracking import _native_stderr_silenced

    img = np.asarray(image_rgb)
    h, w = img.shape[:2]
    f = SCORE_SIDE / max(h, w)
    if f < 1:
        img = cv2.resize(img, (max(int(w * f), 1), max(int(h * f), 1)), interpolation=cv2.INTER_AREA)
    turns = [None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE]
    scores = []
    with _native_stderr_silenced(), mp.solutions.face_detection.FaceDetection(
            model_selection=0, min_detection_confidence=0.05) as det:
        for t in turns:
            x = img if t is None else np.ascontiguousarray(cv2.rotate(img, t))
            res = det.process(x)
            scores.append(max((d.score[0] for d in (res.detections or [])), default=0.0))
    best = int(np.argmax(scores))
    if best and scores[best] >= MIN_CONFIDENCE and scores[best] - scores[0] >= ORIENTATION_MARGIN:
        return best
    return 0


def cache_dir() -> Path:
    """``$TALKINGHEAD_CACHE/upright`` or ``~/.cache/talkinghead/upright``."""
    return cache_root() / "upright"


def upright_face(path: str | os.PathLike, *, cache: bool = True) -> Path:
    """A face photo turned upright when it lies sideways or upside down (:func:`upright_turns`).

    Args:
        path: a still image (or one-frame video), EXIF orientation already honoured by reading.
        cache: reuse a copy made earlier.

    Returns:
        ``path`` itself when it is upright; otherwise a PNG copy turned upright (the output video
        is then upright too), with a warning saying so.
    """
    import cv2

    from ..media import load_frames

    p = Path(path)
    img = load_frames(p, max_frames=1)[0]
    k = upright_turns(img)
    if k == 0:
        return p
    degrees = {1: "90 degrees clockwise", 2: "180 degrees", 3: "90 degrees counter-clockwise"}[k]
    log.warning("the face in %s is %s: the photo is turned %s so that it is upright (the video will "
                "be upright)", p.name, "upside down" if k == 2 else "lying on its side", degrees)
    name = f"{file_sha256(p)[:32]}-r{90 * k}.png"
    out = cache_dir() / name
    if cache and out.exists():
        return out
    if not cache or not cache_folder_usable(out.parent):
        out = private_temp_folder("talkinghead-upright-") / name
    turned = cv2.rotate(img, [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE][k - 1])
    with atomic_path(out) as tmp:
        cv2.imwrite(str(tmp), cv2.cvtColor(turned, cv2.COLOR_RGB2BGR))
    return out
