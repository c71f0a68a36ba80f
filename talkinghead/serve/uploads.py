"""Checking uploaded files before the server keeps them.

An upload is streamed into the data folder's ``incoming/`` under a random name, at most
``limit`` bytes (more is refused while it arrives). Its type is read from its first bytes, never
from the name or the content type the client sent, and it is decoded as the pipeline will decode
it (a face: its first frame through :mod:`talkinghead.media`; a recording: its audio). Only then
is it moved, atomically, to its place under a name the server chose. Whatever goes wrong, the
incoming file is removed and :class:`UploadError` says what was wrong with it.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import TalkingHeadError

#: Bytes read from an upload at a time.
CHUNK = 1 << 20
#: Smallest and largest side of a face, pixels.
MIN_FACE_SIDE = 64
MAX_FACE_SIDE = 4096
#: Longest face video and recording, seconds.
MAX_MEDIA_SECONDS = 600.0
#: Shortest recording, seconds.
MIN_RECORDING_SECONDS = 0.3
#: Largest script file, bytes.
MAX_SCRIPT_BYTES = 100_000

#: ``(magic bytes at offset, offset, suffix, kind)`` of the face files accepted.
_FACE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", 0, ".png", "image"),
    (b"\xff\xd8\xff", 0, ".jpg", "image"),
    (b"WEBP", 8, ".webp", "image"),
    (b"BM", 0, ".bmp", "image"),
    (b"II*\x00", 0, ".tif", "image"),
    (b"MM\x00*", 0, ".tif", "image"),
    (b"ftyp", 4, ".mp4", "video"),            # MP4, MOV, M4V
    (b"\x1a\x45\xdf\xa3", 0, ".mkv", "video"),  # Matroska, WebM
    (b"AVI ", 8, ".avi", "video"),
    (b"GIF87a", 0, ".gif", "video"),
    (b"GIF89a", 0, ".gif", "video"),
)
#: The same for recordings.
_AUDIO_TYPES = (
    (b"WAVE", 8, ".wav"),
    (b"fLaC", 0, ".flac"),
    (b"OggS", 0, ".ogg"),
    (b"ID3", 0, ".mp3"),
    (b"\xff\xfb", 0, ".mp3"),
    (b"\xff\xf3", 0, ".mp3"),
    (b"\xff\xf2", 0, ".mp3"),
    (b"ftyp", 4, ".m4a"),
)
FACE_TYPES_TEXT = "a PNG, JPEG, WebP, BMP or TIFF photo, or an MP4/MOV, MKV/WebM, AVI or GIF video"
AUDIO_TYPES_TEXT = "WAV, FLAC, Ogg, MP3 or M4A"


class UploadError(Exception):
    """An upload was refused. ``status``: the HTTP status to answer (413 too large, 415 not a
    type the server takes, 422 a file of the right type that cannot be used)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CheckedFace:
    """A face file that decoded.

    Attributes:
        path: where it is now (in ``incoming/``; :func:`keep` moves it).
        suffix: the extension its content calls for (``.png``, ``.mp4``...).
        kind: ``"image"`` or ``"video"`` (a one-frame video, such as a still GIF, is an image).
        width, height: pixels of its (upright) frames.
        frames: number of frames (1 for an image).
        fps: frames per second (0 for an image).
        size: bytes.
        sha256: content hash.
    """

    path: Path
    suffix: str
    kind: str
    width: int
    height: int
    frames: int
    fps: float
    size: int
    sha256: str


async def receive(chunks: AsyncIterator[bytes], incoming: Path, limit: int, what: str) -> tuple[Path, str, int]:
    """Write an upload's bytes to a new file in ``incoming`` (at most ``limit`` bytes).

    Returns ``(path, sha256, size)``. Raises :class:`UploadError` (413) past the limit and
    (422) for an empty upload; the file is removed then.
    """
    path = incoming / f"{uuid.uuid4().hex}.part"
    h = hashlib.sha256()
    size = 0
    try:
        with open(path, "xb") as f:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise UploadError(f"the {what} is larger than the server's limit of {_mb(limit)}", 413)
                h.update(chunk)
                f.write(chunk)
        if size == 0:
            raise UploadError(f"the {what} is empty (0 bytes)")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, h.hexdigest(), size


def _mb(n: int) -> str:
    return f"{n / 1e6:g} MB"


def _sniff(path: Path, table) -> tuple | None:
    with open(path, "rb") as f:
        head = f.read(16)
    for row in table:
        magic, offset = row[0], row[1]
        if head[offset:offset + len(magic)] == magic:
            return row
    return None


def check_face(path: Path, sha256: str, size: int) -> CheckedFace:
    """Check that ``path`` is a photo or video the pipeline can use as a face.

    The file is renamed to the extension its content calls for (the media reader tells a photo from
    a video by it). Raises :class:`UploadError` (the file is removed then, under either name).
    """
    row = _sniff(path, _FACE_TYPES)
    if row is None:
        raise UploadError(f"the face file is not {FACE_TYPES_TEXT} (its content is of no type the server "
                          "takes; the file name does not matter)", 415)
    suffix = row[2]
    typed = path.with_suffix(suffix)
    os.replace(path, typed)
    try:
        w, h, kind, frames, fps = _decode_face(typed, row[3])
        if min(w, h) < MIN_FACE_SIDE or max(w, h) > MAX_FACE_SIDE:
            raise UploadError(f"the face is {w}x{h} pixels: each side must be {MIN_FACE_SIDE} to "
                              f"{MAX_FACE_SIDE} pixels (scale it first)")
    except BaseException:
        typed.unlink(missing_ok=True)
        raise
    return CheckedFace(typed, suffix, kind, int(w), int(h), frames, fps, size, sha256)


def _decode_face(path: Path, kind: str) -> tuple[int, int, str, int, float]:
    """Decode a face's first frame as the pipeline will: ``(width, height, kind, frames, fps)``."""
    from ..media import probe, read_frames

    try:
        if kind == "image":
            frame = next(iter(read_frames(path)), None)
            info = None
        else:
            info = probe(path)
            frame = next(iter(read_frames(path, info=info, max_frames=1)), None)
    except TalkingHeadError as exc:
        raise UploadError(f"the face file cannot be decoded: {_without_path(str(exc), path)}") from None
    if frame is None:
        raise UploadError("the face file has no picture that can be decoded")
    h, w = frame.shape[:2]
    if info is None or info.n_frames == 1:
        return int(w), int(h), "image", 1, 0.0
    if info.duration > MAX_MEDIA_SECONDS:
        raise UploadError(f"the face video is {info.duration:.0f} s long: at most {MAX_MEDIA_SECONDS:.0f} s")
    return int(w), int(h), "video", int(info.n_frames), float(info.fps)


def check_recording(path: Path) -> tuple[Path, float]:
    """Check that ``path`` is a recording with sound. Returns ``(path with its extension,
    seconds)``. Raises :class:`UploadError`."""
    from ..media import read_audio

    row = _sniff(path, _AUDIO_TYPES)
    if row is None:
        raise UploadError(f"the recording is not {AUDIO_TYPES_TEXT} audio", 415)
    typed = path.with_suffix(row[2])
    os.replace(path, typed)
    try:
        try:
            audio = read_audio(typed, sample_rate=16000)
        except TalkingHeadError as exc:
            raise UploadError(f"the recording cannot be decoded: {_without_path(str(exc), typed)}") from None
        seconds = len(audio) / 16000.0
        if seconds < MIN_RECORDING_SECONDS:
            raise UploadError(f"the recording is {seconds:.2f} s long: too short to lip-sync")
        if seconds > MAX_MEDIA_SECONDS:
            raise UploadError(f"the recording is {seconds:.0f} s long: at most {MAX_MEDIA_SECONDS:.0f} s")
    except BaseException:
        typed.unlink(missing_ok=True)
        raise
    return typed, seconds


def decode_text(data: bytes, what: str) -> str:
    """An uploaded script or transcript as text (UTF-8, a byte-order mark dropped). Raises
    :class:`UploadError` for anything else."""
    if len(data) > MAX_SCRIPT_BYTES:
        raise UploadError(f"the {what} is larger than {MAX_SCRIPT_BYTES // 1000} kB", 413)
    if b"\0" in data:
        raise UploadError(f"the {what} is not a text file (it holds binary data)", 415)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadError(f"the {what} is not UTF-8 text", 415) from None
    if not text.strip():
        raise UploadError(f"the {what} is empty")
    return text


def keep(src: Path, dest: Path) -> Path:
    """Move a checked upload to ``dest`` (its folder is created), atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dest)
    return dest


def thumbnail(face: Path, dest: Path, height: int = 160) -> None:
    """A small JPEG of a face's first frame for the page (best effort: never raises)."""
    try:
        import cv2

        from ..fileio import atomic_path
        from ..media import read_frames

        frame = next(iter(read_frames(face, max_frames=1)))
        h, w = frame.shape[:2]
        small = cv2.resize(frame, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)
        with atomic_path(dest) as tmp:
            cv2.imwrite(str(tmp), cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    except Exception:  # noqa: BLE001 - the page shows the face's name instead
        pass


def _without_path(message: str, path: Path) -> str:
    """A media error's message without the server's file name in it."""
    return message.replace(f"{path}: ", "").replace(str(path), "the file")
