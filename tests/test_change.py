"""Tests of the change maps (progress.change).

The "after" images are made from the "before" ones with a known change in CIELAB
(scikit-image converts back to sRGB), so the expected map is known pixel by pixel.
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage.color import lab2rgb, rgb2lab

from progress.change import KINDS, change_map, overlay_rgba

H, W = 120, 200
BASE_LAB = np.array([62.0, 8.0, 17.0])
SMOOTH = 4.0
EDGE = int(4 * SMOOTH)  # pixels next to the step that the smoothing mixes


def _from_lab(lab: np.ndarray) -> np.ndarray:
    return np.round(lab2rgb(lab) * 255).astype(np.uint8)


def _two_halves(step: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A flat skin patch and a copy whose right half is shifted by ``step`` in Lab."""
    before_lab = np.broadcast_to(BASE_LAB, (H, W, 3)).copy()
    after_lab = before_lab.copy()
    after_lab[:, W // 2 :] += step
    before, after = _from_lab(before_lab), _from_lab(after_lab)
    # The exact Lab change of the 8-bit colours (rounding included).
    exact = rgb2lab(after) - rgb2lab(before)
    return before, after, exact


@pytest.mark.parametrize("step", [3.0, 6.0])
def test_redness_step_in_one_half(step):
    before, after, exact = _two_halves(np.array([0.0, step, 0.0]))
    diff = change_map(before, after, kind="redness", smooth_px=SMOOTH)
    assert diff.shape == (H, W) and diff.dtype == np.float32
    right = diff[:, W // 2 + EDGE :]
    left = diff[:, : W // 2 - EDGE]
    assert np.allclose(right, exact[0, -1, 1], atol=0.01)
    assert np.allclose(right, step, atol=0.25)  # the step ± 8-bit rounding
    assert np.allclose(left, 0.0, atol=1e-4)
    # Across the step the map rises monotonically from 0 to the step.
    row = diff[H // 2]
    assert np.all(np.diff(row) >= -1e-4)


def test_lightness_map_is_positive_where_darker():
    before, after, exact = _two_halves(np.array([-5.0, 0.0, 0.0]))
    diff = change_map(before, after, kind="lightness", smooth_px=SMOOTH)
    assert np.allclose(diff[:, W // 2 + EDGE :], -exact[0, -1, 0], atol=0.01)
    assert diff[:, W // 2 + EDGE :].mean() == pytest.approx(5.0, abs=0.25)
    assert np.allclose(diff[:, : W // 2 - EDGE], 0.0, atol=1e-4)


def test_redness_map_ignores_a_lightness_change():
    before, after, exact = _two_halves(np.array([-5.0, 0.0, 0.0]))
    diff = change_map(before, after, kind="redness", smooth_px=SMOOTH)
    assert np.abs(diff[:, W // 2 + EDGE :]).max() <= abs(exact[0, -1, 1]) + 0.01
    assert np.abs(diff).max() < 0.3


def test_texture_map_is_positive_where_rougher():
    rng = np.random.default_rng(5)
    flat = _from_lab(np.broadcast_to(BASE_LAB, (H, W, 3)).copy())
    rough_lab = np.broadcast_to(BASE_LAB, (H, W, 3)).copy()
    rough_lab[:, W // 2 :, 0] += rng.normal(0, 3.0, (H, W - W // 2))
    rough = _from_lab(rough_lab)
    diff = change_map(flat, rough, kind="texture", smooth_px=SMOOTH)
    assert diff[:, W // 2 + EDGE :].min() > 0.5
    assert np.abs(diff[:, : W // 4]).max() < 0.05
    # The other way round: smoother is negative.
    back = change_map(rough, flat, kind="texture", smooth_px=SMOOTH)
    assert back[:, W // 2 + EDGE :].max() < -0.5


def test_same_photo_gives_zero_everywhere():
    rng = np.random.default_rng(0)
    img = rng.integers(60, 200, (H, W, 3), dtype=np.uint8)
    for kind in KINDS:
        assert np.abs(change_map(img, img, kind=kind)).max() < 1e-5, kind


def test_invalid_pixels_are_nan():
    before, after, _ = _two_halves(np.array([0.0, 4.0, 0.0]))
    valid = np.ones((H, W), bool)
    valid[:10] = False
    diff = change_map(before, after, valid=valid)
    assert np.isnan(diff[:10]).all()
    assert np.isfinite(diff[10:]).all()


def test_shape_mismatch_is_a_value_error():
    a = np.zeros((10, 10, 3), np.uint8)
    b = np.zeros((10, 12, 3), np.uint8)
    with pytest.raises(ValueError, match="aligned"):
        change_map(a, b)


def test_unknown_kind_is_a_value_error():
    a = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ValueError, match="redness"):
        change_map(a, a, kind="wrinkles")


def test_overlay_colours_by_sign_and_size():
    diff = np.array([[2.0, -2.0, 0.0, np.nan, 1.0]], np.float32)
    rgba = overlay_rgba(diff, scale=2.0)
    assert rgba.shape == (1, 5, 4) and rgba.dtype == np.uint8
    red, blue, zero, nan, half = rgba[0]
    assert red[0] > red[2] and red[3] == 220  # worse: red, full colour at the scale
    assert blue[2] > blue[0] and blue[3] == 220  # better: blue
    assert zero[3] == 0 and nan[3] == 0  # no change / no data: transparent
    assert half[3] == 110  # half the scale: half the alpha
