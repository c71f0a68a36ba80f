"""The web page in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven
by Selenium; nothing downloads a browser): upload the portrait, type a sentence, get a video that
plays."""

from __future__ import annotations

import os
import shutil

import pytest
from serve_fixtures import PORTRAIT

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser(tmp_path):
    if not (CHROMIUM and DRIVER):
        why = "Chromium and its driver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):  # .ci/run installs them: their absence there is a failure
            pytest.fail(why)
        pytest.skip(why)
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1100,1400",
                f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


def test_page_makes_a_video_that_plays(live_server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser
    d.get(live_server.url + "/")
    wait = WebDriverWait(d, 30)
    wait.until(lambda d: d.execute_script("return document.getElementById('voice').options.length") > 0)
    d.find_element(By.ID, "face-file").send_keys(str(PORTRAIT))
    d.find_element(By.ID, "text").send_keys("Hello from the browser.")
    d.find_element(By.ID, "fast").click()
    d.find_element(By.ID, "submit").click()
    WebDriverWait(d, 240, poll_frequency=0.5).until(
        lambda d: d.find_element(By.ID, "status").text in ("done", "failed", "cancelled")
        or d.find_element(By.ID, "form-error").text)
    assert d.find_element(By.ID, "form-error").text == ""
    assert d.find_element(By.ID, "status").text == "done", d.find_element(By.ID, "job-error").text
    # the <video> loads the mp4 (H.264 + AAC), knows its length, and plays: its clock advances
    wait.until(lambda d: d.execute_script("return document.getElementById('video').readyState") >= 2)
    state = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const v = document.getElementById('video');
        v.muted = true;
        v.currentTime = 0;
        v.play().then(() => setTimeout(() => done({t: v.currentTime, d: v.duration, e: v.error && v.error.code,
                                                    w: v.videoWidth, h: v.videoHeight}), 700),
                      (err) => done({error: String(err)}));
    """)
    assert "error" not in state, state
    assert state["e"] is None and state["d"] > 0.5 and state["t"] > 0.1, state
    assert (state["w"], state["h"]) == (512, 512)
    links = [a.get_attribute("href") for a in d.find_elements(By.CSS_SELECTOR, "#result a")]
    assert any("/video?download=1" in h for h in links) and any("/subtitles?download=1" in h for h in links)
    # the kept face is listed, prepared, for the next job
    faces = d.find_elements(By.CSS_SELECTOR, "#faces .face")
    assert any("✓" in f.text for f in faces)
    d.save_screenshot(os.environ.get("TALKINGHEAD_TEST_SCREENSHOT") or str(tmp_path / "page.png"))
