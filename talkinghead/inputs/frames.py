"""Random access to a face video's frames with bounded memory.

The output video may be longer than the face video (it then plays forward and backward,
"ping-pong") and the stages work on chunks of frames, so frames are needed out of order. The
source is decoded once into an uncompressed ``uint8`` memory-mapped file in a scratch folder
(:func:`scratch_folder`); the operating system pages frames in and out, so RAM stays bounded
whatever the length, as long as that folder is on a disk: where the temporary folder is a RAM
disk (tmpfs, the default /tmp of several Linux distributions) and the frames would fill a good
part of it, they go to the cache folder instead.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import OutputError
from ..fileio import cache_root
from ..media import probe, read_frames

log = logging.getLogger(__name__)

#: File systems held in memory: a memory map there is RAM, not page cache.
MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})
#: On a RAM disk, the frames may take at most this fraction of its free space.
RAM_DISK_SHARE = 0.25
#: Room left free beside the frames on any file system (bytes).
SCRATCH_MARGIN = 256 << 20


def filesystem_type(path: str | os.PathLike) -> str:
    """Type of the file system holding ``path`` (``"ext4"``, ``"tmpfs"``, ...) from
    ``/proc/mounts``; ``""`` where unknown (not Linux)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    target = os.path.realpath(path)
    best, kind = "", ""
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        mnt = parts[1].replace("\\040", " ")
        inside = target == mnt or target.startswith(mnt.rstrip("/") + "/")
        if inside and len(mnt) >= len(best):
            best, kind = mnt, parts[2]
    return kind


def _existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def free_bytes(path: str | os.PathLike) -> int:
    """Free bytes on the file system of ``path`` (or of its nearest existing parent)."""
    return int(shutil.disk_usage(_existing(Path(path))).free)


def scratch_folder(nbytes: int) -> Path:
    """Where to keep ``nbytes`` of decoded frames: the temporary folder (``TMPDIR``) if it is on a
    disk with room, or holds them easily although it is a RAM disk (at most
    :data:`RAM_DISK_SHARE` of its free space); else ``$TALKINGHEAD_CACHE/scratch`` if that is on a
    disk with room; else whichever of the two has room.

    Raises:
        OutputError: neither has room (the message says how much is needed and free where).
    """
    need = int(nbytes) + SCRATCH_MARGIN
    tmp, cache = Path(tempfile.gettempdir()), cache_root() / "scratch"
    found = []
    for folder in (tmp, cache):
        try:
            found.append((folder, free_bytes(folder), filesystem_type(_existing(folder)) in MEMORY_FILESYSTEMS))
        except OSError:
            continue
    for folder, free, in_ram in found:
        if (not in_ram and free >= need) or (in_ram and nbytes <= RAM_DISK_SHARE * free):
            break
    else:
        roomy = [(f, free, ram) for f, free, ram in found if free >= need]
        if not roomy:
            where = ", ".join(f"{f} {free / 1e9:.1f} GB" for f, free, _ in found) or "no usable folder"
            raise OutputError(f"the face video's frames need {nbytes / 1e9:.1f} GB of scratch space while "
                              f"rendering, and there is not that much free ({where}): point TMPDIR at a "
                              f"folder with room, or use a shorter or smaller face video")
        folder, free, in_ram = roomy[0]
    if folder != tmp:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if found and found[0][0] == tmp and found[0][1] >= need:
                return tmp  # the RAM disk, which has room, rather than nothing
            raise OutputError(f"the face video's frames ({nbytes / 1e9:.1f} GB) cannot be kept in the temporary "
                              f"folder {tmp} and {folder} cannot be created ({exc.strerror or exc}): "
                              f"point TMPDIR at a folder with room") from exc
        log.info("decoded frames (%.1f GB) go to %s: the temporary folder %s is %s", nbytes / 1e9, folder, tmp,
                 "a RAM disk" if found and found[0][2] else "short of room")
    return folder


def pingpong_indices(n_src: int, n_out: int) -> np.ndarray:
    """Source frame for each output frame: ``0, 1, ..., n-1, n-2, ..., 1, 0, 1, ...``.

    Consecutive output frames always come from neighbouring source frames (no jump). Returns an
    int64 array of shape ``(n_out,)``; a one-frame source repeats frame 0.
    """
    if n_src <= 1:
        return np.zeros(n_out, np.int64)
    period = 2 * (n_src - 1)
    k = np.arange(n_out) % period
    return np.where(k < n_src, k, period - k).astype(np.int64)


class SourceFrames:
    """The first ``limit`` frames of a video (or the one frame of an image), randomly accessible.

    Args:
        path: video or image file.
        limit: decode at most this many frames (the output never needs more than its length).
        workdir: where the memory-mapped file lives (default: a new folder in
            :func:`scratch_folder`).

    ``frames[i]`` returns frame ``i`` as an RGB ``uint8`` array ``(H, W, 3)`` (a view into the
    map). Use as a context manager, or call :meth:`close`, to delete the file.
    """

    def __init__(self, path: str | Path, limit: int | None = None, workdir: str | Path | None = None):
        info = probe(path)
        self.info = info
        n = info.n_frames if limit is None else min(info.n_frames, max(1, int(limit)))
        self.height, self.width = info.height, info.width
        if workdir is None:
            workdir = scratch_folder(max(n, 1) * self.height * self.width * 3)
        self._tmp = tempfile.TemporaryDirectory(prefix="talkinghead-frames-", dir=workdir)
        self._map = np.lib.format.open_memmap(
            Path(self._tmp.name) / "frames.npy", mode="w+", dtype=np.uint8, shape=(max(n, 1), self.height, self.width, 3)
        )
        count = 0
        for i, frame in enumerate(read_frames(path, info=info)):
            if i >= n:
                break
            self._map[i] = frame
            count += 1
        self.n_frames = max(count, 1) if info.is_image else count
        if self.n_frames == 0:
            from ..errors import MediaError

            raise MediaError(f"no frames could be decoded from {path}")

    def __len__(self) -> int:
        return self.n_frames

    def __getitem__(self, i: int) -> np.ndarray:
        return self._map[int(i)]

    def take(self, indices: np.ndarray) -> np.ndarray:
        """Frames at ``indices``, shape ``(len(indices), H, W, 3)`` (a copy)."""
        return np.stack([self._map[int(i)] for i in indices])

    def close(self) -> None:
        del self._map
        self._tmp.cleanup()

    def __enter__(self) -> "SourceFrames":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
