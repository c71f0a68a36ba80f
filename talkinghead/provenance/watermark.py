"""Invisible, keyed spread-spectrum video watermark in face-normalised coordinates.

Every frame the tool writes carries a faint pseudo-random pattern painted on the face, whose
amplitude swings slowly in time:

* **Where.** The pattern lives on a grid of ``GRID_V x GRID_U`` = 36 x 32 square cells defined in
  *face coordinates*: a similarity transform (scale, in-plane rotation, translation) fitted by
  least squares from seven rigid landmarks (the four eye corners and three points of the nose
  bridge, MediaPipe indices :data:`ANCHORS`) to their positions on the canonical face
  (:data:`ANCHOR_UV`, outer eye corners 1 unit apart). The grid spans ``u in [-0.8, 0.8]``,
  ``v in [-0.5, 1.3]`` units (forehead to chin, cheek to cheek), each cell :data:`CELL` = 0.05
  units (about 8 px when the outer eye corners are 160 px apart). The detector re-tracks the
  face in the suspect video and undoes the transform, so rescaling, cropping (while the face
  stays in the picture) and moving the face do not desynchronise it. Without landmarks the grid
  is stretched over the whole frame instead ("frame" mode: survives rescaling and re-encoding,
  not cropping).
* **What.** Each cell holds a keyed chip ``+-1``. A random half of the cells (the *sync* cells)
  carry the chip itself; the other half carry the coded payload, ``chip * (+-1 bit)``: 48 payload
  bits + CRC-16, convolutionally encoded (constraint length 7, rate 1/2, zero tail: 140 code
  bits, 4-5 cells each). The cell values are
  smoothed (Gaussian, sigma = half a cell), so the pattern is low/mid-frequency (what survives
  H.264 at CRF 28 and downscaling), faded out at the grid's border, and added to the luma (the
  same value on R, G and B), fainter in dark pixels (luma below :data:`DARK_KNEE`, in proportion)
  and near white (:data:`BRIGHT_KNEE`).
* **When.** The pattern's amplitude is ``strength * cos(2 pi F0 t)`` with :data:`F0_HZ` = 2 Hz,
  ``t`` the frame's time in seconds. This temporal modulation is what makes the mark detectable
  at all under a 40 dB PSNR budget: a *static* pattern is drowned by the face's own static
  texture (measured: z ~ 3 on an uncompressed 8 s clip, hopeless after re-encoding), whereas the
  face has little texture that oscillates at exactly 2 Hz, in phase with the key's chips.
* **PSNR guard.** After rounding, if the change would bring a frame below ``min_psnr`` (40 dB) it
  is scaled down until it does not.

Detection (:func:`detect`) re-tracks the face in each frame, warps the luma into the grid,
removes the picture's low frequencies (difference of Gaussians) and clips outliers (edges) at
1.5 x the median absolute value, and projects the result on each cell's smoothing kernel:
``r_c(t)``. Per cell it removes the temporal mean and takes the 2 Hz Fourier coefficient
``G_c = sum_t r_c(t) exp(-2 pi i F0 t)`` (the phase, i.e. where the clip starts, is unknown and
does not matter). The presence score is

    z = |sum_c chip_c G_c| / sqrt(sum_c |G_c|**2)        over the sync cells.

For a video that does not carry this key's mark the chips are independent of the content, and by
Hoeffding's inequality for Rademacher sums (applied to the real and imaginary parts)
``P(z >= t) <= 4 exp(-t**2 / 2)`` whatever the content: no assumption about the video is needed.
:data:`Z_THRESHOLD` = 6.5 bounds the false-positive probability by 2 x 4 exp(-21.1) ~ 5e-9 per
video (two grids tried: face and frame). The payload bits are read in the phase of the sync
cells: ``Re(exp(-i arg Z) sum_c chip_c G_c)`` over each code bit's cells, decoded by a
soft-decision Viterbi decoder and checked with the CRC-16 (a payload is only reported when the
CRC matches, and only when the mark is present).

The key is a string; :data:`DEFAULT_KEY` is public (this is open-source software: anyone can
check a video for the mark, and, knowing the key, a determined adversary can also estimate and
subtract it: the mark survives ordinary handling, it is not a defence against a knowledgeable
attacker). Use your own ``key`` for a mark only you can detect.

Measured robustness and cost: ``docs/provenance.md`` (``benchmarks/bench_watermark.py``).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import __version__
from ..errors import InputError
from ..media import DEFAULT_FPS

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
#: Convolutional code: constraint length 7, generators 171/133 (octal), rate 1/2, zero tail.
CONV_K = 7
CONV_G = (0o171, 0o133)
#: Bits on the picture: 2 x (48 payload + 16 CRC + 6 tail) = 140.
CODED_BITS = 2 * (PAYLOAD_BITS + 16 + CONV_K - 1)
#: Temporal modulation frequency of the pattern's amplitude, Hz.
F0_HZ = 2.0
#: Presence threshold on the z-score (see the module docstring for the false-positive bound).
Z_THRESHOLD = 6.5

#: Default peak amplitude of the pattern (grey levels, RMS over the grid at the peak).
DEFAULT_STRENGTH = 4.0
MIN_PSNR = 40.0
#: Below this luma (8-bit code value) the pattern's amplitude falls in proportion to the luma:
#: the eye sees a change relative to the light (Weber), so the same +-4 levels that vanish in
#: mid-grey skin made a coarse blotchy pattern on an underexposed face (skin at 10-25) and in
#: shadows. Skin in a normally exposed video (codes ~80-220) keeps the full amplitude.
DARK_KNEE = 64.0
#: The same near white (luma above ``255 - BRIGHT_KNEE``): there the pattern can only darken
#: (brighter is clipped), and it showed as grey spots on an overexposed, clipped face.
BRIGHT_KNEE = 32.0
#: The smallest fraction of the amplitude kept in the darkest (and the whitest) pixels.
DARK_FLOOR = 0.1


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
        version: the tool version, e.g. ``"0.2.0"`` (each part capped at 15).
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


def _parity(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    for sh in (4, 2, 1):
        x ^= x >> sh
    return x & 1


@functools.lru_cache(maxsize=1)
def _trellis() -> tuple[np.ndarray, np.ndarray]:
    """``out[state, bit]`` -> the two code bits (0/1) ``(64, 2, 2)``; states are the last 6 inputs."""
    n_states = 1 << (CONV_K - 1)
    st = np.arange(n_states)[:, None]
    b = np.arange(2)[None, :]
    reg = (b << (CONV_K - 1)) | st
    out = np.stack([_parity(reg & g) for g in CONV_G], axis=-1)
    return out, reg >> 1


def conv_encode(bits01: np.ndarray) -> np.ndarray:
    """Rate-1/2 convolutional encoding (K=7, 171/133) with a zero tail; 0/1 in, 0/1 out."""
    out, nxt = _trellis()
    state = 0
    coded = []
    for b in list(np.asarray(bits01, dtype=np.int64)) + [0] * (CONV_K - 1):
        coded.extend(out[state, b])
        state = int(nxt[state, b])
    return np.array(coded, dtype=np.uint8)


def viterbi_decode(soft: np.ndarray) -> np.ndarray:
    """Soft-decision Viterbi decoding of :func:`conv_encode` output.

    Args:
        soft: ``(2 * (n + 6),)`` float, positive = code bit 1 (larger = surer).

    Returns:
        ``(n,)`` uint8 decoded bits (tail removed).
    """
    out, _ = _trellis()
    n_states = 1 << (CONV_K - 1)
    y = np.asarray(soft, dtype=np.float64).reshape(-1, 2)
    sgn = out.astype(np.float64) * 2 - 1  # (64, 2, 2)
    ns = np.arange(n_states)
    b_of = ns >> (CONV_K - 2)  # input bit that leads into state ns
    p0 = (ns & ((1 << (CONV_K - 2)) - 1)) << 1
    p1 = p0 | 1
    pm = np.full(n_states, -np.inf)
    pm[0] = 0.0
    decisions = np.zeros((len(y), n_states), dtype=bool)
    for k, yk in enumerate(y):
        bm = sgn @ yk  # (64, 2): metric of leaving state s with bit b
        c0 = pm[p0] + bm[p0, b_of]
        c1 = pm[p1] + bm[p1, b_of]
        decisions[k] = c1 > c0
        pm = np.maximum(c0, c1)
    state = 0  # the tail brings the encoder back to state 0
    bits = []
    for k in range(len(y) - 1, -1, -1):
        bits.append(state >> (CONV_K - 2))
        state = int(p1[state] if decisions[k, state] else p0[state])
    return np.array(bits[::-1][: len(y) - (CONV_K - 1)], dtype=np.uint8)


def _coded_bits(payload: bytes) -> np.ndarray:
    """Payload + CRC-16, convolutionally encoded: ``(CODED_BITS,)`` int8 in {-1, +1}."""
    data = payload + crc16(payload).to_bytes(2, "big")
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    return conv_encode(bits).astype(np.int8) * 2 - 1


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


def modulation(time_s: float) -> float:
    """The pattern's amplitude factor at time ``time_s`` (seconds): ``cos(2 pi F0 t)``."""
    return float(np.cos(2.0 * np.pi * F0_HZ * time_s))


def embed(
    frame_rgb_uint8: np.ndarray,
    landmarks_px: np.ndarray | None,
    payload: bytes,
    strength: float = DEFAULT_STRENGTH,
    *,
    time_s: float,
    key: str = DEFAULT_KEY,
    min_psnr: float = MIN_PSNR,
) -> np.ndarray:
    """Add the watermark to one frame.

    Args:
        frame_rgb_uint8: ``(H, W, 3)`` uint8 RGB frame (not modified).
        landmarks_px: ``(478, 3)`` (or ``(478, 2)``) MediaPipe landmarks of the face in this
            frame, in pixels (e.g. ``FaceTrack.landmarks[t]``); ``None`` = no face: the pattern
            is spread over the whole frame ("frame" mode, not robust to cropping).
        payload: :data:`PAYLOAD_BYTES` bytes, e.g. :func:`make_payload` ``(job_id)``; the same
            for every frame of a video.
        strength: peak amplitude of the pattern, RMS grey levels over the grid (default 4.0).
        time_s: the frame's time in seconds (``frame_index / fps``): the amplitude is
            ``strength * cos(2 pi F0_HZ time_s)``. Required: without it there is no mark.
        key: watermark key (default the public :data:`DEFAULT_KEY`).
        min_psnr: the change is scaled down if needed so that the frame's PSNR stays >= this.

    Returns:
        The marked frame, ``(H, W, 3)`` uint8 (a new array).
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
    amp = float(strength) * modulation(time_s)
    out = frame.copy()
    # work only inside the bounding box of the grid in the frame
    ph, pw = pat.shape
    corners = np.array([[-0.5, -0.5, 1], [pw - 0.5, -0.5, 1], [-0.5, ph - 0.5, 1], [pw - 0.5, ph - 0.5, 1]])
    xy = corners @ m.T
    x0, y0 = np.floor(xy.min(0)).astype(int)
    x1, y1 = np.ceil(xy.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0 or amp == 0.0:
        return out
    m_roi = m.copy()
    m_roi[:, 2] -= (x0, y0)
    field_ = cv2.warpAffine(pat, m_roi, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    luma = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    # fainter where it is dark (DARK_KNEE) or clipped white (BRIGHT_KNEE)
    field_ = field_ * np.clip(np.minimum(luma / DARK_KNEE, (255.0 - luma) / BRIGHT_KNEE), DARK_FLOOR, 1.0)
    delta = np.rint(field_ * amp)
    max_sse = h * w * 255.0**2 / 10.0 ** (min_psnr / 10.0)
    for _ in range(8):
        sse = float(np.dot(delta.ravel(), delta.ravel()))  # same change on all three channels
        if sse <= max_sse:
            break
        amp *= 0.97 * float(np.sqrt(max_sse / sse))
        delta = np.rint(field_ * amp)
    roi = out[y0:y1, x0:x1]
    roi[:] = np.clip(roi.astype(np.int16) + delta.astype(np.int16)[..., None], 0, 255).astype(np.uint8)
    return out


class Watermarker:
    """Marks the frames of one video in order (keeps the frame count for the modulation).

    Usage::

        marker = Watermarker(make_payload(job_id), fps=25.0)
        for frame, lm in zip(frames, track.landmarks):
            writer.write(marker.mark(frame, lm))

    Args:
        payload: :data:`PAYLOAD_BYTES` bytes (see :func:`make_payload`).
        fps: the video's frame rate.
        strength, key, min_psnr: as for :func:`embed`.
    """

    def __init__(self, payload: bytes, fps: float, strength: float = DEFAULT_STRENGTH, *,
                 key: str = DEFAULT_KEY, min_psnr: float = MIN_PSNR) -> None:
        if not fps or fps <= 0:
            raise InputError(f"frame rate must be positive, got {fps}")
        if not isinstance(payload, (bytes, bytearray)) or len(payload) != PAYLOAD_BYTES:
            raise InputError(f"watermark payload must be {PAYLOAD_BYTES} bytes (see make_payload)")
        self.payload = bytes(payload)
        self.fps = float(fps)
        self.strength = float(strength)
        self.key = key
        self.min_psnr = float(min_psnr)
        self.index = 0

    def mark(self, frame_rgb_uint8: np.ndarray, landmarks_px: np.ndarray | None) -> np.ndarray:
        """Mark the next frame (see :func:`embed`); returns the marked frame."""
        out = embed(frame_rgb_uint8, landmarks_px, self.payload, self.strength,
                    time_s=self.index / self.fps, key=self.key, min_psnr=self.min_psnr)
        self.index += 1
        return out


# ----------------------------------------------------------------------------------------------
# Detection


@dataclass
class Detection:
    """Result of :func:`detect`.

    Attributes:
        present: the mark is there (``score >= Z_THRESHOLD``).
        score: z-score of the sync cells (module docstring: ``P(score >= t) <= 4 exp(-t^2/2)``
            on a video without the mark; marked clips score ~10-25).
        payload: the decoded :data:`PAYLOAD_BYTES` bytes when the CRC-16 checks, else ``None``.
        frames_used: frames that contributed (face found, or all frames in frame mode).
        mode: ``"face"`` or ``"frame"``: the grid that gave the score.
        info: :class:`PayloadInfo` of the payload, when decoded.
        scores: z-score of each grid tried.
    """

    present: bool
    score: float
    payload: bytes | None
    frames_used: int
    mode: str = "face"
    info: PayloadInfo | None = None
    scores: dict[str, float] = field(default_factory=dict)


def _whiten(img: np.ndarray) -> np.ndarray:
    """Remove the picture's own low frequencies and clip outliers (edges): float32, same shape."""
    import cv2

    hp = img - cv2.GaussianBlur(img, (0, 0), PPC)
    lim = 1.5 * float(np.median(np.abs(hp))) + 1e-3
    return np.clip(hp, -lim, lim)


class _Accumulator:
    """Per-frame cell projections ``r_c(t)`` of the whitened luma in one grid."""

    def __init__(self, mode: str) -> None:
        gv, gu = _grid(mode)
        self.mode = mode
        self.shape = (gv * PPC, gu * PPC)
        self.r: list[np.ndarray] = []
        self.valid: list[np.ndarray] = []
        self.t: list[float] = []

    @property
    def frames(self) -> int:
        return len(self.t)

    def add(self, luma: np.ndarray, landmarks_px: np.ndarray | None, time_s: float) -> None:
        import cv2

        h, w = luma.shape
        m = _image_to_frame(self.mode, (h, w), landmarks_px)
        size = (self.shape[1], self.shape[0])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        img = cv2.warpAffine(luma, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        inside = cv2.warpAffine(np.ones_like(luma), m, size, flags=flags,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        res = _whiten(img)
        sm = cv2.GaussianBlur(res, (0, 0), _cell_kernel_sigma(), borderType=cv2.BORDER_CONSTANT)
        gv, gu = _grid(self.mode)
        self.r.append(sm.reshape(gv, PPC, gu, PPC).sum(axis=(1, 3)).ravel())
        # a cell counts when all of it lies inside the frame
        self.valid.append(inside.reshape(gv, PPC, gu, PPC).min(axis=(1, 3)).ravel() > 0.999)
        self.t.append(float(time_s))

    def fourier(self) -> np.ndarray:
        """``(n_cells,)`` complex: per cell, the F0 Fourier coefficient of ``r_c(t)`` minus its mean."""
        r = np.array(self.r, dtype=np.float64)
        v = np.array(self.valid, dtype=np.float64)
        t = np.array(self.t)
        n = v.sum(0)
        mean = (r * v).sum(0) / np.maximum(n, 1)
        e = np.exp(-2j * np.pi * F0_HZ * t)[:, None]
        g = ((r - mean) * v * e).sum(0)
        return np.where(n >= 2, g, 0)


def _score(acc: _Accumulator, key: str) -> tuple[float, np.ndarray]:
    """z-score, and the soft values of the coded bits ``(CODED_BITS,)``."""
    gv, gu = _grid(acc.mode)
    lay = _layout(key, acc.mode, gv, gu)
    g = acc.fourier()
    cg = lay.chips.ravel() * g
    role = lay.role.ravel()
    sync = role < 0
    zc = cg[sync].sum()
    den = float(np.sqrt(np.sum(np.abs(g[sync]) ** 2)))
    if den <= 0:
        return 0.0, np.zeros(CODED_BITS)
    z = float(abs(zc) / den)
    aligned = (cg[~sync] * np.exp(-1j * np.angle(zc))).real
    soft = np.bincount(role[~sync], weights=aligned, minlength=CODED_BITS)
    return z, soft


def _decode_bits(soft: np.ndarray) -> bytes | None:
    """Viterbi-decode the coded bits' soft values; the payload if its CRC-16 checks, else None."""
    bits = viterbi_decode(soft)
    data = np.packbits(bits).tobytes()
    payload, crc = data[:PAYLOAD_BYTES], int.from_bytes(data[PAYLOAD_BYTES:PAYLOAD_BYTES + 2], "big")
    return payload if crc16(payload) == crc else None


def _track(frames: Iterable[np.ndarray], n: int | None, progress: bool) -> list[np.ndarray | None]:
    """Raw MediaPipe landmarks per frame (None where no face)."""
    from ..errors import FaceError
    from ..face.tracking import detect_landmarks

    try:
        raw, det, _, _ = detect_landmarks(frames, n_frames=n, progress=progress, static=n == 1)
    except FaceError:
        return [None] * (n or 0)
    return [raw[i] if det[i] else None for i in range(len(det))]


def detect(
    video: str | os.PathLike | Iterable[np.ndarray],
    *,
    key: str = DEFAULT_KEY,
    fps: float | None = None,
    max_frames: int | None = 300,
    landmarks: Sequence[np.ndarray | None] | None = None,
    progress: bool = False,
) -> Detection:
    """Look for the watermark in a video (or in frames).

    Args:
        video: a video path, or RGB uint8 frames ``(H, W, 3)`` (list, ``(n, H, W, 3)`` array or
            iterator, consumed once).
        key: the key the mark was made with.
        fps: frame rate of ``video`` when frames are given (default 25); read from the file for
            a path.
        max_frames: use the first ``max_frames`` frames (None = all). 300 frames (12 s at 25
            fps) take ~10 s on 2 CPU cores at 512x512, mostly face tracking.
        landmarks: per-frame ``(478, 3)`` landmarks in pixels (None where no face), if already
            known; otherwise the face is tracked here (MediaPipe face mesh).
        progress: show a progress bar while tracking.

    Returns:
        :class:`Detection`.

    Raises:
        MediaError: the file cannot be read. InputError: no frames.
    """
    if isinstance(video, (str, os.PathLike)):
        from ..media import probe, read_frames

        info = probe(video)
        rate = info.fps

        def frames_iter():
            return read_frames(video, info=info, max_frames=max_frames)

        n = min(info.n_frames, max_frames) if max_frames else info.n_frames
    else:
        frames = [video] if isinstance(video, np.ndarray) and video.ndim == 3 else video
        frames = list(itertools.islice(frames, max_frames)) if max_frames else list(frames)
        rate = float(fps) if fps else DEFAULT_FPS

        def frames_iter():
            return iter(frames)

        n = len(frames)
    if n == 0:
        raise InputError("no frames to look for a watermark in")
    if landmarks is None:
        landmarks = _track(frames_iter(), n, progress)
    acc_face, acc_frame = _Accumulator("face"), _Accumulator("frame")
    for i, f in enumerate(frames_iter()):
        y = _luma(f)
        t = i / rate
        acc_frame.add(y, None, t)
        lm = landmarks[i] if i < len(landmarks) else None
        if lm is not None and np.all(np.isfinite(np.asarray(lm)[ANCHORS, :2])):
            acc_face.add(y, lm, t)
    scores: dict[str, float] = {}
    best = None
    for acc in (acc_face, acc_frame):
        if acc.frames == 0:
            continue
        z, soft = _score(acc, key)
        scores[acc.mode] = z
        if best is None or z > best[0]:
            best = (z, soft, acc)
    assert best is not None
    z, soft, acc = best
    present = z >= Z_THRESHOLD
    payload = _decode_bits(soft) if present else None
    info_ = parse_payload(payload) if payload is not None else None
    return Detection(present=bool(present), score=float(z), payload=payload, frames_used=acc.frames,
                     mode=acc.mode, info=info_, scores=scores)
