"""Build ``assets/lower_face.npz``: the lower-face mesh topology and rig, as data.

Usage::

    .venv/bin/python tools/build_lower_face_asset.py [-o assets/lower_face.npz] [--preview out.png]

What it does (deterministic; needs only mediapipe, trimesh and scikit-image):

1. Turns MediaPipe's ``FACEMESH_TESSELATION`` edge list into triangles: every 3-clique of the
   edge graph is a candidate; cliques whose three edges are all shared by more than two cliques
   are "separating" triangles (not faces of the surface) and are dropped. This yields MediaPipe's
   852 surface triangles (the surface has 4 holes: the outline, two eyes and the mouth).
2. Takes a reference geometry: MediaPipe landmarks of the public-domain ``skimage.data.astronaut``
   portrait, expressed in a head-aligned frame (x: subject's right -> left eye corner, y: eyes ->
   chin, z = x cross y), centred on the mouth and divided by the mouth width.
3. Keeps the triangles whose centroid lies below the nose tip (landmark 1), then the largest
   connected component (trimesh), and orients all faces consistently (towards the camera).
4. Finds the lip contours from ``FACEMESH_LIPS`` (two cycles; the inner one contains landmark 13)
   and splits each into upper and lower halves between the lip corners; the inner-lip loop is
   the boundary of the mouth hole. The mouth interior is triangulated as a strip between paired
   upper/lower inner-contour vertices (valid for any vertically monotone opening).
5. Lists the rig's control regions (lips, upper/lower lip, chin, jaw line, upper boundary) and a
   teeth template (two curved strips, upper and lower arch) in mouth-width units.
"""

from __future__ import annotations

import argparse
import collections
import itertools
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# MediaPipe face-mesh landmark ids used as anchors (documented topology of the 468-point mesh).
NOSE_TIP = 1
UPPER_INNER_MID = 13
LOWER_INNER_MID = 14
MOUTH_CORNERS = (61, 291)  # outer lip corners (subject's right, left)
INNER_CORNERS = (78, 308)
EYE_OUTER = (33, 263)
CHIN = 152


def tessellation_triangles() -> np.ndarray:
    """Triangles of MediaPipe's face mesh from its edge list. Returns ``(852, 3)`` int64."""
    import mediapipe as mp

    edges = {tuple(sorted(e)) for e in mp.solutions.face_mesh.FACEMESH_TESSELATION}
    adj: dict[int, set[int]] = collections.defaultdict(set)
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    cliques = set()
    for a, b in edges:
        for c in adj[a] & adj[b]:
            cliques.add(tuple(sorted((a, b, c))))
    count = collections.Counter(e for t in cliques for e in itertools.combinations(t, 2))
    faces = [t for t in cliques if not all(count[e] > 2 for e in itertools.combinations(t, 2))]
    return np.array(sorted(faces), dtype=np.int64)


def lip_contours() -> tuple[list[int], list[int], list[int], list[int]]:
    """Upper/lower halves of the inner and outer lip contours, each ordered from the subject's
    right corner to the left corner (both ends included). Returns
    ``(inner_upper, inner_lower, outer_upper, outer_lower)`` as MediaPipe landmark ids."""
    import mediapipe as mp

    adj: dict[int, set[int]] = collections.defaultdict(set)
    for a, b in mp.solutions.face_mesh.FACEMESH_LIPS:
        adj[a].add(b)
        adj[b].add(a)

    def halves(start: int, end: int) -> list[list[int]]:
        out = []
        for first in sorted(adj[start]):
            path, prev, cur = [start], start, first
            while cur != end:
                path.append(cur)
                nxt = [n for n in adj[cur] if n != prev]
                if len(nxt) != 1:
                    raise RuntimeError(f"lip contour is not a simple cycle at landmark {cur}")
                prev, cur = cur, nxt[0]
            out.append(path + [end])
        return out

    inner = halves(*INNER_CORNERS)
    outer = halves(*MOUTH_CORNERS)
    inner_upper = next(h for h in inner if UPPER_INNER_MID in h)
    inner_lower = next(h for h in inner if h is not inner_upper)
    outer_upper = next(h for h in outer if 0 in h)  # landmark 0: upper-lip outer midpoint
    outer_lower = next(h for h in outer if h is not outer_upper)
    return inner_upper, inner_lower, outer_upper, outer_lower


def reference_landmarks() -> np.ndarray:
    """MediaPipe landmarks of ``skimage.data.astronaut`` in a head-aligned, mouth-centred frame,
    in mouth widths. Returns ``(478, 3)`` float64 (x right, y down, z away from the camera)."""
    import mediapipe as mp
    import skimage.data

    img = skimage.data.astronaut()
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, refine_landmarks=True, max_num_faces=1
    ) as fm:
        res = fm.process(img)
    h, w = img.shape[:2]
    lm = np.array([[p.x * w, p.y * h, p.z * w] for p in res.multi_face_landmarks[0].landmark])
    x = lm[EYE_OUTER[1]] - lm[EYE_OUTER[0]]
    x /= np.linalg.norm(x)
    y = lm[CHIN] - (lm[EYE_OUTER[0]] + lm[EYE_OUTER[1]]) / 2
    y -= x * (x @ y)
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    basis = np.stack([x, y, z])  # rows
    centre = (lm[MOUTH_CORNERS[0]] + lm[MOUTH_CORNERS[1]]) / 2
    width = np.linalg.norm(lm[MOUTH_CORNERS[1]] - lm[MOUTH_CORNERS[0]])
    return (lm - centre) @ basis.T / width


def teeth_template(n_seg: int = 12) -> dict[str, np.ndarray]:
    """Two curved strips (upper and lower dental arch) in mouth-frame units (mouth width = 1,
    origin at the point between the inner-lip midpoints, x right, y down, z away).

    Each arch: ``x = s * half_width``, ``z = front + depth * s**2`` for ``s`` in [-1, 1]; the
    upper strip spans y in [-height, 0] (its lower edge is the incisal edge at the occlusal level
    y = 0), the lower strip y in [0, height], set back by the overjet.
    """
    half_width, depth, front, height, overjet, overlap = 0.42, 0.30, 0.10, 0.22, 0.05, 0.03
    s = np.linspace(-1.0, 1.0, n_seg + 1)
    xs = s * half_width
    zs = front + depth * s**2

    def strip(y0: float, y1: float, dz: float) -> tuple[np.ndarray, np.ndarray]:
        top = np.stack([xs, np.full_like(xs, y0), zs + dz], 1)
        bot = np.stack([xs, np.full_like(xs, y1), zs + dz], 1)
        verts = np.concatenate([top, bot])
        n = len(xs)
        faces = []
        for i in range(n - 1):
            # wound so that normals face the camera (-z; x right, y down)
            faces += [[i, n + i, i + 1], [i + 1, n + i, n + i + 1]]
        return verts, np.array(faces, dtype=np.int64)

    uv, uf = strip(-height, 0.0, 0.0)
    lv, lf = strip(-overlap, height, overjet)
    return {
        "teeth_upper_vertices": uv.astype(np.float32),
        "teeth_upper_faces": uf,
        "teeth_lower_vertices": lv.astype(np.float32),
        "teeth_lower_faces": lf,
    }


def build() -> dict[str, np.ndarray]:
    import trimesh

    tri = tessellation_triangles()
    ref = reference_landmarks()
    # triangles whose centroid lies below the nose tip (a smoother upper outline than requiring
    # all three corners below it)
    faces = tri[ref[tri, 1].mean(1) >= ref[NOSE_TIP, 1]]
    # Largest connected component, consistent winding (normals toward the camera: -z).
    mesh = trimesh.Trimesh(ref[:468], faces, process=False)
    comps = mesh.split(only_watertight=False)
    if len(comps) > 1:
        labels = trimesh.graph.connected_component_labels(mesh.face_adjacency, len(faces))
        big = np.bincount(labels).argmax()
        faces = faces[labels == big]
    used = np.unique(faces)
    remap = -np.ones(478, np.int64)
    remap[used] = np.arange(len(used))
    local = remap[faces]
    mesh = trimesh.Trimesh(ref[used], local, process=False)
    trimesh.repair.fix_winding(mesh)
    local = np.asarray(mesh.faces)
    if mesh.face_normals[:, 2].mean() > 0:
        local = local[:, ::-1]
    mesh = trimesh.Trimesh(ref[used], local, process=False)

    inner_upper, inner_lower, outer_upper, outer_lower = lip_contours()
    for ids in (inner_upper, inner_lower, outer_upper, outer_lower):
        if (remap[ids] < 0).any():
            raise RuntimeError("lip contour not inside the lower-face selection")
    if len(inner_upper) != len(inner_lower):
        raise RuntimeError("inner lip halves differ in length; cannot pair them")

    # Mouth-hole boundary must be the inner lip loop.
    loop = inner_upper + inner_lower[-2:0:-1]
    outline = trimesh.grouping.group_rows(mesh.edges_sorted, require_count=1)
    boundary_edges = {tuple(e) for e in mesh.edges_sorted[outline]}
    for a, b in zip(loop, loop[1:] + loop[:1]):
        if tuple(sorted((remap[a], remap[b]))) not in boundary_edges:
            raise RuntimeError(f"inner lip edge {a}-{b} is not on the mouth hole")

    # Lip region: flood fill from the inner contour without crossing the outer contour.
    outer_set = set(remap[outer_upper + outer_lower])
    inner_set = set(remap[loop])
    nbrs = collections.defaultdict(set)
    for a, b in mesh.edges_unique:
        nbrs[a].add(b)
        nbrs[b].add(a)
    lips, todo = set(inner_set), list(inner_set)
    while todo:
        v = todo.pop()
        for n in nbrs[v]:
            if n not in lips and n not in outer_set:
                lips.add(n)
                todo.append(n)
            elif n in outer_set:
                lips.add(n)
    lips_arr = np.array(sorted(lips))
    verts = np.asarray(mesh.vertices)
    # Upper / lower lip: nearer (along the surface; the mouth hole separates them) to the upper
    # or the lower half of the inner contour.
    import scipy.sparse
    import scipy.sparse.csgraph

    e = mesh.edges_unique
    lengths = np.linalg.norm(verts[e[:, 0]] - verts[e[:, 1]], axis=1)
    graph = scipy.sparse.coo_matrix((lengths, (e[:, 0], e[:, 1])), shape=(len(verts),) * 2)
    d_up = scipy.sparse.csgraph.dijkstra(graph, directed=False, indices=remap[inner_upper[1:-1]])
    d_lo = scipy.sparse.csgraph.dijkstra(graph, directed=False, indices=remap[inner_lower[1:-1]])
    is_upper = d_up.min(0)[lips_arr] < d_lo.min(0)[lips_arr]
    upper_lip = lips_arr[is_upper]
    lower_lip = lips_arr[~is_upper]
    # corners belong to both halves of the contours; give them to neither region explicitly
    corners = remap[list(MOUTH_CORNERS) + list(INNER_CORNERS)]
    upper_lip = np.setdiff1d(upper_lip, corners)
    lower_lip = np.setdiff1d(lower_lip, corners)

    # Outline of the mesh (excluding the mouth hole), split into jaw line (below the mouth
    # corners) and upper boundary.
    bverts = np.unique(mesh.edges_sorted[outline])
    bverts = np.setdiff1d(bverts, remap[loop])
    c0, c1 = verts[remap[MOUTH_CORNERS[0]]], verts[remap[MOUTH_CORNERS[1]]]
    mouth_y = (c0[1] + c1[1]) / 2
    jaw_line = bverts[verts[bverts, 1] > mouth_y]
    upper_boundary = bverts[verts[bverts, 1] <= mouth_y]

    # Mouth-interior strip between paired inner-lip vertices (indices into the inner loop
    # arrays: upper k <-> lower k, ends shared as the corners).
    n = len(inner_upper)
    mouth_faces = []
    for k in range(n - 1):
        u0, u1, l0, l1 = k, k + 1, n + k, n + k + 1
        # wound so that normals face the camera (-z; x right, y down)
        if k == 0:
            mouth_faces.append([u0, l1, u1])  # corner triangle (u0 == l0 geometrically)
        elif k == n - 2:
            mouth_faces.append([u0, l0, u1])  # corner triangle (u1 == l1)
        else:
            mouth_faces += [[u0, l1, u1], [u0, l0, l1]]

    out = {
        "landmark_index": used.astype(np.int64),
        "faces": local.astype(np.int64),
        "reference_vertices": verts.astype(np.float32),
        "inner_lip_upper": remap[inner_upper],
        "inner_lip_lower": remap[inner_lower],
        "outer_lip_upper": remap[outer_upper],
        "outer_lip_lower": remap[outer_lower],
        "inner_lip_loop": remap[loop],
        "mouth_faces": np.array(mouth_faces, dtype=np.int64),
        "lips": lips_arr,
        "upper_lip": upper_lip,
        "lower_lip": lower_lip,
        "jaw_line": jaw_line,
        "upper_boundary": upper_boundary,
        # Rig anchors, as MediaPipe landmark ids (the full 478-point landmark set is available
        # at run time): jaw pivot side points (left/right face-oval points near the ear),
        # mouth corners, inner-lip midpoints, chin, nose tip.
        "rig_jaw_pivot_landmarks": np.array([234, 454], np.int64),
        "rig_mouth_corners": np.array(MOUTH_CORNERS, np.int64),
        "rig_inner_mid": np.array([UPPER_INNER_MID, LOWER_INNER_MID], np.int64),
        "rig_chin": np.array([CHIN], np.int64),
        "rig_nose_tip": np.array([NOSE_TIP], np.int64),
        "rig_eye_outer": np.array(EYE_OUTER, np.int64),
    }
    out.update(teeth_template())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-o", "--output", default=str(ROOT / "assets" / "lower_face.npz"))
    args = ap.parse_args()
    data = build()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.output, **data)
    print(
        f"wrote {args.output}: {len(data['landmark_index'])} vertices, {len(data['faces'])} faces, "
        f"{len(data['mouth_faces'])} mouth faces, {len(data['lips'])} lip vertices"
    )


if __name__ == "__main__":
    main()
