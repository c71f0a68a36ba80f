"""On-disk cache of face tracks (the ``tracks`` cache of :mod:`talkinghead.cache`).

Tracks are cached in ``$TALKINGHEAD_CACHE/tracks`` (default ``~/.cache/talkinghead/tracks``),
keyed by the sha256 of the video file's bytes (streamed) plus the tracker settings and face
index, so an edited video or changed settings never hit a stale entry. Files are written
atomically; an unreadable entry is ignored (and overwritten by the next store). The ``.npz``
format itself is :func:`talkinghead.face.types.save_track`'s.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .. import cache as disk_cache
from ..errors import InputError
from ..fileio import file_sha256  # noqa: F401  (re-exported: benchmarks and tests use it from here)
from .types import FORMAT_VERSION, FaceTrack, load_track, save_track, write_track_file  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

KIND = "tracks"


def cache_dir() -> Path:
    """Folder of cached tracks: ``$TALKINGHEAD_CACHE/tracks`` or ``~/.cache/talkinghead/tracks``."""
    return disk_cache.cache_dir(KIND)


def cache_key(path: str | os.PathLike, settings: dict, face_index: int) -> str:
    """Cache key of tracking ``path`` with ``settings`` (a JSON-able dict) and ``face_index``."""
    return disk_cache.content_key(path, {"settings": settings, "face_index": int(face_index)})


def cache_file(key: str) -> Path:
    return cache_dir() / f"{key}.npz"


def load_cached(key: str) -> FaceTrack | None:
    """The cached track for ``key`` (``from_cache=True``), or None."""
    f, hit = disk_cache.cache_slot(KIND, f"{key}.npz", write=False)
    if not hit:
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
    f = disk_cache.write_entry(cache_file(key), lambda tmp: write_track_file(track, tmp), "track")
    if f is not None:
        track.settings["cache_file"] = str(f)
    return f
