"""Mouth-shape deformation of the lower-face mesh by viseme parameters.

Pipeline for each output frame (source frame ``s = frame_index[k]``, parameters ``params[k]``):

1. **Neutralise**: start from this person's *neutral closed* lower face (``canonical`` with its
   inner lip contours brought together, each upper/lower pair meeting half-way) and add the
   source frame's ``expression[s]`` weighted by ``1 - w_expr``, where ``w_expr`` is a smooth
   weight that is 1 on the lips, mouth and jaw and 0 at the mesh's upper outline (under the nose,
   upper cheeks). The source speech thus does not leak into the output while the head pose and
   the non-mouth expression stay; all-zero parameters give exactly the neutral.
2. **Shape**: smooth displacement fields for ``lip_round``, ``lip_spread``, ``lower_lip_tuck``,
   ``upper_lip_raise``, ``teeth_show`` (and the lip part of ``jaw_open``), defined on the neutral
   in a *mouth frame* (origin between the closed inner-lip midpoints, x from the subject's right
   to left mouth corner, z normal to the plane of the eye and mouth corners (away from the
   camera), y = z cross x (down); unit = this person's mouth width) so that they scale to
   the person.
3. **Jaw**: rotation about a pivot below the ears (x axis through the midpoint of the face-oval
   landmarks 234/454), weighted by a harmonic field that is 1 on the lower lip and chin and 0 on
   the upper lip and upper cheeks, falling off smoothly over the cheeks. ``jaw_open = 1`` opens
   the inner lips by this person's widest observed opening (98th percentile over the track, at
   least :data:`MIN_OPEN` mouth widths).
4. **Closure**: ``lip_close`` moves paired inner-contour vertices towards each other (harmonic
   interpolation of the contour displacement over the lips); at 1 they coincide exactly, so the
   mouth opening has zero area whatever the jaw does.
5. **Teeth, mouth interior**: an upper teeth arch rigid with the head and a lower one rotating
   with the jaw (from the asset's template); the mouth hole is filled by a copy of the inner-lip
   contour set back by :data:`MOUTH_DEPTH` along the viewing direction
   (:func:`set_back_mouth_interior`), so that a z-buffer shows lips, then teeth, then the mouth
   interior, and the interior covers exactly the opening whatever the head rotation.
6. **Pose**: ``image = scale[s] * canonical @ rotation[s].T + translation[s]``.

All weights are harmonic fields on the mesh (graph Laplacian with inverse-edge-length weights,
Dirichlet values on control regions), so they are smooth, lie in [0, 1] and respect the mouth hole
(upper and lower lip are only connected around the corners).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from ..media import DEFAULT_FPS
from ..inputs.frames import pingpong_indices  # noqa: F401  (re-exported: output -> source frames)
from ..visemes.types import MOUTH_PARAMS, P
from .mesh import (
    REGION_MOUTH,
    REGION_TEETH_LOWER,
    REGION_TEETH_UPPER,
    LowerFaceMesh,
    load_lower_face_mesh,
)
from .types import FaceTrack

#: The open mouth's profile across the mouth (:attr:`MouthRig.opening_taper`): the largest
#: opening of an inner-lip pair, relative to the middle pair's, at distance ``u`` from the middle
#: (0) to the corners (1). Real open mouths are lens-shaped: over the widest-open 5% of the frames
#: of nine tracked speakers (the five faces/ clips and four train/ clips), the pairs at u = 0.35,
#: 0.59, 0.76 and 0.88 open 0.95-0.99, 0.81-0.88, 0.60-0.68 and 0.35-0.41 of the middle pair;
#: the rig, which moves the whole lower lip almost evenly, opened 0.97-0.99 ... 0.89-0.95 (a
#: rectangle). ``None`` turns the limit off.
OPENING_PROFILE: tuple[tuple[float, ...], tuple[float, ...]] | None = (
    (0.0, 0.35, 0.59, 0.76, 0.88, 1.0),
    (1.0, 0.97, 0.85, 0.64, 0.38, 0.0),
)

#: Smallest jaw_open=1 inner-lip opening, in mouth widths (used when the video shows less).
MIN_OPEN = 0.45
#: Largest jaw_open=1 opening accepted from the video, in mouth widths.
MAX_OPEN = 0.8
#: Depth of the mouth-interior surface behind the inner lip contour, in mouth widths.
MOUTH_DEPTH = 0.7

# Displacement amplitudes of the shape fields, in mouth widths (anatomical proportions).
ROUND_NARROW = 0.32  # relative narrowing of the mouth at lip_round = 1
ROUND_PROTRUDE = 0.10
ROUND_EVERT = 0.03
SPREAD_WIDEN = 0.20  # relative widening at lip_spread = 1
SPREAD_BACK = 0.05
SPREAD_LIFT = 0.03
TUCK_UP = 0.05
TUCK_BACK = 0.13
TUCK_UPPER_LIFT = 0.06
RAISE_UP = 0.09
RAISE_FLARE = 0.02
TEETH_UPPER_LIFT = 0.04
TEETH_LOWER_DROP = 0.05
JAW_UPPER_LIFT = 0.03
JAW_LOWER_DROP = 0.03


@dataclass
class DeformedMeshes:
    """Deformed lower-face render meshes, one per output frame (same topology for all).

    Vertex layout: ``[skin (V) | mouth interior (2K) | upper teeth | lower teeth]``.

    Attributes:
        vertices: image-space vertices, shape ``(n, V_total, 3)``, float32, pixels (x right,
            y down, z away from the camera, as :class:`FaceTrack`).
        faces: triangles, shape ``(F_total, 3)``, int64.
        face_region: region id of each triangle (see :mod:`talkinghead.face.mesh`), ``(F_total,)``.
        neutral_vertices: this person's neutral closed lower face in each frame's pose,
            shape ``(n, V, 3)``, float32 pixels (for stable crop boxes).
        frame_index: source frame of each output frame, ``(n,)``, int64.
        mouth_width_px: mouth width in pixels per frame, ``(n,)``, float32.
        n_skin: ``V``, the number of skin/lip vertices (the first ``V`` rows).
        image_size: ``(width, height)`` of the source frames.
    """

    vertices: np.ndarray
    faces: np.ndarray
    face_region: np.ndarray
    neutral_vertices: np.ndarray
    frame_index: np.ndarray
    mouth_width_px: np.ndarray
    n_skin: int
    image_size: tuple[int, int]

    @property
    def n_frames(self) -> int:
        return int(self.vertices.shape[0])

    def select(self, idx) -> "DeformedMeshes":
        """A subset of the frames (``idx``: index array or slice)."""
        return DeformedMeshes(
            self.vertices[idx],
            self.faces,
            self.face_region,
            self.neutral_vertices[idx],
            self.frame_index[idx],
            self.mouth_width_px[idx],
            self.n_skin,
            self.image_size,
        )


# --------------------------------------------------------------------------------------------
# Harmonic fields


def _laplacian(vertices: np.ndarray, faces: np.ndarray) -> scipy.sparse.csr_matrix:
    """Graph Laplacian with weights 1 / edge length, shape ``(V, V)``."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = np.unique(np.sort(e, 1), axis=0)
    w = 1.0 / np.maximum(np.linalg.norm(vertices[e[:, 0]] - vertices[e[:, 1]], axis=1), 1e-9)
    n = len(vertices)
    a = scipy.sparse.coo_matrix(
        (np.concatenate([w, w]), (np.concatenate([e[:, 0], e[:, 1]]), np.concatenate([e[:, 1], e[:, 0]]))),
        shape=(n, n),
    ).tocsr()
    return (scipy.sparse.diags(np.asarray(a.sum(1)).ravel()) - a).tocsr()


def _harmonic(lap: scipy.sparse.csr_matrix, fixed: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Solve ``lap u = 0`` on free vertices with ``u[fixed] = values``.

    ``values``: ``(len(fixed),)`` or ``(len(fixed), k)``. Returns ``(V,)`` or ``(V, k)``.
    """
    n = lap.shape[0]
    fixed = np.asarray(fixed)
    free = np.setdiff1d(np.arange(n), fixed)
    vals = np.asarray(values, np.float64)
    out = np.zeros((n,) + vals.shape[1:])
    out[fixed] = vals
    rhs = -(lap[free][:, fixed] @ vals)
    sol = scipy.sparse.linalg.spsolve(lap[free][:, free].tocsc(), rhs)
    out[free] = sol.reshape((len(free),) + vals.shape[1:])
    return out


def _smoothstep(a: float, b: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)


# --------------------------------------------------------------------------------------------
# Rig


@dataclass
class MouthRig:
    """Per-person rig, built from :attr:`FaceTrack.canonical` (see :func:`build_rig`).

    Attributes:
        origin: mouth-frame origin in canonical space, ``(3,)``.
        basis: mouth-frame axes as rows (x, y, z) in canonical space, ``(3, 3)``.
        width: mouth width in canonical units (the mouth-frame unit).
        neutral: neutral closed lower face in the mouth frame, ``(V, 3)``.
        w_expr, w_jaw, w_mouth, w_upper, w_lower: weight fields, ``(V,)`` each, in [0, 1].
        close_upper, close_lower: harmonic interpolation of inner-contour displacements,
            ``(V, K)`` each (column ``k``: unit displacement of contour vertex ``k``).
        shape_fields: displacement per unit parameter, ``(7, V, 3)`` in mouth widths
            (``MOUTH_PARAMS`` order; jaw rotation and closure are applied separately).
        pivot: jaw pivot in the mouth frame, ``(3,)``.
        jaw_angle_max: jaw rotation at ``jaw_open = 1``, radians.
        open_max: inner-lip opening at ``jaw_open = 1``, mouth widths.
        opening_taper: the largest opening of each inner-contour pair relative to the middle
            pair's, ``(K,)`` in [0, 1], 0 at the corners (:data:`OPENING_PROFILE`; ``None``: no
            limit).
    """

    mesh: LowerFaceMesh
    origin: np.ndarray
    basis: np.ndarray
    width: float
    neutral: np.ndarray
    w_expr: np.ndarray
    w_jaw: np.ndarray
    w_mouth: np.ndarray
    w_upper: np.ndarray
    w_lower: np.ndarray
    close_upper: np.ndarray
    close_lower: np.ndarray
    shape_fields: np.ndarray
    pivot: np.ndarray
    jaw_angle_max: float
    open_max: float
    opening_taper: np.ndarray | None = None

    def to_mouth(self, x: np.ndarray) -> np.ndarray:
        """Canonical -> mouth frame (``(..., 3)``)."""
        return (x - self.origin) @ self.basis.T / self.width

    def from_mouth(self, m: np.ndarray) -> np.ndarray:
        """Mouth frame -> canonical (``(..., 3)``)."""
        return (m * self.width) @ self.basis + self.origin


def _mouth_frame(canonical: np.ndarray, mesh: LowerFaceMesh) -> tuple[np.ndarray, np.ndarray, float]:
    c = canonical.astype(np.float64)
    right, left = c[mesh.rig_mouth_corners[0]], c[mesh.rig_mouth_corners[1]]
    x = left - right
    width = float(np.linalg.norm(x))
    if width <= 0:
        raise ValueError("degenerate canonical face: mouth corners coincide")
    x /= width
    # z: normal of the face plane through the outer eye corners and the mouth corners (the
    # nose-chin line leans into depth, the eye-mouth plane is close to the facial plane).
    y0 = (left + right) / 2 - (c[mesh.rig_eye_outer[0]] + c[mesh.rig_eye_outer[1]]) / 2
    z = np.cross(x, y0)
    z /= np.linalg.norm(z)
    y = np.cross(z, x)
    origin = (c[mesh.rig_inner_mid[0]] + c[mesh.rig_inner_mid[1]]) / 2
    return origin, np.stack([x, y, z]), width


def build_rig(track: FaceTrack, mesh: LowerFaceMesh | None = None) -> MouthRig:
    """Build the person's rig from ``track.canonical`` and the opening range in
    ``track.expression``. Cheap (a few small sparse solves).

    Steps: the mouth frame (:func:`_mouth_frame`), the lips' closure operators and the closed
    neutral (:func:`_closure_operators`), the harmonic weight fields (:func:`_weight_fields`), the
    shape fields of the mouth parameters (:func:`_shape_fields`), the jaw's pivot and range
    (:func:`_jaw_range`) and the opening's profile across the mouth (:func:`_opening_taper`).
    """
    mesh = mesh or load_lower_face_mesh()
    origin, basis, width = _mouth_frame(track.canonical, mesh)

    def to_m(x):
        return (x - origin) @ basis.T / width

    cm = to_m(track.canonical.astype(np.float64)[mesh.landmark_index])
    lap = _laplacian(cm, mesh.faces)
    close_upper, close_lower = _closure_operators(lap, mesh)
    # Neutral closed: pairs meet half-way.
    gap = cm[mesh.inner_lip_lower] - cm[mesh.inner_lip_upper]
    neutral = cm + close_upper @ (0.5 * gap) - close_lower @ (0.5 * gap)
    w = _weight_fields(lap, mesh, neutral)
    pivot, open_max, jaw_angle_max = _jaw_range(track, mesh, to_m, neutral)
    return MouthRig(
        mesh=mesh,
        origin=origin,
        basis=basis,
        width=width,
        neutral=neutral,
        w_expr=w["expr"],
        w_jaw=w["jaw"],
        w_mouth=w["mouth"],
        w_upper=w["upper"],
        w_lower=w["lower"],
        close_upper=close_upper,
        close_lower=close_lower,
        shape_fields=_shape_fields(neutral, w),
        pivot=pivot,
        jaw_angle_max=jaw_angle_max,
        open_max=open_max,
        opening_taper=_opening_taper(neutral, mesh),
    )


def _closure_operators(lap, mesh: LowerFaceMesh) -> tuple[np.ndarray, np.ndarray]:
    """How the mesh follows its inner lips, ``(close_upper, close_lower)``, each ``(V, k)``
    (``k`` inner-lip pairs): the harmonic response to moving each upper (lower) inner-lip vertex,
    Dirichlet on the whole inner loop and the outline. The corners are shared: lower pair 0 is
    upper pair 0."""
    up, lo = mesh.inner_lip_upper, mesh.inner_lip_lower
    k = len(up)
    loop_fixed = np.concatenate([up, lo[1:-1], mesh.outline])
    eye = np.zeros((len(loop_fixed), k))
    eye[np.arange(k), np.arange(k)] = 1.0
    close_upper = _harmonic(lap, loop_fixed, eye)
    eye_l = np.zeros((len(loop_fixed), k))
    eye_l[0, 0] = 1.0  # corners are shared: lower k=0 is upper k=0
    eye_l[k - 1, k - 1] = 1.0
    eye_l[k + np.arange(k - 2), 1 + np.arange(k - 2)] = 1.0
    close_lower = _harmonic(lap, loop_fixed, eye_l)
    return close_upper, close_lower


def _weight_fields(lap, mesh: LowerFaceMesh, neutral: np.ndarray) -> dict[str, np.ndarray]:
    """Harmonic weights ``(V,)`` in [0, 1] over the lower face: ``upper`` / ``lower`` (1 on that
    lip, 0 on the other and the outline), ``mouth`` (1 on the lips), ``jaw`` (the lower lip and
    the outline below the mouth corners) and ``expr`` (the lips and the jaw line, 0 at the upper
    boundary)."""
    up, lo = mesh.inner_lip_upper, mesh.inner_lip_lower
    outline = mesh.outline
    upper_set = np.union1d(mesh.upper_lip, up[1:-1])
    lower_set = np.union1d(mesh.lower_lip, lo[1:-1])
    w_upper = _harmonic(
        lap,
        np.concatenate([upper_set, lower_set, outline]),
        np.concatenate([np.ones(len(upper_set)), np.zeros(len(lower_set) + len(outline))]),
    )
    w_lower = _harmonic(
        lap,
        np.concatenate([lower_set, upper_set, outline]),
        np.concatenate([np.ones(len(lower_set)), np.zeros(len(upper_set) + len(outline))]),
    )
    lips_all = np.union1d(mesh.lips, mesh.inner_lip_loop)
    w_mouth = _harmonic(
        lap,
        np.concatenate([lips_all, outline]),
        np.concatenate([np.ones(len(lips_all)), np.zeros(len(outline))]),
    )
    corner_y = neutral[np.isin(mesh.landmark_index, mesh.rig_mouth_corners)][:, 1].mean()
    jaw_outline = _smoothstep(-0.1, 0.4, neutral[outline, 1] - corner_y)
    w_jaw = _harmonic(
        lap,
        np.concatenate([lower_set, upper_set, outline]),
        np.concatenate([np.ones(len(lower_set)), np.zeros(len(upper_set)), jaw_outline]),
    )
    w_expr = _harmonic(
        lap,
        np.concatenate([lips_all, mesh.jaw_line, mesh.upper_boundary]),
        np.concatenate(
            [np.ones(len(lips_all) + len(mesh.jaw_line)), np.zeros(len(mesh.upper_boundary))]
        ),
    )
    return {"upper": w_upper, "lower": w_lower, "mouth": w_mouth, "jaw": w_jaw, "expr": w_expr}


def _shape_fields(neutral: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    """Displacement per unit of each mouth parameter, ``(len(MOUTH_PARAMS), V, 3)`` in mouth
    widths, defined on the ``neutral`` with the weights ``w`` (:func:`_weight_fields`)."""
    x = neutral[:, 0]
    w_upper = w["upper"]
    fu2, fl2, fm = w_upper**2, w["lower"]**2, w["mouth"]
    fields = np.zeros((len(MOUTH_PARAMS), len(neutral), 3))
    f = fields[P["lip_round"]]
    f[:, 0] = -ROUND_NARROW * x * fm
    f[:, 1] = -ROUND_EVERT * fu2 + ROUND_EVERT * fl2
    f[:, 2] = -ROUND_PROTRUDE * fm**2
    f = fields[P["lip_spread"]]
    f[:, 0] = SPREAD_WIDEN * x * fm
    f[:, 1] = -SPREAD_LIFT * (2 * x) ** 2 * fm
    f[:, 2] = SPREAD_BACK * (2 * x) ** 2 * fm
    f = fields[P["lower_lip_tuck"]]
    f[:, 1] = -TUCK_UP * fl2 - TUCK_UPPER_LIFT * fu2
    f[:, 2] = TUCK_BACK * fl2
    f = fields[P["upper_lip_raise"]]
    f[:, 1] = -RAISE_UP * fu2
    f[:, 2] = -RAISE_FLARE * w_upper
    f = fields[P["teeth_show"]]
    f[:, 1] = -TEETH_UPPER_LIFT * fu2 + TEETH_LOWER_DROP * fl2
    f = fields[P["jaw_open"]]
    f[:, 1] = -JAW_UPPER_LIFT * fu2 + JAW_LOWER_DROP * fl2
    return fields


def _jaw_range(track: FaceTrack, mesh: LowerFaceMesh, to_m, neutral: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The jaw's pivot ``(3,)`` (mouth frame, on the mid-plane), the widest opening (the 98th
    percentile of the track's inner-lip gap, clipped to [:data:`MIN_OPEN`, :data:`MAX_OPEN`],
    mouth widths) and the jaw angle that opens it (radians). ``to_m``: canonical -> mouth frame."""
    c_all = to_m(track.canonical.astype(np.float64))
    pivot = c_all[mesh.rig_jaw_pivot_landmarks].mean(0)
    pivot[0] = 0.0
    expr = track.expression if track.expression is not None and len(track.expression) else None
    observed = 0.0
    if expr is not None:
        mids = to_m(track.canonical.astype(np.float64)[None, mesh.rig_inner_mid] + expr[:, mesh.rig_inner_mid])
        observed = float(np.percentile(np.linalg.norm(mids[:, 1] - mids[:, 0], axis=-1), 98))
    open_max = float(np.clip(observed, MIN_OPEN, MAX_OPEN))
    lip_part = JAW_UPPER_LIFT + JAW_LOWER_DROP
    lo = mesh.inner_lip_lower
    r = float(np.hypot(*(neutral[lo[len(mesh.inner_lip_upper) // 2], 1:] - pivot[1:])))
    jaw_angle_max = float(np.arcsin(np.clip((open_max - lip_part) / max(r, 1e-6), 0.0, 0.9)))
    return pivot, open_max, jaw_angle_max


def _opening_taper(neutral: np.ndarray, mesh: LowerFaceMesh) -> np.ndarray | None:
    """The opening's profile across the mouth, by each inner-lip pair's distance from the middle
    (:data:`OPENING_PROFILE`), ``(k,)``; ``None`` without a profile."""
    if OPENING_PROFILE is None:
        return None
    xs = neutral[mesh.inner_lip_upper, 0]
    half = max((xs[-1] - xs[0]) / 2.0, 1e-9)
    u = np.clip(np.abs(xs - (xs[0] + xs[-1]) / 2.0) / half, 0.0, 1.0)
    return np.interp(u, *OPENING_PROFILE)


def _jaw_rotations(angles: np.ndarray) -> np.ndarray:
    """Rotations about the mouth-frame x axis opening the jaw (chin down and back), ``(n, 3, 3)``."""
    c, s = np.cos(angles), np.sin(angles)
    rot = np.zeros((len(angles), 3, 3))
    rot[:, 0, 0] = 1
    rot[:, 1, 1] = c
    rot[:, 1, 2] = -s
    rot[:, 2, 1] = s
    rot[:, 2, 2] = c
    return rot


def render_topology(mesh: LowerFaceMesh) -> tuple[np.ndarray, np.ndarray]:
    """Faces and region ids of the render mesh (skin, mouth interior, upper, lower teeth).

    Returns ``(faces (F_total, 3) int64, face_region (F_total,) int64)``.
    """
    v = mesh.n_vertices
    k = len(mesh.inner_lip_upper)
    nu = len(mesh.teeth_upper_vertices)
    faces = [
        mesh.faces,
        mesh.mouth_faces + v,
        mesh.teeth_upper_faces + v + 2 * k,
        mesh.teeth_lower_faces + v + 2 * k + nu,
    ]
    regions = [
        mesh.face_regions(),
        np.full(len(mesh.mouth_faces), REGION_MOUTH),
        np.full(len(mesh.teeth_upper_faces), REGION_TEETH_UPPER),
        np.full(len(mesh.teeth_lower_faces), REGION_TEETH_LOWER),
    ]
    return np.concatenate(faces).astype(np.int64), np.concatenate(regions).astype(np.int64)


def deform_mouth_frame(
    rig: MouthRig, source_expression: np.ndarray | None, params: np.ndarray
) -> np.ndarray:
    """Deform in the mouth frame.

    Args:
        rig: the person's rig.
        source_expression: each source frame's expression at the lower-face vertices, in
            mouth-frame axes and units (a displacement), ``(n, V, 3)``; ``None`` = none.
        params: viseme parameters, ``(n, 7)`` in [0, 1], ``MOUTH_PARAMS`` order.

    Returns:
        Render-mesh vertices in the mouth frame, ``(n, V_total, 3)``, float64.
    """
    mesh = rig.mesh
    params = np.clip(np.asarray(params, np.float64), 0.0, 1.0)
    n = len(params)
    # 1. neutralise the lower face: the person's neutral closed face plus the source
    #    expression only where it is not mouth/jaw motion
    y = np.repeat(rig.neutral[None], n, axis=0)
    if source_expression is not None:
        y = y + (1.0 - rig.w_expr)[None, :, None] * source_expression
    # 2. shape fields
    y = y + np.einsum("nk,kvc->nvc", params, rig.shape_fields)
    # 3. jaw rotation about the pivot, weighted
    rot = _jaw_rotations(params[:, P["jaw_open"]] * rig.jaw_angle_max)
    rel = y - rig.pivot
    rotated = np.einsum("nij,nvj->nvi", rot, rel) + rig.pivot
    y = y + rig.w_jaw[None, :, None] * (rotated - y)
    up, lo = mesh.inner_lip_upper, mesh.inner_lip_lower
    # 3b. the opening tapers to the corners: no pair opens wider than the profile through the
    #     middle pair's opening allows (the jaw and the shape fields move the lower lip almost
    #     evenly, which opened a rectangle); each pair closes from both sides equally, spread
    #     over the lips by the closure operators
    if rig.opening_taper is not None:
        gap = y[:, lo] - y[:, up]  # (n, K, 3)
        mag = np.linalg.norm(gap, axis=-1)
        ref = mag[:, len(up) // 2, None]
        keep = np.minimum(1.0, ref * rig.opening_taper[None] / np.maximum(mag, 1e-12))
        d = 0.5 * (1.0 - keep)[..., None] * gap
        y = y + np.einsum("vk,nkc->nvc", rig.close_upper, d) - np.einsum("vk,nkc->nvc", rig.close_lower, d)
    # 4. closure: paired inner-contour vertices meet half-way at lip_close = 1
    gap = y[:, lo] - y[:, up]  # (n, K, 3)
    c = params[:, P["lip_close"], None, None] * 0.5
    y = y + c * (
        np.einsum("vk,nkc->nvc", rig.close_upper, gap) - np.einsum("vk,nkc->nvc", rig.close_lower, gap)
    )
    # exact meeting (removes solver round-off on the contour)
    full = params[:, P["lip_close"]] >= 1.0
    if full.any():
        mid = 0.5 * (y[full][:, up] + y[full][:, lo])
        yf = y[full]
        yf[:, up] = mid
        yf[:, lo] = mid
        y[full] = yf
    # 5. mouth interior (hole filler, set back) and teeth
    return with_interior_and_teeth(rig, y, params[:, P["jaw_open"]] * rig.jaw_angle_max)


def with_interior_and_teeth(rig: MouthRig, lower_face: np.ndarray, jaw_angle: np.ndarray) -> np.ndarray:
    """Complete lower-face vertices into render-mesh vertices (layout of :class:`DeformedMeshes`).

    Appends the mouth interior (the inner-lip contour set back by ``MOUTH_DEPTH`` mouth widths)
    and the teeth proxies: the upper arch fixed to the head, the lower arch rotated with the jaw
    about the rig's pivot.

    Args:
        rig: the person's rig.
        lower_face: lower-face vertices in the mouth frame, ``(n, V, 3)``.
        jaw_angle: jaw rotation of each frame, radians, ``(n,)``.

    Returns:
        ``(n, V_total, 3)`` float64, in the mouth frame.
    """
    mesh = rig.mesh
    y = np.asarray(lower_face, np.float64)
    n = len(y)
    interior = np.concatenate([y[:, mesh.inner_lip_upper], y[:, mesh.inner_lip_lower]], axis=1)
    interior[..., 2] += MOUTH_DEPTH
    rot = _jaw_rotations(np.asarray(jaw_angle, np.float64))
    teeth_u = np.broadcast_to(mesh.teeth_upper_vertices.astype(np.float64), (n,) + mesh.teeth_upper_vertices.shape)
    teeth_l = np.einsum("nij,vj->nvi", rot, mesh.teeth_lower_vertices.astype(np.float64) - rig.pivot) + rig.pivot
    return np.concatenate([y, interior, teeth_u, teeth_l], axis=1)


def set_back_mouth_interior(vertices: np.ndarray, mesh: LowerFaceMesh, depth_px: np.ndarray) -> np.ndarray:
    """Place the mouth-interior vertices of posed render meshes exactly behind the inner-lip
    contour along the viewing direction (in place).

    The orthographic camera looks along image z, so the interior's projection then coincides
    with the opening bounded by the lips whatever the head rotation (a set-back along the
    face's own z would slide sideways in a turned head and leave a gap in the face).

    Args:
        vertices: posed render vertices ``(n, V_total, 3)`` (layout of :class:`DeformedMeshes`),
            modified in place and returned.
        mesh: the lower-face mesh.
        depth_px: set-back per frame in pixels, ``(n,)`` (``MOUTH_DEPTH`` mouth widths).
    """
    v = mesh.n_vertices
    contour = np.concatenate([mesh.inner_lip_upper, mesh.inner_lip_lower])
    interior = slice(v, v + len(contour))
    vertices[:, interior] = vertices[:, contour]
    vertices[:, interior, 2] += np.asarray(depth_px, vertices.dtype)[:, None]
    return vertices


def _pose(track: FaceTrack, canon: np.ndarray, frame_index: np.ndarray) -> np.ndarray:
    s = track.scale[frame_index].astype(np.float64)[:, None, None]
    r = track.rotation[frame_index].astype(np.float64)
    t = track.translation[frame_index].astype(np.float64)[:, None, :]
    return s * np.einsum("nvj,nij->nvi", canon, r) + t


def deform_lower_face(
    track: FaceTrack,
    visemes_params: np.ndarray,
    frame_index: np.ndarray,
    *,
    neutral: bool = False,
    rig: MouthRig | None = None,
) -> DeformedMeshes:
    """Deform the lower face of ``track`` by viseme parameters, in each source frame's pose.

    Args:
        track: the tracked face (canonical shape, expression, pose per frame).
        visemes_params: ``(n_out, 7)`` float in [0, 1], columns in ``MOUTH_PARAMS`` order.
        frame_index: source frame of each output frame, ``(n_out,)`` int (e.g.
            :func:`pingpong_indices`).
        neutral: ignore the source frames' expression (use the neutral face with only the
            source pose); the default neutralises only the lower face.
        rig: a prebuilt rig (:func:`build_rig`) to reuse across calls.

    Returns:
        :class:`DeformedMeshes` in image space.
    """
    params = np.asarray(visemes_params, np.float64)
    frame_index = np.asarray(frame_index, np.int64)
    if params.ndim != 2 or params.shape[1] != len(MOUTH_PARAMS):
        raise ValueError(f"visemes_params must have shape (n, {len(MOUTH_PARAMS)}), got {params.shape}")
    if frame_index.shape != (len(params),):
        raise ValueError("frame_index must have one entry per output frame")
    if len(frame_index) and (frame_index.min() < 0 or frame_index.max() >= track.n_frames):
        raise ValueError(f"frame_index out of range for a track of {track.n_frames} frames")
    rig = rig or build_rig(track)
    mesh = rig.mesh
    idx = mesh.landmark_index
    src = None
    if not neutral:
        src = track.expression[frame_index][:, idx].astype(np.float64) @ rig.basis.T / rig.width
    return posed_meshes(track, rig, deform_mouth_frame(rig, src, params), frame_index)


def posed_meshes(track: FaceTrack, rig: MouthRig, mouth_vertices: np.ndarray, frame_index: np.ndarray) -> DeformedMeshes:
    """Pose render meshes given in the mouth frame into each source frame's image space.

    Args:
        track: the tracked face (pose per frame).
        rig: the person's rig.
        mouth_vertices: render-mesh vertices in the rig's mouth frame, ``(n, V_render, 3)``
            (skin, mouth interior, teeth; see :func:`render_topology`).
        frame_index: source frame of each mesh, ``(n,)`` int.

    Returns:
        :class:`DeformedMeshes` in image space, the mouth interior set back along the view
        direction (:func:`set_back_mouth_interior`), with the neutral face for the crop boxes.
    """
    mesh = rig.mesh
    verts = _pose(track, rig.from_mouth(mouth_vertices), frame_index)
    set_back_mouth_interior(verts, mesh, MOUTH_DEPTH * rig.width * track.scale[frame_index])
    neutral_img, mouth_width = posed_neutral(track, rig, frame_index)
    faces, regions = render_topology(mesh)
    return DeformedMeshes(
        vertices=verts.astype(np.float32),
        faces=faces,
        face_region=regions,
        neutral_vertices=neutral_img,
        frame_index=frame_index,
        mouth_width_px=mouth_width,
        n_skin=mesh.n_vertices,
        image_size=(int(track.width), int(track.height)),
    )


def posed_neutral(track: FaceTrack, rig: MouthRig, frame_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The person's neutral closed lower face in each source frame's pose, and the mouth width:
    what the crop boxes follow (:func:`~talkinghead.render.cameras.crop_boxes`), without
    deforming anything.

    Returns:
        ``(neutral_vertices, mouth_width_px)``: ``(n, V, 3)`` float32 image space (as
        :attr:`DeformedMeshes.neutral_vertices`) and ``(n,)`` float32 pixels.
    """
    frame_index = np.asarray(frame_index, np.int64)
    n = len(frame_index)
    neutral = _pose(track, rig.from_mouth(np.broadcast_to(rig.neutral, (n,) + rig.neutral.shape)), frame_index)
    return neutral.astype(np.float32), (rig.width * track.scale[frame_index]).astype(np.float32)


def track_from_landmarks(
    landmarks: np.ndarray, width: int, height: int, fps: float = DEFAULT_FPS, source: str = ""
) -> FaceTrack:
    """A one-frame :class:`FaceTrack` straight from one set of landmarks (no tracker): identity
    rotation, translation = landmark centroid, scale = the landmarks' RMS radius, the landmarks
    themselves as the canonical face and zero expression. For previews and tests on a single
    detection; videos go through :func:`talkinghead.face.tracking.track_face`.

    ``landmarks``: ``(478, 3)`` image-space pixels (``z = z_mediapipe * width``).
    """
    lm = np.asarray(landmarks, np.float64)
    t = lm.mean(0)
    s = float(np.sqrt(((lm - t) ** 2).sum(1).mean()))
    can = (lm - t) / s
    return FaceTrack(
        landmarks=lm[None].astype(np.float32),
        raw_landmarks=lm[None].astype(np.float32),
        rotation=np.eye(3, dtype=np.float32)[None],
        translation=t[None].astype(np.float32),
        scale=np.array([s], np.float32),
        canonical=can.astype(np.float32),
        expression=np.zeros((1,) + lm.shape, np.float32),
        detected=np.ones(1, bool),
        fps=float(fps),
        width=int(width),
        height=int(height),
        source=source,
    )
