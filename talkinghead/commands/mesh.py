"""``talkinghead mesh``: the speaking lower-face mesh over the video, with the speech audio.

A way to judge lip-sync and mouth shapes before the refiner: script -> speech -> visemes ->
the tracked face's lower-face mesh deformed by the visemes -> shaded render composited over the
(ping-ponged) source frames -> mp4 with the audio.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from ..fileio import check_not_an_input, check_writable
from .common import add_script_options, script_input_files, speech_from_args

log = logging.getLogger(__name__)

EPILOG = """\
examples:
  talkinghead mesh --text "Bob bought a map of Maple Park." --face me.mp4 -o mesh.mp4
  talkinghead mesh --script talk.txt --face me.mp4 -o mesh.mp4 --layout side
  talkinghead mesh --text "Five very fine vans." --face portrait.png -o mesh.mp4 --opacity 1

The output plays the speech audio over the source video (played forward and backward when the
speech is longer), with the deformed lower-face mesh drawn on the face: skin, lips, the mouth
opening (dark) and the teeth proxies (white). The source video's own lip motion is removed first,
so what moves is only the new speech. --layout side puts the original video on the left.
"""

#: Frames processed per chunk (bounds memory for long scripts).
CHUNK = 64


def register(subparsers) -> None:
    from ..cli import add_command

    p = add_command(
        subparsers,
        "mesh",
        help="render the speaking lower-face mesh over the video (lip-sync preview)",
        description="Synthesize the script, turn it into mouth shapes, deform the tracked "
        "face's lower-face mesh with them and draw it over the video, with the speech audio: "
        "a preview of lip-sync and mouth shapes before refinement.",
        epilog=EPILOG,
    )
    add_script_options(p)
    p.add_argument("--face", required=True, metavar="VIDEO|IMAGE", help="video or image with the face")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="output video (.mp4)")
    p.add_argument("--layout", choices=("overlay", "side"), default="overlay",
                   help="overlay: mesh drawn on the video (default); side: original | overlay")
    p.add_argument("--opacity", type=float, default=0.75, help="mesh opacity, 0-1 (default 0.75)")
    p.add_argument("--resolution", type=int, default=256, metavar="PX",
                   help="render size of the lower-face crop in pixels (default 256)")
    p.add_argument("--backend", choices=("auto", "pytorch3d", "fast"), default="auto",
                   help="rasterizer: auto = PyTorch3D on a GPU, the fast NumPy z-buffer on the CPU")
    p.add_argument("--fps", type=float, default=None,
                   help="output frame rate (default: the video's; 25 for an image)")
    p.add_argument("--face-index", type=int, default=0, metavar="N",
                   help="which face when there are several: 0 = largest (default)")
    p.add_argument("--no-cache", action="store_true", help="track the face again even if cached")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..devices import select_device
    from ..errors import InputError
    from ..face.deform import build_rig, deform_lower_face, pingpong_indices, posed_neutral
    from ..face.tracking import track_face
    from ..inputs.frames import SourceFrames
    from ..media import VideoWriter
    from ..render.cameras import crop_boxes
    from ..render.renderer import paste_crop, preview_images, render_frames
    from ..visemes import visemes_from_speech

    from ..pipeline import VIDEO_SUFFIXES

    out = check_writable(args.output)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(f"output {out} should be an .mp4 file")
    check_not_an_input([out], {"face video": args.face, **script_input_files(args)})
    if not 0.0 <= args.opacity <= 1.0:
        raise InputError(f"--opacity must be between 0 and 1, got {args.opacity}")
    if args.fps is not None and not 1 <= args.fps <= 120:
        raise InputError(f"--fps must be between 1 and 120, got {args.fps}")
    if not 32 <= args.resolution <= 1024:
        raise InputError(f"--resolution must be between 32 and 1024 pixels, got {args.resolution}")
    device = str(select_device(args.device))

    speech = speech_from_args(args)
    track = track_face(args.face, face_index=args.face_index, cache=not args.no_cache, progress=not args.quiet)
    if args.fps is not None:
        fps = float(args.fps)
    elif track.n_frames > 1 and track.fps and track.fps > 0:
        fps = float(track.fps)
    else:
        from ..media import DEFAULT_FPS

        fps = DEFAULT_FPS  # a still image
    visemes = visemes_from_speech(speech, fps)
    n_out = visemes.n_frames
    frame_index = pingpong_indices(track.n_frames, n_out)
    rig = build_rig(track)
    log.info("mesh: %d frames at %.2f fps from %d source frames, device %s", n_out, fps, track.n_frames, device)

    # Crop boxes over the whole output, so their temporal smoothing does not restart per chunk.
    boxes = crop_boxes(*posed_neutral(track, rig, frame_index))

    with SourceFrames(args.face, limit=int(frame_index.max()) + 1) as frames, VideoWriter(
        out, fps, audio=(speech.audio, speech.sample_rate), metadata={"comment": "talkinghead mesh preview"}
    ) as writer:
        bar = tqdm(total=n_out, desc="mesh", unit="frame", disable=args.quiet)
        for s in range(0, n_out, CHUNK):
            e = min(n_out, s + CHUNK)
            idx = np.minimum(frame_index[s:e], len(frames) - 1)
            meshes = deform_lower_face(track, visemes.params[s:e], idx, rig=rig)
            rendered = render_frames(meshes, args.resolution, boxes[s:e], device=device, backend=args.backend)
            colour = preview_images(rendered)
            for k in range(e - s):
                frame = frames[idx[k]]
                over = paste_crop(frame, colour[k], rendered.face_mask[k], rendered.boxes[k], args.opacity)
                writer.write(np.concatenate([frame, over], 1) if args.layout == "side" else over)
            bar.update(e - s)
        bar.close()
    if not args.quiet:
        print(f"{out}: {n_out} frames, {n_out / fps:.2f} s, mesh over {args.face}")
    return 0
