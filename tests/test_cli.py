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


@pytest.mark.parametrize("argv, message", [
    (["speak", "Hi.", "-o", "{d}/x.mp3"], "should be a .wav file"),
    (["speak", "Hi.", "--sentence-pause", "nan", "-o", "{d}/x.wav"], "--sentence-pause nan is out of range"),
    (["speak", "Hi.", "--paragraph-pause", "-5", "-o", "{d}/x.wav"], "--paragraph-pause -5 is out of range"),
    (["speak", "Hi.", "--seed", str(2**70), "-o", "{d}/x.wav"], "--seed 1180591620717411303424 is out of range"),
    (["speak", "Hi.", "--transcript", "bye", "-o", "{d}/x.wav"], "--transcript goes with --audio"),
    (["speak", "--audio", "{d}/rec.wav", "--transcript", "{d}/missing.txt", "-o", "{d}/x.wav"],
     "transcript file {d}/missing.txt does not exist"),
    (["say", "--text", "Hi.", "--face", "{d}/rec.wav", "--idle-seed", "-1", "-o", "{d}/x.mp4"],
     "--idle-seed -1 must not be negative"),
    (["mesh", "--text", "Hi.", "--face", "{d}/rec.wav", "-o", "{d}/x.avi"], "should be an .mp4 file"),
    (["track", "{d}/rec.wav", "-o", "{d}/x.npz", "--overlay", "{d}/x.avi"], "should be an .mp4 file"),
    (["say", "--text", "Hi.", "--face", "{d}/rec.wav", "--turn", "45", "-o", "{d}/x.mp4"],
     "turn '45' is not one of auto, 0, 90, 180, 270"),
    (["prepare", "{d}/rec.wav", "--turn", "sideways"], "turn 'sideways' is not one of auto, 0, 90, 180, 270"),
    (["verify", "{d}/rec.wav", "--max-frames", "0"], "--max-frames must be >= 1"),
])
def test_bad_options_exit_2_before_any_work(tmp_path, capsys, argv, message):
    import wave

    with wave.open(str(tmp_path / "rec.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 1600)
    d = str(tmp_path)
    assert main([a.format(d=d) for a in argv]) == 2
    assert message.format(d=d) in capsys.readouterr().err
    assert not list(tmp_path.glob("x.*"))


def test_sigterm_cleans_up_like_ctrl_c(tmp_path, monkeypatch, capsys):
    """SIGTERM (a service manager, `timeout`, `kill`) unwinds like Ctrl-C: the atomic output's
    temporary file is removed, nothing is left half-written, and the exit code is 128 + 15."""
    import os
    import signal
    import time

    import talkinghead.commands.speak as speak
    from talkinghead.fileio import atomic_path

    def slow_run(args):
        with atomic_path(tmp_path / "out.wav") as tmp:
            tmp.write_bytes(b"half a file")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)  # interrupted by the handler
        return 0

    monkeypatch.setattr(speak, "run", slow_run)
    before = signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as in a fresh process (a test run may differ)
    try:
        t = time.perf_counter()
        assert main(["speak", "Hi.", "-o", str(tmp_path / "out.wav")]) == 143
        assert time.perf_counter() - t < 5
        assert "terminated" in capsys.readouterr().err
        assert list(tmp_path.iterdir()) == []
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored for the caller
    finally:
        signal.signal(signal.SIGTERM, before)


def test_very_verbose_shows_the_traceback_and_keeps_the_exit_code(tmp_path, capsys):
    argv = ["say", "-t", "Hi.", "--face", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "x.mp4")]
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["-v", "-v", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "talkinghead: error:" in err
