"""Video and image input/output through the ``ffmpeg`` binary shipped by ``imageio-ffmpeg``.

Reading streams decoded RGB frames from an ffmpeg pipe (never the whole video in memory); frames
come out upright (ffmpeg applies the rotation metadata) and at a constant frame rate (a variable
frame rate video is resampled to its average rate, which is logged). Still images are read with
OpenCV (EXIF orientation applied) and behave as one-frame videos.

Writing (:class:`VideoWriter`) streams RGB frames into ffmpeg (H.264, yuv420p), then muxes the
optional audio (AAC) to exactly the video's duration, and renames the result into place only on
success (:func:`talkinghead.fileio.atomic_path`).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError, MediaError, OutputError
from .fileio import atomic_path, check_writable

#: Frame rate of a still image (a portrait's idle clip, a one-frame track) and of a file whose
#: rate cannot be read, frames per second.
DEFAULT_FPS = 25.0

log = logging.getLogger(__name__)

#: File extensions read as still images (by OpenCV) rather than videos.
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm", ".pbm"}
)


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary (imageio-ffmpeg's bundled one)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` learns about a video or image.

    Attributes:
        width, height: size in pixels of the frames as :func:`read_frames` yields them (after
            rotation, so a portrait phone video reports its portrait size).
        fps: frame rate of the frames :func:`read_frames` yields (the average rate for a
            variable-frame-rate video; 1.0 for an image, by convention).
        n_frames: number of frames :func:`read_frames` yields (for a VFR video: the count after
            resampling to ``fps``, an estimate within a frame or two).
        duration: seconds (``n_frames / fps`` for a video; 0.0 for an image).
        has_audio: the file has at least one audio stream.
        rotation: display rotation in degrees from the metadata (0, 90, 180, 270); already applied
            to the frames.
        is_image: a still image (one frame).
        variable_frame_rate: the frame timestamps are not evenly spaced (frames are resampled).
        audio_duration: seconds of the first audio stream (0.0 without audio).
    """

    width: int
    height: int
    fps: float
    n_frames: int
    duration: float
    has_audio: bool
    rotation: int = 0
    is_image: bool = False
    variable_frame_rate: bool = False
    audio_duration: float = 0.0


def _check_exists(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise MediaError(f"file not found: {p}")
    if p.is_dir():
        raise MediaError(f"{p} is a folder, not a video or image file")
    if not os.access(p, os.R_OK):
        raise MediaError(f"cannot read {p}: permission denied")
    if p.stat().st_size == 0:
        raise MediaError(f"{p} is empty (0 bytes)")
    return p


def is_image_path(path: str | os.PathLike) -> bool:
    """True if ``path`` has a still-image extension (png, jpg, ...)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def is_still(path: str | os.PathLike, info: "MediaInfo | None" = None) -> bool:
    """True for a still picture: an image file, or a "video" of one frame (a GIF, a one-frame mp4).

    A still is animated as a portrait; a one-frame video decodes like an image.

    Raises:
        MediaError: see :func:`probe` (only when ``path`` is not an image file).
    """
    if is_image_path(path):
        return True
    info = info if info is not None else probe(path)
    return info.is_image or info.n_frames == 1


def _read_image(p: Path) -> np.ndarray:
    import cv2

    data = np.fromfile(str(p), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)  # applies EXIF orientation
    if img is None:
        raise MediaError(f"cannot decode image {p}: unreadable or corrupt file")
    # a second decode for the alpha (not turned by EXIF), except for a JPEG, which has none
    raw = None if data[:3].tobytes() == b"\xff\xd8\xff" else cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if raw is not None and raw.ndim == 3 and raw.shape[2] == 4 and raw.dtype in (np.uint8, np.uint16):
        # transparency: the colour stored under transparent pixels is not part of the picture (a
        # cut-out portrait may still carry its old background there); shown on white, as viewers do
        scale = 65535.0 if raw.dtype == np.uint16 else 255.0
        oriented = _as_oriented(raw, img, scale)
        if oriented is None:
            log.warning("%s: cannot line its transparency up with its EXIF orientation; the colour under "
                        "transparent pixels is kept", p.name)
        else:
            alpha = oriented[..., 3:4].astype(np.float32) / scale
            if (alpha < 1).any():
                colour = oriented[..., :3].astype(np.float32) * (255.0 / scale)
                img = np.clip(np.rint(colour * alpha + 255.0 * (1 - alpha)), 0, 255).astype(np.uint8)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


#: The eight EXIF orientations as array operations on ``(H, W, ...)``.
_ORIENTATIONS = (
    lambda a: a, np.fliplr, lambda a: np.rot90(a, 2), np.flipud,
    lambda a: a.swapaxes(0, 1), lambda a: np.rot90(a, -1), lambda a: np.rot90(a.swapaxes(0, 1), 2),
    lambda a: np.rot90(a, 1),
)


def _as_oriented(raw: np.ndarray, oriented_bgr: np.ndarray, scale: float) -> np.ndarray | None:
    """``raw`` (BGRA as stored) turned as the decoder turned ``oriented_bgr`` (its EXIF orientation,
    found by comparing the colours), or ``None`` when no orientation matches."""
    colour = raw[..., :3] if scale == 255.0 else (raw[..., :3] >> 8).astype(np.uint8)
    for turn in _ORIENTATIONS:
        c = turn(colour)
        if c.shape == oriented_bgr.shape and int(np.abs(c.astype(np.int16) - oriented_bgr).max(initial=0)) <= 1:
            return turn(raw)
    return None


_VIDEO_RE = re.compile(r"Stream #\d+:\d+[^:]*: Video: (.*)")
_SIZE_RE = re.compile(r",\s*(\d{2,5})x(\d{2,5})[\s,\[]")
_FPS_RE = re.compile(r"([\d.]+)\s*(k?)\s*fps")
_TBR_RE = re.compile(r"([\d.]+)\s*(k?)\s*tbr")
_ROT_RE = re.compile(r"rotation of (-?[\d.]+) degrees")
_ROTATE_TAG_RE = re.compile(r"^\s*rotate\s*:\s*(-?\d+)", re.M)


def _num(value: str, k: str) -> float:
    return float(value) * (1000.0 if k else 1.0)


def _ffmpeg_header(p: Path) -> str:
    r = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(p)],
        capture_output=True,
        text=True,
        errors="replace",
    )
    return r.stderr


def _packet_times(p: Path, stream: str) -> tuple[np.ndarray, str]:
    """Presentation times (s, sorted) of every packet of ``stream`` (e.g. "v:0"), no decoding,
    and what ffmpeg reported while reading them (``""``: nothing; "partial file" for a truncated
    one)."""
    r = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(p),
         "-map", f"0:{stream}", "-c", "copy", "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        errors="replace",
    )
    if r.returncode != 0:
        msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "ffmpeg failed"
        raise MediaError(f"cannot decode {p}: {msg}")
    tb = 1.0
    pts: list[float] = []
    for line in r.stdout.splitlines():
        if line.startswith("#tb"):
            num, den = line.split(":", 1)[1].strip().split("/")
            tb = float(num) / float(den)
        elif line and not line.startswith("#"):
            parts = [s.strip() for s in line.split(",")]
            if len(parts) >= 4:
                pts.append(float(parts[2]) * tb)
    return np.sort(np.asarray(pts, dtype=np.float64)), _last_message(r.stderr)


def _last_message(stderr: str) -> str:
    """ffmpeg's last error line without its ``[component @ 0x...]`` prefix (``""`` if none)."""
    lines = [ln.strip() for ln in stderr.strip().splitlines()
             if ln.strip() and "Last message repeated" not in ln]
    return re.sub(r"^(\[[^\]]*\]\s*)+", "", lines[-1]) if lines else ""


def _audio_duration(p: Path) -> float:
    """Seconds of decoded audio in the first audio stream (decoded at 1 kHz: cheap, 1 ms steps)."""
    r = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(p), "-map", "0:a:0",
         "-ac", "1", "-ar", "1000", "-f", "s16le", "-"],
        capture_output=True,
    )
    return (len(r.stdout) // 2) / 1000.0 if r.returncode == 0 else 0.0


def probe(path: str | os.PathLike, *, require_video: bool = True) -> MediaInfo:
    """Inspect a video or image file.

    Args:
        path: the file.
        require_video: raise :class:`MediaError` for a file without a video stream (e.g. audio).

    Returns:
        :class:`MediaInfo`; ``width``/``height``/``fps``/``n_frames`` describe exactly what
        :func:`read_frames` yields.

    Raises:
        MediaError: missing, empty, unreadable or corrupt file; no video stream; zero frames.

    The answer is remembered for the same file, unchanged (path, size, modification time): one
    run probes its face video from several stages, and a long video's probe reads all of its
    packets (1.2 s for 10 minutes).
    """
    p = _check_exists(path)
    st = p.stat()
    return _probe_file(str(p), str(p.resolve()), st.st_size, st.st_mtime_ns, st.st_ino, require_video)


@functools.lru_cache(maxsize=32)
def _probe_file(path: str, resolved: str, size: int, mtime_ns: int, inode: int, require_video: bool) -> MediaInfo:
    """:func:`probe` of an existing file ``path`` (as named in messages), memoised on the file's
    identity and state (the other arguments)."""
    p = Path(path)
    if is_image_path(p):
        img = _read_image(p)
        return MediaInfo(width=img.shape[1], height=img.shape[0], fps=1.0, n_frames=1, duration=0.0,
                         has_audio=False, is_image=True)

    header = _ffmpeg_header(p)
    if "Input #0" not in header:
        if "moov atom not found" in header:  # an mp4 whose index (written last) never was
            raise MediaError(f"cannot read {p}: the mp4 is incomplete (its index, the 'moov' atom, is missing: "
                             "a recording or download that did not finish?)")
        last = header.strip().splitlines()[-1] if header.strip() else "unknown format"
        raise MediaError(f"cannot read {p}: not a video, image or audio file ({last})")
    has_audio = bool(re.search(r"Stream #\d+:\d+[^:]*: Audio:", header))
    audio_duration = 0.0
    if has_audio:
        audio_duration = _audio_duration(p)
    vm = _VIDEO_RE.search(header)
    if vm is None or "attached pic" in vm.group(1):
        if not require_video:
            return MediaInfo(0, 0, 0.0, 0, audio_duration, has_audio, audio_duration=audio_duration)
        what = "an audio-only file" if has_audio else "a file without a video stream"
        raise MediaError(f"{p} is {what}; a video or image of a face is needed")
    vline = vm.group(1)
    sm = _SIZE_RE.search(vline)
    if sm is None:
        raise MediaError(f"cannot read {p}: the video stream has no frame size")
    w, h = int(sm.group(1)), int(sm.group(2))

    # Rotation: side data ("displaymatrix: rotation of -90.00 degrees") or an old "rotate" tag.
    rotation = 0
    rm = _ROT_RE.search(header)
    if rm is not None:
        rotation = int(round(-float(rm.group(1)))) % 360
    else:
        tm = _ROTATE_TAG_RE.search(header)
        if tm is not None:
            rotation = int(tm.group(1)) % 360
    if rotation in (90, 270):
        w, h = h, w

    times, problem = _packet_times(p, "v:0")
    n_packets = len(times)
    if n_packets <= 1 and problem:  # not a one-frame video (a portrait): the rest is missing
        raise MediaError(f"{p} is truncated or damaged ({problem}): "
                         + ("no frame" if n_packets == 0 else "only one frame") + " can be read")
    if n_packets == 0:
        raise MediaError(f"{p} has a video stream with zero frames")
    if problem:
        log.warning("%s is truncated or damaged (%s): using the %d frames that can be read", p, problem, n_packets)

    fm = _FPS_RE.search(vline)
    tm2 = _TBR_RE.search(vline)
    avg_fps = _num(*fm.groups()) if fm else 0.0
    tbr = _num(*tm2.groups()) if tm2 else 0.0
    fps = avg_fps or tbr
    vfr = False
    med = 0.0
    if n_packets >= 3:
        d = np.diff(times)
        med = float(np.median(d))
        if med > 0:
            vfr = bool(np.mean(np.abs(d - med) > 0.25 * med) > 0.05)
            if fps <= 0:
                fps = 1.0 / med
    if vfr:
        # Resample to the nominal rate (tbr: the rate the timestamps are laid out on, e.g. 30 for
        # a phone video averaging 29.4), unless it is implausible; ffmpeg's fps filter then gives
        # round(span * fps) frames.
        fps = tbr if avg_fps <= tbr <= 2.0 * max(avg_fps, 1.0 / med) else (avg_fps or 1.0 / med)
        span = float(times[-1] - times[0]) + med
        n_frames = max(1, int(round(span * fps)))
    else:
        if fps <= 0:
            fps = DEFAULT_FPS
        n_frames = n_packets
    duration = n_frames / fps
    return MediaInfo(width=w, height=h, fps=float(fps), n_frames=int(n_frames),
                     duration=float(duration), has_audio=has_audio, rotation=rotation,
                     is_image=False, variable_frame_rate=vfr, audio_duration=audio_duration)


def read_frames(
    path: str | os.PathLike,
    *,
    info: MediaInfo | None = None,
    max_frames: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield the frames of a video (or the single frame of an image), streamed.

    Args:
        path: video or image file.
        info: the result of :func:`probe` if already known (saves a probe).
        max_frames: stop after this many frames.

    Yields:
        RGB frames, shape ``(height, width, 3)``, uint8, upright (rotation metadata applied), at
        the constant rate ``info.fps`` (a variable-frame-rate video is resampled, with a log line).

    Raises:
        MediaError: the file cannot be decoded (see :func:`probe`), or decoding fails midway.
    """
    p = Path(path)
    info = info if info is not None else probe(p)
    if info.is_image:
        yield _read_image(p)
        return
    if max_frames is not None and max_frames <= 0:
        return
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(p), "-map", "0:v:0",
           "-an", "-sn", "-dn"]
    if info.variable_frame_rate:
        log.info("%s has a variable frame rate; resampling to a constant %.3f fps", p, info.fps)
        cmd += ["-vf", f"fps={info.fps:.6f}"]
    else:
        # each decoded frame once: the raw output's default constant-rate mode would repeat
        # frames to fill the container's nominal rate (a one-frame GIF at "100 fps" came out as
        # ten frames), and probe() counted the frames as they are stored
        cmd += ["-fps_mode", "passthrough"]
        max_frames = info.n_frames if max_frames is None else min(int(max_frames), info.n_frames)
    if max_frames is not None:
        cmd += ["-frames:v", str(int(max_frames))]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    frame_bytes = info.width * info.height * 3
    with tempfile.TemporaryFile() as errf:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errf,
                                bufsize=frame_bytes)
        n = 0
        try:
            assert proc.stdout is not None
            while max_frames is None or n < max_frames:
                buf = proc.stdout.read(frame_bytes)
                if len(buf) < frame_bytes:
                    break
                n += 1
                yield np.frombuffer(buf, dtype=np.uint8).reshape(info.height, info.width, 3)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if n == 0:
            errf.seek(0)
            err = errf.read().decode("utf-8", "replace").strip().splitlines()
            msg = err[-1] if err else "no frames decoded"
            raise MediaError(f"cannot decode {p}: {msg}")
        if max_frames is not None and n < max_frames and not info.variable_frame_rate:
            errf.seek(0)
            msg = _last_message(errf.read().decode("utf-8", "replace"))
            log.warning("%s is damaged: only %d of its %d frames could be decoded%s", p, n, max_frames,
                        f" ({msg})" if msg else "")


def sample_frames(path: str | os.PathLike, *, n: int, seconds: float, max_side: int,
                  info: MediaInfo | None = None) -> list[np.ndarray]:
    """Up to ``n`` frames evenly spaced over the first ``seconds`` of a video (fewer when it is
    shorter), upright (rotation metadata applied) and scaled down in the decoder so that the
    longer side is at most ``max_side`` (so a 4K video costs little more than a small one).

    Returns:
        RGB uint8 frames ``(h, w, 3)``.

    Raises:
        MediaError: nothing could be decoded.
    """
    p = Path(path)
    info = info if info is not None else probe(p)
    span = min(float(seconds), info.duration if info.duration and info.duration > 0 else float(seconds))
    f = min(1.0, max_side / max(info.width, info.height))
    w, h = max(2, int(info.width * f) // 2 * 2), max(2, int(info.height * f) // 2 * 2)
    rate = max(n / max(span, 1e-3), 1e-3)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-t", f"{span:.3f}", "-i", str(p),
           "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", f"fps={rate:.6f},scale={w}:{h}:flags=area",
           "-frames:v", str(int(n)), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True)
    size = w * h * 3
    k = len(r.stdout) // size
    if k == 0:
        raise MediaError(f"cannot decode {p}: {_last_message(r.stderr.decode('utf-8', 'replace')) or 'no frames'}")
    raw = np.frombuffer(r.stdout, dtype=np.uint8)
    return [raw[i * size:(i + 1) * size].reshape(h, w, 3) for i in range(k)]


def load_frames(path: str | os.PathLike, *, max_frames: int | None = None) -> np.ndarray:
    """All frames of a (short) video or an image as one array ``(n, H, W, 3)``, uint8, RGB."""
    frames = list(read_frames(path, max_frames=max_frames))
    return np.stack(frames)


def read_audio(path: str | os.PathLike, sample_rate: int = 16000) -> np.ndarray:
    """Decode the first audio stream of a file to mono float32 at ``sample_rate`` (shape ``(n,)``).

    Raises :class:`MediaError` if the file has no audio stream or cannot be decoded.
    """
    p = _check_exists(path)
    r = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(p), "-map", "0:a:0",
         "-ac", "1", "-ar", str(int(sample_rate)), "-f", "f32le", "-"],
        capture_output=True,
    )
    if r.returncode != 0:
        err = r.stderr.decode("utf-8", "replace").strip().splitlines()
        raise MediaError(f"cannot read audio from {p}: {err[-1] if err else 'no audio stream'}")
    return np.frombuffer(r.stdout, dtype=np.float32).copy()


class VideoWriter:
    """Write an mp4 (H.264 yuv420p, optional AAC audio) atomically, frame by frame.

    Usage::

        with VideoWriter("out.mp4", fps=25, audio=(samples, 22050)) as w:
            for frame in frames:          # RGB uint8 (H, W, 3), all the same size
                w.write(frame)

    The output's duration is exactly ``n_frames / fps``: the audio is trimmed or padded with
    silence to that length (the caller gives exactly the right number of frames). Nothing appears
    at ``path`` until the ``with`` block ends without an exception; on error the temporary files
    are removed. Frames of odd width/height are padded to even size (edge pixels repeated, one
    log line), as yuv420p needs.

    Args:
        path: output ``.mp4`` path.
        fps: frame rate.
        audio: ``None``; a path to an audio file (wav, ...); or ``(samples, sample_rate)`` with
            samples float32 in [-1, 1], shape ``(n,)`` (mono) or ``(n, channels)``.
        crf: x264 constant rate factor (0-51, lower = better; 18 is visually lossless-ish).
        preset: x264 preset (speed/size trade-off).
        metadata: ``{key: value}`` written as mp4 metadata tags.
        audio_bitrate: AAC bitrate, e.g. ``"160k"``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        *,
        audio: str | os.PathLike | tuple[np.ndarray, int] | None = None,
        crf: int = 18,
        preset: str = "medium",
        metadata: dict[str, str] | None = None,
        audio_bitrate: str = "160k",
    ) -> None:
        if not fps or fps <= 0:
            raise InputError(f"frame rate must be positive, got {fps}")
        self.path = check_writable(path)
        self.fps = float(fps)
        self.audio = audio
        self.crf = int(crf)
        self.preset = preset
        self.metadata = dict(metadata or {})
        self.audio_bitrate = audio_bitrate
        self.n_frames = 0
        self._size: tuple[int, int] | None = None  # (h, w) of input frames
        self._pad: tuple[int, int] = (0, 0)
        self._proc: subprocess.Popen | None = None
        self._tmpdir: Path | None = None
        self._errf = None
        self._atomic = None
        if isinstance(audio, (str, os.PathLike)):
            _check_exists(audio)

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> "VideoWriter":
        self._tmpdir = Path(tempfile.mkdtemp(prefix="talkinghead-video-"))
        self._errf = tempfile.TemporaryFile()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._finish()
            else:
                self._abort()
        finally:
            if self._errf is not None:
                self._errf.close()
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)

    # -- writing ---------------------------------------------------------------------------
    def _start(self, h: int, w: int) -> None:
        assert self._tmpdir is not None
        ph, pw = h % 2, w % 2
        if ph or pw:
            log.info("frame size %dx%d is odd; padding to %dx%d for yuv420p", w, h, w + pw, h + ph)
        self._size, self._pad = (h, w), (ph, pw)
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w + pw}x{h + ph}",
               "-framerate", f"{self.fps:.6f}", "-i", "-",
               "-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf),
               "-pix_fmt", "yuv420p", "-an", str(self._tmpdir / "video.mp4")]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=self._errf)

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB frame, shape ``(H, W, 3)``, uint8 (float in [0, 1] is converted)."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected an RGB frame of shape (H, W, 3), got {frame.shape}")
        if frame.dtype != np.uint8:
            frame = np.clip(np.rint(frame.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
        h, w = frame.shape[:2]
        if self._proc is None:
            if self._tmpdir is None:
                raise RuntimeError("VideoWriter must be used as a context manager")
            self._start(h, w)
        elif (h, w) != self._size:
            raise ValueError(f"frame {self.n_frames} is {w}x{h}, earlier frames were "
                             f"{self._size[1]}x{self._size[0]}")
        if self._pad != (0, 0):
            frame = np.pad(frame, ((0, self._pad[0]), (0, self._pad[1]), (0, 0)), mode="edge")
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).tobytes())
        except BrokenPipeError as e:
            raise OutputError(f"cannot write {self.path}: video encoder stopped "
                              f"({self._stderr_tail()})") from e
        self.n_frames += 1

    def write_frames(self, frames: Iterable[np.ndarray]) -> None:
        """Append several frames."""
        for f in frames:
            self.write(f)

    # -- internals -------------------------------------------------------------------------
    def _stderr_tail(self) -> str:
        if self._errf is None:
            return ""
        self._errf.seek(0)
        lines = self._errf.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else "no message"

    def _abort(self) -> None:
        if self._proc is not None:
            if self._proc.stdin is not None:
                try:
                    self._proc.stdin.close()
                except OSError:
                    pass
            self._proc.kill()
            self._proc.wait()

    def _audio_input(self) -> list[str]:
        assert self._tmpdir is not None
        a = self.audio
        if a is None:
            return []
        if isinstance(a, (str, os.PathLike)):
            return ["-i", str(a)]
        samples, sr = a
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] > 8:
            raise ValueError(f"audio must have shape (n,) or (n, channels), got {x.shape}")
        pcm = (np.clip(x, -1.0, 1.0) * 32767.0).round().astype("<i2")
        wav_path = self._tmpdir / "audio.wav"
        with wave.open(str(wav_path), "wb") as wf:
            wf.setnchannels(x.shape[1])
            wf.setsampwidth(2)
            wf.setframerate(int(sr))
            wf.writeframes(pcm.tobytes())
        return ["-i", str(wav_path)]

    def _finish(self) -> None:
        if self._proc is None:
            raise OutputError(f"no frames were written to {self.path}")
        assert self._proc.stdin is not None and self._tmpdir is not None
        self._proc.stdin.close()
        if self._proc.wait() != 0:
            raise OutputError(f"cannot write {self.path}: video encoding failed "
                              f"({self._stderr_tail()})")
        duration = self.n_frames / self.fps
        meta: list[str] = []
        for k, v in self.metadata.items():
            meta += ["-metadata", f"{k}={v}"]
        with atomic_path(self.path) as tmp:
            cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y",
                   "-i", str(self._tmpdir / "video.mp4"), *self._audio_input(),
                   "-map", "0:v:0"]
            if self.audio is not None:
                cmd += ["-map", "1:a:0", "-c:a", "aac", "-b:a", self.audio_bitrate,
                        "-af", "apad", "-t", f"{duration:.6f}"]
            cmd += ["-c:v", "copy", *meta, "-movflags", "+faststart+use_metadata_tags",
                    "-f", "mp4", str(tmp)]
            r = subprocess.run(cmd, capture_output=True)
            if r.returncode != 0:
                err = r.stderr.decode("utf-8", "replace").strip().splitlines()
                raise OutputError(f"cannot write {self.path}: muxing failed "
                                  f"({err[-1] if err else 'ffmpeg error'})")


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float,
    **kwargs,
) -> Path:
    """Write ``frames`` to ``path`` with :class:`VideoWriter` (same keyword options)."""
    with VideoWriter(path, fps, **kwargs) as w:
        w.write_frames(frames)
    return Path(path)
