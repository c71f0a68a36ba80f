"""Training data of the refiner: reconstruction pairs cut from a tracked video.

For frame ``t`` of a video, the tracked lower face is rendered with the frame's *own* expression
(:func:`reconstruction_meshes`); the refiner must reproduce the real crop of frame ``t`` from that
render, the crop with the mouth/jaw region masked out, and reference crops of other frames.

:func:`build_clip_data` renders and crops a clip once (:class:`ClipData`, saved as ``.npz``);
:class:`PairSampler` draws augmented training batches from one or several clips.

Conventions: crops are ``(R, R, 3)`` uint8 RGB; the conditioning is packed as ``(R, R, 8)`` uint8
(:func:`~talkinghead.refine.condition.pack_condition`); network tensors are float in [-1, 1] (see
:mod:`talkinghead.refine.model`).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ...face.deform import DeformedMeshes, MouthRig, build_rig, posed_meshes, with_interior_and_teeth
from ...face.types import FaceTrack
from ..composite.blend import extract_crops, hole_mask, to_crop_points
from ..condition import (  # noqa: F401  (re-exported: the training code's names for them)
    CHANGE_WEIGHT,
    COND_FACE,
    COND_NORMAL_X,
    FEATHER,
    HOLE_DILATE,
    INPUT_COND,
    SILHOUETTE_MARGIN,
    changeable_vertices,
    network_input,
    pack_condition,
    resize_condition,
)
from ..model import RENDER_CHANNELS

#: Version of the training data :func:`build_clip_data` produces; bumped whenever its output
#: changes for the same inputs (part of the file names of cached :class:`ClipData`).
#: 2: the mouth interior is set back along the view direction (:func:`posed_meshes`).
DATA_VERSION = 2

#: MediaPipe landmarks used for the evaluation box (upper-lip top, chin, mouth corners).
LM_UPPER_LIP_TOP, LM_CHIN, LM_CORNERS = 0, 152, (61, 291)
#: MediaPipe outer-lip landmarks (for the mouth weight of the loss).
LM_OUTER_LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)


# ------------------------------------------------------------------------------------------
# Geometry from the track


def mouth_openness(track: FaceTrack, rig: MouthRig | None = None) -> np.ndarray:
    """Inner-lip opening of every frame in mouth widths, ``(n_frames,)`` float64 (>= 0)."""
    rig = rig or build_rig(track)
    mids = rig.to_mouth(track.canonical.astype(np.float64)[None, rig.mesh.rig_inner_mid]
                        + track.expression[:, rig.mesh.rig_inner_mid])
    return np.linalg.norm(mids[:, 1] - mids[:, 0], axis=-1)


def reconstruction_meshes(track: FaceTrack, frame_index: np.ndarray, rig: MouthRig | None = None) -> DeformedMeshes:
    """Render meshes of the frames' *own* lower face (no re-animation), for training pairs.

    The skin and lips are exactly the tracked landmarks of each frame (``canonical +
    expression[t]`` in its pose); the mouth interior fills the observed opening (set back by
    ``MOUTH_DEPTH``, as :func:`deform_lower_face` does) and the teeth proxies are placed as the rig
    places them, the lower arch rotated to the jaw angle that matches the observed lip opening.

    Args:
        track: the tracked face.
        frame_index: frames to rebuild, ``(n,)`` int.
        rig: the person's rig (default :func:`build_rig`).

    Returns:
        :class:`DeformedMeshes` (same topology as :func:`deform_lower_face`'s).
    """
    rig = rig or build_rig(track)
    frame_index = np.asarray(frame_index, np.int64)
    mesh = rig.mesh
    idx = mesh.landmark_index
    shapes = track.canonical.astype(np.float64)[None, idx] + track.expression[frame_index][:, idx]
    y = rig.to_mouth(shapes)  # (n, V, 3) own shape in the mouth frame
    # Jaw angle matching the observed opening (the rig's jaw_open scale), for the lower teeth.
    opening = mouth_openness(track, rig)[frame_index]
    angle = np.clip(opening / max(rig.open_max, 1e-6), 0.0, 1.0) * rig.jaw_angle_max
    return posed_meshes(track, rig, with_interior_and_teeth(rig, y, angle), frame_index)


def posed_points(track: FaceTrack, pose_frames: np.ndarray, shape_frames: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Landmarks of expression ``shape_frames[k]`` in the head pose of ``pose_frames[k]``,
    ``(n, len(landmarks), 3)`` float64 frame pixels."""
    pose_frames = np.asarray(pose_frames)
    shape_frames = np.asarray(shape_frames)
    c = track.canonical.astype(np.float64)[None, landmarks] + track.expression[shape_frames][:, landmarks]
    s = track.scale[pose_frames].astype(np.float64)[:, None, None]
    r = track.rotation[pose_frames].astype(np.float64)
    t = track.translation[pose_frames].astype(np.float64)[:, None, :]
    return s * np.einsum("nvj,nij->nvi", c, r) + t


# ------------------------------------------------------------------------------------------
# References


def choose_references(openness: np.ndarray, n_refs: int, candidates: np.ndarray | None = None) -> np.ndarray:
    """Deterministic reference frames: the widest-open mouth (teeth), the most closed one, then
    evenly spaced openness quantiles. ``openness``: ``(n,)``; returns ``(n_refs,)`` frame indices
    (repeats when there are fewer candidates)."""
    cand = np.arange(len(openness)) if candidates is None else np.asarray(candidates)
    order = cand[np.argsort(openness[cand], kind="stable")]
    picks = [order[-1], order[0]]
    for q in np.linspace(0.25, 0.75, max(n_refs - 2, 0)):
        picks.append(order[int(round(q * (len(order) - 1)))])
    return np.asarray(picks[:n_refs], np.int64)


# ------------------------------------------------------------------------------------------
# Cached clip data


@dataclass
class ClipData:
    """Rendered reconstruction pairs of one clip.

    Attributes:
        name: clip name.
        crops: real crops ``(n, R, R, 3)`` uint8.
        cond: packed conditioning ``(n, R, R, 8)`` uint8 (:func:`pack_condition`).
        own_pts: changeable-region points of each frame's own shape, ``(n, P, 2)`` float32 crop px.
        alt_pts: the same vertices for other expressions in the frame's pose, ``(n, A, P, 2)``
            (simulate the union with a deformed mouth).
        lips_pts: outer-lip landmarks, ``(n, 20, 2)`` float32 crop px.
        eval_box: evaluation region ``(n, 4)`` int32 ``x0, y0, x1, y1`` in crop px (from just above
            the upper lip to the chin; :func:`eval_box`).
        openness: ``(n,)`` float32 inner-lip opening in mouth widths.
        frame_ids: source frame of each row ``(n,)`` int64.
        n_train: rows ``[0, n_train)`` may be trained on; the rest are held out.
        boxes: ``(n, 3)`` float64 crop boxes ``x0, y0, size``.
    """

    name: str
    crops: np.ndarray
    cond: np.ndarray
    own_pts: np.ndarray
    alt_pts: np.ndarray
    lips_pts: np.ndarray
    eval_box: np.ndarray
    openness: np.ndarray
    frame_ids: np.ndarray
    n_train: int
    boxes: np.ndarray

    @property
    def resolution(self) -> int:
        return int(self.crops.shape[1])

    def __len__(self) -> int:
        return int(self.crops.shape[0])

    def save(self, path: str | Path) -> None:
        arrays = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        arrays["name"] = np.array(self.name)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "ClipData":
        with np.load(path) as d:
            kw = {f.name: d[f.name] for f in dataclasses.fields(cls)}
        kw["name"] = str(kw["name"])
        kw["n_train"] = int(kw["n_train"])
        return cls(**kw)

    def select(self, rows: np.ndarray) -> "ClipData":
        """The clip restricted to ``rows`` (increasing row indices); training rows stay first."""
        rows = np.asarray(rows, np.int64)
        per_row = {f.name: getattr(self, f.name)[rows] for f in dataclasses.fields(self)
                   if f.name not in ("name", "n_train")}
        return ClipData(name=self.name, n_train=int((rows < self.n_train).sum()), **per_row)

    def hole(self, row: int, alt: int | None, dilate_px: float) -> np.ndarray:
        """Hole mask ``(R, R)`` of row ``row``: own region, united with alternative ``alt``."""
        sets = [self.own_pts[row]]
        if alt is not None:
            sets.append(self.alt_pts[row, alt])
        return hole_mask(sets, self.resolution, dilate_px)

    def mouth_weight(self, row: int) -> np.ndarray:
        """``(R, R)`` float32: 1 on the (dilated) lips and the rendered mouth, else 0."""
        r = self.resolution
        m = np.zeros((r, r), np.uint8)
        cv2.fillPoly(m, [np.round(self.lips_pts[row] - 0.5).astype(np.int32)], 1)
        k = max(int(0.03 * r), 1)
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
        return np.maximum(m.astype(np.float32), self.cond[row, ..., 5].astype(np.float32) / 255.0)


def eval_box(upper_lip_top: np.ndarray, chin: np.ndarray, corners: np.ndarray, resolution: int) -> np.ndarray:
    """Evaluation region (crop px, ``x0, y0, x1, y1`` int): from 15% of the lip-to-chin height
    above the upper lip's top to the chin, from a quarter mouth width outside each corner.

    Args: points ``(n, 2)``, ``(n, 2)``, ``(n, 2, 2)`` in crop pixels."""
    h = chin[:, 1] - upper_lip_top[:, 1]
    wid = np.abs(corners[:, 1, 0] - corners[:, 0, 0])
    x0 = corners[:, :, 0].min(1) - 0.25 * wid
    x1 = corners[:, :, 0].max(1) + 0.25 * wid
    y0 = upper_lip_top[:, 1] - 0.15 * h
    y1 = chin[:, 1]
    b = np.stack([x0, y0, x1, y1], 1)
    return np.clip(np.round(b), 0, resolution).astype(np.int32)


def build_clip_data(
    frames: np.ndarray,
    track: FaceTrack,
    frame_ids: np.ndarray,
    resolution: int,
    *,
    n_train: int | None = None,
    name: str = "",
    n_alt: int = 3,
    render_device: str | None = "cpu",
    seed: int = 0,
) -> ClipData:
    """Render and crop reconstruction pairs for the frames ``frame_ids`` of a tracked clip.

    Args:
        frames: the video frames ``frame_ids`` refer to: an array ``(N, H, W, 3)`` uint8 or any
            sequence or mapping indexable by frame number (of arrays or
            :class:`~talkinghead.refine.composite.blend.ScaledFrame`).
        track: the clip's :class:`FaceTrack`.
        frame_ids: frames to use, ``(n,)`` int, increasing.
        resolution: crop side.
        n_train: rows usable for training (default all).
        n_alt: alternative expressions per frame for the hole (the widest-open frame + random).
        render_device: device of the renderer.

    Returns:
        :class:`ClipData`.
    """
    from ...render.renderer import render_frames

    frame_ids = np.asarray(frame_ids, np.int64)
    rig = build_rig(track)
    meshes = reconstruction_meshes(track, frame_ids, rig)
    rendered = render_frames(meshes, resolution, device=render_device)
    boxes = rendered.boxes
    crops = extract_crops([frames[i] for i in frame_ids], boxes, resolution)
    cond = pack_condition(rendered)

    idx = rig.mesh.landmark_index
    ch = idx[changeable_vertices(rig)]
    rng = np.random.default_rng(seed)
    openness = mouth_openness(track, rig)
    widest = int(np.argmax(openness))

    def crop_pts(points: np.ndarray) -> np.ndarray:  # (n, P, >=2) frame px -> (n, P, 2) crop px
        return np.stack([to_crop_points(p, b, resolution) for p, b in zip(points, boxes)]).astype(np.float32)

    own = crop_pts(track.landmarks[frame_ids][:, ch])
    alts = []
    for a in range(n_alt):
        other = np.full(len(frame_ids), widest) if a == 0 else rng.integers(0, track.n_frames, len(frame_ids))
        alts.append(crop_pts(posed_points(track, frame_ids, other, ch)))
    lm = track.landmarks[frame_ids]
    lips = crop_pts(lm[:, list(LM_OUTER_LIPS)])
    top = crop_pts(lm[:, [LM_UPPER_LIP_TOP]])[:, 0]
    chin = crop_pts(lm[:, [LM_CHIN]])[:, 0]
    corners = crop_pts(lm[:, list(LM_CORNERS)])
    return ClipData(
        name=name,
        crops=crops,
        cond=cond,
        own_pts=own,
        alt_pts=np.stack(alts, 1),
        lips_pts=lips,
        eval_box=eval_box(top, chin, corners, resolution),
        openness=openness[frame_ids].astype(np.float32),
        frame_ids=frame_ids,
        n_train=len(frame_ids) if n_train is None else int(n_train),
        boxes=np.array([[b.x0, b.y0, b.size] for b in boxes], np.float64),
    )


# ------------------------------------------------------------------------------------------
# Batches


@dataclass
class Augment:
    """Training augmentation ranges (applied per sample).

    Attributes:
        shift: max translation, fraction of the crop side.
        scale: max relative zoom.
        gain, bias: colour jitter (multiplicative per channel, additive, in [-1, 1] units), the
            same on the crop, the target and the references (one lighting).
        ref_shift, ref_scale: extra independent jitter of each reference (so that they are not
            pixel-aligned with the target; essential when the references are the frame itself).
        flip: probability of a horizontal flip (of everything together).
        teeth_ref_dropout: probability that the teeth reference (the first, normally one of the
            widest-open frames) is replaced by a closed-mouth frame, as a portrait or a video
            that never opens the mouth gives: the generator must then draw the teeth from their
            rendered proxies alone instead of copying them (generic training only; 0 keeps the
            random stream of the sampler unchanged).
    """

    shift: float = 0.04
    scale: float = 0.06
    gain: float = 0.12
    bias: float = 0.08
    ref_shift: float = 0.06
    ref_scale: float = 0.08
    flip: float = 0.5
    teeth_ref_dropout: float = 0.0


def _jitter_affine(rng: np.random.Generator, r: int, shift: float, scale: float, flip: bool) -> np.ndarray:
    """Random similarity about the crop centre (zoom, shift, optional mirror), ``(2, 3)``."""
    z = 1 + rng.uniform(-scale, scale)
    tx, ty = rng.uniform(-shift, shift, 2) * r
    sx = -z if flip else z
    c = (r - 1) / 2
    return np.array([[sx, 0, c - sx * c + tx], [0, z, c - z * c + ty]], np.float64)


def _warp(img: np.ndarray, m: np.ndarray, interp: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Warp ``(R, R, C)`` (any C) with edge replication."""
    r = img.shape[0]
    parts = [
        cv2.warpAffine(np.ascontiguousarray(img[..., i:i + 4]), m, (r, r), flags=interp,
                       borderMode=cv2.BORDER_REPLICATE).reshape(r, r, -1)
        for i in range(0, img.shape[-1], 4)
    ]
    return np.concatenate(parts, -1)


class PairSampler:
    """Draws augmented training batches from clips.

    References: one of the widest-open 10% of the clip's training frames (teeth) and one of the
    most closed 30%, each at least ``min_gap`` frames away from the target when possible, as
    :func:`choose_references` picks them at inference (with probability
    ``augment.teeth_ref_dropout`` the first is a closed-mouth one too).
    """

    def __init__(self, clips: list[ClipData], n_refs: int, *, augment: Augment | None = None,
                 seed: int = 0, min_gap: int = 8):
        if not clips:
            raise ValueError("no training clips")
        self.clips = clips
        self.n_refs = n_refs
        self.augment = augment or Augment()
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.min_gap = min_gap
        sizes = np.array([max(c.n_train, 1) for c in clips], np.float64)
        self.clip_p = np.sqrt(sizes) / np.sqrt(sizes).sum()
        self.pools = []
        for c in clips:
            rows = np.arange(c.n_train)
            order = rows[np.argsort(c.openness[rows], kind="stable")]
            k_open = max(1, int(np.ceil(0.1 * len(order))))
            k_closed = max(1, int(np.ceil(0.3 * len(order))))
            self.pools.append((order[-k_open:], order[:k_closed], rows))

    def _refs(self, ci: int, row: int) -> list[int]:
        c = self.clips[ci]
        open_pool, closed_pool, all_rows = self.pools[ci]
        picks = []
        no_teeth = self.augment.teeth_ref_dropout > 0 and self.rng.random() < self.augment.teeth_ref_dropout
        for j in range(self.n_refs):
            pool = (closed_pool if no_teeth else open_pool) if j == 0 else closed_pool if j == 1 else all_rows
            far = pool[np.abs(c.frame_ids[pool] - c.frame_ids[row]) >= self.min_gap]
            pool = far if len(far) else pool
            picks.append(int(self.rng.choice(pool)))
        return picks

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        """A batch: ``input`` (B, C_in, R, R), ``target`` (B, 3, R, R) in [-1, 1], ``hole`` and
        ``weight`` (B, 1, R, R), ``dcond`` (B, 12, R, R) for the discriminator (float32 CPU
        tensors; :func:`assemble_batch` of :meth:`sample_compact`)."""
        return assemble_batch(self.sample_compact(batch_size))

    def sample_compact(self, batch_size: int) -> dict[str, torch.Tensor]:
        """A batch in compact form (uint8, a quarter of the float bytes; what worker processes
        send, see :class:`BatchPrefetcher`): ``images`` (B, 3 + 3K, R, R) the target crop then
        the K references, ``cond`` (B, 8, R, R), ``hole`` (B, 1, R, R) 0/255 and ``mouth``
        (B, 1, R, R) the mouth weight * 255; NCHW views of channels-last arrays.

        Augmentation (NumPy/OpenCV per sample): one random similarity (zoom, shift, mirror) for
        the crop, its conditioning, hole and weight; an independent small one for each
        reference; one colour gain/bias for all images of the sample (one lighting)."""
        r = self.clips[0].resolution
        aug = self.augment
        rng = self.rng
        k = self.n_refs
        b = batch_size
        imgs = np.empty((b, r, r, 3 + 3 * k), np.float32)
        conds = np.empty((b, r, r, RENDER_CHANNELS), np.uint8)
        holes = np.empty((b, r, r, 1), np.uint8)
        mws = np.empty((b, r, r, 1), np.uint8)
        for i in range(b):
            ci = int(rng.choice(len(self.clips), p=self.clip_p))
            c = self.clips[ci]
            row = int(rng.integers(0, max(c.n_train, 1)))
            alt = int(rng.integers(0, c.alt_pts.shape[1] + 1))
            alt = None if alt == c.alt_pts.shape[1] else alt
            dil = HOLE_DILATE * r * rng.uniform(0.8, 1.3)
            flip = bool(rng.random() < aug.flip)
            m = _jitter_affine(rng, r, aug.shift, aug.scale, flip)
            stack = np.concatenate(
                [c.crops[row], c.cond[row], (c.hole(row, alt, dil) * 255).astype(np.uint8)[..., None],
                 (c.mouth_weight(row) * 255).astype(np.uint8)[..., None]], -1)
            w = _warp(stack, m)
            imgs[i, ..., :3] = w[..., :3].astype(np.float32) / 255.0
            cond = w[..., 3:3 + RENDER_CHANNELS]
            if flip:  # mirrored normals: n_x -> -n_x, i.e. 1 - value where the face is
                cond[..., COND_NORMAL_X] = np.where(cond[..., COND_FACE] > 0, 255 - cond[..., COND_NORMAL_X], 0)
            conds[i] = cond
            holes[i, ..., 0] = np.where(w[..., 3 + RENDER_CHANNELS] > 127, 255, 0)
            mws[i, ..., 0] = w[..., 4 + RENDER_CHANNELS]
            for j, rr in enumerate(self._refs(ci, row)):
                mr = _jitter_affine(rng, r, aug.ref_shift, aug.ref_scale, flip)
                imgs[i, ..., 3 + 3 * j:6 + 3 * j] = _warp(c.crops[rr], mr).astype(np.float32) / 255.0
            gain = 1 + rng.uniform(-aug.gain, aug.gain, 3).astype(np.float32)
            bias = rng.uniform(-aug.bias, aug.bias, 3).astype(np.float32) / 2
            imgs[i] = np.clip(imgs[i] * np.tile(gain, k + 1) + np.tile(bias, k + 1), 0, 1)

        def t(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2)

        return {"images": t(np.rint(imgs * 255).astype(np.uint8)), "cond": t(conds), "hole": t(holes),
                "mouth": t(mws)}


def assemble_batch(compact: dict[str, torch.Tensor], device: str | torch.device | None = None) -> dict[str, torch.Tensor]:
    """Compact batch (:meth:`PairSampler.sample_compact`) -> network batch, on ``device``.

    Returns float32 tensors: ``input`` (B, 12 + 3K, R, R) = masked crop, hole, conditioning and
    references (:func:`network_input`), ``target`` (B, 3, R, R) in [-1, 1], ``hole`` (B, 1, R, R)
    in {0, 1}, ``weight`` (B, 1, R, R) = 0.25 outside the hole, 1.25 inside, up to 4.25 on the
    lips and mouth, ``dcond`` (B, 12, R, R) the discriminator's condition."""
    def get(key: str) -> torch.Tensor:
        v = compact[key]
        return v.to(device, non_blocking=True) if device is not None else v

    imgs = get("images").float() / 127.5 - 1
    h = (get("hole") > 127).float()
    mw = get("mouth").float() / 255.0
    x = network_input(imgs[:, :3], h, get("cond").float() / 255.0, imgs[:, 3:])
    return {"input": x, "target": imgs[:, :3], "hole": h, "weight": 0.25 + h + 3.0 * mw * h,
            "dcond": x[:, :INPUT_COND + RENDER_CHANNELS]}


class _CompactBatches(torch.utils.data.IterableDataset):
    """Endless compact batches from a :class:`PairSampler` seeded per worker process."""

    def __init__(self, clips: list[ClipData], n_refs: int, augment: Augment, seed: int, batch_size: int):
        self.clips, self.n_refs, self.augment, self.seed, self.batch_size = clips, n_refs, augment, seed, batch_size

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid = info.id if info is not None else 0
        torch.set_num_threads(1)
        if cv2.getNumThreads() != 1:  # a spawned worker (a forked one inherits 1: see BatchPrefetcher)
            cv2.setNumThreads(1)
        sampler = PairSampler(self.clips, self.n_refs, augment=self.augment, seed=self.seed + 100_003 * (wid + 1))
        while True:
            yield sampler.sample_compact(self.batch_size)


class BatchPrefetcher:
    """Draws :class:`PairSampler` batches in ``workers`` background processes (a PyTorch
    ``DataLoader``), so that a GPU is not kept waiting by the per-sample OpenCV augmentation
    (~10 ms per 192x192 sample on one 2.5 GHz core). Workers send compact uint8 batches;
    :meth:`sample` finishes them on ``device`` (:func:`assemble_batch`). Each worker has its own
    random stream (``seed`` and its index), so a run is reproducible for a given worker count.
    """

    def __init__(self, clips: list[ClipData], n_refs: int, *, batch_size: int, workers: int,
                 augment: Augment | None = None, seed: int = 0, device: str | torch.device = "cpu",
                 timeout: float = 0):
        """``timeout``: seconds to wait for a worker's batch before raising (0 = no limit)."""
        import multiprocessing

        self.batch_size = batch_size
        self.device = torch.device(device)
        ctx = multiprocessing.get_context("fork") if workers > 0 and hasattr(os, "fork") else None
        self.loader = torch.utils.data.DataLoader(
            _CompactBatches(clips, n_refs, augment or Augment(), seed, batch_size), batch_size=None,
            num_workers=workers, pin_memory=self.device.type == "cuda", multiprocessing_context=ctx,
            prefetch_factor=4 if workers > 0 else None, persistent_workers=workers > 0,
            timeout=timeout if workers > 0 else 0)
        # OpenCV's thread pool does not survive fork(): a forked worker that touches it (even
        # cv2.setNumThreads) can wait forever on threads that only exist in this process. So the
        # pool is shut down (1 thread) while the workers are forked, and they inherit that.
        n_cv = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            self._it = iter(self.loader)
        finally:
            cv2.setNumThreads(n_cv)

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        if batch_size != self.batch_size:
            raise ValueError(f"this prefetcher draws batches of {self.batch_size}, not {batch_size}")
        return assemble_batch(next(self._it), self.device)
