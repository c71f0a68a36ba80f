"""The public Python API: prepare a face once, make it say any number of scripts.

>>> from talkinghead import Pipeline
>>> face = Pipeline.from_face("presenter.mp4")        # tracks + prepares once, cached on disk
>>> result = face.say("Welcome to the quarterly update.", "intro.mp4")
>>> result.duration, result.path, result.speech.phonemes[:3]

Frames stream through the stages in chunks and into the encoder: memory stays bounded whatever
the length of the script. :meth:`Pipeline.frames` yields the output frames instead of writing a
file (for a server or a notebook).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import InputError
from .fileio import atomic_path, check_not_an_input, check_writable
from .inputs import face_input
from .inputs.frames import SourceFrames, pingpong_indices
from .media import DEFAULT_FPS
from .options import FaceOptions, RenderOptions, SpeechOptions, option_keywords, reject_unknown
from .speech.types import Speech
from .visemes import VisemeTrack, visemes_from_speech

log = logging.getLogger(__name__)

#: Frames processed together (deform + render + refine + blend).
CHUNK = 16
#: Source frames per step when computing the crop boxes of a whole face video.
BOX_CHUNK = 1024


#: Output file suffixes of a video (an mp4 container).
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov")


def check_video_options(fps: float | None, crf: int | None = None) -> None:
    """Range checks of an output frame rate (``None``: the face video's) and x264 quality
    (:class:`~talkinghead.options.RenderOptions`'s).

    Raises:
        InputError: ``fps`` not within 1-120, ``crf`` not within 0-51.
    """
    RenderOptions(fps=fps, crf=RenderOptions.crf if crf is None else crf)


def say_outputs(output: str | Path, sidecars: bool) -> list[Path]:
    """The files :meth:`Pipeline.say` writes: ``output`` and, with ``sidecars``, its timeline
    (``.json``) and subtitles (``.srt``) beside it, in that order."""
    out = Path(output)
    return [out, out.with_suffix(".json"), out.with_suffix(".srt")] if sidecars else [out]


def check_say_outputs(output: str | Path | None, sidecars: bool, inputs: dict[str, str | Path | None]) -> list[Path]:
    """Check the files :meth:`Pipeline.say` will write before any work: an mp4 name, writable,
    none of them one of the ``inputs`` (what each is called -> its path).

    Returns:
        :func:`say_outputs`.

    Raises:
        InputError: no output, or not an mp4 name; OutputError: not writable, or an input.
    """
    if output is None:
        raise InputError("say() needs an output path")
    out = check_writable(output)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(f"output {out} should be an .mp4 file")
    written = say_outputs(out, sidecars)
    for w in written[1:]:
        check_writable(w)
    check_not_an_input(written, inputs)
    return written


class Provenance:
    """How an output says that it is synthetic (see :mod:`talkinghead.provenance`).

    Attributes:
        watermark: embed the invisible video watermark (on by default; turning it off is
            recorded in the metadata).
        audio_watermark: embed the Perth audio watermark in the speech (needs the optional
            ``resemble-perth``; off by default because it costs about 1 s per second of speech on
            a CPU).
        label: visible label text drawn away from the face (``None`` = no label).
        sign_cert, sign_key: PEM certificate chain and private key: sign a C2PA manifest.
        job_id: the job id the watermark and the metadata carry (default: a new random one).
    """

    def __init__(self, watermark: bool = True, audio_watermark: bool = False, label: str | None = None,
                 sign_cert: str | Path | None = None, sign_key: str | Path | None = None,
                 job_id: str | None = None) -> None:
        from .provenance import make_payload, new_job_id

        self.watermark = watermark
        self.audio_watermark = audio_watermark
        self.label = label
        self.sign_cert = Path(sign_cert) if sign_cert else None
        self.sign_key = Path(sign_key) if sign_key else None
        self.job_id = job_id or new_job_id()
        self._payload = make_payload(self.job_id)
        self._marker = None

    def check(self) -> None:
        """Fail early on a half-given or missing signing credential / unavailable extra."""
        if (self.sign_cert is None) != (self.sign_key is None):
            raise InputError("signing needs both --sign-cert and --sign-key")
        for p in (self.sign_cert, self.sign_key):
            if p is not None and not p.exists():
                raise InputError(f"signing file {p} does not exist")
        if self.sign_cert is not None:  # not a PEM, an unsupported key, no c2pa: say so before rendering
            from .provenance.c2pa_manifest import check_signing_credentials

            check_signing_credentials(self.sign_cert, self.sign_key)
        if self.audio_watermark:
            from .provenance import audio_watermark as aw

            if not aw.audio_watermark_available():
                from .errors import DependencyError

                raise DependencyError("the audio watermark needs resemble-perth: pip install 'talkinghead[audiowm]'")

    def mark(self, frame: np.ndarray, landmarks: np.ndarray, fps: float) -> np.ndarray:
        """Label and watermark one output frame (frames must come in order)."""
        from .provenance import Watermarker, draw_label, face_box_from_landmarks

        if self.label:
            frame = draw_label(frame, self.label, face_box_from_landmarks(landmarks))
        if not self.watermark:
            return frame
        if self._marker is None:
            self._marker = Watermarker(self._payload, fps)
        return self._marker.mark(frame, landmarks)

    def mark_audio(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        if not self.audio_watermark:
            return audio
        from .provenance import audio_watermark as aw

        return aw.embed_audio(audio, sample_rate)

    def metadata(self, script_text: str) -> dict[str, str]:
        from .provenance import build_metadata

        return build_metadata(script_text, self.job_id, watermark=self.watermark,
                              audio_watermark=self.audio_watermark)

    def sign(self, path: Path, script_text: str, title: str | None = None) -> None:
        """Sign ``path`` in place (when signing was asked); ``title``: the file's final name
        (default ``path``'s)."""
        if self.sign_cert is None:
            return
        from .provenance import build_manifest, script_sha256, sign_c2pa

        manifest = build_manifest(title=title or path.name, job_id=self.job_id,
                                  script_sha256=script_sha256(script_text), watermark=self.watermark)
        sign_c2pa(path, self.sign_cert, self.sign_key, manifest=manifest)


@dataclass
class SayResult:
    """What :meth:`Pipeline.say` made.

    Attributes:
        path: the mp4 written.
        speech: the speech (audio + phoneme timeline + words).
        visemes: the per-frame mouth parameters.
        fps: frame rate of the video.
        n_frames: number of video frames.
        timings: seconds spent per stage: ``speech``, ``audio_watermark``, ``visemes``,
            ``mesh+render``, ``refine`` (crops, hole masks, the refiner network), ``composite``
            (colour anchoring, blend, real mouths, skin detail), ``provenance`` (watermark and
            label), and ``total_video`` (everything from the first frame to the finished file).
    """

    path: Path
    speech: Speech
    visemes: VisemeTrack
    fps: float
    n_frames: int
    timings: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Length of the video in seconds (equals the speech's to within half a frame)."""
        return self.n_frames / self.fps

    @property
    def timeline(self) -> list:
        """The phoneme timeline (:class:`~talkinghead.speech.PhonemeInterval` list)."""
        return self.speech.phonemes


class Pipeline:
    """A prepared face that can say scripts. Create with :meth:`from_face`."""

    def __init__(self, prepared, face_path: Path, device: str = "auto", progress: bool = True,
                 source_paths: tuple[Path, ...] = ()):
        self.prepared = prepared
        self.face_path = Path(face_path)
        #: every file this face came from (the user's photo or video, its scaled copy, the idle
        #: clip made of a photo): :meth:`say` never writes over one of them
        self.source_paths = tuple(dict.fromkeys(Path(p) for p in (*source_paths, face_path)))  # in order, once
        self.device = device
        self.progress = progress
        self._rig = None
        self._boxes = None

    @classmethod
    @option_keywords(FaceOptions)
    def from_face(
        cls,
        face: str | Path,
        *,
        device: str = "auto",
        cache: bool = True,
        progress: bool = True,
        options: FaceOptions | None = None,
        **kwargs,
    ) -> "Pipeline":
        """Track ``face`` (a video, or a portrait image) and fine-tune the refiner on it.

        Both results are cached on disk by content hash, so a second :meth:`from_face` of the same
        file (even from another process) is fast.

        Args:
            face: video or image path. A portrait image (or a one-frame video, such as a still GIF)
                is first animated into a 10 s idle clip
                (small head motion, blinks; :func:`talkinghead.inputs.portrait.animate_portrait`).
            device: ``"auto"`` (GPU if present), ``"cpu"`` or ``"cuda"``.
            cache: use the caches.
            progress: show progress bars.
            options: :class:`~talkinghead.options.FaceOptions`: ``face_index`` (which face when
                there are several; 0 = the largest), ``steps`` (fine-tuning steps; default
                :class:`~talkinghead.refine.prepare.PrepareSettings`'s for a video,
                :data:`~talkinghead.refine.prepare.PORTRAIT_STEPS` for a portrait), ``idle_seed``
                (a portrait's idle motion and blinks), ``max_side`` (scale the face file down
                first so that its longer side is at most this many pixels,
                :func:`talkinghead.inputs.scale.scaled_face`; the output has that size), ``turn``
                (``None``/``"auto"``: a face lying on its side or upside down is turned upright,
                :func:`talkinghead.inputs.orientation.upright_face`; 0, 90, 180 or 270: turned this
                many degrees clockwise instead, 0: as it is).
            **kwargs: any field of :class:`~talkinghead.options.FaceOptions`, replacing the one
                in ``options``.
        """
        from .devices import select_device
        from .refine.prepare import PrepareSettings, prepare_face

        select_device(device)  # an unknown device, or cuda without a GPU: InputError, now
        o = FaceOptions.merged(options, kwargs)
        reject_unknown("from_face", kwargs)
        path, sources, portrait = face_input(face, o, cache=cache, progress=progress)
        settings = PrepareSettings.for_face(portrait, o.steps, face_index=o.face_index or 0)
        prepared = prepare_face(path, settings=settings, device=device, cache=cache, progress=progress)
        return cls(prepared, path, device=device, progress=progress, source_paths=sources)

    # ------------------------------------------------------------------------------------
    @property
    def fps(self) -> float:
        """Frame rate of the face video (:data:`~talkinghead.media.DEFAULT_FPS` for an image)."""
        fps = float(self.prepared.track.fps)
        return fps if fps > 1.0 else DEFAULT_FPS

    def _source_boxes(self):
        """Crop boxes of every source frame (stable over time)."""
        if self._boxes is None:
            from .face.deform import build_rig, posed_neutral
            from .render.cameras import crop_boxes

            track = self.prepared.track
            self._rig = self.prepared.rig if self.prepared.rig is not None else build_rig(track)
            n = track.n_frames
            # the posed neutral face only, in chunks (float64 temporaries of a whole long video)
            parts = [posed_neutral(track, self._rig, np.arange(s, min(n, s + BOX_CHUNK)))
                     for s in range(0, n, BOX_CHUNK)]
            self._boxes = crop_boxes(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        return self._boxes

    @option_keywords(RenderOptions)
    def frames(
        self,
        speech: Speech,
        fps: float | None = None,
        timings: dict | None = None,
        *,
        provenance: Provenance | None = None,
        options: RenderOptions | None = None,
        **kwargs,
    ) -> Iterator[np.ndarray]:
        """Yield the output frames (RGB uint8 ``(H, W, 3)``) for ``speech``, one by one.

        Exactly ``round(speech.duration * fps)`` frames. When the speech is longer than the face
        video, the video plays forward then backward (no jump). Every frame carries the invisible
        watermark (and the visible label if asked) of ``provenance`` (default: a new job with
        the watermark on); with ``Provenance(watermark=False)`` and no label, pixels outside
        the blended mouth region are the source frame's, bit for bit.

        Args:
            speech: what is said.
            fps: output frame rate (default ``options.fps``, else the face video's).
            timings: seconds per stage are added to it (see :class:`SayResult`).
            provenance: the watermark and label.
            options: :class:`~talkinghead.options.RenderOptions`: ``fast`` (one refiner pass per
                frame instead of averaging it with the mirrored frame's: about half the refiner's
                time, slightly lower quality), ``skin_detail`` (the source frame's fine skin
                detail on the rebuilt skin; ``False``: as smooth as the refiner draws it),
                ``colour_anchor`` (the refiner's lip and skin colours pulled back towards the
                face's own where they are far off), ``own_mouth`` (the lips, teeth and mouth
                interior from the frames of the face video whose mouth has the planned shape;
                ``False``: the refiner's). ``crf`` and ``sidecars`` are :meth:`say`'s.
            **kwargs: any field of :class:`~talkinghead.options.RenderOptions`, replacing the
                one in ``options``.
        """
        provenance = provenance if provenance is not None else Provenance()
        from .face.deform import deform_lower_face
        from .render.renderer import render_frames

        o = RenderOptions.merged(options, kwargs)
        reject_unknown("frames", kwargs)
        if fps is not None:
            o = replace(o, fps=fps)
        fps = float(self.fps if o.fps is None else o.fps)
        timings = timings if timings is not None else {}
        t0 = time.perf_counter()
        visemes = visemes_from_speech(speech, fps)
        timings["visemes"] = timings.get("visemes", 0.0) + time.perf_counter() - t0
        track = self.prepared.track
        n_out = visemes.n_frames
        src_index = _source_index(track.n_frames, self.fps, n_out, fps)
        boxes_src = self._source_boxes()
        bar = _progress(n_out, "frames", self.progress)
        mouths = self.prepared.mouth_sources() if o.own_mouth else None
        device = None if self.device == "auto" else self.device

        with SourceFrames(self.face_path, limit=int(src_index.max()) + 1) as src:
            for s in range(0, n_out, CHUNK):
                e = min(n_out, s + CHUNK)
                idx = src_index[s:e]
                t = time.perf_counter()
                meshes = deform_lower_face(track, visemes.params[s:e], idx, rig=self._rig)
                rendered = render_frames(meshes, self.prepared.resolution, [boxes_src[i] for i in idx],
                                         device=device)
                t2 = time.perf_counter()
                painted = self.prepared.paint_crops(src.take(idx), meshes, rendered, mirror_average=o.mirror_average)
                t3 = time.perf_counter()
                out = self.prepared.composite_frames(painted, skin_detail=o.skin_detail, colour_anchor=o.colour_anchor,
                                                     mouths=mouths)
                t4 = time.perf_counter()
                timings["mesh+render"] = timings.get("mesh+render", 0.0) + t2 - t
                timings["refine"] = timings.get("refine", 0.0) + t3 - t2
                timings["composite"] = timings.get("composite", 0.0) + t4 - t3
                marked = [provenance.mark(f, track.landmarks[i], fps) for f, i in zip(out, idx)]
                timings["provenance"] = timings.get("provenance", 0.0) + time.perf_counter() - t4
                yield from marked
                bar.update(e - s)
        bar.close()

    @option_keywords(RenderOptions, SpeechOptions)
    def say(
        self,
        text: str | None = None,
        output: str | Path | None = None,
        *,
        speech: Speech | None = None,
        audio: str | Path | None = None,
        transcript: str | None = None,
        on_frame: Callable[[int, np.ndarray], None] | None = None,
        provenance: Provenance | None = None,
        options: RenderOptions | None = None,
        speech_options: SpeechOptions | None = None,
        **kwargs,
    ) -> SayResult:
        """Make the face say ``text`` (or play ``audio`` with its ``transcript``) into ``output``.

        Args:
            text: the script (pause markup allowed).
            output: the mp4 to write (H.264 + AAC, the face video's size and frame rate).
            speech: a ready :class:`Speech` instead of ``text``/``audio``.
            audio, transcript: a recording and what it says, instead of TTS.
            on_frame: called with ``(index, frame)`` for each frame as it is made.
            provenance: watermark / label / signing options (default: watermark on, new job id).
            options: :class:`~talkinghead.options.RenderOptions`: ``fps`` (output frame rate;
                default: the face video's), ``crf`` (x264 quality, lower is better), ``sidecars``
                (also write ``output`` with ``.json`` (timeline) and ``.srt`` suffixes), and the
                quality switches ``fast``, ``skin_detail``, ``colour_anchor``, ``own_mouth`` (see
                :meth:`frames`).
            speech_options: :class:`~talkinghead.options.SpeechOptions` (``voice``, ``tts``,
                ``rate``, ``seed``, ...; see :func:`talkinghead.speech.select.make_speech`):
                ``seed`` makes Piper's audio reproducible. Not used with ``speech``.
            **kwargs: any field of either options class, replacing the one in ``options`` or
                ``speech_options`` (``say(text, out, voice="joe", fast=True)``).
        """
        from .media import VideoWriter
        from .speech.select import make_speech

        o = RenderOptions.merged(options, kwargs)
        so = SpeechOptions.merged(speech_options, kwargs)
        reject_unknown("say", kwargs)
        first, *copies = self.source_paths
        written = check_say_outputs(output, o.sidecars, {"face video": first,
                                                          **{f"face video's working copy {c.name}": c for c in copies},
                                                          "recording": audio})
        out = written[0]
        timings: dict = {}
        t = time.perf_counter()
        if speech is None:
            speech = make_speech(text, audio=audio, transcript=transcript, progress=self.progress, options=so)
        timings["speech"] = time.perf_counter() - t
        fps = float(self.fps if o.fps is None else o.fps)
        prov = provenance if provenance is not None else Provenance()
        prov.check()
        n = 0
        t = time.perf_counter()
        audio_track = prov.mark_audio(speech.audio, speech.sample_rate)
        timings["audio_watermark"] = time.perf_counter() - t
        t = time.perf_counter()
        # the finished video replaces ``out`` only once it is signed: a failure leaves the old file
        with atomic_path(out) as unsigned:
            with VideoWriter(unsigned, fps, audio=(audio_track, speech.sample_rate), crf=o.crf,
                             metadata=prov.metadata(speech.text)) as writer:
                for frame in self.frames(speech, fps, timings, provenance=prov, options=o):
                    if on_frame is not None:
                        on_frame(n, frame)
                    writer.write(frame)
                    n += 1
            timings["total_video"] = time.perf_counter() - t
            prov.sign(unsigned, speech.text, title=out.name)
        if o.sidecars:
            speech.write_timeline(written[1])
            speech.write_srt(written[2])
        return SayResult(out, speech, visemes_from_speech(speech, fps), fps, n, timings)


def _source_index(n_src: int, src_fps: float, n_out: int, out_fps: float) -> np.ndarray:
    """Source frame of each output frame: same time position, ping-pong past the end."""
    if abs(src_fps - out_fps) < 1e-3:
        return pingpong_indices(n_src, n_out)
    # different frame rate: map output time to source time on the ping-pong time line
    n_fine = int(np.ceil(n_out * src_fps / out_fps)) + 1
    fine = pingpong_indices(n_src, n_fine)
    pos = np.minimum((np.arange(n_out) * src_fps / out_fps).round().astype(np.int64), n_fine - 1)
    return fine[pos]


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, unit: str, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc="rendering", leave=False)
