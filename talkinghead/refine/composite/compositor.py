"""Compositing: the refiner's crops put back into the frames of the face video.

:class:`Compositor` holds every step after the model: the holes and the blending alphas, the
colour anchoring (:mod:`.anchor`), the blend itself (:mod:`.blend`), the real mouths pasted over
the planned lips (:mod:`.retrieve`) and the source's own fine skin detail (:mod:`.detail`).
:class:`~talkinghead.refine.prepare.PreparedFace` is one: it adds the prepared refiner.

Shapes: ``R`` is the crop side in pixels (:attr:`Compositor.resolution`), ``n`` the frames of a
chunk; crops are ``(R, R, 3)`` uint8 RGB, masks and alphas ``(n, R, R)`` float32 in [0, 1], flows
``(n, R, R, 2)`` float32 in crop pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...face.deform import DeformedMeshes, MouthRig
from ...face.types import FaceTrack
from ...options import RenderOptions
from ...render.types import CropBox
from ..condition import FEATHER, HOLE_DILATE, SILHOUETTE_MARGIN, changeable_vertices
from .anchor import anchor_colours, anchor_regions
from .blend import (
    blend,
    blend_alpha,
    hole_mask,
    is_grayscale,
    limit_alpha,
    ring_colour_transform,
    silhouette_mask,
    to_crop_points,
    to_grayscale,
)
from .detail import add_detail, backward_flow, detail_weight, keep_upper_band, upper_band_weight
from .retrieve import MouthSources, mouth_shapes_from_meshes

@dataclass
class PaintedCrops:
    """A chunk of frames painted by the refiner, not yet composited
    (:meth:`~talkinghead.refine.prepare.PreparedFace.paint_crops`, then
    :meth:`Compositor.composite_frames`).

    Attributes:
        frames: the source frames, ``(H, W, 3)`` uint8 RGB each.
        meshes: their deformed meshes.
        boxes: their crop boxes.
        crops: the source crops ``(n, R, R, 3)`` uint8 RGB.
        holes: the regions painted, ``(n, R, R)`` float32 in {0, 1}.
        painted: the refiner's crops ``(n, R, R, 3)`` uint8 RGB.
    """

    frames: list[np.ndarray]
    meshes: DeformedMeshes
    boxes: list[CropBox]
    crops: np.ndarray
    holes: np.ndarray
    painted: np.ndarray


#: The defaults of the quality switches (:class:`~talkinghead.options.RenderOptions`).
DEFAULTS = RenderOptions()


class Compositor:
    """The compositing steps of one face. Needs ``track`` (:class:`FaceTrack`), ``rig``
    (:class:`MouthRig`) and ``resolution`` (the crop side ``R``, pixels)."""

    track: FaceTrack
    rig: MouthRig
    resolution: int

    def paste_mouths(self, frames: Sequence[np.ndarray], out: list[np.ndarray], meshes: DeformedMeshes,
                     boxes: Sequence[CropBox], alphas: np.ndarray, sources: MouthSources) -> list[np.ndarray]:
        """The blended frames ``out`` with real mouths pasted over the planned lips
        (:class:`~talkinghead.refine.composite.retrieve.MouthSources`; its state moves on by
        ``meshes.n_frames`` frames), kept within the blending ``alphas``, the own mouth
        in the light of the source ``frames``."""
        idx = np.asarray(meshes.frame_index, np.int64)
        choice = sources.choose(mouth_shapes_from_meshes(self.track, self.rig, meshes), self.track.rotation[idx])
        return sources.paste(list(out), list(frames), choice, meshes.vertices[:, : meshes.n_skin], self.rig, alphas,
                             list(boxes))

    def holes(self, meshes: DeformedMeshes, boxes: Sequence[CropBox]) -> np.ndarray:
        """Regions to synthesise, ``(n, R, R)`` float32 in {0, 1}.

        Union of the convex hulls of the mouth/jaw vertices (those the rig may move) of the
        source frame's *original* landmarks and of the *deformed* mesh, dilated by
        :data:`HOLE_DILATE` of the crop: the original lips and jaw never show through, wherever the
        new jaw goes.
        """
        r = self.resolution
        ch = changeable_vertices(self.rig)
        lm_ids = self.rig.mesh.landmark_index[ch]
        out = np.empty((meshes.n_frames, r, r), np.float32)
        for k in range(meshes.n_frames):
            src = self.track.landmarks[int(meshes.frame_index[k])][lm_ids]
            new = meshes.vertices[k, : meshes.n_skin][ch]
            out[k] = hole_mask([to_crop_points(src, boxes[k], r), to_crop_points(new, boxes[k], r)], r,
                               HOLE_DILATE * r)
        return out

    def _face_points(self, meshes: DeformedMeshes, boxes: Sequence[CropBox], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Crop-pixel positions ``(V, 2)`` of every lower-face vertex of chunk frame ``k``: in the
        source frame (its tracked landmarks) and in the deformed mesh."""
        r = self.resolution
        src = self.track.landmarks[int(meshes.frame_index[k])][self.rig.mesh.landmark_index]
        return to_crop_points(src, boxes[k], r), to_crop_points(meshes.vertices[k, : meshes.n_skin], boxes[k], r)

    def silhouettes(self, meshes: DeformedMeshes, boxes: Sequence[CropBox]) -> np.ndarray:
        """The lower face's silhouette, source and new united, ``(n, R, R)`` float32 in {0, 1}.

        The lower-face mesh's triangles, mouth hole included
        (:attr:`~talkinghead.face.mesh.LowerFaceMesh.solid_faces`), filled twice: once with the
        source frame's tracked landmarks (where the real face is), once with the deformed mesh
        (where the new one will be).
        """
        r = self.resolution
        faces = self.rig.mesh.solid_faces
        out = np.empty((meshes.n_frames, r, r), np.float32)
        for k in range(meshes.n_frames):
            src, new = self._face_points(meshes, boxes, k)
            out[k] = np.maximum(silhouette_mask(src, faces, r), silhouette_mask(new, faces, r))
        return out

    def blend_alphas(self, meshes: DeformedMeshes, boxes: Sequence[CropBox],
                     holes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Blending alphas of the holes, ``(alphas, hole_alphas)``, each ``(n, R, R)`` float32 in
        [0, 1].

        ``hole_alphas``: each hole's feathered alpha (:func:`blend_alpha`, ramp :data:`FEATHER` of
        the crop); ``alphas``: the same limited to the face's silhouette (:meth:`silhouettes`,
        :func:`limit_alpha`, margin :data:`SILHOUETTE_MARGIN` of the crop), what is blended.
        Pass both to :func:`blend` (``alpha``, ``ring_alpha``).
        """
        r = self.resolution
        sil = self.silhouettes(meshes, boxes)
        hole_alphas = np.stack([blend_alpha(h, FEATHER * r) for h in holes])
        alphas = np.stack([limit_alpha(a, s, SILHOUETTE_MARGIN * r) for a, s in zip(hole_alphas, sil)])
        return alphas, hole_alphas

    def skin_flows(self, meshes: DeformedMeshes, boxes: Sequence[CropBox]) -> np.ndarray:
        """The skin's displacement from the source frame's landmarks to the deformed mesh, at the
        new face's crop pixels (:func:`~talkinghead.refine.composite.detail.backward_flow`): ``(n, R, R, 2)``
        float32, crop pixels."""
        r = self.resolution
        flows = np.empty((meshes.n_frames, r, r, 2), np.float32)
        for k in range(meshes.n_frames):
            flows[k] = backward_flow(*self._face_points(meshes, boxes, k), r)
        return flows

    def anchor_crops(self, frames: Sequence[np.ndarray], out_crops: Sequence[np.ndarray], crops: np.ndarray,
                     meshes: DeformedMeshes, boxes: Sequence[CropBox], alphas: np.ndarray, hole_alphas: np.ndarray,
                     flows: np.ndarray, *, colour_match: bool = True) -> list[np.ndarray]:
        """The refiner's crops, colour-matched at the seam as :func:`~.blend.blend` would (when
        ``colour_match``), then with their coarse colours pulled towards the source face's
        (:func:`~talkinghead.refine.composite.anchor.anchor_colours`). Blend them with ``colour_match=False``.

        Args:
            frames: the source frames ``(H, W, 3)`` uint8 of the chunk.
            out_crops: the refiner's crops, ``(R, R, 3)`` uint8 each.
            crops: the source crops ``(n, R, R, 3)`` uint8 of the same boxes.
            meshes, boxes: the chunk's deformed meshes and crop boxes.
            alphas, hole_alphas: :meth:`blend_alphas`.
            flows: :meth:`skin_flows`.
            colour_match: apply the seam's colour matching first (:func:`~.blend.ring_colour_transform`).
        """
        mesh = self.rig.mesh
        out = []
        for k in range(meshes.n_frames):
            crop = out_crops[k]
            if colour_match:
                transform = ring_colour_transform(frames[k], crop, boxes[k], alphas[k], ring_alpha=hole_alphas[k])
                # only where it will be blended (the hole's alpha covers the blend's)
                crop = transform.apply(crop, hole_alphas[k] > 0) if transform is not None else crop
            src, new = self._face_points(meshes, boxes, k)
            regions = anchor_regions(src, new, mesh, hole_alphas[k], flows[k])
            out.append(anchor_colours(crop, crops[k], flows[k], regions, hole_alphas[k]))
        return out

    def detail_maps(self, meshes: DeformedMeshes, boxes: Sequence[CropBox],
                    alphas: np.ndarray, flows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Where the source frame's skin detail goes, and where it comes from.

        Args:
            flows: :meth:`skin_flows` when already computed.

        Returns:
            ``(weights, flows)``: ``(n, R, R)`` float32 in [0, 1], the blend's ``alphas`` less
            the lips and mouth opening of the source and the new face
            (:func:`~talkinghead.refine.composite.detail.detail_weight`); ``(n, R, R, 2)`` float32, the
            skin's displacement from the source landmarks to the deformed mesh, crop pixels
            (:meth:`skin_flows`). Pass them to :func:`~talkinghead.refine.composite.detail.add_detail`.
        """
        r = self.resolution
        mesh = self.rig.mesh
        if flows is None:
            flows = self.skin_flows(meshes, boxes)
        weights = np.empty((meshes.n_frames, r, r), np.float32)
        for k in range(meshes.n_frames):
            src, new = self._face_points(meshes, boxes, k)
            weights[k] = detail_weight(src, new, mesh, alphas[k], flows[k])
        return weights, flows

    def upper_bands(self, meshes: DeformedMeshes, boxes: Sequence[CropBox], alphas: np.ndarray,
                    flows: np.ndarray) -> np.ndarray:
        """Where the source's own skin, moved with the upper lip, replaces the refiner's: above the
        new upper lip (:func:`~talkinghead.refine.composite.detail.upper_band_weight`), ``(n, R, R)`` float32
        in [0, 1]. The refiner never saw a moustache in training and erases one (a painted
        portrait's moustache vanished entirely); the skin there moves little while speaking.

        Args:
            alphas: the blending alphas (:meth:`blend_alphas`): the band stays inside them.
            flows: :meth:`skin_flows`.
        """
        out = np.empty((meshes.n_frames, self.resolution, self.resolution), np.float32)
        for k in range(meshes.n_frames):
            src, new = self._face_points(meshes, boxes, k)
            out[k] = upper_band_weight(src, new, self.rig.mesh, alphas[k], flows[k])
        return out

    def composite_frames(self, painted: PaintedCrops, *, colour_match: bool = True,
                         skin_detail: bool = DEFAULTS.skin_detail, colour_anchor: bool = DEFAULTS.colour_anchor,
                         mouths: MouthSources | None = None, color_match: bool | None = None) -> list[np.ndarray]:
        """The refiner's crops put into their frames (the compositing half of
        :meth:`~talkinghead.refine.prepare.PreparedFace.refine_frames`): colours anchored
        (``colour_anchor``, :meth:`anchor_crops`), black and white where the frame is, blended
        through the holes' alphas (:meth:`blend_alphas`), real mouths pasted (``mouths``,
        :meth:`paste_mouths`), then the source's own skin detail (``skin_detail``,
        :meth:`finish_frames`). Call it for the chunks in order (``mouths`` keeps state).

        Args:
            painted: a chunk painted by the refiner
                (:meth:`~talkinghead.refine.prepare.PreparedFace.paint_crops`).
            colour_match: Lab mean/std matching at the blend seam.
            color_match: the old name of ``colour_match`` (still accepted; wins when given).

        Returns:
            The output frames ``(H, W, 3)`` uint8.
        """
        if color_match is not None:
            colour_match = color_match
        frames, meshes, boxes, crops = painted.frames, painted.meshes, painted.boxes, painted.crops
        n = meshes.n_frames
        out_crops = painted.painted
        alphas, hole_alphas = self.blend_alphas(meshes, boxes, painted.holes)
        flows = self.skin_flows(meshes, boxes) if (colour_anchor or skin_detail) else None
        if colour_anchor:  # the seam's colour matching first, then the anchoring
            out_crops = self.anchor_crops(frames, out_crops, crops, meshes, boxes, alphas, hole_alphas, flows,
                                          colour_match=colour_match)
            colour_match = False
        # a black-and-white video or photo gets a black-and-white mouth (the refiner paints lips
        # and skin in colour whatever it is shown)
        out_crops = [to_grayscale(o) if is_grayscale(c) else o for o, c in zip(out_crops, crops)]
        out = [blend(frames[k], out_crops[k], boxes[k], alphas[k], colour_match=colour_match, ring_alpha=hole_alphas[k])
               for k in range(n)]
        if mouths is not None:
            out = self.paste_mouths(frames, out, meshes, boxes, alphas, mouths)
        return self.finish_frames(frames, out, meshes, boxes, alphas, flows, skin_detail=skin_detail)

    def finish_frames(self, frames: Sequence[np.ndarray], out: list[np.ndarray], meshes: DeformedMeshes,
                      boxes: Sequence[CropBox], alphas: np.ndarray, flows: np.ndarray | None, *,
                      skin_detail: bool = DEFAULTS.skin_detail) -> list[np.ndarray]:
        """The blended frames ``out`` given the source frame's own skin (the last step of
        :meth:`refine_frames`): its fine detail on the rebuilt skin and its own skin above the
        upper lip (when ``skin_detail``), and the source frame itself where no face was detected.

        Args:
            frames: the source frames of the chunk.
            out: the blended frames (replaced, not modified).
            alphas: the blending alphas (:meth:`blend_alphas`).
            flows: :meth:`skin_flows`, or ``None`` (computed when needed).
        """
        n = meshes.n_frames
        if skin_detail:
            weights, flows = self.detail_maps(meshes, boxes, alphas, flows)
            # the source's own skin above the upper lip (a moustache the refiner erases), at the
            # frame's resolution, after the blend (its colours are the frame's): no detail added there
            bands = self.upper_bands(meshes, boxes, alphas, flows)
            weights = weights * (1 - bands)
            out = [add_detail(out[k], frames[k], boxes[k], weights[k], flows[k]) for k in range(n)]
            out = [keep_upper_band(out[k], frames[k], boxes[k], bands[k], flows[k]) for k in range(n)]
        # where the detector found no face (the track bridges up to TrackerSettings.max_gap_s: a cutaway,
        # the face out of the picture) there is no face to give a mouth to: the frame as it is
        detected = np.asarray(self.track.detected, bool)
        out = list(out)
        for k in range(n):
            f = int(meshes.frame_index[k])
            if f < len(detected) and not detected[f]:
                out[k] = np.array(frames[k], dtype=np.uint8, copy=True)
        return out
