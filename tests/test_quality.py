"""Tests of the capture-quality check (progress.quality).

Each degraded copy of a sample photo has a known defect (Gaussian blur, exposure ×1.8,
a tiny size, a white-balance cast); the expected status follows from the documented
thresholds and from figures computed here independently (clipped share with NumPy,
mean Lab with scikit-image).
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.color import lab2rgb, rgb2lab

from progress.loader import load_image
from progress.quality import QualityReport, check_quality, sharpness

SAMPLES = Path(__file__).resolve().parents[1] / "sample_images"
NAMES_ALONE = ["resolution", "exposure", "blur", "colour_cast", "lighting"]
NAMES_WITH_BASELINE = ["resolution", "exposure", "blur", "brightness", "colour_cast", "lighting"]


@pytest.fixture(scope="module")
def photo():
    path = SAMPLES / "2026-03-02_session-01_baseline.jpg"
    if not path.is_file():
        pytest.skip("sample_images/ is not in this checkout")
    return load_image(path).rgb


@pytest.fixture(scope="module")
def small(photo):
    """The photo at half size (tone checks do not depend on resolution; faster)."""
    return cv2.resize(photo, (800, 600), interpolation=cv2.INTER_AREA)


_CODES = np.arange(256) / 255
_LINEAR = np.where(_CODES <= 0.04045, _CODES / 12.92, ((_CODES + 0.055) / 1.055) ** 2.4)


def _linear(rgb8: np.ndarray) -> np.ndarray:
    return _LINEAR[rgb8]


def _encode(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0, 1)
    c = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.round(c * 255).astype(np.uint8)


def _is_plain_sentence(text: str) -> bool:
    return (
        bool(text)
        and (text[0].isupper() or text[0].isdigit())
        and text.endswith(".")
        and "\n" not in text
        and not re.search(r"nan|inf|None|np\.|array\(|\{|\}", text)
    )


def _all_sentences(report: QualityReport) -> None:
    for c in report.checks:
        assert _is_plain_sentence(c.message), c.message


def test_same_photo_as_its_own_baseline(photo):
    r = check_quality(photo, baseline=photo)
    assert [c.name for c in r.checks] == NAMES_WITH_BASELINE
    assert r["blur"].status == "pass" and r["blur"].value == pytest.approx(1.0)
    assert r["brightness"].status == "pass" and r["brightness"].value == pytest.approx(0.0)
    assert r["colour_cast"].status == "pass" and r["colour_cast"].value == pytest.approx(0.0)
    assert r["resolution"].status == "pass" and r["resolution"].value == 1200
    assert r["exposure"].status == "pass"
    _all_sentences(r)


def test_checks_without_a_baseline(photo):
    r = check_quality(photo)
    assert [c.name for c in r.checks] == NAMES_ALONE
    assert r["blur"].status == "pass"
    assert r["exposure"].status == "pass"
    _all_sentences(r)
    with pytest.raises(KeyError):
        r["brightness"]


def test_blurred_copy_against_the_baseline(photo):
    blurred = cv2.GaussianBlur(photo, (0, 0), 3)
    r = check_quality(blurred, baseline=photo)
    assert r["blur"].status in ("warn", "fail")
    assert r["blur"].value < 0.6
    # Blur alone changes neither brightness nor colour.
    assert r["brightness"].status == "pass"
    assert r["colour_cast"].status == "pass"
    assert r.status in ("warn", "fail")
    assert any("blurr" in w for w in r.warnings)
    _all_sentences(r)


def test_blurred_copy_without_a_baseline(photo):
    r = check_quality(cv2.GaussianBlur(photo, (0, 0), 3))
    assert r["blur"].status in ("warn", "fail")
    assert r["blur"].value < check_quality(photo)["blur"].value


def test_sharpness_of_hand_made_images():
    flat = np.full((64, 64), 100, np.uint8)
    assert sharpness(flat) == 0.0
    # A one-pixel checkerboard of 100 ± 10, scaled to a mean of 128 (× 1.28): the
    # 4-neighbour Laplacian is 1.28 · (4·90 − 4·110) = −102.4 on the bright and +102.4 on
    # the dark pixels (a mirrored border keeps the pattern): variance 102.4² = 10485.76.
    yy, xx = np.mgrid[0:64, 0:64]
    board = np.where((yy + xx) % 2 == 0, 110, 90).astype(np.uint8)
    assert sharpness(board) == pytest.approx(10485.76)
    assert sharpness(cv2.GaussianBlur(board, (0, 0), 1.0)) < 10485.76 / 10
    # Half the light, same focus: 55 / 45 has the same value (without the scaling, ¼).
    half = np.where((yy + xx) % 2 == 0, 55, 45).astype(np.uint8)
    assert sharpness(half) == pytest.approx(10485.76)


def test_a_darker_copy_is_darker_not_blurrier_nor_coloured(photo):
    # Linear light × 0.5 (exposure −1 EV), same focus and same colour of light.
    lin = (photo.astype(np.float64) / 255.0) ** 2.2 * 0.5
    darker = np.clip(np.round(255.0 * lin ** (1 / 2.2)), 0, 255).astype(np.uint8)
    r = check_quality(darker, baseline=photo)
    assert r["brightness"].status in ("warn", "fail")
    assert r["blur"].status == "pass", r["blur"].message
    assert r["colour_cast"].status == "pass", r["colour_cast"].message


def test_overexposed_copy(photo):
    over = np.clip(photo.astype(np.float64) * 1.8, 0, 255).astype(np.uint8)
    clipped = ((over.max(axis=2) >= 250) | (over.max(axis=2) <= 5)).mean()
    assert clipped > 0.05  # the copy really is blown out (> 5 %: the documented fail)
    r = check_quality(over)
    assert r["exposure"].status == "fail"
    assert r["exposure"].value == pytest.approx(100 * clipped, abs=2.0)
    assert r.status == "fail"
    _all_sentences(r)


def test_slightly_clipped_copy_warns(photo):
    img = photo.copy()
    n = img.shape[0] * img.shape[1]
    flat = img.reshape(-1, 3)
    flat[: int(0.03 * n)] = 255  # 3 % of the pixels blown out: between 1 % and 5 %
    r = check_quality(img)
    assert r["exposure"].status == "warn"


@pytest.mark.parametrize(
    ("size", "status"), [((400, 300), "fail"), ((960, 720), "warn"), ((1600, 1200), "pass")]
)
def test_resolution(photo, size, status):
    img = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
    r = check_quality(img)
    assert r["resolution"].status == status
    assert r["resolution"].value == min(size)
    assert str(min(size)) in r["resolution"].message
    _all_sentences(r)


def test_colour_cast_against_the_baseline(small):
    # A warmer white balance: linear R × 1.15, B × 0.85.
    cast = _encode(_linear(small) * [1.15, 1.0, 0.85])
    d = rgb2lab(cast).reshape(-1, 3).mean(axis=0) - rgb2lab(small).reshape(-1, 3).mean(axis=0)
    assert max(abs(d[1]), abs(d[2])) > 5  # the cast is real and above the 4-unit limit
    r = check_quality(cast, baseline=small)
    assert r["colour_cast"].status == "warn"
    assert r["colour_cast"].value == pytest.approx(max(abs(d[1]), abs(d[2])), abs=0.5)
    assert r["blur"].status == "pass"
    _all_sentences(r)
    assert "grey card" in r["colour_cast"].message


def test_darker_copy_against_the_baseline(small):
    dark = _encode(_linear(small) * 0.45)
    dl = rgb2lab(dark)[..., 0].mean() - rgb2lab(small)[..., 0].mean()
    assert dl < -12  # more than the documented 12-unit fail
    r = check_quality(dark, baseline=small)
    assert r["brightness"].status == "fail"
    assert r["brightness"].value == pytest.approx(dl, abs=0.5)
    assert "darker" in r["brightness"].message
    _all_sentences(r)


def test_coloured_light_without_a_baseline():
    """Highlights of a neutral light are neutral; a strongly tinted light is flagged."""
    rng = np.random.default_rng(3)
    grey = np.clip(rng.normal(150, 25, (600, 800)), 0, 255)
    neutral = np.repeat(grey[..., None], 3, axis=2).astype(np.uint8)
    tinted = _encode(_linear(neutral) * [1.0, 0.8, 0.45])
    assert check_quality(neutral)["colour_cast"].status == "pass"
    assert check_quality(tinted)["colour_cast"].status == "warn"


def test_uneven_light_warns():
    # Left half lit, right half in shade: a 30-unit L* step across the frame. No pixel is
    # skin-coloured, so the check falls back to the whole frame.
    h, w = 600, 800
    img = np.full((h, w, 3), 180, np.uint8)
    img[:, w // 2 :] = 90
    r = check_quality(img)
    assert r["lighting"].status == "warn"
    assert "across the photo" in r["lighting"].message
    even = np.full((h, w, 3), 150, np.uint8)
    assert check_quality(even)["lighting"].status == "pass"


# A skin-coloured square (L* 62, a* 12, b* 17: skin type III) inside a dark border, as a
# close-up with background around the skin; ``ramp`` scales the linear light of the skin
# from its left to its right edge.
SKIN_LAB = (62.0, 12.0, 17.0)
BORDER_RGB = (28, 30, 38)
H, W, EDGE = 600, 800, 120


def _skin_in_dark_border(ramp: tuple[float, float] | None = None) -> np.ndarray:
    skin = _LINEAR[np.round(lab2rgb(np.array([[SKIN_LAB]])) * 255).astype(np.uint8)][0, 0]
    lin = np.broadcast_to(skin, (H, W, 3)).copy()
    if ramp is not None:
        gain = np.interp(np.arange(W), [EDGE, W - EDGE - 1], ramp)
        lin *= gain[None, :, None]
    noise = np.random.default_rng(5).normal(0, 3, (H, W, 3))
    img = np.clip(_encode(lin) + noise, 0, 255).round().astype(np.uint8)
    img[:EDGE] = img[-EDGE:] = BORDER_RGB
    img[:, :EDGE] = img[:, -EDGE:] = BORDER_RGB
    return img


def _whole_frame_field_range(img: np.ndarray) -> float:
    """The lighting field of the whole frame, as the check made it before it looked at
    skin only: L* at 1/8 scale smoothed by 1/16 of its long side, P95 − P5."""
    lab_l = rgb2lab(cv2.resize(img, (W // 8, H // 8), interpolation=cv2.INTER_AREA))[..., 0]
    field = gaussian_filter(lab_l, max(lab_l.shape) / 16)
    return float(np.percentile(field, 95) - np.percentile(field, 5))


def test_even_light_on_skin_with_a_dark_background_passes():
    img = _skin_in_dark_border()
    # The dark border alone would make a whole-frame lighting field look very uneven.
    assert _whole_frame_field_range(img) > 22 + 10
    r = check_quality(img)
    # The skin is lit evenly: its lighting field is flat (noise aside).
    assert r["lighting"].status == "pass"
    assert r["lighting"].value < 3
    assert "skin" in r["lighting"].message
    _all_sentences(r)


def test_light_falling_off_across_the_skin_warns():
    # Linear light ×0.15 at the skin's left edge, ×1 at its right (the left in shade).
    img = _skin_in_dark_border(ramp=(0.15, 1.0))
    cols = rgb2lab(img[EDGE:-EDGE, EDGE:-EDGE])[..., 0].mean(axis=0)
    spread = np.percentile(cols, 95) - np.percentile(cols, 5)
    assert spread > 30  # the ramp really spans more than 30 L* over the skin
    r = check_quality(img)
    assert r["lighting"].status == "warn"
    # Smoothing flattens the ends of the ramp a little but cannot widen it.
    assert 22 < r["lighting"].value <= spread
    assert "uneven across the skin" in r["lighting"].message
    _all_sentences(r)


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.jpg")) or ["(no samples)"])
def test_every_sample_photo_passes_the_lighting_check(name):
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip("sample_images/ is not in this checkout")
    # The series is rendered with one exposure over the frame (progress.samples); its dark corner and
    # white ruler sticker are not skin.
    r = check_quality(load_image(path).rgb)
    assert r["lighting"].status == "pass", r["lighting"].message


def test_report_status_is_the_worst_check(photo):
    r = check_quality(cv2.resize(photo, (400, 300)))
    assert r.status == "fail"
    assert r.warnings and all(_is_plain_sentence(w) for w in r.warnings)
    d = r.to_dict()
    assert d["status"] == "fail"
    assert {c["name"] for c in d["checks"]} == set(NAMES_ALONE)


@pytest.mark.parametrize(
    ("rgb", "baseline"),
    [
        (np.zeros((10, 10), np.uint8), None),
        (np.zeros((10, 10, 3), np.float32), None),
        (np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10, 4), np.uint8)),
    ],
)
def test_bad_input_is_a_value_error(rgb, baseline):
    with pytest.raises(ValueError):
        check_quality(rgb, baseline=baseline)
