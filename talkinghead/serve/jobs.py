"""What a client may ask of a job, and how it becomes a batch :class:`~talkinghead.batch.JobSpec`.

A request names its voice from the server's list (:func:`voices`), never by a path, and its face
by id; the batch config checker (:func:`talkinghead.batch.load_config`) then checks every value
as it checks a YAML config's, so the server and ``talkinghead batch`` accept the same things.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..batch import BatchConfigError, JobSpec, load_config
from ..fileio import write_text_atomic
from ..speech.piper import DEFAULT_VOICE

#: File name of a job's transcript in its folder.
TRANSCRIPT_NAME = "transcript.txt"
#: Longest script or transcript, characters.
MAX_TEXT_CHARS = 20_000


class RequestError(ValueError):
    """A job request that cannot be run; the message says which field and why."""


@dataclass(frozen=True)
class JobRequest:
    """A job's options as a client gives them (everything JSON-able; stored with the job).

    Attributes:
        text: the script (pause markup allowed); ``None`` with a recording.
        transcript: what the recording says (with ``recording``).
        recording: the uploaded recording's file name in the job's folder (set by the server).
        voice: a name from :func:`voices` (default: the bundled voice).
        rate: speaking rate, 1.0 = normal (0.25 to 4).
        seed: seed of the voice's sampling noise (the same seed gives the same audio).
        sentence_pause, paragraph_pause: seconds of silence between sentences / for a blank line.
        fast: one refiner pass per frame (about half the refiner's time, slightly softer).
        max_side: the face scaled down first so that its longer side is at most this many pixels.
        own_mouth, skin_detail, colour_anchor: as ``talkinghead say``'s ``--no-own-mouth``,
            ``--no-skin-detail``, ``--no-colour-anchor`` when ``False``.
    """

    text: str | None = None
    transcript: str | None = None
    recording: str | None = None
    voice: str = DEFAULT_VOICE
    rate: float = 1.0
    seed: int | None = None
    sentence_pause: float = 0.25
    paragraph_pause: float = 0.7
    fast: bool = False
    max_side: int | None = None
    own_mouth: bool = True
    skin_detail: bool = True
    colour_anchor: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "JobRequest":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def voices(voice_dir: str | Path | None = None) -> dict[str, str]:
    """The voices a request may name: ``name -> value for the batch config``.

    The bundled voice, plus each Piper voice (``NAME.onnx`` with its ``NAME.onnx.json``) in
    ``voice_dir`` (``talkinghead serve --voice-dir``).
    """
    out = {DEFAULT_VOICE: DEFAULT_VOICE}
    if voice_dir is not None:
        for p in sorted(Path(voice_dir).expanduser().glob("*.onnx")):
            if p.with_name(p.name + ".json").exists() and p.stem not in out:
                out[p.stem] = str(p.resolve())
    return out


def check_request(req: JobRequest) -> None:
    """The checks the batch config checker does not make (what a web form can get wrong).

    Raises:
        RequestError: naming the field.
    """
    if req.recording is None:
        if req.transcript is not None:
            raise RequestError("a transcript goes with a recording: upload the recording too, or type the "
                               "text to speak as 'text'")
        if req.text is None or not req.text.strip():
            raise RequestError("nothing to say: give 'text' (or upload a script, or a recording with its "
                               "transcript)")
    else:
        if req.text is not None:
            raise RequestError("a recording takes a 'transcript' (what it says), not 'text'")
        if req.transcript is None or not req.transcript.strip():
            raise RequestError("a recording needs its 'transcript': what it says")
    for name in ("text", "transcript"):
        v = getattr(req, name)
        if v is not None and len(v) > MAX_TEXT_CHARS:
            raise RequestError(f"the {name} is {len(v)} characters long: at most {MAX_TEXT_CHARS}")


def build_spec(req: JobRequest, *, job_id: str, face: Path, job_dir: Path, out_dir: Path,
               voice_table: dict[str, str], output_name: str) -> JobSpec:
    """The batch job for ``req``: checked like a batch config's job.

    Args:
        req: the request.
        job_id: the job's id (the batch job's name).
        face: the face file (server-kept).
        job_dir: the job's folder (its recording, if any, is there; the transcript is written
            there).
        out_dir: where its results go.
        voice_table: :func:`voices`.
        output_name: the mp4's file name.

    Raises:
        RequestError: every problem, one per line, each naming the field.
    """
    check_request(req)
    if req.voice not in voice_table:
        raise RequestError(f"field 'voice': unknown voice {req.voice!r}: choose one of {', '.join(voice_table)}")
    job: dict = {"name": job_id, "face": str(face), "output": output_name, "voice": voice_table[req.voice],
                 "rate": req.rate, "sentence_pause": req.sentence_pause, "paragraph_pause": req.paragraph_pause,
                 "fast": req.fast, "own_mouth": req.own_mouth, "skin_detail": req.skin_detail,
                 "colour_anchor": req.colour_anchor, "sidecars": True}
    if req.seed is not None:
        job["seed"] = req.seed
    if req.max_side is not None:
        job["max_side"] = req.max_side
    if req.recording is not None:
        # the transcript goes in a file of the server's: given inline, a text ending in ".txt"
        # would be taken for a file name by the batch checker
        transcript = job_dir / TRANSCRIPT_NAME
        if not transcript.exists():
            write_text_atomic(transcript, req.transcript)
        job.update(audio=str(job_dir / Path(req.recording).name), transcript=str(transcript))
    else:
        job["text"] = req.text
    try:
        cfg = load_config({"jobs": [job]}, outdir=out_dir)
    except BatchConfigError as exc:
        prefix = f"job {job_id!r} (jobs[0]): "
        raise RequestError("\n".join(e.removeprefix(prefix) for e in exc.errors)) from None
    return cfg.jobs[0]
