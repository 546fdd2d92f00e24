"""Change maps: where between two aligned photos did redness, lightness or texture change.

Both photos must be in the same frame (the second one warped onto the first with
:func:`progress.align`). Changes are smoothed over about 1 mm so that residual
misalignment and sensor noise do not dominate.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from progress import colour

Kind = Literal["redness", "lightness", "texture"]
KINDS: dict[str, str] = {
    "redness": "Δa* (red = redder, blue = less red)",
    "lightness": "ΔL* (red = darker, blue = lighter)",
    "texture": "Δ local roughness (red = rougher, blue = smoother)",
}


def _local_roughness(L: np.ndarray, sigma: float) -> np.ndarray:
    z = L - cv2.GaussianBlur(L, (0, 0), sigma)
    return np.sqrt(cv2.GaussianBlur(z * z, (0, 0), sigma))


def change_map(
    before: np.ndarray,
    after: np.ndarray,
    *,
    kind: Kind = "redness",
    valid: np.ndarray | None = None,
    smooth_px: float = 4.0,
) -> np.ndarray:
    """Per-pixel change from ``before`` to ``after``, in the metric's unit.

    Parameters
    ----------
    before, after : ndarray
        H×W×3 uint8 sRGB, aligned (same frame).
    kind : {"redness", "lightness", "texture"}
        ``redness``: Δa*; ``lightness``: −ΔL* (positive = darker); ``texture``: change of
        the local RMS of L* − G(L*) (positive = rougher).
    valid : ndarray, optional
        Bool mask of pixels covered by both; elsewhere the result is NaN.
    smooth_px : float
        Gaussian σ (pixels) applied to the difference.

    Returns
    -------
    ndarray
        H×W float32, positive where the skin got worse in that respect.
    """
    if before.shape != after.shape:
        raise ValueError(
            f"The photos must be aligned to one frame; shapes {before.shape} and {after.shape} differ."
        )
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}.")
    lab0, lab1 = colour.srgb_to_lab(before), colour.srgb_to_lab(after)
    if kind == "redness":
        diff = lab1[..., 1] - lab0[..., 1]
    elif kind == "lightness":
        diff = lab0[..., 0] - lab1[..., 0]
    else:
        diff = _local_roughness(lab1[..., 0], smooth_px) - _local_roughness(lab0[..., 0], smooth_px)
    diff = cv2.GaussianBlur(diff.astype(np.float32), (0, 0), smooth_px)
    if valid is not None:
        diff = np.where(valid, diff, np.nan).astype(np.float32)
    return diff


def overlay_rgba(diff: np.ndarray, *, scale: float | None = None) -> np.ndarray:
    """Colour a change map: red for positive (worse), blue for negative, alpha by size.

    ``scale`` is the change that gets full colour (default: the 98th percentile of |Δ|).
    """
    finite = np.isfinite(diff)
    mag = np.abs(np.where(finite, diff, 0))
    if scale is None:
        scale = float(np.percentile(mag[finite], 98)) if finite.any() else 1.0
    scale = max(scale, 1e-6)
    t = np.clip(np.where(finite, diff, 0) / scale, -1, 1)
    rgba = np.zeros(diff.shape + (4,), np.uint8)
    rgba[..., 0] = np.where(t > 0, 230, 30)
    rgba[..., 1] = 40
    rgba[..., 2] = np.where(t > 0, 30, 230)
    rgba[..., 3] = (np.abs(t) * 220).astype(np.uint8) * finite
    return rgba
