"""Tests of progress.texture against synthetic images with known answers.

Synthetic skin is drawn on a fine grid (40 px/mm) from exact geometry (distance to a
segment, distance to a lattice node) and area-averaged with ``cv2.INTER_AREA`` onto the
grids the tests measure (10 and 20 px/mm), the way a photo lands on the analysis grid.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from progress.errors import RegionError
from progress.texture import Roughness, fine_line_density, pore_density, roughness

FINE = 40  # px/mm of the drawing grid
BASE = 60.0  # L* of the flat skin


# --------------------------------------------------------------------------- helpers


def _coords(size_mm: float, ppm: int) -> np.ndarray:
    n = round(size_mm * ppm)
    return (np.arange(n) + 0.5) / ppm  # pixel centres in mm


def _segment_distance(x, y, p, q):
    d = q - p
    t = np.clip(((x - p[0]) * d[0] + (y - p[1]) * d[1]) / (d @ d), 0.0, 1.0)
    return np.hypot(x - (p[0] + t * d[0]), y - (p[1] + t * d[1]))


def _line_footprint(size_mm, n_lines, width_mm, length_mm, seed, margin_mm=6.0):
    """Boolean footprint (on the fine grid) of straight lines with random angle and centre."""
    rng = np.random.default_rng(seed)
    c = _coords(size_mm, FINE)
    x, y = np.meshgrid(c, c)
    inside = np.zeros(x.shape, bool)
    for _ in range(n_lines):
        ang = rng.uniform(0, np.pi)
        centre = rng.uniform(margin_mm, size_mm - margin_mm, 2)
        half = np.array([np.cos(ang), np.sin(ang)]) * length_mm / 2
        inside |= _segment_distance(x, y, centre - half, centre + half) < width_mm / 2
    return inside


def _pore_footprint(size_mm, spacing_mm, radius_mm):
    """Disks of the given radius centred on a square lattice (nodes at spacing·(k+½))."""
    c = _coords(size_mm, FINE)
    f = np.mod(c, spacing_mm) - spacing_mm / 2
    return (f[None, :] ** 2 + f[:, None] ** 2) < radius_mm**2


def _to_grid(fine: np.ndarray, ppm: int) -> np.ndarray:
    n = fine.shape[0] * ppm // FINE
    return cv2.resize(fine.astype(np.float32), (n, n), interpolation=cv2.INTER_AREA)


def _noise(shape, sigma, seed):
    return np.random.default_rng(seed).normal(0.0, sigma, shape).astype(np.float32)


def _disk_mask(n, radius_px):
    yy, xx = np.mgrid[:n, :n]
    return (xx + 0.5 - n / 2) ** 2 + (yy + 0.5 - n / 2) ** 2 < radius_px**2


def _synthetic_skin(size_mm=30.0, seed=0):
    """Fine-grid skin: micro-relief, a lighting ramp, 6 lines and a lattice of pores."""
    rng = np.random.default_rng(seed)
    n = round(size_mm * FINE)
    relief = cv2.GaussianBlur(rng.normal(0, 1, (n, n)).astype(np.float32), (0, 0), 0.3 * FINE)
    relief *= 1.0 / relief.std()
    c = _coords(size_mm, FINE)
    ramp = 0.3 * c[None, :] + 0.1 * c[:, None]
    lines = _line_footprint(size_mm, 6, 0.3, 10.0, seed)
    pores = _pore_footprint(size_mm, 2.5, 0.25) & ~lines
    return BASE + relief + ramp - 8.0 * lines - 7.0 * pores


# --------------------------------------------------------------------------- roughness


def _grid(n=400):
    yy, xx = np.mgrid[:n, :n]
    return xx.astype(np.float32), yy.astype(np.float32)


def test_roughness_checkerboard_with_ramp():
    # ±a at a 2 px period is far finer than σ = 15 px: z = ±a, so Ra = Rq = a; the
    # 20 L* lighting ramp is coarser than σ and must be removed.
    x, y = _grid()
    a = 2.0
    board = np.where((x + y) % 2 == 0, a, -a).astype(np.float32) + 55.0
    ramp = 0.05 * x + 0.03 * y
    for image in (board, board + ramp):
        ra, rq = roughness(image, px_per_mm=10)
        assert ra == pytest.approx(a, rel=0.01)
        assert rq == pytest.approx(a, rel=0.01)


def test_roughness_sinusoid():
    # Rq = A/√2 and Ra = 2A/π for a sinusoid whose period (0.73 mm) is ≪ σ (1.5 mm).
    x, y = _grid()
    amp = 3.0
    wave = 60.0 + amp * np.sin(2 * np.pi * (0.8 * x + 0.6 * y) / 7.3)
    ra, rq = roughness(wave.astype(np.float32), px_per_mm=10)
    assert rq == pytest.approx(amp / math.sqrt(2), rel=0.01)
    assert ra == pytest.approx(2 * amp / math.pi, rel=0.01)
    ra2, rq2 = roughness((wave + 0.05 * x + 0.03 * y).astype(np.float32), px_per_mm=10)
    assert (ra2, rq2) == pytest.approx((ra, rq), rel=0.01)


def test_roughness_flat_is_zero():
    result = roughness(np.full((200, 300), 47.5, np.float32), px_per_mm=10)
    assert isinstance(result, Roughness)
    assert result.ra == pytest.approx(0.0, abs=1e-4)
    assert result.rq == pytest.approx(0.0, abs=1e-4)


def test_roughness_mask_outside_does_not_leak():
    x, y = _grid()
    a = 1.5
    board = np.where((x + y) % 2 == 0, a, -a).astype(np.float32) + 55.0
    mask = (x - 200) ** 2 + (y - 200) ** 2 < 150**2
    wild = np.where(mask, board, 1e4 * np.sin(x * y)).astype(np.float32)
    wild[0, 0] = np.nan
    ra, rq = roughness(wild, mask, px_per_mm=10)
    assert ra == pytest.approx(a, rel=0.01)
    assert rq == pytest.approx(a, rel=0.01)
    calm = np.where(mask, board, 0.0).astype(np.float32)
    assert roughness(calm, mask, px_per_mm=10) == pytest.approx((ra, rq), rel=1e-6)


def test_roughness_sigma_separates_scales():
    # The Gaussian background passes a sinusoid of period P with gain exp(-2π²σ²/P²):
    # for P = 12 mm and σ = 1.5 mm the gain is 0.735, so z keeps 26.5 % of it.
    x, _ = _grid(600)
    wave = (60 + 2.0 * np.sin(2 * np.pi * x / 120)).astype(np.float32)
    _, rq_small = roughness(wave, px_per_mm=10, sigma_mm=1.5)
    expected = 2.0 / math.sqrt(2) * (1 - math.exp(-2 * math.pi**2 * 15**2 / 120**2))
    assert rq_small == pytest.approx(expected, rel=0.1)


# --------------------------------------------------------------------------- fine lines


@pytest.fixture(scope="module")
def lines_case():
    footprint = _line_footprint(30.0, 8, 0.3, 12.0, seed=3)
    share = 100.0 * footprint.mean()
    fine = BASE - 8.0 * footprint
    return fine, share


def test_fine_lines_area_share(lines_case):
    # 8 lines, 0.3 mm wide, 12 mm long, 8 L* deep, noise σ = 1 L*: the measured share
    # matches the drawn share within 10 % at 10 and 20 px/mm.
    fine, share = lines_case
    for ppm in (10, 20):
        image = _to_grid(fine, ppm)
        image += _noise(image.shape, 1.0, seed=ppm)
        assert fine_line_density(image, px_per_mm=ppm) == pytest.approx(share, rel=0.10)


def test_fine_lines_zero_on_flat_and_noise():
    assert fine_line_density(np.full((300, 300), BASE, np.float32), px_per_mm=10) == 0.0
    noise = BASE + _noise((400, 400), 1.0, seed=7)
    assert fine_line_density(noise, px_per_mm=10) == 0.0


def test_fine_lines_ignore_pores():
    # A lattice of dark disks (r = 0.25 mm, 7 L*) has no line at all.
    fine = BASE - 7.0 * _pore_footprint(30.0, 2.0, 0.25)
    image = _to_grid(fine, 10) + _noise((300, 300), 0.5, seed=1)
    assert fine_line_density(image, px_per_mm=10) < 0.05


def test_fine_lines_invariant_to_brightness(lines_case):
    fine, _ = lines_case
    image = _to_grid(fine, 10) + _noise((300, 300), 1.0, seed=2)
    base = fine_line_density(image, px_per_mm=10)
    assert base > 1.0
    assert fine_line_density(image + 12.5, px_per_mm=10) == pytest.approx(base, rel=1e-3)


def test_fine_lines_resolution(lines_case):
    # Same skin at 10 and 20 px/mm (measured difference ≈ 1 %; tolerance 5 %).
    fine, _ = lines_case
    lo = _to_grid(fine, 10) + _noise((300, 300), 0.5, seed=4)
    hi = _to_grid(fine, 20) + _noise((600, 600), 0.5, seed=5)
    a = fine_line_density(lo, px_per_mm=10)
    b = fine_line_density(hi, px_per_mm=20)
    assert b == pytest.approx(a, rel=0.05)


def test_fine_lines_mask(lines_case):
    fine, _ = lines_case
    image = _to_grid(fine, 10) + _noise((300, 300), 0.5, seed=6)
    mask = _disk_mask(300, 120)
    expected_share = 100.0 * (_to_grid(fine, 10) < BASE - 4.0)[mask].mean()  # half depth
    inside = fine_line_density(image, mask, px_per_mm=10)
    assert inside == pytest.approx(expected_share, rel=0.10)
    wild = np.where(mask, image, _noise((300, 300), 300.0, seed=9))
    assert fine_line_density(wild, mask, px_per_mm=10) == pytest.approx(inside, abs=1e-9)
    dark = np.where(mask, image, 0.0).astype(np.float32)
    assert fine_line_density(dark, mask, px_per_mm=10) == pytest.approx(inside, abs=1e-9)


# --------------------------------------------------------------------------- pores


def test_pore_density_lattice():
    # Disks of radius 0.25 mm, 7 L* deep, every 2 mm: 1/(0.2 cm)² = 25 per cm².
    fine = BASE - 7.0 * _pore_footprint(44.0, 2.0, 0.25)
    for ppm, seed in ((10, 1), (20, 2)):
        image = _to_grid(fine, ppm) + _noise((44 * ppm, 44 * ppm), 0.5, seed=seed)
        mask = _disk_mask(44 * ppm, 20 * ppm)
        assert pore_density(image, mask, px_per_mm=ppm) == pytest.approx(25.0, rel=0.10)


def test_pore_density_zero_on_flat_and_noise():
    assert pore_density(np.full((300, 300), BASE, np.float32), px_per_mm=10) == 0.0
    noise = BASE + _noise((400, 400), 1.0, seed=11)
    assert pore_density(noise, px_per_mm=10) == 0.0


def test_pore_density_lines_are_not_pores(lines_case):
    # Only the 16 ends and the crossings of 8 lines are blob-like: about 2 per cm² of
    # the 8.41 cm² counted (30 mm less a 0.5 mm border), against 25 for a pore lattice
    # and hundreds if the lines' 96 mm were split into pore-sized pieces.
    fine, _ = lines_case
    image = _to_grid(fine, 10) + _noise((300, 300), 0.5, seed=12)
    assert pore_density(image, px_per_mm=10) < 3.0


def test_pore_density_mask_outside_does_not_leak():
    fine = BASE - 7.0 * _pore_footprint(30.0, 2.0, 0.25)
    image = _to_grid(fine, 10) + _noise((300, 300), 0.5, seed=13)
    mask = _disk_mask(300, 120)
    inside = pore_density(image, mask, px_per_mm=10)
    assert inside == pytest.approx(25.0, rel=0.10)
    wild = np.where(mask, image, _noise((300, 300), 300.0, seed=14))
    assert pore_density(wild, mask, px_per_mm=10) == pytest.approx(inside, abs=1e-9)


# --------------------------------------------------------------------------- resolution


def test_synthetic_skin_same_at_two_resolutions():
    # The same synthetic skin on grids of 10 and 20 px/mm. Measured differences:
    # Ra 1 %, Rq 3 %, fine lines 7 % (the random micro-relief near the 10 px/mm
    # resolution limit; clean lines agree within 1 %), pores 0 %.
    fine = _synthetic_skin()
    lo, hi = _to_grid(fine, 10), _to_grid(fine, 20)
    r_lo, r_hi = roughness(lo, px_per_mm=10), roughness(hi, px_per_mm=20)
    assert r_hi.ra == pytest.approx(r_lo.ra, rel=0.10)
    assert r_hi.rq == pytest.approx(r_lo.rq, rel=0.10)
    f_lo, f_hi = fine_line_density(lo, px_per_mm=10), fine_line_density(hi, px_per_mm=20)
    assert f_lo > 1.0
    assert f_hi == pytest.approx(f_lo, rel=0.10)
    p_lo, p_hi = pore_density(lo, px_per_mm=10), pore_density(hi, px_per_mm=20)
    assert p_lo > 5.0
    assert p_hi == pytest.approx(p_lo, rel=0.10)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("func", [roughness, fine_line_density, pore_density])
def test_validation(func):
    img = np.full((50, 50), BASE, np.float32)
    with pytest.raises(ValueError, match="2-D"):
        func(img[..., None], px_per_mm=10)
    with pytest.raises(ValueError, match="numeric"):
        func(img.astype(str), px_per_mm=10)
    with pytest.raises(ValueError, match="px_per_mm"):
        func(img, px_per_mm=0)
    with pytest.raises(ValueError, match="px_per_mm"):
        func(img, px_per_mm=float("nan"))
    with pytest.raises(ValueError, match="mask shape"):
        func(img, np.ones((5, 5), bool), px_per_mm=10)
    with pytest.raises(ValueError, match="boolean"):
        func(img, np.ones((50, 50), np.uint8), px_per_mm=10)
    with pytest.raises(RegionError, match="empty"):
        func(img, np.zeros((50, 50), bool), px_per_mm=10)
    bad = img.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        func(bad, px_per_mm=10)
    mask = np.zeros((50, 50), bool)
    mask[3, 3] = True
    with pytest.raises(ValueError, match="NaN"):
        func(bad, mask, px_per_mm=10)


def test_validation_options():
    img = np.full((60, 60), BASE, np.float32)
    with pytest.raises(ValueError, match="sigma_mm"):
        roughness(img, px_per_mm=10, sigma_mm=0)
    with pytest.raises(ValueError, match="sigmas_mm"):
        fine_line_density(img, px_per_mm=10, sigmas_mm=())
    with pytest.raises(ValueError, match="sigmas_mm"):
        fine_line_density(img, px_per_mm=10, sigmas_mm=(0.2, -1))
    with pytest.raises(ValueError, match="threshold"):
        fine_line_density(img, px_per_mm=10, threshold=-1)
    with pytest.raises(ValueError, match="threshold"):
        pore_density(img, px_per_mm=10, threshold=float("inf"))
    with pytest.raises(ValueError, match="r_min <= r_max"):
        pore_density(img, px_per_mm=10, radius_mm=(0.5, 0.1))
    with pytest.raises(ValueError, match="radius_mm"):
        pore_density(img, px_per_mm=10, radius_mm=(0.1,))
    with pytest.raises(ValueError, match="n_scales"):
        pore_density(img, px_per_mm=10, n_scales=0)
    with pytest.raises(RegionError, match="too small"):
        pore_density(img, px_per_mm=10, radius_mm=(0.1, 4.0))
    with pytest.raises(RegionError, match="too small"):
        roughness(img[:2], px_per_mm=10)
