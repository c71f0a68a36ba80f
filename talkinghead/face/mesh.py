"""The lower-face mesh: a sub-mesh of MediaPipe's face-mesh topology, loaded from an asset.

The topology is data (``assets/lower_face.npz``, built by ``tools/build_lower_face_asset.py``):
which MediaPipe landmarks form the lower face (below the nose tip: cheeks, lips, chin, jaw), their
triangles, the lip contours (the inner-lip loop bounds the mouth hole), control regions for the
rig, and a teeth template.

Region ids (per triangle of a render mesh, see :data:`REGIONS`): skin, lips, the mouth opening
(a surface filling the hole behind the lips), upper teeth, lower teeth.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..fileio import bundled_file

#: The lower-face asset: package data (an installed wheel), else the repository's ``assets/``.
ASSET_PATH = bundled_file("lower_face.npz", "assets")

#: Region ids of render-mesh triangles; 0 is background.
REGION_SKIN = 1
REGION_LIPS = 2
REGION_MOUTH = 3
REGION_TEETH_UPPER = 4
REGION_TEETH_LOWER = 5
REGIONS: dict[str, int] = {
    "skin": REGION_SKIN,
    "lips": REGION_LIPS,
    "mouth": REGION_MOUTH,
    "teeth_upper": REGION_TEETH_UPPER,
    "teeth_lower": REGION_TEETH_LOWER,
}


@dataclass(frozen=True)
class LowerFaceMesh:
    """Lower-face topology and rig description (all indices are local vertex indices unless the
    name says ``landmark``).

    Attributes:
        landmark_index: MediaPipe landmark id of each local vertex, shape ``(V,)``, int64.
        faces: skin/lip triangles, shape ``(F, 3)``, int64, wound so normals face the camera
            (image space: x right, y down, z away).
        reference_vertices: a reference geometry (head-aligned, mouth-centred, mouth width = 1),
            shape ``(V, 3)``, float32; for previews and tests.
        inner_lip_upper, inner_lip_lower: inner-lip contour halves from the subject's right
            inner corner to the left one (ends shared), shape ``(K,)`` each. Vertex ``k`` of one
            half is paired with vertex ``k`` of the other.
        inner_lip_loop: the closed inner-lip loop (the mouth-hole boundary), ``(2K - 2,)``.
        outer_lip_upper, outer_lip_lower: outer lip contour halves, corner to corner.
        mouth_faces: triangles filling the mouth hole, indexing the concatenation
            ``[inner_lip_upper, inner_lip_lower]`` (shape ``(M, 3)``).
        lips, upper_lip, lower_lip: lip-region vertices (upper/lower exclude the corners).
        jaw_line: outline vertices below the mouth corners; upper_boundary: the rest of the
            outline (cheeks, under the nose).
        rig_*: MediaPipe landmark ids of rig anchors (jaw pivot side points, mouth corners,
            inner-lip midpoints, chin, nose tip, outer eye corners).
        teeth_{upper,lower}_{vertices,faces}: teeth arch strips in mouth-frame units
            (mouth width 1; origin between the closed inner-lip midpoints; x right, y down,
            z away). Upper incisal edge at y = 0.
    """

    landmark_index: np.ndarray
    faces: np.ndarray
    reference_vertices: np.ndarray
    inner_lip_upper: np.ndarray
    inner_lip_lower: np.ndarray
    inner_lip_loop: np.ndarray
    outer_lip_upper: np.ndarray
    outer_lip_lower: np.ndarray
    mouth_faces: np.ndarray
    lips: np.ndarray
    upper_lip: np.ndarray
    lower_lip: np.ndarray
    jaw_line: np.ndarray
    upper_boundary: np.ndarray
    rig_jaw_pivot_landmarks: np.ndarray
    rig_mouth_corners: np.ndarray
    rig_inner_mid: np.ndarray
    rig_chin: np.ndarray
    rig_nose_tip: np.ndarray
    rig_eye_outer: np.ndarray
    teeth_upper_vertices: np.ndarray
    teeth_upper_faces: np.ndarray
    teeth_lower_vertices: np.ndarray
    teeth_lower_faces: np.ndarray

    @property
    def n_vertices(self) -> int:
        return int(self.landmark_index.shape[0])

    @property
    def outline(self) -> np.ndarray:
        """All outline vertices (jaw line and upper boundary), excluding the mouth hole."""
        return np.concatenate([self.jaw_line, self.upper_boundary])

    @property
    def solid_faces(self) -> np.ndarray:
        """The skin/lip triangles and those filling the mouth hole, ``(F + M, 3)`` int64 local
        vertex indices: the lower face without its hole (e.g. for its silhouette)."""
        ring = np.concatenate([self.inner_lip_upper, self.inner_lip_lower])
        return np.concatenate([self.faces, ring[self.mouth_faces]]).astype(np.int64)

    def face_regions(self) -> np.ndarray:
        """Region id of each skin/lip triangle, shape ``(F,)``, int64: lips where all three
        vertices are lip vertices, skin otherwise."""
        is_lip = np.isin(self.faces, self.lips).all(1)
        return np.where(is_lip, REGION_LIPS, REGION_SKIN).astype(np.int64)

    def to_trimesh(self, vertices: np.ndarray | None = None):
        """The skin/lip surface as a :class:`trimesh.Trimesh` (``process=False``: vertex order
        kept). ``vertices``: ``(V, 3)``; default the reference geometry."""
        import trimesh

        v = self.reference_vertices if vertices is None else vertices
        return trimesh.Trimesh(np.asarray(v, np.float64), self.faces, process=False)


@functools.lru_cache(maxsize=4)
def load_lower_face_mesh(path: str | Path | None = None) -> LowerFaceMesh:
    """Load the lower-face asset (cached). ``path`` defaults to :data:`ASSET_PATH`."""
    p = Path(path) if path is not None else ASSET_PATH
    if not p.exists():
        raise FileNotFoundError(
            f"lower-face asset {p} is missing; build it with tools/build_lower_face_asset.py"
        )
    with np.load(p) as data:
        fields = {name: np.array(data[name]) for name in LowerFaceMesh.__dataclass_fields__}
    return LowerFaceMesh(**fields)
