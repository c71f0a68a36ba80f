"""Atomic output files: write to a temporary sibling, then rename.

A failed or interrupted run never leaves a half-written output behind: the final path either
holds the complete previous content (or nothing) or the complete new content.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from .errors import InputError, OutputError

log = logging.getLogger(__name__)


#: Longest file name (bytes) of the usual file systems (ext4, XFS, APFS, NTFS in UTF-16 units).
NAME_MAX = 255


def check_writable(path: str | os.PathLike, *, try_create: bool = True) -> Path:
    """Fail early, with a clear message, if ``path`` cannot be created.

    Returns the path as a :class:`~pathlib.Path`. Raises :class:`OutputError` if its folder does
    not exist, is not a folder, is not writable, or ``path`` itself is a folder. With
    ``try_create`` writability is tried, not inferred from permission bits (which a superuser
    bypasses and which say nothing of read-only or special file systems): an empty file is created
    in the folder and removed. (:func:`atomic_path` skips that: its own temporary file is the try.)
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if len(p.name.encode()) > NAME_MAX:  # before any stat(), which fails on such a name
        raise OutputError(f"cannot write {p.name[:40]}...: the file name is {len(p.name.encode())} bytes long, "
                          f"more than the {NAME_MAX} a file system allows")
    if p.is_dir():
        raise OutputError(f"output path {p} is a folder; give a file name")
    if not parent.exists():
        raise OutputError(f"cannot write {p}: folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputError(f"cannot write {p}: {parent} is not a folder")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write {p}: no permission to write in {parent}")
    if try_create:
        fd, probe = _create_in(parent, p, ".probe")
        os.close(fd)
        os.unlink(probe)
    return p


def _create_in(parent: Path, path: Path, suffix: str) -> tuple[int, str]:
    """``tempfile.mkstemp`` beside ``path``; an :class:`OSError` becomes an :class:`OutputError`."""
    # the name's start keeps a long name (up to the file system's 255 bytes) under the limit
    # once the dot, the random part and the suffix are added
    stem = path.name
    while len(f".{stem}.".encode()) + 8 + len(suffix.encode()) > 255:
        stem = stem[:-1]
    try:
        return tempfile.mkstemp(prefix=f".{stem}.", suffix=suffix, dir=parent)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: cannot create files in {parent} ({exc.strerror or exc})") from exc


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_not_an_input(outputs: Iterable[str | os.PathLike],
                       inputs: Mapping[str, str | os.PathLike | None]) -> None:
    """Refuse to write an output over one of the command's own input files.

    An atomic write would replace the input (the face video, a script, a recording) with the
    result once it is done: the user's source would be gone.

    Args:
        outputs: the files about to be written (the video and any sidecars).
        inputs: what each input is called in the message -> its path (``None``: not given).

    Raises:
        OutputError: naming the output and the input it would replace.
    """
    for o in outputs:
        for label, i in inputs.items():
            if i is not None and _same_file(Path(o), Path(i)):
                raise OutputError(f"output {o} is the {label} ({i}): writing it would replace that input; "
                                  "choose another output name")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    The temporary file keeps ``path``'s suffix (or ``suffix``) so that tools which pick a format
    from the extension (ffmpeg, soundfile) behave. On any exception the temporary file is removed
    and the exception propagates; ``path`` is untouched. ``OSError`` while writing (e.g. disk
    full) is re-raised as :class:`OutputError`.
    """
    final = check_writable(path, try_create=False)
    sfx = suffix if suffix is not None else final.suffix
    fd, tmp_name = _create_in(final.parent, final, f".part{sfx}")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; outputs get the usual mode
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {final}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks (content keys of the caches)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()


def read_text_file(path: str | os.PathLike, what: str, kind: str = "text file") -> str:
    """Read a UTF-8 text file the user named, or raise one clear :class:`InputError`.

    Args:
        path: the file.
        what: how messages name it, e.g. ``"script file"``, ``"batch config"``.
        kind: what it should be, for the message when ``path`` is a folder (``"YAML file"``).

    Returns:
        The file's text.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} {p} does not exist")
    if p.is_dir():
        raise InputError(f"{what} {p} is a folder, not a {kind}")
    try:
        return p.read_text(encoding="utf-8-sig")  # a leading byte-order mark is not text
    except UnicodeDecodeError:
        raise InputError(f"{what} {p} is not a {kind} (not UTF-8 text)") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {p}: {exc.strerror}") from None


def bundled_file(name: str, repo_folder: str) -> Path:
    """A data file the project ships: ``talkinghead/data/<name>`` in an installed wheel (see
    ``setup.py``), else ``<repo_folder>/<name>`` of a source checkout / editable install (also
    returned when neither exists, so the error names the repository path)."""
    package = Path(__file__).resolve().parent
    candidates = (package / "data" / name, package.parent / repo_folder / name)
    return next((p for p in candidates if p.exists()), candidates[-1])


def cache_root() -> Path:
    """Folder of the caches (tracks, prepared refiners, portrait clips): ``$TALKINGHEAD_CACHE``,
    or ``~/.cache/talkinghead``."""
    root = os.environ.get("TALKINGHEAD_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "talkinghead"


def cache_folder_usable(folder: str | os.PathLike) -> bool:
    """Create a cache ``folder`` if needed and check that files can be written in it.

    The caches only save time, so a folder that cannot be used is not an error: it logs a
    warning naming the folder and the cause, and returns ``False`` (the caller then works
    without caching).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        check_writable(folder / "entry")
    except (OSError, OutputError) as exc:
        cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        log.warning("cannot use the cache folder %s (%s): working without caching; set "
                    "TALKINGHEAD_CACHE to a writable folder", folder, cause)
        return False
    return True


def private_temp_folder(prefix: str) -> Path:
    """A new private temporary folder, removed when the process exits (for a cache entry when the
    cache folder cannot be used)."""
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, True)
    return folder
