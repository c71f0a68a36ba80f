"""3D face tracking of a video or image with MediaPipe face mesh (478 landmarks).

Pipeline (:func:`track_face`):

1. **Find** the face: MediaPipe's face detector on the whole frame, then on overlapping tiles of
   1/2 and 1/3 of the frame's short side (so that small faces in whole-body framing are found);
   boxes are merged and sorted by size (largest = face index 0).
2. **Track** it: each frame, a square crop around the face (``crop_margin`` x the face size) is
   resampled to ``crop_size`` pixels (an upscale for small faces) and given to a video-mode
   ``FaceMesh`` (``max_num_faces=1``, ``refine_landmarks=True``), which follows the face from its
   previous landmarks; landmarks are mapped back to frame pixels (``z_px = z * crop side``, the
   crop's width in frame pixels, as MediaPipe scales z by the width of the image it sees). The
   crop only moves when the face drifts (hysteresis), so the tracker sees a still crop for a still
   face. Identity across frames = the crop follows the same face; after a loss, the face nearest
   to its last position is taken.
3. **Gaps** of up to ``max_gap_s`` seconds are interpolated; longer ones raise
   :class:`~talkinghead.errors.FaceError` naming the frames.
4. **Pose** (:mod:`talkinghead.face.pose`): robust similarity fit of each frame against the
   person's canonical face (the generic canonical refined by the median of this video's
   pose-normalised, mouth-closed frames); expression = the non-rigid remainder.
5. **Smoothing** (:mod:`talkinghead.face.filters`): zero-lag One-Euro filtering of the pose
   (rotation vector, translation, log scale) and of the expression; the smoothed landmarks are
   recomposed from them, so ``landmarks = scale * (canonical + expression) @ R.T + translation``
   holds exactly.

For a single image the face mesh runs in static mode and no smoothing applies.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FaceError, InputError
from .filters import OneEuroSettings, one_euro
from .pose import (
    Pose,
    fit_pose,
    load_generic_canonical,
    person_canonical,
    to_canonical,
)
from .types import N_LANDMARKS, FaceTrack

log = logging.getLogger(__name__)

#: Bumped whenever the tracker's output changes for the same input and settings (cache key).
TRACKER_VERSION = 1


@dataclass(frozen=True)
class TrackerSettings:
    """Settings of :func:`track_face` (all are part of the cache key).

    Attributes:
        max_gap_s: longest run of frames without a face (seconds) that is interpolated.
        crop_size: side in pixels of the square crop given to the face mesh.
        crop_margin: crop side / face size (face size = larger side of the landmark box).
        recrop_shift: move the crop when the face centre drifts more than this fraction of
            the crop side.
        recrop_scale: ... or when the face size changes by more than this fraction.
        min_detection_confidence: face detector threshold.
        min_tracking_confidence: face mesh tracking threshold (below it the face is re-detected).
        tile_levels: tile sizes for finding small faces, as fractions of the frame's short side.
        tile_search_every: while no face is found, search the tiles only every this many frames
            (the whole frame and the face's last surroundings are searched every frame).
        smoothing: apply the One-Euro filters.
        pose_filter: One-Euro settings for the pose (rotation vector in rad, translation in
            canonical units = translation / median scale, log scale).
        expression_filter: One-Euro settings for the expression (canonical units).
        closed_fraction: fraction of frames (the most mouth-closed) that define the person's
            neutral face.
    """

    max_gap_s: float = 0.5
    crop_size: int = 384
    crop_margin: float = 2.0
    recrop_shift: float = 0.08
    recrop_scale: float = 0.15
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    tile_levels: tuple[float, ...] = (0.5, 1.0 / 3.0)
    tile_search_every: int = 5
    smoothing: bool = True
    pose_filter: OneEuroSettings = field(
        default_factory=lambda: OneEuroSettings(min_cutoff=1.0, beta=20.0, d_cutoff=1.0)
    )
    expression_filter: OneEuroSettings = field(
        default_factory=lambda: OneEuroSettings(min_cutoff=2.0, beta=20.0, d_cutoff=1.0)
    )
    closed_fraction: float = 0.3

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tile_levels"] = list(self.tile_levels)
        d["tracker_version"] = TRACKER_VERSION
        return d


# ----------------------------------------------------------------------------------------------
# Frame-level detection and landmarking


@contextlib.contextmanager
def _native_stderr_silenced():
    """Silence MediaPipe/TFLite's C++ start-up chatter (written straight to fd 2).

    Used only around graph creation and a graph's first frame; at DEBUG log level nothing is
    silenced. Python-level output is flushed first so nothing of ours is lost.
    """
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@dataclass
class _Box:
    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2])

    @property
    def size(self) -> float:
        return max(self.x1 - self.x0, self.y1 - self.y0)

    @property
    def area(self) -> float:
        return (self.x1 - self.x0) * (self.y1 - self.y0)


def _iou(a: _Box, b: _Box) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    return inter / max(a.area + b.area - inter, 1e-9)


def _windows(h: int, w: int, levels: Iterable[float]) -> list[tuple[int, int, int]]:
    """Square windows (x0, y0, side): the whole frame, then tiles of each level, 50% overlap."""
    out = [(0, 0, max(h, w))]
    short = min(h, w)
    for lv in levels:
        side = int(round(short * lv))
        if side < 48:
            continue
        step = side // 2
        ys = list(range(0, max(h - side, 0) + 1, step)) or [0]
        xs = list(range(0, max(w - side, 0) + 1, step)) or [0]
        if ys[-1] + side < h:
            ys.append(h - side)
        if xs[-1] + side < w:
            xs.append(w - side)
        out += [(x, y, side) for y in ys for x in xs]
    return out


def _crop(frame: np.ndarray, x0: int, y0: int, side: int, out_size: int | None) -> np.ndarray:
    """Square window of ``frame`` (zero-padded outside), resized to ``out_size`` if given."""
    import cv2

    h, w = frame.shape[:2]
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    win = frame[ya:yb, xa:xb]
    if (xa, ya, xb, yb) != (x0, y0, x0 + side, y0 + side):
        win = cv2.copyMakeBorder(win, ya - y0, y0 + side - yb, xa - x0, x0 + side - xb,
                                 cv2.BORDER_CONSTANT, value=(0, 0, 0))
    if out_size is not None and out_size != side:
        # INTER_AREA only for strong shrinking (it is slow); mild shrinking aliases little.
        interp = cv2.INTER_AREA if out_size < 0.5 * side else cv2.INTER_LINEAR
        win = cv2.resize(win, (out_size, out_size), interpolation=interp)
    return np.ascontiguousarray(win)


class _FrameTracker:
    """Holds the MediaPipe graphs and the crop state while going through the frames."""

    def __init__(self, settings: TrackerSettings, static: bool) -> None:
        import mediapipe as mp

        self.s = settings
        self.static = static
        self._mp = mp
        self._quiet: set[int] = set()  # graphs whose native logs are still silenced
        self.detector = self._start(lambda: mp.solutions.face_detection.FaceDetection(
            model_selection=0, min_detection_confidence=settings.min_detection_confidence
        ))
        self.mesh = None
        self.verifier = None
        self.roi: tuple[int, int, int] | None = None  # x0, y0, side (frame pixels)
        self.last_center: np.ndarray | None = None
        self.last_size = 0.0
        self.lost = 0  # frames since the face was lost
        self.max_faces_seen = 0

    def _new_mesh(self):
        if self.mesh is not None:
            self.mesh.close()
        self.mesh = self._start(lambda: self._mp.solutions.face_mesh.FaceMesh(
            static_image_mode=self.static,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=self.s.min_detection_confidence,
            min_tracking_confidence=self.s.min_tracking_confidence,
        ))

    def _start(self, make):
        """Create a MediaPipe graph and run it once on a blank image, with its native start-up
        logs silenced (they are printed asynchronously while the graph opens its models)."""
        with _native_stderr_silenced():
            graph = make()
            graph.process(np.zeros((64, 64, 3), np.uint8))  # no face: leaves no tracking state
        self._quiet.add(id(graph))
        return graph

    def _run(self, graph, image: np.ndarray):
        """``graph.process(image)``; native logs silenced until the graph first finds a face
        (MediaPipe prints a warning then)."""
        if id(graph) not in self._quiet:
            return graph.process(image)
        with _native_stderr_silenced():
            res = graph.process(image)
        if getattr(res, "multi_face_landmarks", None) or getattr(res, "detections", None):
            self._quiet.discard(id(graph))
        return res

    def close(self) -> None:
        self.detector.close()
        for m in (self.mesh, self.verifier):
            if m is not None:
                m.close()

    # -- finding faces ---------------------------------------------------------------------
    def _levels(self, h: int, w: int, tiles: bool = True) -> list[tuple[list[tuple[int, int, int]], bool]]:
        """Search windows, coarse to fine: ``[(windows, is_tile), ...]``.

        After the face has been seen: first a window around its last position, and tiles
        smaller than twice its size are skipped (they cannot hold it whole). ``tiles=False``:
        no tiles at all (the cheap search).
        """
        levels: list[tuple[list[tuple[int, int, int]], bool]] = []
        if self.last_center is not None and self.last_size > 0:
            side = int(round(3 * self.last_size))
            levels.append(([(int(self.last_center[0] - side / 2), int(self.last_center[1] - side / 2),
                             side)], True))
        levels.append(([(0, 0, max(h, w))], False))
        for lv in self.s.tile_levels if tiles else ():
            wins = _windows(h, w, [lv])[1:]
            if wins and wins[0][2] >= 2 * self.last_size:
                levels.append((wins, True))
        return levels

    def _candidates(self, frame: np.ndarray, windows: list[tuple[int, int, int]],
                    tile: bool) -> list[_Box]:
        """Detector boxes (frame pixels) found in square ``windows`` (x0, y0, side)."""
        boxes: list[_Box] = []
        for x0, y0, side in windows:
            win = _crop(frame, x0, y0, side, None if side <= 1024 else 1024)
            n = side  # window side in frame pixels
            for d in self._run(self.detector, win).detections or []:
                bb = d.location_data.relative_bounding_box
                # A face cut by a tile's border is found whole by an overlapping tile.
                if tile and (bb.xmin < 0.02 or bb.ymin < 0.02 or bb.xmin + bb.width > 0.98
                                  or bb.ymin + bb.height > 0.98):
                    continue
                bx0, by0 = x0 + bb.xmin * n, y0 + bb.ymin * n
                boxes.append(_Box(bx0, by0, bx0 + bb.width * n, by0 + bb.height * n,
                                  float(d.score[0])))
        return boxes

    def _verify(self, frame: np.ndarray, box: _Box) -> np.ndarray | None:
        """Landmarks ``(478, 3)`` if the face mesh confirms a face in ``box``, else None."""
        if self.verifier is None:
            self.verifier = self._start(lambda: self._mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                min_detection_confidence=self.s.min_detection_confidence,
            ))
        roi = self._roi_for(box.center, box.size * 1.1)
        lm = self._mesh_on_roi(frame, roi, self.verifier)
        if lm is None:
            return None
        lo, hi = lm[:, :2].min(axis=0), lm[:, :2].max(axis=0)
        size = float((hi - lo).max())
        if np.linalg.norm((lo + hi) / 2 - box.center) > 0.5 * box.size:
            return None
        if not 0.5 < size / box.size < 3.0:
            return None
        return lm

    def find_faces(self, frame: np.ndarray, want: int, tiles: bool = True) -> list[np.ndarray]:
        """Landmarks ``(478, 3)`` of the faces in ``frame``, largest first.

        Detector boxes from the whole frame, then from finer tiles until ``want`` faces are
        confirmed; each box is confirmed (and landmarked) by the face mesh on a crop around it,
        which rejects the detector's false positives.
        """
        found: list[np.ndarray] = []
        tried: list[_Box] = []
        for windows, tile in self._levels(*frame.shape[:2], tiles=tiles):
            for box in self._nms(self._candidates(frame, windows, tile)):
                if any(_iou(box, t) > 0.3 for t in tried):
                    continue
                tried.append(box)
                if len(tried) > 12:
                    break
                lm = self._verify(frame, box)
                if lm is None:
                    continue
                lbox = _Box(*lm[:, :2].min(axis=0), *lm[:, :2].max(axis=0), 1.0)
                if any(_iou(lbox, _Box(*f[:, :2].min(axis=0), *f[:, :2].max(axis=0), 1.0)) > 0.3
                       for f in found):
                    continue
                found.append(lm)
            if len(found) >= want:
                break
        return sorted(found, key=lambda f: -float(np.ptp(f[:, :2], axis=0).prod()))

    @staticmethod
    def _nms(boxes: list[_Box]) -> list[_Box]:
        keep: list[_Box] = []
        for b in sorted(boxes, key=lambda b: -b.score):
            if all(_iou(b, k) < 0.3 for k in keep):
                keep.append(b)
        return keep

    # -- landmarks -------------------------------------------------------------------------
    def _roi_for(self, center: np.ndarray, size: float) -> tuple[int, int, int]:
        side = max(int(round(size * self.s.crop_margin)), 32)
        return (int(round(center[0] - side / 2)), int(round(center[1] - side / 2)), side)

    def _mesh_on_roi(self, frame: np.ndarray, roi, mesh) -> np.ndarray | None:
        x0, y0, side = roi
        crop = _crop(frame, x0, y0, side, self.s.crop_size)
        res = self._run(mesh, crop)
        if not res.multi_face_landmarks:
            return None
        lm = res.multi_face_landmarks[0].landmark
        a = np.array([[p.x, p.y, p.z] for p in lm], dtype=np.float64)
        a *= side
        a[:, 0] += x0
        a[:, 1] += y0
        return a

    def _update_roi(self, lm: np.ndarray) -> None:
        lo, hi = lm[:, :2].min(axis=0), lm[:, :2].max(axis=0)
        center, size = (lo + hi) / 2, float((hi - lo).max())
        self.last_center, self.last_size = center, size
        if self.roi is None:
            self.roi = self._roi_for(center, size)
            return
        x0, y0, side = self.roi
        cur_center = np.array([x0 + side / 2, y0 + side / 2])
        want_side = size * self.s.crop_margin
        if (np.abs(center - cur_center).max() > self.s.recrop_shift * side
                or abs(want_side / side - 1.0) > self.s.recrop_scale):
            self.roi = self._roi_for(center, size)

    def process(self, frame: np.ndarray, face_index: int) -> np.ndarray | None:
        """Landmarks ``(478, 3)`` (frame pixels) of the tracked face in ``frame``, or None."""
        if self.roi is not None:
            lm = self._mesh_on_roi(frame, self.roi, self.mesh)
            if lm is not None:
                self._update_roi(lm)
                return lm
            self.roi = None
        # While the face is lost, the full tile search runs every ``tile_search_every`` frames;
        # in between only the whole frame and the face's last surroundings are searched.
        tiles = self.lost % max(1, self.s.tile_search_every) == 0
        self.lost += 1
        faces = self.find_faces(frame, want=face_index + 1 if self.last_center is None else 1,
                                tiles=tiles)
        self.max_faces_seen = max(self.max_faces_seen, len(faces))
        if self.last_center is None:
            if len(faces) <= face_index:
                return None
            lm = faces[face_index]
        else:
            if not faces:
                return None

            def dist(f: np.ndarray) -> float:
                c = (f[:, :2].min(axis=0) + f[:, :2].max(axis=0)) / 2
                return float(np.linalg.norm(c - self.last_center))

            lm = min(faces, key=dist)
        self.lost = 0
        # Confirmed by the static mesh; the video-mode mesh takes over from the next frame.
        self._new_mesh()
        self.roi = None
        self._update_roi(lm)
        return lm


# ----------------------------------------------------------------------------------------------
# Gaps


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) index runs where ``mask`` is True."""
    out = []
    t, n = 0, len(mask)
    while t < n:
        if mask[t]:
            s = t
            while t + 1 < n and mask[t + 1]:
                t += 1
            out.append((s, t))
        t += 1
    return out


def fill_gaps(raw: np.ndarray, detected: np.ndarray, max_gap: int, name: str,
              fps: float | None = None) -> np.ndarray:
    """Interpolate missing frames (linear inside, held at the ends) or raise FaceError.

    Args:
        raw: ``(T, 478, 3)`` landmarks (undefined where not detected).
        detected: ``(T,)`` bool.
        max_gap: longest run of missing frames that may be filled.
        name: clip name for messages ("" for frames given directly).
        fps: frame rate, for the message's times (the longest stretch that can be used).
    """
    T = len(detected)
    of = f" of {name}" if name else ""
    if not detected.any():
        if T == 1:
            raise FaceError(f"no face found in frame 0{of}")
        raise FaceError(f"no face found in any of the {T} frames{of}")
    gaps = _runs(~detected)
    too_long = [(a, b) for a, b in gaps if b - a + 1 > max_gap]
    if too_long:
        parts = ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in too_long[:5])
        more = f" and {len(too_long) - 5} more" if len(too_long) > 5 else ""
        word = "frames" if len(too_long) > 1 or too_long[0][1] > too_long[0][0] else "frame"
        # the longest stretch between the long gaps: what the video could be cut to
        bounds = [-1] + [x for a, b in too_long for x in (a, b)] + [T]
        spans = [(bounds[i] + 1, bounds[i + 1] - 1) for i in range(0, len(bounds), 2)]
        a, b = max(spans, key=lambda ab: ab[1] - ab[0])
        hint = ""
        if b >= a:
            hint = f"; the face shows in frames {a}-{b}"
            if fps:
                hint += f" ({a / fps:.2f}-{(b + 1) / fps:.2f} s): cut the video to them"
                if name:
                    hint += f", e.g. ffmpeg -ss {a / fps:.2f} -to {(b + 1) / fps:.2f} -i {name} face.mp4"
        raise FaceError(f"no face found in {word} {parts}{more}{of} "
                        f"(gaps longer than {max_gap} frames cannot be bridged){hint}")
    out = raw.copy()
    idx = np.flatnonzero(detected)
    flat = raw[idx].reshape(len(idx), -1)
    for a, b in gaps:
        for t in range(a, b + 1):
            j = np.searchsorted(idx, t)
            if j == 0:
                out[t] = raw[idx[0]]
            elif j >= len(idx):
                out[t] = raw[idx[-1]]
            else:
                t0, t1 = idx[j - 1], idx[j]
                u = (t - t0) / (t1 - t0)
                out[t] = ((1 - u) * flat[j - 1] + u * flat[j]).reshape(raw.shape[1:])
    return out


# ----------------------------------------------------------------------------------------------
# Pose, expression, smoothing


def _smooth_pose(pose: Pose, fps: float, s: TrackerSettings) -> Pose:
    from scipy.spatial.transform import Rotation

    rv = Rotation.from_matrix(pose.rotation).as_rotvec()
    # Keep the rotation vector continuous (no 2*pi jumps) before filtering.
    for t in range(1, len(rv)):
        th = np.linalg.norm(rv[t])
        if th > np.pi / 2:
            alt = rv[t] * (1 - 2 * np.pi / th)
            if np.linalg.norm(alt - rv[t - 1]) < np.linalg.norm(rv[t] - rv[t - 1]):
                rv[t] = alt
    unit = float(np.median(pose.scale))
    rv_f = one_euro(rv, fps, s.pose_filter)
    tr_f = one_euro(pose.translation / unit, fps, s.pose_filter) * unit
    ls_f = one_euro(np.log(pose.scale)[:, None], fps, s.pose_filter)[:, 0]
    return Pose(Rotation.from_rotvec(rv_f).as_matrix(), tr_f, np.exp(ls_f))


def build_track(
    raw: np.ndarray,
    detected: np.ndarray,
    *,
    fps: float,
    width: int,
    height: int,
    settings: TrackerSettings,
    source: str = "",
    face_index: int = 0,
) -> FaceTrack:
    """Turn per-frame detector landmarks into a :class:`FaceTrack` (gaps, pose, smoothing).

    Args:
        raw: ``(T, 478, 3)`` detector landmarks in frame pixels (anything where not detected).
        detected: ``(T,)`` bool.
        fps, width, height: video properties.
        settings: tracker settings.
        source: name used in messages and stored in the track.
    """
    name = Path(source).name if source else ""
    T = len(detected)
    max_gap = int(round(settings.max_gap_s * fps))
    filled = fill_gaps(np.asarray(raw, np.float64), detected, max_gap, name, fps)  # a new array

    generic = load_generic_canonical()["canonical"].astype(np.float64)
    canonical = person_canonical(filled[detected], generic, closed_fraction=settings.closed_fraction)
    pose = fit_pose(filled, canonical)
    expression = to_canonical(pose, filled) - canonical[None]

    if settings.smoothing and T > 1:
        pose = _smooth_pose(pose, fps, settings)
        expression = one_euro(expression, fps, settings.expression_filter)
    # posed landmarks, a block of frames at a time (whole-video float64 temporaries cost ~0.5 GB
    # per 10 minutes of video)
    landmarks = np.empty(expression.shape, np.float32)
    for a in range(0, T, 1024):
        b = min(T, a + 1024)
        landmarks[a:b] = (
            pose.scale[a:b, None, None] * np.einsum("tij,tnj->tni", pose.rotation[a:b], canonical[None] + expression[a:b])
            + pose.translation[a:b, None, :]
        )
    sd = settings.to_dict()
    sd["face_index"] = int(face_index)
    return FaceTrack(
        landmarks=landmarks,
        raw_landmarks=filled.astype(np.float32),
        rotation=pose.rotation.astype(np.float32),
        translation=pose.translation.astype(np.float32),
        scale=pose.scale.astype(np.float32),
        canonical=canonical.astype(np.float32),
        expression=expression.astype(np.float32),
        detected=detected.astype(bool),
        fps=float(fps),
        width=int(width),
        height=int(height),
        source=str(source),
        settings=sd,
    )


# ----------------------------------------------------------------------------------------------
# Entry point


def detect_landmarks(
    frames: Iterable[np.ndarray],
    *,
    n_frames: int | None = None,
    face_index: int = 0,
    static: bool = False,
    settings: TrackerSettings | None = None,
    progress: bool = False,
    name: str = "",
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Run the detector/tracker over frames: raw landmarks ``(T, 478, 3)`` float64 (NaN where
    missing), ``detected`` ``(T,)`` bool, and the frame ``width``, ``height``."""
    from tqdm import tqdm

    s = settings or TrackerSettings()
    ft = _FrameTracker(s, static=static)
    # one array filled in place when the length is known (a list then np.stack held every
    # landmark twice: ~170 MB each per 10 minutes of video)
    raws = np.full((max(int(n_frames or 0), 0), N_LANDMARKS, 3), np.nan)
    more: list[np.ndarray] = []  # frames beyond n_frames
    det: list[bool] = []
    h = w = 0
    try:
        for frame in tqdm(frames, total=n_frames, disable=not progress, desc="tracking face",
                          unit="frame"):
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise InputError(f"frames must be RGB uint8 (H, W, 3), got {frame.shape} {frame.dtype}")
            h, w = frame.shape[:2]
            lm = ft.process(frame, face_index)
            t = len(det)
            det.append(lm is not None)
            if t < len(raws):
                if lm is not None:
                    raws[t] = lm
            else:
                more.append(lm if lm is not None else np.full((N_LANDMARKS, 3), np.nan))
    finally:
        ft.close()
    if not det:
        raise InputError(f"{name or 'the input'} has no frames")
    detected = np.array(det, dtype=bool)
    if face_index > 0 and not detected.any() and 0 < ft.max_faces_seen <= face_index:
        raise FaceError(f"face index {face_index} requested, but at most {ft.max_faces_seen} "
                        f"face(s) found in {name or 'the frames'}")
    raw = np.concatenate([raws, np.stack(more)]) if more else raws[: len(det)]
    return raw, detected, w, h


def track_face(
    path_or_frames: str | os.PathLike | Iterable[np.ndarray],
    *,
    face_index: int = 0,
    smoothing: bool = True,
    cache: bool = True,
    progress: bool = True,
    fps: float | None = None,
    settings: TrackerSettings | None = None,
) -> FaceTrack:
    """Track one face through a video, an image, or a sequence of frames.

    Args:
        path_or_frames: a video/image path, or RGB uint8 frames ``(H, W, 3)`` (a list or an
            ``(n, H, W, 3)`` array).
        face_index: which face when there are several: 0 = the largest in the first frame where
            faces are found, 1 = the next largest, ...
        smoothing: apply the One-Euro filters (overrides ``settings.smoothing``).
        cache: use the on-disk track cache (paths only; see :mod:`talkinghead.face.cache`).
        progress: show a tqdm progress bar.
        fps: frame rate of ``path_or_frames`` when frames are given (default 25).
        settings: tracker settings (defaults: :class:`TrackerSettings`).

    Returns:
        :class:`FaceTrack`; ``track.from_cache`` tells whether it came from the cache.

    Raises:
        MediaError: the file cannot be read.
        FaceError: no face, or missing for longer than ``settings.max_gap_s``.
    """
    from dataclasses import replace

    from . import cache as track_cache

    if face_index < 0:
        raise InputError(f"face index must be >= 0, got {face_index}")
    s = replace(settings or TrackerSettings(), smoothing=bool(smoothing))

    if isinstance(path_or_frames, (str, os.PathLike)):
        from ..media import probe, read_frames

        path = Path(path_or_frames)
        info = probe(path)
        key = None
        if cache:
            from .pose import canonical_path

            # The generic canonical face is an input too: a rebuilt asset must not hit old entries.
            key_settings = {**s.to_dict(), "canonical": track_cache.file_sha256(canonical_path())[:16]}
            key = track_cache.cache_key(path, key_settings, face_index)
            hit = track_cache.load_cached(key)
            if hit is not None:
                log.info("face track of %s loaded from the cache (%s)", path, hit.settings.get("cache_file"))
                return hit
        raw, detected, w, h = detect_landmarks(
            read_frames(path, info=info), n_frames=info.n_frames, face_index=face_index,
            static=info.is_image, settings=s, progress=progress, name=path.name,
        )
        track = build_track(raw, detected, fps=info.fps, width=w, height=h, settings=s,
                            source=str(path), face_index=face_index)
        if key is not None:
            track_cache.store(key, track)
        return track

    frames = path_or_frames
    if isinstance(frames, np.ndarray) and frames.ndim == 3:
        frames = [frames]
    frames = list(frames)
    from ..media import DEFAULT_FPS

    rate = float(fps) if fps else DEFAULT_FPS
    raw, detected, w, h = detect_landmarks(
        frames, n_frames=len(frames), face_index=face_index, static=len(frames) == 1,
        settings=s, progress=progress,
    )
    return build_track(raw, detected, fps=rate, width=w, height=h, settings=s, face_index=face_index)
