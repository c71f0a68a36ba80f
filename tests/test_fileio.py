"""Output files: fail early on an unwritable destination, never leave partial files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from talkinghead import fileio
from talkinghead.errors import OutputError

needs_proc = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")


def test_check_writable_accepts_a_writable_folder_and_leaves_nothing(tmp_path):
    assert fileio.check_writable(tmp_path / "out.mp4") == tmp_path / "out.mp4"
    assert list(tmp_path.iterdir()) == []


def test_check_writable_names_the_problem(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        fileio.check_writable(tmp_path / "missing" / "out.mp4")
    with pytest.raises(OutputError, match="is a folder"):
        fileio.check_writable(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is not a folder"):
        fileio.check_writable(tmp_path / "file" / "out.mp4")


@needs_proc
def test_check_writable_tries_instead_of_trusting_permission_bits():
    # /proc looks writable to a superuser (os.access says yes) but no file can be created there.
    with pytest.raises(OutputError, match="cannot create files in /proc"):
        fileio.check_writable("/proc/out.mp4")


@needs_proc
def test_atomic_path_reports_a_folder_that_refuses_files(monkeypatch):
    # The folder passed the early check but refuses the temporary file (e.g. it became read-only).
    monkeypatch.setattr(fileio, "check_writable", Path)
    with pytest.raises(OutputError, match="cannot write /proc/out.mp4"):
        with fileio.atomic_path("/proc/out.mp4"):
            pass


def test_atomic_path_keeps_the_old_file_when_writing_fails(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with fileio.atomic_path(out) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert out.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]
    fileio.write_text_atomic(out, "new")
    assert out.read_text() == "new" and sorted(os.listdir(tmp_path)) == ["out.txt"]


@needs_proc
def test_say_command_refuses_an_unwritable_output_before_any_work(capsys):
    from talkinghead.cli import main

    rc = main(["say", "--text", "Hi.", "--face", "x.mp4", "-o", "/proc/out.mp4"])
    err = capsys.readouterr().err
    assert rc == 5, err
    assert "Traceback" not in err and "cannot create files in /proc" in err


def test_cache_folder_usable_creates_the_folder_or_warns(tmp_path, caplog):
    folder = tmp_path / "cache" / "tracks"
    assert fileio.cache_folder_usable(folder) and folder.is_dir()
    assert list(folder.iterdir()) == []
    (tmp_path / "blocker").write_text("x")
    with caplog.at_level("WARNING"):
        assert not fileio.cache_folder_usable(tmp_path / "blocker" / "tracks")
    assert "cannot use the cache folder" in caplog.text and "TALKINGHEAD_CACHE" in caplog.text


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TALKINGHEAD_CACHE", str(tmp_path))
    assert fileio.cache_root() == tmp_path
    monkeypatch.delenv("TALKINGHEAD_CACHE")
    assert fileio.cache_root() == Path.home() / ".cache" / "talkinghead"


def test_check_not_an_input_catches_the_same_file_under_any_name(tmp_path):
    face = tmp_path / "face.mp4"
    face.write_bytes(b"video")
    link = tmp_path / "link.mp4"
    link.symlink_to(face)
    sub = tmp_path / "sub"
    sub.mkdir()
    for same in (face, tmp_path / "sub" / ".." / "face.mp4", link):
        with pytest.raises(OutputError, match=r"is the face video .* would replace that input"):
            fileio.check_not_an_input([same], {"face video": face, "script": None})
    fileio.check_not_an_input([tmp_path / "out.mp4", tmp_path / "out.srt"], {"face video": face, "script": None})
    with pytest.raises(OutputError, match="is the script"):
        fileio.check_not_an_input([tmp_path / "out.mp4", tmp_path / "out.srt"],
                                  {"face video": face, "script": tmp_path / "out.srt"})


def test_say_command_never_writes_over_its_inputs(tmp_path, capsys):
    from talkinghead.cli import main

    face = tmp_path / "face.mp4"
    face.write_bytes(b"the user's only copy")
    script = tmp_path / "talk.srt"
    script.write_text("Hello.", encoding="utf-8")
    assert main(["say", "--text", "Hi.", "--face", str(face), "-o", str(face)]) == 5
    assert "is the face video" in capsys.readouterr().err
    assert main(["say", "--script", str(script), "--face", str(face), "-o", str(tmp_path / "talk.mp4"),
                 "--sidecars"]) == 5
    assert "is the script" in capsys.readouterr().err
    assert main(["say", "--text", "Hi.", "--face", str(face), "-o", str(tmp_path / "o.mp4"), "--crf", "99"]) == 2
    assert "--crf 99 is out of range" in capsys.readouterr().err
    assert face.read_bytes() == b"the user's only copy" and script.read_text() == "Hello."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.mp4", "talk.srt"]


@pytest.mark.parametrize("argv, what", [
    (["speak", "--script", "{d}/talk.srt", "-o", "{d}/talk.wav"], "is the script"),
    (["track", "{d}/face.mp4", "-o", "{d}/t.npz", "--overlay", "{d}/face.mp4"], "is the face video"),
    (["prepare", "{d}/face.mp4", "-o", "{d}/face.mp4"], "is the face video"),
    (["mesh", "--text", "Hi.", "--face", "{d}/face.mp4", "-o", "{d}/face.mp4"], "is the face video"),
], ids=["speak", "track", "prepare", "mesh"])
def test_other_commands_never_write_over_their_inputs(tmp_path, capsys, argv, what):
    from talkinghead.cli import main

    (tmp_path / "face.mp4").write_bytes(b"the user's only copy")
    (tmp_path / "talk.srt").write_text("Hello.", encoding="utf-8")
    rc = main([a.format(d=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert rc == 5 and what in err and "Traceback" not in err, (rc, err)
    assert (tmp_path / "face.mp4").read_bytes() == b"the user's only copy"
    assert (tmp_path / "talk.srt").read_text() == "Hello."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.mp4", "talk.srt"]


def test_cache_helper_keys_by_content_and_settings(tmp_path, monkeypatch):
    import hashlib
    import json

    from talkinghead import cache

    monkeypatch.setenv("TALKINGHEAD_CACHE", str(tmp_path / "c"))
    f = tmp_path / "face.png"
    f.write_bytes(b"pixels")
    content = hashlib.sha256(b"pixels").hexdigest()[:32]
    settings = {"b": 1, "a": [2, 3]}
    expected = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    assert cache.content_key(f, settings) == f"{content}-{expected}"
    assert cache.content_key(f, tag="640x360") == f"{content}-640x360"
    assert cache.cache_dir("scaled") == tmp_path / "c" / "scaled"
    with pytest.raises(ValueError):
        cache.cache_dir("nowhere")
    path, hit = cache.cache_slot("scaled", "x.png")
    assert path == tmp_path / "c" / "scaled" / "x.png" and not hit
    assert cache.write_entry(path, lambda tmp: tmp.write_bytes(b"1"), "test") == path
    assert cache.cache_slot("scaled", "x.png") == (path, True)
    other, hit = cache.cache_slot("scaled", "x.png", read=False, write=False, temp_prefix="th-test-")
    assert not hit and other.parent != path.parent and other.name == "x.png"
    assert cache.cache_slot("scaled", "y.png", write=False) == (None, False)
    assert not list(path.parent.glob("*.part*"))


def test_face_types_do_not_import_the_cache():
    import subprocess
    import sys

    code = "import sys, talkinghead.face.types; print('talkinghead.face.cache' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
