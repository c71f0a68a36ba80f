"""Batch config files: load, validate (all errors at once) and resolve into typed jobs.

A config is a YAML mapping with two keys::

    defaults:               # optional: applies to every job unless the job overrides it
      face: ../assets/face/astronaut.png
      voice: joe
      rate: 1.0
      output_dir: ../out/narration
    jobs:
      - name: intro
        text: "Welcome to the quarterly update."
      - name: chapter1
        script: chapter1.txt
        rate: 0.9
      - name: mine
        face: me.mp4
        audio: me.wav
        transcript: me.txt

Paths are relative to the config file's folder. :func:`load_config` checks everything that can be
checked before any work starts (types, unknown keys, files, voices, duplicate outputs) and raises
one :class:`BatchConfigError` listing every problem, each naming the job and the field.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, OutputError
from ..fileio import NAME_MAX, check_not_an_input, file_sha256, read_text_file
from ..options import ALL_OPTIONS, FaceOptions, Options, RenderOptions, SpeechOptions, check_value, type_name

#: Which options class each setting belongs to (every field of :data:`~talkinghead.options.ALL_OPTIONS`).
OPTION_OF: dict[str, type[Options]] = {name: cls for cls in ALL_OPTIONS for name in cls.names()}
#: Settings that may appear under ``defaults:`` and be overridden by a job.
SETTINGS = ("face", *OPTION_OF)
#: Keys only a job may have.
JOB_ONLY = ("name", "text", "script", "audio", "transcript", "output")
#: Keys only ``defaults:`` may have.
DEFAULTS_ONLY = ("output_dir",)
TOP_LEVEL = ("defaults", "jobs")


class BatchConfigError(InputError):
    """A batch config is invalid. ``errors`` holds one line per problem."""

    def __init__(self, source: str, errors: list[str]):
        self.source = source
        self.errors = list(errors)
        n = len(self.errors)
        head = f"invalid batch config {source} ({n} error{'s' if n != 1 else ''}):"
        super().__init__("\n".join([head] + [f"  {e}" for e in self.errors]))


@dataclass(frozen=True)
class JobSpec:
    """One fully resolved job: every path absolute, every default applied.

    Attributes:
        name: the job's name (unique in the config).
        index: position in ``jobs:`` (0-based).
        face: face video or portrait image.
        output: the mp4 to write.
        text: the script text (from ``text:`` or the ``script:`` file), ``None`` for a recording.
        script: the script file, when the text came from one.
        audio: a recording to lip-sync instead of TTS.
        transcript: what the recording says (text; a ``.txt`` file has been read).
        speech, face_options, render: the job's settings
            (:class:`~talkinghead.options.SpeechOptions`, :class:`~talkinghead.options.FaceOptions`,
            :class:`~talkinghead.options.RenderOptions`); each field also reads as an attribute
            of the job (``job.rate``).
    """

    name: str
    index: int
    face: Path
    output: Path
    text: str | None = None
    script: Path | None = None
    audio: Path | None = None
    transcript: str | None = None
    speech: SpeechOptions = field(default_factory=SpeechOptions)
    face_options: FaceOptions = field(default_factory=FaceOptions)
    render: RenderOptions = field(default_factory=RenderOptions)

    _GROUPS = {SpeechOptions: "speech", FaceOptions: "face_options", RenderOptions: "render"}

    def __getattr__(self, name: str):
        cls = OPTION_OF.get(name)
        if cls is None:
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, self._GROUPS[cls]), name)

    @classmethod
    def create(cls, **kwargs) -> "JobSpec":
        """A job from flat settings (``rate=0.9, fps=25, ...`` beside the job's own fields)."""
        groups = {attr: {} for attr in cls._GROUPS.values()}
        for k in list(kwargs):
            if k in OPTION_OF:
                groups[cls._GROUPS[OPTION_OF[k]]][k] = kwargs.pop(k)
        return cls(**kwargs, **{attr: opt(**groups[attr]) for opt, attr in cls._GROUPS.items()})

    @property
    def label(self) -> str:
        """``job 'intro' (jobs[0])``: how messages name this job."""
        return f"job {self.name!r} (jobs[{self.index}])"

    @property
    def marker(self) -> Path:
        """The ``.done.json`` marker written beside the output after success."""
        return marker_path(self.output)

    @property
    def face_key(self) -> tuple[str, FaceOptions]:
        """Jobs with the same key share one prepared face."""
        return (str(self.face), self.face_options)

    def to_payload(self) -> dict:
        """JSON-able flat dict (paths as strings, every setting at the top level) for a worker
        process or a Ray task."""
        d = asdict(self)
        for attr in self._GROUPS.values():
            d.update(d.pop(attr))
        for k, v in d.items():
            if isinstance(v, Path):
                d[k] = str(v)
        return d

    @classmethod
    def from_payload(cls, d: dict) -> "JobSpec":
        d = dict(d)
        for k in ("face", "output", "script", "audio"):
            if d.get(k) is not None:
                d[k] = Path(d[k])
        return cls.create(**d)

    def settings_hash(self) -> str:
        """SHA-256 of everything that determines the output (file contents, not just names).

        Stored in the ``.done.json`` marker: ``--resume`` redoes a job whose hash changed.
        """
        from .. import __version__

        d = self.to_payload()
        d.pop("index")
        d.pop("name")
        d["face"] = file_sha256(self.face)
        d["audio"] = file_sha256(self.audio) if self.audio is not None else None
        d.pop("script")  # its content is in ``text``
        d["output"] = self.output.name
        d["talkinghead"] = __version__
        blob = json.dumps(d, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()


@dataclass
class BatchConfig:
    """A validated batch config.

    Attributes:
        source: the config file (or ``"<dict>"``).
        base_dir: folder relative paths were resolved against.
        output_dir: where outputs go (``defaults.output_dir``, or ``-o``).
        jobs: the resolved jobs, in config order.
    """

    source: str
    base_dir: Path
    output_dir: Path
    jobs: list[JobSpec] = field(default_factory=list)


def read_config_file(path: str | os.PathLike) -> dict:
    """Parse a YAML config file into a mapping. Raises :class:`InputError` (one line) if not."""
    import yaml

    p = Path(path)
    text = read_text_file(p, "batch config", "YAML file")
    try:
        data = yaml.load(text, Loader=_unique_key_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"batch config {p} is not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {_type_name(data)}"
        raise InputError(f"batch config {p} must be a YAML mapping with a 'jobs:' list (got {got})")
    return data


@functools.lru_cache(maxsize=1)
def _unique_key_loader():
    """A ``yaml.SafeLoader`` that refuses a key given twice in one mapping (PyYAML keeps the last
    one silently: a job with two ``text:`` lines would say only the second)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice in the same mapping", key_node.start_mark)
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return Loader


def load_config(config: str | os.PathLike | dict, *, outdir: str | os.PathLike | None = None) -> BatchConfig:
    """Read (if a path) and validate a batch config; resolve it into :class:`JobSpec` s.

    Args:
        config: a YAML file path, or an already parsed mapping (relative paths are then taken
            from the current folder).
        outdir: overrides ``defaults.output_dir`` (relative to the current folder).

    Raises:
        InputError: the file is missing or not a YAML mapping.
        BatchConfigError: every validation problem, each naming the job and the field.
    """
    if isinstance(config, dict):
        data, source, base = config, "<dict>", Path.cwd()
    else:
        p = Path(config)
        data = read_config_file(p)
        source, base = str(p), p.resolve().parent
    return _Validator(source, base).validate(data, outdir)


_type_name = type_name


class _Validator:
    def __init__(self, source: str, base: Path):
        self.source = source
        self.base = base
        self.errors: list[str] = []
        self.inputs: list[tuple[str, dict[str, Path | None]]] = []  # (job label, its input files)
        self.written: list[tuple[str, list[Path]]] = []  # (job label, every file it writes)

    # -- helpers --------------------------------------------------------------------------
    def err(self, where: str, key: str | None, msg: str) -> None:
        self.errors.append(f"{where}: field {key!r}: {msg}" if key else f"{where}: {msg}")

    def path(self, value: str) -> Path:
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else (self.base / p)

    def typed(self, where: str, key: str, v: Any) -> Any:
        """Check the type and range of a setting; return the normalized value or ``_BAD``."""
        def bad(msg: str):
            self.err(where, key, msg)
            return _BAD

        if key in ("face", "voice", "language", "text", "script", "audio", "transcript", "output",
                   "output_dir", "name"):
            if not isinstance(v, str):
                return bad(f"expected a string, got {_type_name(v)} {v!r}")
            if not v.strip():
                return bad("is empty")
            if key not in ("text", "transcript") and any(ord(c) < 32 for c in v):
                return bad(f"{v!r} contains a control character")
            if "\0" in v:
                return bad("contains a NUL character")
            return v
        if key in OPTION_OF:  # the option's own type and range checks
            value, problem = check_value(OPTION_OF[key], key, v, strict=True)
            return bad(problem) if problem is not None else value
        raise AssertionError(key)  # pragma: no cover

    def section(self, where: str, d: Any, allowed: tuple[str, ...]) -> dict:
        if not isinstance(d, dict):
            self.err(where, None, f"expected a mapping, got {_type_name(d)}")
            return {}
        out = {}
        for k, v in d.items():
            if k not in allowed:
                self.err(where, str(k), f"unknown key (allowed: {', '.join(allowed)})")
                continue
            tv = self.typed(where, k, v)
            if tv is not _BAD:
                out[k] = tv
        return out

    def file(self, where: str, key: str, value: str, what: str = "file") -> Path | None:
        p = self.path(value)
        if not p.exists():
            self.err(where, key, f"{what} {value} does not exist")
            return None
        if p.is_dir():
            self.err(where, key, f"{value} is a folder, not a file")
            return None
        return p

    # -- the config -----------------------------------------------------------------------
    def validate(self, data: dict, outdir: str | os.PathLike | None) -> BatchConfig:
        for k in data:
            if k not in TOP_LEVEL:
                self.err("config", str(k), "unknown top-level key (allowed: defaults, jobs)")
        raw_defaults = data.get("defaults")
        defaults = self.section("defaults", {} if raw_defaults is None else raw_defaults, SETTINGS + DEFAULTS_ONLY)
        raw_jobs = data.get("jobs")
        if raw_jobs is None:
            self.err("config", "jobs", "missing: give a list of jobs")
            raw_jobs = []
        elif not isinstance(raw_jobs, list):
            self.err("config", "jobs", f"expected a list of jobs, got {_type_name(raw_jobs)}")
            raw_jobs = []
        elif not raw_jobs:
            self.err("config", "jobs", "is empty: give at least one job")

        if outdir is not None:
            out_dir = Path(outdir).expanduser().resolve()
        elif "output_dir" in defaults:
            out_dir = self.path(defaults["output_dir"]).resolve()
        else:
            out_dir = (self.base / "out").resolve()
        where, key = ("-o/--output", None) if outdir is not None else ("defaults", "output_dir")
        blocked = _blocked_parent(out_dir)
        if out_dir.exists() and not out_dir.is_dir():
            self.err(where, key, f"{out_dir} exists and is not a folder")
        elif blocked is not None:
            self.err(where, key, f"cannot create {out_dir}: {blocked} is a file, not a folder")
        self.out_dir_bad = (out_dir.exists() and not out_dir.is_dir()) or blocked is not None

        self.default_face = self.file("defaults", "face", defaults["face"]) if "face" in defaults else None
        voice_ok: dict[tuple, str | None] = {}
        jobs: list[JobSpec] = []
        names: dict[str, int] = {}
        outputs: dict[Path, str] = {}
        for i, raw in enumerate(raw_jobs):
            job, where, name, out = self.job(i, raw, defaults, out_dir, voice_ok)
            if name is not None:
                if name in names:
                    self.err(where, "name", f"duplicate job name (also jobs[{names[name]}])")
                names.setdefault(name, i)
            if out is not None:
                files = self.written[-1][1]
                for f in files:  # a sidecar or marker of one job is another's video, or its sidecar
                    if f in outputs and outputs[f] != where:
                        if f == out:
                            self.err(where, "output", f"duplicate output {out.name} (also {outputs[f]})")
                        else:
                            self.err(where, "output", f"the output's {f.suffix} file {f.name} is also written by "
                                     f"{outputs[f]}")
                        break
                for f in files:
                    outputs.setdefault(f, where)
                    if len(f.name.encode()) > NAME_MAX:  # before is_dir(), whose stat() fails on it
                        self.err(where, "output", f"the file name {f.name[:40]}... is longer than {NAME_MAX} bytes")
                        break
                    if f.is_dir():
                        self.err(where, "output", f"{f} is a folder: the job could not write it")
            if job is not None:
                jobs.append(job)
        # one job's output must not replace another job's input (its face video, script, ...)
        own = dict(self.inputs)
        for where, files in self.written:
            mine = {Path(v).resolve() for v in own.get(where, {}).values() if v is not None}
            for other, inputs in self.inputs:
                if other == where:
                    continue  # a job's own inputs were checked with it
                theirs = {f"{k} of {other}": v for k, v in inputs.items()
                          if v is not None and Path(v).resolve() not in mine}  # reported once, as its own
                try:
                    check_not_an_input(files, theirs)
                except OutputError as exc:
                    self.err(where, "output", str(exc))
                    break
        if self.errors:
            raise BatchConfigError(self.source, self.errors)
        return BatchConfig(self.source, self.base, out_dir, jobs)

    def job(self, i: int, raw: Any, defaults: dict, out_dir: Path, voice_ok: dict
            ) -> tuple[JobSpec | None, str, str | None, Path | None]:
        """Validate ``jobs[i]``; return ``(spec or None, label, name, output path)``."""
        where = f"jobs[{i}]"
        if isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw["name"].strip():
            where = f"job {raw['name']!r} (jobs[{i}])"
        n_before = len(self.errors)
        d = self.section(where, raw, JOB_ONLY + SETTINGS)
        if not isinstance(raw, dict):
            return None, where, None, None
        self.job_name(where, raw, d)
        s = {**defaults, **d}
        s.pop("output_dir", None)
        face = self.job_face(where, raw, d, defaults)
        text, script, audio, transcript, transcript_file = self.job_words(where, raw, d)
        self.job_voice(where, raw, s, voice_ok)
        name = d.get("name")
        out = None
        if name is not None or "output" in d:
            out = self.job_output(where, d, s, out_dir, {"face video": face, "script": script, "recording": audio,
                                                          "transcript": transcript_file})
        if len(self.errors) > n_before or face is None or out is None:
            return None, where, name, out
        settings = {k: s[k] for k in SETTINGS if k in s and k != "face"}
        spec = JobSpec.create(name=name, index=i, face=face.resolve(), output=out, text=text,
                              script=script.resolve() if script else None, audio=audio.resolve() if audio else None,
                              transcript=transcript, **settings)
        return spec, where, name, out

    def job_name(self, where: str, raw: dict, d: dict) -> None:
        """A job's ``name``: present, no path separator."""
        if "name" not in raw:
            self.err(where, "name", "missing: every job needs a name")
        elif "name" in d and any(c in d["name"] for c in "/\\"):
            self.err(where, "name", f"{d['name']!r} must not contain a path separator")

    def job_face(self, where: str, raw: dict, d: dict, defaults: dict) -> Path | None:
        """The job's face file (its own, or the one under ``defaults:``), or ``None``."""
        if "face" in d:
            return self.file(where, "face", d["face"])
        if "face" in defaults:
            return self.default_face  # checked once, under 'defaults'
        if "face" not in raw:
            self.err(where, "face", "missing: give a face video or image (here or under defaults:)")
        return None

    def job_words(self, where: str, raw: dict, d: dict):
        """What the job says: ``(text, script file, recording, transcript, transcript file)``,
        exactly one of ``text``/``script``/``audio`` (a recording with its transcript)."""
        has = [k for k in ("text", "script", "audio") if k in raw]
        text = None
        script = audio = transcript_file = None
        transcript = None
        if not has:
            self.err(where, None, "nothing to say: give 'text', 'script' (a file) or 'audio' (a recording) "
                     "with its 'transcript'")
        elif "text" in raw and "script" in raw:
            self.err(where, "script", "give 'text' or 'script', not both")
        elif "audio" in raw and ("text" in raw or "script" in raw):
            self.err(where, "audio", "a recording takes a 'transcript', not 'text'/'script'")
        if "text" in d:
            text = d["text"]
            problem = _nothing_to_speak(text)
            if problem:
                self.err(where, "text", problem)
        if "script" in d:
            script = self.file(where, "script", d["script"], "script file")
            if script is not None:
                text = self.read_text(where, "script", script)
        if "audio" in d:
            audio = self.file(where, "audio", d["audio"], "recording")
            if "transcript" not in raw:
                self.err(where, "transcript", "missing: a recording needs its transcript (text or a .txt file)")
        if "transcript" in d:
            if "audio" not in raw:
                self.err(where, "transcript", "only a recording ('audio') takes a transcript")
            t = d["transcript"]
            if t.strip().lower().endswith(".txt"):
                tp = transcript_file = self.file(where, "transcript", t, "transcript file")
                transcript = self.read_text(where, "transcript", tp) if tp is not None else None
            else:
                transcript = t
        return text, script, audio, transcript, transcript_file

    def job_voice(self, where: str, raw: dict, s: dict, voice_ok: dict) -> None:
        """Check the job's voice (each distinct Piper voice once, cached in ``voice_ok``); a voice
        file is made absolute in the settings ``s``."""
        if s.get("tts", "piper") == "piper" and "voice" in s:
            v = s["voice"]
            resolved = self.path(v) if v.endswith((".onnx", ".json")) else v
            key = ("piper", str(resolved))
            if key not in voice_ok:
                voice_ok[key] = self.check_voice(resolved)
            if voice_ok[key] is not None:
                self.err(where, "voice", voice_ok[key])
            else:
                s["voice"] = str(resolved)
        elif s.get("tts") == "coqui" and "audio" not in raw:
            if "voice" not in s:
                self.err(where, "voice", "tts coqui needs a voice: a Coqui model folder, .pth file or name")
            elif (self.base / s["voice"]).exists():
                s["voice"] = str(self.base / s["voice"])

    def job_output(self, where: str, d: dict, s: dict, out_dir: Path, inputs: dict[str, Path | None]) -> Path:
        """The job's output (``output``, default ``<name>.mp4`` in ``out_dir``), checked: an mp4
        name, its folder creatable, none of the files the job writes one of its ``inputs``.
        Records what the job reads and writes (for the checks between jobs)."""
        from ..pipeline import VIDEO_SUFFIXES, say_outputs

        out_name = d.get("output", f"{d.get('name')}.mp4")
        out = Path(os.path.expanduser(out_name))
        out = (out if out.is_absolute() else out_dir / out).resolve()
        if out.suffix.lower() not in VIDEO_SUFFIXES:
            self.err(where, "output", f"{out_name} should be an .mp4 file")
        # every file the job writes: the video, its sidecars when asked, the .done.json marker
        self.written.append((where, [*say_outputs(out, bool(s.get("sidecars"))), marker_path(out)]))
        self.inputs.append((where, inputs))
        try:
            check_not_an_input(self.written[-1][1], inputs)
        except OutputError as exc:
            self.err(where, "output", str(exc))
        blocked = _blocked_parent(out)
        if blocked is not None and not self.out_dir_bad:  # that one is reported once
            self.err(where, "output", f"cannot write {out}: {blocked} is a file, not a folder")
        return out

    def read_text(self, where: str, key: str, p: Path) -> str | None:
        from ..speech.script import read_script

        try:
            t = read_script(p)
        except InputError as exc:
            self.err(where, key, str(exc))
            return None
        if not t.strip():
            self.err(where, key, f"{p.name} is empty")
            return None
        problem = _nothing_to_speak(t) if key == "script" else None
        if problem:  # checked now, like inline text, not when the job runs
            self.err(where, key, f"{p.name}: {problem}")
            return None
        return t

    @staticmethod
    def check_voice(voice: str | Path) -> str | None:
        from ..speech.piper import resolve_voice

        try:
            resolve_voice(voice)
        except InputError as exc:
            return str(exc)
        return None


_BAD = object()

def marker_path(output: Path) -> Path:
    """The ``.done.json`` marker of a job's output (:attr:`JobSpec.marker`)."""
    return output.with_name(output.name + ".done.json")


def _blocked_parent(path: Path) -> Path | None:
    """The first existing ancestor of ``path`` that is not a folder (so ``path`` cannot be
    created), or ``None``."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def _nothing_to_speak(text: str) -> str | None:
    """Why ``text`` gives no speech (the script parser's own message), or ``None``."""
    from ..speech.script import parse_script

    try:
        parse_script(text)
    except InputError as exc:
        return str(exc)
    return None
