"""Rigid head pose from face-mesh landmarks, and the canonical (neutral, frontal) face.

Conventions (the same as :class:`talkinghead.face.types.FaceTrack`):

- Image space: pixels, x right, y down, origin at the top-left corner of the frame; z is
  MediaPipe's relative depth in the same pixel scale (``z_px = z_mediapipe * width``), smaller =
  closer to the camera. The camera is orthographic (weak perspective).
- Canonical space: a frontal face looking at the camera, x towards image right (the subject's left),
  y down, z away from the camera (right-handed: ``z = x cross y``). Origin at the centroid of the
  :data:`STABLE` landmarks; unit length = distance between the outer eye corners (landmarks 33
  and 263).
- Pose: ``landmarks = scale * canonical @ rotation.T + translation`` (rows are points), i.e. the
  rotation maps canonical directions to image directions; ``scale`` is pixels per canonical unit
  (about the inter-ocular distance in pixels for a frontal face).

The fit is a weighted similarity (Umeyama) on :data:`STABLE` landmarks (forehead, nose bridge,
eye corners, cheekbones: points that move little with expression), made robust by iteratively
reweighting with a Cauchy-type weight on the residuals. It is vectorised over frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DependencyError
from ..fileio import bundled_file

#: Landmarks that move little with expression (no mouth, jaw, eyelids or eyebrows).
STABLE: np.ndarray = np.array(
    [
        10, 151, 9, 8, 108, 337, 109, 338, 67, 297,  # forehead
        168, 6, 197, 195, 5, 4, 1,  # nose bridge and tip
        33, 133, 263, 362, 130, 243, 359, 463,  # eye corners
        116, 345, 123, 352, 117, 346,  # cheekbones
    ],
    dtype=np.int64,
)
#: Outer eye corners (image-left = subject's right, image-right = subject's left).
EYE_OUTER = (33, 263)
#: Inner lip midpoints (upper, lower): their distance is the lip opening.
INNER_LIP = (13, 14)

def canonical_path() -> Path:
    """Path of the shipped generic canonical face (built by tools/build_canonical_face.py):
    package data in an installed wheel, else the repository's ``assets/``."""
    return bundled_file("canonical_face.npz", "assets")


@dataclass
class Pose:
    """Per-frame rigid pose. ``rotation`` ``(T, 3, 3)``, ``translation`` ``(T, 3)`` (pixels),
    ``scale`` ``(T,)`` (pixels per canonical unit), all float64."""

    rotation: np.ndarray
    translation: np.ndarray
    scale: np.ndarray


def fit_similarity(
    src: np.ndarray,
    dst: np.ndarray,
    weights: np.ndarray | None = None,
) -> Pose:
    """Weighted Umeyama similarity ``dst ~= s * src @ R.T + t`` for each frame.

    Args:
        src: model points, ``(N, 3)`` or ``(T, N, 3)``.
        dst: observed points, ``(T, N, 3)``.
        weights: ``(N,)`` or ``(T, N)`` non-negative weights (default: all ones).

    Returns:
        :class:`Pose` with ``T`` frames; ``R`` proper rotations (det +1).
    """
    dst = np.asarray(dst, dtype=np.float64)
    T, N, _ = dst.shape
    src = np.broadcast_to(np.asarray(src, dtype=np.float64), (T, N, 3))
    w = np.ones((T, N)) if weights is None else np.broadcast_to(np.asarray(weights, float), (T, N))
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    mu_s = np.einsum("tn,tnk->tk", w, src)
    mu_d = np.einsum("tn,tnk->tk", w, dst)
    sc = src - mu_s[:, None]
    dc = dst - mu_d[:, None]
    cov = np.einsum("tn,tni,tnj->tij", w, dc, sc)  # (T, 3, 3)
    var_s = np.einsum("tn,tnk,tnk->t", w, sc, sc)
    U, S, Vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(U @ Vt))
    d[d == 0] = 1.0
    D = np.tile(np.eye(3), (T, 1, 1))
    D[:, 2, 2] = d
    R = U @ D @ Vt
    s = np.einsum("ti,tii->t", S, D) / np.maximum(var_s, 1e-12)
    t = mu_d - s[:, None] * np.einsum("tij,tj->ti", R, mu_s)
    return Pose(rotation=R, translation=t, scale=s)


def fit_pose(
    landmarks: np.ndarray,
    canonical: np.ndarray,
    *,
    indices: np.ndarray = STABLE,
    iterations: int = 3,
) -> Pose:
    """Robust pose of each frame's landmarks against ``canonical``.

    Args:
        landmarks: ``(T, 478, 3)`` image-space landmarks (pixels).
        canonical: ``(478, 3)`` canonical face.
        indices: landmarks used for the fit (default :data:`STABLE`).
        iterations: reweighting rounds (0 = plain least squares).

    Returns:
        :class:`Pose` per frame.
    """
    dst = np.asarray(landmarks, dtype=np.float64)[:, indices]
    src = np.asarray(canonical, dtype=np.float64)[indices]
    pose = fit_similarity(src, dst)
    for _ in range(iterations):
        pred = apply_pose(pose, src)
        r = np.linalg.norm(pred - dst, axis=-1)  # (T, n)
        c = 2.0 * np.median(r, axis=1, keepdims=True) + 1e-6 * pose.scale[:, None]
        w = 1.0 / (1.0 + (r / c) ** 2)
        pose = fit_similarity(src, dst, w)
    return pose


def apply_pose(pose: Pose, points: np.ndarray) -> np.ndarray:
    """``scale * points @ R.T + t`` per frame; ``points`` ``(N, 3)`` or ``(T, N, 3)``."""
    pts = np.asarray(points, dtype=np.float64)
    spec = "tij,nj->tni" if pts.ndim == 2 else "tij,tnj->tni"
    rotated = np.einsum(spec, pose.rotation, pts)
    return pose.scale[:, None, None] * rotated + pose.translation[:, None, :]


def to_canonical(pose: Pose, landmarks: np.ndarray) -> np.ndarray:
    """Invert the pose: ``(landmarks - t) @ R / s``, ``(T, N, 3)`` in canonical units."""
    x = np.asarray(landmarks, dtype=np.float64) - pose.translation[:, None, :]
    out = np.einsum("tni,tij->tnj", x, pose.rotation)
    del x  # long videos: one whole-video temporary fewer
    out /= pose.scale[:, None, None]
    return out


def normalize_canonical(points: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Put a face ``(478, 3)`` into canonical form.

    Without ``reference``: translate so the :data:`STABLE` centroid is at the origin and scale so
    the outer eye corners are 1 apart (orientation untouched). With ``reference`` (a canonical
    face): additionally rotate onto the reference's orientation by a similarity fit on
    :data:`STABLE`, so that the result's frontal direction matches the reference's.
    """
    p = np.asarray(points, dtype=np.float64)
    if reference is not None:
        pose = fit_pose(p[None], reference)
        p = to_canonical(pose, p[None])[0]
    p = p - p[STABLE].mean(axis=0)
    iod = np.linalg.norm(p[EYE_OUTER[1]] - p[EYE_OUTER[0]])
    return p / iod


def load_generic_canonical(path: str | Path | None = None) -> dict[str, np.ndarray]:
    """The shipped generic canonical face.

    Returns a dict with ``canonical`` ``(478, 3)`` float32 (symmetric, frontal, canonical units)
    and ``mirror`` ``(478,)`` int64 (index of each landmark's left/right mirror image; midline
    points map to themselves).
    """
    p = Path(path) if path is not None else canonical_path()
    if not p.exists():
        raise DependencyError(
            f"generic canonical face {p} is missing; rebuild it with "
            "`python tools/build_canonical_face.py`"
        )
    with np.load(p) as z:
        return {"canonical": z["canonical"].astype(np.float32), "mirror": z["mirror"].astype(np.int64)}


def lip_gap(canonical_points: np.ndarray) -> np.ndarray:
    """Inner-lip opening (canonical units) of faces ``(T, 478, 3)`` in canonical space: ``(T,)``."""
    a, b = INNER_LIP
    return np.linalg.norm(canonical_points[:, b] - canonical_points[:, a], axis=-1)


def person_canonical(
    landmarks: np.ndarray,
    generic: np.ndarray,
    *,
    closed_fraction: float = 0.3,
) -> np.ndarray:
    """This person's neutral face from their tracked landmarks.

    Each frame is brought into canonical space by its pose against ``generic``; the median over
    the frames whose mouth is most closed (the ``closed_fraction`` with the smallest inner-lip gap,
    at least one frame) is the person's face, re-normalised onto ``generic``'s orientation.

    Args:
        landmarks: ``(T, 478, 3)`` image-space landmarks of detected frames.
        generic: ``(478, 3)`` generic canonical face.

    Returns:
        ``(478, 3)`` float64 canonical face.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    pose = fit_pose(lm, generic)
    q = to_canonical(pose, lm)
    gap = lip_gap(q)
    k = max(1, int(np.ceil(closed_fraction * len(q))))
    chosen = np.argsort(gap, kind="stable")[:k]
    neutral = np.median(q[chosen], axis=0)
    return normalize_canonical(neutral, reference=generic)


def rotation_angles(rotation: np.ndarray) -> np.ndarray:
    """Yaw, pitch, roll in degrees of rotations ``(T, 3, 3)`` -> ``(T, 3)`` (informative)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(np.asarray(rotation, dtype=np.float64)).as_euler("YXZ", degrees=True)
