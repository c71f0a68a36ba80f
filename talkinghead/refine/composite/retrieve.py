"""The person's own mouth, retrieved from the face video and warped onto the new mouth shape.

The refiner draws lips and teeth it has to invent, so they come out soft and the teeth as a band.
The face video, though, shows this person's own lips, teeth and mouth interior in many shapes
(the idea of Video Rewrite, Bregler et al. 1997). For each output frame this module picks a frame
of the video whose tracked mouth has the shape the rig planned (and a similar head pose), warps
its mouth region onto the planned lips through the lower-face mesh (piecewise-linear over the
mesh's vertices), and pastes it over the refiner's mouth, at the frame's resolution. The refiner
still makes the jaw, chin and skin around. Where no frame of the video opens its mouth as planned
(a portrait's idle clip), the inside of the planned lips comes from real open mouths of other
people shipped with the project (:class:`MouthSources`); shut lips never get one.

* :class:`MouthLibrary` - the frames to choose from: their pixels around the lips, vertex
  positions there and mouth-shape descriptors; built once per face (:func:`build_mouth_library`)
  and cached beside the prepared refiner.
* :func:`mouth_shape`, :func:`mouth_shapes_from_track`, :func:`mouth_shapes_from_meshes`,
  :func:`shape_distances` - the descriptor: the inner lips' opening profile and the mouth's width
  in the rig's mouth frame (pose removed), in mouth widths.
* :class:`MouthRetriever` - the choice over time: a Viterbi path through the closest library
  frames, with a cost for each jump to a frame that does not follow the previous one (so the
  appearance does not flicker); its state carries over from one chunk of frames to the next.
* :func:`paste_mouth` - warp a library frame's mouth onto an output frame and blend it in.
* :class:`MouthSources` - the person's own mouths, else another person's mouth interior, for one
  sequence of output frames.

Measured by ``benchmarks/bench_mouth.py`` (held-out frames rebuilt from the other frames of
the same clip; see ``benchmarks/README.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.interpolate import LinearNDInterpolator
from scipy.spatial import Delaunay

from ...face.deform import DeformedMeshes, MouthRig
from ...face.types import FaceTrack
from ...render.types import CropBox
from .blend import warp_to_frame

log = logging.getLogger(__name__)

#: Bumped when the library's content changes for the same inputs (cache key).
LIBRARY_VERSION = 3
#: At most this many frames in a library (evenly spread runs of :data:`LIBRARY_RUN` consecutive
#: frames when the video has more frames with a detected face).
LIBRARY_MAX_FRAMES = 300
#: Consecutive frames kept together when a long video is thinned out: the path through the library
#: can follow a run, as the real mouth moved, instead of jumping every frame.
LIBRARY_RUN = 25

#: Shape distance (:func:`shape_distances`, mouth widths) up to which a library mouth is used whole,
#: and from which it is not used at all (linear in between): an opening wrong by much more than
#: the lips' own thickness would stretch a closed mouth open or squash teeth into a slit.
SHAPE_OK, SHAPE_MAX = 0.04, 0.10
#: Openings are compared on a square-root scale softened by this (mouth widths,
#: :func:`opening_scale`): a gap of 0.02 between shut lips weighs about 4 times what it does
#: between two mouths open 0.2.
OPENING_SOFT = 0.1
#: Weight of the mouth's width in the shape distance: the warp squeezes or stretches the teeth
#: sideways to the planned width, which shows less than a wrong opening.
WIDTH_WEIGHT = 0.15
#: Cost of a head-pose difference beyond :data:`POSE_FREE` (radians, the rotation angle between the
#: two frames' head rotations), in mouth widths per radian: a mouth seen from another side warps
#: badly.
POSE_WEIGHT = 0.15
#: Head-pose differences up to this (radians, ~9 degrees) cost nothing: the mesh warp makes up for
#: them, and preferring the closest pose would pick frames near the source frame in time, whose
#: mouth is the source's own (the old mouth leaks into the new one).
POSE_FREE = 0.15
#: Cost of moving to a library frame that does not follow the previous one (mouth widths): how
#: much worse a shape match may be to keep the appearance continuous.
JUMP_COST = 0.02
#: Cost of a library frame blurrier than the library's median (motion blur, focus), in mouth widths
#: at no sharpness at all, in proportion below the median (:func:`blur_costs`): of two frames with
#: the same mouth, the sharp one.
BLUR_COST = 0.02
#: Library frames considered per output frame (the closest by shape and pose).
CANDIDATES = 16
#: The pasted region: the outer lip contour dilated by this fraction of the mouth's width, its
#: edge feathered over :data:`PASTE_FEATHER` of the mouth's width.
PASTE_PAD, PASTE_FEATHER = 0.06, 0.05
#: The library mouth's colour gain (per channel, from a ring around the pasted region) is kept
#: within these bounds: lighting changes between frames of one video, not the face's colour.
GAIN_RANGE = (0.8, 1.25)


def mouth_shape(rig: MouthRig, lips: np.ndarray) -> np.ndarray:
    """The mouth-shape descriptor of lower faces given in the rig's mouth frame.

    What a warp of one mouth onto another cannot make up for: how far each inner-lip pair is open
    (the teeth and interior a frame shows) and how wide the mouth is (teeth squeezed or stretched).

    Args:
        rig: the person's rig.
        lips: lower-face vertices in the mouth frame, ``(n, V, >=2)``, mouth widths.

    Returns:
        ``(n, K + 1)`` float32: the opening of each inner-lip pair (lower minus upper, ``y``
        down) and, last, the outer lips' width, mouth widths.
    """
    m = rig.mesh
    v = np.asarray(lips, np.float64)
    opening = v[:, m.inner_lip_lower, 1] - v[:, m.inner_lip_upper, 1]
    outer = v[:, np.concatenate([m.outer_lip_upper, m.outer_lip_lower]), 0]
    return np.concatenate([opening, np.ptp(outer, axis=1)[:, None]], 1).astype(np.float32)


def mouth_shapes_from_track(track: FaceTrack, rig: MouthRig, frame_index: np.ndarray) -> np.ndarray:
    """The tracked mouth shape of frames (:func:`mouth_shape`), ``(n, K + 1)`` float32."""
    ids = rig.mesh.landmark_index
    f = np.asarray(frame_index, np.int64)
    shapes = track.canonical.astype(np.float64)[None, ids] + track.expression[f][:, ids]
    return mouth_shape(rig, rig.to_mouth(shapes))


def mouth_shapes_from_meshes(track: FaceTrack, rig: MouthRig, meshes: DeformedMeshes) -> np.ndarray:
    """The planned mouth shape of deformed meshes (:func:`mouth_shape`; the pose of each mesh's
    source frame removed), ``(n, K + 1)`` float32."""
    f = np.asarray(meshes.frame_index, np.int64)
    v = meshes.vertices[:, : meshes.n_skin].astype(np.float64)
    s = track.scale[f].astype(np.float64)[:, None, None]
    r = track.rotation[f].astype(np.float64)
    t = track.translation[f].astype(np.float64)[:, None, :]
    canon = np.einsum("nvi,nij->nvj", (v - t) / s, r)  # inverse of scale * canon @ R.T + t
    return mouth_shape(rig, rig.to_mouth(canon))


def opening_scale(opening: np.ndarray) -> np.ndarray:
    """Openings (mouth widths) on the scale the shape distance compares them on: a square root
    (``sqrt(o + c)``, ``c`` = :data:`OPENING_SOFT` squared) scaled to slope 1 at an opening of 0.2
    mouth widths, so that near shut lips a small gap counts several times more (shut lips with a
    dark line between them read as parted; at p, b and m they must be shut) than between two wide
    openings."""
    c = OPENING_SOFT ** 2
    o = np.maximum(np.asarray(opening, np.float64), 0.0)
    return 2 * np.sqrt(0.2 + c) * (np.sqrt(o + c) - OPENING_SOFT)


def shape_distances(a: np.ndarray, b: np.ndarray, width_weight: float = WIDTH_WEIGHT) -> np.ndarray:
    """Distances between mouth shapes (:func:`mouth_shape`) ``a`` ``(n, K + 1)`` and ``b``
    ``(m, K + 1)``: the RMS difference of the inner-lip openings (on :func:`opening_scale`)
    combined with ``width_weight`` times the width difference, ``(n, m)`` float64, mouth widths."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d_open = ((opening_scale(a[:, None, :-1]) - opening_scale(b[None, :, :-1])) ** 2).mean(-1)
    d_width = (a[:, None, -1] - b[None, :, -1]) ** 2
    return np.sqrt(d_open + width_weight ** 2 * d_width)


def blur_costs(crops: np.ndarray, cost: float = BLUR_COST) -> np.ndarray:
    """What choosing each library frame costs for its blur: ``cost`` times how far its sharpness
    (variance of the Laplacian of its grey pixels) falls below the library's median, as a
    fraction of the median; 0 for frames at least as sharp. ``crops`` ``(N, h, w, 3)`` uint8 ->
    ``(N,)`` float64."""
    if len(crops) == 0:
        return np.zeros(0)
    sharp = np.array([cv2.Laplacian(cv2.cvtColor(c, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() for c in crops])
    med = float(np.median(sharp))
    return cost * np.clip(1 - sharp / max(med, 1e-9), 0.0, 1.0)


def rotation_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle of the rotation between ``a`` ``(n, 3, 3)`` and each of ``b`` ``(m, 3, 3)``:
    ``(n, m)`` float64 radians."""
    tr = np.einsum("nij,mij->nm", np.asarray(a, np.float64), np.asarray(b, np.float64))
    return np.arccos(np.clip((tr - 1) / 2, -1.0, 1.0))


def library_frames(detected: np.ndarray, n_frames: int, max_frames: int = LIBRARY_MAX_FRAMES,
                   run: int = LIBRARY_RUN) -> np.ndarray:
    """Which frames of a video go into its library: every frame with a detected face among the
    first ``n_frames``, or, when there are more than ``max_frames``, evenly spread runs of ``run``
    consecutive ones. ``(N,)`` int64, increasing."""
    seen = np.flatnonzero(np.asarray(detected[:n_frames], bool))
    if len(seen) <= max_frames:
        return seen.astype(np.int64)
    n_runs = max(max_frames // run, 1)
    starts = np.linspace(0, len(seen) - run, n_runs).round().astype(np.int64)
    picks = np.unique(np.concatenate([np.arange(s, s + run) for s in starts]))
    return seen[picks].astype(np.int64)


#: The library keeps the frame's own pixels (no resampling) in a rectangle around the lips: the
#: outer lip contour's bounding box widened by this fraction of the mouth's width on every side
#: (beyond the pasted region, :data:`PASTE_PAD` + 3 x :data:`PASTE_FEATHER`, for the warp's reach).
LIBRARY_MARGIN = 0.45
#: A mouth wider than this (pixels) is kept at an integer fraction of its size (a 4K video).
LIBRARY_MAX_MOUTH = 256


@dataclass
class MouthLibrary:
    """Frames of the face video to take the mouth from.

    Attributes:
        frames: source frame of each entry, ``(N,)`` int64, increasing.
        crops: each frame's pixels around the lips, ``(N, h, w, 3)`` uint8 RGB: frame pixel ``(x,
            y)`` is crop pixel ``((x - origins[i, 0]) / factors[i], (y - origins[i, 1]) /
            factors[i])`` (block-averaged when the factor is above 1; the frame's edge replicated
            beyond it).
        origins: top-left frame pixel of each crop, ``(N, 2)`` int64 (x, y).
        points: the lower-face vertices in each crop, ``(N, V, 2)`` float32 continuous crop pixels.
        shapes: mouth-shape descriptors, ``(N, K + 1)`` float32 (:func:`mouth_shapes_from_track`).
        rotations: head rotation of each frame, ``(N, 3, 3)`` float32.
        factors: integer downscaling of each crop, ``(N,)`` int64 (1 = the frame's own pixels).
    """

    frames: np.ndarray
    crops: np.ndarray
    origins: np.ndarray
    points: np.ndarray
    shapes: np.ndarray
    rotations: np.ndarray
    factors: np.ndarray

    def __len__(self) -> int:
        return int(len(self.frames))

    def save(self, path: str | Path, *, compressed: bool = False) -> None:
        """Write to ``path`` (``.npz``, ``compressed`` or not; atomic)."""
        from ...fileio import atomic_path

        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                (np.savez_compressed if compressed else np.savez)(f, version=LIBRARY_VERSION, frames=self.frames, crops=self.crops, origins=self.origins,
                         points=self.points, shapes=self.shapes, rotations=self.rotations, factors=self.factors)

    @classmethod
    def concatenate(cls, libraries: list["MouthLibrary"], gap: int = 1_000_000) -> "MouthLibrary":
        """One library of several (e.g. of several videos): crops padded to the largest size
        (edge replicated), frame numbers of library ``i`` offset by ``i * gap`` (no entry of one
        follows an entry of another)."""
        h = max(lib.crops.shape[1] for lib in libraries)
        w = max(lib.crops.shape[2] for lib in libraries)
        crops = np.concatenate([np.pad(lib.crops, ((0, 0), (0, h - lib.crops.shape[1]), (0, w - lib.crops.shape[2]),
                                                   (0, 0)), mode="edge") for lib in libraries])
        return cls(np.concatenate([lib.frames + i * gap for i, lib in enumerate(libraries)]), crops,
                   np.concatenate([lib.origins for lib in libraries]), np.concatenate([lib.points for lib in libraries]),
                   np.concatenate([lib.shapes for lib in libraries]),
                   np.concatenate([lib.rotations for lib in libraries]),
                   np.concatenate([lib.factors for lib in libraries]))

    @classmethod
    def load(cls, path: str | Path) -> "MouthLibrary":
        """Read what :meth:`save` wrote (``ValueError`` for another version or a broken file)."""
        with np.load(path) as z:
            if int(z["version"]) != LIBRARY_VERSION:
                raise ValueError(f"mouth library {path} has version {int(z['version'])}, not {LIBRARY_VERSION}")
            return cls(z["frames"], z["crops"], z["origins"], z["points"], z["shapes"], z["rotations"],
                       z["factors"])


def build_mouth_library(frames: Iterable[tuple[int, np.ndarray]], track: FaceTrack, rig: MouthRig,
                        frame_ids: np.ndarray, max_mouth: float = LIBRARY_MAX_MOUTH) -> MouthLibrary:
    """Cut and describe the library frames.

    Args:
        frames: ``(index, frame)`` pairs of the video in increasing order (frames ``(H, W, 3)``
            uint8 RGB), including every index of ``frame_ids`` (others are skipped), e.g.
            ``enumerate(read_frames(path))``.
        track, rig: the face's track and rig.
        frame_ids: the library's frames (:func:`library_frames`), ``(N,)`` increasing.
        max_mouth: a mouth wider than this (pixels) is kept at an integer fraction of its size.

    Raises:
        ValueError: a frame of ``frame_ids`` was not among ``frames``.
    """
    ids = np.asarray(frame_ids, np.int64)
    mesh = rig.mesh
    lm = mesh.landmark_index
    outer = lm[np.concatenate([mesh.outer_lip_upper, mesh.outer_lip_lower])]
    lips = track.landmarks[ids][:, outer, :2].astype(np.float64)  # (N, P, 2)
    lo, hi = lips.min(1), lips.max(1)
    mw = hi[:, 0] - lo[:, 0] if len(ids) else np.ones(1)
    factor = max(int(np.ceil(float(np.median(mw)) / max_mouth)), 1)
    margin = LIBRARY_MARGIN * mw[:, None] if len(ids) else np.zeros((0, 1))
    origins = np.floor(lo - margin).astype(np.int64)
    ends = np.ceil(hi + margin).astype(np.int64)
    size = (ends - origins).max(0) if len(ids) else np.array([factor, factor])
    cw, ch = (int(np.ceil(s / factor)) for s in size)
    crops = np.zeros((len(ids), ch, cw, 3), np.uint8)
    where = {int(i): k for k, i in enumerate(ids)}
    done = 0
    for i, frame in frames:
        k = where.get(int(i))
        if k is None:
            continue
        crops[k] = _cut(np.asarray(frame), origins[k], cw * factor, ch * factor, factor)
        done += 1
        if done == len(ids):
            break
    if done < len(ids):
        raise ValueError(f"only {done} of the {len(ids)} library frames were given")
    points = ((track.landmarks[ids][:, lm, :2] - origins[:, None, :]) / factor).astype(np.float32)
    return MouthLibrary(ids, crops, origins, points, mouth_shapes_from_track(track, rig, ids),
                        track.rotation[ids].astype(np.float32), np.full(len(ids), factor, np.int64))


def _cut(frame: np.ndarray, origin: np.ndarray, w: int, h: int, factor: int) -> np.ndarray:
    """The ``w`` x ``h`` frame rectangle at ``origin`` (edge pixels replicated outside the
    frame), block-averaged by ``factor``."""
    x0, y0 = int(origin[0]), int(origin[1])
    fh, fw = frame.shape[:2]
    xs = np.clip(np.arange(x0, x0 + w), 0, fw - 1)
    ys = np.clip(np.arange(y0, y0 + h), 0, fh - 1)
    rect = frame[ys[:, None], xs[None, :]]
    if factor > 1:
        rect = cv2.resize(rect, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    return rect


class MouthRetriever:
    """Chooses, frame after frame, the library frame to take the mouth from.

    A Viterbi path over each chunk of output frames through the :data:`CANDIDATES` closest
    library frames of each, minimising shape distance + :data:`POSE_WEIGHT` x the pose difference
    beyond :data:`POSE_FREE` + the frame's blur (:func:`blur_costs`) +
    :data:`JUMP_COST` for each step to a library frame that is neither the previous one nor the
    one after it; the last choice of a chunk carries over into the next chunk's path.

    Args:
        library: the face's :class:`MouthLibrary`.
    """

    def __init__(self, library: MouthLibrary, *, shape_ok: float = SHAPE_OK, shape_max: float = SHAPE_MAX,
                 pose_weight: float = POSE_WEIGHT, jump_cost: float = JUMP_COST, candidates: int = CANDIDATES):
        self.library = library
        self.shape_ok, self.shape_max = float(shape_ok), float(shape_max)
        self.pose_weight, self.jump_cost = float(pose_weight), float(jump_cost)
        self.candidates = int(candidates)
        self._blur = blur_costs(library.crops)
        self._previous: int | None = None

    def choose(self, shapes: np.ndarray, rotations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The library frame for each of ``n`` consecutive output frames.

        Args:
            shapes: the planned mouth shapes ``(n, K + 1)`` (:func:`mouth_shapes_from_meshes`).
            rotations: the head rotation of each output frame ``(n, 3, 3)``.

        Returns:
            ``(entries, weights)``: library entry per frame ``(n,)`` int64 (-1: none) and how much of
            its mouth to use, ``(n,)`` float32 in [0, 1] (1 up to :data:`SHAPE_OK`, 0 from
            :data:`SHAPE_MAX`).
        """
        n, lib = len(shapes), self.library
        if n == 0 or len(lib) == 0:
            return np.full(n, -1, np.int64), np.zeros(n, np.float32)
        dist = shape_distances(shapes, lib.shapes)  # (n, N)
        cost = (dist + self.pose_weight * np.maximum(rotation_angles(rotations, lib.rotations) - POSE_FREE, 0.0)
                + self._blur[None])
        k = min(self.candidates, len(lib))
        cand = np.argpartition(cost, k - 1, axis=1)[:, :k]  # (n, k)
        if self._previous is not None and self._previous not in cand[0]:
            cand[0, -1] = self._previous  # the previous choice can always be kept
        unary = np.take_along_axis(cost, cand, 1)
        # path
        acc = unary[0].copy()
        if self._previous is not None:
            acc += self._jump(np.array([self._previous]), cand[0])[0]
        back = np.zeros((n, k), np.int64)
        for t in range(1, n):
            total = acc[:, None] + self._jump(cand[t - 1], cand[t])  # (k_prev, k)
            back[t] = np.argmin(total, 0)
            acc = total[back[t], np.arange(k)] + unary[t]
        path = np.empty(n, np.int64)
        j = int(np.argmin(acc))
        for t in range(n - 1, -1, -1):
            path[t] = cand[t, j]
            j = int(back[t, j])
        self._previous = int(path[-1])
        d = dist[np.arange(n), path]
        w = np.clip((self.shape_max - d) / max(self.shape_max - self.shape_ok, 1e-9), 0.0, 1.0)
        return path, w.astype(np.float32)

    def _jump(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Transition cost ``(len(a), len(b))`` between library entries: 0 to the same entry or the
        next frame of the video, :attr:`jump_cost` otherwise."""
        fr = self.library.frames
        step = fr[b][None, :] - fr[a][:, None]
        follows = (step == 0) | ((step == 1) & (b[None, :] == a[:, None] + 1))
        return np.where(follows, 0.0, self.jump_cost)


def paste_mouth(out_frame: np.ndarray, library: MouthLibrary, entry: int, points: np.ndarray,
                region_loop: np.ndarray, weight: float, limit: np.ndarray | None = None,
                limit_box: CropBox | None = None, *, light: np.ndarray | None = None, pad: float = PASTE_PAD,
                feather: float = PASTE_FEATHER) -> np.ndarray:
    """Warp library entry ``entry``'s mouth onto the planned lips of an output frame and blend it.

    The map from frame pixels to the library crop is piecewise linear over the lower face's
    vertices (Delaunay triangles of their planned positions), so the library frame's outer and
    inner lip contours land on the planned ones and its teeth and mouth interior fill the planned
    opening. Its colours get a per-channel gain (within :data:`GAIN_RANGE`) matching a ring of
    skin around the pasted region to the same ring of ``light`` (the source frame being
    re-animated: the same video's light at that moment), or of ``out_frame``.

    Args:
        out_frame: the output frame so far ``(H, W, 3)`` uint8 RGB (not modified).
        library: the face's :class:`MouthLibrary`.
        entry: the library entry (:meth:`MouthRetriever.choose`).
        points: the planned lower-face vertices in the frame, ``(V, >=2)`` continuous pixels.
        region_loop: the contour of the pasted region as local vertex indices (a closed loop):
            the outer lip contour (lips and opening) or the inner one (the opening only).
        weight: how much of the library mouth to use, in [0, 1].
        limit, limit_box: an ``(R, R)`` crop-space alpha (and its crop box) the pasted region stays
            within (the rebuilt region's blending alpha), or ``None``.
        light: the frame whose light the pasted mouth takes, same shape as ``out_frame`` (default:
            ``out_frame``).
        pad, feather: :data:`PASTE_PAD`, :data:`PASTE_FEATHER` (fractions of the mouth's width).

    Returns:
        A new frame; outside the pasted region it is ``out_frame``'s, bit for bit.
    """
    out = np.array(out_frame, copy=True)
    if weight <= 0 or entry < 0:
        return out
    pts = np.asarray(points, np.float64)[:, :2]
    lips = pts[region_loop]
    width = float(np.ptp(lips[:, 0]))
    if not np.isfinite(width) or width < 2:
        return out
    pad_px, soft_px = pad * width, max(feather * width, 0.5)
    reach = pad_px + 3 * soft_px + 2
    h, w = out.shape[:2]
    xa, ya = max(int(np.floor(lips[:, 0].min() - reach)), 0), max(int(np.floor(lips[:, 1].min() - reach)), 0)
    xb, yb = min(int(np.ceil(lips[:, 0].max() + reach)), w), min(int(np.ceil(lips[:, 1].max() + reach)), h)
    if xb - xa < 2 or yb - ya < 2:
        return out
    # the pasted region: the planned lips and opening, dilated and feathered
    mask = np.zeros((yb - ya, xb - xa), np.uint8)
    cv2.fillPoly(mask, [np.round((lips - [xa + 0.5, ya + 0.5]) * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
    k = int(round(pad_px))
    if k > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), soft_px)
    # where each frame pixel's skin is in the library crop
    gx, gy = np.meshgrid(np.arange(xa, xb) + 0.5, np.arange(ya, yb) + 0.5)
    tri = Delaunay(pts)
    src = LinearNDInterpolator(tri, library.points[entry].astype(np.float64))(gx, gy)
    valid = np.isfinite(src[..., 0])
    map_x = np.where(valid, src[..., 0] - 0.5, -1).astype(np.float32)
    map_y = np.where(valid, src[..., 1] - 0.5, -1).astype(np.float32)
    # bicubic: the library holds the frame's own pixels, which bilinear sampling would soften
    moved = cv2.remap(library.crops[entry], map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    alpha *= valid
    if limit is not None and limit_box is not None:
        alpha *= np.clip(warp_to_frame(np.asarray(limit, np.float32), limit_box, (xa, ya, xb, yb)), 0, 1)
    alpha *= float(np.clip(weight, 0, 1))
    if not (alpha > 1e-3).any():
        return out
    roi = out[ya:yb, xa:xb].astype(np.float32)
    ref = roi if light is None else np.asarray(light)[ya:yb, xa:xb]
    moved = moved.astype(np.float32) * colour_gain(ref, moved, mask, valid, k + 2 * int(round(soft_px)) + 2)
    a = alpha[..., None]
    out[ya:yb, xa:xb] = np.clip(np.rint(roi * (1 - a) + moved * a), 0, 255).astype(np.uint8)
    return out


def colour_gain(target: np.ndarray, moved: np.ndarray, mask: np.ndarray, valid: np.ndarray, ring_px: int
                ) -> np.ndarray:
    """Per-channel gain ``(3,)`` bringing ``moved``'s mean colour on a ring around ``mask`` (width
    ``ring_px``, where ``valid``) to ``target``'s, within :data:`GAIN_RANGE` (1 where the ring
    is empty)."""
    r = max(int(ring_px), 1)
    outer = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    ring = (outer > 0) & (mask == 0) & valid
    if ring.sum() < 8:
        return np.ones(3, np.float32)
    mt = np.asarray(target, np.float32)[ring].mean(0)
    mm = np.asarray(moved, np.float32)[ring].mean(0)
    return np.clip(mt / np.maximum(mm, 1.0), *GAIN_RANGE).astype(np.float32)


#: The inside of another person's open mouth (:class:`MouthSources` ``generic``) is pasted inside
#: the planned inner lip contour dilated by this fraction of the opening's width (under the lips'
#: inner edge, which the refiner draws about there), feathered over :data:`INTERIOR_FEATHER`.
INTERIOR_PAD, INTERIOR_FEATHER = 0.03, 0.03
#: Nor is it pasted into a mouth that is barely open: its weight grows from 0 to 1 as the planned
#: inner lips' widest opening grows between these (mouth widths); shut lips get nothing.
INTERIOR_OPEN = (0.02, 0.06)


@dataclass
class MouthChoice:
    """Which mouths ``n`` output frames take (:meth:`MouthSources.choose`).

    Attributes:
        own_entries, own_weights: the person's own library entry of each frame ``(n,)`` int64 (-1:
            none) and how much of it is used ``(n,)`` float32 in [0, 1].
        generic_entries, generic_weights: the same for the shipped mouth interiors.
    """

    own_entries: np.ndarray
    own_weights: np.ndarray
    generic_entries: np.ndarray
    generic_weights: np.ndarray


class MouthSources:
    """Where one sequence of output frames takes its mouths from: the person's own video
    (``own``: lips, teeth and interior) and, where that has no mouth open as planned, real open
    mouths of other people (``generic``: only the inside of the lips: teeth, tongue, the dark of
    the mouth), each a :class:`MouthLibrary` or ``None``. Keeps a :class:`MouthRetriever` for each
    (a new :class:`MouthSources` per sequence)."""

    def __init__(self, own: MouthLibrary | None, generic: MouthLibrary | None = None):
        self.own = MouthRetriever(own) if own is not None and len(own) else None
        # another person's frames: their head pose says nothing about how the mouth will look
        self.generic = MouthRetriever(generic, pose_weight=0.0) if generic is not None and len(generic) else None

    def choose(self, shapes: np.ndarray, rotations: np.ndarray) -> MouthChoice:
        """The mouths of ``n`` consecutive output frames (the retrievers' state moves on by ``n``).

        Args:
            shapes: the planned mouth shapes ``(n, K + 1)`` (:func:`mouth_shapes_from_meshes`).
            rotations: the head rotation of each frame ``(n, 3, 3)``.

        Returns:
            :class:`MouthChoice`: the own mouth where the person's video opens as planned; the
            other person's mouth interior, weight ``generic x (1 - own)``, where it does not (none
            in a mouth barely open, :data:`INTERIOR_OPEN`).
        """
        n = len(shapes)
        if self.own is not None:
            own_e, own_w = self.own.choose(shapes, rotations)
        else:
            own_e, own_w = np.full(n, -1, np.int64), np.zeros(n, np.float32)
        if self.generic is not None:
            gen_e, gen_w = self.generic.choose(shapes, rotations)
            lo, hi = INTERIOR_OPEN
            opened = np.clip((np.asarray(shapes)[:, :-1].max(1) - lo) / (hi - lo), 0.0, 1.0)
            gen_w = gen_w * (1 - own_w) * opened
        else:
            gen_e, gen_w = np.full(n, -1, np.int64), np.zeros(n, np.float32)
        return MouthChoice(own_e, own_w.astype(np.float32), gen_e, gen_w.astype(np.float32))

    def paste(self, out: list[np.ndarray], light: list[np.ndarray], choice: MouthChoice, points: np.ndarray,
              rig: MouthRig, alphas: np.ndarray | None = None, boxes: list[CropBox] | None = None
              ) -> list[np.ndarray]:
        """Paste the chosen mouths (:meth:`choose`) of ``n`` consecutive output frames.

        Args:
            out: the output frames so far ``(H, W, 3)`` uint8 (not modified).
            light: the source frames they re-animate (the own mouth takes their light).
            choice: :meth:`choose` of these frames.
            points: the planned lower-face vertices ``(n, V, >=2)``, frame pixels.
            rig: the person's rig (its mesh's lip contours).
            alphas, boxes: the rebuilt region's crop-space alphas ``(n, R, R)`` and their crop boxes:
                nothing is pasted outside them (``None``: no limit).

        Returns:
            The ``n`` frames: the other person's mouth interior (inside the planned inner lips),
            then the own mouth over it.
        """
        m = rig.mesh
        outer = np.concatenate([m.outer_lip_upper, m.outer_lip_lower[::-1]])
        result = []
        for k in range(len(out)):
            lim = alphas[k] if alphas is not None else None
            box = boxes[k] if boxes is not None else None
            f = out[k]
            if choice.generic_weights[k] > 0:
                f = paste_mouth(f, self.generic.library, int(choice.generic_entries[k]), points[k], m.inner_lip_loop,
                                float(choice.generic_weights[k]), lim, box, pad=INTERIOR_PAD,
                                feather=INTERIOR_FEATHER)
            if choice.own_weights[k] > 0:
                f = paste_mouth(f, self.own.library, int(choice.own_entries[k]), points[k], outer,
                                float(choice.own_weights[k]), lim, box, light=light[k])
            result.append(f)
        return result
