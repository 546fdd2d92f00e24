"""Tests of the default region of interest, ``skin_mask`` (progress.skin).

The answers come from the sample series' known geometry (``samples.skin_region``: the
cheek ellipse minus the sticker and the moles) and from synthetic scenes whose skin pixels
are drawn by hand (colours from scikit-image's Lab → sRGB).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data
from skimage.color import lab2rgb, rgb2lab

from progress.loader import load_image
from progress.samples import landmark_geometry, render_skin, skin_region
from progress.skin import skin_mask

SAMPLES = Path(__file__).resolve().parents[1] / "sample_images"
# Measured: IoU 0.987 on the baseline photo (the mask's extra 1.3 % of the true area
# are mostly the moles and the 1.6 × radius ring that the truth leaves out around them).
MIN_IOU = 0.97


def _lab_colour(lab) -> np.ndarray:
    return np.round(lab2rgb(np.asarray(lab, float)[None, None]) * 255).astype(np.uint8)[0, 0]


@pytest.fixture(scope="module")
def baseline():
    path = SAMPLES / "2026-03-02_session-01_baseline.jpg"
    if not path.is_file():
        pytest.skip("sample_images/ is not in this checkout")
    rgb = load_image(path).rgb
    return rgb, skin_mask(rgb)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_sample_photo_matches_the_true_skin_region(baseline):
    rgb, mask = baseline
    assert mask.shape == rgb.shape[:2] and mask.dtype == bool
    truth = skin_region(size=(rgb.shape[1], rgb.shape[0]))
    assert _iou(mask, truth) > MIN_IOU
    # Almost no true skin is lost.
    assert (truth & ~mask).sum() / truth.sum() < 0.005


def test_sample_photo_leaves_out_background_and_sticker(baseline):
    rgb, mask = baseline
    geo = landmark_geometry(size=(rgb.shape[1], rgb.shape[0]))
    x0, y0, x1, y1 = (int(v) for v in geo["sticker"])
    assert mask[y0:y1, x0:x1].mean() < 0.05
    # The background: outside the cheek ellipse, away from its soft edge.
    outside = ~skin_region(size=(rgb.shape[1], rgb.shape[0]))
    outside = cv2.erode(outside.astype(np.uint8), np.ones((21, 21), np.uint8)).astype(bool)
    outside[y0 - 20 : y1 + 20, x0 - 20 : x1 + 20] = False  # the sticker is counted above
    for m in geo["moles"]:  # and the moles below
        yy, xx = np.ogrid[: rgb.shape[0], : rgb.shape[1]]
        outside[(xx - m["x"]) ** 2 + (yy - m["y"]) ** 2 <= (2 * m["radius_px"]) ** 2] = False
    assert outside.sum() > 10_000
    assert mask[outside].mean() < 0.01


@pytest.mark.xfail(
    reason="skin_mask keeps moles whose L* is within 28 of the skin mode: the sample's "
    "moles are 25-30 L* darker than the cheek, so two of the four stay in the region",
    strict=True,
)
def test_sample_photo_leaves_out_the_moles(baseline):
    rgb, mask = baseline
    geo = landmark_geometry(size=(rgb.shape[1], rgb.shape[0]))
    yy, xx = np.ogrid[: rgb.shape[0], : rgb.shape[1]]
    for m in geo["moles"]:
        core = (xx - m["x"]) ** 2 + (yy - m["y"]) ** 2 <= (0.6 * m["radius_px"]) ** 2
        assert mask[core].mean() < 0.2


def test_noise_free_render_matches_the_true_skin_region():
    # A smaller render of the same scene (the true region scales with the size).
    size = (640, 480)
    rgb = np.round(render_skin(-1, size=size) * 255).astype(np.uint8)
    assert _iou(skin_mask(rgb), skin_region(size=size)) > MIN_IOU


# Skin albedo of the sample client (truth.json "skin_albedo_lab") and a lighter and a
# darker skin tone (ITA° about 50 and 0).
SKIN_TONES = [(62.5, 7.5, 17.0), (75.0, 6.0, 14.0), (45.0, 11.0, 20.0)]


@pytest.mark.parametrize("lab", SKIN_TONES)
def test_skin_coloured_disk_on_grey(lab):
    h, w = 300, 400
    img = np.full((h, w, 3), 128, np.uint8)
    yy, xx = np.ogrid[:h, :w]
    disk = (xx - 200) ** 2 + (yy - 150) ** 2 <= 90**2
    img[disk] = _lab_colour(lab)
    rng = np.random.default_rng(0)
    img = np.clip(img + rng.normal(0, 1.5, img.shape), 0, 255).astype(np.uint8)
    mask = skin_mask(img)
    assert _iou(mask, disk) > 0.97


def test_disk_in_a_large_photo_is_found_at_full_resolution():
    # Larger than the 512 px working size: the mask is scaled back to the photo's size.
    h, w = 1200, 1600
    img = np.full((h, w, 3), 128, np.uint8)
    yy, xx = np.ogrid[:h, :w]
    disk = (xx - 800) ** 2 + (yy - 600) ** 2 <= 400**2
    img[disk] = _lab_colour(SKIN_TONES[0])
    mask = skin_mask(img)
    assert mask.shape == (h, w)
    assert _iou(mask, disk) > 0.98


@pytest.mark.parametrize(
    "colour", [(30, 60, 200), (128, 128, 128), (20, 160, 40), (255, 255, 255), (0, 0, 0)]
)
def test_no_skin_gives_an_empty_mask(colour):
    img = np.empty((240, 320, 3), np.uint8)
    img[:] = colour
    mask = skin_mask(img)
    assert mask.shape == (240, 320)
    assert not mask.any()


def test_lips_are_left_out():
    """A patch much redder than the surrounding skin (a* + 25) is not skin."""
    skin_lab = np.array(SKIN_TONES[0])
    img = np.empty((300, 400, 3), np.uint8)
    img[:] = _lab_colour(skin_lab)
    img[120:180, 150:250] = _lab_colour(skin_lab + [-12, 25, 5])
    mask = skin_mask(img)
    assert mask[130:170, 160:240].mean() < 0.05
    assert mask[:100].mean() > 0.95


@pytest.mark.parametrize(
    "bad", [np.zeros((20, 20), np.uint8), np.zeros((20, 20, 3), np.float32), np.zeros((2, 3, 4))]
)
def test_bad_input_is_a_value_error(bad):
    with pytest.raises(ValueError):
        skin_mask(bad)


def test_erythema_after_needling_stays_in_the_mask(baseline):
    # After microneedling a* rises by 5-10 over the treated area: add +8 a* to a patch of
    # the baseline's true skin (L*, b* unchanged) and the patch must stay skin.
    rgb, _ = baseline
    truth = skin_region(size=(rgb.shape[1], rgb.shape[0]))
    patch = np.zeros(truth.shape, bool)
    patch[400:800, 500:1000] = True
    patch &= skin_region(size=(rgb.shape[1], rgb.shape[0]), erode_px=30)
    lab = rgb2lab(rgb[patch][None])[0]
    lab[:, 1] += 8.0
    red = rgb.copy()
    red[patch] = np.round(np.clip(lab2rgb(lab[None])[0], 0, 1) * 255).astype(np.uint8)
    mask = skin_mask(red)
    assert mask[patch].mean() > 0.98
    assert _iou(mask, truth) > MIN_IOU


# scikit-image's astronaut portrait, boxes (rows, cols) picked by eye on the 512 × 512
# photo: the face from the hairline to the chin, skin inside it, the lips and the wall.
FACE = np.s_[75:190, 170:290]
CHEEKS = [np.s_[115:135, 185:205], np.s_[115:135, 250:270]]
FOREHEAD = np.s_[82:95, 205:250]
LIPS = [np.s_[140:143, 207:238], np.s_[150:155, 212:236]]  # upper and lower lip
WALL = [np.s_[10:60, 70:150], np.s_[20:110, 300:380]]  # beige wall left and right of head
HAIR = np.s_[20:50, 190:260]  # the crown of the head


@pytest.fixture(scope="module")
def astronaut():
    return skin_mask(data.astronaut())


def test_portrait_mask_is_mostly_the_face(astronaut):
    mask = astronaut
    face = np.zeros_like(mask)
    face[FACE] = True
    assert mask.sum() > 5000
    assert (mask & face).sum() / mask.sum() >= 0.7


def test_portrait_keeps_cheeks_and_forehead(astronaut):
    mask = astronaut
    for box in [*CHEEKS, FOREHEAD]:
        assert mask[box].mean() >= 0.6


def test_portrait_leaves_out_lips_wall_and_hair(astronaut):
    mask = astronaut
    lips = np.concatenate([mask[box].ravel() for box in LIPS])
    assert lips.mean() < 0.3
    for box in WALL:
        assert mask[box].mean() < 0.01
    assert mask[HAIR].mean() < 0.1
