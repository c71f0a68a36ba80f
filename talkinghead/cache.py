"""The on-disk caches: one folder per kind under the cache root, entries named by content.

Every cache (face tracks, prepared refiners, portrait idle clips, scaled and turned face files)
names an entry by the SHA-256 of its input file's bytes plus a short hash of the settings that
made it (:func:`content_key`), so an edited file or changed settings never hit a stale entry.
Entries are written atomically (:func:`~talkinghead.fileio.atomic_path`); a cache folder that
cannot be used only logs a warning (the caches save time, they are never required).

Layout: ``$TALKINGHEAD_CACHE/<kind>/<content key><suffix>`` (default root
``~/.cache/talkinghead``), kinds :data:`KINDS`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .fileio import atomic_path, cache_folder_usable, cache_root, file_sha256, private_temp_folder

__all__ = ["KINDS", "atomic_path", "cache_dir", "cache_folder_usable", "cache_root", "cache_slot",
           "content_key", "file_sha256", "private_temp_folder", "write_entry"]

log = logging.getLogger(__name__)

#: The cache folders (under :func:`~talkinghead.fileio.cache_root`) and what they hold.
KINDS = {
    "tracks": "face tracks (.npz)",
    "refiners": "prepared refiners (.pt), their references and mouth libraries",
    "portraits": "idle clips animated from portrait photos (.mp4)",
    "scaled": "face photos and videos scaled down (--max-side)",
    "upright": "face photos and videos turned upright (--turn)",
}

#: Hex digits of the file's content hash, and of the settings hash, in a key.
CONTENT_CHARS = 32
SETTINGS_CHARS = 16


def cache_dir(kind: str) -> Path:
    """The folder of one cache: ``$TALKINGHEAD_CACHE/<kind>`` or ``~/.cache/talkinghead/<kind>``."""
    if kind not in KINDS:
        raise ValueError(f"unknown cache {kind!r}")
    return cache_root() / kind


def settings_hash(settings: Any) -> str:
    """The first :data:`SETTINGS_CHARS` hex digits of the SHA-256 of ``settings`` as sorted JSON."""
    s = json.dumps(settings, sort_keys=True)
    return hashlib.sha256(s.encode()).hexdigest()[:SETTINGS_CHARS]


def content_key(path: str | os.PathLike, settings: Any = None, *, tag: str | None = None) -> str:
    """The name of a cache entry made from the file ``path``.

    ``<sha256 of the file's bytes, 32 hex digits>-<tag>`` when a ``tag`` is given (a short readable
    setting, e.g. ``"640x360"``), else ``-<settings_hash(settings)>`` (``settings``: anything
    JSON-able that changes the result).
    """
    content = file_sha256(path)[:CONTENT_CHARS]
    return f"{content}-{tag if tag is not None else settings_hash(settings)}"


def cache_slot(kind: str, name: str, *, read: bool = True, write: bool = True,
               temp_prefix: str | None = None) -> tuple[Path | None, bool]:
    """Where an entry of cache ``kind`` named ``name`` is, or is to be written.

    Args:
        kind: the cache (:data:`KINDS`).
        name: the entry's file name (a :func:`content_key` plus a suffix).
        read: use an entry that exists already.
        write: write a new entry into the cache folder (when it is usable).
        temp_prefix: when the entry cannot go into the cache, a new private temporary folder with
            this prefix (removed at exit) takes it; ``None``: no place (the path returned is
            ``None``).

    Returns:
        ``(path, hit)``: ``hit`` is true when ``path`` is an existing entry to read.
    """
    out = cache_dir(kind) / name
    if read and out.exists():
        return out, True
    if write and cache_folder_usable(out.parent):
        return out, False
    return (private_temp_folder(temp_prefix) / name if temp_prefix else None), False


def write_entry(path: Path, write: Callable[[Path], None], what: str) -> Path | None:
    """Write one cache entry atomically: ``write(tmp)`` fills a temporary file beside ``path``,
    which then replaces ``path``. A failure only logs a warning naming ``what``.

    Returns:
        ``path``, or ``None`` when its folder cannot be used or the write failed.
    """
    if not cache_folder_usable(path.parent):
        return None
    try:
        with atomic_path(path) as tmp:
            write(tmp)
    except Exception as exc:  # noqa: BLE001 - the cache is an optimisation, never fatal
        log.warning("could not write the %s cache %s: %s", what, path, exc)
        return None
    return path
