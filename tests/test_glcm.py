"""Tests of progress.glcm: hand-counted matrices, the IBSI phantom, scikit-image."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from skimage.feature import graycomatrix, graycoprops

from progress.errors import RegionError
from progress.glcm import (
    ANGLES_DEG,
    GlcmFeatures,
    glcm,
    glcm_features,
    glcm_features_merged,
    quantise,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
PHANTOM = SHARED / "reference" / "ibsi1_glcm_phantom.json"

# A 4×4 image with 3 levels; the pixel at row 1, column 2 is outside the mask.
IMG = np.array(
    [
        [0, 1, 1, 2],
        [0, 0, 2, 2],
        [1, 1, 2, 0],
        [2, 0, 0, 1],
    ],
    dtype=np.uint8,
)
MASK = np.ones((4, 4), bool)
MASK[1, 2] = False

# Non-symmetric counts P[i, j] (i at the pixel, j at the pixel + offset), counted by
# hand. Unmasked totals: 12, 9, 12, 9 pairs; the masked pixel removes 2 pairs each.
HAND_UNMASKED = {
    0: [[2, 2, 1], [0, 2, 2], [2, 0, 1]],
    45: [[1, 2, 1], [1, 0, 1], [0, 1, 2]],
    90: [[1, 2, 2], [3, 0, 0], [0, 2, 2]],
    135: [[1, 2, 1], [1, 0, 1], [1, 2, 0]],
}
HAND_MASKED = {
    0: [[2, 2, 0], [0, 2, 2], [2, 0, 0]],
    45: [[1, 2, 1], [1, 0, 0], [0, 1, 1]],
    90: [[1, 2, 2], [3, 0, 0], [0, 1, 1]],
    135: [[1, 2, 0], [1, 0, 1], [1, 1, 0]],
}


# --------------------------------------------------------------------------- quantise


def test_quantise_fixed_bins():
    v = np.array([-3.0, 0.0, 2.49, 2.5, 4.99, 5.0, 99.0, 1e9])
    expected = [0, 0, 0, 1, 1, 2, 3, 3]
    assert quantise(v, bin_width=2.5, n_levels=4).tolist() == expected
    assert quantise(v + 10.0, bin_width=2.5, low=10.0, n_levels=4).tolist() == expected


def test_quantise_does_not_depend_on_other_pixels():
    # Fixed bin width, not a per-image min-max: adding a bright pixel changes nothing.
    a = np.array([[20.0, 30.0], [40.0, 50.0]], dtype=np.float32)
    b = a.copy()
    b[0, 0] = 95.0
    qa = quantise(a, bin_width=2.0, n_levels=50)
    qb = quantise(b, bin_width=2.0, n_levels=50)
    assert qa.tolist() == [[10, 15], [20, 25]]
    assert qb[1].tolist() == qa[1].tolist() and qb[0, 1] == qa[0, 1] and qb[0, 0] == 47


def test_quantise_dtype():
    assert quantise(np.arange(5.0), bin_width=1, n_levels=256).dtype == np.uint8
    out = quantise(np.array([0.0, 300.0, 1e6]), bin_width=1, n_levels=1000)
    assert out.dtype == np.uint16
    assert out.tolist() == [0, 300, 999]


def test_quantise_validation():
    v = np.arange(4.0)
    with pytest.raises(ValueError, match="bin_width"):
        quantise(v, bin_width=0, n_levels=4)
    with pytest.raises(ValueError, match="bin_width"):
        quantise(v, bin_width=float("nan"), n_levels=4)
    with pytest.raises(ValueError, match="low"):
        quantise(v, bin_width=1, low=float("inf"), n_levels=4)
    with pytest.raises(ValueError, match="n_levels"):
        quantise(v, bin_width=1, n_levels=0)
    with pytest.raises(ValueError, match="n_levels"):
        quantise(v, bin_width=1, n_levels=2.5)
    with pytest.raises(ValueError, match="NaN"):
        quantise(np.array([1.0, np.nan]), bin_width=1, n_levels=4)
    with pytest.raises(ValueError, match="numeric"):
        quantise(np.array(["a"]), bin_width=1, n_levels=4)


# --------------------------------------------------------------------------- matrices


@pytest.mark.parametrize("angle", ANGLES_DEG)
def test_glcm_hand_counted(angle):
    k = ANGLES_DEG.index(angle)
    raw = glcm(IMG, n_levels=3, symmetric=False, normed=False)
    assert raw[:, :, k].tolist() == HAND_UNMASKED[angle]
    masked = glcm(IMG, MASK, n_levels=3, symmetric=False, normed=False)
    assert masked[:, :, k].tolist() == HAND_MASKED[angle]
    sym = glcm(IMG, MASK, n_levels=3, normed=False)
    hand = np.array(HAND_MASKED[angle])
    assert sym[:, :, k].tolist() == (hand + hand.T).tolist()
    normed = glcm(IMG, MASK, n_levels=3)
    assert np.allclose(normed[:, :, k], (hand + hand.T) / (2 * hand.sum()))


def test_glcm_distance_two():
    # Row [0, 1, 2, 0, 1] at distance 2 (0°): pairs (0,2), (1,0), (2,1).
    row = np.array([[0, 1, 2, 0, 1]], dtype=np.uint8)
    p = glcm(row, n_levels=3, distance=2, angles_deg=(0,), symmetric=False, normed=False)
    assert p[:, :, 0].tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]


def test_glcm_bincount_path_matches_hand_count():
    # More than 255 levels takes the np.bincount path instead of cv2.calcHist.
    big = glcm(IMG.astype(np.uint16) * 100, MASK, n_levels=300, symmetric=False, normed=False)
    for k, angle in enumerate(ANGLES_DEG):
        assert big[::100, ::100, k].tolist() == HAND_MASKED[angle]
        assert big[:, :, k].sum() == np.sum(HAND_MASKED[angle])


def test_glcm_matches_skimage_unmasked():
    rng = np.random.default_rng(42)
    img = rng.integers(0, 8, (64, 80)).astype(np.uint8)
    ours = glcm(img, n_levels=8)
    theirs = graycomatrix(
        img, [1], np.deg2rad([0, 45, 90, 135]), levels=8, symmetric=True, normed=True
    )
    # skimage steps rows downwards: its 45° is our 135° and its 135° our 45°.
    for k_ours, k_theirs in ((0, 0), (1, 3), (2, 2), (3, 1)):
        np.testing.assert_allclose(ours[:, :, k_ours], theirs[:, :, 0, k_theirs], atol=1e-15)
    f = glcm_features(ours)
    for name, prop in [
        ("contrast", "contrast"),
        ("dissimilarity", "dissimilarity"),
        ("homogeneity", "homogeneity"),
        ("asm", "ASM"),
        ("energy", "energy"),
        ("correlation", "correlation"),
    ]:
        assert getattr(f, name) == pytest.approx(graycoprops(theirs, prop).mean(), rel=1e-10)
    # skimage's entropy uses the natural log, ours log2.
    assert f.entropy * math.log(2) == pytest.approx(graycoprops(theirs, "entropy").mean())


def test_glcm_outside_mask_changes_nothing():
    rng = np.random.default_rng(1)
    L = rng.normal(55, 6, (60, 70)).astype(np.float32)
    mask = np.zeros(L.shape, bool)
    mask[10:50, 15:60] = True
    mask[20:30, 20:30] = False  # a hole
    wild = L.copy()
    wild[~mask] = rng.choice([-1e6, 1e6, 0.0, 100.0], size=int((~mask).sum()))
    a = glcm(quantise(L, bin_width=2.0, n_levels=50), mask, n_levels=50, distance=2)
    b = glcm(quantise(wild, bin_width=2.0, n_levels=50), mask, n_levels=50, distance=2)
    np.testing.assert_array_equal(a, b)
    assert glcm_features(a) == glcm_features(b)
    # ... while the same image without the mask does differ.
    c = glcm(quantise(wild, bin_width=2.0, n_levels=50), n_levels=50, distance=2)
    assert not np.allclose(a, c)


def test_glcm_validation():
    with pytest.raises(ValueError, match="2-D"):
        glcm(IMG[None], n_levels=3)
    with pytest.raises(ValueError, match="integer"):
        glcm(IMG.astype(float), n_levels=3)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        glcm(IMG, n_levels=2)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        glcm(IMG.astype(np.int16) - 1, n_levels=3)
    with pytest.raises(ValueError, match="mask shape"):
        glcm(IMG, np.ones((3, 3), bool), n_levels=3)
    with pytest.raises(ValueError, match="boolean"):
        glcm(IMG, np.ones((4, 4), np.uint8), n_levels=3)
    with pytest.raises(ValueError, match="distance"):
        glcm(IMG, n_levels=3, distance=0)
    with pytest.raises(ValueError, match="angles_deg"):
        glcm(IMG, n_levels=3, angles_deg=(30,))
    with pytest.raises(ValueError, match="angles_deg"):
        glcm(IMG, n_levels=3, angles_deg=())
    with pytest.raises(ValueError, match="n_levels"):
        glcm(IMG, n_levels=0)


# --------------------------------------------------------------------------- features


def test_features_hand_worked():
    # Masked 0° matrix, symmetric: [[4,2,2],[2,4,2],[2,2,0]] / 20 (see HAND_MASKED).
    f = glcm_features(glcm(IMG, MASK, n_levels=3, angles_deg=(0,)))
    assert f.contrast == pytest.approx(24 / 20)
    assert f.dissimilarity == pytest.approx(16 / 20)
    assert f.homogeneity == pytest.approx(8 / 20 + 8 / 2 / 20 + 4 / 5 / 20)
    assert f.asm == pytest.approx(56 / 400)
    assert f.energy == pytest.approx(math.sqrt(56 / 400))
    assert f.joint_maximum == pytest.approx(0.2)
    assert f.entropy == pytest.approx(-(2 * 0.2 * math.log2(0.2) + 6 * 0.1 * math.log2(0.1)))
    # marginals 0.4, 0.4, 0.2: μ = 0.8, σ² = 0.56, Σ ij p = 0.6 -> (0.6 - 0.64) / 0.56
    assert f.correlation == pytest.approx(-1 / 14)
    # Counts and probabilities give the same features.
    assert glcm_features(glcm(IMG, MASK, n_levels=3, angles_deg=(0,), normed=False)) == f


def test_features_flat_region():
    flat = np.full((5, 5), 2, np.uint8)
    f = glcm_features(glcm(flat, n_levels=4))
    assert f.correlation == 1.0  # σ = 0: 1 by convention
    assert (f.contrast, f.dissimilarity, f.entropy) == (0.0, 0.0, 0.0)
    assert (f.homogeneity, f.asm, f.energy, f.joint_maximum) == (1.0, 1.0, 1.0, 1.0)


def test_features_skip_directions_without_pairs():
    # A one-row mask has pairs at 0° only; the other three matrices are empty and are
    # left out of the average. Row [0, 1, 1, 0, 2] -> symmetric 0° counts
    # [[0,2,1],[2,2,0],[1,0,0]] / 8: contrast 12/8, ASM 14/64, IDM 0.25+0.25+0.05.
    img = np.array([[2, 2, 2, 2, 2], [0, 1, 1, 0, 2], [2, 2, 2, 2, 2]], dtype=np.uint8)
    mask = np.zeros(img.shape, bool)
    mask[1] = True
    p = glcm(img, mask, n_levels=3)
    assert p.sum(axis=(0, 1)).tolist() == [1.0, 0.0, 0.0, 0.0]
    f = glcm_features(p)
    assert f.contrast == pytest.approx(1.5)
    assert f.asm == pytest.approx(14 / 64)
    assert f.homogeneity == pytest.approx(0.55)


def test_features_no_pair_at_all():
    # Mask pixels two apart have no neighbour at distance 1 in any direction.
    sparse = np.zeros((6, 6), bool)
    sparse[::2, ::2] = True
    p = glcm(np.zeros((6, 6), np.uint8), sparse, n_levels=2)
    assert not p.any()
    with pytest.raises(RegionError, match="no pixel pair"):
        glcm_features(p)
    with pytest.raises(RegionError, match="no pixel pair"):
        glcm_features_merged(p)


def test_features_validation():
    with pytest.raises(ValueError, match="shape"):
        glcm_features(np.ones((3, 4)))
    with pytest.raises(ValueError, match="non-negative"):
        glcm_features(-np.ones((3, 3)))
    with pytest.raises(ValueError, match="non-negative"):
        glcm_features(np.full((3, 3), np.nan))


def test_features_merged_hand_worked():
    # Sum of the masked symmetric counts of the four angles (totals 20+14+20+14 = 68).
    counts = glcm(IMG, MASK, n_levels=3, normed=False)
    merged = sum(np.array(HAND_MASKED[a]) + np.array(HAND_MASKED[a]).T for a in ANGLES_DEG)
    p = merged / merged.sum()
    i, j = np.indices(p.shape)
    f = glcm_features_merged(counts)
    assert isinstance(f, GlcmFeatures)
    assert f.contrast == pytest.approx(float(((i - j) ** 2 * p).sum()))
    assert f.asm == pytest.approx(float((p**2).sum()))
    assert f.joint_maximum == pytest.approx(float(p.max()))


# --------------------------------------------------------------------------- IBSI phantom


@pytest.fixture(scope="module")
def phantom():
    if not PHANTOM.exists():
        pytest.skip(f"IBSI reference {PHANTOM} is absent (needs the shared/ folder beside main)")
    data = json.loads(PHANTOM.read_text())
    volume = np.array(data["volume"], dtype=float)  # [z][y][x]
    mask = np.ones(volume.shape, bool)
    for z, y, x in data["excluded_voxels_zyx"]:
        mask[z, y, x] = False
    levels = quantise(volume, bin_width=1.0, low=1.0, n_levels=9)  # 1..9 -> 0..8
    return data, levels, mask


def test_ibsi_phantom_2d_averaged(phantom):
    data, levels, mask = phantom
    ref = data["reference_2d_averaged"]
    per_slice = [glcm(levels[z], mask[z], n_levels=9) for z in range(levels.shape[0])]
    matrices = np.concatenate(per_slice, axis=2)  # 4 slices × 4 angles = 16 matrices
    # Every slice and angle has pairs here, so all 16 take part in the average.
    assert matrices.shape == (9, 9, 16)
    assert np.allclose(matrices.sum(axis=(0, 1)), 1.0)
    f = glcm_features(matrices)
    assert f.contrast == pytest.approx(ref["contrast"], abs=0.005)
    assert f.dissimilarity == pytest.approx(ref["dissimilarity"], abs=0.005)
    assert f.homogeneity == pytest.approx(
        ref["inverse_difference_moment (skimage 'homogeneity')"], abs=0.0005
    )
    assert f.asm == pytest.approx(
        ref["angular_second_moment (skimage 'ASM'; energy = sqrt)"], abs=0.0005
    )
    assert f.correlation == pytest.approx(ref["correlation"], abs=0.00005)
    assert f.joint_maximum == pytest.approx(ref["joint_maximum"], abs=0.0005)
    assert f.entropy == pytest.approx(ref["joint_entropy_log2"], abs=0.005)


def test_ibsi_phantom_slice_merged(phantom):
    data, levels, mask = phantom
    ref = data["reference_2d_slice_merged"]
    per_slice = [
        glcm_features_merged(glcm(levels[z], mask[z], n_levels=9, normed=False))
        for z in range(levels.shape[0])
    ]

    def mean(name):
        return float(np.mean([getattr(f, name) for f in per_slice]))

    assert mean("contrast") == pytest.approx(ref["contrast"], abs=0.005)
    assert mean("asm") == pytest.approx(ref["angular_second_moment"], abs=0.0005)
    assert mean("homogeneity") == pytest.approx(ref["inverse_difference_moment"], abs=0.0005)
    assert mean("correlation") == pytest.approx(ref["correlation"], abs=0.00005)
