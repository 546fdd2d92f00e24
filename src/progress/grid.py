"""The analysis grid: one pixel scale for every metric, whatever the photo's resolution.

Every metric is computed after the photo (and its region of interest) has been resampled
with area averaging onto a grid of known scale:

* with a known scale (``scale_px_per_mm``), the grid has ``ANALYSIS_PX_PER_MM`` pixels per
  millimetre;
* without one, the grid's long side is ``ANALYSIS_LONG_SIDE`` pixels and the photo is
  *assumed* to span ``NOMINAL_FIELD_MM`` millimetres on its long side ("nominal" mm).

All metric lengths (GLCM distance, roughness Gaussian, ridge and blob scales) are given in
millimetres and converted with the grid's px/mm, so the same skin photographed at two
resolutions lands on the same grid and gives the same values.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from progress.errors import RegionError

ANALYSIS_PX_PER_MM = 10.0
ANALYSIS_LONG_SIDE = 1500
NOMINAL_FIELD_MM = ANALYSIS_LONG_SIDE / ANALYSIS_PX_PER_MM
MASK_INSIDE = 0.99  # share of a grid pixel's area that must lie inside the region
MIN_REGION_PX = 400


@dataclass(frozen=True)
class Grid:
    """A photo region resampled onto the analysis grid.

    Attributes
    ----------
    rgb : ndarray
        H×W×3 uint8 sRGB on the grid (cropped to the region's bounding box).
    mask : ndarray
        H×W bool, the region of interest on the grid.
    px_per_mm : float
        Grid scale.
    nominal : bool
        True when no scale was given and ``px_per_mm`` rests on the nominal field size.
    factor : float
        Grid pixels per source pixel.
    """

    rgb: np.ndarray
    mask: np.ndarray
    px_per_mm: float
    nominal: bool
    factor: float


def grid_factor(shape: tuple[int, ...], scale_px_per_mm: float | None) -> tuple[float, float, bool]:
    """Return ``(factor, px_per_mm, nominal)`` for a photo of the given shape."""
    if scale_px_per_mm is not None:
        if not np.isfinite(scale_px_per_mm) or scale_px_per_mm <= 0:
            raise ValueError(
                f"scale_px_per_mm must be a positive number of pixels per millimetre, "
                f"got {scale_px_per_mm!r}."
            )
        return ANALYSIS_PX_PER_MM / float(scale_px_per_mm), ANALYSIS_PX_PER_MM, False
    long_side = max(shape[0], shape[1])
    return ANALYSIS_LONG_SIDE / long_side, ANALYSIS_PX_PER_MM, True


def to_grid(
    rgb: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    scale_px_per_mm: float | None = None,
) -> Grid:
    """Crop a photo to its region's bounding box and resample it onto the analysis grid.

    Parameters
    ----------
    rgb : ndarray
        H×W×3 uint8 sRGB photo.
    mask : ndarray, optional
        H×W bool region of interest (None: the whole photo).
    scale_px_per_mm : float, optional
        The photo's scale, if known (e.g. from a ruler sticker).

    Returns
    -------
    Grid

    Raises
    ------
    ValueError
        If ``rgb`` is not H×W×3 uint8 or the mask's shape differs.
    RegionError
        If the region is empty or smaller than ``MIN_REGION_PX`` grid pixels.

    Notes
    -----
    Downsampling uses area averaging (``cv2.INTER_AREA``), upsampling bilinear
    interpolation. A grid pixel belongs to the region when at least ``MASK_INSIDE`` of its
    area lies inside the source mask, so that no pixel mixes skin and background.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(
            f"Expected an H×W×3 uint8 sRGB image, got shape {rgb.shape} and dtype {rgb.dtype}; "
            "load photos with progress.load_image."
        )
    factor, px_per_mm, nominal = grid_factor(rgb.shape, scale_px_per_mm)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != rgb.shape[:2]:
            raise ValueError(
                f"The mask's shape {mask.shape} differs from the photo's {rgb.shape[:2]}."
            )
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        if rows.size == 0:
            raise RegionError("The region of interest is empty: mark some skin to measure.")
        pad = int(np.ceil(2 / factor)) if factor < 1 else 2
        y0, y1 = max(rows[0] - pad, 0), min(rows[-1] + 1 + pad, rgb.shape[0])
        x0, x1 = max(cols[0] - pad, 0), min(cols[-1] + 1 + pad, rgb.shape[1])
        rgb = rgb[y0:y1, x0:x1]
        mask = mask[y0:y1, x0:x1]
    h, w = rgb.shape[:2]
    out_w, out_h = max(round(w * factor), 1), max(round(h * factor), 1)
    if (out_w, out_h) == (w, h):
        small = np.ascontiguousarray(rgb)
        small_mask = mask.copy() if mask is not None else np.ones((h, w), bool)
    else:
        interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        small = cv2.resize(rgb, (out_w, out_h), interpolation=interp)
        if mask is None:
            small_mask = np.ones((out_h, out_w), bool)
        else:
            share = cv2.resize(mask.astype(np.float32), (out_w, out_h), interpolation=interp)
            small_mask = share >= MASK_INSIDE
    if int(small_mask.sum()) < MIN_REGION_PX:
        raise RegionError(
            f"The region of interest is too small to measure ({int(small_mask.sum())} "
            f"analysis pixels, at least {MIN_REGION_PX} are needed): draw a larger region."
        )
    return Grid(small, small_mask, px_per_mm, nominal, factor)
