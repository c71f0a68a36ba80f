"""Batch dubbing from config files: validation, failure isolation, parallel workers, resume, Ray."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from face_fixtures import astronaut_clip, write_clip

from talkinghead import cli
from talkinghead.batch import BatchConfigError, load_config, run_batch
from talkinghead.errors import InputError
from talkinghead.batch.runner import is_complete
from talkinghead.media import probe

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _main(argv: list[str]) -> int:
    """``talkinghead ARGV`` with the batch command registered (whether or not cli lists it)."""
    if "batch" not in cli.COMMANDS:
        old = cli.COMMANDS
        cli.COMMANDS = old + ("batch",)
        try:
            return cli.main(argv)
        finally:
            cli.COMMANDS = old
    return cli.main(argv)


def _write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """A folder with ``face.mp4`` (the astronaut, 256 px, 10 frames) and ``grey.mp4`` (no face)."""
    d = tmp_path_factory.mktemp("batch_media")
    frames, _ = astronaut_clip(n_frames=10, motion="affine", size=256, face_scale=0.5)
    write_clip(frames, d / "face.mp4", fps=25)
    write_clip([np.full((256, 256, 3), 128, np.uint8)] * 10, d / "grey.mp4", fps=25)
    (d / "hello.txt").write_text("Hello there.\n", encoding="utf-8")
    return d


# ---------------------------------------------------------------------------------------------
# validation (fast: nothing is run)

def test_validation_reports_every_error_with_job_and_field(media):
    cfg = _write_yaml(media / "bad.yaml", {
        "defaults": {"steps": 2, "colour": "red"},
        "jobs": [
            {"name": "intro", "face": "presenter.mp4", "text": "Hi."},
            {"name": "two", "face": "face.mp4", "script": "missing.txt", "rate": "fast"},
            {"name": "three", "face": "face.mp4"},
            {"name": "four", "face": "face.mp4", "text": "Hi.", "voice": "nobody", "output": "two.mp4"},
            {"name": "five", "face": "face.mp4", "text": "Hi.", "crf": True, "wobble": 1, "seed": -3},
            {"name": "six", "face": "face.mp4", "text": "Hi.", "fast": "yes", "skin_detail": 0,
             "colour_anchor": "no", "max_side": 64, "turn": 45},
        ],
    })
    with pytest.raises(BatchConfigError) as ei:
        load_config(cfg)
    errs = ei.value.errors
    expected = [
        "defaults: field 'colour': unknown key",
        "job 'intro' (jobs[0]): field 'face': file presenter.mp4 does not exist",
        "job 'two' (jobs[1]): field 'rate': expected a number",
        "job 'two' (jobs[1]): field 'script': script file missing.txt does not exist",
        "job 'three' (jobs[2]): nothing to say",
        "job 'four' (jobs[3]): field 'voice': unknown voice 'nobody'",
        "job 'four' (jobs[3]): field 'output': duplicate output two.mp4",
        "job 'five' (jobs[4]): field 'crf': expected an integer",
        "job 'five' (jobs[4]): field 'wobble': unknown key",
        "job 'five' (jobs[4]): field 'seed': -3 must not be negative",
        "job 'six' (jobs[5]): field 'fast': expected true or false",
        "job 'six' (jobs[5]): field 'skin_detail': expected true or false",
        "job 'six' (jobs[5]): field 'colour_anchor': expected true or false",
        "job 'six' (jobs[5]): field 'max_side': 64 is too small",
        "job 'six' (jobs[5]): field 'turn': 45 is not one of auto, 0, 90, 180, 270",
    ]
    for e in expected:
        assert any(x.startswith(e) for x in errs), (e, errs)
    assert len(errs) == len(expected)


def test_validation_refuses_outputs_that_would_replace_an_input(media):
    # An atomic write would replace the input with the result: the user's source would be gone.
    (media / "notes.srt").write_text("Hello there.\n", encoding="utf-8")  # a script named like a sidecar
    cfg = _write_yaml(media / "clobber.yaml", {
        "defaults": {"face": "face.mp4", "output_dir": "."},
        "jobs": [
            {"name": "face", "text": "Hi."},                                     # -> ./face.mp4
            {"name": "subs", "script": "notes.srt", "output": "notes.mp4", "sidecars": True},
            {"name": "plain", "script": "notes.srt", "output": "notes2.mp4"},    # fine
        ],
    })
    with pytest.raises(BatchConfigError) as ei:
        load_config(cfg)
    errs = ei.value.errors
    assert len(errs) == 2, errs
    assert errs[0].startswith("job 'face' (jobs[0]): field 'output': output ") and "is the face video" in errs[0]
    assert errs[1].startswith("job 'subs' (jobs[1]): field 'output': output ") and "notes.srt is the script" in errs[1]
    assert (media / "face.mp4").stat().st_size > 0


def test_validation_across_jobs_inputs_sidecars_and_blocked_folders(media, tmp_path):
    # One job's output over another job's face video, a sidecar written by two jobs, an output
    # whose folder cannot exist: each a config error naming the job, before anything runs.
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    cfg = _write_yaml(tmp_path / "across.yaml", {
        "defaults": {"output_dir": "."},
        "jobs": [
            {"name": "other", "face": str(media / "face.mp4"), "text": "Hi."},
            {"name": "face", "face": str(media / "grey.mp4"), "text": "Hi.", "output": str(media / "face.mp4")},
            {"name": "a", "face": str(media / "face.mp4"), "text": "Hi.", "sidecars": True},
            {"name": "b", "face": str(media / "face.mp4"), "text": "Bye.", "output": "a.mov", "sidecars": True},
            {"name": "c", "face": str(media / "face.mp4"), "text": "Hi.", "output": "afile/c.mp4"},
        ],
    })
    with pytest.raises(BatchConfigError) as ei:
        load_config(cfg)
    errs = ei.value.errors
    assert len(errs) == 3, errs
    assert any(e.startswith("job 'face' (jobs[1]): field 'output': output ") and "face video of job 'other'" in e
               for e in errs), errs
    assert any(e.startswith("job 'b' (jobs[3]): field 'output': the output's .json file a.json is also "
                            "written by job 'a'") for e in errs), errs
    assert any(e.startswith("job 'c' (jobs[4]): field 'output': cannot write") and "is a file" in e
               for e in errs), errs
    assert (media / "face.mp4").stat().st_size > 1000


def test_validation_values_that_would_fail_only_at_run_time(media, tmp_path):
    cfg = {"defaults": [], "jobs": [
        {"name": "s", "face": str(media / "face.mp4"), "text": "Hi.", "seed": 2**70},
        {"name": "a\0b", "face": str(media / "face.mp4"), "text": "Hi."},
        {"name": "dots", "face": str(media / "face.mp4"), "text": "..."},
    ]}
    with pytest.raises(BatchConfigError) as ei:
        load_config(cfg)
    errs = ei.value.errors
    assert errs[0] == "defaults: expected a mapping, got list"
    assert "'seed'" in errs[1] and "too large" in errs[1]
    assert "'name'" in errs[2] and "control character" in errs[2]
    assert errs[3].startswith("job 'dots' (jobs[2]): field 'text': the script has nothing to speak")
    # a script file is checked the same way, before anything runs
    (tmp_path / "pause.txt").write_text("[pause 1s]\n", encoding="utf-8")
    (tmp_path / "laugh.txt").write_text("Hello [laugh] there.\n", encoding="utf-8")
    cfg = {"jobs": [{"name": n, "face": str(media / "face.mp4"), "script": str(tmp_path / f"{n}.txt")}
                    for n in ("pause", "laugh")]}
    with pytest.raises(BatchConfigError) as ei:
        load_config(cfg)
    errs = ei.value.errors
    assert len(errs) == 2 and all("field 'script': " in e for e in errs)
    assert "pause.txt: the script has nothing to speak" in errs[0] and "laugh.txt: " in errs[1]
    # a key given twice in one job: PyYAML would keep the last one silently
    (tmp_path / "twice.yaml").write_text("jobs:\n  - name: a\n    text: one\n    text: two\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 4.*'text' is given twice"):
        load_config(tmp_path / "twice.yaml")


def test_validation_missing_face_audio_without_transcript_and_duplicate_names(media):
    cfg = {"jobs": [
        {"name": "a", "text": "Hi."},                                   # no face anywhere
        {"name": "b", "face": str(media / "face.mp4"), "audio": str(media / "hello.txt")},
        {"name": "b", "face": str(media / "face.mp4"), "text": "Hi.", "script": "hello.txt"},
        "not a mapping",
    ]}
    with pytest.raises(BatchConfigError) as ei:
        load_config(cfg)
    errs = ei.value.errors
    assert any(e.startswith("job 'a' (jobs[0]): field 'face': missing") for e in errs), errs
    assert any(e.startswith("job 'b' (jobs[1]): field 'transcript': missing") for e in errs), errs
    assert any(e.startswith("job 'b' (jobs[2]): field 'script': give 'text' or 'script', not both") for e in errs)
    assert any(e.startswith("job 'b' (jobs[2]): field 'name': duplicate job name") for e in errs), errs
    assert any(e.startswith("jobs[3]: expected a mapping") for e in errs), errs


def test_cli_invalid_config_exits_2_and_runs_nothing(media, tmp_path, capsys):
    cfg = _write_yaml(tmp_path / "c.yaml", {"defaults": {"output_dir": "outdir"},
                                            "jobs": [{"name": "intro", "face": "nope.mp4", "text": "Hi."}]})
    assert _main(["batch", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "job 'intro' (jobs[0]): field 'face': file nope.mp4 does not exist" in err
    assert not (tmp_path / "outdir").exists()  # validated before any work


@pytest.mark.parametrize("content, words", [
    ("jobs: [unclosed\n  - x: {\n", "not valid YAML"),
    ("- just\n- a list\n", "must be a YAML mapping"),
    ("", "must be a YAML mapping"),
    (b"\xff\xfe\x00binary", "not a YAML file"),
])
def test_cli_non_yaml_config_exits_2_with_one_line(tmp_path, capsys, content, words):
    p = tmp_path / "c.yaml"
    (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
    assert _main(["batch", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and str(p) in err, err


def test_paths_are_relative_to_the_config_folder_and_jobs_override_defaults(media, tmp_path):
    sub = tmp_path / "elsewhere"
    sub.mkdir()
    cfg = _write_yaml(media / "rel.yaml", {
        "defaults": {"face": "face.mp4", "rate": 1.1, "steps": 2, "output_dir": "rel_out"},
        "jobs": [{"name": "a", "script": "hello.txt"},
                 {"name": "b", "text": "Bye.", "rate": 0.9, "crf": 23, "output": "bee.mp4", "fast": True,
                  "skin_detail": False, "colour_anchor": False, "own_mouth": False, "max_side": 1280,
                  "turn": 90},
                 {"name": "c", "text": "Again.", "turn": "auto"}],
    })
    cwd = os.getcwd()
    os.chdir(sub)  # the current folder must not matter
    try:
        c = load_config(cfg)
    finally:
        os.chdir(cwd)
    a, b, c3 = c.jobs
    assert (a.turn, b.turn, c3.turn) == (None, 90, None) and a.face_key == c3.face_key
    assert c.output_dir == (media / "rel_out").resolve()
    assert a.face == (media / "face.mp4").resolve() and a.text.strip() == "Hello there."
    assert (a.rate, a.steps, a.output.name) == (1.1, 2, "a.mp4")
    assert (b.rate, b.crf, b.output) == (0.9, 23, (media / "rel_out" / "bee.mp4").resolve())
    assert (a.fast, b.fast) == (False, True)
    assert (a.skin_detail, b.skin_detail) == (True, False) and (a.own_mouth, b.own_mouth) == (True, False)
    assert (a.colour_anchor, b.colour_anchor) == (True, False) and (a.max_side, b.max_side) == (None, 1280)
    assert a.face_key != b.face_key  # another size is another prepared face
    # the settings hash follows the settings, not the job's position
    assert a.settings_hash() != b.settings_hash()
    assert load_config(cfg).jobs[0].settings_hash() == a.settings_hash()


@pytest.mark.parametrize("name", ["narration", "dubbing", "recorded"])
def test_examples_are_valid(name):
    c = load_config(EXAMPLES / f"{name}.yaml")
    assert c.jobs and all(j.face.exists() for j in c.jobs)
    if name == "dubbing":
        assert len(c.jobs) >= 3 and len({j.face_key for j in c.jobs}) == 1  # one face, prepared once
    if name == "recorded":
        (job,) = c.jobs
        assert job.audio is not None and job.transcript and job.text is None
        from talkinghead.speech.recorded import load_audio

        y, sr = load_audio(job.audio)
        assert sr == 16000 and y.ndim == 1 and 2.0 < len(y) / sr < 10.0


def test_interrupt_cancels_pending_jobs_and_writes_summary(media, tmp_path, monkeypatch):
    """Ctrl-C during the first job: the others are not started, the summary says so, exit 130."""
    import talkinghead.batch.executors as ex
    import talkinghead.batch.runner as runner

    started = []

    def interrupted(payload, pipeline=None):
        started.append(payload["job"]["name"])
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_prepare_faces", lambda *a, **k: {})
    monkeypatch.setattr(ex, "execute_job", interrupted)
    cfg = {"defaults": {"face": str(media / "face.mp4")},
           "jobs": [{"name": n, "text": "Hi."} for n in ("a", "b", "c")]}
    s = run_batch(cfg, outdir=tmp_path / "o", progress=False)
    assert started == ["a"]
    assert s.interrupted and s.exit_code == 130
    assert [r.status for r in s.results] == ["cancelled"] * 3
    data = json.loads((tmp_path / "o" / "batch_summary.json").read_text())
    assert data["interrupted"] is True and data["counts"]["cancelled"] == 3
    assert not list((tmp_path / "o").glob("*.mp4"))


def test_batch_stopped_by_an_error_says_why_the_rest_did_not_run(media, tmp_path, monkeypatch):
    """An error outside any job (here the executor cannot start): the summary is still written and
    the jobs that did not run say why, not "interrupted"."""
    import talkinghead.batch.runner as runner

    def broken(*a, **k):
        raise RuntimeError("cluster unreachable")

    monkeypatch.setattr(runner, "_prepare_faces", lambda *a, **k: {})
    monkeypatch.setattr(runner, "make_executor", broken)
    cfg = {"defaults": {"face": str(media / "face.mp4")}, "jobs": [{"name": n, "text": "Hi."} for n in ("a", "b")]}
    with pytest.raises(RuntimeError, match="cluster unreachable"):
        run_batch(cfg, outdir=tmp_path / "o", progress=False)
    data = json.loads((tmp_path / "o" / "batch_summary.json").read_text())
    assert data["interrupted"] is False
    assert [r["error"] for r in data["results"]] == ["not run: the batch stopped (RuntimeError: cluster unreachable)"] * 2


# ---------------------------------------------------------------------------------------------
# running (slow: prepares the 10-frame clip once with steps=2, then renders one-sentence jobs)

def _check_video(path: Path) -> None:
    info = probe(path)
    assert info.has_audio and info.n_frames > 5 and (info.width, info.height) == (256, 256)


@pytest.mark.slow
def test_batch_bad_job_does_not_stop_the_others_and_resume_skips_finished(media, tmp_path, capsys):
    cfg_path = tmp_path / "batch.yaml"
    face = str(media / "face.mp4")
    data = {"defaults": {"steps": 2, "face": face, "output_dir": "out"},
            "jobs": [{"name": "good", "text": "Hello there."},
                     {"name": "bad", "face": str(media / "grey.mp4"), "text": "Nobody is here."},
                     {"name": "good2", "text": "Good morning.", "rate": 1.2}]}
    _write_yaml(cfg_path, data)
    out = tmp_path / "out"

    # two workers (spawned processes); the grey video fails when its face is prepared
    assert _main(["batch", str(cfg_path), "-j", "2", "-q"]) == 1
    err = capsys.readouterr().err
    assert "job 'bad' failed: face grey.mp4: no face found" in err
    summary = json.loads((out / "batch_summary.json").read_text())
    st = {r["name"]: r for r in summary["results"]}
    assert [r["name"] for r in summary["results"]] == ["good", "bad", "good2"]
    assert (st["good"]["status"], st["bad"]["status"], st["good2"]["status"]) == ("ok", "failed", "ok")
    assert "no face" in st["bad"]["error"] and st["bad"]["output"] is None
    assert summary["counts"] == {"ok": 2, "skipped": 0, "failed": 1, "cancelled": 0}
    for name in ("good", "good2"):
        _check_video(out / f"{name}.mp4")
        assert abs(st[name]["duration"] - probe(out / f"{name}.mp4").duration) < 0.05
        marker = json.loads((out / f"{name}.mp4.done.json").read_text())
        assert marker["job"] == name and len(marker["settings_sha256"]) == 64
    assert not (out / "bad.mp4").exists() and not list(out.glob(".*part*"))

    # --resume, with good2 changed: good is skipped (untouched), good2 redone in-process, bad retried
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name.startswith("good.")}
    data["jobs"][2]["text"] = "Good evening, everyone."
    _write_yaml(cfg_path, data)
    assert _main(["batch", str(cfg_path), "--resume"]) == 1
    table = capsys.readouterr().out
    assert "good   skipped" in table and "good2  ok" in table and "bad    failed" in table, table
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name.startswith("good.")} == mtimes
    summary = json.loads((out / "batch_summary.json").read_text())
    assert [r["status"] for r in summary["results"]] == ["skipped", "failed", "ok"]
    _check_video(out / "good2.mp4")

    # a damaged output is redone, not skipped
    c = load_config(cfg_path)
    good, good2 = c.jobs[0], c.jobs[2]
    assert is_complete(good) and is_complete(good2)
    (out / "good.mp4").write_bytes((out / "good.mp4").read_bytes()[:1000])
    assert not is_complete(good)


@pytest.mark.slow
def test_ray_executor_runs_jobs_on_a_local_ray_instance(media, tmp_path):
    ray = pytest.importorskip("ray", reason="the optional 'ray' extra is not installed")
    cfg = {"defaults": {"steps": 2, "face": str(media / "face.mp4")},
           "jobs": [{"name": "r1", "text": "Hello from Ray."}]}
    try:
        s = run_batch(cfg, executor="ray", jobs=1, outdir=tmp_path / "ray_out", progress=False)
    finally:
        if ray.is_initialized():
            ray.shutdown()
    assert s.exit_code == 0, s.table()
    (r,) = s.results
    assert r.status == "ok" and r.duration > 0.5
    _check_video(Path(r.output))
    assert (tmp_path / "ray_out" / "r1.mp4.done.json").exists()


def test_a_worker_is_interrupted_once_per_job_and_never_while_idle():
    """Ctrl-C reaches every worker of ``-j N`` (and the parent sends one more when it cancels):
    the running job gets one KeyboardInterrupt; a second one, or one while the worker waits for
    work, is ignored (it used to print the worker's traceback)."""
    import os
    import signal

    import talkinghead.batch.executors as ex

    previous = signal.signal(signal.SIGINT, ex._worker_sigint)
    try:
        ex._JOB.update(running=False, interrupted=False)
        os.kill(os.getpid(), signal.SIGINT)  # idle: nothing happens
        ex._JOB.update(running=True, interrupted=False)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # the job is already unwinding: ignored
    finally:
        signal.signal(signal.SIGINT, previous)
        ex._JOB.update(running=False, interrupted=False)
