"""Tests of the analysis grid (progress.grid): scale, cropping, mask and area averaging.

Every expected shape, factor and pixel count is worked out by hand from the documented
rule: 10 px/mm with a known scale, else 1500 px on the long side; a grid pixel is in the
region when (at least 99 % of) its area lies inside the mask.
"""

from __future__ import annotations

import numpy as np
import pytest

from progress.errors import RegionError
from progress.grid import grid_factor, to_grid


def _img(h: int, w: int, value=(180, 140, 120)) -> np.ndarray:
    img = np.empty((h, w, 3), np.uint8)
    img[:] = value
    return img


@pytest.mark.parametrize(
    ("shape", "scale", "expected"),
    [
        ((1200, 1600, 3), 20.0, (0.5, 10.0, False)),
        ((1200, 1600, 3), 10.0, (1.0, 10.0, False)),
        ((600, 800, 3), 4.0, (1.0, 4.0, False)),  # never enlarged: the photo's own scale
        ((1200, 1600, 3), None, (1500 / 1600, 10.0, True)),
        ((3000, 2000, 3), None, (0.5, 10.0, True)),  # portrait: the long side is the height
        ((300, 500, 3), None, (3.0, 10.0, True)),
    ],
)
def test_grid_factor(shape, scale, expected):
    factor, px_per_mm, nominal = grid_factor(shape, scale)
    assert factor == pytest.approx(expected[0])
    assert px_per_mm == expected[1]
    assert nominal is expected[2]


@pytest.mark.parametrize(
    ("shape", "scale", "grid_shape"),
    [
        ((1200, 1600), 20.0, (600, 800)),
        ((1200, 1600), None, (1125, 1500)),
        ((3000, 2000), None, (1500, 1000)),
        ((100, 150), None, (1000, 1500)),  # upsampled
        ((100, 150), 10.0, (100, 150)),  # already on the grid
    ],
)
def test_whole_photo_lands_on_the_grid(shape, scale, grid_shape):
    g = to_grid(_img(*shape), scale_px_per_mm=scale)
    assert g.rgb.shape == (*grid_shape, 3)
    assert g.rgb.dtype == np.uint8
    assert g.mask.shape == grid_shape and g.mask.all()
    assert g.px_per_mm == 10.0
    assert g.nominal is (scale is None)
    # A flat colour stays that colour whatever the resampling.
    assert (g.rgb == (180, 140, 120)).all()


def test_area_averaging_when_shrinking():
    # A one-pixel checkerboard of 0 and 200, halved: every grid pixel averages 2 + 2 → 100.
    img = np.zeros((200, 300, 3), np.uint8)
    yy, xx = np.mgrid[0:200, 0:300]
    img[(yy + xx) % 2 == 0] = 200
    g = to_grid(img, scale_px_per_mm=20.0)
    assert g.rgb.shape == (100, 150, 3)
    assert (g.rgb == 100).all()


def test_mask_is_cropped_to_its_box_with_a_margin():
    img = _img(1000, 1000)
    mask = np.zeros((1000, 1000), bool)
    mask[100:300, 200:400] = True  # 200 × 200
    g = to_grid(img, mask, scale_px_per_mm=10.0)  # factor 1: no resampling
    assert g.mask.sum() == 200 * 200
    # Bounding box plus at most a few pixels of margin, never the whole photo.
    assert 200 <= g.mask.shape[0] <= 210 and 200 <= g.mask.shape[1] <= 210
    rows = np.flatnonzero(g.mask.any(axis=1))
    assert rows[-1] - rows[0] + 1 == 200


@pytest.mark.parametrize("side", [200, 201])
def test_mixed_grid_pixels_are_left_out(side):
    """Halving: a grid pixel counts only when all four of its source pixels are inside."""
    img = _img(1000, 1000)
    mask = np.zeros((1000, 1000), bool)
    mask[100 : 100 + side, 300 : 300 + side] = True
    g = to_grid(img, mask, scale_px_per_mm=20.0)
    # 200 source px → 100 whole grid px; 201 → 100 whole + one half-covered, left out.
    assert g.mask.sum() == 100 * 100


def test_pixels_outside_the_mask_never_reach_the_region():
    img = _img(400, 400)
    img[:, 200:] = (0, 0, 255)
    mask = np.zeros((400, 400), bool)
    mask[:, :200] = True
    for scale in (20.0, 10.0, 7.0, None):
        g = to_grid(img, mask, scale_px_per_mm=scale)
        assert (g.rgb[g.mask] == (180, 140, 120)).all(), scale


def test_empty_mask_is_a_region_error():
    with pytest.raises(RegionError, match="empty"):
        to_grid(_img(100, 100), np.zeros((100, 100), bool))


def test_region_size_limit():
    # 400 grid pixels is the documented minimum (MIN_REGION_PX).
    img = _img(100, 100)
    ok = np.zeros((100, 100), bool)
    ok[10:30, 10:30] = True  # 400
    assert to_grid(img, ok, scale_px_per_mm=10.0).mask.sum() == 400
    small = np.zeros((100, 100), bool)
    small[10:29, 10:31] = True  # 399
    with pytest.raises(RegionError, match="399"):
        to_grid(img, small, scale_px_per_mm=10.0)
    assert issubclass(RegionError, ValueError)


def test_region_too_small_after_shrinking():
    # 40 × 40 source px at 40 px/mm is 10 × 10 grid px: too small.
    img = _img(400, 400)
    mask = np.zeros((400, 400), bool)
    mask[100:140, 100:140] = True
    with pytest.raises(RegionError, match="too small"):
        to_grid(img, mask, scale_px_per_mm=40.0)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((50, 50), np.uint8),
        np.zeros((50, 50, 4), np.uint8),
        np.zeros((50, 50, 3), np.float64),
    ],
)
def test_bad_image_is_a_value_error(bad):
    with pytest.raises(ValueError, match="H×W×3 uint8"):
        to_grid(bad)


def test_mask_shape_must_match():
    with pytest.raises(ValueError, match="shape"):
        to_grid(_img(50, 60), np.ones((60, 50), bool))


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), float("inf")])
def test_bad_scale_is_a_value_error(scale):
    with pytest.raises(ValueError, match="scale_px_per_mm"):
        grid_factor((100, 100, 3), scale)
