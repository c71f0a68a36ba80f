"""talkinghead.inputs.frames: where decoded frames are kept (scratch folder), random access."""

from __future__ import annotations

import tempfile

import numpy as np
import pytest

from talkinghead.inputs import frames as F
from talkinghead.errors import OutputError


@pytest.fixture
def disks(monkeypatch, tmp_path):
    """A fake temporary folder and cache folder whose type and free space the test sets."""
    tmp, cache = tmp_path / "tmp", tmp_path / "cache"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp))
    monkeypatch.setenv("TALKINGHEAD_CACHE", str(cache))
    state = {"tmp": ("ext4", 100 << 30), "cache": ("ext4", 100 << 30)}

    def which(path):
        return "tmp" if str(path).startswith(str(tmp)) else "cache"

    monkeypatch.setattr(F, "filesystem_type", lambda p: state[which(p)][0])
    monkeypatch.setattr(F, "free_bytes", lambda p: state[which(p)][1])
    return tmp, cache / "scratch", state


def test_frames_stay_in_the_temporary_folder_on_a_disk(disks):
    tmp, scratch, state = disks
    assert F.scratch_folder(50 << 30) == tmp


def test_a_ram_disk_keeps_small_videos_and_sends_large_ones_to_the_cache(disks):
    tmp, scratch, state = disks
    state["tmp"] = ("tmpfs", 8 << 30)
    assert F.scratch_folder(200 << 20) == tmp  # 200 MB: fits easily
    big = F.scratch_folder(6 << 30)  # 6 GB of 4K frames would fill most of the RAM disk
    assert big == scratch and scratch.is_dir()
    # the cache disk is full too: the RAM disk is used while it has room ...
    state["cache"] = ("ext4", 1 << 30)
    assert F.scratch_folder(6 << 30) == tmp
    # ... and when nothing has room, a clear error before any decoding
    with pytest.raises(OutputError, match=r"need 9\.7 GB of scratch space.*point TMPDIR at a folder with room"):
        F.scratch_folder(9 << 30)


def test_an_unusable_cache_folder_falls_back_or_says_why(disks, monkeypatch, tmp_path):
    tmp, scratch, state = disks
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TALKINGHEAD_CACHE", str(blocker / "cache"))  # cannot be created
    state["tmp"] = ("tmpfs", 8 << 30)
    assert F.scratch_folder(6 << 30) == tmp  # the RAM disk still has room
    with pytest.raises(OutputError, match="cannot be created"):
        F.scratch_folder(8 << 30)


def test_source_frames_use_the_scratch_folder(disks, tmp_path):
    import cv2

    tmp, scratch, state = disks
    state["tmp"] = ("tmpfs", 10_000)  # a full RAM disk
    img = np.zeros((40, 60, 3), np.uint8)
    img[..., 1] = 120
    cv2.imwrite(str(tmp_path / "still.png"), img)
    with F.SourceFrames(tmp_path / "still.png") as src:
        assert len(src) == 1 and np.array_equal(src[0], img)
        assert list(scratch.glob("talkinghead-frames-*/frames.npy"))
    assert not list(scratch.glob("talkinghead-frames-*"))  # removed on close


def test_filesystem_type_of_real_paths():
    kind = F.filesystem_type("/")
    assert isinstance(kind, str)
    if kind:  # Linux
        assert F.filesystem_type("/proc/self") == "proc"
