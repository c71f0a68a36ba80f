"""Per-face preparation: track the target video, fine-tune the refiner on it, cache the result.

:func:`prepare_face` returns a :class:`PreparedFace` that holds everything the Refine stage needs
for that face: its :class:`FaceTrack`, a :class:`Refiner` fine-tuned from the generic weights on
reconstruction pairs of the video (:mod:`.dataset`), and the reference crops. The fine-tuned
weights and references are cached under ``$TALKINGHEAD_CACHE/refiners`` (default
``~/.cache/talkinghead/refiners``), keyed by the video's content hash, the settings and the base
weights, so a second ``prepare`` (or ``say``) of the same face is instant.

A single image is a one-frame video: its one reconstruction pair is augmented (shifts, zoom,
flips, colour) and serves as its own reference (with independent jitter). The pipeline does not
fine-tune on portraits by default, though (:data:`PORTRAIT_STEPS`): a still shows one mouth state.

Per output chunk the pipeline then calls :meth:`PreparedFace.refine_frames` with the source
frames, the deformed meshes and their rendering.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import cache as disk_cache
from ..errors import OutputError
from ..face.deform import DeformedMeshes, MouthRig, build_rig
from ..face.types import FaceTrack
from ..fileio import bundled_file, file_sha256
from ..render.types import CropBox, RenderedFrames
from .composite.blend import ScaledFrame, extract_crops
from .composite.compositor import DEFAULTS, Compositor, PaintedCrops  # noqa: F401  (PaintedCrops: paint_crops's result)
from .composite.retrieve import MouthLibrary, MouthSources, build_mouth_library, library_frames
from .infer import GENERIC_WEIGHTS, Refiner, finetune_dtype, resolve_device
from .training.dataset import Augment, PairSampler, build_clip_data, choose_references, mouth_openness
from .training.train import TrainSettings, train_refiner

log = logging.getLogger(__name__)

#: Bumped whenever preparation changes its output for the same inputs (cache key). 2: fine-tuning
#: and references only from frames where the face was detected.
PREPARE_VERSION = 2

#: Default fine-tuning steps for a portrait (a still, animated into an idle clip). A still shows
#: one mouth state only; fine-tuning on it teaches the refiner to paste that mouth whatever the
#: rendering asks for, so every other mouth gets worse (``benchmarks/bench_portrait.py``: frame
#: 0 of each development clip used as the portrait, the clip's held-out frames rebuilt; see
#: ``models/README.md``). The generic weights are used as they are.
PORTRAIT_STEPS = 0

#: A face *video* whose mouth barely moves (a silent listener, a still) is in a portrait's
#: situation: one mouth state to learn. By default (:meth:`PrepareSettings.for_face`) it is not
#: fine-tuned either when the spread of its inner-lip opening (95th minus 5th percentile, in
#: mouth widths, :func:`~talkinghead.refine.training.dataset.mouth_openness`) is below this, which sits in
#: a wide gap between the silent and the talking development clips (``models/README.md``,
#: "Portraits").
STILL_MOUTH_RANGE = 0.08


#: Real open mouths of other people (``assets/mouth_interiors.npz``, built by
#: ``tools/build_mouth_interiors.py`` from MIT-licensed clips; provenance in ``assets/README.md``):
#: where the face's own video never opens its mouth as wide as planned (a portrait), the inside of
#: the planned lips is taken from one of them, in the face's light, instead of the refiner's pale
#: interior (:class:`~.retrieve.MouthSources`).
GENERIC_INTERIORS = bundled_file("mouth_interiors.npz", "assets")


@functools.lru_cache(maxsize=1)
def generic_interiors() -> MouthLibrary | None:
    """The shipped open mouths (:data:`GENERIC_INTERIORS`), or ``None`` (with a warning) when the
    file is missing or unreadable."""
    try:
        return MouthLibrary.load(GENERIC_INTERIORS)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("no generic mouth interiors (%s): %s", GENERIC_INTERIORS, exc)
        return None


@dataclass
class PrepareSettings:
    """Settings of :func:`prepare_face` (all part of the cache key).

    Attributes:
        steps: fine-tuning steps (0 = use the base weights as they are).
        batch_size: crops per step.
        lr: learning rate of the generator (the discriminator uses the same).
        lr_final_factor: the learning rates fall linearly to this fraction of ``lr`` at the last
            step (1.0 = constant); decaying was measured better than constant
            (``benchmarks/bench_refine.py --finetune-lr-final``, ``models/README.md``).
        max_frames: at most this many evenly spaced frames are rendered for fine-tuning.
        train_fraction: fine-tune on the first fraction of the frames only (benchmarks hold out
            the rest; 1.0 for real use).
        face_index: which face in the video (0 = largest).
        seed: sampling seed.
        min_mouth_range: fine-tune only if the spread of the video's mouth opening (95th minus
            5th percentile of :func:`~talkinghead.refine.training.dataset.mouth_openness`, mouth widths)
            is at least this; below it the base weights are used as they are (0 = always
            fine-tune; :meth:`for_face` sets :data:`STILL_MOUTH_RANGE`).
        freeze_norm: fine-tune with the generator's batch-norm layers in inference mode
            (:attr:`~talkinghead.refine.training.train.TrainSettings.freeze_norm`, the default): with batch
            statistics, a batch of 6 crops of one face trains a network other than the one that
            runs, and the running statistics drift to that face's batches (an orange blob on the
            chin of a small face over a dark collar). Frozen is as good on held-out frames, with
            sharper lips and teeth (``benchmarks/bench_refine.py --finetune-norm``; figures in
            ``models/README.md``, "Frozen batch norm in fine-tuning").
    """

    steps: int = 150
    batch_size: int = 6
    lr: float = 2e-4
    lr_final_factor: float = 0.1
    max_frames: int = 200
    train_fraction: float = 1.0
    face_index: int = 0
    seed: int = 0
    min_mouth_range: float = 0.0
    freeze_norm: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def for_face(cls, portrait: bool, steps: int | None = None, **kwargs) -> "PrepareSettings":
        """Settings for a face video (``portrait=False``) or a portrait image: fine-tuning steps
        default to the field's default and to :data:`PORTRAIT_STEPS` respectively, and a video
        whose mouth barely moves is not fine-tuned (:data:`STILL_MOUTH_RANGE`); an explicit
        ``steps`` wins over both. ``kwargs``: other fields."""
        s = cls(**kwargs)
        if steps is not None:
            s.steps = int(steps)
        elif portrait:
            s.steps = PORTRAIT_STEPS
        elif "min_mouth_range" not in kwargs:
            s.min_mouth_range = STILL_MOUTH_RANGE
        return s


@dataclass
class PreparedFace(Compositor):
    """A face ready for the Refine stage: the prepared refiner, and the compositing of its crops
    into the frames (:class:`~talkinghead.refine.composite.compositor.Compositor`).

    Attributes:
        track: the tracked face.
        refiner: the (fine-tuned) refiner.
        references: reference crops ``(K, R, R, 3)`` uint8 (``K = refiner.config.n_refs``): the
            widest-open mouth (teeth), the most closed one, ...
        reference_frames: source frames of the references ``(K,)`` int64.
        rig: the person's mouth rig (for the hole masks).
        mouths: frames of the video to take the mouth from (:class:`~.retrieve.MouthLibrary`), or
            ``None``.
        source: path of the video/image.
        cache_file: where the fine-tuned refiner is cached (``None`` when not cached).
        stats: preparation timings and losses.
    """

    track: FaceTrack
    refiner: Refiner
    references: np.ndarray
    reference_frames: np.ndarray
    rig: MouthRig
    mouths: MouthLibrary | None = None
    source: str = ""
    cache_file: Path | None = None
    stats: dict = field(default_factory=dict)

    def mouth_sources(self) -> MouthSources:
        """New :class:`~.retrieve.MouthSources` (this face's own mouths and the shipped open mouths,
        :func:`generic_interiors`) for one sequence of output frames: pass it to every
        :meth:`refine_frames` call of that sequence, in order."""
        return MouthSources(self.mouths, generic_interiors())

    @property
    def resolution(self) -> int:
        """Crop side the refiner works at (render the conditioning at this resolution)."""
        return self.refiner.resolution

    def refine_frames(
        self,
        frames: Sequence[np.ndarray],
        meshes: DeformedMeshes,
        rendered: RenderedFrames,
        *,
        batch_size: int = 8,
        colour_match: bool = True,
        mirror_average: bool = DEFAULTS.mirror_average,
        skin_detail: bool = DEFAULTS.skin_detail,
        colour_anchor: bool = DEFAULTS.colour_anchor,
        mouths: MouthSources | None = None,
        color_match: bool | None = None,
    ) -> list[np.ndarray]:
        """Refine and blend a chunk of output frames: :meth:`paint_crops` then
        :meth:`composite_frames`.

        Args:
            frames: the source frames, ``frames[k]`` = video frame ``meshes.frame_index[k]``,
                ``(H, W, 3)`` uint8 RGB.
            meshes: the deformed meshes of the chunk (:func:`deform_lower_face`).
            rendered: their rendering (:func:`render_frames`, ideally at :attr:`resolution`).
            batch_size: refiner batch size.
            colour_match: Lab mean/std matching at the blend seam.
            mirror_average: average the refiner's predictions for the frame and its mirror image
                (not :attr:`RenderOptions.fast <talkinghead.options.RenderOptions>`; ``False`` halves the
                refiner's time).
            skin_detail: carry the source frame's fine skin detail onto the rebuilt skin
                (:meth:`detail_maps`), and keep its own skin above the upper
                lip, moved with the lip (:meth:`upper_bands`; a moustache).
            colour_anchor: pull the refiner's coarse colours towards the source face's where
                they are far off (:meth:`anchor_crops`).
            mouths: paste real mouths over the planned lips: the person's own from the face video,
                else another person's mouth interior (:meth:`mouth_sources`,
                :meth:`paste_mouths`); ``None``: the refiner's mouth.
            color_match: the old name of ``colour_match`` (still accepted; wins when given).

        Returns:
            The output frames, ``(H, W, 3)`` uint8 each; pixels outside the (warped) blend mask are
            the source frame's, bit for bit, and so is a frame where the face was not detected
            (:attr:`FaceTrack.detected <talkinghead.face.types.FaceTrack.detected>`). Where a frame's crop is black and white
            (:func:`~.blend.is_grayscale`) so is the rebuilt region.
        """
        if color_match is not None:
            colour_match = color_match
        painted = self.paint_crops(frames, meshes, rendered, batch_size=batch_size, mirror_average=mirror_average)
        return self.composite_frames(painted, colour_match=colour_match, skin_detail=skin_detail,
                                     colour_anchor=colour_anchor, mouths=mouths)

    def paint_crops(self, frames: Sequence[np.ndarray], meshes: DeformedMeshes, rendered: RenderedFrames, *,
                    batch_size: int = 8, mirror_average: bool = DEFAULTS.mirror_average) -> PaintedCrops:
        """The refiner's half of :meth:`refine_frames`: the source crops, the hole masks and the
        refiner's crops of a chunk (arguments as there). Keeps no state."""
        n = meshes.n_frames
        if len(frames) != n or len(rendered.boxes) != n:
            raise ValueError(f"got {len(frames)} frames, {meshes.n_frames} meshes, {len(rendered.boxes)} renders")
        boxes = list(rendered.boxes)
        crops = extract_crops(frames, boxes, self.resolution)
        holes = self.holes(meshes, boxes)
        painted = self.refiner.refine(crops, rendered, self.references, holes, batch_size=batch_size,
                                      mirror_average=mirror_average)
        return PaintedCrops(list(frames), meshes, boxes, crops, holes, painted)


# ------------------------------------------------------------------------------------------
# Cache


def cache_dir() -> Path:
    """``$TALKINGHEAD_CACHE/refiners`` or ``~/.cache/talkinghead/refiners``."""
    return disk_cache.cache_dir("refiners")


def cache_key(path: Path, settings: PrepareSettings, base_weights: Path) -> str:
    """Content hash of the video + settings + base weights + :data:`PREPARE_VERSION`."""
    return disk_cache.content_key(path, {"settings": settings.to_dict(), "base": file_sha256(base_weights)[:16],
                                         "version": PREPARE_VERSION})


# ------------------------------------------------------------------------------------------


def prepare_face(
    path: str | os.PathLike,
    *,
    settings: PrepareSettings | None = None,
    base_weights: str | os.PathLike | None = None,
    device: str | None = "auto",
    cache: bool = True,
    progress: bool = True,
    track: FaceTrack | None = None,
) -> PreparedFace:
    """Track a face video (or image) and fine-tune the refiner on it.

    Args:
        path: the target video or portrait image.
        settings: :class:`PrepareSettings` (fine-tuning steps, ...).
        base_weights: starting weights (default: the shipped generic refiner).
        device: ``"auto"`` (CUDA if present), ``"cpu"`` or ``"cuda"``.
        cache: read/write the prepared refiner in the cache (the track has its own cache).
        progress: tqdm progress bars.
        track: an already computed track of ``path`` (skips tracking).

    Returns:
        :class:`PreparedFace`.

    Raises:
        MediaError, FaceError: unreadable file or no usable face (from tracking).
        InputError: missing base weights.
    """
    from ..face.tracking import track_face
    from ..media import probe

    s = settings or PrepareSettings()
    p = Path(path)
    base = Path(base_weights) if base_weights is not None else GENERIC_WEIGHTS
    dev = resolve_device(device)
    t0 = time.perf_counter()
    info = probe(p)
    if track is None:
        track = track_face(p, face_index=s.face_index, progress=progress)
    t_track = time.perf_counter() - t0
    rig = build_rig(track)

    key = cache_key(p, s, base) if cache else None
    cfile = cache_dir() / f"{key}.pt" if key else None
    if cfile is not None and cfile.exists():
        cached = _load_cached(p, info, track, rig, s, cfile, dev, t_track)
        if cached is not None:
            return cached

    ref = Refiner.load(base, dev, with_discriminator=True)
    plan = _FitPlan.make(p, info, track, rig, s, ref.config.n_refs, ref.resolution)
    t1 = time.perf_counter()
    frames, mouths = _read_frames(p, info, track, rig, plan)
    refs = extract_crops([frames[int(i)] for i in plan.rframes], plan.ref_boxes, ref.resolution)
    clip = None
    if plan.steps > 0:
        clip = build_clip_data(frames, track, plan.ids, ref.resolution, name=p.stem, render_device=str(dev),
                               seed=s.seed)
    t_data = time.perf_counter() - t1

    amp = finetune_dtype(dev)
    t2 = time.perf_counter()
    history = _finetune(ref, clip, plan, s, dev, amp, progress, p.name) if clip is not None else []
    t_fit = time.perf_counter() - t2
    stats = {
        "from_cache": False,
        "track_seconds": round(t_track, 2),
        "data_seconds": round(t_data, 2),
        "finetune_seconds": round(t_fit, 2),
        "frames": int(len(plan.ids)) if plan.steps > 0 else 0,  # frames fine-tuned on
        "steps": int(plan.steps),
        "mouth_range": round(plan.mouth_range, 4),
        "precision": "bfloat16" if amp is not None and plan.steps > 0 else "float32",
        "final_l1": float(np.mean([h["l1"] for h in history[-20:]])) if history else None,
    }
    ref.meta.update({"reference_frames": plan.rframes.tolist(), "source": str(p), "prepare": s.to_dict(),
                     "base_weights": str(base), "stats": stats})
    ref.discriminator = None
    cfile = _store(cfile, ref, refs, mouths)
    return PreparedFace(track, ref, refs, plan.rframes, rig, mouths, str(p), cfile, stats)


def _load_cached(p: Path, info, track: FaceTrack, rig: MouthRig, s: PrepareSettings, cfile: Path, dev,
                 t_track: float) -> PreparedFace | None:
    """The prepared face cached in ``cfile`` (its references beside it, the mouth library rebuilt
    when missing), or ``None`` (with a warning) when the entry cannot be read."""
    try:
        ref = Refiner.load(cfile, dev)
        refs = np.asarray(torch.load(cfile.with_suffix(".refs.pt"), weights_only=True).numpy())
        rframes = np.asarray(ref.meta["reference_frames"], np.int64)
        log.info("prepared refiner of %s loaded from the cache (%s)", p, cfile)
        mouths = _cached_mouths(p, info, track, rig, s, cfile)
        return PreparedFace(track, ref, refs, rframes, rig, mouths, str(p), cfile,
                            {"from_cache": True, "track_seconds": t_track})
    except Exception as exc:  # noqa: BLE001 - a broken cache entry is rebuilt
        log.warning("ignoring unreadable cache entry %s: %s", cfile, exc)
        return None


@dataclass
class _FitPlan:
    """Which frames :func:`prepare_face` reads and what for.

    Attributes:
        ids: frames to fine-tune on ``(n,)`` int64 (evenly spaced, detected faces only).
        rframes: the reference frames ``(K,)`` int64 (:func:`choose_references`).
        wanted: every frame the refiner needs (``ids`` and ``rframes``; only ``rframes`` without
            fine-tuning).
        steps: fine-tuning steps (0 when the mouth barely moves, see
            :attr:`PrepareSettings.min_mouth_range`).
        mouth_range: spread of the mouth opening (95th - 5th percentile, mouth widths).
        ref_boxes: the crop boxes of the reference frames.
        factor: the scale the kept frames are reduced by (:meth:`ScaledFrame.factor_for`).
        library: the mouth library's frames (:func:`_library_ids`).
    """

    ids: np.ndarray
    rframes: np.ndarray
    wanted: set
    steps: int
    mouth_range: float
    ref_boxes: list
    factor: float
    library: np.ndarray

    @classmethod
    def make(cls, p: Path, info, track: FaceTrack, rig: MouthRig, s: PrepareSettings, n_refs: int,
             resolution: int) -> "_FitPlan":
        """The plan for the video ``p`` (``info``: its probe), a refiner with ``n_refs``
        references working at ``resolution``."""
        n_all = min(track.n_frames, info.n_frames)
        n_fit = max(1, int(np.floor(n_all * s.train_fraction)))
        # frames where the detector found no face (a cutaway, the face out of the picture; the track
        # bridges them) show no face to learn from or to take a reference from
        seen = np.flatnonzero(np.asarray(track.detected[:n_fit], bool))
        if not len(seen):
            seen = np.arange(n_fit)
        ids = np.unique(np.linspace(0, n_fit - 1, min(n_fit, s.max_frames)).round().astype(np.int64))
        ids = ids[np.isin(ids, seen)] if np.isin(ids, seen).any() else ids
        wanted = set(ids.tolist())
        openness = mouth_openness(track, rig)
        rframes = choose_references(openness, n_refs, seen)
        wanted |= set(rframes.tolist())
        lo, hi = np.percentile(openness[:n_fit], [5, 95])
        mouth_range = float(hi - lo)
        steps = s.steps
        if steps > 0 and mouth_range < s.min_mouth_range:
            log.info("the mouth barely moves in %s (opening spread %.3f mouth widths < %.3f): using the "
                     "generic refiner as for a portrait, not fine-tuning (give a step count to force it)",
                     p.name, mouth_range, s.min_mouth_range)
            steps = 0
        if steps == 0:
            wanted = set(rframes.tolist())
        ref_boxes = _boxes_for(track, rig, rframes, resolution)
        # kept at a fraction of their size when the face is much larger than the crops (a 4K video)
        factor = ScaledFrame.factor_for(float(np.median([b.size for b in ref_boxes])), resolution)
        return cls(ids, rframes, wanted, steps, mouth_range, ref_boxes, factor, _library_ids(track, n_fit))


def _read_frames(p: Path, info, track: FaceTrack, rig: MouthRig,
                 plan: _FitPlan) -> tuple[dict[int, ScaledFrame], MouthLibrary]:
    """One pass over the video for the refiner's frames (``plan.wanted``, kept reduced by
    ``plan.factor``) and the mouth library.

    Returns:
        ``(frames, mouths)``: frame index -> :class:`ScaledFrame`, and the
        :class:`~.retrieve.MouthLibrary`.
    """
    from ..media import read_frames

    frames: dict[int, ScaledFrame] = {}

    def read():
        for i, f in enumerate(read_frames(p, info=info, max_frames=max(plan.wanted | set(plan.library.tolist())) + 1)):
            if i in plan.wanted:
                frames[i] = ScaledFrame.reduce(f, plan.factor)
            yield i, f

    frames_read = read()
    mouths = build_mouth_library(frames_read, track, rig, plan.library)
    for _ in frames_read:  # the refiner's frames after the library's last
        pass
    return frames, mouths


def _finetune(ref: Refiner, clip, plan: _FitPlan, s: PrepareSettings, dev, amp, progress: bool,
              name: str) -> list[dict]:
    """Fine-tune ``ref``'s generator (and discriminator) in place on ``clip``'s reconstruction
    pairs for ``plan.steps`` steps; returns the per-step losses (:func:`train_refiner`)."""
    single = len(plan.ids) == 1
    aug = Augment(ref_shift=0.10, ref_scale=0.12) if single else Augment()
    sampler = PairSampler([clip], ref.config.n_refs, augment=aug, seed=s.seed, min_gap=8)
    ts = TrainSettings(steps=plan.steps, batch_size=s.batch_size, lr_g=s.lr, lr_d=s.lr, seed=s.seed,
                       lr_decay_from=0, lr_final_factor=s.lr_final_factor, freeze_norm=s.freeze_norm)
    torch.manual_seed(s.seed)
    return train_refiner(ref.generator, ref.discriminator, sampler, ts, device=dev, progress=progress,
                         amp_dtype=amp, progress_desc=f"fine-tuning refiner on {name}")


def _store(cfile: Path | None, ref: Refiner, refs: np.ndarray, mouths: MouthLibrary) -> Path | None:
    """Cache the prepared refiner in ``cfile`` (its references and mouth library beside it);
    returns ``cfile``, or ``None`` when it could not be cached (a warning says why)."""
    if cfile is not None and not disk_cache.cache_folder_usable(cfile.parent):
        cfile = None
    if cfile is not None:
        try:
            with disk_cache.atomic_path(cfile.with_suffix(".refs.pt")) as tmp:
                torch.save(torch.from_numpy(refs), tmp)
            ref.save(cfile, with_discriminator=False)
        except OutputError as exc:  # e.g. the disk filled up: the prepared face is still good
            log.warning("could not cache the prepared refiner: %s", exc)
            cfile.with_suffix(".refs.pt").unlink(missing_ok=True)
            cfile = None
    if cfile is not None:
        _save_mouths(mouths, cfile)
    return cfile


def _library_ids(track: FaceTrack, n_fit: int) -> np.ndarray:
    """The mouth library's frames: those with a detected face among the first ``n_fit``
    (:func:`~.retrieve.library_frames`)."""
    return library_frames(np.asarray(track.detected, bool), n_fit)


def _mouths_file(cfile: Path) -> Path:
    return cfile.with_suffix(".mouths.npz")


def _save_mouths(mouths: MouthLibrary, cfile: Path) -> None:
    try:
        mouths.save(_mouths_file(cfile))
    except OutputError as exc:  # the library is rebuilt next time
        log.warning("could not cache the mouth library: %s", exc)


def _cached_mouths(p: Path, info, track: FaceTrack, rig: MouthRig, s: "PrepareSettings", cfile: Path) -> MouthLibrary:
    """The mouth library beside a cached prepared refiner, rebuilt (and cached) when missing or
    unreadable."""
    from ..media import read_frames

    f = _mouths_file(cfile)
    if f.exists():
        try:
            return MouthLibrary.load(f)
        except Exception as exc:  # noqa: BLE001 - a broken cache entry is rebuilt
            log.warning("ignoring unreadable mouth library %s: %s", f, exc)
    n_fit = max(1, int(np.floor(min(track.n_frames, info.n_frames) * s.train_fraction)))
    ids = _library_ids(track, n_fit)
    last = int(ids.max()) + 1 if len(ids) else 1
    mouths = build_mouth_library(enumerate(read_frames(p, info=info, max_frames=last)), track, rig, ids)
    _save_mouths(mouths, cfile)
    return mouths


def _boxes_for(track: FaceTrack, rig: MouthRig, frame_ids: np.ndarray, resolution: int) -> list[CropBox]:
    """Crop boxes of single frames (as the renderer places them for those frames)."""
    from ..face.deform import posed_neutral
    from ..render.cameras import crop_boxes

    neutral, width = posed_neutral(track, rig, frame_ids)
    return [crop_boxes(neutral[k:k + 1], width[k:k + 1])[0] for k in range(len(frame_ids))]
