"""A face photo lying on its side or upside down (no EXIF tag) is turned upright."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from face_fixtures import astronaut_image

from talkinghead.inputs.orientation import upright_face, upright_turns


@pytest.mark.parametrize("turn, expected", [(None, 0), (cv2.ROTATE_180, 2), (cv2.ROTATE_90_CLOCKWISE, 3),
                                            (cv2.ROTATE_90_COUNTERCLOCKWISE, 1)])
def test_the_quarter_turn_that_makes_the_face_upright(turn, expected):
    img = astronaut_image()
    x = img if turn is None else np.ascontiguousarray(cv2.rotate(img, turn))
    assert upright_turns(x) == expected


def test_a_photo_without_a_face_is_left_as_it_is():
    grey = np.full((256, 256, 3), 128, np.uint8)
    assert upright_turns(grey) == 0


def test_upright_face_writes_a_turned_copy_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TALKINGHEAD_CACHE", str(tmp_path / "cache"))
    img = astronaut_image()
    upright = tmp_path / "upright.png"
    cv2.imwrite(str(upright), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    assert upright_face(upright) == upright
    ud = tmp_path / "upside_down.png"
    cv2.imwrite(str(ud), cv2.cvtColor(cv2.rotate(img, cv2.ROTATE_180), cv2.COLOR_RGB2BGR))
    with caplog.at_level("WARNING", logger="talkinghead.inputs.orientation"):
        out = upright_face(ud)
    assert out != ud and out.exists() and "upside down" in caplog.text
    back = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    assert np.abs(back.astype(int) - img).mean() < 1.0  # the original, upright again (lossless PNG)
    assert upright_face(ud) == out  # cached


def test_a_video_lying_on_its_side_is_turned_upright(tmp_path, monkeypatch, caplog):
    from face_fixtures import astronaut_clip, write_clip

    from talkinghead.media import load_frames, probe

    monkeypatch.setenv("TALKINGHEAD_CACHE", str(tmp_path / "cache"))
    frames, _ = astronaut_clip(12, size=(320, 256), face_scale=0.5, background=90)
    upright = write_clip(frames, tmp_path / "upright.mp4")
    assert upright_face(upright) == upright  # an upright video is used as it is
    sideways = write_clip([np.ascontiguousarray(cv2.rotate(f, cv2.ROTATE_90_CLOCKWISE)) for f in frames],
                          tmp_path / "sideways.mp4")
    with caplog.at_level("WARNING", logger="talkinghead.inputs.orientation"):
        out = upright_face(sideways)
    assert out != sideways and "lying on its side" in caplog.text and "video" in caplog.text
    info = probe(out)
    assert (info.width, info.height, info.n_frames) == (320, 256, 12)  # turned back, every frame kept
    back = load_frames(out)
    assert np.abs(back.astype(int) - np.stack(frames)).mean() < 4.0  # the original frames, upright
    assert upright_face(sideways) == out  # cached


def test_say_turns_a_sideways_face_video_upright(tmp_path, monkeypatch, piper):
    from face_fixtures import astronaut_clip, write_clip

    from talkinghead import Pipeline
    from talkinghead.media import load_frames, probe

    monkeypatch.setenv("TALKINGHEAD_CACHE", str(tmp_path / "cache"))
    frames, _ = astronaut_clip(20, size=(320, 256), face_scale=0.5, background=90)
    sideways = write_clip([np.ascontiguousarray(cv2.rotate(f, cv2.ROTATE_90_COUNTERCLOCKWISE)) for f in frames],
                          tmp_path / "sideways.mp4")
    pipe = Pipeline.from_face(sideways, steps=0)
    assert sideways in pipe.source_paths and pipe.face_path != sideways
    out = pipe.say(speech=piper.speak("Hello."), output=tmp_path / "out.mp4").path
    info = probe(out)
    assert (info.width, info.height) == (320, 256)  # upright, as the person was filmed
    assert upright_turns(load_frames(out, max_frames=1)[0]) == 0


def test_close_scores_of_a_face_on_its_side_are_decided_by_its_eye_line():
    from talkinghead.inputs.orientation import TurnScores, decide_turns

    # a small face on its side in a wide shot (measured: 0.87 as given, 0.97 turned)
    close = np.array([0.87, 0.30, 0.20, 0.955])
    assert decide_turns([TurnScores(close, 78.0)]) == 3  # the eye line is steep: it lies on its side
    assert decide_turns([TurnScores(close, 12.0)]) == 0  # a tilted upright face is left alone
    assert decide_turns([TurnScores(close, None)]) == 0
    # frames without a face (a fade from black) do not dilute the others
    black = TurnScores(np.zeros(4), None)
    clear = TurnScores(np.array([0.70, 0.20, 0.10, 0.95]), 85.0)
    assert decide_turns([black, black, clear]) == 3 and decide_turns([black]) == 0


def test_a_sideways_video_fading_in_from_black_with_an_odd_size_is_turned(tmp_path, monkeypatch):
    from face_fixtures import astronaut_clip

    from talkinghead.media import probe

    monkeypatch.setenv("TALKINGHEAD_CACHE", str(tmp_path / "cache"))
    frames, _ = astronaut_clip(30, size=(320, 256), face_scale=0.5, background=90)
    frames = [(f * min(1.0, i / 15)).astype(np.uint8) for i, f in enumerate(frames)]  # black at first
    turned = [np.ascontiguousarray(cv2.rotate(f, cv2.ROTATE_90_CLOCKWISE))[:, :255] for f in frames]
    import subprocess

    from talkinghead.media import ffmpeg_exe

    raw = tmp_path / "odd.mp4"  # 255x320: an odd width needs yuv444p
    p = subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "255x320",
                        "-r", "25", "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv444p", "-crf", "12", str(raw)],
                       input=b"".join(f.tobytes() for f in turned), capture_output=True)
    assert p.returncode == 0, p.stderr
    out = upright_face(raw)
    info = probe(out)
    assert out != raw and (info.width, info.height) == (320, 256) and info.n_frames == 30  # padded to even


def test_a_forced_turn_overrides_the_detector(tmp_path, monkeypatch):
    from face_fixtures import astronaut_clip, write_clip

    from talkinghead.errors import InputError
    from talkinghead.inputs.orientation import check_turn
    from talkinghead.media import probe

    monkeypatch.setenv("TALKINGHEAD_CACHE", str(tmp_path / "cache"))
    frames, _ = astronaut_clip(8, size=(320, 256), face_scale=0.5, background=90)
    upright = write_clip(frames, tmp_path / "upright.mp4")
    sideways = write_clip([np.ascontiguousarray(cv2.rotate(f, cv2.ROTATE_90_CLOCKWISE)) for f in frames],
                          tmp_path / "sideways.mp4")
    assert upright_face(sideways, turn=0) == sideways  # kept as it is when asked
    forced = upright_face(upright, turn="90")
    assert forced != upright and (probe(forced).width, probe(forced).height) == (256, 320)
    assert check_turn("auto") is None and check_turn(None) is None and check_turn(270) == 270
    for bad in ("45", 45, "left", True):
        with pytest.raises(InputError, match="auto, 0, 90, 180, 270"):
            check_turn(bad)


def test_the_warning_names_the_users_file(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TALKINGHEAD_CACHE", str(tmp_path / "cache"))
    ud = tmp_path / "0123abcd-384x512.png"  # as a --max-side copy is named
    cv2.imwrite(str(ud), cv2.cvtColor(cv2.rotate(astronaut_image(), cv2.ROTATE_180), cv2.COLOR_RGB2BGR))
    with caplog.at_level("WARNING", logger="talkinghead.inputs.orientation"):
        upright_face(ud, name="holiday.png")
    assert "holiday.png" in caplog.text and "0123abcd" not in caplog.text and "--turn 0" in caplog.text
