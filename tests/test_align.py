"""Tests of progress.registration against transforms known by construction.

Every automatic case warps a real photo (scikit-image's astronaut) with a transform chosen
here, so the true moving→reference map is known; the error is measured on a grid of
moving-frame points whose true position falls inside the reference.
"""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError

import cv2
import numpy as np
import pytest
from skimage import data

from progress.errors import AlignmentError
from progress.registration import CONFIDENCE_OK, Alignment, align, align_from_points, warp

N = 1024


def similarity(deg: float, scale: float, shift: tuple[float, float], centre) -> np.ndarray:
    """3×3 rotation + scale about ``centre``, then ``shift`` (pixel units)."""
    th = math.radians(deg)
    r = scale * np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    c = np.asarray(centre, float)
    t = c - r @ c + np.asarray(shift, float)
    return np.vstack([np.column_stack([r, t]), [0.0, 0.0, 1.0]])


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    q = np.column_stack([pts, np.ones(len(pts))]) @ np.asarray(m, float).T
    return q[:, :2] / q[:, 2:]


def grid_error(estimate, truth, moving_shape, reference_shape) -> tuple[float, float]:
    """Mean and max distance (reference px) of two moving→reference maps on a grid."""
    h, w = moving_shape[:2]
    ys, xs = np.mgrid[0 : h - 1 : 25j, 0 : w - 1 : 25j]
    pts = np.column_stack([xs.ravel(), ys.ravel()])
    t = apply(truth, pts)
    hr, wr = reference_shape[:2]
    inside = (t[:, 0] >= 0) & (t[:, 0] <= wr - 1) & (t[:, 1] >= 0) & (t[:, 1] <= hr - 1)
    assert inside.sum() > 100  # the test itself must measure something
    d = np.hypot(*(apply(estimate, pts[inside]) - t[inside]).T)
    return float(d.mean()), float(d.max())


def warp_affine(img: np.ndarray, m: np.ndarray) -> np.ndarray:
    """moving(x) = img(m⁻¹ x): the scene under the (scene → moving) map ``m``."""
    size = (img.shape[1], img.shape[0])
    return cv2.warpAffine(img, m[:2], size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


# The half-size copy of an image made by cv2.resize(fx=0.5, INTER_AREA) has pixel centres
# at x_half = 0.5 (x + 0.5) - 0.5 (2×2 blocks averaged): written out by hand.
HALF = np.array([[0.5, 0.0, -0.25], [0.0, 0.5, -0.25], [0.0, 0.0, 1.0]])


@pytest.fixture(scope="module")
def astro() -> np.ndarray:
    return cv2.resize(data.astronaut(), (N, N), interpolation=cv2.INTER_CUBIC)


@pytest.fixture(scope="module")
def known() -> np.ndarray:
    """Scene → moving similarity: 3°, ×1.05 about the centre, then (12.3, -7.8) px."""
    return similarity(3.0, 1.05, (12.3, -7.8), ((N - 1) / 2, (N - 1) / 2))


def assert_subpixel(result: Alignment, truth, moving, reference) -> None:
    mean, mx = grid_error(result.matrix, truth, moving.shape, reference.shape)
    assert mean < 1.0 and mx < 1.0, (mean, mx, result.reason)


# ---------------------------------------------------------------------------------------
# Automatic alignment: known answers
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aligned(astro, known) -> tuple[np.ndarray, Alignment]:
    moving = warp_affine(astro, known)
    return moving, align(astro, moving)


def test_known_similarity(astro, known, aligned):
    moving, result = aligned
    assert_subpixel(result, np.linalg.inv(known), moving, astro)
    assert result.ok and result.model == "similarity"
    assert result.method.startswith("sift+ransac")
    assert result.matrix.shape == (3, 3) and result.matrix.dtype == np.float64
    assert result.warped.shape == astro.shape and result.warped.dtype == np.uint8
    assert result.n_inliers <= result.n_matches
    assert 0.0 <= result.residual_px < 1.0
    # The similarity has no shear: equal column norms, orthogonal columns.
    a = result.matrix[:2, :2]
    assert np.isclose(np.linalg.norm(a[:, 0]), np.linalg.norm(a[:, 1]), rtol=1e-9)
    assert abs(a[:, 0] @ a[:, 1]) < 1e-9


def test_known_similarity_valid_marks_missing_data(known, aligned):
    _, result = aligned
    # Reference pixel p shows moving pixel known @ p: valid iff that lies inside moving.
    ys, xs = np.mgrid[0:N:37, 0:N:37]
    p = np.column_stack([xs.ravel(), ys.ravel()]).astype(float)
    q = apply(known, p)
    margin = 1.0  # pixels this close to the edge may go either way
    inside = (q >= margin).all(axis=1) & (q <= N - 1 - margin).all(axis=1)
    outside = (q < -margin).any(axis=1) | (q > N - 1 + margin).any(axis=1)
    got = result.valid[ys.ravel(), xs.ravel()]
    assert got[inside].all() and not got[outside].any()
    assert outside.sum() > 10
    assert (result.warped[ys.ravel()[outside], xs.ravel()[outside]] == 0).all()


def test_known_homography(astro):
    h = np.array([[1.02, 0.03, -10.0], [-0.02, 0.99, 6.0], [3e-5, -2e-5, 1.0]])
    moving = cv2.warpPerspective(astro, h, (N, N), flags=cv2.INTER_LINEAR)
    result = align(astro, moving, model="homography")
    assert_subpixel(result, np.linalg.inv(h), moving, astro)
    assert result.ok and result.model == "homography"


def corner_perspective(shape, offsets) -> np.ndarray:
    """Scene → moving homography that moves the frame's outer corners by ``offsets`` px."""
    h, w = shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    return cv2.getPerspectiveTransform(src, src + np.float32(offsets)).astype(np.float64)


# Corners moved by 8-25 px: a hand-held photo taken a little off-axis.
OFFSETS = [[15, 10], [-5, 25], [-20, -8], [8, -20]]


def corner_error(estimate, truth, shape) -> float:
    """Largest distance (reference px) of two moving→reference maps at the frame corners."""
    h, w = shape[:2]
    c = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float)
    return float(np.hypot(*(apply(estimate, c) - apply(truth, c)).T).max())


@pytest.fixture(scope="module")
def perspective_pairs() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Photo, its perspective view and the true moving→reference map, by name."""
    pairs = {}
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        img = getattr(data, name)()
        h = corner_perspective(img.shape, OFFSETS)
        pairs[name] = (img, cv2.warpPerspective(img, h, img.shape[1::-1]), np.linalg.inv(h))
    return pairs


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
def test_default_recovers_perspective(perspective_pairs, name):
    """With default arguments, a perspective view is found to under 1 px at the corners."""
    ref, moving, truth = perspective_pairs[name]
    result = align(ref, moving)
    assert result.model == "homography"
    assert corner_error(result.matrix, truth, moving.shape) < 1.0, result.reason
    assert_subpixel(result, truth, moving, ref)
    assert result.confidence >= CONFIDENCE_OK and result.ok


def test_default_small_perspective(astro):
    """A fifth of the perspective above (corners moved by 2-5 px) still ends under 1 px."""
    h = corner_perspective(astro.shape, np.float32(OFFSETS) * 0.2)
    moving = cv2.warpPerspective(astro, h, (N, N))
    result = align(astro, moving)
    assert corner_error(result.matrix, np.linalg.inv(h), moving.shape) < 1.0
    assert result.ok


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket"])
def test_default_keeps_similarity(name):
    """A similarity pair stays a similarity under the automatic choice."""
    ref = getattr(data, name)()
    h, w = ref.shape[:2]
    t = similarity(-2.0, 1.03, (7.0, -4.0), ((w - 1) / 2, (h - 1) / 2))
    moving = warp_affine(ref, t)
    result = align(ref, moving)
    assert result.model == "similarity" and result.ok
    assert_subpixel(result, np.linalg.inv(t), moving, ref)


def test_wrong_model_is_not_ok(perspective_pairs):
    """A similarity forced onto a perspective view is off by pixels: it must not be ok."""
    ref, moving, truth = perspective_pairs["astronaut"]
    forced = align(ref, moving, model="similarity")
    assert corner_error(forced.matrix, truth, moving.shape) > 2.0  # it really is wrong
    assert forced.confidence < CONFIDENCE_OK and not forced.ok
    assert forced.model == "similarity"
    assert "offset by more than a pixel" in forced.reason or forced.method == "identity"
    for name in ("coffee", "chelsea"):
        ref, moving, _ = perspective_pairs[name]
        assert align(ref, moving, model="similarity").confidence < CONFIDENCE_OK


def test_explicit_models_are_kept(astro, known):
    """An explicit model is fitted as asked, even where "auto" would pick another."""
    moving = warp_affine(astro, known)
    for model in ("affine", "homography"):
        result = align(astro, moving, model=model)
        assert result.model == model and result.ok
        assert_subpixel(result, np.linalg.inv(known), moving, astro)


def test_known_pure_shift(astro):
    t = np.array([[1.0, 0.0, 5.6], [0.0, 1.0, -3.3], [0.0, 0.0, 1.0]])
    moving = warp_affine(astro, t)
    result = align(astro, moving)
    assert_subpixel(result, np.linalg.inv(t), moving, astro)
    assert np.allclose(result.matrix[:2, 2], [-5.6, 3.3], atol=0.2)


def test_brightness_and_contrast_change(astro, known):
    moving = warp_affine(astro, known).astype(np.float64) * 0.8 + 20
    moving = np.clip(moving, 0, 255).astype(np.uint8)
    result = align(astro, moving)
    assert_subpixel(result, np.linalg.inv(known), moving, astro)
    assert result.ok


def test_moving_at_half_resolution(astro, known):
    moving = cv2.resize(
        warp_affine(astro, known), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA
    )
    result = align(astro, moving)
    truth = np.linalg.inv(known) @ np.linalg.inv(HALF)
    assert_subpixel(result, truth, moving, astro)
    assert result.warped.shape == astro.shape


def test_pixel_centre_convention_across_sizes(astro):
    """A wrong half-pixel convention would leave an offset of 0.5-1 px.

    With ``work_long_side=400`` both photos are reduced before matching (the 1024 px one
    by the integer factor 3, the 512 px one by 400/512), so the result depends on
    bringing the matrices back to full resolution correctly (with ``x_s = s (x + 0.5) -
    0.5`` the error is about 0.05 px; with ``x_s = s x`` it was 0.6-1.2 px).
    """
    t = np.array([[1.0, 0.0, 4.0], [0.0, 1.0, 2.0], [0.0, 0.0, 1.0]])
    moving = cv2.resize(warp_affine(astro, t), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    result = align(astro, moving, work_long_side=400)
    truth = np.linalg.inv(t) @ np.linalg.inv(HALF)
    mean, _ = grid_error(result.matrix, truth, moving.shape, astro.shape)
    assert mean < 0.25
    # And the other way round: a half-size reference, a full-size moving photo.
    ref_half = cv2.resize(astro, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    result = align(ref_half, warp_affine(astro, t), work_long_side=400)
    mean, _ = grid_error(result.matrix, HALF @ np.linalg.inv(t), astro.shape, ref_half.shape)
    assert mean < 0.25


def test_float_and_grey_inputs(astro, known):
    moving = warp_affine(astro, known)
    result = align(astro.astype(np.float32) / 255, moving.astype(np.float64) / 255)
    assert_subpixel(result, np.linalg.inv(known), moving, astro)
    assert result.warped.dtype == np.float64
    grey_ref = cv2.cvtColor(astro, cv2.COLOR_RGB2GRAY)
    grey_mov = cv2.cvtColor(moving, cv2.COLOR_RGB2GRAY)
    result = align(grey_ref, grey_mov)
    assert_subpixel(result, np.linalg.inv(known), moving, astro)
    assert result.warped.shape == grey_ref.shape


def disk(radius: float) -> np.ndarray:
    ys, xs = np.mgrid[0:N, 0:N]
    return (xs - (N - 1) / 2) ** 2 + (ys - (N - 1) / 2) ** 2 < radius**2


def test_treated_area_excluded(astro, known):
    """The centre of the moving photo changed (blurred and reddened): leave it out."""
    moving = warp_affine(astro, known)
    changed = warp_affine(disk(260).astype(np.uint8), known) > 0  # the disk, moving frame
    treated = cv2.GaussianBlur(moving, (0, 0), 6).astype(np.float64)
    treated[..., 0] = np.clip(treated[..., 0] * 1.3 + 30, 0, 255)
    moving[changed] = treated[changed].astype(np.uint8)
    result = align(astro, moving, exclude=disk(260))
    assert_subpixel(result, np.linalg.inv(known), moving, astro)
    assert result.ok


def test_mask_polarity(astro, known):
    """Inside the disk the moving photo shows the scene moved 15 px further.

    Excluding the disk must recover the global transform; using only the disk must
    recover the local one. Either polarity mistake would swap the two answers.
    """
    local = np.array([[1.0, 0.0, 15.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ known
    region = disk(300)
    inside_moving = warp_affine(region.astype(np.uint8), known) > 0
    moving = warp_affine(astro, known)
    moving[inside_moving] = warp_affine(astro, local)[inside_moving]

    outside = align(astro, moving, exclude=region)
    assert_subpixel(outside, np.linalg.inv(known), moving, astro)
    same = align(astro, moving, mask=~region)
    np.testing.assert_allclose(same.matrix, outside.matrix, atol=1e-3)

    only_disk = align(astro, moving, mask=region)
    mean, _ = grid_error(only_disk.matrix, np.linalg.inv(local), moving.shape, astro.shape)
    assert mean < 1.0, only_disk.reason


def skin_like(seed: int, shape=(768, 1024)) -> np.ndarray:
    """Faint pores (±6 grey levels, 2 px) on a slowly varying beige, with a few moles."""
    rng = np.random.default_rng(seed)
    h, w = shape
    low = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), 40)
    pores = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), 2.0)
    grey = 8 * low / low.std() + 6 * pores / pores.std()
    img = np.array([200, 150, 130], np.float32) + grey[..., None]
    for _ in range(6):
        centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        cv2.circle(img, centre, int(rng.uniform(4, 12)), (120, 80, 60), -1, cv2.LINE_AA)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_low_contrast_skin_texture():
    ref = skin_like(1)
    t = similarity(-4.0, 0.95, (-20.0, 15.0), (512.0, 384.0))
    noise = np.random.default_rng(9).normal(0, 3, ref.shape)
    moving = np.clip(warp_affine(ref, t) + noise, 0, 255).astype(np.uint8)
    result = align(ref, moving)
    assert_subpixel(result, np.linalg.inv(t), moving, ref)
    assert result.ok


def test_two_different_skin_patches_do_not_align():
    result = align(skin_like(1), skin_like(2))
    assert result.confidence < 0.3 and result.method == "identity"


def test_intensity_only_path_when_features_fail(astro, monkeypatch):
    """With the feature start disabled, ECC from the identity still finds a small motion."""
    import progress.registration as module

    monkeypatch.setattr(module, "_MIN_INLIERS", 10**9)
    t = similarity(0.5, 1.01, (5.0, -3.0), ((N - 1) / 2, (N - 1) / 2))
    moving = warp_affine(astro, t)
    result = align(astro, moving)
    assert result.method == "ecc"
    assert_subpixel(result, np.linalg.inv(t), moving, astro)
    assert CONFIDENCE_OK <= result.confidence <= 0.7  # few features caps the confidence
    unrelated = align(astro, data.coffee())
    assert unrelated.method == "identity" and unrelated.confidence == 0.0


# ---------------------------------------------------------------------------------------
# Automatic alignment: pairs that must fail honestly
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("other", ["coffee", "chelsea", "rocket"])
def test_unrelated_photo(astro, other):
    moving = getattr(data, other)()
    h, w = moving.shape[:2]
    result = align(astro, moving)
    assert result.confidence < 0.3 and not result.ok
    assert "may not show the same skin" in result.reason
    assert result.method == "identity" and math.isnan(result.residual_px)
    # Fallback: the moving photo scaled to fit the frame, centred (centre → centre).
    centre = np.array([[(w - 1) / 2, (h - 1) / 2]])
    np.testing.assert_allclose(apply(result.matrix, centre), [[511.5, 511.5]])
    s = min(N / w, N / h)
    np.testing.assert_allclose(result.matrix[:2, :2], [[s, 0], [0, s]])
    assert result.warped.shape == astro.shape


def test_unrelated_perspective_view_refused(perspective_pairs):
    """A perspective view of another photo: neither the similarity nor the homography."""
    astronaut = perspective_pairs["astronaut"][0]
    for name in ("coffee", "rocket"):
        result = align(astronaut, perspective_pairs[name][1])
        assert result.confidence < 0.3 and result.method == "identity"
        assert "may not show the same skin" in result.reason


def test_flat_grey_images_do_not_raise(astro):
    flat = np.full((600, 800, 3), 128, np.uint8)
    for ref, mov in ((astro, flat), (flat, astro), (flat, flat.copy())):
        result = align(ref, mov)
        assert result.confidence < 0.3 and not result.ok
        assert result.reason
        assert result.warped.shape == ref.shape


def test_flat_same_size_fallback_is_identity():
    flat = np.full((300, 400, 3), 90, np.uint8)
    result = align(flat, flat.copy())
    np.testing.assert_array_equal(result.matrix, np.eye(3))
    np.testing.assert_array_equal(result.warped, flat)
    assert result.valid.all()


def test_noise_image(astro):
    noise = np.random.default_rng(0).integers(0, 256, (N, N, 3), dtype=np.uint8)
    assert align(astro, noise).confidence < 0.3
    assert align(noise, astro).confidence < 0.3


def test_mirrored_photo_is_not_accepted(astro):
    result = align(astro, np.ascontiguousarray(astro[:, ::-1]), model="affine")
    assert result.confidence < 0.3 and not result.ok


def test_refine_false_still_subpixel(astro, known):
    moving = warp_affine(astro, known)
    result = align(astro, moving, refine=False)
    assert result.method == "sift+ransac"
    assert_subpixel(result, np.linalg.inv(known), moving, astro)


# ---------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------


def test_align_rejects_bad_input(astro):
    with pytest.raises(AlignmentError, match="Unknown model"):
        align(astro, astro, model="rigid")
    with pytest.raises(AlignmentError, match="grey .* or colour"):
        align(astro, np.zeros((10, 10, 10, 3)))
    with pytest.raises(AlignmentError, match="at least 16 pixels"):
        align(astro, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(AlignmentError, match="height and width"):
        align(astro, astro, mask=np.ones((10, 10), bool))
    with pytest.raises(AlignmentError, match="less than 5 %"):
        align(astro, astro, exclude=np.ones((N, N), bool))
    with pytest.raises(AlignmentError, match="work_long_side"):
        align(astro, astro, work_long_side=10)
    with pytest.raises(AlignmentError, match="dtype"):
        align(astro, np.zeros((64, 64), bool))


def test_ok_threshold():
    img = np.zeros((2, 2), np.uint8)
    common = dict(
        matrix=np.eye(3), warped=img, valid=img > 0, residual_px=0.0, method="x", reason=""
    )
    assert CONFIDENCE_OK == 0.5
    assert Alignment(confidence=0.5, **common).ok
    assert not Alignment(confidence=0.49, **common).ok
    with pytest.raises(FrozenInstanceError):
        Alignment(confidence=0.5, **common).confidence = 1.0  # type: ignore[misc]


# ---------------------------------------------------------------------------------------
# Manual alignment from point pairs
# ---------------------------------------------------------------------------------------

BLANK = np.zeros((400, 500, 3), np.uint8)
MOVING_PTS = np.array([[50.0, 60.0], [420.0, 80.0], [380.0, 330.0], [90.0, 300.0]])


def test_points_exact_similarity():
    truth = similarity(10.0, 1.2, (30.0, -12.0), (0.0, 0.0))
    ref_pts = apply(truth, MOVING_PTS)
    result = align_from_points(ref_pts, MOVING_PTS, BLANK, BLANK)
    np.testing.assert_allclose(result.matrix, truth, atol=1e-6)
    assert result.method == "manual" and result.model == "similarity"
    assert result.residual_px < 1e-6 and result.confidence > 0.99
    assert result.n_matches == 4


def test_points_exact_affine_from_three_pairs():
    truth = np.array([[1.1, 0.05, 7.0], [-0.04, 0.95, -3.0], [0.0, 0.0, 1.0]])
    ref_pts = apply(truth, MOVING_PTS[:3])
    result = align_from_points(ref_pts, MOVING_PTS[:3], BLANK, BLANK, model="affine")
    np.testing.assert_allclose(result.matrix, truth, atol=1e-6)
    # Three pairs fix an affine exactly: nothing is left to check.
    assert result.confidence == CONFIDENCE_OK and "exactly" in result.reason


def test_points_exact_homography():
    truth = np.array([[1.05, 0.02, 4.0], [-0.03, 0.98, 9.0], [2e-4, -1e-4, 1.0]])
    ref_pts = apply(truth, MOVING_PTS)
    result = align_from_points(ref_pts, MOVING_PTS, BLANK, BLANK, model="homography")
    np.testing.assert_allclose(result.matrix, truth, atol=1e-6)


def test_points_residual_known():
    """Corners of a square, each moved by (±d, ±d) in a pattern that no similarity fits.

    The least-squares similarity is then the identity and every residual is d·√2.
    """
    mov = np.array([[100.0, 100.0], [80.0, 100.0], [80.0, 80.0], [100.0, 80.0]])
    d = 0.5
    ref = mov + d * np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]])
    result = align_from_points(ref, mov, BLANK, BLANK)
    np.testing.assert_allclose(result.matrix, np.eye(3), atol=1e-12)
    assert result.residual_px == pytest.approx(d * math.sqrt(2))
    # tol = max(2 px, 0.5 % of the 500×400 diagonal = 3.2 px): confidence 1 / (1 + (r/tol)²)
    tol = 0.005 * math.hypot(500, 400)
    assert result.confidence == pytest.approx(1 / (1 + (d * math.sqrt(2) / tol) ** 2))


def test_points_need_three_pairs():
    with pytest.raises(AlignmentError, match="3 point pairs are needed"):
        align_from_points(MOVING_PTS[:2], MOVING_PTS[:2], BLANK, BLANK)
    with pytest.raises(AlignmentError, match="4 point pairs are needed"):
        align_from_points(MOVING_PTS[:3], MOVING_PTS[:3], BLANK, BLANK, model="homography")


def test_points_collinear():
    line = np.array([[10.0, 10.0], [20.0, 20.0], [35.0, 35.0], [50.0, 50.0]])
    with pytest.raises(AlignmentError, match="one line"):
        align_from_points(line + 3, line, BLANK, BLANK)


def test_points_bad_input():
    with pytest.raises(AlignmentError, match="mark each spot once"):
        align_from_points(MOVING_PTS, MOVING_PTS[:3], BLANK, BLANK)
    with pytest.raises(AlignmentError, match=r"\(x, y\) pairs"):
        align_from_points(np.zeros((4, 3)), np.zeros((4, 3)), BLANK, BLANK)
    with pytest.raises(AlignmentError, match="missing or infinite"):
        bad = MOVING_PTS.copy()
        bad[0, 0] = np.nan
        align_from_points(bad, MOVING_PTS, BLANK, BLANK)


def test_points_mirrored_order_has_low_confidence():
    mirrored = MOVING_PTS * [-1, 1] + [500, 0]
    result = align_from_points(mirrored, MOVING_PTS, BLANK, BLANK, model="affine")
    assert result.confidence < CONFIDENCE_OK and "mirror" in result.reason


# ---------------------------------------------------------------------------------------
# warp
# ---------------------------------------------------------------------------------------


def test_warp_integer_shift_exact():
    img = np.random.default_rng(1).integers(1, 256, (60, 80, 3), dtype=np.uint8)
    shift = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, 3.0]])
    warped, valid = warp(img, shift, img.shape)
    np.testing.assert_array_equal(warped[3:, 5:], img[:-3, :-5])
    assert valid[3:, 5:].all() and not valid[:3].any() and not valid[:, :5].any()
    assert (warped[~valid] == 0).all()


def test_warp_round_trip(astro):
    smooth = cv2.GaussianBlur(astro, (0, 0), 2)
    m = similarity(7.0, 1.1, (20.0, -15.0), (500.0, 500.0))
    there, valid1 = warp(smooth, m, smooth.shape)
    back, valid2 = warp(there, np.linalg.inv(m), smooth.shape)
    both = valid2 & cv2.erode(valid1.astype(np.uint8), np.ones((5, 5))).astype(bool)
    back2, _ = warp(valid1.astype(np.uint8), np.linalg.inv(m), smooth.shape)
    inner = both & (back2 > 0)
    diff = np.abs(back.astype(int) - smooth.astype(int))[inner]
    assert inner.mean() > 0.6 and diff.mean() < 2.0
    # Corners that left the frame on the way there have no data on the way back.
    assert not valid2[0, 0] or not valid1[0, 0]


def test_warp_perspective_valid_matches_geometry():
    img = np.full((100, 120), 200, np.uint8)
    h = np.array([[1.1, 0.05, -5.0], [0.02, 0.95, 8.0], [5e-4, 2e-4, 1.0]])
    warped, valid = warp(img, h, (110, 130))
    ys, xs = np.mgrid[0:110, 0:130]
    src = apply(np.linalg.inv(h), np.column_stack([xs.ravel(), ys.ravel()]).astype(float))
    inside = (src[:, 0] >= 0) & (src[:, 0] <= 119) & (src[:, 1] >= 0) & (src[:, 1] <= 99)
    agree = (inside == valid.ravel()).mean()
    assert agree > 0.995  # only pixels within 1/32 px of the edge may differ
    assert (warped[valid] == 200).all()


def test_warp_rejects_bad_matrix():
    img = np.zeros((10, 10), np.uint8)
    with pytest.raises(AlignmentError, match="singular"):
        warp(img, np.zeros((3, 3)), img.shape)
    with pytest.raises(AlignmentError, match="2×3 or 3×3"):
        warp(img, np.eye(4), img.shape)
