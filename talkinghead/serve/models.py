"""The JSON the HTTP API answers with (pydantic models: they make the OpenAPI description)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .store import Face, Job


class ErrorOut(BaseModel):
    """Every error: one message that says what is wrong."""

    detail: str = Field(description="what is wrong, and what to do")


class HealthOut(BaseModel):
    ok: bool
    version: str
    executor: str
    workers: int
    queued: int
    running: int
    token_required: bool


class VoicesOut(BaseModel):
    voices: list[str] = Field(description="names a job's 'voice' may take; the first is the default")


class FaceOut(BaseModel):
    """A face the server keeps (uploaded once, by content: the same file uploaded again is this)."""

    id: str
    label: str = Field(description="the uploaded file's name, for display")
    kind: str = Field(description="'image' (a portrait) or 'video'")
    width: int = Field(description="pixels")
    height: int = Field(description="pixels")
    frames: int = Field(description="frames (1 for an image)")
    fps: float = Field(description="frames per second (0 for an image)")
    size: int = Field(description="bytes")
    created: float = Field(description="upload time, Unix seconds")
    prepared: bool = Field(description="prepared already (a job on it finished): the next job starts at once")
    thumbnail: str = Field(description="URL of a small JPEG of its first frame")

    @classmethod
    def of(cls, f: Face) -> "FaceOut":
        return cls(id=f.id, label=f.label, kind=f.kind, width=f.width, height=f.height, frames=f.frames,
                   fps=f.fps, size=f.size, created=f.created, prepared=f.prepared,
                   thumbnail=f"/api/faces/{f.id}/thumbnail")


class FacesOut(BaseModel):
    faces: list[FaceOut]


class JobLinks(BaseModel):
    self: str
    cancel: str
    video: str | None = Field(None, description="the mp4, once done (?download=1: as an attachment)")
    subtitles: str | None = Field(None, description="the .srt subtitles, once done")
    timeline: str | None = Field(None, description="the phoneme and word timeline (.json), once done")


class JobOut(BaseModel):
    """A job and where it stands."""

    id: str
    status: str = Field(description="queued, running, done, failed or cancelled")
    stage: str = Field(description="queued, starting, preparing face, speech, rendering, finishing, done...")
    progress: float = Field(description="fraction done, 0 to 1 (coarse before rendering)")
    error: str | None = Field(None, description="why it failed")
    note: str | None = Field(None, description="e.g. queued again after a server restart")
    face_id: str
    options: dict = Field(description="the job's options as submitted")
    created: float = Field(description="Unix seconds")
    started: float | None = None
    finished: float | None = None
    duration: float | None = Field(None, description="seconds of video made")
    n_frames: int | None = None
    attempts: int = Field(description="times it was started")
    cancel_requested: bool
    links: JobLinks

    @classmethod
    def of(cls, j: Job) -> "JobOut":
        base = f"/api/jobs/{j.id}"
        done = j.status == "done"
        options = {k: v for k, v in j.request.items() if k != "recording"}
        return cls(id=j.id, status=j.status, stage=j.stage, progress=round(j.progress, 4), error=j.error,
                   note=j.note, face_id=j.face_id, options=options, created=j.created, started=j.started,
                   finished=j.finished, duration=j.duration, n_frames=j.n_frames, attempts=j.attempts,
                   cancel_requested=j.cancel_requested,
                   links=JobLinks(self=base, cancel=f"{base}/cancel", video=f"{base}/video" if done else None,
                                  subtitles=f"{base}/subtitles" if done else None,
                                  timeline=f"{base}/timeline" if done else None))


class JobsOut(BaseModel):
    jobs: list[JobOut]
