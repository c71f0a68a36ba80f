"""The web app and the HTTP job API (FastAPI). :func:`create_app` builds it for a
:class:`~talkinghead.serve.config.ServeConfig`; ``talkinghead serve`` runs it with uvicorn.

Routes (the full description: ``/openapi.json``, shown at ``/docs``)::

    GET  /                      the page           GET  /docs       the API, readable
    GET  /api/health            GET  /api/voices
    GET  /api/faces             POST /api/faces    GET|DELETE /api/faces/{id}   GET /api/faces/{id}/thumbnail
    GET  /api/jobs              POST /api/jobs     GET|DELETE /api/jobs/{id}    POST /api/jobs/{id}/cancel
    GET  /api/jobs/{id}/video   /subtitles   /timeline
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import time
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, HTTPException, Path as PathParam, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from .config import ServeConfig
from .jobs import JobRequest, RequestError, build_spec, voices
from .models import ErrorOut, FaceOut, FacesOut, HealthOut, JobOut, JobsOut, VoicesOut
from .paths import OUTPUT_STEM, DataDir
from .security import Guard, is_loopback, token_matches
from .store import Face, JobStore, new_id
from .uploads import CHUNK, UploadError, check_face, check_recording, decode_text, keep, receive, thumbnail
from .worker import JobWorker

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
ID_PATTERN = "^[0-9a-f]{32}$"
FaceId = Annotated[str, PathParam(pattern=ID_PATTERN, description="a face's id (32 hex digits)")]
JobId = Annotated[str, PathParam(pattern=ID_PATTERN, description="a job's id (32 hex digits)")]
_MEANING = {401: "no token, or a wrong one (servers with a token)", 404: "no such face or job",
            409: "not possible in the job's state", 413: "the upload is too large",
            415: "the upload is of no type the server takes", 422: "a bad value or an upload that cannot be used",
            429: "too many jobs waiting"}


def errors(*codes: int) -> dict:
    """OpenAPI ``responses`` for the error statuses a route answers (all with an :class:`ErrorOut`)."""
    return {c: {"model": ErrorOut, "description": _MEANING[c]} for c in (401, *codes)}


class Server:
    """What the routes share: the settings, the data folder, the store and the worker."""

    def __init__(self, config: ServeConfig):
        self.config = config
        self.data = DataDir(config.data_dir)
        self.voices = voices(config.voice_dir)
        self.store: JobStore | None = None
        self.worker: JobWorker | None = None
        self._lock = None

    def start(self) -> None:
        self._lock = self.data.lock()
        self.store = JobStore(self.data.database)
        for j in self.store.recover():
            log.warning("job %s was running when the server stopped: now %s", j.id, j.status)
            self.data.clear_outputs(j.id)
        shutil.rmtree(self.data.incoming, ignore_errors=True)  # uploads cut short by a stop
        self.data.incoming.mkdir(exist_ok=True)
        self.worker = JobWorker(self.store, self.data, self.voices, workers=self.config.workers,
                                executor=self.config.executor, device=self.config.device,
                                ray_address=self.config.ray_address)
        self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.store is not None:
            self.store.close()
        if self._lock is not None:
            self._lock.close()

    # -- uploads -----------------------------------------------------------------------------
    async def keep_face(self, upload: UploadFile) -> tuple[Face, bool]:
        """Check and keep an uploaded face. Returns ``(face, new)``; ``new`` is ``False`` when the
        same file was kept already. Raises :class:`UploadError` (nothing is kept then)."""
        path, sha, size = await receive(_chunks(upload), self.data.incoming, self.config.max_upload_bytes,
                                        "face file")
        try:
            old = self.store.face_by_hash(sha)
            if old is not None:
                return old, False
            checked = await run_in_threadpool(check_face, path, sha, size)
        finally:
            path.unlink(missing_ok=True)
        face_id = new_id()
        folder = self.data.face_dir(face_id)
        try:
            stored = keep(checked.path, folder / f"face{checked.suffix}")
            await run_in_threadpool(thumbnail, stored, folder / "thumb.jpg")
            face = self.store.add_face(Face(face_id, sha, checked.kind, stored.name, _label(upload.filename),
                                            checked.width, checked.height, checked.frames, checked.fps, size,
                                            time.time()))
        except BaseException:
            checked.path.unlink(missing_ok=True)
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if face.id != face_id:  # the same file, kept by a request at the same time
            shutil.rmtree(folder, ignore_errors=True)
            return face, False
        return face, True

    def forget_face(self, face: Face) -> None:
        if self.store.delete_face(face.id):
            shutil.rmtree(self.data.face_dir(face.id), ignore_errors=True)


def _chunks(upload: UploadFile):
    async def gen():
        while chunk := await upload.read(CHUNK):
            yield chunk
    return gen()


def _label(filename: str | None) -> str:
    """An uploaded file's name for display only: its last part, printable, at most 100 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[:100] or "upload"


def _error(status: int, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail=message)


def create_app(config: ServeConfig) -> FastAPI:
    """The FastAPI app for ``config`` (the worker starts with the app's lifespan)."""
    server = Server(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(server.start)
        try:
            yield
        finally:
            await run_in_threadpool(server.stop)

    app = FastAPI(title="talkinghead", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Script in, lip-synced video of a real face out. Submit a job (a face and "
                  "what to say), poll it, download the video and its subtitles. When the server has a token, "
                  "every /api route but /api/health needs the header `Authorization: Bearer TOKEN`.")
    app.state.server = server
    app.add_middleware(Guard, max_body=config.max_upload_bytes + 2_000_000, loopback_only=is_loopback(config.host))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path"))
            parts.append(f"field {where!r}: {e.get('msg')}" if where else str(e.get("msg")))
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)

    def authorized(request: Request) -> None:
        if config.token and not token_matches(request.headers.get("authorization"), config.token):
            raise HTTPException(401, "this server needs a token: send 'Authorization: Bearer TOKEN'",
                                headers={"WWW-Authenticate": "Bearer"})

    auth = [Depends(authorized)]

    def face_or_404(face_id: str) -> Face:
        face = server.store.face(face_id)
        if face is None:
            raise _error(404, f"no face with id {face_id}")
        return face

    def job_or_404(job_id: str):
        job = server.store.job(job_id)
        if job is None:
            raise _error(404, f"no job with id {job_id}")
        return job

    # -- the page and the docs ---------------------------------------------------------------
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return FileResponse(STATIC / "docs.html", media_type="text/html")

    # -- API -------------------------------------------------------------------------------
    @app.get("/api/health", response_model=HealthOut, tags=["server"])
    def health():
        """Whether the server is up, and how busy it is (no token needed)."""
        return HealthOut(ok=True, version=__version__, executor=config.executor, workers=config.workers,
                         queued=server.store.count("queued"), running=server.store.count("running"),
                         token_required=bool(config.token))

    @app.get("/api/voices", response_model=VoicesOut, dependencies=auth, responses=errors(), tags=["server"])
    def list_voices():
        """The voices a job may name."""
        return VoicesOut(voices=list(server.voices))

    @app.get("/api/faces", response_model=FacesOut, dependencies=auth, responses=errors(), tags=["faces"])
    def list_faces():
        """The faces kept by the server, newest first; prepared ones start a job at once."""
        return FacesOut(faces=[FaceOut.of(f) for f in server.store.faces()])

    @app.post("/api/faces", response_model=FaceOut, status_code=201, dependencies=auth,
              responses=errors(413, 415, 422), tags=["faces"])
    async def upload_face(file: Annotated[UploadFile, File(description="a photo or a video of the face")]):
        """Upload a face (checked by decoding it; the same file uploaded twice is kept once)."""
        try:
            face, _ = await server.keep_face(file)
        except UploadError as exc:
            raise _error(exc.status, str(exc)) from None
        return FaceOut.of(face)

    @app.get("/api/faces/{face_id}", response_model=FaceOut, dependencies=auth, responses=errors(404, 422),
             tags=["faces"])
    def get_face(face_id: FaceId):
        return FaceOut.of(face_or_404(face_id))

    @app.delete("/api/faces/{face_id}", status_code=204, dependencies=auth, responses=errors(404, 409, 422),
                tags=["faces"])
    def delete_face(face_id: FaceId):
        """Forget a face (refused while a queued or running job uses it)."""
        face = face_or_404(face_id)
        if not server.store.delete_face(face.id):
            raise _error(409, "a queued or running job uses this face: cancel it first")
        shutil.rmtree(server.data.face_dir(face.id), ignore_errors=True)

    @app.get("/api/faces/{face_id}/thumbnail", dependencies=auth, responses=errors(404, 422), tags=["faces"],
             response_class=FileResponse)
    def face_thumbnail(face_id: FaceId):
        """A small JPEG of the face's first frame."""
        face = face_or_404(face_id)
        p = server.data.face_dir(face.id) / "thumb.jpg"
        if not p.exists():
            raise _error(404, "this face has no thumbnail")
        return FileResponse(p, media_type="image/jpeg")

    @app.get("/api/jobs", response_model=JobsOut, dependencies=auth, responses=errors(422), tags=["jobs"])
    def list_jobs(limit: int = 50):
        """The newest jobs, newest first (at most limit, up to 500)."""
        return JobsOut(jobs=[JobOut.of(j) for j in server.store.jobs(max(1, min(limit, 500)))])

    @app.post("/api/jobs", response_model=JobOut, status_code=202, dependencies=auth, tags=["jobs"],
              responses=errors(404, 413, 415, 422, 429))
    async def submit_job(
        face_id: Annotated[str | None, Form(pattern=ID_PATTERN, description="a kept face's id")] = None,
        face: Annotated[UploadFile | None, File(description="or upload the face (photo or video)")] = None,
        text: Annotated[str | None, Form(description="what to say (blank lines: paragraphs; [pause 0.8s])")] = None,
        script: Annotated[UploadFile | None, File(description="or a UTF-8 script file")] = None,
        recording: Annotated[UploadFile | None, File(description="or your own recording (WAV, FLAC, Ogg, MP3, "
                                                                 "M4A) ...")] = None,
        transcript: Annotated[str | None, Form(description="... and what it says")] = None,
        transcript_file: Annotated[UploadFile | None, File(description="... or as a UTF-8 file")] = None,
        voice: Annotated[str | None, Form(description="a name from /api/voices")] = None,
        rate: Annotated[float, Form(description="speaking rate, 1 = normal (0.25 to 4)")] = 1.0,
        seed: Annotated[int | None, Form(description="the same seed gives the same voice audio")] = None,
        sentence_pause: Annotated[float, Form(description="seconds between sentences (0 to 10)")] = 0.25,
        paragraph_pause: Annotated[float, Form(description="seconds for a blank line (0 to 10)")] = 0.7,
        fast: Annotated[bool, Form(description="one refiner pass: about half its time, slightly softer")] = False,
        max_side: Annotated[int | None, Form(description="scale the face down first to this many pixels")] = None,
        own_mouth: Annotated[bool, Form(description="the person's own lips and teeth from the video")] = True,
        skin_detail: Annotated[bool, Form(description="the video's own skin detail on the rebuilt skin")] = True,
        colour_anchor: Annotated[bool, Form(description="colours pulled back to the face's own")] = True,
    ):
        """Submit a job: a face (face_id, or a face file) and what to say (text, a script file, or a
        recording with its transcript or transcript_file). Answers 202 with the queued job; poll
        GET /api/jobs/{id} until its status is done, failed or cancelled."""
        store = server.store
        if store.count("queued") >= config.max_queued:
            raise _error(429, f"{config.max_queued} jobs are waiting already: try again later")
        if (face_id is None) == (_given(face) is None):
            raise _error(422, "give the face: 'face_id' (a kept face) or 'face' (a file), one of them")
        job_id = new_id()
        job_dir = server.data.job_dir(job_id)
        new_face = None
        try:
            if _given(face) is not None:
                the_face, created = await server.keep_face(face)
                new_face = the_face if created else None
            else:
                the_face = face_or_404(face_id)
            if _given(script) is not None:
                if text is not None:
                    raise UploadError("give 'text' or 'script', not both")
                text = decode_text(await script.read(), "script file")
            if _given(transcript_file) is not None:
                if transcript is not None:
                    raise UploadError("give 'transcript' or 'transcript_file', not both")
                transcript = decode_text(await transcript_file.read(), "transcript file")
            rec_name = None
            if _given(recording) is not None:
                job_dir.mkdir(parents=True)
                path, _, _ = await receive(_chunks(recording), server.data.incoming, config.max_upload_bytes,
                                           "recording")
                try:
                    typed, _ = await run_in_threadpool(check_recording, path)
                finally:
                    path.unlink(missing_ok=True)
                rec_name = keep(typed, job_dir / f"recording{typed.suffix}").name
            req = JobRequest(text=text, transcript=transcript, recording=rec_name,
                             voice=voice or next(iter(server.voices)), rate=rate, seed=seed,
                             sentence_pause=sentence_pause, paragraph_pause=paragraph_pause, fast=fast,
                             max_side=max_side, own_mouth=own_mouth, skin_detail=skin_detail,
                             colour_anchor=colour_anchor)
            job_dir.mkdir(parents=True, exist_ok=True)
            await run_in_threadpool(build_spec, req, job_id=job_id,
                                    face=server.data.face_dir(the_face.id) / the_face.filename, job_dir=job_dir,
                                    out_dir=server.data.out_dir(job_id), voice_table=server.voices,
                                    output_name=f"{OUTPUT_STEM}.mp4")
            job = store.add_job(job_id, the_face.id, req.to_dict())
        except (UploadError, RequestError, HTTPException) as exc:
            server.data.remove_job(job_id)
            if new_face is not None:
                server.forget_face(new_face)
            if isinstance(exc, HTTPException):
                raise
            status = exc.status if isinstance(exc, UploadError) else 422
            raise _error(status, server.data.hide_root(str(exc))) from None
        except BaseException:
            server.data.remove_job(job_id)
            if new_face is not None:
                server.forget_face(new_face)
            raise
        server.worker.wake()
        return JobOut.of(job)

    @app.get("/api/jobs/{job_id}", response_model=JobOut, dependencies=auth, responses=errors(404, 422),
             tags=["jobs"])
    def get_job(job_id: JobId):
        """A job's status, stage and progress (0 to 1); its error if it failed; its result links once done."""
        return JobOut.of(job_or_404(job_id))

    @app.post("/api/jobs/{job_id}/cancel", response_model=JobOut, status_code=202, dependencies=auth,
              responses=errors(404, 422), tags=["jobs"])
    def cancel_job(job_id: JobId):
        """Cancel a job: a queued one at once; a running one stops within seconds (poll it until its
        status is cancelled) and leaves no file behind. A finished job is answered as it is."""
        job_or_404(job_id)
        job = server.store.request_cancel(job_id)
        if job.status == "running":
            server.worker.cancel(job_id)
        return JobOut.of(job)

    @app.delete("/api/jobs/{job_id}", status_code=204, dependencies=auth, responses=errors(404, 409, 422),
                tags=["jobs"])
    def delete_job(job_id: JobId):
        """Delete a finished job and its files (refused while it is queued or running: cancel it)."""
        job_or_404(job_id)
        if not server.store.delete_job(job_id):
            raise _error(409, "the job is queued or running: cancel it first")
        server.data.remove_job(job_id)

    def result(job_id: str, suffix: str, media_type: str, download: bool):
        job = job_or_404(job_id)
        if job.status != "done":
            raise _error(409 if job.status in ("queued", "running") else 404,
                         f"the job is {job.status}: it has no results" + (" yet" if job.status in ("queued", "running")
                                                                          else ""))
        p = server.data.output(job_id, suffix)
        if not p.exists():
            raise _error(404, f"the job's {suffix} file is missing from the server's data folder")
        return FileResponse(p, media_type=media_type, filename=f"talkinghead-{job_id[:8]}{suffix}",
                            content_disposition_type="attachment" if download else "inline")

    @app.get("/api/jobs/{job_id}/video", dependencies=auth, responses=errors(404, 409, 422), tags=["results"],
             response_class=FileResponse)
    def job_video(job_id: JobId, download: bool = False):
        """The mp4 (H.264 + AAC; byte ranges are supported, so a video element can seek; download=true:
        as an attachment)."""
        return result(job_id, ".mp4", "video/mp4", download)

    @app.get("/api/jobs/{job_id}/subtitles", dependencies=auth, responses=errors(404, 409, 422), tags=["results"],
             response_class=FileResponse)
    def job_subtitles(job_id: JobId, download: bool = False):
        """The subtitles (SubRip .srt)."""
        return result(job_id, ".srt", "application/x-subrip; charset=utf-8", download)

    @app.get("/api/jobs/{job_id}/timeline", dependencies=auth, responses=errors(404, 409, 422), tags=["results"],
             response_class=FileResponse)
    def job_timeline(job_id: JobId, download: bool = False):
        """The phoneme and word timeline (JSON, as talkinghead say --sidecars writes it)."""
        return result(job_id, ".json", "application/json", download)

    return app


def _given(upload: UploadFile | None) -> UploadFile | None:
    """An upload field a browser form sent with a file in it (an empty file input sends a part
    with no file name and no bytes)."""
    if upload is None or (not upload.filename and not upload.size):
        return None
    return upload
