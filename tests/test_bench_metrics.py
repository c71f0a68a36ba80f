"""The benchmark's metric functions on synthetic inputs (no development data needed)."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import common  # noqa: E402
import quality as q  # noqa: E402

N_LM = 478


def smooth_signal(n: int, seed: int = 0) -> np.ndarray:
    """A band-limited random signal (so that a shift decorrelates it by a measurable amount)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n + 20)
    k = np.hanning(7)
    return np.convolve(x, k / k.sum(), mode="same")[10:-10]


def face_landmarks(n: int, gap: float = 10.0, width: float = 40.0, eyes: float = 100.0) -> np.ndarray:
    """``(n, 478, 3)`` landmarks with a given inner-lip gap, mouth width and eye distance."""
    lm = np.zeros((n, N_LM, 3))
    lm[:, :, 0] = np.linspace(0, 50, N_LM)  # distinct, irrelevant positions
    lm[:, q.LM_INNER_UPPER, :2] = (0, 0)
    lm[:, q.LM_INNER_LOWER, :2] = (0, gap)
    lm[:, q.LM_MOUTH_CORNERS[0], :2] = (-width / 2, gap / 2)
    lm[:, q.LM_MOUTH_CORNERS[1], :2] = (width / 2, gap / 2)
    lm[:, q.LM_EYE_OUTER[0], :2] = (-eyes / 2, -80)
    lm[:, q.LM_EYE_OUTER[1], :2] = (eyes / 2, -80)
    return lm


# ---- PSNR / SSIM (bench_refine's functions, as quality.py uses them)


def test_psnr_of_a_known_error():
    a = np.full((8, 8, 3), 100, np.uint8)
    b = a + 10  # MSE = 100
    assert q.psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 100), abs=1e-9)
    assert q.psnr(a, a) > 90  # identical: bounded, very high


def test_ssim_identical_is_one_and_noise_lowers_it():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert q.ssim(a, a) == pytest.approx(1.0)
    smooth = np.repeat(np.linspace(40, 200, 32)[None, :, None], 32, 0).repeat(3, 2).astype(np.uint8)
    scores = []
    for amp in (5, 20, 60):
        noise = rng.integers(-amp, amp + 1, smooth.shape)
        scores.append(q.ssim(np.clip(smooth.astype(int) + noise, 0, 255).astype(np.uint8), smooth))
    assert 1.0 > scores[0] > scores[1] > scores[2] > 0.0
    assert scores[2] < 0.5
    # tiny crops (the mouth box can be small): the window shrinks instead of failing
    assert q.ssim(a[:6, :6], a[:6, :6]) == pytest.approx(1.0)


def test_detail_ratios_see_blur_and_ignore_unmasked_pixels():
    import cv2
    from bench_refine import detail_ratios, gradient_magnitude

    def ratio(out, real, mask):
        return detail_ratios([out], [real], {"m": [mask]})["m"]

    rng = np.random.default_rng(3)
    # "teeth": bright blocks separated by dark gaps, on a mid-grey mouth
    real = np.full((48, 48, 3), 90, np.uint8)
    for x in range(8, 40, 6):
        real[18:30, x:x + 4] = 230
    real = np.clip(real.astype(int) + rng.integers(-3, 4, real.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((48, 48), bool)
    mask[14:34, 4:44] = True
    assert ratio(real, real, mask) == pytest.approx(1.0)
    band = cv2.GaussianBlur(real, (0, 0), 2.5)  # the white band a blurry refiner draws
    flat = np.full_like(real, 120)
    r_band = ratio(band, real, mask)
    r_flat = ratio(flat, real, mask)
    assert r_flat < r_band < 0.8
    # pixels outside the mask do not count
    noisy_out = real.copy()
    noisy_out[:10] = rng.integers(0, 256, (10, 48, 3))
    assert ratio(noisy_out, real, mask) == pytest.approx(1.0)
    assert ratio(real, real, np.zeros_like(mask)) is None
    # several regions at once, each over its own pixels and frames (the second frame's mask of
    # region "top" is empty, so only the blurred first frame counts there)
    top = np.zeros_like(mask)
    top[:10] = True
    both = detail_ratios([band, noisy_out], [real, real],
                         {"teeth": [mask, mask], "top": [top, np.zeros_like(mask)], "none": [top & False] * 2})
    g_real = gradient_magnitude(real)
    expect_teeth = (gradient_magnitude(band)[mask].sum() + gradient_magnitude(noisy_out)[mask].sum()) / (2 * g_real[mask].sum())
    assert both["teeth"] == pytest.approx(expect_teeth)
    assert both["top"] == pytest.approx(ratio(band, real, top))
    assert both["none"] is None


def test_color_shift():
    rng = np.random.default_rng(2)
    a = rng.integers(50, 200, (500, 3), dtype=np.uint8)
    assert q.color_shift(a, a) == pytest.approx(0.0, abs=1e-6)
    pink = a.copy()
    pink[:, 0] = np.clip(pink[:, 0].astype(int) + 40, 0, 255)
    assert q.color_shift(pink, a) > 5.0
    assert q.color_shift(pink, a) > q.color_shift(a + 1, a)


# ---- landmark measures


def test_opening_is_gap_over_width():
    lm = face_landmarks(3, gap=10, width=40)
    np.testing.assert_allclose(q.opening(lm), 0.25)
    lm[1] *= 3  # scale-free
    np.testing.assert_allclose(q.opening(lm), 0.25)
    lm[2, q.LM_INNER_LOWER] = np.nan
    assert np.isnan(q.opening(lm)[2])


def test_mesh_opening_reads_the_right_vertices():
    from talkinghead.face.deform import DeformedMeshes
    from talkinghead.face.mesh import load_lower_face_mesh

    li = load_lower_face_mesh().landmark_index
    v = np.zeros((2, len(li) + 5, 3), np.float32)  # + some interior vertices after the skin
    pos = {q.LM_INNER_UPPER: (0, 0), q.LM_INNER_LOWER: (0, 6), q.LM_MOUTH_CORNERS[0]: (-15, 3),
           q.LM_MOUTH_CORNERS[1]: (15, 3)}
    for lid, xy in pos.items():
        v[:, int(np.flatnonzero(li == lid)[0]), :2] = xy
    v[1] *= 2
    m = DeformedMeshes(vertices=v, faces=np.zeros((0, 3), np.int64), face_region=np.zeros(0, np.int64),
                       neutral_vertices=v[:, : len(li)], frame_index=np.arange(2), mouth_width_px=np.ones(2),
                       n_skin=len(li), image_size=(64, 64))
    np.testing.assert_allclose(q.mesh_opening(m), 0.2, rtol=1e-6)


def test_mouth_lmd_is_normalised_by_eye_distance():
    real = face_landmarks(4, eyes=100.0)
    pred = real.copy()
    ids = q.lip_ids()
    assert len(ids) == 40
    pred[:, ids, 0] += 3.0  # every lip landmark 3 px off
    np.testing.assert_allclose(q.mouth_lmd(pred, real), 0.03)
    pred[:, [i for i in range(N_LM) if i not in ids], 1] += 50  # other landmarks do not count
    np.testing.assert_allclose(q.mouth_lmd(pred, real), 0.03)
    np.testing.assert_allclose(q.mouth_lmd(real, real), 0.0)


def test_stable_ids_exclude_the_mouth():
    canonical = face_landmarks(1)[0]
    canonical[:, 1] = -100  # everything above the mouth ...
    canonical[list(q.LM_MOUTH_CORNERS), 1] = 0
    canonical[152, 1] = 100  # ... but the chin
    ids = q.stable_ids(canonical)
    assert not set(ids) & set(q.lip_ids())
    assert 152 not in ids and 10 in ids  # chin out, forehead (outline top) in
    assert {33, 263, 1}.issubset(ids)  # eye corners, nose tip


# ---- lip-sync


@pytest.mark.parametrize("shift", [-4, -1, 0, 2, 3])
def test_best_lag_finds_a_known_shift(shift):
    x = smooth_signal(300, seed=shift + 10)
    measured = np.roll(x, shift)  # measured[t] = x[t - shift]: late by `shift` frames
    lag, r = q.best_lag(x, measured, max_lag=5)
    assert lag == shift
    assert r > 0.99
    c = q.lagged_correlations(x, measured, 5)
    assert set(c) == set(range(-5, 6))
    assert c[shift] == max(c.values())


def test_best_lag_with_noise_and_missing_frames():
    x = smooth_signal(250, seed=3)
    m = np.roll(x, 1) + 0.05 * np.random.default_rng(4).standard_normal(250)
    m[::17] = np.nan  # frames where the tracker lost the face
    lag, r = q.best_lag(x, m)
    assert lag == 1 and r > 0.8
    assert q.best_lag(np.zeros(50), np.zeros(50)) == (0, pytest.approx(float("nan"), nan_ok=True))


def test_pearson():
    a = np.arange(10.0)
    assert q.pearson(a, 2 * a + 1) == pytest.approx(1.0)
    assert q.pearson(a, -a) == pytest.approx(-1.0)
    b = a.copy()
    b[3] = np.nan
    assert q.pearson(a, b) == pytest.approx(1.0)
    assert math.isnan(q.pearson(a, np.ones(10)))
    assert math.isnan(q.pearson(a[:2], a[:2]))


def test_partial_correlation_separates_leak_from_chance():
    rng = np.random.default_rng(0)
    plan = rng.uniform(0, 0.5, 400)
    source = 0.6 * plan + rng.normal(0, 0.1, 400)  # correlated with the plan by chance
    follows_plan = plan + rng.normal(0, 0.02, 400)
    leaks = plan + 0.5 * (source - 0.6 * plan) + rng.normal(0, 0.02, 400)
    assert q.pearson(source, follows_plan) > 0.5  # the raw correlation sees a "leak" ...
    assert abs(q.partial_correlation(source, follows_plan, plan)) < 0.15  # ... that is not there
    assert q.partial_correlation(source, leaks, plan) > 0.8
    assert math.isnan(q.partial_correlation(plan[:3], plan[:3], plan[:3]))


def test_opening_ratio():
    jaw = np.array([0.0, 0.1, 0.8, 0.9, 0.3, 0.7])
    close = np.array([1.0, 1.0, 0.0, 0.0, 0.5, 0.0])
    measured = np.array([0.02, 0.04, 0.5, 0.6, 0.2, 0.4])
    # closed frames: 0, 1 (mean 0.03); open frames: 2, 3, 5 (mean 0.5)
    assert q.opening_ratio(measured, jaw, close) == pytest.approx(0.03 / 0.5)
    measured[[0, 1]] = measured[[2, 3]]  # lips that do not close at p/b/m: ratio ~ 1
    assert q.opening_ratio(measured, jaw, close) > 1.0
    assert math.isnan(q.opening_ratio(measured, jaw, np.zeros(6)))  # no bilabial frame
    measured[0] = np.nan  # a frame without landmarks is ignored
    assert q.opening_ratio(measured, jaw, close) == pytest.approx(0.6 / 0.5)


# ---- stability


def test_jitter_zero_for_still_and_uniform_motion():
    lm = face_landmarks(20)
    ids = [1, 33, 263, 70, 300]
    assert q.jitter(lm, ids) == pytest.approx(0.0)
    moving = lm.copy()
    moving[..., 0] += 2.0 * np.arange(20)[:, None]  # constant velocity
    assert q.jitter(moving, ids) == pytest.approx(0.0, abs=1e-12)


def test_jitter_measures_noise_relative_to_eye_distance():
    rng = np.random.default_rng(5)
    lm = face_landmarks(200, eyes=100.0)
    ids = [1, 70, 300, 168]
    noisy = lm.copy()
    noisy[:, ids, :2] += rng.normal(0, 1.0, (200, len(ids), 2))
    j = q.jitter(noisy, ids)
    # second difference of white noise: std sqrt(6) per axis; mean 2D norm ~ sqrt(6)*sqrt(pi/2)
    assert j == pytest.approx(np.sqrt(6) * np.sqrt(np.pi / 2) / 100, rel=0.1)
    bigger = noisy.copy()
    bigger[..., :2] *= 2  # same face twice as large: same relative jitter
    assert q.jitter(bigger, ids) == pytest.approx(j, rel=1e-9)
    assert math.isnan(q.jitter(lm[:2], ids))


# ---- common helpers


def test_targets_and_verdicts():
    assert common.TARGETS["tracking_fps"].met(30.0) and not common.TARGETS["tracking_fps"].met(20.0)
    assert common.TARGETS["lag_frames"].met(-1) and not common.TARGETS["lag_frames"].met(2)
    assert common.TARGETS["peak_rss_gb"].met(3.9) and not common.TARGETS["peak_rss_gb"].met(4.0)
    assert common.verdict("render_ms", 12.0).startswith("**MISSES**")
    assert common.verdict("render_ms", 8.0) == "ok"
    assert common.verdict("render_ms", float("nan")) == "n/a"


def test_md_table():
    t = common.md_table(("a", "b"), [(1, "x|y"), (None, 2.5)])
    assert t.splitlines() == ["| a | b |", "|---|---|", "| 1 | x\\|y |", "| - | 2.5 |"]
    with pytest.raises(ValueError):
        common.md_table(("a", "b"), [(1,)])


def test_write_results_is_strict_json(tmp_path):
    data = {"x": float("nan"), "y": np.float32(1.5), "z": np.arange(3), "p": Path("/a")}
    stamped, latest = common.write_results(data, folder=tmp_path, stamp="20260101T000000Z")
    assert stamped.name == "bench-20260101T000000Z.json" and latest.name == "latest.json"
    back = json.loads(latest.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert back == {"x": None, "y": 1.5, "z": [0, 1, 2], "p": "/a"}
    assert stamped.read_text() == latest.read_text()


def test_peak_rss_sees_an_allocation():
    pytest.importorskip("psutil")  # without it only getrusage peaks since start exist
    import subprocess
    import sys

    with common.PeakRSS(interval=0.02) as base:
        time.sleep(0.1)
    # a child process holding 150 MiB: the sampler adds children's RSS (freed memory of this
    # process may be reused without growing its RSS, so allocating here would prove nothing)
    code = "import numpy, time; a = numpy.ones(150 * 2**20 // 8); time.sleep(1.0)"
    with common.PeakRSS(interval=0.02) as m:
        subprocess.run([sys.executable, "-c", code], check=True)
    assert m.peak_mb - base.peak_mb > 100
    d = m.as_dict()
    assert d["method"].startswith("psutil")


def test_machine_info_has_the_essentials():
    info = common.machine_info()
    for k in ("date_utc", "cpu", "cores", "torch_threads", "gpu"):
        assert k in info
    assert info["cores"] >= 1 and info["cpu"]


def test_identity_embedding():
    if q.identity_available():
        pytest.skip(q.identity_available())
    from skimage import data

    emb = q.FaceEmbedder()
    face = data.astronaut()
    a = emb(face)
    assert a.shape == (128,)
    moved = np.roll(face, (6, -4), axis=(0, 1))  # the same face, a few pixels away
    assert np.linalg.norm(emb(moved) - a) < 0.2
    assert emb(np.full((200, 200, 3), 128, np.uint8)) is None  # no face
