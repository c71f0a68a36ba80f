"""A face photo or video scaled down first (talkinghead.inputs.scale, ``say --max-side``)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from talkinghead.errors import InputError
from talkinghead.media import load_frames, probe
from talkinghead.inputs.scale import MIN_MAX_SIDE, scaled_face, scaled_size

from face_fixtures import write_clip


def test_scaled_size_keeps_the_aspect_and_even_sides():
    assert scaled_size(4032, 3024, 1920) == (1920, 1440)
    assert scaled_size(3024, 4032, 1920) == (1440, 1920)
    assert scaled_size(640, 480, 1920) == (640, 480)  # fits: unchanged (odd sizes too)
    w, h = scaled_size(1999, 1001, 1001)
    assert w <= 1001 and h <= 1001 and w % 2 == 0 and h % 2 == 0 and abs(w / h - 1999 / 1001) < 0.01
    assert scaled_size(5000, 10, 200) == (200, 2)


def _image(tmp_path, w=600, h=400, name="photo.png"):
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (0, 0), 4)
    path = tmp_path / name
    cv2.imwrite(str(path), img)
    return path, img[..., ::-1]


def test_a_photo_is_scaled_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("TALKINGHEAD_CACHE", str(tmp_path / "cache"))
    path, rgb = _image(tmp_path)
    out = scaled_face(path, 300)
    assert out != path and out.suffix == ".png" and out.parent == tmp_path / "cache" / "scaled"
    got = load_frames(out)[0]
    assert got.shape == (200, 300, 3)
    want = cv2.resize(rgb, (300, 200), interpolation=cv2.INTER_AREA)
    assert np.abs(got.astype(int) - want).max() <= 1
    mtime = out.stat().st_mtime_ns
    assert scaled_face(path, 300) == out and out.stat().st_mtime_ns == mtime  # from the cache
    assert scaled_face(path, 600) == path and scaled_face(path, None) == path  # fits: the file itself
    with pytest.raises(InputError, match="too small"):
        scaled_face(path, MIN_MAX_SIDE - 1)


def test_a_huge_face_file_used_as_it_is_gets_a_hint(tmp_path, caplog):
    path, _ = _image(tmp_path, w=2600, h=200)
    with caplog.at_level("WARNING", logger="talkinghead.inputs.scale"):
        assert scaled_face(path, None) == path
    assert "--max-side" in caplog.text and "2600x200" in caplog.text
    caplog.clear()
    small, _ = _image(tmp_path, w=640, h=480, name="small.png")
    with caplog.at_level("WARNING", logger="talkinghead.inputs.scale"):
        scaled_face(small, None)
    assert not caplog.text


def test_a_photo_is_scaled_without_a_usable_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("TALKINGHEAD_CACHE", str(blocker))
    path, _ = _image(tmp_path)
    out = scaled_face(path, 300)
    assert out.exists() and not str(out).startswith(str(blocker)) and probe(out).width == 300


def test_a_video_keeps_every_frame_and_its_rate(tmp_path, monkeypatch):
    monkeypatch.setenv("TALKINGHEAD_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(1)
    base = cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (0, 0), 5)
    frames = [np.roll(base, 4 * k, axis=1) for k in range(12)]
    src = write_clip(frames, tmp_path / "face.mp4", fps=30)
    out = scaled_face(src, 160)
    info = probe(out)
    assert (info.width, info.height, info.n_frames, info.fps) == (160, 120, 12, 30.0) and not info.has_audio
    got = load_frames(out)
    for k in (0, 5, 11):  # frame k is frame k, scaled
        want = cv2.resize(frames[k], (160, 120), interpolation=cv2.INTER_AREA)
        assert np.abs(got[k].astype(int) - want).mean() < 3
    assert scaled_face(src, 160) == out
    assert not list((tmp_path / "cache" / "scaled").glob("*.part*"))  # written atomically


def test_commands_refuse_a_tiny_max_side_before_any_work(tmp_path, capsys):
    from talkinghead.cli import main

    path, _ = _image(tmp_path)
    assert main(["prepare", str(path), "--max-side", "100"]) == 2
    assert "--max-side 100 is too small" in capsys.readouterr().err


def test_an_interrupted_transcode_leaves_no_encoder_and_no_file(tmp_path, monkeypatch):
    """Ctrl-C while a face video is scaled or turned: the ffmpeg child is stopped at once (it went
    on writing a file that had already been removed) and nothing is left behind."""
    import os

    from face_fixtures import astronaut_clip, write_clip

    import talkinghead.inputs.scale as scale

    frames, _ = astronaut_clip(60, size=256, face_scale=0.5)
    src = write_clip(frames, tmp_path / "src.mp4")
    out = tmp_path / "out" / "turned.mp4"
    out.parent.mkdir()

    class Interrupting:
        def __init__(self, *a, **k):
            self.n = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, k):
            raise KeyboardInterrupt

    monkeypatch.setattr("tqdm.tqdm", Interrupting)
    with pytest.raises(KeyboardInterrupt):
        scale.transcode_video(src, out, "transpose=clock,scale=2048:2048", 60, what="turn")  # slow: seconds
    assert not list(out.parent.iterdir())  # no output, no partial file
    mine = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read()
            except OSError:
                continue
            if str(out.parent).encode() in cmd:
                mine.append(pid)
    assert not mine  # the encoder was killed, not left running
