"""The parts of ``talkinghead serve`` that need no server: the store, the safety rules, upload
checks and job requests."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the 'serve' extra is not installed")

from serve_fixtures import PORTRAIT  # noqa: E402

from talkinghead.errors import InputError  # noqa: E402
from talkinghead.serve.jobs import JobRequest, RequestError, build_spec, voices  # noqa: E402
from talkinghead.serve.paths import DataDir, check_id  # noqa: E402
from talkinghead.serve.security import Guard, check_bind, is_loopback, token_matches  # noqa: E402
from talkinghead.serve.store import Face, JobStore, new_id  # noqa: E402
from talkinghead.serve.uploads import UploadError, check_face, decode_text  # noqa: E402


def _face(store: JobStore, sha="a" * 64) -> Face:
    return store.add_face(Face(new_id(), sha, "image", "face.png", "me.png", 512, 512, 1, 0.0, 10, 1.0))


def test_store_job_life_cycle_and_recovery(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    face = _face(store)
    assert _face(store).id == face.id  # the same content is kept once
    a, b, c = (store.add_job(new_id(), face.id, {"text": t}) for t in ("a", "b", "c"))
    assert store.claim_next().id == a.id  # oldest first
    store.set_progress(a.id, "rendering", 0.5)
    store.set_progress(a.id, "rendering", 0.4)  # never goes back
    assert store.job(a.id).progress == 0.5 and store.job(a.id).attempts == 1
    assert store.request_cancel(b.id).status == "cancelled"  # queued: at once
    assert store.request_cancel(a.id).cancel_requested  # running: flagged
    assert store.claim_next().id == c.id
    assert store.delete_face(face.id) is False  # jobs use it
    store.close()

    store = JobStore(tmp_path / "jobs.sqlite3")  # "restart"
    changed = {j.id: j for j in store.recover()}
    assert changed[a.id].status == "cancelled"  # its cancel was asked
    assert changed[c.id].status == "queued" and "server stopped" in changed[c.id].note
    assert store.claim_next().id == c.id and store.job(c.id).attempts == 2
    store.close()
    store = JobStore(tmp_path / "jobs.sqlite3")
    (j,) = store.recover()
    assert j.status == "failed" and "2 times" in j.error  # not a third time
    assert store.delete_job(j.id) and store.job(j.id) is None


def test_loopback_and_token_rules():
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"):
        assert is_loopback(host), host
        check_bind(host, None)
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com"):
        assert not is_loopback(host), host
        with pytest.raises(InputError, match="needs a token|give a token"):
            check_bind(host, None)
        check_bind(host, "a-long-enough-token")
    with pytest.raises(InputError, match="at least 16"):
        check_bind("0.0.0.0", "short")
    assert token_matches("Bearer a-long-enough-token", "a-long-enough-token")
    assert token_matches("bearer a-long-enough-token", "a-long-enough-token")
    for bad in (None, "", "a-long-enough-token", "Bearer a-long-enough-tokeN", "Basic a-long-enough-token"):
        assert not token_matches(bad, "a-long-enough-token"), bad


def test_guard_refuses_before_reading_the_body():
    g = Guard(None, max_body=1000, loopback_only=True)
    ok = {"host": "127.0.0.1:8000", "content-length": "10"}
    assert g.check("POST", ok) is None
    assert g.check("POST", {**ok, "content-length": "1001"})[0] == 413
    assert g.check("POST", {"host": "127.0.0.1:8000", "transfer-encoding": "chunked"})[0] == 411
    assert g.check("GET", {"host": "evil.example"})[0] == 403
    assert g.check("GET", {"host": "[::1]:8000"}) is None and g.check("GET", {"host": "localhost"}) is None
    assert g.check("POST", {**ok, "origin": "http://evil.example"})[0] == 403
    assert g.check("POST", {**ok, "origin": "http://127.0.0.1:8000"}) is None
    assert Guard(None, 1000, loopback_only=False).check("GET", {"host": "server.lan:8000"}) is None


def test_ids_and_paths(tmp_path):
    data = DataDir(tmp_path / "d")
    good = new_id()
    assert check_id(good) == good and data.job_dir(good).parent == data.root / "jobs"
    for bad in ("../../etc", "a" * 31, "A" * 32, "g" * 32, good + "/..", "", "a" * 32 + "\n"):
        with pytest.raises(ValueError):
            check_id(bad)
    with pytest.raises(ValueError):
        data.output(good, "/../../x")
    assert data.hide_root(f"cannot read {data.root}/faces/x/face.png") == "cannot read faces/x/face.png"
    held = data.lock()  # one server per data folder
    with pytest.raises(InputError, match="another talkinghead serve"):
        DataDir(tmp_path / "d").lock()
    held.close()
    DataDir(tmp_path / "d").lock().close()


def test_upload_checks_by_content(tmp_path):
    ok = tmp_path / "upload.part"
    ok.write_bytes(PORTRAIT.read_bytes())
    face = check_face(ok, "x", ok.stat().st_size)
    assert (face.kind, face.suffix, face.width, face.height) == ("image", ".png", 512, 512)
    assert face.path.exists() and not ok.exists()
    for content, status in ((b"GIF89a but not really a gif at all", 422), (b"#!/bin/sh\nrm -rf /\n", 415),
                            (PORTRAIT.read_bytes()[:1000], 422)):
        p = tmp_path / "bad.part"
        p.write_bytes(content)
        with pytest.raises(UploadError) as exc:
            check_face(p, "x", len(content))
        assert exc.value.status == status
        assert str(tmp_path) not in str(exc.value)  # no server path in what the client reads
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upload.png"]  # the bad ones are gone
    assert decode_text("\ufeffHello.".encode(), "script") == "Hello."
    for data, msg in ((b"\xff\xfe\x00x", "not a text file|not UTF-8"), (b"  \n", "empty"),
                      (b"x" * 100_001, "larger")):
        with pytest.raises(UploadError, match=msg):
            decode_text(data, "script")


def test_job_requests_are_checked_like_batch_jobs(tmp_path):
    table = voices(None)
    assert list(table) == ["joe"]
    kw = dict(job_id=new_id(), face=PORTRAIT, job_dir=tmp_path, out_dir=tmp_path / "out", voice_table=table,
              output_name="talkinghead.mp4")
    spec = build_spec(JobRequest(text="Hello.", rate=1.2, fast=True), **kw)
    assert spec.output == (tmp_path / "out" / "talkinghead.mp4").resolve() and spec.sidecars and spec.fast
    bad = [(JobRequest(text="Hi.", rate=9), "field 'rate': 9 is out of range"),
           (JobRequest(text="Hi.", voice="/etc/passwd"), "unknown voice"),
           (JobRequest(text="Hi.", seed=-1), "field 'seed'"),
           (JobRequest(text="Hi.", max_side=5), "field 'max_side'"),
           (JobRequest(text=""), "nothing to say"),
           (JobRequest(text="[bad markup]"), "field 'text'"),
           (JobRequest(transcript="Hi."), "goes with a recording"),
           (JobRequest(text="x" * 20_001), "at most 20000")]
    for req, msg in bad:
        with pytest.raises(RequestError, match=msg.replace("[", r"\[")):
            build_spec(req, **kw)
    # a transcript is never taken for a file name, whatever it ends with
    (tmp_path / "recording.wav").write_bytes(b"")
    spec = build_spec(JobRequest(recording="recording.wav", transcript="/etc/passwd.txt"), **kw)
    assert spec.transcript == "/etc/passwd.txt" and spec.audio == (tmp_path / "recording.wav").resolve()


def test_progress_file_crosses_processes_as_a_stage_and_a_fraction(tmp_path):
    from talkinghead.batch.progress import STAGES, ProgressFile, read_progress

    path = tmp_path / "progress.json"
    assert read_progress(path) is None
    p = ProgressFile(path)
    p.report("preparing face")
    assert read_progress(path).stage == "preparing face" and read_progress(path).progress == 0.0
    p.report("rendering", 0.5)
    lo, hi = STAGES["rendering"]
    assert read_progress(path).progress == pytest.approx(lo + (hi - lo) * 0.5, abs=1e-3)
    p.report("rendering", 0.6)  # within MIN_INTERVAL of the last write: skipped
    assert read_progress(path).progress == pytest.approx(lo + (hi - lo) * 0.5, abs=1e-3)
    p.report("finishing", 1.0)
    assert read_progress(path).progress == 1.0 and [f.name for f in tmp_path.iterdir()] == ["progress.json"]
    path.write_text("{not json")
    assert read_progress(path) is None
    ProgressFile(tmp_path / "missing" / "progress.json").report("speech")  # never raises
