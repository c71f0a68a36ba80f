"""``talkinghead prepare``: track a face video and fine-tune the refiner on it (cached)."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import InputError

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
    p.add_argument("--steps", type=int, default=None, metavar="N",
                   help="fine-tuning steps (default 150 for a video, or 0 when its mouth barely moves; 0 for "
                   "a portrait, whose one mouth state fine-tuning would overfit; 0 = use the generic weights)")
    p.add_argument("--max-frames", type=int, default=None, metavar="N",
                   help="at most this many frames are used for fine-tuning (default 200)")
    p.add_argument("--face-index", type=int, default=None, metavar="N",
                   help="which face when there are several: 0 = largest (default; a portrait showing "
                   "several faces needs it)")
    p.add_argument("--idle-seed", type=int, default=0, metavar="N", help="seed of a portrait's idle motion")
    p.add_argument("--max-side", type=int, default=None, metavar="PX",
                   help="prepare the face scaled down to at most PX pixels on its longer side, as "
                        "`say --max-side PX` will use it")
    p.add_argument("--turn", default="auto", metavar="auto|0|90|180|270",
                   help="turn the face upright when it lies on its side or upside down (auto), or by "
                        "this many degrees clockwise (0: as it is), as `say --turn` will")
    p.add_argument("--weights", metavar="PT", help="start from these refiner weights instead of the generic ones")
    p.add_argument("--no-cache", action="store_true", help="prepare again even if a cached result exists")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..fileio import check_not_an_input, check_writable
    from ..refine.prepare import PrepareSettings, prepare_face

    from ..media import is_still
    from ..scale import MIN_MAX_SIDE, scaled_face

    from .common import check_number_options

    check_number_options(args)
    if args.steps is not None and args.steps < 0:
        raise InputError(f"--steps must be >= 0, got {args.steps}")
    if args.max_frames is not None and args.max_frames < 1:
        raise InputError(f"--max-frames must be >= 1, got {args.max_frames}")
    if args.face_index is not None and args.face_index < 0:
        raise InputError(f"--face-index must be >= 0, got {args.face_index}")
    if args.max_side is not None and args.max_side < MIN_MAX_SIDE:
        raise InputError(f"--max-side {args.max_side} is too small (at least {MIN_MAX_SIDE} pixels)")
    if args.output:  # before the face is read: an output that cannot be written stops at once
        check_writable(args.output)
        check_not_an_input([args.output], {"face video": args.face, "starting weights": args.weights})

    from ..face.orientation import check_turn, upright_face

    turn = check_turn(args.turn)
    face = scaled_face(args.face, args.max_side, cache=not args.no_cache, progress=not args.quiet)
    # the same upright copy that `say` uses (shared cache): a face lying on its side is turned
    face = upright_face(face, cache=not args.no_cache, progress=not args.quiet, turn=turn,
                        name=Path(args.face).name)
    portrait = is_still(face)
    s = PrepareSettings.for_face(portrait, args.steps)
    if args.max_frames is not None:
        s.max_frames = args.max_frames
    s.face_index = args.face_index or 0
    if portrait:
        # the same idle clip that `say` animates from a portrait (shared cache)
        from ..portrait import animate_portrait

        face = animate_portrait(face, face_index=args.face_index, seed=args.idle_seed,
                                cache=not args.no_cache, progress=not args.quiet)
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
