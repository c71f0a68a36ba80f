"""On-disk cache of face tracks, and the ``.npz`` format of a :class:`FaceTrack`.

Tracks are cached in ``$TALKINGHEAD_CACHE/tracks`` (default ``~/.cache/talkinghead/tracks``),
keyed by the sha256 of the video file's bytes (streamed) plus the tracker settings and face
index, so an edited video or changed settings never hit a stale entry. Files are written
atomically; an unreadable entry is ignored (and overwritten by the next store).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fileio import atomic_path, cache_folder_usable, cache_root, file_sha256  # noqa: F401  (file_sha256 re-exported)
from .types import FaceTrack

log = logging.getLogger(__name__)

_ARRAYS = ("landmarks", "raw_landmarks", "rotation", "translation", "scale", "canonical",
           "expression", "detected")
#: Format version of the saved ``.npz``.
FORMAT_VERSION = 1


def cache_dir() -> Path:
    """Folder of cached tracks: ``$TALKINGHEAD_CACHE/tracks`` or ``~/.cache/talkinghead/tracks``."""
    return cache_root() / "tracks"


def cache_key(path: str | os.PathLike, settings: dict, face_index: int) -> str:
    """Cache key of tracking ``path`` with ``settings`` (a JSON-able dict) and ``face_index``."""
    content = file_sha256(path)
    s = json.dumps({"settings": settings, "face_index": int(face_index)}, sort_keys=True)
    return f"{content[:32]}-{hashlib.sha256(s.encode()).hexdigest()[:16]}"


def cache_file(key: str) -> Path:
    return cache_dir() / f"{key}.npz"


def save_track(track: FaceTrack, path: str | os.PathLike) -> Path:
    """Write ``track`` to ``path`` (``.npz``) atomically."""
    p = Path(path)
    meta = {
        "format_version": FORMAT_VERSION,
        "fps": float(track.fps),
        "width": int(track.width),
        "height": int(track.height),
        "source": str(track.source),
        "settings": {k: v for k, v in track.settings.items() if k != "cache_file"},
    }
    with atomic_path(p, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, meta=np.array(json.dumps(meta)),
                                **{k: np.asarray(getattr(track, k)) for k in _ARRAYS})
    return p


def load_track(path: str | os.PathLike) -> FaceTrack:
    """Read a track written by :func:`save_track`.

    Raises :class:`InputError` if the file is missing or not a face track.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"face track not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in _ARRAYS}
    except (OSError, KeyError, ValueError) as e:
        raise InputError(f"{p} is not a talkinghead face track ({e})") from e
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{p} has face-track format {meta.get('format_version')}, "
                         f"expected {FORMAT_VERSION}; track the video again")
    return FaceTrack(**arrays, fps=meta["fps"], width=meta["width"], height=meta["height"],
                     source=meta["source"], settings=meta["settings"])


def load_cached(key: str) -> FaceTrack | None:
    """The cached track for ``key`` (``from_cache=True``), or None."""
    f = cache_file(key)
    if not f.exists():
        return None
    try:
        track = load_track(f)
    except InputError as e:
        log.warning("ignoring unreadable cache entry %s: %s", f, e)
        return None
    track.from_cache = True
    track.settings["cache_file"] = str(f)
    return track


def store(key: str, track: FaceTrack) -> Path | None:
    """Store ``track`` under ``key``; a cache that cannot be written only logs a warning."""
    f = cache_file(key)
    if not cache_folder_usable(f.parent):
        return None
    try:
        save_track(track, f)
    except Exception as e:  # noqa: BLE001 - the cache is an optimisation, never fatal
        log.warning("could not write the track cache %s: %s", f, e)
        return None
    track.settings["cache_file"] = str(f)
    return f
