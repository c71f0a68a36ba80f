"""``talkinghead serve``'s HTTP API against a real server on a loopback port, running real jobs."""

from __future__ import annotations

import json
import signal
import time

import pytest
from serve_fixtures import PORTRAIT, LiveServer

pytestmark = pytest.mark.slow


def _files_under(folder) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_submit_poll_download(live_server, tmp_path):
    from talkinghead.media import probe, read_frames

    face = live_server.post_form("/api/faces", files={"file": ("astronaut.png", PORTRAIT.read_bytes())})
    assert face.status == 201, face.body
    face = face.json()
    assert (face["kind"], face["width"], face["height"], face["label"]) == ("image", 512, 512, "astronaut.png")
    job = live_server.submit("Hello there.", face_id=face["id"], fast=True, seed=3)
    assert job["status"] == "queued" and job["links"]["video"] is None
    seen = set()
    while job["status"] not in ("done", "failed", "cancelled"):
        time.sleep(0.3)
        job = live_server.get(f"/api/jobs/{job['id']}").json()
        seen.add(job["stage"])
        assert 0.0 <= job["progress"] <= 1.0
    assert job["status"] == "done", job
    assert job["progress"] == 1.0 and job["duration"] > 0.4 and job["n_frames"] > 10
    assert seen & {"preparing face", "speech", "rendering", "finishing"}

    video = live_server.get(job["links"]["video"] + "?download=1")
    assert video.status == 200 and video.headers["content-type"] == "video/mp4"
    assert "attachment" in video.headers["content-disposition"]
    out = tmp_path / "out.mp4"
    out.write_bytes(video.body)
    info = probe(out)
    assert info.has_audio and info.n_frames == job["n_frames"] and (info.width, info.height) == (512, 512)
    frames = list(read_frames(out))
    assert len(frames) == info.n_frames and frames[0].std() > 10
    part = live_server.get(job["links"]["video"], headers={"Range": "bytes=0-99"})
    assert part.status == 206 and len(part.body) == 100  # a <video> can seek
    srt = live_server.get(job["links"]["subtitles"])
    assert srt.status == 200 and "Hello there." in srt.body.decode()
    timeline = live_server.get(job["links"]["timeline"]).json()
    assert timeline["text"] == "Hello there." and timeline["phonemes"] and timeline["words"]

    faces = live_server.get("/api/faces").json()["faces"]
    assert [f["prepared"] for f in faces if f["id"] == face["id"]] == [True]
    again = live_server.post_form("/api/faces", files={"file": ("copy.png", PORTRAIT.read_bytes())}).json()
    assert again["id"] == face["id"]  # the same file is kept once
    assert live_server.get("/api/faces/" + face["id"] + "/thumbnail").headers["content-type"] == "image/jpeg"
    listed = live_server.get("/api/jobs").json()["jobs"]
    assert job["id"] in [j["id"] for j in listed]
    assert live_server.get("/openapi.json").json()["paths"]["/api/jobs"]["post"]


def test_bad_uploads_are_refused_and_leave_nothing(live_server):
    data = live_server.data_dir
    before = _files_under(data / "faces") | _files_under(data / "jobs")
    cases = [
        ("notes.png", b"this is not a picture at all", 415, "not a PNG, JPEG"),
        ("trunc.png", PORTRAIT.read_bytes()[:300], 422, "cannot be decoded"),
        ("big.png", b"\x89PNG\r\n\x1a\n" + bytes(6_000_000), 413, "limit of 5 MB"),
        ("empty.png", b"", 422, "empty"),
    ]
    for name, content, status, message in cases:
        r = live_server.post_form("/api/faces", files={"file": (name, content)})
        assert r.status == status, (name, r.body)
        assert message in r.json()["detail"], (name, r.json())
    # a job whose face is fine but whose options are not: refused, and the new face is not kept
    tiny = _small_png()
    r = live_server.post_form("/api/jobs", {"text": "Hi.", "rate": "9"}, {"face": ("tiny.png", tiny)})
    assert r.status == 422 and "rate" in r.json()["detail"] and "out of range" in r.json()["detail"]
    r = live_server.post_form("/api/jobs", {"text": "Hi.", "voice": "../../../etc/passwd"},
                              {"face": ("tiny.png", tiny)})
    assert r.status == 422 and "unknown voice" in r.json()["detail"]
    r = live_server.post_form("/api/jobs", {"text": "Hi."}, {"face": ("tiny.png", tiny),
                                                           "recording": ("r.wav", b"RIFF....WAVEfmt garbage")})
    assert r.status == 422 and "recording" in r.json()["detail"]
    r = live_server.post_form("/api/jobs", {"text": "   "}, {"face": ("tiny.png", tiny)})
    assert r.status == 422 and "nothing to say" in r.json()["detail"]
    assert _files_under(data / "faces") | _files_under(data / "jobs") == before
    assert not any((data / "incoming").iterdir())
    assert all(f["label"] != "tiny.png" for f in live_server.get("/api/faces").json()["faces"])


def _small_png() -> bytes:
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    ok, buf = cv2.imencode(".png", rng.integers(0, 255, (96, 96, 3), dtype=np.uint8))
    return buf.tobytes()


def test_paths_from_requests_never_reach_the_file_system(live_server):
    for path in ["/api/jobs/..%2F..%2Fjobs.sqlite3/video", "/api/jobs/../../jobs.sqlite3",
                 "/api/faces/..%2F..%2Fetc%2Fpasswd/thumbnail", "/static/..%2F..%2Fapp.py",
                 "/static/../../jobs.sqlite3", "/api/jobs/" + "0" * 32 + "/video",
                 "/api/jobs/" + "A" * 32]:
        r = live_server.get(path)
        assert r.status in (404, 422), (path, r.status)
        assert b"SQLite" not in r.body and b"import" not in r.body
    # an uploaded file's name is only a label: the file is kept under a name the server chose
    r = live_server.post_form("/api/faces", files={"file": ("../../../../tmp/evil.png", _small_png())})
    assert r.status == 201, r.body
    face = r.json()
    assert face["label"] == "evil.png"
    assert sorted(p.name for p in (live_server.data_dir / "faces" / face["id"]).iterdir()) == ["face.png",
                                                                                                "thumb.jpg"]
    assert live_server.request("DELETE", f"/api/faces/{face['id']}").status == 204
    assert not (live_server.data_dir / "faces" / face["id"]).exists()
    # requests addressed to another host name (DNS rebinding) or sent by another site's page
    r = live_server.get("/api/jobs", headers={"Host": "attacker.example:80"})
    assert r.status == 403 and "addressed to this machine" in r.json()["detail"]
    r = live_server.post_form("/api/jobs", {"text": "Hi."}, headers={"Origin": "http://attacker.example"})
    assert r.status == 403 and "cross-site" in r.json()["detail"]


def test_cancel_stops_a_running_job_and_leaves_no_file(live_server):
    job = live_server.submit("This sentence is long enough that the job is still rendering when it is "
                             "cancelled, so that the cancel interrupts the worker.", fast=True)
    # a job queued behind it (one worker) is cancelled at once
    queued = live_server.submit("Never said.", face_id=job["face_id"], fast=True)
    assert live_server.request("POST", f"/api/jobs/{queued['id']}/cancel").json()["status"] == "cancelled"
    job = live_server.wait(job["id"], until=("speech", "rendering"))
    r = live_server.request("POST", f"/api/jobs/{job['id']}/cancel")
    assert r.status == 202 and r.json()["cancel_requested"]
    job = live_server.wait(job["id"], timeout=60)
    assert job["status"] == "cancelled", job
    out = live_server.data_dir / "jobs" / job["id"]
    assert not any(p for p in out.rglob("*") if p.is_file() and p.suffix in (".mp4", ".srt", ".json"))
    assert not any(p.name.startswith(".") for p in out.rglob("*"))  # no temporary file either
    assert live_server.get(f"/api/jobs/{job['id']}/video").status == 404
    assert live_server.get(f"/api/jobs/{queued['id']}").json()["status"] == "cancelled"
    assert live_server.request("DELETE", f"/api/jobs/{job['id']}").status == 204 and not out.exists()


def test_jobs_survive_a_restart(tmp_path, _isolated_cache):
    pytest.importorskip("fastapi")
    from talkinghead.serve.store import JobStore
    server = LiveServer(tmp_path / "data").start()
    try:
        job = server.submit("A job that outlives its server.", fast=True)
        server.wait(job["id"], until=("running",))
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL  # as in a crash: no clean-up at all
        server = LiveServer(tmp_path / "data")
        server.start()
        after = server.get(f"/api/jobs/{job['id']}").json()
        assert after["status"] in ("queued", "running", "done") and "server stopped" in after["note"]
        done = server.wait(job["id"])
        assert done["status"] == "done" and done["attempts"] == 2, done
        assert server.get(done["links"]["video"]).status == 200
        # a clean stop (SIGTERM) with a job queued or running: it is left queued for the next start
        later = server.submit("Later.", face_id=done["face_id"], fast=True)
        assert server.stop() == 143  # 128 + SIGTERM, after a clean shutdown (as every command)
        store = JobStore(tmp_path / "data" / "jobs.sqlite3")
        assert store.job(later["id"]).status == "queued" and not store.jobs()[0].cancel_requested
        store.close()
    finally:
        server.stop()


def test_a_token_is_required_off_loopback(tmp_path, _isolated_cache):
    pytest.importorskip("fastapi")
    from talkinghead.cli import main

    assert main(["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()
    token = "correct-horse-battery-staple"
    server = LiveServer(tmp_path / "data", host="0.0.0.0", token=token).start()
    try:
        assert server.get("/api/health").json()["token_required"] is True
        for header in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": token}):
            r = server.get("/api/jobs", headers={"Authorization": "", **header})
            assert r.status == 401 and "token" in r.json()["detail"], header
        r = server.post_form("/api/faces", files={"file": ("a.png", _small_png())}, headers={"Authorization": ""})
        assert r.status == 401 and not any((tmp_path / "data" / "faces").iterdir())
        assert server.get("/api/jobs").status == 200
        assert json.loads(server.get("/openapi.json").body)["info"]["title"] == "talkinghead"
    finally:
        server.stop()
