"""The talking painting: turn one portrait (photo or painting) into an idle face video.

:func:`animate_portrait` makes a short clip of the portrait with natural idle motion, which the
rest of the pipeline then uses as the face video (tracked, mouth driven by the speech; the
refiner is not fine-tuned on it, see :data:`talkinghead.refine.prepare.PORTRAIT_STEPS`):

1. **Find** the face (:func:`find_portrait_face`): MediaPipe's detector + face mesh (478 3D
   landmarks, pixels); a portrait that shows several faces of comparable size needs an explicit
   ``face_index``. The head pose comes from a fit against the generic canonical face
   (:mod:`talkinghead.face.pose`).
2. **Motion** (:func:`idle_motion`): small head rotations (yaw, pitch, roll of a few degrees) and
   translations, each a seeded random sum of half-period cosines ``cos(k pi t / T)`` with a
   ``1/k`` spectrum up to ``motion_hz``: smooth, zero-mean, and at rest (zero velocity) at both
   ends of the clip, so the forward-then-backward (ping-pong) playback of a long script has no
   bounce. Blinks at a human rate (``blinks_per_minute``, gamma-distributed intervals), each a
   fast close, a short hold and a slower opening.
3. **Render** (:class:`PortraitRig`): the landmarks are rotated in 3D about a pivot behind the face
   (real 3D rotation using their depth, orthographic projection; the depth eases to the contour's
   near the face outline, where a 2D warp cannot show the face turning away, so the silhouette is
   not crushed); rings of points around the face oval carry the head's motion out to the hair,
   ears, neck and shoulders with a smooth falloff; the image border stays fixed. Triangles are
   drawn far to near, so the nose covers the cheek behind it when the head turns. For a blink the upper-eyelid contour moves down to meet the
   (slightly raised) lower lid, and the lid skin above it follows with a falloff, so the eyelid's
   own skin covers the eye. The image is warped piecewise-affinely on a Delaunay triangulation of
   all these points, as one dense backward map (:func:`cv2.remap`, bicubic).

The clip is cached by the image's content hash and the settings (``$TALKINGHEAD_CACHE/portraits``
or ``~/.cache/talkinghead/portraits``), written atomically, without audio.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import FaceError, InputError
from ..media import DEFAULT_FPS

log = logging.getLogger(__name__)

#: Bumped whenever the rendered clip changes for the same image and settings (cache key).
PORTRAIT_VERSION = 1

#: Canonical-space pivot of the head rotation (x right, y down, z away; unit = outer-eye-corner
#: distance): behind the face, about at the ears, a little below the eyes.
PIVOT_CANONICAL = (0.0, 0.35, 1.0)

#: Rings around the face oval (scale about its centre) that carry the head motion outwards,
#: and the fraction of the head motion each follows (hair/ears fully, the far surround not).
RING_SCALES = (1.15, 1.35, 1.6, 1.9, 2.3, 2.8)
RING_FALLOFF = (1.2, 2.8)  # motion weight 1 at the first scale, 0 at the second (smoothstep)

#: Depth easing band inside the face contour, in inter-ocular distances (see PortraitRig).
DEPTH_EASE = 0.35

#: Eye opening left when closed: this fraction of the eye width, at least ``CLOSED_GAP_PX``.
CLOSED_GAP = 0.04
CLOSED_GAP_PX = 1.0

#: Faces at least this fraction of the largest face's size count as competing faces.
COMPETING_FACE_SIZE = 0.6


@dataclass(frozen=True)
class PortraitSettings:
    """How a portrait is animated (all fields are part of the cache key).

    Attributes:
        yaw_deg, pitch_deg, roll_deg: peak head rotation about the image's vertical, horizontal
            and viewing axes (degrees).
        shift: peak head translation, in inter-ocular distances (outer eye corners).
        motion_hz: highest frequency in the head motion (Hz).
        blinks_per_minute: mean blink rate.
        min_blink_gap_s: shortest interval between two blinks (seconds).
        first_blink_s: the first blink starts uniformly in this range (seconds), so short clips
            have one too.
        blink_close_s, blink_hold_s, blink_open_s: durations of the closing, fully closed and
            opening phases (seconds; rounded to whole frames, at least one frame each).
        lid_meet: where the lids meet when closed, as a fraction of the eye opening above the
            lower lid (the upper lid travels ``1 - lid_meet`` of the opening).
        max_blink: blink depth, 1 = fully closed (reduced automatically if the warp would fold).
        crf: x264 quality of the clip (low = near lossless).
    """

    yaw_deg: float = 4.0
    pitch_deg: float = 2.5
    roll_deg: float = 2.0
    shift: float = 0.04
    motion_hz: float = 0.35
    blinks_per_minute: float = 17.0
    min_blink_gap_s: float = 1.0
    first_blink_s: tuple[float, float] = (0.3, 1.3)
    blink_close_s: float = 0.12
    blink_hold_s: float = 0.04
    blink_open_s: float = 0.16
    lid_meet: float = 0.2
    max_blink: float = 1.0
    crf: int = 12

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------------------------
# Motion


@dataclass
class IdleMotion:
    """Per-frame idle motion of a portrait.

    Attributes:
        angles: ``(T, 3)`` float64, yaw, pitch, roll in degrees (rotation about the image's y, x
            and z axes).
        shift: ``(T, 2)`` float64, head translation (x, y) in inter-ocular distances.
        blink: ``(T,)`` float64, eyelid closure, 0 = open, 1 = closed.
        blink_starts: ``(B,)`` float64, start time of each blink (seconds).
        fps: frame rate.
    """

    angles: np.ndarray
    shift: np.ndarray
    blink: np.ndarray
    blink_starts: np.ndarray
    fps: float

    @property
    def n_frames(self) -> int:
        return int(self.angles.shape[0])


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _cosine_motion(n_frames: int, fps: float, max_hz: float, rng: np.random.Generator,
                   n_channels: int) -> np.ndarray:
    """``(T, C)`` smooth random signals with peak 1, zero velocity at both ends.

    Each channel is ``sum_k a_k cos(k pi t / D)`` (``D`` = clip duration, frequencies ``k / 2D``
    up to ``max_hz``), ``a_k ~ N(0, 1/k)``, scaled to a peak absolute value of 1.
    """
    duration = max((n_frames - 1) / fps, 1e-6)
    kmax = max(1, int(np.floor(2.0 * duration * max_hz)))
    k = np.arange(1, kmax + 1)
    u = np.arange(n_frames) / max(n_frames - 1, 1)
    basis = np.cos(np.pi * np.outer(u, k))  # (T, K)
    coef = rng.normal(size=(kmax, n_channels)) / k[:, None]
    sig = basis @ coef
    peak = np.abs(sig).max(axis=0)
    return sig / np.where(peak > 1e-9, peak, 1.0)


def blink_profile(tau: np.ndarray, close_s: float, hold_s: float, open_s: float) -> np.ndarray:
    """Eyelid closure (0 open .. 1 closed) ``tau`` seconds after a blink starts.

    Smoothstep closing over ``close_s``, closed for ``hold_s``, smoothstep opening over
    ``open_s``; 0 outside.
    """
    tau = np.asarray(tau, dtype=np.float64)
    out = np.where(tau < close_s, _smoothstep(tau / close_s), 1.0)
    t_open = tau - close_s - hold_s
    out = np.where(t_open > 0, 1.0 - _smoothstep(t_open / open_s), out)
    return np.where((tau < 0) | (t_open >= open_s), 0.0, out)


def idle_motion(n_frames: int, fps: float, seed: int = 0,
                settings: PortraitSettings | None = None) -> IdleMotion:
    """Seeded idle head motion and blinks for ``n_frames`` frames at ``fps``.

    The same ``(n_frames, fps, seed, settings)`` always give the same motion. Blinks lie wholly
    inside the clip; their timing is snapped to frames so that each blink has a fully closed
    frame.
    """
    s = settings or PortraitSettings()
    if n_frames < 2:
        raise InputError(f"an idle clip needs at least 2 frames, got {n_frames}")
    if fps <= 0:
        raise InputError(f"frame rate must be positive, got {fps}")
    rng = np.random.default_rng([int(seed), 0x7A1C])
    sig = _cosine_motion(n_frames, fps, s.motion_hz, rng, 5)
    angles = sig[:, :3] * np.array([s.yaw_deg, s.pitch_deg, s.roll_deg])
    shift = sig[:, 3:] * s.shift

    # Blinks: frame-snapped phase durations so that the closed phase lands on a frame.
    c = max(1, round(s.blink_close_s * fps)) / fps
    h = (max(1, round(s.blink_hold_s * fps)) - 1) / fps
    o = max(1, round(s.blink_open_s * fps)) / fps
    length = c + h + o
    mean_gap = 60.0 / s.blinks_per_minute
    shape = 2.0
    scale = max(mean_gap - s.min_blink_gap_s, 1e-3) / shape
    end = (n_frames - 1) / fps
    starts: list[float] = []
    t = rng.uniform(*s.first_blink_s)
    while True:
        t0 = round(t * fps) / fps
        if t0 + length > end - 0.5 / fps:
            break
        starts.append(t0)
        t = t0 + s.min_blink_gap_s + rng.gamma(shape, scale)
    times = np.arange(n_frames) / fps
    blink = np.zeros(n_frames)
    for t0 in starts:
        blink = np.maximum(blink, blink_profile(times - t0, c, h, o))
    return IdleMotion(angles=angles, shift=shift, blink=blink * s.max_blink,
                      blink_starts=np.array(starts, dtype=np.float64), fps=float(fps))


def rotation_matrix(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """``(3, 3)`` rotation ``Rz(roll) @ Rx(pitch) @ Ry(yaw)`` in image axes (x right, y down,
    z away from the camera)."""
    y, p, r = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


# ----------------------------------------------------------------------------------------------
# Face


@functools.lru_cache(maxsize=1)
def mesh_indices() -> dict[str, np.ndarray]:
    """Face-oval and eye-contour landmark indices from MediaPipe's face-mesh topology.

    Returns ``oval`` (36,) and, per eye (``right``, ``left`` = the subject's), the upper and lower
    lid contours from the image-left corner to the image-right corner, corners included
    (``right_upper``, ``right_lower``, ...; 9 points each).
    """
    import mediapipe as mp

    from ..face.pose import load_generic_canonical

    fm = mp.solutions.face_mesh
    canon = load_generic_canonical()["canonical"]
    out = {"oval": np.array(sorted({i for e in fm.FACEMESH_FACE_OVAL for i in e}), dtype=np.int64)}
    for name, edges in (("right", fm.FACEMESH_RIGHT_EYE), ("left", fm.FACEMESH_LEFT_EYE)):
        nbr: dict[int, list[int]] = {}
        for a, b in edges:
            nbr.setdefault(a, []).append(b)
            nbr.setdefault(b, []).append(a)
        pts = list(nbr)
        first = min(pts, key=lambda i: canon[i, 0])  # image-left corner
        last = max(pts, key=lambda i: canon[i, 0])
        halves = []
        for start in nbr[first]:
            path, prev, cur = [first], first, start
            while cur != last:
                path.append(cur)
                nxt = [j for j in nbr[cur] if j != prev]
                prev, cur = cur, nxt[0]
            path.append(last)
            halves.append(np.array(path, dtype=np.int64))
        halves.sort(key=lambda p: float(canon[p[1:-1], 1].mean()))  # smaller y = upper
        out[f"{name}_upper"], out[f"{name}_lower"] = halves
    return out


@dataclass
class PortraitFace:
    """The face found in a portrait.

    Attributes:
        landmarks: ``(478, 3)`` float64, MediaPipe landmarks in image pixels (z in the same scale,
            smaller = closer).
        rotation: ``(3, 3)`` head rotation (canonical -> image directions).
        translation: ``(3,)`` pixels.
        scale: pixels per canonical unit (about the inter-ocular distance).
        n_faces: number of comparable faces in the image.
    """

    landmarks: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    scale: float
    n_faces: int


def find_portrait_face(image: np.ndarray, face_index: int | None = None, name: str = "") -> PortraitFace:
    """Find the face to animate in ``image`` (RGB uint8 ``(H, W, 3)``).

    Args:
        image: the portrait.
        face_index: ``None``: the portrait must show exactly one face (faces smaller than half
            the largest are ignored as background); an int picks that face, 0 = the largest.
        name: file name for messages.

    Raises:
        FaceError: no face; several faces and no ``face_index``; ``face_index`` too large.
    """
    from ..face.pose import fit_pose, load_generic_canonical
    from ..face.tracking import TrackerSettings, _FrameTracker

    of = f" in {name}" if name else ""
    ft = _FrameTracker(TrackerSettings(), static=True)
    try:
        faces = ft.find_faces(image, want=max(8, (face_index or 0) + 1))
    finally:
        ft.close()
    if not faces:
        raise FaceError(f"no face found{of}")
    sizes = np.array([float(np.ptp(f[:, :2], axis=0).max()) for f in faces])
    n_comparable = int((sizes >= COMPETING_FACE_SIZE * sizes[0]).sum())
    if face_index is None:
        if n_comparable > 1:
            raise FaceError(f"{n_comparable} faces found{of}; choose one with --face-index N "
                            f"(0 = the largest, up to {n_comparable - 1})")
        face_index = 0
    if face_index >= len(faces):
        raise FaceError(f"face index {face_index} requested, but only {len(faces)} face(s) "
                        f"found{of}")
    lm = np.asarray(faces[face_index], dtype=np.float64)
    generic = load_generic_canonical()["canonical"].astype(np.float64)
    pose = fit_pose(lm[None], generic)
    return PortraitFace(landmarks=lm, rotation=pose.rotation[0], translation=pose.translation[0],
                        scale=float(pose.scale[0]), n_faces=n_comparable)


# ----------------------------------------------------------------------------------------------
# Warp


class PortraitRig:
    """Warps one portrait into any head pose / eyelid closure (piecewise-affine).

    Args:
        image: RGB uint8 ``(H, W, 3)``.
        face: the face found in it (:func:`find_portrait_face`).
        settings: animation settings (``lid_meet``, ``max_blink``).

    Attributes:
        src: ``(P, 2)`` float64 control points in the image (pixels): the 468 mesh landmarks
            (iris points excluded), ring points around the face, border points.
        triangles: ``(F, 3)`` int64 Delaunay triangles of ``src``.
        blink_depth: the deepest blink that does not fold the warp (``<= settings.max_blink``).
    """

    N_MESH = 468

    def __init__(self, image: np.ndarray, face: PortraitFace, settings: PortraitSettings | None = None):
        import cv2
        from scipy.spatial import Delaunay

        self.image = np.ascontiguousarray(image)
        self.settings = s = settings or PortraitSettings()
        h, w = image.shape[:2]
        self.size = (w, h)
        idx = mesh_indices()
        lm = face.landmarks[: self.N_MESH]
        self.iod = face.scale
        self.pivot = face.scale * face.rotation @ np.array(PIVOT_CANONICAL) + face.translation

        # Ring points around the face oval (at the contour's depth) carry the motion outwards.
        oval = face.landmarks[idx["oval"]]
        centre = oval[:, :2].mean(axis=0)
        # Depth used for the rotation: the landmarks' own inside the face, easing to the face
        # contour's mean depth at the contour (and outside it), so that the parallax between
        # nose, cheeks and contour shows, but the silhouette (where a 2D warp cannot show the
        # face turning away) is not crushed against the hair.
        z_ref = float(oval[:, 2].mean())
        order = np.argsort(np.arctan2(oval[:, 1] - centre[1], oval[:, 0] - centre[0]))
        contour = oval[order, :2].astype(np.float32)
        inside = np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), True) for x, y in lm[:, :2]])
        ease = _smoothstep(np.maximum(inside, 0.0) / (DEPTH_EASE * face.scale))
        z_eff = z_ref + ease * (lm[:, 2] - z_ref)
        ring_xy, ring_z, ring_w = [], [], []
        lo_s, hi_s = RING_FALLOFF
        margin = 2.0
        for sc in RING_SCALES:
            q = centre + sc * (oval[:, :2] - centre)
            ok = ((q[:, 0] > margin) & (q[:, 0] < w - 1 - margin)
                  & (q[:, 1] > margin) & (q[:, 1] < h - 1 - margin))
            ring_xy.append(q[ok])
            ring_z.append(np.full(ok.sum(), z_ref))
            ring_w.append(np.full(ok.sum(), 1.0 - float(_smoothstep(np.array((sc - lo_s) / (hi_s - lo_s))))))
        ring_xy = np.concatenate(ring_xy)
        # Fixed border points.
        nb = 8
        xs, ys = np.linspace(0, w - 1, nb + 1), np.linspace(0, h - 1, nb + 1)
        border = np.concatenate([
            np.stack([xs, np.zeros_like(xs)], 1), np.stack([xs, np.full_like(xs, h - 1)], 1),
            np.stack([np.zeros_like(ys[1:-1]), ys[1:-1]], 1),
            np.stack([np.full_like(ys[1:-1], w - 1), ys[1:-1]], 1),
        ])
        self.n_ring = len(ring_xy)
        self.src = np.concatenate([lm[:, :2], ring_xy, border]).astype(np.float64)
        self.src_z = np.concatenate([z_eff, np.concatenate(ring_z), np.full(len(border), z_ref)])
        self.weight = np.concatenate([np.ones(self.N_MESH), np.concatenate(ring_w), np.zeros(len(border))])
        tri = Delaunay(self.src).simplices.astype(np.int64)
        tri = tri[np.abs(_signed_area(self.src, tri)) > 1e-6]
        # Drawing order. Triangles inside an eye opening (all corners on one eye's lid contour)
        # collapse when the lids meet: they come first, so the skin around them is drawn over.
        in_eye = np.zeros(len(tri), bool)
        for eye in ("right", "left"):
            lids = np.isin(tri, np.concatenate([idx[f"{eye}_upper"], idx[f"{eye}_lower"]]))
            in_eye |= lids.all(axis=1)
        # Then far to near (painter's order): where the head's turn makes a nearer part (the
        # nose) overlap a farther one (the cheek behind it), the nearer one shows.
        depth = self.src_z[tri].mean(axis=1)
        order = np.lexsort((-depth, ~in_eye))
        self.triangles = tri[order]
        self.eye_triangle = in_eye[order]
        self.src_sign = np.sign(_signed_area(self.src, self.triangles))
        self.blink_offset = self._blink_offsets(lm[:, :2], idx)
        # Slivers at the eye corners (a lid point a pixel or two from the corner) may fold a
        # little when the lid comes down; invisible, so tolerated by the fold check.
        lid_pts = np.concatenate([idx[k] for k in ("right_upper", "right_lower", "left_upper", "left_lower")])
        eye_w = min(np.linalg.norm(lm[idx[f"{e}_upper"][-1], :2] - lm[idx[f"{e}_upper"][0], :2])
                    for e in ("right", "left"))
        tiny = np.abs(_signed_area(self.src, self.triangles)) < 0.01 * eye_w**2
        self.fold_ok = self.eye_triangle | (tiny & np.isin(self.triangles, lid_pts).any(axis=1))
        self.blink_depth = self._safe_blink_depth(s.max_blink)

    # -- eyelids -----------------------------------------------------------------------------
    def _blink_offsets(self, pts: np.ndarray, idx: dict) -> np.ndarray:
        """``(P, 2)`` displacement of every control point at a full blink (pixels)."""
        s = self.settings
        off = np.zeros_like(self.src)
        for eye in ("right", "left"):
            up, low = idx[f"{eye}_upper"], idx[f"{eye}_lower"]
            a, b = pts[up[0]], pts[up[-1]]
            width = float(np.linalg.norm(b - a))
            if width < 1e-6:
                continue
            u = (b - a) / width
            n = np.array([-u[1], u[0]])  # "down" across the eye
            U, L = pts[up], pts[low]
            # Closed, the lids stay a thin gap apart (the compressed lash line), so the warp
            # stays continuous and the closure line is anti-aliased rather than a hard seam.
            opening = np.linalg.norm(U - L, axis=1)
            gap = max(CLOSED_GAP_PX, CLOSED_GAP * width)
            f = np.minimum(1.0, gap / np.maximum(opening, 1e-9))[:, None]
            dU = (s.lid_meet * (1 - f) + f) * (U - L) + L - U
            dL = s.lid_meet * (1 - f) * (U - L)
            sU, sL = (U - a) @ u / width, (L - a) @ u / width
            hU, hL = (U - a) @ n, (L - a) @ n
            off[up] = dU
            off[low[1:-1]] = dL[1:-1]
            lids = set(up.tolist()) | set(low.tolist())
            others = np.array([i for i in range(self.N_MESH) if i not in lids])
            p = self.src[others]
            sp, hp = (p - a) @ u / width, (p - a) @ n
            inside = (sp > 0) & (sp < 1)
            oU, oL = np.argsort(sU), np.argsort(sL)
            # Above the upper lid: follow it, fading out over 0.5 eye widths.
            h_up = np.interp(sp, sU[oU], hU[oU])
            fall = np.clip(1.0 - (h_up - hp) / (0.5 * width), 0.0, 1.0)
            above = inside & (hp < h_up)
            for k in range(2):
                d = np.interp(sp, sU[oU], dU[oU, k], left=0.0, right=0.0)
                off[others[above], k] = (d * fall)[above]
            # Below the lower lid: follow it, fading out over 0.3 eye widths.
            h_lo = np.interp(sp, sL[oL], hL[oL])
            fall = np.clip(1.0 - (hp - h_lo) / (0.3 * width), 0.0, 1.0)
            below = inside & (hp > h_lo)
            for k in range(2):
                d = np.interp(sp, sL[oL], dL[oL, k], left=0.0, right=0.0)
                off[others[below], k] = (d * fall)[below]
        return off

    def _safe_blink_depth(self, wanted: float) -> float:
        """The largest blink depth ``<= wanted`` whose warp keeps every triangle unfolded
        (triangles inside the eye openings, which collapse, and tiny corner slivers excepted)."""
        for depth in np.linspace(wanted, 0.0, 11):
            dst = self.src + depth * self.blink_offset
            a = _signed_area(dst, self.triangles) * self.src_sign
            src_a = np.abs(_signed_area(self.src, self.triangles))
            if np.all((a > -1e-3 * np.maximum(src_a, 1.0)) | self.fold_ok):
                if depth < wanted:
                    log.warning("portrait: blinks limited to %.0f%% closure (the eyelid warp would "
                                "fold beyond)", 100 * depth)
                return float(depth)
        return 0.0

    # -- frames ------------------------------------------------------------------------------
    def control_points(self, angles: np.ndarray, shift: np.ndarray, blink: float) -> np.ndarray:
        """``(P, 2)`` destination of every control point for one pose.

        Args:
            angles: yaw, pitch, roll (degrees).
            shift: head translation (x, y) in inter-ocular distances.
            blink: eyelid closure 0..1 (scaled by :attr:`blink_depth`).
        """
        R = rotation_matrix(*angles)
        p = np.concatenate([self.src + blink * self.blink_depth * self.blink_offset,
                            self.src_z[:, None]], axis=1)
        moved = (p - self.pivot) @ R.T + self.pivot
        moved[:, :2] += np.asarray(shift) * self.iod
        disp = (moved[:, :2] - p[:, :2]) * self.weight[:, None]
        return p[:, :2] + disp

    def render(self, angles, shift, blink: float) -> np.ndarray:
        """The portrait in one pose: RGB uint8 ``(H, W, 3)``."""
        return self.warp(self.control_points(np.asarray(angles, float), shift, blink))

    def warp(self, dst: np.ndarray) -> np.ndarray:
        """Warp the image so that control points ``src`` land on ``dst`` ``(P, 2)``."""
        import cv2

        out = self.image.copy()
        maps = self.source_map(dst)
        if maps is not None:
            (x0, y0), mx, my = maps
            h, w = mx.shape
            out[y0:y0 + h, x0:x0 + w] = cv2.remap(self.image, mx, my, cv2.INTER_CUBIC,
                                                  borderMode=cv2.BORDER_REFLECT)
        return out

    def source_map(self, dst: np.ndarray):
        """Backward map of the warp moving ``src`` to ``dst``: ``((x0, y0), map_x, map_y)``, the
        source position (float32 pixels) of each output pixel of the region ``(h, w)`` whose
        top-left corner is ``(x0, y0)``; pixels outside it are unmoved. ``None``: nothing moves."""
        import cv2

        w, h = self.size
        tri = self.triangles
        moving = np.abs(dst - self.src).max(axis=1) > 1e-3
        # Folded triangles (collapsing eye openings, slivers at the eye corners, and surface
        # turning out of view beside the nose or the jaw as the head turns) are left out: the
        # nearer surface drawn over them covers the area.
        unfolded = _signed_area(dst, tri) * self.src_sign > 0
        sel = moving[tri].any(axis=1) & unfolded
        if not sel.any():
            return None
        t = tri[sel]
        D, S = dst[t], self.src[t]  # (M, 3, 2)
        A, ok = _affines(D, S)  # [x y 1] @ A[k] = source position, for dst pixels of triangle k
        x0, y0 = np.floor(D.reshape(-1, 2).min(axis=0)).astype(int) - 1
        x1, y1 = np.ceil(D.reshape(-1, 2).max(axis=0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        n = len(t)
        ids = np.full((y1 - y0, x1 - x0), n, np.int32)  # n = identity (pixels not covered)
        poly = np.round((D - [x0, y0]) * 16).astype(np.int32)
        for k in np.flatnonzero(ok):
            cv2.fillConvexPoly(ids, poly[k], int(k), lineType=cv2.LINE_8, shift=4)
        A = np.concatenate([A, [[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]]]).astype(np.float32)
        xx = np.arange(x0, x1, dtype=np.float32)[None, :]
        yy = np.arange(y0, y1, dtype=np.float32)[:, None]
        mx = xx * A[:, 0, 0][ids] + yy * A[:, 1, 0][ids] + A[:, 2, 0][ids]
        my = xx * A[:, 0, 1][ids] + yy * A[:, 1, 1][ids] + A[:, 2, 1][ids]
        return (int(x0), int(y0)), mx, my


def _affines(D: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Affine maps of triangles ``D`` ``(M, 3, 2)`` onto ``S``: ``A`` ``(M, 3, 2)`` with
    ``[x, y, 1] @ A[k]`` mapping a point of ``D[k]`` to ``S[k]``, and ``ok`` ``(M,)`` (False for
    degenerate triangles, whose ``A`` is zero)."""
    (ax, ay), (bx, by), (cx, cy) = D[:, 0].T, D[:, 1].T, D[:, 2].T
    det = (bx - ax) * (cy - ay) - (cx - ax) * (by - ay)
    ok = np.abs(det) > 1e-9
    inv_det = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    # Inverse of [[ax, ay, 1], [bx, by, 1], [cx, cy, 1]] (adjugate / det).
    inv = np.empty((len(D), 3, 3))
    inv[:, 0] = np.stack([by - cy, cy - ay, ay - by], 1)
    inv[:, 1] = np.stack([cx - bx, ax - cx, bx - ax], 1)
    inv[:, 2] = np.stack([bx * cy - cx * by, cx * ay - ax * cy, ax * by - bx * ay], 1)
    inv *= inv_det[:, None, None]
    return inv @ S, ok


def _signed_area(pts: np.ndarray, tri: np.ndarray) -> np.ndarray:
    a, b, c = pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


# ----------------------------------------------------------------------------------------------
# Clip


def cache_dir() -> Path:
    """``$TALKINGHEAD_CACHE/portraits`` or ``~/.cache/talkinghead/portraits``."""
    from .. import cache as disk_cache

    return disk_cache.cache_dir("portraits")


def portrait_frames(image: np.ndarray, motion: IdleMotion, *, face_index: int | None = None,
                    settings: PortraitSettings | None = None, name: str = "", progress: bool = False):
    """Yield the idle frames (RGB uint8 ``(H, W, 3)``) of ``image`` moved by ``motion``."""
    from tqdm import tqdm

    face = find_portrait_face(image, face_index, name)
    rig = PortraitRig(image, face, settings)
    for i in tqdm(range(motion.n_frames), disable=not progress, desc="animating portrait", unit="frame"):
        yield rig.render(motion.angles[i], motion.shift[i], float(motion.blink[i]))


def animate_portrait(
    image_path: str | os.PathLike,
    *,
    seconds: float = 10.0,
    fps: float = DEFAULT_FPS,
    seed: int = 0,
    face_index: int | None = None,
    settings: PortraitSettings | None = None,
    cache: bool = True,
    progress: bool = True,
) -> Path:
    """Make an idle video of a portrait (photo or painting) to use as a face video.

    Args:
        image_path: the portrait image (or a video of one frame, such as a still GIF).
        seconds: clip length (the pipeline plays it forward and backward for longer speech).
        fps: frame rate.
        seed: motion and blink seed (same seed, same clip).
        face_index: ``None``: the portrait must show one face; an int picks a face (0 = largest).
        settings: animation settings (default :class:`PortraitSettings`).
        cache: reuse a clip made earlier for the same image content and settings.
        progress: show a progress bar.

    Returns:
        Path of the mp4 (H.264, no audio, the image's size, ``round(seconds * fps)`` frames) in
        :func:`cache_dir`.

    Raises:
        MediaError: the image cannot be read.
        FaceError: no face, or several faces without ``face_index``.
    """
    from .. import cache as disk_cache
    from ..media import VideoWriter, is_still, load_frames, probe

    s = settings or PortraitSettings()
    path = Path(image_path)
    info = probe(path)
    if not is_still(path, info):
        raise InputError(f"{path} is not an image (nor a one-frame video)")
    n_frames = int(round(seconds * fps))
    if n_frames < 2:
        raise InputError(f"an idle clip needs at least 2 frames; got {seconds} s at {fps} fps")
    key = disk_cache.content_key(path, {"version": PORTRAIT_VERSION, "settings": s.to_dict(),
                                        "seconds": float(seconds), "fps": float(fps), "seed": int(seed),
                                        "face_index": face_index})
    # written into the cache folder even without ``cache`` (read=False): the next run may use it
    out, hit = disk_cache.cache_slot("portraits", f"{key}.mp4", read=cache, temp_prefix="talkinghead-portrait-")
    if hit:
        log.info("idle clip of %s loaded from the cache (%s)", path, out)
        return out
    image = load_frames(path)[0]
    motion = idle_motion(n_frames, fps, seed, s)
    frames = portrait_frames(image, motion, face_index=face_index, settings=s, name=path.name,
                             progress=progress)
    first = next(frames)  # finds the face (FaceError) before any file is created
    with VideoWriter(out, fps, crf=s.crf, preset="fast",
                     metadata={"comment": f"talkinghead idle portrait clip of {path.name}"}) as wr:
        wr.write(first)
        for f in frames:
            wr.write(f)
    return out
