"""Build hook: a wheel carries the data files that live at the repository's top level.

``assets/`` (face-mesh topology) and ``models/`` (the refiner's generic weights) sit beside the
package, where an editable install (``make demo``) reads them. A wheel (``pip install .``,
``pip wheel .``) copies them into ``talkinghead/data/``, which the code searches first.
Everything else is in ``pyproject.toml``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: repository file -> name under talkinghead/data/ in a wheel
BUNDLED = {
    "assets/canonical_face.npz": "canonical_face.npz",
    "assets/lower_face.npz": "lower_face.npz",
    "assets/mouth_interiors.npz": "mouth_interiors.npz",
    "models/refiner_generic.pt": "refiner_generic.pt",
    "models/refiner_generic.json": "refiner_generic.json",
}


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads assets/ and models/ in place
        dest = Path(self.build_lib) / "talkinghead" / "data"
        dest.mkdir(parents=True, exist_ok=True)
        for src, name in BUNDLED.items():
            shutil.copy2(ROOT / src, dest / name)


setup(cmdclass={"build_py": BuildPyWithData})
