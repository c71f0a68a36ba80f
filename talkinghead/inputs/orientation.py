"""Which way up a face photo or video is.

A photo or video taken with the phone on its side and saved without an EXIF orientation tag or a
rotation in its metadata (or with it stripped) shows the face lying sideways or upside down. MediaPipe's face mesh still fits an
*upright* face to it (an upside-down face gets its nose and chin drawn on the forehead), and the
rebuilt mouth is a smear. The face detector (BlazeFace, short range) is much less sure of a face
that is not upright, so the photo is scored in its four quarter turns and turned to the one the
detector is clearly surest of (a video: the scores of up to ten frames of its first ten seconds
that show a face, averaged, and the whole video turned). A face on its side in a wide shot can
score close in two turns; the eye line of the detection then decides that it lies on its side.
``turn=`` (``--turn``) overrides the decision.

Measured (detector confidence, as given / turned 90 clockwise / 180 / 90 counter-clockwise): the
bundled astronaut 0.92 / 0.77 / 0.65 / 0.79; the same photo upside down 0.65 / 0.79 / 0.92 / 0.77;
seven upright photos of other people (dark, turned head, painting, two faces, tilted by 20
degrees) all surest as given, by 0.03-0.35.

* :func:`turn_scores` - the detector's confidence in each quarter turn of a picture, and its eye line.
* :func:`decide_turns` - the turn to take given those of one or more pictures.
* :func:`upright_turns` / :func:`video_upright_turns` - the clockwise quarter turns that make a
  photo's / a video's face upright.
* :func:`check_turn` - a forced turn (``auto``, 0, 90, 180, 270) checked.
* :func:`upright_face` - a face photo or video turned upright (a cached copy), or the file itself.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .. import cache as disk_cache
from ..fileio import atomic_path
from ..options import TURN_DEGREES, parse_turn  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

#: A quarter turn is taken only when the detector is surer of it than of the photo as given by at
#: least this much (confidence in [0, 1]) and at least :data:`MIN_CONFIDENCE` sure: an upright
#: photo is never turned on a near tie (a head tilted 20 degrees scored 0.90 as given, 0.87 turned).
ORIENTATION_MARGIN = 0.1
MIN_CONFIDENCE = 0.5
#: The photo is scored at this size (longer side, pixels): the short-range detector expects a face
#: that fills a good part of the picture.
SCORE_SIDE = 512
#: A video is scored on up to this many frames, evenly spaced over its first
#: :data:`VIDEO_SCORE_SECONDS` (or the whole video if shorter); frames where no turn finds a face
#: at least :data:`MIN_CONFIDENCE` sure (a fade from black, nobody in the picture yet) are left out.
VIDEO_SCORE_FRAMES = 10
VIDEO_SCORE_SECONDS = 10.0
#: A face whose eye line (from the detector's eye keypoints, in the picture as given) is steeper
#: than this (degrees) is lying on its side: then a quarter turn is taken whenever the detector is
#: surer of it than of the picture as given, without :data:`ORIENTATION_MARGIN` (on a wide shot of a
#: small face the scores of the turns lie close: 0.87 as given, 0.97 turned, measured on a video).
SIDEWAYS_ANGLE = 60.0
#: ffmpeg filters for 1, 2 and 3 clockwise quarter turns (odd sizes padded to even for H.264).
TURN_FILTERS = {1: "transpose=clock", 2: "hflip,vflip", 3: "transpose=cclock"}
_EVEN = "pad=ceil(iw/2)*2:ceil(ih/2)*2"


@dataclass(frozen=True)
class TurnScores:
    """What the face detector makes of one picture in its four quarter turns.

    Attributes:
        scores: highest detection confidence (0-1) as given and turned 90, 180 and 270 degrees
            clockwise, shape ``(4,)``.
        eye_angle: the angle (degrees, -180..180) of the line from one eye to the other of the
            best detection in the picture as given (about 0 for an upright face, about +-90 for
            one lying on its side); ``None`` when nothing was detected as given.
    """

    scores: np.ndarray
    eye_angle: float | None


def upright_turns(image_rgb: np.ndarray) -> int:
    """Clockwise quarter turns (0-3) that make the face in a photo upright; 0 when the detector
    is not clearly surer of another turn (or finds no face in any).

    Args:
        image_rgb: ``(H, W, 3)`` uint8 RGB.
    """
    return decide_turns([turn_scores(image_rgb)])


def decide_turns(measured: list[TurnScores]) -> int:
    """The clockwise quarter turns (0-3) to take, from the :class:`TurnScores` of one or more
    pictures of the same face (a video's frames): their scores averaged over the pictures where
    some turn reaches :data:`MIN_CONFIDENCE`; the turn the detector is surer of than of the
    pictures as given by :data:`ORIENTATION_MARGIN`, or, when the eye line says the face lies on
    its side (:data:`SIDEWAYS_ANGLE`), the surer of the two quarter turns if it beats no turn."""
    good = [m for m in measured if float(np.max(m.scores)) >= MIN_CONFIDENCE]
    if not good:
        return 0
    scores = np.mean([m.scores for m in good], axis=0)
    best = int(np.argmax(scores))
    if best and scores[best] >= MIN_CONFIDENCE and scores[best] - scores[0] >= ORIENTATION_MARGIN:
        return best
    angles = [abs(m.eye_angle) for m in good if m.eye_angle is not None]
    if angles and SIDEWAYS_ANGLE < float(np.median(angles)) < 180.0 - SIDEWAYS_ANGLE:
        side = 1 if scores[1] >= scores[3] else 3
        if scores[side] >= MIN_CONFIDENCE and scores[side] > scores[0]:
            return side
    return 0


def turn_scores(image_rgb: np.ndarray) -> TurnScores:
    """The face detector's highest confidence (0-1) in a picture as given and turned 90, 180 and
    270 degrees clockwise, and the eye line of the face as given (:class:`TurnScores`).

    Args:
        image_rgb: ``(H, W, 3)`` uint8 RGB.
    """
    import cv2
    import mediapipe as mp

    from ..face.tracking import _native_stderr_silenced

    img = np.asarray(image_rgb)
    h, w = img.shape[:2]
    f = SCORE_SIDE / max(h, w)
    if f < 1:
        img = cv2.resize(img, (max(int(w * f), 1), max(int(h * f), 1)), interpolation=cv2.INTER_AREA)
    h, w = img.shape[:2]
    turns = [None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE]
    scores, angle = [], None
    with _native_stderr_silenced(), mp.solutions.face_detection.FaceDetection(
            model_selection=0, min_detection_confidence=0.05) as det:
        for t in turns:
            x = img if t is None else np.ascontiguousarray(cv2.rotate(img, t))
            found = det.process(x).detections or []
            scores.append(max((d.score[0] for d in found), default=0.0))
            if t is None and found:
                kp = max(found, key=lambda d: d.score[0]).location_data.relative_keypoints
                (rx, ry), (lx, ly) = (kp[0].x * w, kp[0].y * h), (kp[1].x * w, kp[1].y * h)
                angle = float(np.degrees(np.arctan2(ly - ry, lx - rx)))
    return TurnScores(np.asarray(scores, dtype=float), angle)


def video_upright_turns(path: str | os.PathLike) -> int:
    """Clockwise quarter turns (0-3) that make the face in a video upright: :func:`turn_scores` of
    up to :data:`VIDEO_SCORE_FRAMES` frames of its first :data:`VIDEO_SCORE_SECONDS`, decided by
    :func:`decide_turns`. Remembered per file (path, size, modification and change times, inode) in this process.
    """
    p = Path(path).resolve()
    st = p.stat()
    return _video_turns_cached(str(p), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


@functools.lru_cache(maxsize=64)
def _video_turns_cached(path: str, size: int, mtime_ns: int, inode: int, ctime_ns: int) -> int:
    from ..media import sample_frames

    frames = sample_frames(path, n=VIDEO_SCORE_FRAMES, seconds=VIDEO_SCORE_SECONDS, max_side=SCORE_SIDE)
    return decide_turns([turn_scores(f) for f in frames])


def cache_dir() -> Path:
    """``$TALKINGHEAD_CACHE/upright`` or ``~/.cache/talkinghead/upright``."""
    return disk_cache.cache_dir("upright")


def check_turn(turn: int | str | None) -> int | None:
    """A forced turn as clockwise degrees (0, 90, 180 or 270), or ``None`` for "auto".

    Raises:
        InputError: any other value.
    """
    try:
        return parse_turn(turn)
    except ValueError:
        raise InputError(f"turn {turn!r} is not one of auto, 0, 90, 180, 270 (degrees clockwise)") from None


def upright_face(path: str | os.PathLike, *, cache: bool = True, progress: bool = False,
                 turn: int | str | None = None, name: str | None = None) -> Path:
    """A face photo or video turned upright when it lies sideways or upside down
    (:func:`upright_turns`, :func:`video_upright_turns`).

    Args:
        path: a still image (or one-frame video) or a video, EXIF orientation and rotation
            metadata already honoured by reading.
        cache: reuse a copy made earlier.
        progress: a progress bar while a video is turned.
        turn: ``None`` / ``"auto"``: decided by the face detector; 0, 90, 180 or 270: turn the
            picture this many degrees clockwise whatever the detector says (0: use it as it is).
        name: how the warning names the file (default: ``path``'s name; the user's own file when
            ``path`` is a scaled copy).

    Returns:
        ``path`` itself when it is upright; otherwise a copy turned upright (a PNG for a photo, an
        H.264 mp4 without audio for a video, as :func:`talkinghead.inputs.scale.scaled_face` makes), with
        a warning saying so. The output video is then upright too.
    """
    import cv2

    from ..media import is_still, load_frames, probe

    p = Path(path)
    forced = check_turn(turn)
    if forced == 0:
        return p
    info = probe(p)
    still = is_still(p, info)
    img = load_frames(p, max_frames=1)[0] if still else None
    if forced is not None:
        k = forced // 90
    else:
        k = upright_turns(img) if still else video_upright_turns(p)
    if k == 0:
        return p
    degrees = {1: "90 degrees clockwise", 2: "180 degrees", 3: "90 degrees counter-clockwise"}[k]
    what = "photo" if still else "video"
    if forced is None:
        log.warning("the face in %s is %s: the %s is turned %s so that it is upright (the output video "
                    "will be upright; --turn 0 keeps it as it is)", name or p.name,
                    "upside down" if k == 2 else "lying on its side", what, degrees)
    else:
        log.info("the %s %s is turned %s as asked", what, name or p.name, degrees)
    name = f"{disk_cache.content_key(p, tag=f'r{90 * k}')}.{'png' if still else 'mp4'}"
    out, hit = disk_cache.cache_slot("upright", name, read=cache, write=cache, temp_prefix="talkinghead-upright-")
    if hit:
        return out
    if not still:
        from .scale import transcode_video

        transcode_video(p, out, f"{TURN_FILTERS[k]},{_EVEN}", info.n_frames, progress=progress, what="turn")
        return out
    turned = cv2.rotate(img, [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE][k - 1])
    with atomic_path(out) as tmp:
        cv2.imwrite(str(tmp), cv2.cvtColor(turned, cv2.COLOR_RGB2BGR))
    return out
