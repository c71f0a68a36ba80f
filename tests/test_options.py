"""The options model: one field per option, from which the CLI, the batch config and the API
keywords come."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from talkinghead.errors import InputError
from talkinghead.options import (
    ALL_OPTIONS,
    FaceOptions,
    OptionError,
    RenderOptions,
    SpeechOptions,
    check_value,
    flag,
)


def test_defaults_and_normalisation():
    assert RenderOptions().mirror_average and not RenderOptions(fast=True).mirror_average
    assert FaceOptions(turn="auto").turn is None and FaceOptions(turn="90").turn == 90
    assert RenderOptions(fps=25).fps == 25.0 and isinstance(RenderOptions(fps=25).fps, float)


@pytest.mark.parametrize("cls, kw, message", [
    (RenderOptions, {"crf": 99}, "crf 99 is out of range (0 to 51"),
    (RenderOptions, {"fps": float("nan")}, "frame rate nan is out of range"),
    (SpeechOptions, {"rate": 9}, "speaking rate 9 is out of range (0.25 to 4)"),
    (SpeechOptions, {"tts": "espeak"}, "'espeak' is not one of piper, coqui"),
    (SpeechOptions, {"seed": -1}, "seed -1 must not be negative"),
    (FaceOptions, {"max_side": 64}, "max side 64 is too small"),
    (FaceOptions, {"turn": 45}, "turn 45 is not one of auto, 0, 90, 180, 270"),
])
def test_bad_values_are_refused_on_construction(cls, kw, message):
    with pytest.raises(OptionError, match=None) as ei:
        cls(**kw)
    assert isinstance(ei.value, InputError) and message in str(ei.value)


def test_batch_checks_yaml_types_strictly():
    assert check_value(RenderOptions, "crf", 18.0)[1].startswith("expected an integer")
    assert check_value(RenderOptions, "fast", "yes")[1].startswith("expected true or false")
    assert check_value(RenderOptions, "crf", 18.0, strict=False) == (18, None)


def test_every_option_is_a_say_flag_a_batch_setting_and_an_api_keyword():
    from talkinghead.batch.config import SETTINGS
    from talkinghead.cli import build_parser
    from talkinghead.pipeline import Pipeline
    from talkinghead.speech.select import make_speech

    parser = build_parser()._subparsers._group_actions[0].choices["say"]
    flags = {s for a in parser._actions for s in a.option_strings}
    for cls in ALL_OPTIONS:
        for f in dataclasses.fields(cls):
            assert flag(f) in flags, f.name
            assert f.name in SETTINGS, f.name
    api = set(inspect.signature(Pipeline.say).parameters) | set(inspect.signature(Pipeline.from_face).parameters)
    assert {f.name for cls in ALL_OPTIONS for f in dataclasses.fields(cls)} <= api
    # the keywords say() took before the options model
    assert {"voice", "tts", "rate", "seed", "fps", "crf", "sidecars", "fast", "skin_detail", "colour_anchor",
            "own_mouth", "speech", "audio", "transcript", "on_frame", "provenance"} <= set(
        inspect.signature(Pipeline.say).parameters)
    assert {f.name for f in dataclasses.fields(SpeechOptions)} <= set(inspect.signature(make_speech).parameters)
    with pytest.raises(TypeError, match="wobble"):
        make_speech("Hi.", wobble=1)


def test_cli_names_the_flag():
    import argparse

    from talkinghead.options import from_args

    with pytest.raises(InputError, match="--crf 99 is out of range"):
        from_args(RenderOptions, argparse.Namespace(crf=99, fps=None))
    ns = argparse.Namespace(fast=True, colour_anchor=False)
    assert from_args(RenderOptions, ns) == RenderOptions(fast=True, colour_anchor=False)


def test_old_color_anchor_spelling_is_accepted():
    from talkinghead.cli import build_parser

    args = build_parser().parse_args(["say", "--text", "Hi.", "-f", "x.mp4", "-o", "y.mp4", "--no-color-anchor"])
    assert args.colour_anchor is False


def test_options_are_exported_at_the_top():
    import talkinghead

    assert talkinghead.RenderOptions is RenderOptions and talkinghead.FaceOptions is FaceOptions
    assert talkinghead.SpeechOptions is SpeechOptions
