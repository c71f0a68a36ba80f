"""Build assets/canonical_face.npz: the generic canonical (neutral, frontal) face.

Provenance: MediaPipe face mesh (mediapipe 0.10.21, ``refine_landmarks=True``, 478 landmarks) run
on ``skimage.data.astronaut()`` (NASA photograph of Eileen Collins, public domain) and on its
mirror image. Nothing else goes in, so the asset can be rebuilt anywhere::

    python tools/build_canonical_face.py [-o assets/canonical_face.npz]

Steps:
1. Landmarks of the photo and of its horizontally flipped copy (flipped back): landmark ``i`` of
   the flipped photo sits where the photo's mirror landmark lies, so an optimal assignment
   (Hungarian, on distances) gives the left/right ``mirror`` map of the mesh.
2. Frontalisation: the symmetry-plane normal is the main direction of ``p[i] - p[mirror[i]]``
   (canonical x, towards image right); canonical y is the forehead (10) -> chin (152) direction
   made orthogonal to x; z = x cross y (away from the camera).
3. Symmetrisation (average of the face and its mirror image), then normalisation: origin at the
   centroid of the stable landmarks (talkinghead.face.pose.STABLE), outer eye corners (33, 263)
   one unit apart.

Output arrays: ``canonical`` (478, 3) float32, ``mirror`` (478,) int64, ``source`` (str).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkinghead.face.pose import EYE_OUTER, normalize_canonical  # noqa: E402


def landmarks_px(image: np.ndarray) -> np.ndarray:
    """MediaPipe landmarks of the single face in an RGB image, ``(478, 3)`` pixels (z * width)."""
    import mediapipe as mp

    h, w = image.shape[:2]
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, refine_landmarks=True, max_num_faces=1
    ) as fm:
        res = fm.process(image)
    if not res.multi_face_landmarks:
        raise RuntimeError("no face found in the source image")
    lm = res.multi_face_landmarks[0].landmark
    return np.array([[p.x * w, p.y * h, p.z * w] for p in lm], dtype=np.float64)


def build(image: np.ndarray) -> dict[str, np.ndarray]:
    from scipy.optimize import linear_sum_assignment

    w = image.shape[1]
    p = landmarks_px(image)
    q = landmarks_px(np.ascontiguousarray(image[:, ::-1]))
    q[:, 0] = (w - 1) - q[:, 0]  # flip back: q[i] lies where the photo's mirror(i) lies
    # 2D positions are precise; depth of flipped vs original differs little. Use xy only.
    cost = np.linalg.norm(p[None, :, :2] - q[:, None, :2], axis=-1)  # cost[i, j] = |q_i - p_j|
    rows, cols = linear_sum_assignment(cost)
    mirror = np.empty(len(p), dtype=np.int64)
    mirror[rows] = cols
    # Make it an involution (keep pairs that agree both ways; others map to themselves).
    bad = mirror[mirror] != np.arange(len(p))
    mirror[bad] = np.arange(len(p))[bad]

    # Frontal frame.
    d = p - p[mirror]
    d = d[np.linalg.norm(d, axis=1) > 1e-6]
    d *= np.sign(d[:, 0:1] + 1e-12)
    _, _, vt = np.linalg.svd(d, full_matrices=False)
    x = vt[0] / np.linalg.norm(vt[0])
    if np.dot(x, p[EYE_OUTER[1]] - p[EYE_OUTER[0]]) < 0:
        x = -x
    y = p[152] - p[10]
    y = y - np.dot(y, x) * x
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    R = np.stack([x, y, z])  # rows: canonical axes in image space
    c = (p - p.mean(axis=0)) @ R.T
    flipped = c[mirror] * np.array([-1.0, 1.0, 1.0])
    c = 0.5 * (c + flipped)
    c = normalize_canonical(c)
    return {"canonical": c.astype(np.float32), "mirror": mirror, "n_bad_pairs": int(bad.sum())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", default=str(Path(__file__).resolve().parents[1] / "assets" / "canonical_face.npz"))
    args = ap.parse_args(argv)
    from skimage import data

    out = build(data.astronaut())
    np.savez_compressed(
        args.output,
        canonical=out["canonical"],
        mirror=out["mirror"],
        source=np.array("mediapipe 0.10.21 face mesh on skimage.data.astronaut() (public domain), "
                        "frontalised and symmetrised by tools/build_canonical_face.py"),
    )
    c = out["canonical"]
    print(f"wrote {args.output}: {len(c)} landmarks, {out['n_bad_pairs']} unpaired, "
          f"extent x {np.ptp(c[:, 0]):.2f} y {np.ptp(c[:, 1]):.2f} z {np.ptp(c[:, 2]):.2f}, "
          f"midline points {(out['mirror'] == np.arange(len(c))).sum()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
