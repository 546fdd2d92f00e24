"""Masked grey-level co-occurrence matrices (GLCM) and Haralick features.

The matrices are counted with fixed grey-level binning (:func:`quantise`) and a region
of interest: a pixel pair is counted only when *both* pixels lie inside the mask, so
whatever lies outside the region (hair, background, another body part) takes part in no
pair at all. Features follow the definitions of the Image Biomarker Standardisation
Initiative (IBSI), which also names the two ways of combining the four directions:
"2D averaged" (:func:`glcm_features`) and "2D slice merged" (:func:`glcm_features_merged`).

Direction convention (rows grow downwards, ``dy`` is the row step, ``dx`` the column
step, ``d`` the distance in pixels)::

    0°   -> (dy  0, dx +d)   right
    45°  -> (dy -d, dx +d)   up-right   ("/" diagonal)
    90°  -> (dy -d, dx  0)   up
    135° -> (dy -d, dx -d)   up-left    ("\\" diagonal)

This is Haralick's geometric convention (angles counter-clockwise from the x axis, y
pointing up). ``skimage.feature.graycomatrix`` steps rows *downwards* for positive
angles, so its 45° matrix is our 135° matrix and vice versa (0° and 90° agree, for
symmetric matrices). Features averaged over the four angles are the same in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from progress.errors import RegionError

__all__ = [
    "ANGLES_DEG",
    "GlcmFeatures",
    "glcm",
    "glcm_features",
    "glcm_features_merged",
    "quantise",
]

ANGLES_DEG: tuple[int, ...] = (0, 45, 90, 135)

# Unit step (dy, dx) of each supported angle; multiplied by the distance.
_STEPS: dict[int, tuple[int, int]] = {0: (0, 1), 45: (-1, 1), 90: (-1, 0), 135: (-1, -1)}

# cv2.calcHist returns float32 counts: exact only up to 2**24 per bin.
_CALCHIST_MAX_PIXELS = 2**24


def quantise(
    values: np.ndarray, *, bin_width: float, low: float = 0.0, n_levels: int
) -> np.ndarray:
    """Map values to grey levels with a fixed bin width.

    Parameters
    ----------
    values : ndarray
        Real values (e.g. CIELAB L* in [0, 100]), any shape. NaN is not allowed.
    bin_width : float
        Width of one grey level in the units of ``values`` (e.g. 2.5 L*). It is fixed
        by the caller, never derived from the image, so that two sessions share one
        ruler.
    low : float, optional
        Lower edge of level 0.
    n_levels : int
        Number of grey levels (1 to 65536). Values beyond the last bin are clipped into
        it, values below ``low`` into level 0.

    Returns
    -------
    levels : ndarray of uint8 (``n_levels <= 256``) or uint16
        Grey levels in ``[0, n_levels - 1]``, same shape as ``values``.

    Raises
    ------
    ValueError
        If ``bin_width`` is not positive and finite, ``n_levels`` is out of range or
        ``values`` holds NaN.

    Notes
    -----
    ``level = clip(floor((v - low) / bin_width), 0, n_levels - 1)``. This is IBSI's
    "fixed bin size" discretisation, recommended when values carry a physical unit;
    a per-image min-max ("fixed bin number") rescaling would change the meaning of a
    grey level from one photo to the next.

    References
    ----------
    .. [1] Zwanenburg A. et al. (2020). The Image Biomarker Standardization
           Initiative. Radiology 295(2):328-338. :doi:`10.1148/radiol.2020191145`

    Examples
    --------
    >>> quantise(np.array([0.0, 2.4, 2.5, 99.0]), bin_width=2.5, n_levels=4)
    array([0, 0, 1, 3], dtype=uint8)
    """
    if not (np.isfinite(bin_width) and bin_width > 0):
        raise ValueError(f"bin_width must be a positive finite number, got {bin_width!r}.")
    if not np.isfinite(low):
        raise ValueError(f"low must be finite, got {low!r}.")
    if isinstance(n_levels, bool) or not isinstance(n_levels, int | np.integer):
        raise ValueError(f"n_levels must be an integer, got {n_levels!r}.")
    if not 1 <= n_levels <= 65536:
        raise ValueError(f"n_levels must be between 1 and 65536, got {n_levels}.")
    v = np.asarray(values)
    if v.dtype.kind not in "biuf":
        raise ValueError(f"values must be numeric, got dtype {v.dtype}.")
    work = np.asarray(v, dtype=np.float32 if v.dtype == np.float32 else np.float64)
    scaled = (work - work.dtype.type(low)) * work.dtype.type(1.0 / bin_width)
    np.floor(scaled, out=scaled)
    np.clip(scaled, 0, n_levels - 1, out=scaled)
    if np.isnan(scaled).any():
        raise ValueError("values contain NaN; fill or mask them out before quantising.")
    return scaled.astype(np.uint8 if n_levels <= 256 else np.uint16)


def _check_levels(levels: np.ndarray, n_levels: int) -> np.ndarray:
    lv = np.asarray(levels)
    if lv.ndim != 2:
        raise ValueError(f"levels must be a 2-D array, got shape {lv.shape}.")
    if lv.dtype.kind not in "iu":
        raise ValueError(
            f"levels must be an integer array (got dtype {lv.dtype}); "
            "convert values with quantise() first."
        )
    if isinstance(n_levels, bool) or not isinstance(n_levels, int | np.integer):
        raise ValueError(f"n_levels must be an integer, got {n_levels!r}.")
    if not 1 <= n_levels <= 65536:
        raise ValueError(f"n_levels must be between 1 and 65536, got {n_levels}.")
    if lv.size:
        lo, hi = int(lv.min()), int(lv.max())
        if lo < 0 or hi >= n_levels:
            raise ValueError(
                f"levels must lie in [0, {n_levels - 1}] for n_levels={n_levels}, "
                f"found [{lo}, {hi}]; raise n_levels or re-quantise."
            )
    return lv


def glcm(
    levels: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    n_levels: int,
    distance: int = 1,
    angles_deg: Sequence[int] = ANGLES_DEG,
    symmetric: bool = True,
    normed: bool = True,
) -> np.ndarray:
    """Grey-level co-occurrence matrices of a masked 2-D image.

    Parameters
    ----------
    levels : (H, W) ndarray of int
        Grey levels in ``[0, n_levels - 1]`` (see :func:`quantise`).
    mask : (H, W) ndarray of bool, optional
        Region of interest. A pair of pixels is counted only if both pixels are inside
        the mask. ``None`` means the whole image.
    n_levels : int
        Number of grey levels (size of each matrix).
    distance : int, optional
        Pixel distance between the two pixels of a pair (per axis step; the diagonal
        neighbour at distance 1 is ``(±1, ±1)``). Convert a length in millimetres with
        the analysis grid's px/mm before calling.
    angles_deg : sequence of {0, 45, 90, 135}, optional
        Directions, see the module docstring for the offsets.
    symmetric : bool, optional
        If True, count each pair in both orders (``P + P.T``).
    normed : bool, optional
        If True, divide each angle's matrix by its total so that it sums to 1. A matrix
        with no valid pair stays all zero.

    Returns
    -------
    P : (n_levels, n_levels, len(angles_deg)) ndarray
        ``P[i, j, k]`` counts pairs with the first pixel at level ``i`` and the pixel
        at offset ``k`` at level ``j``. float64 if ``normed`` else int64.

    Raises
    ------
    ValueError
        On a non-2-D or non-integer ``levels``, levels outside ``[0, n_levels)``, a
        mask of another shape, a distance below 1 or an unsupported angle.

    Notes
    -----
    Offsets (``dy`` rows, ``dx`` columns): 0° = (0, +d), 45° = (-d, +d),
    90° = (-d, 0), 135° = (-d, -d). Pixels outside the mask are replaced by a sentinel
    level ``n_levels`` and the sentinel row and column are dropped after counting, so
    they take part in no pair. Counting uses ``cv2.calcHist`` (up to 255 levels) or
    ``np.bincount``, never a Python loop.

    References
    ----------
    .. [1] Haralick R.M., Shanmugam K., Dinstein I. (1973). Textural features for
           image classification. IEEE Trans. Syst. Man Cybern. SMC-3(6):610-621.
           :doi:`10.1109/TSMC.1973.4309314`
    .. [2] Zwanenburg A. et al. (2016). Image biomarker standardisation initiative,
           reference manual, section "Grey level co-occurrence based features".
           arXiv:1612.07003

    Examples
    --------
    >>> img = np.array([[0, 0, 1], [0, 1, 1]], dtype=np.uint8)
    >>> glcm(img, n_levels=2, angles_deg=(0,), symmetric=False, normed=False)[..., 0]
    array([[1, 2],
           [0, 1]])
    """
    lv = _check_levels(levels, n_levels)
    if mask is not None:
        m = np.asarray(mask)
        if m.shape != lv.shape:
            raise ValueError(f"mask shape {m.shape} differs from levels shape {lv.shape}.")
        if m.dtype != np.bool_:
            raise ValueError(f"mask must be a boolean array, got dtype {m.dtype}.")
    else:
        m = None
    if isinstance(distance, bool) or not isinstance(distance, int | np.integer) or distance < 1:
        raise ValueError(f"distance must be an integer >= 1 (pixels), got {distance!r}.")
    angles = tuple(int(a) for a in angles_deg)
    if not angles or any(a not in _STEPS for a in angles):
        raise ValueError(f"angles_deg must be a non-empty subset of {ANGLES_DEG}, got {angles}.")

    n = int(n_levels)
    k = n + 1  # one extra sentinel level for pixels outside the mask
    h, w = lv.shape
    use_calchist = k <= 256 and lv.size <= _CALCHIST_MAX_PIXELS
    work_dtype = np.uint8 if use_calchist else np.int64
    if m is None:
        a = lv.astype(work_dtype, copy=False)
    else:
        a = np.where(m, lv, n).astype(work_dtype, copy=False)

    out = np.zeros((n, n, len(angles)), dtype=np.int64)
    for idx, ang in enumerate(angles):
        sy, sx = _STEPS[ang]
        dy, dx = sy * distance, sx * distance
        r0, r1 = max(0, -dy), h - max(0, dy)
        c0, c1 = max(0, -dx), w - max(0, dx)
        if r1 <= r0 or c1 <= c0:
            continue  # the image is too small for this offset: no pair
        first = a[r0:r1, c0:c1]
        second = a[r0 + dy : r1 + dy, c0 + dx : c1 + dx]
        if use_calchist:
            hist = cv2.calcHist(
                [np.ascontiguousarray(first), np.ascontiguousarray(second)],
                [0, 1],
                None,
                [k, k],
                [0, k, 0, k],
            )
            counts = np.rint(hist).astype(np.int64)
        else:
            codes = first * k + second
            counts = np.bincount(codes.ravel(), minlength=k * k).reshape(k, k)
        out[:, :, idx] = counts[:n, :n]

    if symmetric:
        out = out + out.transpose(1, 0, 2)
    if normed:
        totals = out.sum(axis=(0, 1), keepdims=True).astype(np.float64)
        totals[totals == 0] = 1.0
        return out / totals
    return out


@dataclass(frozen=True)
class GlcmFeatures:
    """Haralick / IBSI features of a GLCM (see :func:`glcm_features` for formulas).

    Attributes
    ----------
    contrast : float
        ``Σ (i-j)² p`` (IBSI contrast).
    dissimilarity : float
        ``Σ |i-j| p``.
    homogeneity : float
        ``Σ p / (1 + (i-j)²)``, the inverse difference moment (skimage's
        ``homogeneity``; MATLAB's homogeneity is a different formula).
    asm : float
        Angular second moment ``Σ p²`` (MATLAB calls it "energy").
    energy : float
        ``√ASM`` (skimage's ``energy``).
    correlation : float
        ``Σ (i-μi)(j-μj) p / (σi σj)``; 1 for a flat matrix (σ = 0).
    entropy : float
        Joint entropy ``-Σ p log2 p`` in bits (IBSI; skimage uses ln).
    joint_maximum : float
        ``max p``.
    """

    contrast: float
    dissimilarity: float
    homogeneity: float
    asm: float
    energy: float
    correlation: float
    entropy: float
    joint_maximum: float


_FIELDS = (
    "contrast",
    "dissimilarity",
    "homogeneity",
    "asm",
    "energy",
    "correlation",
    "entropy",
    "joint_maximum",
)


def _check_matrices(matrices: np.ndarray) -> np.ndarray:
    p = np.asarray(matrices)
    if p.ndim == 2:
        p = p[:, :, None]
    if p.ndim != 3 or p.shape[0] != p.shape[1] or p.shape[0] == 0:
        raise ValueError(
            "matrices must have shape (n_levels, n_levels) or (n_levels, n_levels, n_angles), "
            f"got {np.asarray(matrices).shape}."
        )
    if p.dtype.kind not in "biuf":
        raise ValueError(f"matrices must be numeric, got dtype {p.dtype}.")
    p = p.astype(np.float64, copy=False)
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("matrices must hold finite, non-negative counts or probabilities.")
    return p


def _features_per_matrix(p: np.ndarray) -> np.ndarray:
    """Features of each normalised matrix ``p[:, :, k]``; returns (8, n_matrices)."""
    n = p.shape[0]
    i = np.arange(n, dtype=np.float64)[:, None, None]
    j = np.arange(n, dtype=np.float64)[None, :, None]
    diff2 = (i - j) ** 2
    contrast = (diff2 * p).sum(axis=(0, 1))
    dissimilarity = (np.sqrt(diff2) * p).sum(axis=(0, 1))
    homogeneity = (p / (1.0 + diff2)).sum(axis=(0, 1))
    asm = (p * p).sum(axis=(0, 1))
    energy = np.sqrt(asm)
    pi = p.sum(axis=1)  # marginal of the first level, (n, k)
    pj = p.sum(axis=0)
    iv = np.arange(n, dtype=np.float64)[:, None]
    mu_i = (iv * pi).sum(axis=0)
    mu_j = (iv * pj).sum(axis=0)
    var_i = (((iv - mu_i) ** 2) * pi).sum(axis=0)
    var_j = (((iv - mu_j) ** 2) * pj).sum(axis=0)
    cov = ((i - mu_i) * (j - mu_j) * p).sum(axis=(0, 1))
    denom = np.sqrt(var_i * var_j)
    flat = denom <= 1e-12
    correlation = np.where(flat, 1.0, cov / np.where(flat, 1.0, denom))
    logp = np.log2(p, out=np.zeros_like(p), where=p > 0)
    entropy = -(p * logp).sum(axis=(0, 1))
    joint_maximum = p.max(axis=(0, 1))
    return np.stack(
        [contrast, dissimilarity, homogeneity, asm, energy, correlation, entropy, joint_maximum]
    )


def _normalise_nonempty(p: np.ndarray) -> np.ndarray:
    totals = p.sum(axis=(0, 1))
    keep = totals > 0
    if not keep.any():
        raise RegionError(
            "every co-occurrence matrix is empty (no pixel pair inside the mask); "
            "use a larger region or a smaller distance."
        )
    return p[:, :, keep] / totals[keep]


def glcm_features(matrices: np.ndarray) -> GlcmFeatures:
    """Haralick features per direction, averaged over directions (IBSI "2D averaged").

    Parameters
    ----------
    matrices : ndarray, shape (n, n) or (n, n, n_matrices)
        Co-occurrence counts or probabilities, e.g. the output of :func:`glcm`. Each
        matrix is normalised to sum 1 before its features are computed. Matrices with
        no pair at all (all zero, e.g. a direction that no pair of the mask follows)
        are left out of the average.

    Returns
    -------
    GlcmFeatures
        Each feature is the mean of the per-matrix values (so ``energy`` is the mean of
        ``√ASM`` per direction, which is not exactly ``√`` of the mean ASM).

    Raises
    ------
    ValueError
        If the shape is wrong or values are negative or non-finite.
    RegionError
        If every matrix is empty (the region holds no pixel pair).

    Notes
    -----
    With ``p(i, j)`` the normalised matrix, ``μi = Σ i p``, ``σi² = Σ (i-μi)² p``
    (``μj``, ``σj`` likewise over ``j``):

    - contrast ``Σ (i-j)² p``; dissimilarity ``Σ |i-j| p``
    - homogeneity (inverse difference moment) ``Σ p / (1 + (i-j)²)``
    - ASM ``Σ p²``; energy ``√ASM``
    - correlation ``Σ (i-μi)(j-μj) p / (σi σj)``; a matrix with ``σi σj = 0`` (a flat
      region: one grey level) has correlation **1** by convention (as in pyradiomics)
    - joint entropy ``-Σ p log2 p`` (bits); joint maximum ``max p``

    Grey levels are indexed from 0; every feature above is unchanged by a shift of the
    level index, so levels 1..N (IBSI) give the same values.

    References
    ----------
    .. [1] Haralick R.M., Shanmugam K., Dinstein I. (1973). Textural features for
           image classification. IEEE Trans. Syst. Man Cybern. SMC-3(6):610-621.
           :doi:`10.1109/TSMC.1973.4309314`
    .. [2] Zwanenburg A. et al. (2020). The Image Biomarker Standardization
           Initiative. Radiology 295(2):328-338. :doi:`10.1148/radiol.2020191145`
    """
    p = _normalise_nonempty(_check_matrices(matrices))
    values = _features_per_matrix(p).mean(axis=1)
    return GlcmFeatures(**{f: float(v) for f, v in zip(_FIELDS, values, strict=True)})


def glcm_features_merged(matrices: np.ndarray) -> GlcmFeatures:
    """Haralick features of the sum of the directional matrices (IBSI "2D slice merged").

    Parameters
    ----------
    matrices : ndarray, shape (n, n) or (n, n, n_angles)
        Co-occurrence matrices of one image. Pass **counts** (``glcm(..., normed=False)``)
        to follow IBSI exactly: the counts of all directions are summed, then
        normalised. Normalised matrices are summed as given, which weights every
        direction equally instead of by its number of pairs.

    Returns
    -------
    GlcmFeatures
        Features of the single merged matrix (formulas in :func:`glcm_features`).

    Raises
    ------
    ValueError
        If the shape is wrong or values are negative or non-finite.
    RegionError
        If the merged matrix is empty (the region holds no pixel pair).

    References
    ----------
    .. [1] Zwanenburg A. et al. (2016). Image biomarker standardisation initiative,
           reference manual, "Aggregating features". arXiv:1612.07003
    """
    p = _check_matrices(matrices).sum(axis=2, keepdims=True)
    return glcm_features(p)
