"""Tests of progress.repeatability: every expected value is worked out by hand here."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats
from skimage.color import rgb2lab

from progress import repeatability as rp
from progress.metrics import METRICS
from progress.repeatability import (
    NO_JITTER,
    Jitter,
    Repeatability,
    client_limits,
    is_measurable,
    recapture,
    study,
    within_subject_sd,
)

METRIC_NAMES = (
    "glcm_contrast glcm_homogeneity glcm_energy glcm_correlation glcm_entropy roughness_ra "
    "roughness_rq fine_line_density pore_density lab_l lab_a lab_b ita erythema_index "
    "melanin_index sigma_l sigma_a sigma_b de2000_p50 de2000_p90 spot_area_fraction"
).split()


def mean_lightness(rgb, *, mask=None, scale_px_per_mm=None):
    """Stand-in for progress.measure: mean L* (skimage, D65) inside the mask."""
    img = rgb.astype(float) / 255.0 if rgb.dtype == np.uint8 else rgb
    lab = rgb2lab(img)
    region = np.ones(rgb.shape[:2], bool) if mask is None else mask
    return {"lab_l": float(lab[..., 0][region].mean())}


def dL_dV(rgb8):
    """∂L*/∂V_c for each 8-bit channel value V_c, from the sRGB and CIELAB formulas."""
    v = np.asarray(rgb8, float) / 255.0
    lin = ((v + 0.055) / 1.055) ** 2.4  # all three values are above 0.04045
    dlin_dV = 2.4 / 1.055 * ((v + 0.055) / 1.055) ** 1.4 / 255.0
    w = np.array([0.2126, 0.7152, 0.0722])  # Y row of the sRGB → XYZ matrix (Yn = 1)
    Y = float(w @ lin)
    assert Y > (6 / 29) ** 3  # cube-root branch of f
    df_dY = (1.0 / 3.0) * Y ** (-2.0 / 3.0)
    return 116.0 * df_dY * w * dlin_dV


def chi2_bounds(sd_true, n, p=1e-3):
    """Two-sided 1 − p interval of a sample SD of n normal values with SD sd_true."""
    lo = stats.chi2.ppf(p / 2, n - 1)
    hi = stats.chi2.ppf(1 - p / 2, n - 1)
    return sd_true * math.sqrt(lo / (n - 1)), sd_true * math.sqrt(hi / (n - 1))


# ------------------------------------------------------------------ noise recovery


def test_dL_dV_matches_finite_difference_of_skimage():
    # guard on the hand formula itself: central differences through skimage's rgb2lab
    base = np.array([180.0, 140.0, 120.0])
    grads = []
    for c in range(3):
        step = np.zeros(3)
        step[c] = 0.01
        up = rgb2lab(((base + step) / 255.0)[None, None])[0, 0, 0]
        down = rgb2lab(((base - step) / 255.0)[None, None])[0, 0, 0]
        grads.append((up - down) / 0.02)
    np.testing.assert_allclose(grads, dL_dV(base), rtol=1e-3)


@pytest.mark.parametrize("sigma", [2.0, 6.0])
def test_study_recovers_known_noise_level_float(sigma):
    colour = np.array([180, 140, 120])
    rgb = np.broadcast_to(colour / 255.0, (24, 24, 3)).copy()
    mask = np.zeros((24, 24), bool)
    mask[4:20, 4:20] = True  # N = 256 pixels
    N = int(mask.sum())
    sigma_L = sigma * math.sqrt(float((dL_dV(colour) ** 2).sum()))  # independent channels
    expected = sigma_L / math.sqrt(N)

    n = 200
    jitter = Jitter(0, 0, 0, 0, 0, (0, 0), None, sigma)
    out = study(rgb, mask=mask, n=n, jitter=jitter, seed=3, measure=mean_lightness, align=False)
    r = out["lab_l"]
    lo, hi = chi2_bounds(expected, n)
    assert r.n == n
    assert lo < r.sd_within < hi, (r.sd_within, expected)
    assert r.limit == pytest.approx(1.96 * math.sqrt(2) * r.sd_within)
    L_true = rgb2lab((colour / 255.0)[None, None])[0, 0, 0]
    assert abs(r.mean - L_true) < 5 * expected / math.sqrt(n) + 0.01  # mean ≈ true L*
    assert r.cv_percent == pytest.approx(100 * r.sd_within / r.mean)


def test_study_recovers_noise_with_uint8_rounding():
    # rounding to whole 8-bit values adds variance 1/12 per channel (Sheppard)
    colour = np.array([180, 140, 120], np.uint8)
    rgb = np.broadcast_to(colour, (24, 24, 3)).copy()
    sigma = 3.0
    sigma_eff = math.sqrt(sigma**2 + 1 / 12)
    expected = sigma_eff * math.sqrt(float((dL_dV(colour) ** 2).sum())) / math.sqrt(24 * 24)
    n = 200
    jitter = Jitter(0, 0, 0, 0, 0, (0, 0), None, sigma)
    r = study(rgb, n=n, jitter=jitter, seed=5, measure=mean_lightness, align=False)["lab_l"]
    lo, hi = chi2_bounds(expected, n)
    assert lo < r.sd_within < hi, (r.sd_within, expected)


def test_no_jitter_gives_zero_spread():
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    r = study(rgb, n=3, jitter=NO_JITTER, measure=mean_lightness, align=False)["lab_l"]
    assert r.sd_within == 0.0 and r.limit == 0.0 and r.n == 3


# ------------------------------------------------------------------------ recapture


def test_recapture_no_jitter_is_identity():
    rgb = np.random.default_rng(1).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    out, matrix = recapture(rgb, np.random.default_rng(0), NO_JITTER)
    np.testing.assert_array_equal(out, rgb)
    np.testing.assert_array_equal(matrix, np.eye(3))


def test_recapture_matrix_maps_recapture_to_original():
    # a Gaussian dot at a known place; find it in the re-capture and map it back
    h, w = 120, 160
    yy, xx = np.mgrid[0:h, 0:w]
    x0, y0 = 101.3, 47.6
    dot = np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * 3.0**2))
    rgb = np.repeat((0.1 + 0.8 * dot)[..., None], 3, axis=2)
    jitter = Jitter(8.0, 0.1, 10.0, 0, 0, (0, 0), None, 0)
    rng = np.random.default_rng(7)
    for _ in range(5):
        out, matrix = recapture(rgb, rng, jitter)
        assert not np.allclose(matrix, np.eye(3))
        weight = np.clip(out[..., 0] - 0.1, 0, None)
        x1 = (weight * xx).sum() / weight.sum()
        y1 = (weight * yy).sum() / weight.sum()
        back = matrix @ np.array([x1, y1, 1.0])
        np.testing.assert_allclose(back[:2] / back[2], [x0, y0], atol=0.15)


def test_recapture_exposure_scales_linear_light():
    # exposure only: one gain on linear light for every pixel and channel, within 1 ± 0.1
    rgb = np.random.default_rng(2).uniform(0.2, 0.7, (8, 8, 3))
    out, _ = recapture(rgb, np.random.default_rng(4), Jitter(0, 0, 0, 0.1, 0, (0, 0), None, 0))

    def lin(v):
        return ((v + 0.055) / 1.055) ** 2.4

    ratio = lin(out) / lin(rgb)
    assert ratio.std() < 1e-9
    assert 0.9 <= ratio.mean() <= 1.1 and abs(ratio.mean() - 1) > 1e-4


def test_recapture_jpeg_returns_uint8():
    rgb = np.full((16, 16, 3), 0.5)
    out, _ = recapture(rgb, np.random.default_rng(0), Jitter())
    assert out.dtype == np.uint8 and out.shape == rgb.shape


def test_recapture_validation():
    with pytest.raises(ValueError, match="H×W×3"):
        recapture(np.zeros((4, 4)), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        recapture(np.full((4, 4, 3), 2.0), np.random.default_rng(0))
    with pytest.raises(ValueError, match="Generator"):
        recapture(np.zeros((4, 4, 3), np.uint8), 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rotation_deg": -1.0}, "rotation_deg"),
        ({"scale": 1.5}, "below 1"),
        ({"blur_sigma_px": (1.0, 0.5)}, "blur_sigma_px"),
        ({"jpeg_quality": (90, 101)}, "jpeg_quality"),
        ({"noise_sd": math.nan}, "noise_sd"),
    ],
)
def test_jitter_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Jitter(**kwargs)


# ---------------------------------------------------------------------------- study


def test_study_warps_back_with_true_matrix():
    # geometry only, no alignment: inside `valid` the warped-back copy equals the original
    h, w = 64, 80
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = 0.5 + 0.3 * np.sin(xx / 9.0) * np.cos(yy / 11.0)
    rgb = np.stack([smooth, smooth * 0.9, smooth * 0.8], axis=2)
    seen = []

    def max_error(img, *, mask=None, scale_px_per_mm=None):
        seen.append(int(mask.sum()))
        return {"err": float(np.abs(img - rgb)[mask].max())}

    jitter = Jitter(3.0, 0.05, 6.0, 0, 0, (0, 0), None, 0)
    r = study(rgb, n=4, jitter=jitter, measure=max_error, align=False)["err"]
    assert r.mean < 0.01  # bilinear interpolation of a smooth image, twice
    assert all(0 < s < h * w for s in seen)  # the border that left the frame is excluded


def test_study_uses_mask_and_valid_from_align():
    rgb = np.full((10, 10, 3), 128, np.uint8)
    mask = np.zeros((10, 10), bool)
    mask[:, :6] = True  # 60 pixels
    valid = np.zeros((10, 10), bool)
    valid[:4] = True  # 40 pixels; ∩ mask = 24
    calls = []

    def fake_align(reference, moving, *, mask=None):
        calls.append(mask is not None)
        return SimpleNamespace(warped=moving, valid=valid, matrix=np.eye(3))

    def count(img, *, mask=None, scale_px_per_mm=None):
        return {"px": float(mask.sum())}

    r = study(rgb, mask=mask, n=3, jitter=NO_JITTER, measure=count, align=fake_align)["px"]
    assert r.mean == 24.0 and r.n == 3 and calls == [True, True, True]


def test_study_drops_failed_alignments():
    from progress.errors import AlignmentError

    rgb = np.full((8, 8, 3), 100, np.uint8)
    state = {"i": 0}

    def flaky(reference, moving, *, mask=None):
        state["i"] += 1
        if state["i"] % 2:
            raise AlignmentError("no match")
        return SimpleNamespace(warped=moving, valid=np.ones((8, 8), bool))

    r = study(rgb, n=6, jitter=NO_JITTER, measure=mean_lightness, align=flaky)["lab_l"]
    assert r.n == 3


def test_study_validation():
    rgb = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="n must be"):
        study(rgb, n=1, measure=mean_lightness, align=False)
    with pytest.raises(ValueError, match="mask must be"):
        study(rgb, mask=np.ones((4, 4), bool), measure=mean_lightness, align=False)
    with pytest.raises(ValueError, match="align must be"):
        study(rgb, measure=mean_lightness, align=True)


def test_pool_hand_worked():
    a = Repeatability("m", 10.0, 1.0, 10.0, 2.77, 3)
    b = Repeatability("m", 20.0, 2.0, 10.0, 5.54, 5)
    p = rp.pool([{"m": a}, {"m": b}])["m"]
    # (2·1 + 4·4) / 6 = 3
    assert p.sd_within == pytest.approx(math.sqrt(3.0))
    # 6 pooled dof: chi-square 1.2373 (2.5 %) and 14.449 (97.5 %)
    assert p.sd_low == pytest.approx(math.sqrt(3.0) * math.sqrt(6 / 14.449), rel=1e-4)
    assert p.sd_high == pytest.approx(math.sqrt(3.0) * math.sqrt(6 / 1.2373), rel=1e-4)
    assert p.mean == pytest.approx((3 * 10 + 5 * 20) / 8)
    assert p.n == 8


def test_sd_interval_matches_chi_square_table():
    # chi-square quantiles from printed tables: 29 dof 16.047 / 45.722; 1 dof 0.000982 / 5.024
    lo, hi = rp.sd_interval(2.0, 29)
    assert lo == pytest.approx(2.0 * math.sqrt(29 / 45.722), rel=1e-4)
    assert hi == pytest.approx(2.0 * math.sqrt(29 / 16.047), rel=1e-4)
    lo, hi = rp.sd_interval(1.0, 1)
    assert lo == pytest.approx(math.sqrt(1 / 5.0239), rel=1e-4)
    assert hi == pytest.approx(math.sqrt(1 / 0.000982), rel=1e-3)
    assert all(math.isnan(v) for v in rp.sd_interval(1.0, 0))
    with pytest.raises(ValueError, match="level"):
        rp.sd_interval(1.0, 5, level=1.0)


def test_study_reports_sd_interval():
    values = iter([1.0, 2.0, 4.0])

    def fixed(img, *, mask=None, scale_px_per_mm=None):
        return {"m": next(values)}

    rgb = np.zeros((8, 8, 3), np.uint8)
    r = study(rgb, n=3, jitter=NO_JITTER, measure=fixed, align=False)["m"]
    sd = math.sqrt(7 / 3)  # deviations -4/3, -1/3, 5/3: SS = 42/9, over 2 dof
    assert r.sd_within == pytest.approx(sd)
    # 2 dof: chi-square 0.0506 (2.5 %) and 7.378 (97.5 %)
    assert r.sd_low == pytest.approx(sd * math.sqrt(2 / 7.3778), rel=1e-4)
    assert r.sd_high == pytest.approx(sd * math.sqrt(2 / 0.050636), rel=1e-4)
    assert math.isnan(r.offset)


def test_combine_max_takes_the_larger_limit():
    a = {"m": Repeatability("m", 1.0, 0.5, 50.0, 1.0, 20)}
    b = {
        "m": Repeatability("m", 9.0, 1.0, 11.1, 2.0, 20),
        "k": Repeatability("k", 1.0, math.nan, math.nan, math.nan, 1),
    }
    got = rp.combine_max([a, b])
    assert got["m"] is b["m"] and "k" not in got
    assert rp.combine_max([b, a])["m"] is b["m"]


def test_recapture_sharp_edges_stay_in_range():
    # Lanczos rings at a step edge; the re-capture must stay in [0, 1] without warnings
    rgb = np.zeros((40, 40, 3))
    rgb[:, 20:] = 1.0
    jitter = Jitter(3.0, 0.05, 2.0, 0, 0, (0, 0), None, 0)
    out, _ = recapture(rgb, np.random.default_rng(0), jitter)
    assert out.min() >= 0.0 and out.max() <= 1.0


# ------------------------------------------------------------------- study_pipeline


def _textured(size=160):
    """A smooth random skin-like texture (8-bit) with a neutral grey card, no clipping."""
    from scipy import ndimage

    rng = np.random.default_rng(1)
    tex = ndimage.gaussian_filter(rng.normal(size=(size, size)), 3)
    tex /= tex.std()
    rgb = np.array([0.72, 0.55, 0.47]) * (1 + 0.08 * tex[..., None])
    rgb8 = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    rgb8[10:60, 10:60] = 119  # sRGB 119 grey: L* 50, a* = b* = 0
    assert rgb8.max() < 250 and rgb8.min() > 60
    return rgb8


def _sd_cube_root_gain(e):
    """SD of g^(1/3) for g uniform on [1 - e, 1 + e]: E[g^k] = ((1+e)^(k+1) - (1-e)^(k+1))
    / ((k+1) 2e)."""

    def moment(k):
        return ((1 + e) ** (k + 1) - (1 - e) ** (k + 1)) / ((k + 1) * 2 * e)

    return math.sqrt(moment(2 / 3) - moment(1 / 3) ** 2)


def test_study_pipeline_recovers_exposure_noise_and_card_removes_it():
    # An exposure gain g on linear light scales every pixel's Y by g, so on the cube-root
    # branch L* = (L0 + 16) g^(1/3) - 16 and the region's mean L* has SD (L̄0 + 16) SD(g^(1/3)).
    rgb8 = _textured()
    box = (64, 10, 150, 150)  # x0, y0, x1, y1: skin only
    lab = rgb2lab(rgb8[10:150, 64:150] / 255.0)
    assert lab[..., 0].min() > 8  # cube-root branch everywhere
    expected = (lab[..., 0].mean() + 16) * _sd_cube_root_gain(0.10)  # ≈ 1.49 L*
    jitter = Jitter(0, 0, 0, 0.10, 0, (0, 0), None, 1.0)  # noise dithers the 8-bit card
    n = 16
    plain = rp.study_pipeline(rgb8, box=box, scale_px_per_mm=10.0, n=n, jitter=jitter, seed=2)
    r = plain["lab_l"]
    lo, hi = chi2_bounds(expected, n)  # conservative: a uniform gain has light tails
    assert r.n == n and lo < r.sd_within < hi, (r.sd_within, expected)
    card = (16, 16, 54, 54)
    carded = rp.study_pipeline(
        rgb8, box=box, card_box=card, scale_px_per_mm=10.0, n=6, jitter=jitter, seed=2
    )
    assert carded["lab_l"].sd_within < 0.1 * expected  # the grey card undoes the exposure
    assert set(plain) == set(METRIC_NAMES)


def test_study_pipeline_measures_original_as_reference():
    # no jitter at all: every re-capture is the photo itself, aligned to itself
    rgb8 = _textured()
    out = rp.study_pipeline(rgb8, box=(64, 10, 150, 150), scale_px_per_mm=10.0, n=2,
                            jitter=NO_JITTER)  # fmt: skip
    for name in ("lab_l", "lab_a", "sigma_l"):
        assert out[name].sd_within == pytest.approx(0.0, abs=1e-6)
        assert out[name].offset == pytest.approx(0.0, abs=1e-3), name


def test_study_pipeline_validation():
    rgb8 = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        rp.study_pipeline(np.zeros((16, 16, 3)))
    with pytest.raises(ValueError, match="n must be"):
        rp.study_pipeline(rgb8, n=1)
    with pytest.raises(ValueError, match="not both"):
        rp.study_pipeline(rgb8, box=(0, 0, 8, 8), roi=np.ones((16, 16), bool))
    with pytest.raises(ValueError, match="roi must be"):
        rp.study_pipeline(rgb8, roi=np.ones((8, 8), bool))


# -------------------------------------------------------------- within-subject SD


def test_within_subject_sd_hand_worked():
    # SS = 2 + 2, dof = 1 + 2  ->  sqrt(4/3)
    assert within_subject_sd([[1.0, 3.0], [10.0, 11.0, 12.0]]) == pytest.approx(math.sqrt(4 / 3))
    # SS = 0 + 20, dof = 1 + 3  ->  sqrt(5)
    assert within_subject_sd([[5, 5], [2, 4, 6, 8]]) == pytest.approx(math.sqrt(5))
    # a lone value and a NaN carry no information: SS = 2 + 2, dof = 1 + 1
    assert within_subject_sd([[1, 3], [7], [math.nan, 4, 6]]) == pytest.approx(math.sqrt(2))


def test_within_subject_sd_needs_a_pair():
    with pytest.raises(ValueError, match="two or more"):
        within_subject_sd([[1.0], [2.0, math.nan]])
    with pytest.raises(ValueError, match="finite"):
        within_subject_sd([[1.0, math.inf]])


def test_client_limits_prefers_own_replicates():
    defaults = {"lab_a": 5.0, "lab_l": 2.0}
    own = {"lab_a": [[1.0, 3.0], [10.0, 11.0, 12.0]], "ita": [[1.0, 2.0]]}
    got = client_limits(own, defaults)
    assert got["lab_a"] == pytest.approx(1.96 * math.sqrt(2) * math.sqrt(4 / 3))  # 3.2007
    assert got["lab_l"] == 2.0
    assert got["ita"] == pytest.approx(1.96 * math.sqrt(2) * math.sqrt(0.5))
    strict = client_limits(own, defaults, min_groups=3)
    assert strict["lab_a"] == 5.0 and "ita" not in strict
    with pytest.raises(ValueError, match="min_groups"):
        client_limits(own, defaults, min_groups=0)


def test_client_limits_min_dof_and_floor():
    defaults = {"lab_a": 5.0, "lab_l": 2.0}
    own = {
        "lab_a": [[1.0, 3.0]],  # one pair: 1 dof -> the default stays
        "lab_l": [[7.0, 7.0, 7.0]],  # 2 dof but identical: 0 -> floored at 0.5 * 2.0
        "ita": [[1.0, 2.0], [3.0, 5.0]],  # SS = 0.5 + 2 over 2 dof; no default, no floor
    }
    got = client_limits(own, defaults, min_dof=2, floor=0.5)
    assert got["lab_a"] == 5.0
    assert got["lab_l"] == 1.0
    assert got["ita"] == pytest.approx(1.96 * math.sqrt(2) * math.sqrt(1.25))
    assert client_limits(own, defaults)["lab_l"] == 0.0  # no floor by default
    with pytest.raises(ValueError, match="min_dof"):
        client_limits(own, defaults, min_dof=0)
    with pytest.raises(ValueError, match="floor"):
        client_limits(own, defaults, floor=-0.1)


# --------------------------------------------------------------------- measurable


@pytest.mark.parametrize(
    "delta, limit, expected",
    [(1.01, 1.0, True), (-1.5, 1.0, True), (1.0, 1.0, False), (-1.0, 1.0, False),
     (0.3, 1.0, False), (0.0, 0.0, False), (1e-9, 0.0, True), (math.nan, 1.0, False)],
)  # fmt: skip
def test_is_measurable(delta, limit, expected):
    assert is_measurable(delta, limit) is expected


def test_is_measurable_rejects_bad_limit():
    with pytest.raises(ValueError, match="limit"):
        is_measurable(1.0, -0.5)


# ------------------------------------------------------------------ default limits


def test_default_limits_file():
    path = Path(rp.__file__).with_name("data") / "repeatability.json"
    data = json.loads(path.read_text("utf-8"))
    assert "provisional" not in data["note"].lower()
    assert data["command"].startswith("python -m progress.repeatability --standard ")
    assert data["settings"]["n"] >= 20
    studies = data["studies"]
    card_of = {"sample_card": True, "astronaut_card": True}
    for table, card in (("metrics", False), ("metrics_with_card", True)):
        loaded = rp.CARD_LIMITS if card else rp.DEFAULT_LIMITS
        for name in METRIC_NAMES:
            item = data[table][name]
            assert math.isfinite(item["limit"]) and item["limit"] > 0, name
            assert item["limit"] == pytest.approx(1.96 * math.sqrt(2) * item["sd_within"])
            assert item["sd_low"] < item["sd_within"] < item["sd_high"], name
            assert item["n"] >= 20, name
            assert loaded[name] == item["limit"]
            # the documented rule: the larger limit of the two photos of this colour set-up;
            # for texture metrics only the photo that meets their resolution (the 20 px/mm
            # cheek, not the 512 px face enlarged to the nominal grid)
            same = [s for s in studies if card_of.get(s, False) is card]
            assert len(same) == 2
            if METRICS[name].kind == "texture":
                same = [s for s in same if s.startswith("sample")]
            assert item["limit"] == max(studies[s]["metrics"][name]["limit"] for s in same)
            assert studies[item["from"]]["metrics"][name]["limit"] == item["limit"]


def test_photo_texture_ok_follows_the_texture_resolution():
    rgb = np.zeros((1200, 1600, 3), np.uint8)
    assert rp.photo_texture_ok({"rgb": rgb, "kwargs": {"scale_px_per_mm": 20.0}})
    assert not rp.photo_texture_ok({"rgb": rgb, "kwargs": {"scale_px_per_mm": 8.0}})
    assert rp.photo_texture_ok({"rgb": rgb, "kwargs": {}})  # 1600 px ≥ 1500 px
    assert not rp.photo_texture_ok({"rgb": rgb[:512, :512], "kwargs": {}})


def test_default_limits_choose_by_card():
    assert rp.default_limits(card=True) == rp.CARD_LIMITS
    assert rp.default_limits(card=False) == rp.DEFAULT_LIMITS
    assert rp.default_limits(card=True) is not rp.CARD_LIMITS  # a copy


def test_save_and_load_limits_round_trip(tmp_path):
    results = {
        "lab_a": Repeatability("lab_a", 12.0, 0.5, 4.1667, 1.386, 10),
        "ita": Repeatability("ita", 30.0, math.nan, math.nan, math.nan, 1),
    }
    out = tmp_path / "r.json"
    rp.save_limits(results, out, note="test")
    assert rp.load_limits(out) == {"lab_a": 1.386}
    assert json.loads(out.read_text())["metrics"]["ita"]["limit"] is None


def test_cli_writes_limits(tmp_path, monkeypatch, capsys):
    from PIL import Image

    img = np.random.default_rng(0).integers(60, 200, (40, 50, 3), dtype=np.uint8)
    png = tmp_path / "a.png"
    Image.fromarray(img).save(png)
    monkeypatch.setattr(rp, "_default_measure", lambda: mean_lightness)
    out = tmp_path / "limits.json"
    assert rp.main([str(png), "--n", "4", "--no-align", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["settings"]["n"] == 4 and data["settings"]["images"] == ["a.png"]
    assert data["metrics"]["lab_l"]["n"] == 4 and data["metrics"]["lab_l"]["limit"] > 0
    assert "lab_l" in capsys.readouterr().out


def test_cli_pipeline_path_scales_boxes(tmp_path, monkeypatch, capsys):
    from PIL import Image

    png = tmp_path / "t.png"
    Image.fromarray(_textured()).save(png)
    seen = {}

    def spy(rgb, **kwargs):
        seen.update(kwargs, shape=rgb.shape)
        return {"lab_l": Repeatability("lab_l", 60.0, 0.1, 0.17, 0.277, 2)}

    monkeypatch.setattr(rp, "study_pipeline", spy)
    out = tmp_path / "limits.json"
    args = [str(png), "--n", "2", "--long-side", "80", "--box", "64,10,150,150"]
    assert rp.main([*args, "--card-box", "16,16,54,54", "--scale", "10", "--out", str(out)]) == 0
    # the photo was halved (160 -> 80 px), so were its boxes and its scale
    assert seen["shape"] == (80, 80, 3)
    assert seen["box"] == (32, 5, 75, 75) and seen["card_box"] == (8, 8, 27, 27)
    assert seen["scale_px_per_mm"] == 5.0
    data = json.loads(out.read_text())
    assert data["metrics"]["lab_l"]["limit"] == pytest.approx(1.96 * math.sqrt(2) * 0.1)
    assert data["settings"]["command"].startswith("python -m progress.repeatability ")
