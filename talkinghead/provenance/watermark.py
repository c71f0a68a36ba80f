"""Invisible, keyed spread-spectrum watermark in face-normalised coordinates.

Every frame the tool writes carries the same faint pseudo-random pattern, painted on the face:

* **Where.** The pattern lives on a grid of ``GRID_V x GRID_U`` square cells defined in *face
  coordinates*: a similarity transform (scale, in-plane rotation, translation) fitted by least
  squares from seven rigid landmarks (the four eye corners and three points of the nose bridge,
  MediaPipe indices :data:`ANCHORS`) to their positions on the canonical face
  (:data:`ANCHOR_UV`, outer eye corners 1 unit apart). The grid spans ``u in [-0.8, 0.8]``,
  ``v in [-0.5, 1.3]`` units (forehead to chin, cheek to cheek), each cell ``CELL`` = 0.05 units
  (about 8 px when the eyes are 160 px apart). Because the detector re-tracks the face in the
  suspect video and undoes the similarity transform, rescaling, cropping (as long as the face is
  in the picture) and moving the face around do not desynchronise it. Without landmarks the grid
  is stretched over the whole frame instead ("frame" mode: survives rescaling and re-encoding,
  not cropping).
* **What.** Each cell holds a keyed chip ``+-1``. A random half of the cells (the *sync* cells)
  carry the chip itself; the other half are shared out among the 64 bits of the coded payload
  (48 payload bits + CRC-16), ``chip * (+-1 bit)``, 8-9 cells per bit. The cell values are
  smoothed (Gaussian, sigma = cell / 2) so the pattern is low/mid-frequency, which is what
  survives H.264 at CRF 28 and downscaling; it is added to the luma (the same value on R, G, B),
  faded out at the grid's border, with amplitude ``strength`` (grey levels).
* **PSNR guard.** After rounding, if the change would make the frame's PSNR fall below
  ``min_psnr`` (40 dB) the pattern is scaled down until it does not; the default strength gives
  ~41-47 dB (lower for tight close-ups where the face fills the frame).

Detection (:func:`detect`) re-tracks the face in every used frame, warps the luma into the grid,
removes the image's own low frequencies (difference of Gaussians), averages over all frames, and
projects the average onto each cell's smoothing kernel: ``r_c``. The presence score is

    z = sum_c(chip_c * r_c) / sqrt(sum_c r_c**2)        over the sync cells.

For a video that does not carry this key's mark, the chips are independent of the content, so by
Hoeffding's inequality for Rademacher sums ``P(z >= t) <= exp(-t**2 / 2)`` whatever the content
(no assumption about the video). :data:`Z_THRESHOLD` = 6.5 bounds the false-positive probability
by 2 x exp(-21) ~ 1.5e-9 per video (two tests: face and frame mode). The payload bits are read by
summing ``chip_c * r_c`` over their cells; the CRC-16 confirms them (Chase decoding: if the CRC
fails, the least reliable bits are flipped in turn).

The key is a string; :data:`DEFAULT_KEY` is public (this is open-source software: anyone can
check a video for the mark, and, knowing the key, a determined adversary can also estimate and
subtract it; the mark defends against casual re-use, not against a knowledgeable attacker).
Use your own key (``key=...``) for a mark only you can detect.

Measured robustness and cost: ``docs/provenance.md`` (``benchmarks/bench_watermark.py``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import InputError

log = logging.getLogger(__name__)

#: Version of the watermark scheme (grid, key derivation, payload layout). Changing any constant
#: below makes old videos undetectable: bump this and keep the old scheme readable.
SCHEME_VERSION = 1

#: Public default key. Marks made with it can be detected by anyone with this software.
DEFAULT_KEY = "talkinghead-watermark-v1"

#: Rigid MediaPipe face-mesh landmarks used for the face-normalised frame: eye corners
#: (33, 133 | 362, 263) and the nose bridge (168, 6, 197).
ANCHORS = np.array([33, 133, 362, 263, 168, 6, 197])

#: Their canonical positions (x right, y down; outer eye corners 1 unit apart), the frontal
#: projection of MediaPipe's canonical face. Frozen here (not read from an asset) so that a
#: change elsewhere can never break detection of existing videos.
ANCHOR_UV = np.array(
    [[-0.5, 0.0614], [-0.1955, 0.0804], [0.1955, 0.0804], [0.5, 0.0614],
     [0.0, -0.0151], [0.0, 0.0608], [0.0, 0.1315]]
)

#: Cell size in canonical units (outer eye corners 1 unit apart).
CELL = 0.05
#: Grid extent in canonical units: u (left-right) and v (top-down).
U_RANGE = (-0.8, 0.8)
V_RANGE = (-0.5, 1.3)
GRID_U = int(round((U_RANGE[1] - U_RANGE[0]) / CELL))  # 32
GRID_V = int(round((V_RANGE[1] - V_RANGE[0]) / CELL))  # 36
#: Grid of the frame mode (no face): cells over the whole frame.
FRAME_GRID = (36, 36)
#: Pixels per cell of the internal canonical image (embedding pattern and detection warp).
PPC = 8

PAYLOAD_BYTES = 6
PAYLOAD_BITS = PAYLOAD_BYTES * 8
CODED_BITS = PAYLOAD_BITS + 16  # + CRC-16
#: Presence threshold on the z-score (see the module docstring for the false-positive bound).
Z_THRESHOLD = 6.5

DEFAULT_STRENGTH = 3.0
MIN_PSNR = 40.0


# ----------------------------------------------------------------------------------------------
# Payload


@dataclass(frozen=True)
class PayloadInfo:
    """The decoded contents of a payload made by :func:`make_payload`.

    Attributes:
        tool: tool code (1 = talkinghead).
        version: the tool version that made the video, ``"major.minor.patch"`` (each part 0-15).
        job_id: the job id, 8 hex characters (32 bits).
    """

    tool: int
    version: str
    job_id: str


TOOL_CODE = 1


def new_job_id() -> str:
    """A random job id: 8 lowercase hex characters (32 bits, what the watermark carries)."""
    return secrets.token_hex(4)


def job_code(job_id: str) -> str:
    """The 8-hex-character code the watermark carries for ``job_id``.

    ``job_id`` itself when it already is 8 hex characters (see :func:`new_job_id`), else the
    first 32 bits of its SHA-256 (so any id string can be matched against a detected mark).
    """
    s = job_id.strip().lower()
    if len(s) == 8 and all(c in "0123456789abcdef" for c in s):
        return s
    return hashlib.sha256(job_id.encode("utf-8")).hexdigest()[:8]


def _pack_version(version: str) -> int:
    parts = []
    for p in (version.split(".") + ["0", "0", "0"])[:3]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(min(int(digits) if digits else 0, 15))
    return (parts[0] << 8) | (parts[1] << 4) | parts[2]


def make_payload(job_id: str, version: str = __version__) -> bytes:
    """The 6-byte payload: tool code (4 bits), version (3 x 4 bits), job code (32 bits).

    Args:
        job_id: the job's id (see :func:`job_code` for how it is reduced to 32 bits).
        version: the tool version, e.g. ``"0.1.0"`` (each part capped at 15).
    """
    head = (TOOL_CODE << 12) | _pack_version(version)
    return head.to_bytes(2, "big") + bytes.fromhex(job_code(job_id))


def parse_payload(payload: bytes) -> PayloadInfo:
    """Decode a payload made by :func:`make_payload`."""
    if len(payload) != PAYLOAD_BYTES:
        raise ValueError(f"payload must be {PAYLOAD_BYTES} bytes, got {len(payload)}")
    head = int.from_bytes(payload[:2], "big")
    v = head & 0xFFF
    return PayloadInfo(tool=head >> 12, version=f"{v >> 8}.{(v >> 4) & 15}.{v & 15}",
                       job_id=payload[2:].hex())


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of ``data``."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _coded_bits(payload: bytes) -> np.ndarray:
    """Payload + CRC-16 as ``(CODED_BITS,)`` int8 in {-1, +1} (MSB first)."""
    data = payload + crc16(payload).to_bytes(2, "big")
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    return (bits.astype(np.int8) * 2 - 1)


# ----------------------------------------------------------------------------------------------
# Keyed layout


@dataclass(frozen=True)
class _Layout:
    """Chips and cell roles of one key and grid: ``chips`` (gv, gu) float32 +-1; ``role`` (gv, gu)
    int: -1 = sync cell, k = coded bit k."""

    chips: np.ndarray
    role: np.ndarray


@functools.lru_cache(maxsize=8)
def _layout(key: str, mode: str, gv: int, gu: int) -> _Layout:
    seed = int.from_bytes(hashlib.sha256(f"{key}|{mode}|{SCHEME_VERSION}".encode()).digest()[:8], "big")
    rng = np.random.Generator(np.random.PCG64(seed))
    n = gv * gu
    chips = rng.integers(0, 2, size=n).astype(np.float32) * 2 - 1
    perm = rng.permutation(n)
    role = np.full(n, -1, dtype=np.int64)
    n_sync = n // 2
    role[perm[n_sync:]] = np.arange(n - n_sync) % CODED_BITS
    return _Layout(chips.reshape(gv, gu), role.reshape(gv, gu))


def _cell_kernel_sigma() -> float:
    return PPC / 2.0


def _taper(n: int, width: int) -> np.ndarray:
    """1-D window: 0 at the ends rising to 1 over ``width`` samples (raised cosine)."""
    w = np.ones(n, dtype=np.float32)
    r = 0.5 - 0.5 * np.cos(np.pi * (np.arange(width) + 0.5) / width)
    w[:width] = r
    w[n - width:] = r[::-1]
    return w


@functools.lru_cache(maxsize=16)
def _pattern_image(key: str, mode: str, payload: bytes) -> np.ndarray:
    """The smooth pattern at ``PPC`` pixels per cell, float32 ``(gv*PPC, gu*PPC)``, peak ~1."""
    import cv2

    gv, gu = _grid(mode)
    lay = _layout(key, mode, gv, gu)
    bits = _coded_bits(payload).astype(np.float32)
    vals = lay.chips * np.where(lay.role < 0, 1.0, bits[np.clip(lay.role, 0, None)])
    img = np.kron(vals, np.ones((PPC, PPC), dtype=np.float32))
    s = _cell_kernel_sigma()
    img = cv2.GaussianBlur(img, (0, 0), s, borderType=cv2.BORDER_CONSTANT)
    img /= float(np.sqrt(np.mean(img**2)))  # unit RMS inside the grid
    win = np.outer(_taper(img.shape[0], 2 * PPC), _taper(img.shape[1], 2 * PPC))
    return (img * win).astype(np.float32)


def _grid(mode: str) -> tuple[int, int]:
    return (GRID_V, GRID_U) if mode == "face" else FRAME_GRID


# ----------------------------------------------------------------------------------------------
# Geometry


def similarity_from_landmarks(landmarks_px: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama, no reflection) from canonical face units to pixels.

    Args:
        landmarks_px: ``(478, 2+)`` MediaPipe landmarks in frame pixels (only x, y of
            :data:`ANCHORS` are used).

    Returns:
        ``(2, 3)`` float64 matrix ``A`` with ``[x, y] = A @ [u, v, 1]``.
    """
    lm = np.asarray(landmarks_px, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[0] <= int(ANCHORS.max()) or lm.shape[1] < 2:
        raise InputError(f"landmarks must have shape (478, 2 or 3), got {lm.shape}")
    dst = lm[ANCHORS, :2]
    src = ANCHOR_UV
    if not np.all(np.isfinite(dst)):
        raise InputError("landmarks contain NaN/inf at the anchor points")
    ms, md = src.mean(0), dst.mean(0)
    s0, d0 = src - ms, dst - md
    cov = d0.T @ s0 / len(src)
    u, sv, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    r = u @ np.diag(d) @ vt
    scale = float((sv * d).sum() / (s0**2).sum() * len(src))
    t = md - scale * r @ ms
    return np.hstack([scale * r, t[:, None]])


def _image_to_frame(mode: str, frame_hw: tuple[int, int], landmarks_px: np.ndarray | None) -> np.ndarray:
    """``(2, 3)`` affine from canonical-image pixels (centres at +0.5) to frame pixels."""
    gv, gu = _grid(mode)
    if mode == "face":
        a = similarity_from_landmarks(landmarks_px)
        # canonical image pixel (j, i) -> (u, v) = (U0 + (j + 0.5) * CELL / PPC, ...)
        k = CELL / PPC
        img2uv = np.array([[k, 0, U_RANGE[0] + 0.5 * k], [0, k, V_RANGE[0] + 0.5 * k], [0, 0, 1]])
        return a @ img2uv
    h, w = frame_hw
    sx, sy = w / (gu * PPC), h / (gv * PPC)
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5]])


def _luma(frame: np.ndarray) -> np.ndarray:
    f = frame.astype(np.float32)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


# ----------------------------------------------------------------------------------------------
# Embedding


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images of the same shape (``inf`` if identical)."""
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def embed(
    frame_rgb_uint8: np.ndarray,
    landmarks_px: np.ndarray | None,
    payload: bytes,
    strength: float = DEFAULT_STRENGTH,
    *,
    key: str = DEFAULT_KEY,
    min_psnr: float = MIN_PSNR,
) -> np.ndarray:
    """Add the watermark to one frame.

    Args:
        frame_rgb_uint8: ``(H, W, 3)`` uint8 RGB frame (not modified).
        landmarks_px: ``(478, 3)`` (or ``(478, 2)``) MediaPipe landmarks of the face in this
            frame, in pixels (e.g. ``FaceTrack.landmarks[t]``); ``None`` = no face: the pattern
            is spread over the whole frame ("frame" mode, not robust to cropping).
        payload: :data:`PAYLOAD_BYTES` bytes, e.g. :func:`make_payload` ``(job_id)``.
        strength: pattern amplitude, RMS grey levels inside the grid (default 3.0).
        key: watermark key (default the public :data:`DEFAULT_KEY`).
        min_psnr: the change is scaled down if needed so the frame's PSNR stays >= this (dB).

    Returns:
        The marked frame, ``(H, W, 3)`` uint8.
    """
    import cv2

    frame = np.asarray(frame_rgb_uint8)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise InputError(f"frame must be RGB uint8 (H, W, 3), got {frame.shape} {frame.dtype}")
    if not isinstance(payload, (bytes, bytearray)) or len(payload) != PAYLOAD_BYTES:
        raise InputError(f"watermark payload must be {PAYLOAD_BYTES} bytes (see make_payload)")
    h, w = frame.shape[:2]
    mode = "face" if landmarks_px is not None else "frame"
    pat = _pattern_image(key, mode, bytes(payload))
    m = _image_to_frame(mode, (h, w), landmarks_px)
    field_ = cv2.warpAffine(pat, m, (w, h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    delta = np.rint(field_ * float(strength))
    max_mse = 255.0**2 / 10.0 ** (min_psnr / 10.0)
    for _ in range(4):
        mse = float(np.mean(delta**2))  # per pixel; the same change on all three channels
        if mse <= max_mse:
            break
        delta = np.rint(delta * np.sqrt(max_mse / mse) * 0.98)
    d = delta.astype(np.int16)[..., None]
    return np.clip(frame.astype(np.int16) + d, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# Detection


@dataclass
class Detection:
    """Result of :func:`detect`.

    Attributes:
        present: the mark is there (``score >= Z_THRESHOLD``).
        score: z-score of the sync cells (~N(0, 1) on unmarked video; see the module docstring).
        payload: the decoded :data:`PAYLOAD_BYTES` bytes when the CRC-16 checks, else ``None``.
        frames_used: frames that contributed (a face was found / frame mode).
        mode: ``"face"`` or ``"frame"``: the grid that gave the score.
        info: :class:`PayloadInfo` of the payload, when decoded.
        bit_errors_corrected: bits flipped by the Chase decoder to satisfy the CRC.
        scores: z-score of each mode tried.
    """

    present: bool
    score: float
    payload: bytes | None
    frames_used: int
    mode: str = "face"
    info: PayloadInfo | None = None
    bit_errors_corrected: int = 0
    scores: dict[str, float] = field(default_factory=dict)


class _Accumulator:
    """Sums of the whitened luma in one grid, over frames."""

    def __init__(self, mode: str) -> None:
        gv, gu = _grid(mode)
        self.mode = mode
        self.shape = (gv * PPC, gu * PPC)
        self.sum = np.zeros(self.shape, np.float64)
        self.cnt = np.zeros(self.shape, np.float64)
        self.frames = 0

    def add(self, luma: np.ndarray, landmarks_px: np.ndarray | None) -> None:
        import cv2

        h, w = luma.shape
        m = _image_to_frame(self.mode, (h, w), landmarks_px)
        size = (self.shape[1], self.shape[0])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        img = cv2.warpAffine(luma, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        valid = cv2.warpAffine(np.ones_like(luma), m, size, flags=flags,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        valid = (valid > 0.999).astype(np.float32)
        res = _whiten(img)
        # a pixel near the frame's border sees replicated content in its filter window
        valid = cv2.erode(valid, np.ones((2 * PPC + 1, 2 * PPC + 1), np.uint8))
        self.sum += res * valid
        self.cnt += valid
        self.frames += 1

    def cell_values(self) -> np.ndarray:
        """``(gv, gu)`` projections ``r_c`` of the average whitened luma on the cell kernels."""
        import cv2

        mean = np.where(self.cnt > 0, self.sum / np.maximum(self.cnt, 1), 0.0).astype(np.float32)
        sm = cv2.GaussianBlur(mean, (0, 0), _cell_kernel_sigma(), borderType=cv2.BORDER_CONSTANT)
        gv, gu = _grid(self.mode)
        r = sm.reshape(gv, PPC, gu, PPC).sum(axis=(1, 3))
        cov = self.cnt.reshape(gv, PPC, gu, PPC).mean(axis=(1, 3))
        return np.where(cov >= 0.2 * max(self.frames, 1), r, 0.0)


def _whiten(img: np.ndarray) -> np.ndarray:
    """Remove the picture's own low frequencies and clip outliers (edges): float32, same shape."""
    import cv2

    hp = img - cv2.GaussianBlur(img, (0, 0), 1.5 * PPC)
    mad = float(np.median(np.abs(hp))) + 1e-3
    return np.clip(hp, -3 * mad, 3 * mad)


def _score(acc: _Accumulator, key: str) -> tuple[float, np.ndarray, np.ndarray]:
    """z-score, and the soft values and cell counts of the coded bits."""
    gv, gu = _grid(acc.mode)
    lay = _layout(key, acc.mode, gv, gu)
    r = acc.cell_values()
    cr = (lay.chips * r).ravel()
    role = lay.role.ravel()
    sync = role < 0
    den = float(np.sqrt(np.sum(r.ravel()[sync] ** 2)))
    z = float(cr[sync].sum() / den) if den > 0 else 0.0
    soft = np.bincount(role[~sync], weights=cr[~sync], minlength=CODED_BITS)
    return z, soft, r


def _decode_bits(soft: np.ndarray, max_flips: int = 4) -> tuple[bytes | None, int]:
    """Hard decisions + CRC check; Chase-2 over the ``max_flips`` least reliable bits."""
    import itertools

    hard = (soft > 0).astype(np.uint8)
    order = np.argsort(np.abs(soft))[:max_flips]
    for n in range(max_flips + 1):
        for combo in itertools.combinations(order, n):
            b = hard.copy()
            b[list(combo)] ^= 1
            data = np.packbits(b).tobytes()
            payload, crc = data[:PAYLOAD_BYTES], int.from_bytes(data[PAYLOAD_BYTES:], "big")
            if crc16(payload) == crc:
                return payload, n
    return None, 0


def _frames_and_landmarks(source, max_frames: int | None):
    """Frames (list of RGB uint8) of a path or iterable, evenly sub-sampled to ``max_frames``."""
    if isinstance(source, (str, os.PathLike)):
        from ..media import probe, read_frames

        info = probe(source)
        step = 1
        if max_frames and info.n_frames > max_frames:
            step = int(np.ceil(info.n_frames / max_frames))
        frames = [f for i, f in enumerate(read_frames(source, info=info)) if i % step == 0]
        return frames
    frames = list(source) if not isinstance(source, np.ndarray) or source.ndim == 4 else [source]
    if max_frames and len(frames) > max_frames:
        step = int(np.ceil(len(frames) / max_frames))
        frames = frames[::step]
    return frames


def detect(
    video: str | os.PathLike | Iterable[np.ndarray],
    *,
    key: str = DEFAULT_KEY,
    max_frames: int | None = 300,
    landmarks: Sequence[np.ndarray | None] | None = None,
    progress: bool = False,
) -> Detection:
    """Look for the watermark in a video (or frames).

    Args:
        video: a video path, or RGB uint8 frames ``(H, W, 3)`` (list, array or iterator).
        key: the key the mark was made with.
        max_frames: use at most this many frames, evenly spaced (None = all).
        landmarks: per-frame landmarks ``(478, 3)`` (pixels, None where no face), if already
            known; otherwise the face is tracked here (MediaPipe face mesh).
        progress: show a progress bar while tracking.

    Returns:
        :class:`Detection`. Unreadable input raises :class:`~talkinghead.errors.MediaError`.
    """
    frames = _frames_and_landmarks(video, max_frames)
    if not frames:
        raise InputError("no frames to look for a watermark in")
    if landmarks is None:
        landmarks = _track(frames, progress)
    elif max_frames and len(landmarks) > len(frames):
        step = int(np.ceil(len(landmarks) / max_frames))
        landmarks = list(landmarks)[::step]
    acc_face, acc_frame = _Accumulator("face"), _Accumulator("frame")
    for f, lm in zip(frames, landmarks):
        y = _luma(f)
        acc_frame.add(y, None)
        if lm is not None and np.all(np.isfinite(np.asarray(lm)[ANCHORS, :2])):
            acc_face.add(y, lm)
    scores: dict[str, float] = {}
    best = None
    for acc in (acc_face, acc_frame):
        if acc.frames == 0:
            continue
        z, soft, _ = _score(acc, key)
        scores[acc.mode] = z
        if best is None or z > best[0]:
            best = (z, soft, acc)
    assert best is not None
    z, soft, acc = best
    present = z >= Z_THRESHOLD
    payload, flips = _decode_bits(soft) if present else (None, 0)
    info = parse_payload(payload) if payload is not None else None
    return Detection(present=bool(present), score=float(z), payload=payload, frames_used=acc.frames,
                     mode=acc.mode, info=info, bit_errors_corrected=flips, scores=scores)


def _track(frames: list[np.ndarray], progress: bool) -> list[np.ndarray | None]:
    """Raw MediaPipe landmarks per frame (None where no face)."""
    from ..errors import FaceError
    from ..face.tracking import detect_landmarks

    try:
        raw, det, _, _ = detect_landmarks(frames, n_frames=len(frames), progress=progress,
                                          static=len(frames) == 1)
    except FaceError:
        return [None] * len(frames)
    return [raw[i] if det[i] else None for i in range(len(frames))]
