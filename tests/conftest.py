"""Shared fixtures. Tests never need ../shared/data; those that use it skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_configure(config):
    """Seed ONNX Runtime before any Piper session exists, so that the voice's sampling noise (and
    every duration and threshold that depends on it) is the same on every run of the suite."""
    import onnxruntime

    onnxruntime.set_seed(20261126)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Each test session gets its own cache folder (never the user's ~/.cache)."""
    if "TALKINGHEAD_CACHE" not in os.environ or os.environ.get("CI"):
        os.environ["TALKINGHEAD_CACHE"] = str(tmp_path_factory.mktemp("thcache"))
    yield


@pytest.fixture(scope="session")
def piper():
    """The bundled Piper voice, loaded once per test session."""
    from talkinghead.speech.piper import PiperSpeaker

    return PiperSpeaker(seed=0)  # one take for the whole run (unseeded voices draw a fresh seed)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (development data); skips the test when it is not there."""
    if not SHARED_DATA.exists():
        pytest.skip("development data ../shared/data is not available")
    return SHARED_DATA


def load_tool(name: str):
    """The script ``tools/NAME.py`` as a module (the tools are scripts, not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def restore_threads():
    """The training tool sets torch's thread count from its config: put it back afterwards."""
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, _isolated_cache):
    """A real ``talkinghead serve`` on a loopback port for the whole session (the session's cache,
    its own data folder, a 5 MB upload limit); see ``serve_fixtures.LiveServer``."""
    pytest.importorskip("fastapi", reason="the 'serve' extra is not installed")
    from serve_fixtures import LiveServer

    server = LiveServer(tmp_path_factory.mktemp("serve") / "data", "--max-upload-mb", "5").start()
    yield server
    server.stop()
