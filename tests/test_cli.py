"""The command line's own conventions: --help everywhere, doctor, exit codes."""

import pytest

from talkinghead.cli import COMMANDS, build_parser, main


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: talkinghead" in out and "example" in out.lower()


def test_global_flags_before_or_after_the_command():
    parser = build_parser()
    assert parser.parse_args(["-q", "speak", "hi", "-o", "x.wav"]).quiet is True
    assert parser.parse_args(["speak", "-q", "hi", "-o", "x.wav"]).quiet is True
    assert parser.parse_args(["speak", "hi", "-o", "x.wav"]).quiet is False


@pytest.mark.slow
def test_doctor_reports_a_usable_installation(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for name in ("torch", "pytorch3d", "mediapipe", "piper voice", "ffmpeg", "espeak-ng", "refiner weights"):
        assert any(line.startswith("ok") and name in line for line in out.splitlines()), name


def test_speak_seed_gives_the_same_audio(tmp_path):
    import soundfile as sf

    from talkinghead.cli import main

    outs = []
    for k, seed in enumerate((11, 11, 12)):
        out = tmp_path / f"s{k}.wav"
        assert main(["-q", "speak", "Bob bought a map.", "--seed", str(seed), "-o", str(out)]) == 0
        outs.append(sf.read(out)[0])
    assert len(outs[0]) == len(outs[1]) and (outs[0] == outs[1]).all()
    assert not (len(outs[2]) == len(outs[0]) and (outs[2] == outs[0]).all())
