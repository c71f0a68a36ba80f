"""Random access to a face video's frames with bounded memory.

The output video may be longer than the face video (it then plays forward and backward,
"ping-pong") and the stages work on chunks of frames, so frames are needed out of order. The
source is decoded once into an uncompressed ``uint8`` memory-mapped file in a temporary folder;
the operating system pages frames in and out, so RAM stays bounded whatever the length.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .media import probe, read_frames


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
        workdir: where the memory-mapped file lives (default: a new temporary folder).

    ``frames[i]`` returns frame ``i`` as an RGB ``uint8`` array ``(H, W, 3)`` (a view into the
    map). Use as a context manager, or call :meth:`close`, to delete the file.
    """

    def __init__(self, path: str | Path, limit: int | None = None, workdir: str | Path | None = None):
        info = probe(path)
        self.info = info
        n = info.n_frames if limit is None else min(info.n_frames, max(1, int(limit)))
        self.height, self.width = info.height, info.width
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
            from .errors import MediaError

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
