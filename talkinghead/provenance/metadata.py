"""Provenance tags in the mp4 container: what made the video, and that it is synthetic.

:func:`build_metadata` gives the ``{key: value}`` tags for
:class:`talkinghead.media.VideoWriter` (``metadata=``), which writes them with ``ffmpeg -metadata``
and ``-movflags use_metadata_tags`` (so custom keys are kept, in the mp4 ``moov/udta/meta``
``mdta`` keys). :func:`read_metadata` reads a file's global tags back with the ffmpeg binary
(``ffmpeg -i FILE -f ffmetadata -``).

Container tags are the weakest of the three provenance layers: any re-encode or re-mux that does
not copy them (``-map_metadata -1``, most upload pipelines) drops them. The invisible watermark
(:mod:`.watermark`) is what survives that; the C2PA manifest (:mod:`.c2pa_manifest`) is what makes
them tamper-evident.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
import subprocess
from pathlib import Path

from .. import __version__
from ..errors import MediaError

GENERATOR = "talkinghead"
#: IPTC digital source type of everything this tool makes.
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

#: Keys written by :func:`build_metadata` (all values are strings).
KEYS = (
    "title", "comment", "description", "creation_time", "generator", "generator_version",
    "synthetic", "ai_generated", "digital_source_type", "script_sha256", "job_id",
    "watermark", "watermark_scheme", "watermark_job_code", "audio_watermark",
)


def script_sha256(script_text: str) -> str:
    """Hex SHA-256 of the script as UTF-8 (the exact text that was spoken)."""
    return hashlib.sha256(script_text.encode("utf-8")).hexdigest()


def build_metadata(
    script_text: str,
    job_id: str,
    watermark: bool,
    *,
    created: _dt.datetime | None = None,
    title: str | None = None,
    audio_watermark: bool | None = None,
) -> dict[str, str]:
    """The provenance tags of one output video.

    Args:
        script_text: the script the video speaks (only its SHA-256 is stored; use ``""`` when
            there is no script, e.g. a supplied recording without transcript).
        job_id: the job's id (:func:`talkinghead.provenance.watermark.new_job_id`); the
            watermark carries its 32-bit code (``watermark_job_code``).
        watermark: whether the invisible watermark was embedded. ``False`` is recorded as
            ``watermark=off`` (turning it off is never silent).
        created: creation time (default: now, UTC).
        title: optional title tag.
        audio_watermark: whether the speech track carries the Perth audio watermark
            (:mod:`.audio_watermark`); recorded as ``audio_watermark=on/off`` when given.

    Returns:
        ``{key: value}`` (all strings): ``generator=talkinghead``, ``generator_version``,
        ``synthetic=true``, ``ai_generated=true``, ``digital_source_type`` (IPTC
        trainedAlgorithmicMedia), ``script_sha256``, ``job_id``, ``creation_time`` (ISO 8601 UTC),
        ``watermark`` (``on``/``off``), ``watermark_scheme``, ``watermark_job_code``, and human
        readable ``comment``/``description`` saying that the video is synthetic.
    """
    from . import watermark as wm

    when = (created or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    note = (f"SYNTHETIC VIDEO: AI-generated talking head made by {GENERATOR} {__version__}. "
            "The person did not necessarily say this. "
            + ("It carries an invisible watermark (check it with `talkinghead verify`)."
               if watermark else "The invisible watermark was turned OFF for this video."))
    meta = {
        "title": title or "Synthetic (AI-generated) talking-head video",
        "comment": note,
        "description": note,
        "creation_time": stamp,
        "generator": GENERATOR,
        "generator_version": __version__,
        "synthetic": "true",
        "ai_generated": "true",
        "digital_source_type": DIGITAL_SOURCE_TYPE,
        "script_sha256": script_sha256(script_text),
        "job_id": job_id,
        "watermark": "on" if watermark else "off",
        "watermark_scheme": f"talkinghead-ss-v{wm.SCHEME_VERSION}" if watermark else "none",
        "watermark_job_code": wm.job_code(job_id) if watermark else "none",
    }
    if audio_watermark is not None:
        meta["audio_watermark"] = "perth" if audio_watermark else "off"
    return meta


def _unescape(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse_ffmetadata(text: str) -> dict[str, str]:
    """Global tags of an ffmetadata document (the part before the first ``[SECTION]``)."""
    meta: dict[str, str] = {}
    # join escaped line breaks (a value with a newline is written as "\\\n")
    lines: list[str] = []
    buf = ""
    for line in text.split("\n"):
        if line.endswith("\\") and not line.endswith("\\\\"):
            buf += line[:-1] + "\n"
            continue
        lines.append(buf + line)
        buf = ""
    for line in lines:
        if line.startswith("[") and line.rstrip().endswith("]"):
            break
        if not line or line.startswith(";") or line.startswith("#"):
            continue
        # split at the first unescaped "="
        i = 0
        while i < len(line):
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == "=":
                break
            i += 1
        if i >= len(line):
            continue
        meta[_unescape(line[:i])] = _unescape(line[i + 1:])
    return meta


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The global container tags of a media file (``{}`` when it has none).

    Raises:
        MediaError: the file is missing or not a media file ffmpeg can open.
    """
    from ..media import ffmpeg_exe

    p = Path(path)
    if not p.is_file():
        raise MediaError(f"file not found: {p}")
    r = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(p), "-f", "ffmetadata", "-"],
        capture_output=True, text=True, errors="replace",
    )
    if r.returncode != 0:
        err = r.stderr.strip().splitlines()
        raise MediaError(f"cannot read metadata of {p}: {err[-1] if err else 'ffmpeg failed'}")
    meta = parse_ffmetadata(r.stdout)
    if "creation_time" not in meta:  # the ffmetadata muxer leaves it out; the header has it
        h = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(p)],
                           capture_output=True, text=True, errors="replace").stderr
        m = re.search(r"^\s{4}creation_time\s*:\s*(\S+)", h, re.M)
        if m:
            meta["creation_time"] = m.group(1).split(";")[-1]
    return meta


def is_marked_synthetic(meta: dict[str, str]) -> bool:
    """True when the tags say the file is synthetic (``synthetic``/``ai_generated`` = true)."""
    return (meta.get("synthetic", "").lower() == "true"
            or meta.get("ai_generated", "").lower() == "true")
