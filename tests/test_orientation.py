"""A face photo lying on its side or upside down (no EXIF tag) is turned upright."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from face_fixtures import astronaut_image

from talkinghead.face.orientation import upright_face, upright_turns


@pytest.mark.parametrize("turn, expected", [(None, 0), (cv2.ROTATE_180, 2), (cv2.ROTATE_90_CLOCKWISE, 3),
                                            (cv2.ROTATE_90_COUNTERCLOCKWISE, 1)])
def test_the_quarter_turn_that_makes_the_face_upright(turn, expected):
    img = astronaut_image()
    x = img if turn is None else np.ascontiguousarray(cv2.rotate(img, turn))
    assert upright_turns(x) == expected


def test_a_photo_without_a_face_is_left_as_it_is():
    grey = np.full((256, 256, 3), 128, np.uint8)
    assert upright_turns(grey) == 0


def test_upright_face_writes_a_turned_copy_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TALKINGHEAD_CACHE", str(tmp_path / "cache"))
    img = astronaut_image()
    upright = tmp_path / "upright.png"
    cv2.imwrite(str(upright), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    assert upright_face(upright) == upright
    ud = tmp_path / "upside_down.png"
    cv2.imwrite(str(ud), cv2.cvtColor(cv2.rotate(img, cv2.ROTATE_180), cv2.COLOR_RGB2BGR))
    with caplog.at_level("WARNING", logger="talkinghead.face.orientation"):
        out = upright_face(ud)
    assert out != ud and out.exists() and "upside down" in caplog.text
    back = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    assert np.abs(back.astype(int) - img).mean() < 1.0  # the original, upright again (lossless PNG)
    assert upright_face(ud) == out  # cached
