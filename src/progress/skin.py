"""The default region of interest: skin pixels.

``skin_mask`` keeps skin and leaves out background, hair and brows, eyes, nostrils, lips
and specular highlights, with a two-stage colour model:

1. a fixed chrominance box in YCbCr (Chai & Ngan 1999: 133 ≤ Cr ≤ 173, 77 ≤ Cb ≤ 127,
   widened a little for redness after treatment) finds candidate skin;
2. the photo's own skin colour (the median CIELAB of the candidates) is then used to keep
   only pixels close to it: lips are redder than the face's own skin, hair and eyes darker,
   highlights clipped.

It runs on a copy reduced to ``WORK_LONG_SIDE`` pixels (area averaging) and the result is
scaled back.
"""

from __future__ import annotations

import cv2
import numpy as np

from progress import colour

WORK_LONG_SIDE = 512
CR_RANGE = (133, 180)
CB_RANGE = (77, 130)
MAX_DARKER_L = 28.0  # L* below the skin median by more than this: hair, brows, eyes
MAX_REDDER_A = 14.0  # a* above the skin median by more than this: lips
MAX_COLOUR_DIST = 30.0  # Lab distance in a*, b* from the skin median
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
    Stage 1: ``133 ≤ Cr ≤ 180`` and ``77 ≤ Cb ≤ 130`` (ITU-R BT.601 YCbCr) and not
    clipped. Stage 2, relative to the candidates' median (L₀, a₀, b₀):
    ``L* > L₀ − 28``, ``a* < a₀ + 14`` and ``√((a*−a₀)² + (b*−b₀)²) < 30``. The mask is
    then opened and closed (about 1 % of the long side) and components smaller than 1 % of
    the photo are dropped. Holes (eyes, nostrils, moles) are *not* filled.

    It is a colour model, not a face parser: very dark or very red backgrounds can pass,
    and it is meant as the default region, which the user can replace by a drawn box.

    References
    ----------
    Chai & Ngan, Face segmentation using skin-color map in videophone applications,
    IEEE Trans CSVT 1999;9:551, doi:10.1109/76.767122.
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
    cand = (
        (cr >= CR_RANGE[0]) & (cr <= CR_RANGE[1]) & (cb >= CB_RANGE[0]) & (cb <= CB_RANGE[1])
    ) & ~clipped
    if cand.sum() < 0.005 * cand.size:
        return np.zeros((h, w), bool)
    lab = colour.srgb_to_lab(small)
    l0, a0, b0 = np.median(lab[cand], axis=0)
    chroma_dist = np.hypot(lab[..., 1] - a0, lab[..., 2] - b0)
    keep = (
        cand
        & (lab[..., 0] > l0 - MAX_DARKER_L)
        & (lab[..., 1] < a0 + MAX_REDDER_A)
        & (chroma_dist < MAX_COLOUR_DIST)
    )
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
