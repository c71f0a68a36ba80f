"""Which way up a face photo or video is.

A photo or video taken with the phone on its side and saved without an EXIF orientation tag or a
rotation in its metadata (or with it stripped) shows the face lying sideways or upside down. MediaPipe's face mesh still fits an
*upright* face to it (an upside-down face gets its nose and chin drawn on the forehead), and the
rebuilt mouth is a smear. The face detector (BlazeFace, short range) is much less sure of a face
that is not upright, so the photo is scored in its four quarter turns and turned to the one the
detector is clearly surest of (a video: the scores of three frames of its first two seconds,
averaged, and the whole video turned).

Measured (detector confidence, as given / turned 90 clockwise / 180 / 90 counter-clockwise): the
bundled astronaut 0.92 / 0.77 / 0.65 / 0.79; the same photo upside down 0.65 / 0.79 / 0.92 / 0.77;
seven upright photos of other people (dark, turned head, painting, two faces, tilted by 20
degrees) all surest as given, by 0.03-0.35.

* :func:`turn_scores` - the detector's confidence in each quarter turn of a picture.
* :func:`upright_turns` - the clockwise quarter turns that make a photo's face upright.
* :func:`upright_face` - a face photo or video turned upright (a cached copy), or the file itself.
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
#: A video is scored on this many frames, evenly spaced over its first :data:`VIDEO_SCORE_SECONDS`.
VIDEO_SCORE_FRAMES = 3
VIDEO_SCORE_SECONDS = 2.0
#: ffmpeg filters for 1, 2 and 3 clockwise quarter turns.
TURN_FILTERS = {1: "transpose=clock", 2: "hflip,vflip", 3: "transpose=cclock"}


def upright_turns(image_rgb: np.ndarray) -> int:
    """Clockwise quarter turns (0-3) that make the face in a photo upright; 0 when the detector
    is not clearly surer of another turn (or finds no face in any).

    Args:
        image_rgb: ``(H, W, 3)`` uint8 RGB.
    """
    return _decide(turn_scores(image_rgb))


def _decide(scores: np.ndarray) -> int:
    """The turn to take given the four scores (see :data:`ORIENTATION_MARGIN`)."""
    best = int(np.argmax(scores))
    if best and scores[best] >= MIN_CONFIDENCE and scores[best] - scores[0] >= ORIENTATION_MARGIN:
        return best
    return 0


def turn_scores(image_rgb: np.ndarray) -> np.ndarray:
    """The face detector's highest confidence (0-1) in a picture as given and turned 90, 180 and
    270 degrees clockwise: shape ``(4,)``, float.

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
    return np.asarray(scores, dtype=float)


def video_upright_turns(path: str | os.PathLike, info=None) -> int:
    """Clockwise quarter turns (0-3) that make the face in a video upright: :func:`turn_scores` of
    :data:`VIDEO_SCORE_FRAMES` frames evenly spaced over its first :data:`VIDEO_SCORE_SECONDS`,
    averaged, decided as for a photo.
    """
    from ..media import probe, read_frames

    info = info if info is not None else probe(path)
    span = max(1, min(info.n_frames, int(round(VIDEO_SCORE_SECONDS * max(info.fps, 1.0)))))
    picks = set(np.linspace(0, span - 1, VIDEO_SCORE_FRAMES).round().astype(int).tolist())
    scores = [turn_scores(f) for i, f in enumerate(read_frames(path, info=info, max_frames=span)) if i in picks]
    return _decide(np.mean(scores, axis=0)) if scores else 0


def cache_dir() -> Path:
    """``$TALKINGHEAD_CACHE/upright`` or ``~/.cache/talkinghead/upright``."""
    return cache_root() / "upright"


def upright_face(path: str | os.PathLike, *, cache: bool = True, progress: bool = False) -> Path:
    """A face photo or video turned upright when it lies sideways or upside down
    (:func:`upright_turns`, :func:`video_upright_turns`).

    Args:
        path: a still image (or one-frame video) or a video, EXIF orientation and rotation
            metadata already honoured by reading.
        cache: reuse a copy made earlier.
        progress: a progress bar while a video is turned.

    Returns:
        ``path`` itself when it is upright; otherwise a copy turned upright (a PNG for a photo, an
        H.264 mp4 without audio for a video, as :func:`talkinghead.scale.scaled_face` makes), with
        a warning saying so. The output video is then upright too.
    """
    import cv2

    from ..media import is_still, load_frames, probe

    p = Path(path)
    info = probe(p)
    still = is_still(p, info)
    if still:
        img = load_frames(p, max_frames=1)[0]
        k = upright_turns(img)
    else:
        k = video_upright_turns(p, info)
    if k == 0:
        return p
    degrees = {1: "90 degrees clockwise", 2: "180 degrees", 3: "90 degrees counter-clockwise"}[k]
    log.warning("the face in %s is %s: the %s is turned %s so that it is upright (the output video "
                "will be upright)", p.name, "upside down" if k == 2 else "lying on its side",
                "photo" if still else "video", degrees)
    name = f"{file_sha256(p)[:32]}-r{90 * k}.{'png' if still else 'mp4'}"
    out = cache_dir() / name
    if cache and out.exists():
        return out
    if not cache or not cache_folder_usable(out.parent):
        out = private_temp_folder("talkinghead-upright-") / name
    if not still:
        from ..scale import transcode_video

        transcode_video(p, out, TURN_FILTERS[k], info.n_frames, progress=progress, what="turn")
        return out
    turned = cv2.rotate(img, [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE][k - 1])
    with atomic_path(out) as tmp:
        cv2.imwrite(str(tmp), cv2.cvtColor(turned, cv2.COLOR_RGB2BGR))
    return out
