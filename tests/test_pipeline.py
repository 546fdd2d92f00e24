"""Tests of the one-photo pipeline (progress.pipeline: ``analyse``, ``Reference``).

Answers come from the sample series' truth (transforms, capture gains, grey-patch
colour) and from synthetic scenes with hand-computed colours.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from skimage.color import rgb2lab

from progress.loader import load_image
from progress.metrics import METRICS
from progress.pipeline import Analysis, Reference, analyse, roi_mask
from progress.quality import QualityReport
from progress.registration import align_from_points

SAMPLES = Path(__file__).resolve().parents[1] / "sample_images"


@pytest.fixture(scope="module")
def truth() -> dict:
    path = SAMPLES / "truth.json"
    if not path.is_file():
        pytest.skip("sample_images/truth.json is not in this checkout")
    return json.loads(path.read_text("utf-8"))


def _card_box(truth: dict) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = truth["landmarks"]["grey_patch"]
    return int(x0) + 12, int(y0) + 12, int(x1) - 12, int(y1) - 12


@pytest.fixture(scope="module")
def reference(truth) -> Reference:
    rgb = load_image(SAMPLES / truth["photos"][0]["file"]).rgb
    return Reference.from_photo(rgb, card_box=_card_box(truth), scale_px_per_mm=truth["px_per_mm"])


@pytest.fixture(scope="module")
def aligned(truth, reference):
    """The day-27 pre-treatment photo analysed against the baseline (one alignment)."""
    entry = truth["photos"][1]
    assert entry["kind"] == "pre-treatment"
    return entry, analyse(load_image(SAMPLES / entry["file"]).rgb, reference=reference)


def _corners(w: int, h: int) -> np.ndarray:
    return np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], float).T


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    q = np.asarray(m, float) @ pts
    return q[:2] / q[2]


def test_aligned_analysis_recovers_the_true_transform(truth, aligned):
    entry, result = aligned
    assert isinstance(result, Analysis)
    w, h = truth["image_size"]
    corners = _corners(w, h)
    err = np.hypot(
        *(_apply(result.alignment.matrix, corners) - _apply(entry["matrix_to_baseline"], corners))
    )
    assert err.max() < 1.0
    assert result.alignment.confidence >= 0.5
    assert result.roi == "reference region"


def test_grey_card_gains_undo_the_known_capture(aligned):
    # The photo was captured with linear gains exposure × wb; the baseline with none, so
    # the white balance on the card must apply about 1 / (exposure × wb) per channel.
    # (Measured within 1.5 %: the JPEG's chroma rounding on the flat card.)
    entry, result = aligned
    cap = entry["capture"]
    expected = 1 / (cap["exposure"] * np.array(cap["wb_gains"]))
    assert result.colour["method"] == "grey-card"
    assert np.allclose(result.colour["gains"], expected, atol=0.025)


def test_every_metric_is_measured(aligned):
    _, result = aligned
    assert list(result.metrics) == list(METRICS)
    assert all(math.isfinite(v) for v in result.metrics.values())
    assert isinstance(result.quality, QualityReport)
    assert {c.name for c in result.quality.checks} >= {"blur", "brightness", "colour_cast"}


def test_to_dict_is_json(aligned):
    entry, result = aligned
    d = json.loads(json.dumps(result.to_dict()))
    assert set(d) >= {"metrics", "quality", "alignment", "roi", "colour", "computed_at"}
    assert np.allclose(d["alignment"]["matrix"], result.alignment.matrix)
    assert d["metrics"] == pytest.approx(result.metrics)


def test_reference_from_photo_with_card(truth, reference):
    x0, y0, x1, y1 = _card_box(truth)
    assert not reference.roi[y0:y1, x0:x1].any()
    # The grey patch is L* 50 (truth.json "grey_patch_lab"); scikit-image agrees.
    patch = reference.rgb[y0:y1, x0:x1]
    assert reference.card_lightness == pytest.approx(rgb2lab(patch)[..., 0].mean(), abs=0.05)
    assert reference.card_lightness == pytest.approx(
        truth["landmarks"]["grey_patch_lab"][0], abs=0.5
    )
    assert reference.scale_px_per_mm == truth["px_per_mm"]
    assert reference.roi.mean() > 0.5  # the skin covers most of the frame


def test_reference_from_photo_with_a_box():
    img = np.full((100, 200, 3), 150, np.uint8)
    ref = Reference.from_photo(img, box=(20, 10, 120, 60))
    expected = np.zeros((100, 200), bool)
    expected[10:60, 20:120] = True
    assert np.array_equal(ref.roi, expected)
    assert ref.card_box is None and ref.card_lightness is None


def test_box_is_clipped_and_ordered():
    img = np.zeros((50, 80, 3), np.uint8)
    m = roi_mask(img, box=(90, 60, 40, -5))  # reversed corners, partly outside
    assert m.sum() == 40 * 50
    assert m[:, 40:].all() and not m[:, :40].any()


def test_card_outside_the_photo_is_a_colour_error():
    from progress.errors import ColourError

    with pytest.raises(ColourError):
        Reference.from_photo(np.full((50, 50, 3), 128, np.uint8), card_box=(60, 60, 90, 90))


# --------------------------------------------------------------- synthetic scenes

SKIN = (200, 150, 120)
CARD = (119, 119, 119)  # L* 50 grey
CARD_BOX = (20, 20, 80, 80)
SKIN_BOX = (120, 20, 380, 280)


def _scene(gains=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Flat skin with a grey card, seen through linear white-balance gains."""
    img = np.empty((300, 400, 3), np.uint8)
    img[:] = SKIN
    img[20:80, 20:80] = CARD
    c = img / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4) * np.asarray(gains)
    lin = np.clip(lin, 0, 1)
    enc = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.round(enc * 255).astype(np.uint8)


def test_photo_as_its_own_reference_measures_a_box():
    img = _scene()
    result = analyse(img, box=SKIN_BOX)
    assert result.alignment is None
    assert result.roi == "box"
    assert result.colour == {"method": "none"}
    lab = rgb2lab(np.array([[SKIN]], np.uint8))[0, 0]
    assert result.metrics["lab_a"] == pytest.approx(lab[1], abs=0.05)
    assert result.metrics["sigma_l"] == pytest.approx(0.0, abs=1e-3)


def test_grey_card_removes_a_white_balance_change():
    """Same skin under a warmer light: with the card, tone matches the reference's."""
    ref_img = _scene()
    warm = _scene((1.12, 1.0, 0.85))
    ref = Reference.from_photo(ref_img, box=SKIN_BOX, card_box=CARD_BOX)
    pts = [[10, 10], [390, 10], [200, 290]]
    identity = align_from_points(pts, pts, ref_img, warm)
    skin_lab = rgb2lab(np.array([[SKIN]], np.uint8))[0, 0]
    warm_lab = rgb2lab(warm[150:151, 200:201])[0, 0]
    assert abs(warm_lab[1] - skin_lab[1]) > 3  # the light really changed a*

    with_card = analyse(warm, reference=ref, alignment=identity)
    assert with_card.colour["method"] == "grey-card"
    assert np.allclose(with_card.colour["gains"], [1 / 1.12, 1.0, 1 / 0.85], rtol=0.01)
    for i, name in enumerate(("lab_l", "lab_a", "lab_b")):
        assert with_card.metrics[name] == pytest.approx(skin_lab[i], abs=0.4), name

    no_card = analyse(
        warm, reference=Reference.from_photo(ref_img, box=SKIN_BOX), alignment=identity
    )
    assert no_card.colour == {"method": "none"}
    assert no_card.metrics["lab_a"] == pytest.approx(warm_lab[1], abs=0.05)


def test_failed_alignment_still_measures_and_says_why(reference):
    rng = np.random.default_rng(0)
    other = np.clip(rng.normal((40, 90, 160), 20, (600, 800, 3)), 0, 255).astype(np.uint8)
    result = analyse(other, reference=reference)
    assert result.alignment.confidence < 0.5
    assert result.alignment.reason.strip().endswith(".")
    assert list(result.metrics) == list(METRICS)
