"""A face photo or video scaled down before anything else (``say --max-side``).

Every step that touches whole frames (animating a portrait, decoding, blending, the watermark,
encoding) costs time in proportion to the pixels: a 12-megapixel phone photo took about 0.7 s per
output frame (2-core CPU), where a 1080p copy of it takes a fraction of that, and the face itself
is rebuilt at 192x192 pixels anyway. :func:`scaled_face` makes a copy of the face file whose longer
side is at most ``max_side`` pixels (aspect ratio kept, even sizes for H.264), once: it is cached by
the file's content hash and the size (``$TALKINGHEAD_CACHE/scaled``), so the tracking and the
prepared refiner of the copy are cached too. The output video then has the copy's size.

* :func:`scaled_size` - the size a frame is scaled to.
* :func:`scaled_face` - the scaled copy of a face file (a PNG for a photo, an H.264 mp4 for a video).
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from pathlib import Path

from ..errors import InputError, MediaError
from .. import cache as disk_cache
from ..fileio import atomic_path
from ..options import MIN_MAX_SIDE  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

#: x264 quality of a scaled video copy (visually lossless: it is the source of every frame).
SCALED_CRF = 12
#: A face file whose longer side exceeds this, used at its own size, gets a hint about ``max_side``.
LARGE_SIDE = 2560


def scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """``(w, h)`` with the longer side at most ``max_side``, the aspect ratio kept, both even (and
    >= 2); ``(width, height)`` unchanged when it already fits."""
    if max(width, height) <= max_side:
        return int(width), int(height)
    s = max_side / max(width, height)
    w, h = (max(2, int(round(v * s / 2)) * 2) for v in (width, height))
    return min(w, max_side - max_side % 2), min(h, max_side - max_side % 2)


def cache_dir() -> Path:
    """``$TALKINGHEAD_CACHE/scaled`` or ``~/.cache/talkinghead/scaled``."""
    return disk_cache.cache_dir("scaled")


def scaled_face(path: str | os.PathLike, max_side: int | None, *, cache: bool = True,
                progress: bool = False) -> Path:
    """A copy of a face photo or video whose longer side is at most ``max_side`` pixels.

    Args:
        path: the face video or image.
        max_side: the largest side in pixels (>= :data:`MIN_MAX_SIDE`); ``None``: no scaling.
        cache: reuse a copy made earlier (same content, same size).
        progress: a progress bar while a video is scaled.

    Returns:
        ``path`` itself when it already fits (or ``max_side`` is ``None``); otherwise the copy: a
        PNG for an image or a one-frame video (such as a still GIF), an H.264 mp4 without audio
        for a video, every frame kept with its timing.

    Raises:
        InputError: ``max_side`` below :data:`MIN_MAX_SIDE`.
        MediaError: the file cannot be read or scaled.
    """
    from ..media import is_still, probe

    p = Path(path)
    if max_side is None:
        info = probe(p)
        if max(info.width, info.height) > LARGE_SIDE:
            log.warning("%s is %dx%d: every output frame is made at that size, which takes long; "
                        "--max-side 1920 (max_side=1920) would scale it down first", p.name, info.width,
                        info.height)
        return p
    if int(max_side) < MIN_MAX_SIDE:
        raise InputError(f"--max-side {max_side} is too small (at least {MIN_MAX_SIDE} pixels)")
    info = probe(p)
    w, h = scaled_size(info.width, info.height, int(max_side))
    if (w, h) == (info.width, info.height):
        return p
    still = is_still(p, info)
    name = f"{disk_cache.content_key(p, tag=f'{w}x{h}')}{'.png' if still else '.mp4'}"
    out, hit = disk_cache.cache_slot("scaled", name, read=cache, write=cache, temp_prefix="talkinghead-scaled-")
    if hit:
        log.info("scaled copy of %s loaded from the cache (%s)", p, out)
        return out
    log.info("scaling %s from %dx%d to %dx%d", p, info.width, info.height, w, h)
    if still:
        _scale_image(p, out, w, h)
    else:
        transcode_video(p, out, f"scale={w}:{h}:flags=area", info.n_frames, progress=progress, what="scale")
    return out


def _scale_image(src: Path, out: Path, w: int, h: int) -> None:
    import cv2

    from ..media import load_frames

    img = cv2.resize(load_frames(src, max_frames=1)[0], (w, h), interpolation=cv2.INTER_AREA)
    with atomic_path(out) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
            raise MediaError(f"cannot write the scaled copy of {src} ({tmp})")


def transcode_video(src: Path, out: Path, video_filter: str, n_frames: int, *, progress: bool = False,
                    what: str = "scale") -> None:
    """Write ``src``'s video stream through an ffmpeg filter (e.g. ``"transpose=1"``) to ``out``
    (atomically): H.264 at :data:`SCALED_CRF`, no audio, every frame kept with its timing.

    Raises:
        MediaError: ffmpeg fails (the message names ``what``: "cannot scale ...").
    """
    from tqdm import tqdm

    from ..media import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-nostats", "-progress", "pipe:1",
           "-i", str(src), "-map", "0:v:0", "-an", "-sn", "-dn", "-fps_mode", "passthrough",
           "-vf", video_filter, "-c:v", "libx264", "-preset", "veryfast",
           "-crf", str(SCALED_CRF), "-pix_fmt", "yuv420p", "-movflags", "+faststart"]
    desc = {"scale": "scaling face", "turn": "turning face"}.get(what, what)
    with atomic_path(out) as tmp, tempfile.TemporaryFile() as errf, \
            tqdm(total=n_frames or None, disable=not progress, desc=desc, unit="frame") as bar:
        proc = subprocess.Popen(cmd + ["-y", str(tmp)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=errf, text=True)
        assert proc.stdout is not None
        try:
            for line in proc.stdout:  # "frame=N" lines from -progress
                if line.startswith("frame="):
                    try:
                        bar.update(max(int(line[6:]) - bar.n, 0))
                    except ValueError:
                        pass
        except BaseException:  # Ctrl-C, SIGTERM: the encoder must not go on writing a removed file
            proc.kill()
            proc.wait()
            raise
        finally:
            proc.stdout.close()
        if proc.wait() != 0:
            errf.seek(0)
            err = errf.read().decode("utf-8", "replace").strip().splitlines()
            raise MediaError(f"cannot {what} {src}: {err[-1] if err else 'ffmpeg failed'}")
