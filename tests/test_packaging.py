"""A wheel (``pip install .``) carries the data files that live at the repository's top level."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import talkinghead

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import sys
from pathlib import Path
import talkinghead
from talkinghead.face.mesh import ASSET_PATH, load_lower_face_mesh
from talkinghead.face.pose import canonical_path, load_generic_canonical
from talkinghead.refine.infer import GENERIC_WEIGHTS, Refiner
site = Path(sys.argv[1]).resolve()
for p in (Path(talkinghead.__file__), ASSET_PATH, canonical_path(), GENERIC_WEIGHTS):
    assert site in p.resolve().parents, p
assert len(load_lower_face_mesh().faces) > 100
assert load_generic_canonical()
assert Refiner.load(GENERIC_WEIGHTS, "cpu").config.resolution >= 192
print("ok")
"""


@pytest.mark.slow
def test_wheel_ships_assets_and_weights(tmp_path):
    pytest.importorskip("wheel")
    src = tmp_path / "src"
    for name in ("talkinghead", "assets", "models"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-c", "import sys; from setuptools import build_meta as b; b.build_wheel(sys.argv[1])",
         str(dist)], cwd=src, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(dist.glob(f"talkinghead-{talkinghead.__version__}-*.whl"))  # the version read from the package
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(site)  # a pure-Python wheel, unpacked = installed (without the console script)
    for name in ("canonical_face.npz", "lower_face.npz", "mouth_interiors.npz", "refiner_generic.pt",
                 "refiner_generic.json"):
        assert f"talkinghead/data/{name}" in names
    for name in ("index.html", "app.js", "style.css", "docs.html", "docs.js"):  # talkinghead serve's page
        assert f"talkinghead/serve/static/{name}" in names
    # run from outside the repository with the unpacked wheel first on the path
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", CHECK, str(site)], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-2000:]


def test_the_version_has_a_changelog_entry():
    """pyproject.toml reads the version from ``talkinghead.__version__``; CHANGELOG.md says what it
    changed."""
    assert "## [" + talkinghead.__version__ + "]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert 'version = { attr = "talkinghead.__version__" }' in (ROOT / "pyproject.toml").read_text()
