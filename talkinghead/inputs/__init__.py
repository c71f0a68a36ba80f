"""Input preparation: the user's face file turned into the face video the pipeline prepares.

* :mod:`.scale` - a face photo or video scaled down first (``max_side``);
* :mod:`.orientation` - a face lying on its side or upside down turned upright (``turn``);
* :mod:`.portrait` - a portrait photo animated into an idle clip (head motion, blinks);
* :mod:`.frames` - random access to a video's decoded frames (:class:`~.frames.SourceFrames`).

:func:`face_input` runs the first three in that order, as
:class:`~talkinghead.options.FaceOptions` say; every result is cached by content
(:mod:`talkinghead.cache`).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..options import FaceOptions


def check_face_file(face: str | Path) -> Path:
    """``face`` as a path, checked: it exists and is a file.

    Raises:
        InputError: missing, or a folder.
    """
    path = Path(face)
    if not path.exists():
        raise InputError(f"face file {path} does not exist")
    if path.is_dir():
        raise InputError(f"face path {path} is a folder: give a video or an image")
    return path


def face_input(face: str | Path, options: FaceOptions, *, cache: bool = True,
               progress: bool = True) -> tuple[Path, tuple[Path, ...], bool]:
    """The face video to prepare, made from the user's face file as ``options`` say: scaled down
    (``max_side``), turned upright (``turn``), a portrait photo animated into an idle clip.

    Returns:
        ``(video, sources, portrait)``: the video (or ``face`` itself), every file on the way
        (``face`` first; :meth:`Pipeline.say` never writes over one of them), whether ``face``
        was a still.

    Raises:
        InputError: ``face`` is missing or a folder.
    """
    from ..media import is_still
    from .orientation import upright_face
    from .scale import scaled_face

    path = check_face_file(face)
    sources = [path]
    path = scaled_face(path, options.max_side, cache=cache, progress=progress)
    sources.append(path)
    # lying on its side: turned upright (or as ``turn`` says)
    path = upright_face(path, cache=cache, progress=progress, turn=options.turn, name=Path(face).name)
    sources.append(path)
    portrait = is_still(path)
    if portrait:
        from .portrait import animate_portrait

        path = animate_portrait(path, face_index=options.face_index, seed=options.idle_seed, cache=cache,
                                progress=progress)
    return path, tuple(sources), portrait
