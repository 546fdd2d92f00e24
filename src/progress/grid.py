"""The analysis grid: one pixel scale for every metric, whatever the photo's resolution.

Every metric is computed after the photo (and its region of interest) has been resampled,
with an anti-alias prefilter that gives the same bandwidth at every ratio, onto a grid of
known scale:

* with a known scale (``scale_px_per_mm``), the grid has ``ANALYSIS_PX_PER_MM`` pixels per
  millimetre, or the photo's own scale below that (a photo is never enlarged);
* without one, the grid's long side is ``ANALYSIS_LONG_SIDE`` pixels and the photo is
  *assumed* to span ``NOMINAL_FIELD_MM`` millimetres on its long side ("nominal" mm).

All metric lengths (GLCM distance, roughness Gaussian, ridge and blob scales) are given in
millimetres and converted with the grid's px/mm, so the same skin photographed at two
resolutions lands on the same grid and gives the same values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from progress.errors import RegionError

ANALYSIS_PX_PER_MM = 10.0
ANALYSIS_LONG_SIDE = 1500
NOMINAL_FIELD_MM = ANALYSIS_LONG_SIDE / ANALYSIS_PX_PER_MM
MASK_INSIDE = 0.99  # share of a grid pixel's area that must lie inside the region
MIN_REGION_PX = 400
#: Total blur of the analysis grid (σ of a Gaussian, in grid pixels) for every photo at
#: or above the grid's scale. Every photo gets the same effective bandwidth on the grid,
#: whatever the ratio of its scale to the grid's (bench/bench_resolution.py).
GRID_BLUR = 0.8
#: Blur assumed to be already in a photo (σ in its own pixels: pixel footprint,
#: demosaicing, optics); the anti-alias prefilter adds what is missing.
SOURCE_BLUR = 0.3


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
    """Return ``(factor, px_per_mm, nominal)`` for a photo of the given shape.

    With a known scale the grid has ``ANALYSIS_PX_PER_MM`` px/mm, or the photo's own
    scale when that is lower: a photo is never enlarged (``factor <= 1``).
    """
    if scale_px_per_mm is not None:
        if not np.isfinite(scale_px_per_mm) or scale_px_per_mm <= 0:
            raise ValueError(
                f"scale_px_per_mm must be a positive number of pixels per millimetre, "
                f"got {scale_px_per_mm!r}."
            )
        px_per_mm = min(ANALYSIS_PX_PER_MM, float(scale_px_per_mm))
        return px_per_mm / float(scale_px_per_mm), px_per_mm, False
    long_side = max(shape[0], shape[1])
    return ANALYSIS_LONG_SIDE / long_side, ANALYSIS_PX_PER_MM, True


def prefilter_sigma(factor: float, *, source_blur: float | None = None) -> float:
    """Gaussian anti-alias blur, in source pixels, for a resampling by ``factor``.

    ``√max(0, (GRID_BLUR / factor)² − SOURCE_BLUR²)``: with the blur a photo already
    has (``SOURCE_BLUR`` of its own pixels), the grid's total blur is ``GRID_BLUR``
    grid pixels whatever the factor (see :func:`to_grid`).
    """
    native = SOURCE_BLUR if source_blur is None else source_blur
    return math.sqrt(max(0.0, (GRID_BLUR / factor) ** 2 - native * native))


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
    The photo is blurred by a Gaussian anti-alias prefilter of
    ``σ = √max(0, (GRID_BLUR / f)² − SOURCE_BLUR²)`` source pixels (``f`` grid pixels per
    source pixel, :func:`prefilter_sigma`) and then interpolated at the grid's pixel
    centres (Lanczos for the luma, bicubic for the chroma, as :func:`warp_to_grid`), so
    the grid's total blur is about ``GRID_BLUR`` grid pixels for every ``f <= 1``: the
    same skin at 10, 14 or 20 px/mm has the same bandwidth on the grid. (Area
    averaging, the former method, blurs and aliases differently at non-integer
    factors: GLCM contrast changed by up to 20 % and pore density by up to 30 %
    between a photo and a 0.7× copy.) Shrinks by 4× or more first average
    ``k × k`` blocks (``k = ⌊1 / 2f⌋``), which the prefilter takes into account. With
    a mask, the blur is a normalised convolution over the mask, so pixels outside it
    never reach the grid. A grid pixel belongs to the region when at least
    ``MASK_INSIDE`` of its area lies inside the source mask. A photo is never
    enlarged when its scale is known (below ``ANALYSIS_PX_PER_MM`` the grid has the
    photo's own scale).
    """
    rgb = _check_rgb(rgb)
    if mask is not None:
        mask = _check_mask(mask, rgb.shape[:2])
    region = _region(rgb.shape[:2], mask, scale_px_per_mm)
    weights = None if mask is None or mask.all() else mask
    out = _resample(rgb, region.grid_to_frame(), region.shape, region.factor, True, weights)
    return Grid(out, region.mask, region.px_per_mm, region.nominal, region.factor)


@dataclass(frozen=True)
class GridRegion:
    """Where a region of a frame lands on the analysis grid.

    Made by :func:`grid_region` once per reference region, then used by
    :func:`warp_to_grid` for every photo aligned to that reference.

    Attributes
    ----------
    box : tuple of int
        ``(x0, y0, x1, y1)``: the crop of the frame (the region's bounding box plus a
        margin) that the grid covers, in frame pixels.
    mask : ndarray
        The region on the grid (H×W bool), as :func:`to_grid` makes it.
    px_per_mm, nominal, factor
        As in :class:`Grid`.
    frame_shape : tuple of int
        ``(height, width)`` of the frame.
    """

    box: tuple[int, int, int, int]
    mask: np.ndarray
    px_per_mm: float
    nominal: bool
    factor: float
    frame_shape: tuple[int, int]

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the grid."""
        return self.mask.shape[0], self.mask.shape[1]

    def grid_to_frame(self) -> np.ndarray:
        """3×3 matrix from grid pixel coordinates to frame pixel coordinates.

        Pixel centres at integers; ``cv2.resize`` maps output pixel ``u`` to the input
        position ``(u + 0.5)·w_in/w_out − 0.5`` (area averaging and bilinear alike).
        """
        x0, y0, x1, y1 = self.box
        gh, gw = self.shape
        sx, sy = (x1 - x0) / gw, (y1 - y0) / gh
        return np.array(
            [[sx, 0.0, x0 + 0.5 * sx - 0.5], [0.0, sy, y0 + 0.5 * sy - 0.5], [0.0, 0.0, 1.0]]
        )


def grid_region(mask: np.ndarray, *, scale_px_per_mm: float | None = None) -> GridRegion:
    """Put a region of a frame (e.g. the reference photo's) on the analysis grid.

    Parameters
    ----------
    mask : ndarray
        H×W bool region of interest in the frame.
    scale_px_per_mm : float, optional
        The frame's scale, if known.

    Returns
    -------
    GridRegion
        The crop box, the grid mask and the scale: exactly what :func:`to_grid` uses for a
        photo of the frame's size with this mask.

    Raises
    ------
    ValueError
        If ``mask`` is not 2-D.
    RegionError
        If the region is empty or smaller than ``MIN_REGION_PX`` grid pixels.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"The mask must be an H×W boolean array, got shape {m.shape}.")
    return _region(m.shape, m.astype(bool, copy=False), scale_px_per_mm)


#: Interpolation of :func:`warp_to_grid` for the luma (which carries the texture):
#: Lanczos (8×8 taps) keeps fine texture. Bilinear interpolation at the grid's scale
#: lowers GLCM contrast by 13–21 % and Ra by 3–6 % for a sub-pixel shift; OpenCV's
#: bicubic (a = −0.75) raises them by about 2–4 % and fine-line density by up to 0.3 of
#: its repeatability limit; Lanczos stays within about ±1.5 % (bench/README.md, "Warp
#: interpolation", and bench/bench_reference.py).
WARP_INTERPOLATION = cv2.INTER_LANCZOS4
#: Interpolation of the two chroma channels (B − Y', R − Y'): bicubic, a quarter of
#: Lanczos' taps. Within 0.005 of the repeatability limits of an all-Lanczos warp on
#: every metric (shifted and rotated 12 MP photos); bilinear chroma would lower the
#: ΔE2000 spread by up to 0.24 of its limit.
WARP_CHROMA_INTERPOLATION = cv2.INTER_CUBIC
_TAPS = 4  # Lanczos4 reads floor(x) − 3 … floor(x) + 4
# Gamma-encoded RGB → (Y', B − Y', R − Y') with the BT.601 luma weights, and back.
_TO_LUMA_CHROMA = np.array(
    [[0.299, 0.587, 0.114], [-0.299, -0.587, 0.886], [0.701, -0.587, -0.114]], np.float64
)
_FROM_LUMA_CHROMA = np.linalg.inv(_TO_LUMA_CHROMA).astype(np.float32)
_TO_LUMA_CHROMA = _TO_LUMA_CHROMA.astype(np.float32)


def warp_to_grid(moving: np.ndarray, matrix: np.ndarray, region: GridRegion) -> Grid:
    """Resample a photo straight onto the analysis grid of another frame's region.

    Gives what ``to_grid(warp(moving, matrix, frame), region_mask & covered)`` would
    give, without making the full-resolution warped photo: the moving photo is cropped to
    the part the region needs, blurred by the same anti-alias prefilter as
    :func:`to_grid` (for the local scale of the warp), and warped once onto the grid.

    Parameters
    ----------
    moving : ndarray
        H'×W'×3 uint8 sRGB photo.
    matrix : array_like
        3×3 (or 2×3) map from moving pixel coordinates to frame pixel coordinates (e.g.
        :attr:`progress.registration.Alignment.matrix`).
    region : GridRegion
        The frame's region on the grid (:func:`grid_region`).

    Returns
    -------
    Grid
        The warped photo on the grid; its mask is the region's grid mask restricted to
        the grid pixels whose centre falls inside the moving photo (taps beyond its
        edge mirror it).

    Raises
    ------
    ValueError
        If ``moving`` is not H×W×3 uint8 or the matrix is not an invertible 2×3 / 3×3
        matrix.
    RegionError
        If fewer than ``MIN_REGION_PX`` grid pixels of the region are covered.

    Notes
    -----
    With ``A`` the grid → frame map of the region, ``M`` the moving → frame matrix and
    ``r`` the grid pixels per moving pixel at the grid's centre, the grid pixel ``p``
    takes the value of the prefiltered photo (:func:`prefilter_sigma` of ``r``) at
    ``M⁻¹ A p``, interpolated with :data:`WARP_INTERPOLATION` (Lanczos) in
    the luma ``Y'`` and :data:`WARP_CHROMA_INTERPOLATION` (bicubic) in the colour
    differences ``B − Y'``, ``R − Y'`` (half the cost of a Lanczos warp of R, G and B,
    with the same texture values). An identity alignment therefore reproduces
    :func:`to_grid` up to the rounding of the output size.
    """
    moving = _check_rgb(moving)
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape == (2, 3):
        m = np.vstack([m, [0.0, 0.0, 1.0]])
    if m.shape != (3, 3) or not np.all(np.isfinite(m)) or abs(np.linalg.det(m)) < 1e-12:
        raise ValueError(
            f"matrix must be a finite, invertible 2×3 or 3×3 matrix, got {np.asarray(matrix)!r}."
        )
    affine = bool(np.allclose(m[2], [0.0, 0.0, 1.0]))
    to_moving = np.linalg.inv(m) @ region.grid_to_frame()  # grid → moving pixels
    gh, gw = region.shape
    h, w = moving.shape[:2]
    # Grid pixels per moving pixel (local scale at the grid's centre for a homography).
    jac = _jacobian(to_moving, ((gw - 1) / 2, (gh - 1) / 2))
    r = 1.0 / math.sqrt(abs(np.linalg.det(jac)))
    out = _resample(moving, to_moving, (gh, gw), r, affine, None)
    valid = _inside(to_moving, (gh, gw), (h, w))
    grid_mask = region.mask & valid
    n = int(np.count_nonzero(grid_mask))
    if n < MIN_REGION_PX:
        raise RegionError(
            f"The photo covers too little of the reference region ({n} analysis pixels, at "
            f"least {MIN_REGION_PX} are needed): check the alignment or choose another photo."
        )
    return Grid(out, grid_mask, region.px_per_mm, region.nominal, region.factor)


# ---------------------------------------------------------------------------- helpers


def _warp_luma_chroma(
    src: np.ndarray, to_src: np.ndarray, shape: tuple[int, int], affine: bool
) -> np.ndarray:
    """Warp an RGB uint8 image with an inverse map: luma by Lanczos, chroma by bicubic.

    The photo is split linearly into luma ``Y'`` and two colour differences (float32),
    the three are warped, recombined and rounded. Interpolation is linear, so this
    equals an RGB warp with :data:`WARP_INTERPOLATION` up to the chroma kernel, at
    about half the cost (Lanczos reads 64 taps per channel, bicubic 16). Taps beyond
    the photo's edge mirror it (a grid pixel near the edge stays clean).
    """
    gh, gw = shape
    ycc = cv2.transform(src.astype(np.float32, copy=False), _TO_LUMA_CHROMA)
    luma = cv2.extractChannel(ycc, 0)
    chroma = np.empty((*ycc.shape[:2], 2), np.float32)
    cv2.mixChannels([ycc], [chroma], [1, 0, 2, 1])
    border = cv2.BORDER_REFLECT_101
    out = []
    for channels, interp in ((luma, WARP_INTERPOLATION), (chroma, WARP_CHROMA_INTERPOLATION)):
        flags = interp | cv2.WARP_INVERSE_MAP
        if affine:
            warped = cv2.warpAffine(channels, to_src[:2], (gw, gh), flags=flags, borderMode=border)
        else:
            warped = cv2.warpPerspective(channels, to_src, (gw, gh), flags=flags, borderMode=border)
        out.append(warped)
    rgb = cv2.transform(cv2.merge(out), _FROM_LUMA_CHROMA)
    # Round to the nearest code value and clip to 0…255 in one pass (saturate_cast).
    return cv2.add(rgb, (0.0, 0.0, 0.0, 0.0), dtype=cv2.CV_8U)


def _resample(
    image: np.ndarray,
    to_image: np.ndarray,
    shape: tuple[int, int],
    factor: float,
    affine: bool,
    weights: np.ndarray | None,
) -> np.ndarray:
    """Anti-alias ``image`` for ``factor`` and sample it at ``to_image @ (u, v, 1)``.

    ``to_image`` maps grid pixels to image pixels; ``weights`` (bool, image-sized) makes
    the prefilter a normalised convolution over the mask. Returns H×W×3 uint8.
    """
    gh, gw = shape
    h, w = image.shape[:2]
    sigma = prefilter_sigma(factor)
    corners = _apply(to_image, np.array([[-0.5, -0.5], [gw - 0.5, -0.5], [-0.5, gh - 0.5],
                                         [gw - 0.5, gh - 0.5]]))  # fmt: skip
    pad = math.ceil(3.0 * sigma + (_TAPS + 2) / min(factor, 1.0))
    cx0 = int(np.clip(np.floor(corners[:, 0].min()) - pad, 0, w))
    cy0 = int(np.clip(np.floor(corners[:, 1].min()) - pad, 0, h))
    cx1 = int(np.clip(np.ceil(corners[:, 0].max()) + pad + 1, 0, w))
    cy1 = int(np.clip(np.ceil(corners[:, 1].max()) + pad + 1, 0, h))
    if cx1 - cx0 < 2 or cy1 - cy0 < 2:
        raise RegionError(
            "The photo does not cover the reference region at all: check the alignment."
        )
    crop = image[cy0:cy1, cx0:cx1]
    m = None if weights is None else weights[cy0:cy1, cx0:cx1]
    to_src = np.array([[1.0, 0.0, -cx0], [0.0, 1.0, -cy0], [0.0, 0.0, 1.0]]) @ to_image
    native = SOURCE_BLUR
    # Without weights the filters run on 8-bit pixels (OpenCV's fixed-point paths, several
    # times faster than float32 at 12 MP; the rounding adds 0.3 code values RMS, far below
    # a photo's noise). With weights the normalised convolution needs float32.
    src = crop if m is None else crop.astype(np.float32)
    if m is not None:  # premultiplied by the weights: the outside never takes part
        m = m.view(np.uint8).astype(np.float32)
        src *= m[..., None]
    k = int(1.0 / factor) if factor <= 0.5 else 1
    ch, cw = crop.shape[:2]
    if k >= 2 and ch >= 2 * k and cw >= 2 * k:
        # Average k × k blocks first (cheap), then the prefilter on the smaller copy.
        sh, sw = ch // k, cw // k
        src = cv2.resize(src[: sh * k, : sw * k], (sw, sh), interpolation=cv2.INTER_AREA)
        if m is not None:
            m = cv2.resize(m[: sh * k, : sw * k], (sw, sh), interpolation=cv2.INTER_AREA)
        shrink = np.array([[1 / k, 0.0, 0.5 / k - 0.5], [0.0, 1 / k, 0.5 / k - 0.5], [0, 0, 1.0]])
        to_src = shrink @ to_src
        factor *= k
        native = math.sqrt(native * native / (k * k) + (1.0 - 1.0 / (k * k)) / 12.0)
        sigma = prefilter_sigma(factor, source_blur=native)
    if sigma > 0.05:
        ksize = 2 * math.ceil(3.0 * sigma) + 1
        blur = (ksize, ksize)
        border = cv2.BORDER_REFLECT_101
        src = cv2.GaussianBlur(src, blur, sigma, borderType=border)
        if m is not None:
            m = cv2.GaussianBlur(m, blur, sigma, borderType=border)
    if m is not None:
        # Normalised convolution; where no weight reaches, the region's mean colour.
        inside = m > 1e-6
        fill = src[inside].sum(axis=0) / max(float(m[inside].sum()), 1e-12)
        num = src
        src = np.empty_like(num)
        src[:] = fill.astype(np.float32)
        np.divide(num, m[..., None], out=src, where=inside[..., None])
    # An integer translation (a photo already at the grid's scale): no interpolation.
    t = to_src
    if (
        np.allclose(t[:2, :2], np.eye(2))
        and np.allclose(t[2], [0, 0, 1])
        and np.allclose(t[:2, 2], np.round(t[:2, 2]), atol=1e-9)
    ):
        x, y = int(round(t[0, 2])), int(round(t[1, 2]))
        if 0 <= x and 0 <= y and x + gw <= src.shape[1] and y + gh <= src.shape[0]:
            part = src[y : y + gh, x : x + gw]
            if part.dtype == np.uint8:
                return np.ascontiguousarray(part)
            return cv2.add(part, (0.0, 0.0, 0.0, 0.0), dtype=cv2.CV_8U)
    if src.dtype == np.uint8:
        flags = WARP_INTERPOLATION | cv2.WARP_INVERSE_MAP
        border = cv2.BORDER_REFLECT_101
        if affine:
            return cv2.warpAffine(src, to_src[:2], (gw, gh), flags=flags, borderMode=border)
        return cv2.warpPerspective(src, to_src, (gw, gh), flags=flags, borderMode=border)
    return _warp_luma_chroma(src, to_src, (gh, gw), affine)


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(
            f"Expected an H×W×3 uint8 sRGB image, got shape {rgb.shape} and dtype {rgb.dtype}; "
            "load photos with progress.load_image."
        )
    return rgb


def _check_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != shape:
        raise ValueError(f"The mask's shape {mask.shape} differs from the photo's {shape}.")
    return mask


def _interp(factor: float) -> int:
    return cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR


def _region(
    shape: tuple[int, ...], mask: np.ndarray | None, scale_px_per_mm: float | None
) -> GridRegion:
    """The crop box and grid mask of a region (the whole frame when ``mask`` is None)."""
    factor, px_per_mm, nominal = grid_factor(shape, scale_px_per_mm)
    h, w = int(shape[0]), int(shape[1])
    x0, y0, x1, y1 = 0, 0, w, h
    if mask is not None:
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            raise RegionError("The region of interest is empty: mark some skin to measure.")
        cols = np.flatnonzero(mask.any(axis=0))
        pad = int(np.ceil(2 / factor)) if factor < 1 else 2
        y0, y1 = max(rows[0] - pad, 0), min(rows[-1] + 1 + pad, h)
        x0, x1 = max(cols[0] - pad, 0), min(cols[-1] + 1 + pad, w)
        mask = mask[y0:y1, x0:x1]
    ch, cw = y1 - y0, x1 - x0
    out_w, out_h = max(round(cw * factor), 1), max(round(ch * factor), 1)
    if mask is None:
        small_mask = np.ones((out_h, out_w), bool)
    elif (out_w, out_h) == (cw, ch):
        small_mask = mask.copy()
    else:
        weights = mask.view(np.uint8).astype(np.float32)
        share = cv2.resize(weights, (out_w, out_h), interpolation=_interp(factor))
        small_mask = share >= MASK_INSIDE
    if int(small_mask.sum()) < MIN_REGION_PX:
        raise RegionError(
            f"The region of interest is too small to measure ({int(small_mask.sum())} "
            f"analysis pixels, at least {MIN_REGION_PX} are needed): draw a larger region."
        )
    return GridRegion(
        (int(x0), int(y0), int(x1), int(y1)), small_mask, px_per_mm, nominal, factor, (h, w)
    )


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    q = np.column_stack([pts, np.ones(len(pts))]) @ m.T
    return q[:, :2] / q[:, 2:]


def _jacobian(m: np.ndarray, at: tuple[float, float]) -> np.ndarray:
    """2×2 derivative of the (projective) map ``m`` at a point."""
    x, y = at
    den = m[2, 0] * x + m[2, 1] * y + m[2, 2]
    num = m[:2, :2] @ [x, y] + m[:2, 2]
    return (m[:2, :2] * den - np.outer(num, m[2, :2])) / (den * den)


def _inside(m: np.ndarray, shape: tuple[int, int], src_shape: tuple[int, int]) -> np.ndarray:
    """Grid pixels whose centre ``m p`` falls inside the source photo (centres 0 … W − 1)."""
    gh, gw = shape
    sh, sw = src_shape
    u = np.arange(gw, dtype=np.float64)
    v = np.arange(gh, dtype=np.float64)[:, None]
    xs = m[0, 0] * u + m[0, 1] * v + m[0, 2]
    ys = m[1, 0] * u + m[1, 1] * v + m[1, 2]
    if m[2, 0] != 0 or m[2, 1] != 0 or m[2, 2] != 1:  # projective: divide (else by 1)
        den = m[2, 0] * u + m[2, 1] * v + m[2, 2]
        xs /= den
        ys /= den
    ok = xs >= 0
    ok &= xs <= sw - 1
    ok &= ys >= 0
    ok &= ys <= sh - 1
    return ok
