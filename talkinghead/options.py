"""Every user option of ``say``, in one place: :class:`SpeechOptions`, :class:`FaceOptions` and
:class:`RenderOptions`.

Each field carries its type, default, help text and check. From them come

* the command line's options (:func:`add_arguments`, :func:`from_args`),
* the batch config's settings and their validation (:func:`check_value` with ``strict=True``:
  YAML types are checked too),
* the Python API's keywords (:meth:`Pipeline.say <talkinghead.pipeline.Pipeline.say>`,
  :meth:`Pipeline.from_face <talkinghead.pipeline.Pipeline.from_face>`,
  :func:`~talkinghead.speech.select.make_speech` accept each field as a keyword, or an options
  object).

Constructing an options object checks every field and raises :class:`OptionError` (an
:class:`~talkinghead.errors.InputError`, exit code 2) naming the first bad one.

To add an option: add a field with :func:`option` to the right class, then use it where it takes
effect (speech: :func:`~talkinghead.speech.select.make_speech`; face:
:meth:`Pipeline.from_face <talkinghead.pipeline.Pipeline.from_face>`; render:
:meth:`Pipeline.frames <talkinghead.pipeline.Pipeline.frames>`). The ``say`` command, the batch
config and the API's keywords follow by themselves.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from .errors import InputError

#: Largest seed (onnxruntime and numpy seed with a signed 64-bit integer).
MAX_SEED = 2**63 - 1
#: The longest pause (seconds) a script or an option may ask for.
MAX_PAUSE = 60.0
#: The smallest ``max_side`` accepted (pixels): a face in a smaller frame is too small to track.
MIN_MAX_SIDE = 128
#: Output frame rates (frames per second) and x264 quality accepted.
FPS_RANGE = (1.0, 120.0)
CRF_RANGE = (0, 51)
#: Speaking rates accepted (1.0 = the voice's own pace).
RATE_RANGE = (0.25, 4.0)
#: Largest step count or face index accepted.
MAX_COUNT = 1_000_000
#: Turns of a face file accepted, clockwise degrees (``None``: decided by the face detector).
TURN_DEGREES = (0, 90, 180, 270)

#: YAML / JSON type names for messages.
_TYPE_NAMES = {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer",
               float: "number", type(None): "null"}


def type_name(v: Any) -> str:
    """How messages name the type of ``v`` (YAML's words: ``mapping``, ``number``, ...)."""
    return _TYPE_NAMES.get(type(v), type(v).__name__)


class OptionError(InputError):
    """An option's value is refused. ``name``: the field, ``problem``: what is wrong with the
    value (without the option's name: each surface names it its own way)."""

    def __init__(self, name: str, problem: str, label: str | None = None):
        self.name = name
        self.problem = problem
        super().__init__(f"{label or name.replace('_', ' ')} {problem}")


# ---------------------------------------------------------------------------------------------
# Checks: value -> problem (a phrase starting with the value) or None


def between(lo: float, hi: float, unit: str = "") -> Callable[[Any], str | None]:
    """``lo <= v <= hi`` (NaN refused)."""
    def check(v):
        if not (lo <= v <= hi):
            return f"{v:g} is out of range ({lo:g} to {hi:g}{unit})"
        return None
    return check


def crf_check(v: int) -> str | None:
    lo, hi = CRF_RANGE
    return None if lo <= v <= hi else f"{v} is out of range ({lo} to {hi}, lower = better)"


def seed_check(v: int) -> str | None:
    if v < 0:
        return f"{v} must not be negative"
    if v > MAX_SEED:
        return f"{v} is out of range (too large: at most {MAX_SEED})"
    return None


def count_check(v: int) -> str | None:
    if v < 0:
        return f"{v} must not be negative"
    return f"{v} is too large (at most {MAX_COUNT})" if v > MAX_COUNT else None


def max_side_check(v: int) -> str | None:
    return f"{v} is too small (at least {MIN_MAX_SIDE} pixels)" if v < MIN_MAX_SIDE else None


def parse_turn(turn: Any) -> int | None:
    """A turn as clockwise degrees (:data:`TURN_DEGREES`), or ``None`` for ``"auto"``.

    Raises:
        ValueError: any other value.
    """
    if turn is None or (isinstance(turn, str) and turn.strip().lower() == "auto"):
        return None
    try:
        value = int(str(turn).strip()) if not isinstance(turn, bool) else None
    except ValueError:
        value = None
    if value not in TURN_DEGREES:
        raise ValueError(turn)
    return value


# ---------------------------------------------------------------------------------------------
# Fields


def option(default: Any, help: str, *, kind: str, check: Callable[[Any], str | None] | None = None,
           choices: tuple | None = None, metavar: str | None = None, label: str | None = None,
           group: str | None = None, cli: bool = True, aliases: tuple[str, ...] = ()) -> Any:
    """A field of an options class.

    Args:
        default: the value when not given (``None``: not set; the help says what that means).
        help: one sentence for ``--help`` and the docs.
        kind: ``"float"``, ``"int"``, ``"bool"``, ``"str"``, ``"choice"`` (one of ``choices``) or
            ``"turn"`` (:func:`parse_turn`). ``None`` is accepted where the default is ``None``.
        check: ``value -> problem or None`` after the type is right (ranges).
        label: how the API's error message names it (default: the name with spaces).
        group: the ``--help`` section of its command-line option.
        cli: whether ``say`` has a command-line option for it.
        aliases: other accepted command-line spellings (``--no-color-anchor``).
    """
    meta = {"help": help, "kind": kind, "check": check, "choices": choices, "metavar": metavar,
            "label": label, "group": group, "cli": cli, "aliases": aliases}
    return dataclasses.field(default=default, metadata=meta)


T = TypeVar("T", bound="Options")


class Options:
    """Base of the options classes: checks and normalises every field on construction."""

    #: the help section of the class's command-line options
    GROUP: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value, problem = check_field(f, getattr(self, f.name), strict=False)
            if problem is not None:
                raise OptionError(f.name, problem, f.metadata["label"])
            object.__setattr__(self, f.name, value)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def merged(cls: type[T], options: T | None, kwargs: dict) -> T:
        """``options`` (default: the defaults) with the fields named in ``kwargs`` replaced; those
        keys are removed from ``kwargs`` (what is left belongs to someone else)."""
        given = {k: kwargs.pop(k) for k in cls.names() if k in kwargs}
        base = options if options is not None else cls()
        return dataclasses.replace(base, **given) if given else base

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def check_field(f: dataclasses.Field, v: Any, *, strict: bool) -> tuple[Any, str | None]:
    """``(normalised value, problem or None)`` of ``v`` for field ``f``; ``strict``: the type must
    be exactly right (a YAML config), else numbers are converted as Python would."""
    m = f.metadata
    kind = m["kind"]
    if v is None and f.default is None:
        return None, None
    if kind == "turn":
        try:
            return parse_turn(v), None
        except ValueError:
            return v, f"{v!r} is not one of auto, 0, 90, 180, 270 (degrees clockwise)"
    if kind == "float":
        if isinstance(v, bool) or (strict and not isinstance(v, (int, float))):
            return v, f"expected a number, got {type_name(v)} {v!r}"
        try:
            v = float(v)
        except (TypeError, ValueError):
            return v, f"expected a number, got {type_name(v)} {v!r}"
    elif kind == "int":
        if isinstance(v, bool) or (strict and not isinstance(v, int)):
            return v, f"expected an integer, got {type_name(v)} {v!r}"
        try:
            v = operator.index(v)
        except TypeError:
            if isinstance(v, float) and math.isfinite(v) and v == int(v):
                v = int(v)  # 18.0 from a calculation
            else:
                return v, f"expected an integer, got {type_name(v)} {v!r}"
    elif kind == "bool":
        if strict and not isinstance(v, bool):
            return v, f"expected true or false, got {type_name(v)} {v!r}"
        v = bool(v)
    elif kind == "str":
        if strict and not isinstance(v, str):
            return v, f"expected a string, got {type_name(v)} {v!r}"
    elif kind == "choice":
        if v not in m["choices"]:
            return v, f"{v!r} is not one of {', '.join(m['choices'])}"
    check = m["check"]
    problem = check(v) if check is not None else None
    return v, problem


def check_value(cls: type[Options], name: str, v: Any, *, strict: bool = True) -> tuple[Any, str | None]:
    """Check one setting of ``cls`` by name: ``(normalised value, problem or None)``."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return check_field(f, v, strict=strict)


# ---------------------------------------------------------------------------------------------
# The options


@dataclass(frozen=True)
class SpeechOptions(Options):
    """How the script is spoken (TTS) or a recording aligned."""

    GROUP: ClassVar[str] = "voice"

    tts: str = option("piper", "TTS engine (default: piper)", kind="choice", choices=("piper", "coqui"))
    voice: str | None = option(None, "Piper: 'joe' (bundled, default) or path to a .onnx voice; "
                               "Coqui: model folder / .pth / name in the local model cache", kind="str")
    rate: float = option(1.0, "speaking rate, 1.0 = normal (Piper)", kind="float", check=between(*RATE_RANGE),
                         label="speaking rate")
    sentence_pause: float = option(0.25, "seconds between sentences", kind="float", metavar="S",
                                   check=between(0.0, MAX_PAUSE, " seconds"))
    paragraph_pause: float = option(0.7, "seconds for a blank line", kind="float", metavar="S",
                                    check=between(0.0, MAX_PAUSE, " seconds"))
    seed: int | None = option(None, "seed of the voice's sampling noise: the same seed gives the same audio "
                              "(Piper)", kind="int", metavar="N", check=seed_check)
    align: str = option("auto", "alignment method for --audio (default: auto)", kind="choice",
                        choices=("auto", "dtw", "pocketsphinx"), group="own recording instead of TTS")
    language: str = option("en-us", "espeak language of the transcript (default: en-us)", kind="str",
                           group="own recording instead of TTS")


@dataclass(frozen=True)
class FaceOptions(Options):
    """How a face file becomes a prepared face (:meth:`Pipeline.from_face
    <talkinghead.pipeline.Pipeline.from_face>`)."""

    face_index: int | None = option(None, "which face if several (0 = largest; needed when a portrait shows "
                                    "several)", kind="int", metavar="N", check=count_check)
    idle_seed: int = option(0, "seed of a portrait's idle motion", kind="int", metavar="N", check=seed_check)
    max_side: int | None = option(None, "scale the face photo or video down first so that its longer side is at "
                                  "most PX pixels (the output has that size): a phone photo or a 4K video renders "
                                  "several times faster at 1920 (default: the face file's own size)",
                                  kind="int", metavar="PX", check=max_side_check)
    turn: int | None = option(None, "a face photo or video lying on its side or upside down is turned upright "
                              "(auto, the default); 0 uses it as it is, 90/180/270 turns it that many degrees "
                              "clockwise", kind="turn", metavar="auto|0|90|180|270")
    steps: int | None = option(None, "fine-tuning steps when preparing a new face (default 150 for a video, 0 "
                               "for a portrait or a video whose mouth barely moves)", kind="int", metavar="N",
                               check=count_check)


@dataclass(frozen=True)
class RenderOptions(Options):
    """How the frames are made and written (:meth:`Pipeline.say
    <talkinghead.pipeline.Pipeline.say>`, :meth:`Pipeline.frames
    <talkinghead.pipeline.Pipeline.frames>`).

    The quality switches (``fast``, ``skin_detail``, ``colour_anchor``, ``own_mouth``) each trade
    a little time for quality; their measurements are in ``benchmarks/README.md``:

    * ``fast``: off by default, so the generator also runs on the mirrored frame and the two
      predictions are averaged (:meth:`Refiner.refine <talkinghead.refine.infer.Refiner.refine>`):
      about +0.2 dB / +0.008 SSIM on every development clip for twice the generator time
      (``benchmarks/bench_refine.py --no-mirror``).
    * ``skin_detail``: the source frame's fine skin detail is carried onto the rebuilt skin
      (:mod:`talkinghead.refine.composite.detail`). The refiner draws skin smoother than it is, and a face
      larger than its 192-px crop loses everything finer when the crop is scaled back up; the
      source frame has that detail on the same skin. ``benchmarks/bench_detail.py`` bounds it:
      neutral to slightly better, no flicker; stubble, freckles and fine lines instead of
      airbrushed skin.
    * ``colour_anchor``: the refiner's coarse colours are pulled back towards the source face's
      where they differ by more than a new mouth shape explains (:mod:`talkinghead.refine.composite.anchor`):
      on a face unlike the training faces (a painting) the refiner paints pale lips and greyish
      skin.
    * ``own_mouth``: the lips, teeth and mouth interior of the frame of the face video whose mouth
      has the planned shape, warped onto the planned lips over the refiner's
      (:mod:`talkinghead.refine.composite.retrieve`): sharp lips and the person's own teeth instead of the
      refiner's soft ones (``benchmarks/bench_mouth.py``).
    """

    GROUP: ClassVar[str] = "output"

    fps: float | None = option(None, "output frame rate (default: the face video's)", kind="float",
                               check=between(*FPS_RANGE, " fps"), label="frame rate")
    crf: int = option(18, "x264 quality, lower = better (default 18)", kind="int", check=crf_check)
    sidecars: bool = option(False, "also write OUT.json (timeline) and OUT.srt", kind="bool")
    fast: bool = option(False, "one refiner pass per frame instead of averaging it with the mirrored frame's: "
                        "about half the refiner's time, slightly lower quality", kind="bool")
    skin_detail: bool = option(True, "leave the rebuilt skin as the refiner draws it: smooth, without the face "
                               "video's own fine skin detail (stubble, pores, fine lines) and without its own "
                               "skin above the upper lip (which keeps a moustache)", kind="bool")
    colour_anchor: bool = option(True, "keep the refiner's own lip and skin colours, even where they are far "
                                 "from the face's (by default those are pulled back towards the face's own)",
                                 kind="bool", aliases=("--no-color-anchor",))
    own_mouth: bool = option(True, "draw the lips, teeth and mouth interior with the refiner alone (by default "
                             "they are taken from the frames of the face video whose mouth has the wanted "
                             "shape)", kind="bool")

    @property
    def mirror_average(self) -> bool:
        """Average the refiner's predictions for the frame and its mirror image (not ``fast``)."""
        return not self.fast


#: Every options class, in the order their fields appear in a batch config's settings.
ALL_OPTIONS: tuple[type[Options], ...] = (SpeechOptions, FaceOptions, RenderOptions)


# ---------------------------------------------------------------------------------------------
# Command line


def flag(f: dataclasses.Field) -> str:
    """The command-line flag of field ``f``: ``--name`` (``--no-name`` for a switch that is on by
    default)."""
    dashed = f.name.replace("_", "-")
    return f"--no-{dashed}" if f.metadata["kind"] == "bool" and f.default is True else f"--{dashed}"


def add_arguments(p: argparse.ArgumentParser, cls: type[Options], *, only: tuple[str, ...] | None = None,
                  group: str | None = None) -> None:
    """Add the command-line options of ``cls``'s fields (those named in ``only``, in ``cls``'s
    order; default all with ``cli``) to ``p``, each in its field's group (else ``group``, else
    ``cls.GROUP``; ``""``: no group)."""
    def target(name: str | None):
        if not name:
            return p
        for g in p._action_groups:  # a group of that title made earlier (by this or by hand)
            if g.title == name:
                return g
        return p.add_argument_group(name)

    for f in dataclasses.fields(cls):
        m = f.metadata
        if (only is not None and f.name not in only) or (only is None and not m["cli"]):
            continue
        g = target(m["group"] or (group if group is not None else cls.GROUP))
        names = [flag(f), *m["aliases"]]
        kw: dict[str, Any] = {"dest": f.name, "help": m["help"]}
        kind = m["kind"]
        if kind == "bool":
            kw["action"] = "store_false" if f.default is True else "store_true"
        else:
            kw["default"] = f.default
            if kind == "choice":
                kw["choices"] = m["choices"]
            elif kind in ("int", "float"):
                kw["type"] = int if kind == "int" else float
            if m["metavar"]:
                kw["metavar"] = m["metavar"]
        g.add_argument(*names, **kw)


def from_args(cls: type[T], args: argparse.Namespace) -> T:
    """An options object from parsed command-line ``args`` (fields without an option there keep
    their default).

    Raises:
        InputError: a value is refused, naming its flag (``--crf 99 is out of range ...``).
    """
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    try:
        return cls(**given)
    except OptionError as exc:
        f = next(f for f in dataclasses.fields(cls) if f.name == exc.name)
        raise InputError(f"{flag(f) if f.metadata['kind'] != 'bool' else f.name} {exc.problem}") from None


# ---------------------------------------------------------------------------------------------
# The API's keywords


def option_keywords(*classes: type[Options]) -> Callable:
    """Decorator: a function taking ``**kwargs`` for the fields of ``classes`` shows them in its
    signature (``help()``, IDEs, :func:`inspect.signature`) as keyword-only parameters with their
    defaults."""
    import inspect

    def decorate(fn):
        sig = inspect.signature(fn)
        params = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
        seen = {p.name for p in params}
        for cls in classes:
            for f in dataclasses.fields(cls):
                if f.name not in seen:
                    seen.add(f.name)
                    params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                                    annotation=f.type))
        fn.__signature__ = sig.replace(parameters=params)
        return fn

    return decorate


def reject_unknown(where: str, kwargs: dict) -> None:
    """Raise ``TypeError`` as Python does when ``kwargs`` (what no options class took) is not empty."""
    if kwargs:
        raise TypeError(f"{where}() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
