"""The default region of interest: skin pixels.

``skin_mask`` keeps skin and leaves out background, hair and brows, eyes, nostrils, lips
and specular highlights, with a two-stage colour model:

1. a fixed chrominance box in YCbCr (Chai & Ngan 1999: 133 ≤ Cr ≤ 173, 77 ≤ Cb ≤ 127,
   widened a little for redness after treatment) plus a minimum CIELAB chroma finds
   candidate skin (beige or grey walls, cards and paper have too little chroma);
2. the photo's own skin colour is the *dominant mode* of the candidates' (a*, b*) (the
   peak of their smoothed 2-D histogram, not their median, which a large wall or hair
   region would bias), and only pixels close to it in a region shaped by skin physiology
   are kept: the robust spread around the mode in every direction, stretched along +a*
   (haemoglobin: erythema after treatment) and along the melanin direction (b* up, a*
   slightly up: pigment spots). Lips (redder *and* less yellow: a lower hue angle), blonde
   hair (yellower: a higher hue angle, lower a*), dark hair, eyes and highlights fall
   outside.

It runs on a copy reduced to ``WORK_LONG_SIDE`` pixels (area averaging) and the result is
scaled back.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter

from progress import colour

WORK_LONG_SIDE = 512
CR_RANGE = (133, 180)
CB_RANGE = (77, 130)
MIN_CHROMA = 8.0  # C* of a candidate; skin has C* ≳ 12, walls, cards and paper less
CORE_RADIUS = 5.0  # (a*, b*) distance from the histogram peak of the "core" pixels
SPREAD_K = 3.0  # tolerance in robust standard deviations around the mode
MIN_SPREAD = 1.5  # floor of the robust spread of a* and b* (noise-free renders)
MAX_REDDER_A = 12.0  # erythema: a* may rise this much above the mode at constant b*
MAX_BROWNER_B = 6.0  # pigment: b* may rise this much along the melanin direction
MELANIN_SLOPE = 0.25  # Δa*/Δb* of pigment (melanin raises b*, a* a little)
MAX_REDDER_HUE = 25.0  # degrees below the mode's hue angle: lips
MAX_YELLOWER_HUE = 15.0  # degrees above the mode's hue angle: blonde hair
MAX_DARKER_L = 28.0  # L* below the mode's L* by more than this: hair, brows, eyes
MIN_COMPONENT_SHARE = 0.01


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Find the skin in a photo.

    Parameters
    ----------
    rgb : ndarray
        H×W×3 uint8 sRGB photo.

    Returns
    -------
    ndarray
        H×W bool, True on skin.

    Raises
    ------
    ValueError
        If ``rgb`` is not an H×W×3 uint8 array.

    Notes
    -----
    Stage 1 (candidates): ``133 ≤ Cr ≤ 180`` and ``77 ≤ Cb ≤ 130`` (ITU-R BT.601 YCbCr),
    not clipped, and chroma ``C* = √(a*² + b*²) ≥ 8``.

    Stage 2 (the photo's skin colour): the peak of the candidates' (a*, b*) histogram
    (1-unit bins, Gaussian-smoothed with σ = 1.5 bins); the candidates within 5 units of
    it are the core, whose medians are (L₀, a₀, b₀), hue angle ``h₀ = atan2(b₀, a₀)``,
    and whose robust spreads ``s = 1.4826 · MAD`` are ``s_a``, ``s_b`` (floored at 1.5)
    and ``s_h``. With ``Δa = a* − a₀``, ``Δb = b* − b₀`` a pixel is kept if

    - ``d < 3``, where ``d`` is the distance, in units of (``s_a``, ``s_b``), from
      (Δa, Δb) to the nearer of two segments starting at the mode: the erythema segment
      ``(r, 0)``, ``0 ≤ r ≤ 12`` (a* rises, b* stays: haemoglobin) and the pigment
      segment ``(0.25 t, t)``, ``0 ≤ t ≤ 6`` (melanin raises b* and a little a*);
    - ``h₀ − max(3 s_h, 25°) ≤ h ≤ h₀ + max(3 s_h, 15°)`` with ``h = atan2(b*, a*)``:
      lips are redder *and* less yellow than the face (lower hue), blonde hair yellower;
    - ``L* > L₀ − 28`` (hair, brows, eyes, nostrils are darker).

    Inflamed skin (+8 a*) keeps its b*, stays on the erythema segment and so in the
    mask; a patch +25 a* redder (lips) is outside. The mask is then opened and closed
    (about 1 % of the long side) and components smaller than 1 % of the photo are
    dropped. Holes (eyes, nostrils, moles) are *not* filled.

    It is a colour model, not a face parser: skin-coloured surfaces (wood, a cat's fur,
    a tan wall with enough chroma) can pass, and it is meant as the default region, which
    the user can replace by a drawn box.

    References
    ----------
    Chai & Ngan, Face segmentation using skin-color map in videophone applications,
    IEEE Trans CSVT 1999;9:551, doi:10.1109/76.767122.
    Takiwaki, Measurement of skin color: practical application and theoretical
    considerations, J Med Invest 1998;44:121 (erythema raises a*, melanin raises b*).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(
            f"skin_mask expects an H×W×3 uint8 sRGB image, got {rgb.shape} {rgb.dtype}."
        )
    h, w = rgb.shape[:2]
    factor = min(1.0, WORK_LONG_SIDE / max(h, w))
    size = (max(round(w * factor), 1), max(round(h * factor), 1))
    small, block = _shrink(rgb, size) if factor < 1 else (rgb, 1)
    ycc = cv2.cvtColor(small, cv2.COLOR_RGB2YCrCb)
    cr, cb = ycc[..., 1], ycc[..., 2]
    clipped = (small.max(axis=2) >= 250) | (small.max(axis=2) <= 12)
    lab = colour.srgb_to_lab(small)
    lum, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    cand = (
        (cr >= CR_RANGE[0]) & (cr <= CR_RANGE[1]) & (cb >= CB_RANGE[0]) & (cb <= CB_RANGE[1])
    ) & ~clipped
    cand &= np.hypot(a, b) >= MIN_CHROMA
    if cand.sum() < 0.005 * cand.size:
        return np.zeros((h, w), bool)
    keep = cand & _near_skin_mode(lum, a, b, cand)
    k = max(3, int(round(0.01 * max(small.shape[:2]))) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    keep = cv2.morphologyEx(keep.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    keep = cv2.morphologyEx(keep, cv2.MORPH_CLOSE, kernel)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(keep, connectivity=8)
    min_area = MIN_COMPONENT_SHARE * keep.size
    good = np.zeros(n, bool)
    good[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    keep = good[labels]
    if factor < 1:
        # Back to the block-aligned part of the photo, then the few rows and columns
        # that the block shrink left out repeat the edge.
        hb, wb = h - h % block, w - w % block
        up = cv2.resize(keep.view(np.uint8), (wb, hb), interpolation=cv2.INTER_NEAREST)
        if (hb, wb) != (h, w):
            up = cv2.copyMakeBorder(up, 0, h - hb, 0, w - wb, cv2.BORDER_REPLICATE)
        keep = up.view(bool)
    return keep


def _shrink(rgb: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, int]:
    """Area-average a photo to ``size`` (w, h); also return the block size used first.

    A large photo is first averaged over whole k×k blocks (``k = ⌊W / w⌋``, OpenCV's
    fast integer path, ~4× faster than a fractional area shrink of 12 MP), dropping the
    last ``W mod k`` columns and ``H mod k`` rows, then area-averaged to ``size``.
    """
    h, w = rgb.shape[:2]
    k = min(w // size[0], h // size[1])
    if k < 2:
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), 1
    hb, wb = h - h % k, w - w % k
    blocks = cv2.resize(rgb[:hb, :wb], (wb // k, hb // k), interpolation=cv2.INTER_AREA)
    return cv2.resize(blocks, size, interpolation=cv2.INTER_AREA), k


def _robust_sd(x: np.ndarray) -> float:
    """1.4826 × the median absolute deviation (σ for Gaussian data)."""
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def _near_skin_mode(lum: np.ndarray, a: np.ndarray, b: np.ndarray, cand: np.ndarray):
    """Pixels close to the dominant (a*, b*) mode of the candidates (see skin_mask Notes)."""
    hist, _, _ = np.histogram2d(a[cand], b[cand], bins=100, range=[[-20, 80], [-20, 80]])
    i, j = np.unravel_index(np.argmax(gaussian_filter(hist, 1.5)), hist.shape)
    core = cand & (np.hypot(a - (i - 19.5), b - (j - 19.5)) < CORE_RADIUS)
    l0, a0, b0 = (float(np.median(v[core])) for v in (lum, a, b))
    hue = np.degrees(np.arctan2(b, a))
    h0 = float(np.degrees(np.arctan2(b0, a0)))
    sa = max(_robust_sd(a[core]), MIN_SPREAD)
    sb = max(_robust_sd(b[core]), MIN_SPREAD)
    sh = _robust_sd(hue[core])
    da, db = a - a0, b - b0
    # Distance to the erythema segment (r, 0), 0 ≤ r ≤ MAX_REDDER_A ...
    d_red = ((da - np.clip(da, 0, MAX_REDDER_A)) / sa) ** 2 + (db / sb) ** 2
    # ... and to the pigment segment (MELANIN_SLOPE t, t), 0 ≤ t ≤ MAX_BROWNER_B.
    t = (MELANIN_SLOPE * da / sa**2 + db / sb**2) / (MELANIN_SLOPE**2 / sa**2 + 1 / sb**2)
    t = np.clip(t, 0, MAX_BROWNER_B)
    d_mel = ((da - MELANIN_SLOPE * t) / sa) ** 2 + ((db - t) / sb) ** 2
    dh = (hue - h0 + 180.0) % 360.0 - 180.0
    return (
        (np.minimum(d_red, d_mel) < SPREAD_K**2)
        & (dh >= -max(SPREAD_K * sh, MAX_REDDER_HUE))
        & (dh <= max(SPREAD_K * sh, MAX_YELLOWER_HUE))
        & (lum > l0 - MAX_DARKER_L)
    )
