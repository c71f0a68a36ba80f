"""talkinghead.media: probe, read, write (round trips on synthetic clips, error cases)."""

from __future__ import annotations

import subprocess
import wave

import numpy as np
import pytest

from talkinghead.errors import MediaError, OutputError
from talkinghead.media import (
    VideoWriter,
    ffmpeg_exe,
    load_frames,
    probe,
    read_audio,
    read_frames,
    write_video,
)


def _frames(n: int, w: int = 96, h: int = 64) -> list[np.ndarray]:
    """Frames whose mean brightness encodes the frame number (survives compression)."""
    out = []
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[..., 0] = (xx * 255 // max(w - 1, 1)).astype(np.uint8)
        f[..., 1] = (yy * 255 // max(h - 1, 1)).astype(np.uint8)
        f[..., 2] = 20 + 10 * i
        out.append(f)
    return out


def _tone(seconds: float, sr: int) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_round_trip_with_audio(tmp_path):
    fps, n, sr = 25.0, 20, 22050
    path = tmp_path / "clip.mp4"
    # Audio 0.3 s longer than the video: the writer trims it to the video's exact duration.
    write_video(path, _frames(n), fps, audio=(_tone(n / fps + 0.3, sr), sr), crf=10,
                metadata={"title": "round trip"})
    info = probe(path)
    assert (info.width, info.height) == (96, 64)
    assert info.fps == pytest.approx(fps)
    assert info.n_frames == n
    assert info.has_audio and not info.is_image and not info.variable_frame_rate
    assert abs(info.audio_duration - n / fps) <= 1.0 / fps
    frames = load_frames(path)
    assert frames.shape == (n, 64, 96, 3) and frames.dtype == np.uint8
    # Frame order and content survive: the blue channel encodes the index.
    blue = frames[..., 2].reshape(n, -1).mean(axis=1)
    assert np.allclose(blue, 20 + 10 * np.arange(n), atol=3)
    audio = read_audio(path, 16000)
    assert abs(len(audio) / 16000 - n / fps) <= 1.0 / fps
    assert np.abs(audio).max() > 0.1  # the tone is there
    header = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                            capture_output=True, text=True).stderr
    assert "round trip" in header and "h264" in header and "yuv420p" in header


def test_short_audio_is_padded_and_wav_path_accepted(tmp_path):
    fps, n, sr = 10.0, 15, 16000
    wav_path = tmp_path / "a.wav"
    with wave.open(str(wav_path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((_tone(0.5, sr) * 32767).astype("<i2").tobytes())
    out = write_video(tmp_path / "v.mp4", _frames(n), fps, audio=wav_path)
    info = probe(out)
    assert info.n_frames == n and info.fps == pytest.approx(fps)
    assert abs(info.audio_duration - n / fps) <= 1.0 / fps  # 0.5 s of audio padded to 1.5 s


def test_odd_size_is_padded_to_even(tmp_path):
    frames = [np.full((33, 51, 3), 128, np.uint8)] * 3
    out = write_video(tmp_path / "odd.mp4", frames, 25)
    info = probe(out)
    assert (info.width, info.height) == (52, 34)
    assert not info.has_audio


def test_interrupted_write_leaves_nothing(tmp_path):
    path = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(path, 25) as w:
            for i, f in enumerate(_frames(10)):
                w.write(f)
                if i == 4:
                    raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_kept_when_write_fails(tmp_path):
    path = tmp_path / "keep.mp4"
    write_video(path, _frames(3), 25)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        with VideoWriter(path, 25) as w:
            w.write(_frames(1)[0])
            w.write(np.zeros((10, 10, 3), np.uint8))  # size change
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4"]


def test_no_frames_is_an_error(tmp_path):
    with pytest.raises(OutputError, match="no frames"):
        with VideoWriter(tmp_path / "empty.mp4", 25):
            pass
    assert list(tmp_path.iterdir()) == []


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"this is not a video at all" * 100)
    with pytest.raises(MediaError, match="corrupt.mp4"):
        probe(bad)
    with pytest.raises(MediaError, match="not found"):
        probe(tmp_path / "missing.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        probe(empty)
    badimg = tmp_path / "x.png"
    badimg.write_bytes(b"\x89PNG garbage")
    with pytest.raises(MediaError, match="x.png"):
        probe(badimg)


def test_audio_only_file_is_rejected(tmp_path):
    wav_path = tmp_path / "speech.wav"
    with wave.open(str(wav_path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(16000, "<i2").tobytes())
    with pytest.raises(MediaError, match="audio-only"):
        probe(wav_path)
    with pytest.raises(MediaError, match="audio-only"):
        next(read_frames(wav_path))
    info = probe(wav_path, require_video=False)
    assert info.has_audio and info.audio_duration == pytest.approx(1.0, abs=0.01)


def test_image_is_one_frame(tmp_path):
    import cv2

    img = np.zeros((40, 60, 3), np.uint8)
    img[:, :, 0] = 200  # red in RGB
    p = tmp_path / "still.png"
    cv2.imwrite(str(p), img[:, :, ::-1])
    info = probe(p)
    assert info.is_image and info.n_frames == 1 and (info.width, info.height) == (60, 40)
    frames = list(read_frames(p))
    assert len(frames) == 1 and np.array_equal(frames[0], img)


def test_rotation_metadata_gives_upright_frames(tmp_path):
    src = write_video(tmp_path / "landscape.mp4", _frames(5, w=96, h=64), 25, crf=10)
    rotated = tmp_path / "rotated.mp4"
    r = subprocess.run([ffmpeg_exe(), "-v", "error", "-display_rotation", "90", "-i", str(src),
                        "-c", "copy", str(rotated)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    info = probe(rotated)
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (64, 96)
    frames = load_frames(rotated)
    assert frames.shape == (5, 96, 64, 3)


def test_variable_frame_rate_is_resampled(tmp_path):
    # Frames at uneven times (0, 0.04, 0.12, 0.16, 0.28, ...): a VFR file.
    src = write_video(tmp_path / "cfr.mp4", _frames(12), 25, crf=10)
    vfr = tmp_path / "vfr.mp4"
    r = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(src),
         "-vf", "setpts='N/25/TB+if(gte(N,2),0.04/TB,0)+if(gte(N,5),0.08/TB,0)'",
         "-fps_mode", "vfr", "-c:v", "libx264", "-crf", "10", str(vfr)],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr
    info = probe(vfr)
    assert info.variable_frame_rate
    frames = load_frames(vfr)
    assert len(frames) == info.n_frames
    assert info.fps == pytest.approx(25.0)  # the nominal rate, not the 18.75 average
    assert len(frames) == 15  # 0.6 s at 25 fps: held frames fill the gaps


def test_one_frame_gif_is_a_still_of_one_frame(tmp_path):
    # A GIF's nominal rate (100 fps) and its frame's display time (0.1 s) made ffmpeg's default
    # raw output repeat the one frame ten times, while probe() counted one: the pipeline then
    # indexed frames that were never stored.
    from PIL import Image

    from talkinghead.media import is_still

    img = _frames(1)[0]
    gif = tmp_path / "still.gif"
    Image.fromarray(img).save(gif)
    info = probe(gif)
    frames = load_frames(gif)
    assert len(frames) == info.n_frames == 1
    assert is_still(gif)
    assert is_still(tmp_path / "x.png")  # by extension, not opened
    clip = write_video(tmp_path / "clip.mp4", _frames(3), 25, crf=10)
    assert not is_still(clip)
    one = write_video(tmp_path / "one.mp4", _frames(1), 25, crf=10)
    assert is_still(one) and len(load_frames(one)) == 1


def test_each_stored_frame_is_read_once(tmp_path):
    # A constant-rate clip whose container claims a higher rate than its frames are spaced at:
    # the frames are read as stored, not repeated to fill the nominal rate.
    src = write_video(tmp_path / "cfr.mp4", _frames(6), 25, crf=10)
    frames = load_frames(src)
    assert len(frames) == probe(src).n_frames == 6
    means = [float(f[..., 2].mean()) for f in frames]
    assert np.all(np.diff(means) > 5)  # every frame once, in order


def test_probe_is_remembered_until_the_file_changes(tmp_path, monkeypatch):
    import talkinghead.media as media

    clip = write_video(tmp_path / "clip.mp4", _frames(3), 25, crf=10)
    calls = []
    real = media._ffmpeg_header
    monkeypatch.setattr(media, "_ffmpeg_header", lambda p: calls.append(p) or real(p))
    a = probe(clip)
    b = probe(str(clip))
    assert a == b and a.n_frames == 3 and len(calls) == 1  # the same file, read once
    write_video(tmp_path / "other.mp4", _frames(5), 25, crf=10).replace(clip)  # rewritten
    assert probe(clip).n_frames == 5 and len(calls) == 2


def test_truncated_video_is_named_not_taken_for_a_still(tmp_path, caplog):
    # The index at the front (faststart), the frames cut off: ffmpeg reads what is there and says
    # "partial file". Half the file: a warning and the frames that exist; almost nothing left: an
    # error, not a one-frame "portrait" searched for a face.
    src = write_video(tmp_path / "src.mp4", _frames(25, 192, 128), 25, crf=12)
    fast = tmp_path / "fast.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-c", "copy", "-movflags", "+faststart",
                    str(fast)], check=True)
    data = fast.read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    with caplog.at_level("WARNING", logger="talkinghead.media"):
        info = probe(half)
    assert 1 < info.n_frames < 25
    assert any("half.mp4 is truncated or damaged" in r.getMessage() for r in caplog.records)
    assert 1 <= len(list(read_frames(half))) <= info.n_frames  # the last packet may be cut too
    moov_end = data.index(b"mdat") + 8  # the index and the first bytes of the first frame
    stub = tmp_path / "stub.mp4"
    stub.write_bytes(data[: moov_end + 200])
    with pytest.raises(MediaError, match="stub.mp4 is truncated or damaged.*can be read"):
        probe(stub)
    # the index written last (ffmpeg's default layout), the file cut short: no index at all
    late = tmp_path / "late.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-c", "copy", "-movflags", "-faststart",
                    str(late)], check=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(late.read_bytes()[: late.stat().st_size // 2])
    if late.read_bytes().find(b"moov") > late.read_bytes().find(b"mdat"):
        with pytest.raises(MediaError, match="cut.mp4: the mp4 is incomplete"):
            probe(cut)


@pytest.mark.parametrize("depth", [np.uint8, np.uint16])
def test_transparent_pixels_of_an_image_are_white_not_the_colour_stored_under_them(tmp_path, depth):
    import cv2

    top = np.iinfo(depth).max
    bgra = np.zeros((40, 60, 4), depth)
    bgra[..., 2] = top  # red everywhere, also under the transparent pixels (an old background)
    bgra[:, :30, 3] = top  # the left half opaque
    bgra[:, 30:45, 3] = top // 2  # then half transparent, then fully transparent
    path = tmp_path / "cutout.png"
    cv2.imwrite(str(path), bgra)
    img = load_frames(path)[0]
    assert img.shape == (40, 60, 3) and img.dtype == np.uint8
    assert (img[:, :30] == [255, 0, 0]).all()  # opaque red stays red
    assert (img[:, 45:] == 255).all()  # transparent: white, not the red stored there
    assert (np.abs(img[:, 30:45].astype(int) - [255, 128, 128]) <= 1).all()  # half: blended


def _with_exif_orientation(png: bytes, orientation: int) -> bytes:
    """``png`` with an eXIf chunk holding an EXIF orientation tag (after IHDR)."""
    import struct
    import zlib

    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) \
        + struct.pack(">I", 0)
    chunk = struct.pack(">I", len(tiff)) + b"eXIf" + tiff + struct.pack(">I", zlib.crc32(b"eXIf" + tiff))
    end_of_ihdr = 8 + 4 + 4 + 13 + 4
    return png[:end_of_ihdr] + chunk + png[end_of_ihdr:]


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_transparency_lines_up_with_the_exif_orientation(tmp_path, orientation):
    import cv2

    bgra = np.zeros((40, 60, 4), np.uint8)
    bgra[:20, :, 2] = 255  # red top
    bgra[20:, :, 0] = 255  # blue bottom
    bgra[..., 3] = 255
    opaque = tmp_path / "opaque.png"
    opaque.write_bytes(_with_exif_orientation(cv2.imencode(".png", bgra)[1].tobytes(), orientation))
    bgra[:, :20, 3] = 0  # the left third transparent (its colour stays stored)
    cut = tmp_path / "cut.png"
    cut.write_bytes(_with_exif_orientation(cv2.imencode(".png", bgra)[1].tobytes(), orientation))
    turned, img = load_frames(opaque)[0], load_frames(cut)[0]
    assert img.shape == turned.shape and (orientation == 3) == (img.shape[:2] == (40, 60))
    white = (img == 255).all(-1)
    assert 0.3 < white.mean() < 0.37  # the transparent third, wherever the turn put it
    assert np.array_equal(img[~white], turned[~white])  # the rest as the opaque copy, turned alike
