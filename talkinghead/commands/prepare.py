"""``talkinghead prepare``: track a face video and fine-tune the refiner on it (cached)."""

from __future__ import annotations

import logging

from ..errors import InputError
from ..options import FaceOptions, add_arguments, from_args

log = logging.getLogger(__name__)

EPILOG = """\
examples:
  talkinghead prepare speaker.mp4                      track + fine-tune (a few minutes on a CPU)
  talkinghead prepare speaker.mp4 --steps 300          longer fine-tuning (measured no better than
                                                       150 on the development clips: models/README.md)
  talkinghead prepare portrait.png                     a single image works too (animated, not fine-tuned)
  talkinghead prepare speaker.mp4 -o speaker.refiner.pt   also keep a copy of the weights

'talkinghead say --face speaker.mp4 ...' prepares the face itself when needed; running 'prepare'
first just does that work ahead of time. The fine-tuned refiner is cached by the video's content
(and the settings) in ~/.cache/talkinghead/refiners, or $TALKINGHEAD_CACHE/refiners.
"""


def register(subparsers) -> None:
    from ..cli import add_command

    p = add_command(
        subparsers,
        "prepare",
        help="prepare a face: track it and fine-tune the refiner on it (cached)",
        description="Track the face of a video (or image) and fine-tune the lower-face refiner "
        "from the shipped generic weights on reconstructions of that video, so that the "
        "synthesised skin looks like this person, and keep the pixels around the lips of its frames, "
        "from which say takes this person's own lips and teeth. The result is cached.",
        epilog=EPILOG,
    )
    p.add_argument("face", help="video or image file with the face")
    p.add_argument("-o", "--output", metavar="PT", help="also write the fine-tuned refiner to this file")
    p.add_argument("--max-frames", type=int, default=None, metavar="N",
                   help="at most this many frames are used for fine-tuning (default 200)")
    add_arguments(p, FaceOptions, group="")
    p.add_argument("--weights", metavar="PT", help="start from these refiner weights instead of the generic ones")
    p.add_argument("--no-cache", action="store_true", help="prepare again even if a cached result exists")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..fileio import check_not_an_input, check_writable
    from ..inputs import check_face_file, face_input
    from ..refine.prepare import PrepareSettings, prepare_face

    options = from_args(FaceOptions, args)
    if args.max_frames is not None and args.max_frames < 1:
        raise InputError(f"--max-frames must be >= 1, got {args.max_frames}")
    check_face_file(args.face)
    if args.output:  # before the face is read: an output that cannot be written stops at once
        check_writable(args.output)
        check_not_an_input([args.output], {"face video": args.face, "starting weights": args.weights})

    # the same scaled, upright copy and portrait idle clip that `say` uses (shared caches)
    face, _, portrait = face_input(args.face, options, cache=not args.no_cache, progress=not args.quiet)
    s = PrepareSettings.for_face(portrait, options.steps)
    if args.max_frames is not None:
        s.max_frames = args.max_frames
    s.face_index = options.face_index or 0
    prepared = prepare_face(face, settings=s, base_weights=args.weights, device=args.device,
                            cache=not args.no_cache, progress=not args.quiet)
    st = prepared.stats
    if args.output:
        prepared.refiner.save(args.output, with_discriminator=False)
    if not args.quiet:
        if st.get("from_cache"):
            print(f"{args.face}: prepared (from cache {prepared.cache_file})")
        else:
            print(f"{args.face}: prepared in {st['track_seconds'] + st['data_seconds'] + st['finetune_seconds']:.0f} s "
                  f"({st['frames']} frames, {st['steps']} steps"
                  + (f" in {st['precision']}" if st["steps"] else "") + ")"
                  + (f", cached in {prepared.cache_file}" if prepared.cache_file else ""))
            if st["steps"] == 0 and s.steps > 0:
                print(f"the mouth barely moves in this video (opening spread {st['mouth_range']:.3f} mouth "
                      "widths): the generic refiner is used as for a portrait; --steps N fine-tunes anyway")
        if args.output:
            print(f"refiner written to {args.output}")
    return 0
