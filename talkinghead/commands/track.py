"""``talkinghead track``: track the face of a video or image and save the track (``.npz``)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fileio import check_not_an_input, check_writable

log = logging.getLogger(__name__)

EPILOG = """\
examples:
  talkinghead track speaker.mp4 -o speaker.track.npz
  talkinghead track speaker.mp4 -o speaker.track.npz --overlay speaker.mesh.mp4
  talkinghead track group.mp4 -o second.npz --face-index 1   # the second-largest face
  talkinghead track portrait.png -o portrait.track.npz

The track holds per-frame 478 landmarks (pixels), head pose, this person's neutral face and the
expression; load it in Python with talkinghead.face.types.FaceTrack.load(path). Results are
cached (by file content and settings) in ~/.cache/talkinghead/tracks, or $TALKINGHEAD_CACHE/tracks.
"""


def register(subparsers) -> None:
    from ..cli import add_command

    p = add_command(
        subparsers,
        "track",
        help="track the face in a video or image (MediaPipe 3D face mesh)",
        description="Track one face through a video (or an image) with MediaPipe face mesh: "
        "478 3D landmarks per frame, head pose and expression, smoothed without lag. "
        "Small faces (whole-body framing) are tracked on an upscaled crop; short gaps "
        "are interpolated.",
        epilog=EPILOG,
    )
    p.add_argument("face", help="video or image file with the face")
    p.add_argument("-o", "--output", required=True, help="output track file (.npz)")
    p.add_argument("--overlay", metavar="MP4", help="also write the video with the tracked mesh drawn on it")
    p.add_argument("--face-index", type=int, default=0, metavar="N",
                   help="which face when there are several: 0 = largest (default), 1 = next, ...")
    p.add_argument("--no-cache", action="store_true", help="track again even if a cached track exists")
    p.add_argument("--no-smoothing", action="store_true", help="keep the raw (jittery) detector output")
    p.add_argument("--max-gap", type=float, default=0.5, metavar="SECONDS",
                   help="longest stretch without a face that is interpolated (default 0.5 s)")
    p.set_defaults(func=run)


def _mesh_edges() -> tuple[np.ndarray, np.ndarray]:
    import mediapipe as mp

    fm = mp.solutions.face_mesh
    tess = np.array(sorted(fm.FACEMESH_TESSELATION), dtype=np.int64)
    lips = np.array(sorted(fm.FACEMESH_LIPS), dtype=np.int64)
    return tess, lips


def draw_mesh(frame: np.ndarray, landmarks: np.ndarray, edges: tuple[np.ndarray, np.ndarray],
              detected: bool = True) -> np.ndarray:
    """Draw the face mesh on a copy of ``frame`` (RGB uint8). Landmarks ``(478, 3)`` pixels.

    Tessellation edges in thin green (orange for an interpolated frame), lips in red, irises in
    cyan. Line width follows the face size.
    """
    import cv2

    tess, lips = edges
    xy = np.round(landmarks[:, :2] * 16).astype(np.int32)  # 4 fractional bits (cv2 shift=4)
    size = float(np.ptp(landmarks[:, 1]))
    th = 1 if size < 400 else 2
    color = (60, 220, 90) if detected else (255, 160, 0)
    mesh = frame.copy()
    cv2.polylines(mesh, list(xy[tess]), False, color, th, cv2.LINE_AA, shift=4)
    # The dense tessellation is drawn half-transparent so the face stays visible under it.
    out = cv2.addWeighted(frame, 0.45, mesh, 0.55, 0.0)
    cv2.polylines(out, list(xy[lips]), False, (255, 40, 40), th + 1, cv2.LINE_AA, shift=4)
    for c in (468, 473):
        cv2.circle(out, tuple(xy[c]), max(2, int(size / 80)) * 16, (0, 230, 255), th, cv2.LINE_AA, shift=4)
    return out


def write_overlay(source: str | Path, track, path: str | Path, *, progress: bool = False) -> Path:
    """Write ``source`` with ``track``'s mesh drawn on each frame to ``path`` (mp4, with audio)."""
    from tqdm import tqdm

    from ..media import VideoWriter, probe, read_frames

    info = probe(source)
    edges = _mesh_edges()
    audio = str(source) if info.has_audio else None
    fps = track.fps if not info.is_image else 1.0
    with VideoWriter(path, fps, audio=audio, crf=20, preset="veryfast",
                     metadata={"comment": f"talkinghead face-track overlay of {Path(source).name}"}) as w:
        for t, frame in enumerate(tqdm(read_frames(source, info=info), total=info.n_frames,
                                       disable=not progress, desc="overlay", unit="frame")):
            if t >= track.n_frames:
                break
            w.write(draw_mesh(frame, track.landmarks[t], edges, bool(track.detected[t])))
    return Path(path)


def run(args) -> int:
    from ..face.tracking import TrackerSettings, track_face

    src = Path(args.face)
    out = check_writable(args.output)
    if out.suffix.lower() != ".npz":
        raise InputError(f"output {out} must end in .npz")
    if args.overlay:
        from ..pipeline import VIDEO_SUFFIXES

        if check_writable(args.overlay).suffix.lower() not in VIDEO_SUFFIXES:
            raise InputError(f"--overlay {args.overlay} should be an .mp4 file")
    check_not_an_input([out, args.overlay] if args.overlay else [out], {"face video": src})
    if args.max_gap < 0:
        raise InputError(f"--max-gap must be >= 0, got {args.max_gap}")
    quiet = bool(getattr(args, "quiet", False))
    settings = TrackerSettings(max_gap_s=float(args.max_gap))
    track = track_face(src, face_index=args.face_index, smoothing=not args.no_smoothing,
                       cache=not args.no_cache, progress=not quiet, settings=settings)
    track.save(out)
    n_interp = int((~track.detected).sum())
    log.info("tracked %d frames of %s (%d interpolated)%s -> %s", track.n_frames, src.name,
             n_interp, " [from cache]" if track.from_cache else "", out)
    if args.overlay:
        write_overlay(src, track, args.overlay, progress=not quiet)
        log.info("overlay -> %s", args.overlay)
    if not quiet:
        print(f"{out}: {track.n_frames} frames, {track.width}x{track.height} @ {track.fps:g} fps, "
              f"{n_interp} interpolated")
    return 0
