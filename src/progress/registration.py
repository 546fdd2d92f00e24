"""Register a follow-up photo onto a reference photo of the same skin.

:func:`align` finds the transform automatically, on reduced grey copies of both photos:

1. **Features** (the start): SIFT keypoints (Lowe 2004) on CLAHE-equalised copies whose
   long side is about ``work_long_side / 2`` (SIFT doubles its input internally, so its
   finest scale sees the ``work_long_side`` grid), Lowe's ratio test, then a robust fit:
   RANSAC for the similarity and affine models, MAGSAC++ for the homography. By default
   (``model="auto"``) a similarity is fitted first and a homography only when the checks
   below do not confirm the similarity; the checks choose between the two.
2. **Intensity refinement**: the enhanced correlation coefficient (ECC, Evangelidis and
   Psarakis 2008), ``cv2.findTransformECCWithMask`` on local-contrast-normalised copies
   at the feature scale. ECC ignores a global gain and offset of brightness; the local
   normalisation also removes slow lighting gradients.
3. **Local checks and fine correction** (``work_long_side`` grid): the warped moving copy
   and the reference are cut into tiles; each textured tile is one *check*, which agrees
   when a partially whitened phase correlation peaks sharply within a pixel of zero
   shift. The agreeing tiles' remaining shifts, measured by Lucas-Kanade, give a last
   least-squares correction and the residual. Tiles that correlate sharply at a shift
   of more than a pixel *contradict* the transform and cap the confidence below "ok".
4. **Global check**: the correlation of gradient magnitudes, compared with the same
   after a deliberate shift.

A pair that fails (unrelated photos, a blank or flat image, an implausible transform, a
photo too blurred to confirm) is *not* warped with a guessed transform: the result then
holds the *fallback* transform (the moving photo scaled to fit the reference frame and
centred: the identity when both photos have the same size), ``confidence = 0``,
``residual_px = nan``, ``method = "identity"`` and a reason that says what went wrong,
so that the caller can ask the user for point pairs (:func:`align_from_points`).

Coordinates
-----------
Matrices act on pixel coordinates ``(x, y, 1)`` with ``x`` the column, ``y`` the row, and
the centre of pixel ``(0, 0)`` at ``(0, 0)`` (the OpenCV and scikit-image convention).
They map *moving* full-resolution pixels to *reference* full-resolution pixels. A copy
resized by a factor ``s`` (``cv2.resize(..., fx=s, fy=s)``, which uses ``s`` exactly)
has coordinates ``x_s = s (x + 0.5) - 0.5``, i.e. ``x_s = S x`` with
``S = [[s, 0, (s - 1)/2], [0, s, (s - 1)/2], [0, 0, 1]]``; a matrix found between copies
is brought back to full resolution by ``M = S_ref⁻¹ · M_s · S_mov``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from progress.errors import AlignmentError

__all__ = [
    "CONFIDENCE_OK",
    "MODELS",
    "Alignment",
    "align",
    "align_from_points",
    "warp",
]

#: An alignment with at least this confidence is usable without asking the user.
CONFIDENCE_OK = 0.5
# Below this, the found transform is not applied (fallback).
_CONFIDENCE_FAIL = 0.3
# Confidence ceiling of a transform that the local checks contradict (not "ok").
_CONFIDENCE_CAPPED = 0.45
# Contradicting tiles that cap the confidence: at least this many and this share.
_MIN_CONTRA = 2
_CONTRA_SHARE = 0.1
# model="auto": a similarity is kept without trying a homography when it is ok, no tile
# contradicts it, this share of the tiles agree and the residual is at most this (px).
_AUTO_MIN_AGREE = 0.8
_AUTO_MAX_RESIDUAL = 0.25
# The homography replaces the similarity when more confident by this margin, or as
# confident with a residual below this fraction of the similarity's.
_AUTO_PENALTY = 0.1
_AUTO_RESIDUAL_GAIN = 0.7

#: Transform models, from the most to the least constrained.
MODELS: tuple[str, ...] = ("similarity", "affine", "homography")

# Degrees of freedom of each model.
_DOF = {"similarity": 4, "affine": 6, "homography": 8}

# Smallest photo side accepted (pixels), and the accepted pixel types.
_MIN_SIDE = 16
_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32), np.dtype(np.float64))
# Lowe's ratio test threshold.
_RATIO = 0.75
# SIFT keypoints kept per photo, and the CLAHE clip limit applied before SIFT.
_N_FEATURES = 1000
_CLAHE_CLIP = 2.0
# RANSAC inlier threshold, as a fraction of the feature copy's long side (3 px at 512).
_RANSAC_FRACTION = 0.006
# Fewer feature inliers than this: the feature start is not trusted.
_MIN_INLIERS = 8
# Inliers at which the feature score saturates.
_FULL_INLIERS = 40
# Plausible range of the framing-normalised scale and largest anisotropy (sigma1/sigma2).
_SCALE_RANGE = (0.5, 2.0)
_MAX_ANISOTROPY = {"similarity": 1.05, "affine": 1.3, "homography": 1.6}
# Smallest share of the reference frame that the warped photo must cover.
_MIN_OVERLAP = 0.15
# Local contrast normalisation: Gaussian sigma as a fraction of the long side, and the
# floor of the local standard deviation (grey levels) that keeps flat areas at zero.
_LCN_SIGMA_FRACTION = 0.01
_LCN_FLOOR = 2.0
# ECC iterations and stopping threshold (on the increment of the correlation).
_ECC_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 15, 1e-4)
# Without a feature start, ECC must reach at least this correlation to be believed.
_ECC_MIN_RHO = 0.3
# ECC may move the feature start by at most this (work pixels) before it is distrusted.
_ECC_MAX_DRIFT_FRACTION = 0.02
# Tile checks: tile side (work pixels) is the power of two nearest long side / 7.
_TILE_DIVISOR = 7
_MAX_TILES_PER_SIDE = 6
# Shift of the baseline in the gradient check, as a fraction of the long side.
_BASELINE_SHIFT = 0.05
# Peak-to-sidelobe ratio a tile's correlation peak needs to count as agreeing.
_MIN_PSR = 8.0
# Smallest grey-level standard deviation of a tile that counts as textured.
_MIN_TILE_STD = 3.0


class _OnDemand:
    """``Alignment.warped`` / ``.valid``: given, or made from the moving photo on first use.

    A data descriptor that raises ``AttributeError`` on class access, so that the
    dataclass field it backs stays a required constructor argument.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Alignment | None, owner: type | None = None) -> np.ndarray:
        if obj is None:
            raise AttributeError(self.name)
        value = obj.__dict__.get(self.name)
        if value is None:
            source = obj.__dict__.get("_source")
            if source is None:
                return value
            warped, valid = warp(source[0], obj.matrix, source[1])
            obj.__dict__.update(warped=warped, valid=valid, _source=None)
            value = obj.__dict__[self.name]
        return value

    def __set__(self, obj: Alignment, value: np.ndarray | None) -> None:
        obj.__dict__[self.name] = value


@dataclass(frozen=True, repr=False)
class Alignment:
    """The result of :func:`align` or :func:`align_from_points`.

    Attributes
    ----------
    matrix : ndarray
        3×3 float64; maps full-resolution pixel coordinates ``(x, y, 1)`` of the moving
        photo to those of the reference (see the module notes on coordinates).
    warped : ndarray
        The moving photo resampled onto the reference frame (same height and width as the
        reference, same dtype and channels as the moving photo); zero where it has no
        data, and blended with zero in the one-pixel seam that ``valid`` leaves out.
    valid : ndarray
        Boolean H×W: reference pixels that ``warped`` covers (all four bilinear neighbours
        inside the moving photo).
    confidence : float
        In [0, 1]. ``ok`` is ``confidence >= CONFIDENCE_OK`` (0.5).
    residual_px : float
        Estimated registration error in reference pixels: the RMS of the shifts that remain
        between the tiles that agree (automatic), or the RMS of the point residuals
        (manual). ``nan`` when unknown (failed alignment).
    method : str
        ``"sift+ransac+ecc"``, ``"sift+ransac"``, ``"ecc"`` (no usable features: ECC
        started from the fallback), ``"identity"`` (failed: fallback transform) or
        ``"manual"`` (from point pairs).
    reason : str
        One plain sentence for the user that explains the confidence.
    n_matches : int
        Feature matches that passed the ratio test (or point pairs, for ``"manual"``).
    n_inliers : int
        Matches consistent with the fitted transform.
    model : str
        ``"similarity"``, ``"affine"`` or ``"homography"``: the model fitted (for
        ``model="auto"``, the one chosen).

    Notes
    -----
    :func:`align` does not resample the moving photo: ``warped`` and ``valid`` are made
    (with :func:`warp`) on their first use and then kept, so callers that only need
    ``matrix`` (e.g. :func:`progress.pipeline.analyse`, which resamples straight onto
    the analysis grid) never pay for a full-resolution warp. Until then the alignment
    holds a reference to the moving photo: do not modify it in place.
    """

    matrix: np.ndarray
    warped: np.ndarray = _OnDemand()  # type: ignore[assignment]
    valid: np.ndarray = _OnDemand()  # type: ignore[assignment]
    confidence: float
    residual_px: float
    method: str
    reason: str
    n_matches: int = 0
    n_inliers: int = 0
    model: str = "similarity"
    # (moving photo, reference shape) while ``warped`` and ``valid`` are not made yet.
    _source: tuple[np.ndarray, tuple[int, ...]] | None = field(
        default=None, repr=False, compare=False
    )

    def __repr__(self) -> str:  # without the image arrays (and without making them)
        return (
            f"Alignment(method={self.method!r}, model={self.model!r}, "
            f"confidence={self.confidence:.3f}, residual_px={self.residual_px:.3g}, "
            f"n_matches={self.n_matches}, n_inliers={self.n_inliers}, "
            f"matrix={np.asarray(self.matrix).round(6).tolist()})"
        )

    @property
    def ok(self) -> bool:
        """True when ``confidence >= CONFIDENCE_OK`` (0.5): usable without asking the user."""
        return self.confidence >= CONFIDENCE_OK


# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------


def _check_image(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise AlignmentError(
            f"{name} must be a grey (H×W) or colour (H×W×3 or H×W×4) image; "
            f"got an array of shape {image.shape}."
        )
    if min(image.shape[:2]) < _MIN_SIDE:
        raise AlignmentError(
            f"{name} is {image.shape[1]}×{image.shape[0]} pixels; at least "
            f"{_MIN_SIDE} pixels on each side are needed to align it."
        )
    if image.dtype not in _DTYPES:
        raise AlignmentError(
            f"{name} has dtype {image.dtype}; pass uint8, uint16, or float32/float64 "
            "in [0, 1] pixels (e.g. skimage.util.img_as_ubyte(image))."
        )
    return image


def _grey_u8(image: np.ndarray) -> np.ndarray:
    """Grey uint8 copy: uint8 as is, uint16 / 257, floats taken as [0, 1] (clipped)."""
    if image.ndim == 3:
        if image.shape[2] == 1:
            image = image[..., 0]
        else:
            if image.dtype == np.float64:
                image = image.astype(np.float32)
            code = cv2.COLOR_RGB2GRAY if image.shape[2] == 3 else cv2.COLOR_RGBA2GRAY
            image = cv2.cvtColor(np.ascontiguousarray(image), code)
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if image.dtype == np.uint16:
        return (image // 257).astype(np.uint8)
    grey = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(grey * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _scale_matrix(s: float) -> np.ndarray:
    """Map full-resolution pixel coordinates to those of a copy resized by ``s``."""
    o = 0.5 * s - 0.5
    return np.array([[s, 0.0, o], [0.0, s, o], [0.0, 0.0, 1.0]])


def _resize(image: np.ndarray, s: float) -> np.ndarray:
    if s == 1.0:
        return image
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, None, fx=s, fy=s, interpolation=interp)


def _as3(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape == (2, 3):
        m = np.vstack([m, [0.0, 0.0, 1.0]])
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise AlignmentError(f"A transform must be a finite 2×3 or 3×3 matrix; got {m.shape}.")
    return m / m[2, 2] if m[2, 2] != 0 else m


def _is_affine(m: np.ndarray) -> bool:
    return abs(m[2, 0]) < 1e-12 and abs(m[2, 1]) < 1e-12


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 3×3 matrix to N×2 points."""
    h = pts @ m[:2, :2].T + m[:2, 2]
    w = pts @ m[2, :2] + m[2, 2]
    return h / w[:, None]


def _fit_frame(ref_shape: tuple[int, int], mov_shape: tuple[int, int]) -> np.ndarray:
    """Similarity that scales the moving frame to fit the reference frame, centred."""
    (hr, wr), (hm, wm) = ref_shape, mov_shape
    s = min(wr / wm, hr / hm)
    ox = (wr - s * wm) / 2.0 + 0.5 * s - 0.5
    oy = (hr - s * hm) / 2.0 + 0.5 * s - 0.5
    return np.array([[s, 0.0, ox], [0.0, s, oy], [0.0, 0.0, 1.0]])


def _smooth(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a float32 image; for a large sigma, computed on a 4× smaller copy.

    Only the slow local mean and spread need it, so the resampling error does not matter.
    """
    if sigma < 4 or min(img.shape) < 64:
        return cv2.GaussianBlur(img, (0, 0), sigma)
    small = cv2.resize(img, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / 4)
    return cv2.resize(small, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)


def _lcn(grey: np.ndarray) -> np.ndarray:
    """Local contrast normalisation: (g - local mean) / max(local std, floor), float32."""
    g = grey.astype(np.float32)
    sigma = max(1.0, _LCN_SIGMA_FRACTION * max(g.shape))
    d = g - _smooth(g, sigma)
    sd = np.sqrt(np.maximum(_smooth(d * d, sigma), 0.0))
    return d / np.maximum(sd, _LCN_FLOOR)


def _warp_level(image: np.ndarray, w_ref_to_mov: np.ndarray, shape: tuple[int, int]):
    """Warp a level image with a reference→moving matrix (inverse map)."""
    size = (shape[1], shape[0])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    if _is_affine(w_ref_to_mov):
        return cv2.warpAffine(image, w_ref_to_mov[:2], size, flags=flags)
    return cv2.warpPerspective(image, w_ref_to_mov, size, flags=flags)


def _fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift; no reflection).

    Solves ``dst = [[a, -b], [b, a]] src + t`` for ``a, b, t`` in closed form (centred
    coordinates): ``a = Σ(x·x' + y·y') / Σ|p|²``, ``b = Σ(x·y' - y·x') / Σ|p|²``.
    """
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    p, q = src - ms, dst - md
    n = float((p * p).sum())
    a = float((p[:, 0] * q[:, 0] + p[:, 1] * q[:, 1]).sum()) / n
    b = float((p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]).sum()) / n
    r = np.array([[a, -b], [b, a]])
    t = md - r @ ms
    return np.array([[a, -b, t[0]], [b, a, t[1]], [0.0, 0.0, 1.0]])


def _fit_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares affine transform (6 parameters)."""
    a = np.hstack([src, np.ones((len(src), 1))])
    sol, *_ = np.linalg.lstsq(a, dst, rcond=None)
    return np.vstack([sol.T, [0.0, 0.0, 1.0]])


def _fit_homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Homography by the normalised direct linear transform (Hartley), in float64.

    Each point set is shifted to its centroid and scaled to a mean distance of √2; the
    homography is the right singular vector of the stacked 2N×9 DLT system with the
    smallest singular value, then de-normalised. Exact for 4 pairs, algebraic least
    squares for more.
    """

    def normaliser(p: np.ndarray) -> np.ndarray:
        c = p.mean(axis=0)
        d = np.hypot(*(p - c).T).mean()
        k = math.sqrt(2) / d
        return np.array([[k, 0.0, -k * c[0]], [0.0, k, -k * c[1]], [0.0, 0.0, 1.0]])

    ts, td = normaliser(src), normaliser(dst)
    s, d = _apply(ts, src), _apply(td, dst)
    rows = []
    for (x, y), (u, v) in zip(s, d, strict=True):
        rows.append([-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u])
        rows.append([0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v])
    _, sv, vt = np.linalg.svd(np.asarray(rows))
    h = np.linalg.inv(td) @ vt[-1].reshape(3, 3) @ ts
    if abs(h[2, 2]) < 1e-12:
        raise AlignmentError(
            "No perspective transform fits these points; check that each pair marks the "
            "same spot, or use model='similarity'."
        )
    return h / h[2, 2]


def _to_similarity(m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Closest similarity to ``m`` over a grid spanning a frame of ``shape`` (moving)."""
    h, w = shape
    ys, xs = np.mgrid[0 : h - 1 : 5j, 0 : w - 1 : 5j]
    pts = np.column_stack([xs.ravel(), ys.ravel()])
    return _fit_similarity(pts, _apply(m, pts))


def _plausibility(
    m: np.ndarray, ref_shape: tuple[int, int], mov_shape: tuple[int, int], model: str
) -> str | None:
    """None if the transform is plausible, else a sentence that says why not.

    The local linear part (Jacobian) of ``m`` at the four corners and the centre of the
    moving frame, normalised by the ratio of the long sides (so that two photos of the
    same framing at different resolutions have scale 1), must keep orientation (no flip),
    have singular values within ``_SCALE_RANGE`` and an anisotropy ``σ1/σ2`` within
    ``_MAX_ANISOTROPY[model]``.
    """
    hm, wm = mov_shape
    norm = max(mov_shape) / max(ref_shape)
    pts = np.array([[0, 0], [wm - 1, 0], [0, hm - 1], [wm - 1, hm - 1], [wm / 2, hm / 2]], float)
    for x, y in pts:
        den = m[2, 0] * x + m[2, 1] * y + m[2, 2]
        if den <= 1e-9:
            return "The best match would fold the photo through the horizon of a perspective."
        u = (m[0, 0] * x + m[0, 1] * y + m[0, 2]) / den
        v = (m[1, 0] * x + m[1, 1] * y + m[1, 2]) / den
        jac = np.array(
            [
                [m[0, 0] - u * m[2, 0], m[0, 1] - u * m[2, 1]],
                [m[1, 0] - v * m[2, 0], m[1, 1] - v * m[2, 1]],
            ]
        ) * (norm / den)
        s1, s2 = np.linalg.svd(jac, compute_uv=False)
        lo, hi = _SCALE_RANGE
        if s2 < lo or s1 > hi:
            return (
                f"The best match would resize the photo by {math.sqrt(s1 * s2):.2f}×, "
                f"outside the plausible {lo}–{hi}× range."
            )
        if np.linalg.det(jac) <= 0:
            return "The best match would mirror the photo, which a camera cannot do."
        if s1 / s2 > _MAX_ANISOTROPY[model]:
            return f"The best match would stretch the photo {s1 / s2:.2f}× more in one direction."
    return None


def _overlap(m: np.ndarray, ref_shape: tuple[int, int], mov_shape: tuple[int, int]) -> float:
    """Share of the reference frame covered by the warped moving frame (on a coarse grid)."""
    hr, wr = ref_shape
    ys, xs = np.mgrid[0 : hr - 1 : 40j, 0 : wr - 1 : 40j]
    pts = np.column_stack([xs.ravel(), ys.ravel()])
    try:
        back = _apply(np.linalg.inv(m), pts)
    except np.linalg.LinAlgError:
        return 0.0
    hm, wm = mov_shape
    inside = (back[:, 0] >= 0) & (back[:, 0] <= wm - 1) & (back[:, 1] >= 0)
    inside &= back[:, 1] <= hm - 1
    return float(inside.mean())


# ---------------------------------------------------------------------------------------
# Public: warp
# ---------------------------------------------------------------------------------------


def warp(
    moving: np.ndarray, matrix: np.ndarray, shape: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Resample ``moving`` onto a frame of ``shape`` with a moving→frame matrix.

    Parameters
    ----------
    moving : ndarray
        H×W or H×W×C image (C ≤ 4; bool, uint8, uint16, int16, float32 or float64;
        bool is warped as uint8 0/1).
    matrix : array_like
        2×3 or 3×3 matrix mapping moving pixel coordinates ``(x, y, 1)`` to frame
        coordinates (pixel centres at integers).
    shape : sequence of int
        Shape of the target frame; only ``shape[:2]`` (height, width) is used, so the
        reference image's ``.shape`` can be passed.

    Returns
    -------
    warped : ndarray
        ``shape[:2]`` plus the channels of ``moving``, same dtype; bilinear
        interpolation, 0 outside the moving photo.
    valid : ndarray
        Boolean ``shape[:2]``: frame pixels whose four bilinear neighbours all lie
        inside ``moving`` (to OpenCV's 1/32-pixel interpolation precision), so that
        ``warped`` there holds no border value.

    Raises
    ------
    AlignmentError
        If the matrix is not a finite 2×3 or 3×3 matrix, is singular, or ``shape`` is
        not a positive size.

    Notes
    -----
    ``warped(p) = moving(M⁻¹ p)`` (``cv2.warpAffine`` / ``cv2.warpPerspective`` with
    ``INTER_LINEAR``). ``valid`` is computed by warping a constant 255 image the same way
    and keeping the pixels that stay at 255.
    """
    m = _as3(matrix)
    if abs(np.linalg.det(m)) < 1e-12:
        raise AlignmentError("The transform matrix is singular; it cannot be inverted.")
    if len(shape) < 2 or int(shape[0]) < 1 or int(shape[1]) < 1:
        raise AlignmentError(f"shape must start with a positive (height, width); got {shape}.")
    moving = np.asarray(moving)
    if moving.dtype == bool:
        moving = moving.astype(np.uint8)
    if moving.dtype not in (*_DTYPES, np.dtype(np.int16)) or moving.ndim not in (2, 3):
        raise AlignmentError(
            f"Cannot warp an array of shape {moving.shape} and dtype {moving.dtype}; pass "
            "an H×W or H×W×C image of uint8, uint16, int16, float32 or float64."
        )
    h, w = int(shape[0]), int(shape[1])
    moving, m = _crop_to_reach(moving, m, (h, w))

    def remap(img: np.ndarray) -> np.ndarray:
        if _is_affine(m):
            return cv2.warpAffine(img, m[:2], (w, h), flags=cv2.INTER_LINEAR)
        return cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR)

    if moving.dtype == np.uint8 and moving.ndim == 3 and moving.shape[2] == 3:
        # One pass over 4 channels (a constant alpha marks the data) is about three times
        # faster than warping 3 channels and a validity image separately.
        out = remap(cv2.cvtColor(moving, cv2.COLOR_RGB2RGBA))
        valid = out[..., 3] == 255
        warped = cv2.cvtColor(out, cv2.COLOR_RGBA2RGB)
    else:
        warped = remap(moving)
        valid = remap(np.full(moving.shape[:2], 255, np.uint8)) == 255
    if moving.ndim == 3 and warped.ndim == 2:  # OpenCV drops a single channel axis
        warped = warped[..., None]
    return warped, valid


def _crop_to_reach(
    moving: np.ndarray, m: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``moving`` that a warp onto ``shape`` reads, and the matrix for it.

    A small frame (e.g. a grey-card box) warped from a 12 MP photo needs a few thousand
    pixels of it, not a full-size copy with an alpha channel. The crop is the bounding
    box of the frame's corners mapped into the moving photo plus 2 pixels, so it holds
    every bilinear tap that lies inside the photo: the warp is unchanged up to OpenCV's
    1/32-pixel rounding of the shifted coordinates (±1 code value on under 1 % of the
    pixels). Only when the map keeps the frame in front of the camera (positive
    denominators at the corners) and the crop saves at least half of the photo.
    """
    mh, mw = moving.shape[:2]
    h, w = shape
    corners = np.array([[-0.5, -0.5, 1.0], [w - 0.5, -0.5, 1.0], [-0.5, h - 0.5, 1.0],
                        [w - 0.5, h - 0.5, 1.0]])  # fmt: skip
    back = corners @ np.linalg.inv(m).T
    if not np.all(back[:, 2] > 1e-12):
        return moving, m
    xy = back[:, :2] / back[:, 2:]
    if not np.all(np.isfinite(xy)):
        return moving, m
    x0 = int(np.clip(np.floor(xy[:, 0].min()) - 2, 0, mw))
    y0 = int(np.clip(np.floor(xy[:, 1].min()) - 2, 0, mh))
    x1 = int(np.clip(np.ceil(xy[:, 0].max()) + 3, 0, mw))
    y1 = int(np.clip(np.ceil(xy[:, 1].max()) + 3, 0, mh))
    if x1 - x0 < 2 or y1 - y0 < 2 or (x1 - x0) * (y1 - y0) > 0.5 * mw * mh:
        return moving, m
    shift = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])  # crop → moving
    return moving[y0:y1, x0:x1], m @ shift


# ---------------------------------------------------------------------------------------
# Automatic alignment
# ---------------------------------------------------------------------------------------


@dataclass
class _Level:
    """Grey copies of one photo at the work and feature scales (and their LCN copies)."""

    shape: tuple[int, int]  # full resolution (H, W)
    s_work: float
    s_feat: float
    work: np.ndarray  # uint8
    feat: np.ndarray  # uint8
    feat_clahe: np.ndarray  # uint8, contrast-limited adaptive histogram equalisation of feat
    work_long_side: int = 1024
    _lcn: dict[str, np.ndarray] = field(default_factory=dict)
    _keypoints: tuple | None = None  # SIFT (keypoints, descriptors) without a mask

    @classmethod
    def build(cls, image: np.ndarray, work_long_side: int) -> _Level:
        grey = _grey_u8(image)
        s_work = _work_scale(max(grey.shape), work_long_side)
        work = _resize(grey, s_work)
        # Features on a half-size copy (SIFT doubles its input internally), unless that
        # copy would be small.
        half = max(work.shape) / 2 >= 0.4 * work_long_side
        s_feat = s_work / 2 if half else s_work
        feat = _resize(work, 0.5) if half else work
        # CLAHE lifts the faint texture of skin above SIFT's contrast threshold.
        clahe = cv2.createCLAHE(clipLimit=_CLAHE_CLIP, tileGridSize=(8, 8))
        return cls(grey.shape[:2], s_work, s_feat, work, feat, clahe.apply(feat), work_long_side)

    def keypoints(self, sift: cv2.SIFT, mask: np.ndarray | None) -> tuple:
        """SIFT keypoints and descriptors of the feature copy (kept when unmasked)."""
        if mask is not None:
            return sift.detectAndCompute(self.feat_clahe, mask)
        if self._keypoints is None:
            self._keypoints = sift.detectAndCompute(self.feat_clahe, None)
        return self._keypoints

    def lcn(self, which: str) -> np.ndarray:
        if which not in self._lcn:
            self._lcn[which] = _lcn(self.work if which == "work" else self.feat)
        return self._lcn[which]


def _work_scale(long_side: int, work_long_side: int) -> float:
    """Scale of the work copy: none for small photos, else about work_long_side / long side.

    For photos more than twice the work size the factor is ``1/k`` with the smallest
    integer ``k`` that brings the long side to at most ``work_long_side``: area averaging
    over whole k×k blocks is exact and several times faster than a fractional factor.
    """
    if long_side <= work_long_side:
        return 1.0
    k = math.ceil(long_side / work_long_side)
    return 1.0 / k if k >= 3 else work_long_side / long_side


def _matches(
    ref: _Level, mov: _Level, use_feat: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """SIFT matches that pass the ratio test: (moving points, reference points), N×2 float32.

    Points are in feature-copy pixels; N may be 0.
    """
    sift = cv2.SIFT_create(nfeatures=_N_FEATURES)
    kr, dr = ref.keypoints(sift, use_feat)
    km, dm = mov.keypoints(sift, None)
    empty = np.zeros((0, 2), np.float32)
    if dr is None or dm is None or len(kr) < 3 or len(km) < 3:
        return empty, empty
    matcher = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": 48})
    pairs = matcher.knnMatch(dm, dr, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < _RATIO * p[1].distance]
    if not good:
        return empty, empty
    src = np.float32([km[g.queryIdx].pt for g in good])
    dst = np.float32([kr[g.trainIdx].pt for g in good])
    return src, dst


def _robust_fit(
    src: np.ndarray, dst: np.ndarray, model: str, thr: float
) -> tuple[np.ndarray | None, int]:
    """Robust fit of ``model`` to matches: (matrix moving→reference or None, inliers)."""
    need = 4 if model == "homography" else 3
    if len(src) < need:
        return None, 0
    if model == "similarity":
        a, inl = cv2.estimateAffinePartial2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=thr, maxIters=4000,
            confidence=0.999, refineIters=10,
        )  # fmt: skip
    elif model == "affine":
        a, inl = cv2.estimateAffine2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=thr, maxIters=4000,
            confidence=0.999, refineIters=10,
        )  # fmt: skip
    else:
        a, inl = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, thr, maxIters=4000, confidence=0.999)
    if a is None or inl is None:
        return None, 0
    return _as3(a), int(inl.sum())


def _ecc(
    template: np.ndarray,
    inp: np.ndarray,
    template_mask: np.ndarray | None,
    w0: np.ndarray,
    model: str,
    criteria: tuple[int, int, float],
) -> tuple[np.ndarray, float] | None:
    """ECC refinement of a reference→moving matrix at one level; None if it fails."""
    motion = cv2.MOTION_HOMOGRAPHY if model == "homography" else cv2.MOTION_AFFINE
    w = (w0 if model == "homography" else w0[:2]).astype(np.float32)
    if template_mask is None:
        template_mask = np.full(template.shape, 255, np.uint8)
    input_mask = np.full(inp.shape, 255, np.uint8)
    try:
        rho, w = cv2.findTransformECCWithMask(
            template, inp, template_mask, input_mask, w, motion, criteria, 5
        )
    except cv2.error:  # no texture, or no convergence
        return None
    if not np.isfinite(rho) or not np.all(np.isfinite(w)):
        return None
    return _as3(w.astype(np.float64)), float(rho)


def _tile_checks(
    ref: _Level,
    mov: _Level,
    w_work: np.ndarray,
    use_work: np.ndarray | None,
    model: str,
    correct: bool,
) -> tuple[int, int, int, float, np.ndarray | None]:
    """Local checks on tiles of the reference and the warped moving copy (work scale).

    Returns ``(n_usable, n_agree, n_contra, residual_work_px, correction)``.

    Tiles lie on a grid of at most 6×6; a tile is *usable* when it lies inside the
    overlap (and the mask) and both copies are textured (grey-level SD ≥ 3).

    1. Agreement (robust, coarse): the cross-power spectrum of the two windowed tiles is
       partially whitened, ``X / |X|^β`` with ``β = 0.5`` (full whitening, plain phase
       correlation, collapses as soon as one photo is blurred: its high frequencies are
       noise, and whitening weights them like the rest). A tile *agrees* when the
       correlation peak is within one pixel of zero shift and stands out from the
       correlation surface: peak-to-sidelobe ratio ``(peak - mean) / sd ≥ 8``. A tile
       *contradicts* when its peak is as sharp but more than one pixel away from zero
       shift: the two copies there are clearly offset, i.e. the transform is wrong there.
    2. Shift (precise): on the agreeing tiles, 3 Gauss-Newton (Lucas-Kanade) steps of a
       pure translation give the shift ``d`` (the reference content at tile centre ``p``
       sits at ``p + d`` in the warped copy).
    3. With ``correct``, a least-squares correction ``C`` with ``C(p + d) ≈ p`` (a
       similarity; an affine for the other models when ≥ 8 tiles agree, a homography
       for the homography model when ≥ 12 agree) is fitted,
       dropping tiles more than 3 median residuals off, and the residual is
       ``sqrt(Σ |C(p + d) - p|² / (n - dof))``; without it, the RMS of ``|d|``.
    """
    shape = ref.work.shape
    warped_lcn = _warp_level(mov.lcn("work"), w_work, shape)
    warped_grey = _warp_level(mov.work, w_work, shape)
    valid = _warp_level(np.full(mov.work.shape, 255, np.uint8), w_work, shape) == 255
    if use_work is not None:
        valid &= use_work
    ref_lcn = ref.lcn("work")

    tile = int(2 ** round(math.log2(max(16, max(shape) / _TILE_DIVISOR))))
    if min(shape) < tile:
        return 0, 0, 0, math.nan, None
    ny = min(_MAX_TILES_PER_SIDE, shape[0] // tile)
    nx = min(_MAX_TILES_PER_SIDE, shape[1] // tile)
    corners = []
    for y0 in np.linspace(0, shape[0] - tile, ny).astype(int):
        for x0 in np.linspace(0, shape[1] - tile, nx).astype(int):
            sl = (slice(y0, y0 + tile), slice(x0, x0 + tile))
            if valid[sl].mean() < 0.95:
                continue
            if ref.work[sl].std() < _MIN_TILE_STD or warped_grey[sl].std() < _MIN_TILE_STD:
                continue
            corners.append((y0, x0))
    n_usable = len(corners)
    if n_usable == 0:
        return 0, 0, 0, math.nan, None
    a = np.stack([ref_lcn[y : y + tile, x : x + tile] for y, x in corners])
    b = np.stack([warped_lcn[y : y + tile, x : x + tile] for y, x in corners])
    agree, contra = _tiles_agree(a, b)
    n_agree, n_contra = int(agree.sum()), int(contra.sum())
    if n_agree == 0:
        return n_usable, 0, n_contra, math.nan, None
    d = _tile_shifts(a[agree], b[agree])
    p = np.array([(x + (tile - 1) / 2, y + (tile - 1) / 2) for y, x in corners], float)[agree]
    ok = np.hypot(*d.T) <= 2.0  # a Gauss-Newton step that ran away
    p, q = p[ok], p[ok] + d[ok]  # q: where the reference content sits in the warped copy
    dof = 4
    if model != "similarity" and len(p) >= 8:
        dof = 8 if (model == "homography" and len(p) >= 12) else 6
    if not correct or len(p) < dof + 2:
        rms = float(np.sqrt(np.mean(np.sum((q - p) ** 2, axis=1)))) if len(p) else math.nan
        return n_usable, n_agree, n_contra, rms, None
    fit = {4: _fit_similarity, 6: _fit_affine, 8: _fit_homography}[dof]
    try:
        c = fit(q, p)
    except AlignmentError:  # degenerate tile layout for a homography: an affine instead
        dof, fit = 6, _fit_affine
        c = fit(q, p)
    r = np.hypot(*(_apply(c, q) - p).T)
    keep = r <= max(3.0 * float(np.median(r)), 0.1)  # drop a tile that disagrees with the rest
    if keep.sum() >= dof + 2 and not keep.all():
        try:
            c = fit(q[keep], p[keep])
        except AlignmentError:
            keep[:] = True
        r = np.hypot(*(_apply(c, q[keep]) - p[keep]).T)
    rms = float(np.sqrt(np.sum(r**2) / (len(r) - dof)))
    return n_usable, n_agree, n_contra, rms, c


def _hann2(n: int) -> np.ndarray:
    h = np.hanning(n).astype(np.float32)
    return np.outer(h, h)


def _tiles_agree(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Partially whitened correlation of tile stacks (n, T, T): (agree, contradict).

    A tile agrees when its peak lies within one pixel of zero shift with PSR ≥ 8, and
    contradicts when the peak has PSR ≥ 8 but lies farther away.
    """
    n, t, _ = a.shape
    w = _hann2(t)
    a = (a - a.mean(axis=(1, 2), keepdims=True)) * w
    b = (b - b.mean(axis=(1, 2), keepdims=True)) * w
    x = np.fft.rfft2(a) * np.conj(np.fft.rfft2(b))
    mag = np.abs(x)
    x /= np.sqrt(mag) + 1e-9 * float(mag.max() + 1e-30)  # beta = 0.5
    c = np.fft.irfft2(x, s=(t, t)).reshape(n, -1)
    k = c.argmax(axis=1)
    ky, kx = np.unravel_index(k, (t, t))
    ky = np.where(ky > t // 2, ky - t, ky)
    kx = np.where(kx > t // 2, kx - t, kx)
    sd = c.std(axis=1)
    psr = (c[np.arange(n), k] - c.mean(axis=1)) / np.where(sd > 0, sd, np.inf)
    near = (np.abs(ky) <= 1) & (np.abs(kx) <= 1)
    sharp = psr >= _MIN_PSR
    return near & sharp, ~near & sharp


def _tile_shifts(a: np.ndarray, b: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Translation ``d`` per tile with ``b(x + d) ≈ a(x)`` (Lucas-Kanade, Hann-weighted).

    Inverse compositional Gauss-Newton: ``d ← d - H⁻¹ Σ w ∇a (b(x + d) - a(x))`` with
    ``H = Σ w ∇a ∇aᵀ``, both tiles smoothed with a Gaussian of 1 px first.
    """
    n, t, _ = a.shape
    w = _hann2(t)
    a = np.stack([cv2.GaussianBlur(x, (0, 0), 1.0) for x in a])
    b = np.stack([cv2.GaussianBlur(x, (0, 0), 1.0) for x in b])
    gx = np.stack([cv2.Sobel(x, cv2.CV_32F, 1, 0, ksize=3, scale=0.125) for x in a])
    gy = np.stack([cv2.Sobel(x, cv2.CV_32F, 0, 1, ksize=3, scale=0.125) for x in a])
    wx, wy = w * gx, w * gy
    sxx = (wx * gx).sum(axis=(1, 2), dtype=np.float64)
    syy = (wy * gy).sum(axis=(1, 2), dtype=np.float64)
    sxy = (wx * gy).sum(axis=(1, 2), dtype=np.float64)
    det = sxx * syy - sxy**2
    det = np.where(det > 1e-12, det, np.inf)
    d = np.zeros((n, 2))
    moved = b
    for _ in range(iterations):
        e = moved - a
        bx = (wx * e).sum(axis=(1, 2), dtype=np.float64)
        by = (wy * e).sum(axis=(1, 2), dtype=np.float64)
        d[:, 0] -= (syy * bx - sxy * by) / det
        d[:, 1] -= (sxx * by - sxy * bx) / det
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        moved = np.stack(
            [
                cv2.warpAffine(
                    x,
                    np.float32([[1, 0, dx], [0, 1, dy]]),
                    (t, t),
                    flags=flags,
                    borderMode=cv2.BORDER_REFLECT,
                )  # fmt: skip
                for x, (dx, dy) in zip(b, d, strict=True)
            ]
        )
    return d


def _gradient_gain(
    ref: _Level, mov: _Level, w_feat: np.ndarray, use_feat: np.ndarray | None
) -> float:
    """Correlation of gradient magnitudes, aligned vs shifted (feature scale), in [0, 1].

    ``g = (r0 - rb) / (1 - rb)`` with ``r0`` the normalised cross-correlation of the
    gradient magnitudes inside the overlap and ``rb`` the largest of the same after
    shifting the warped copy by 5 % of the long side in four directions (the baseline a
    pair of unrelated but similar-looking photos would reach).
    """
    shape = ref.feat.shape
    warped = _warp_level(mov.feat.astype(np.float32), w_feat, shape)
    valid = _warp_level(np.full(mov.feat.shape, 255, np.uint8), w_feat, shape) == 255
    if use_feat is not None:
        valid &= use_feat > 0

    def grad(img: np.ndarray) -> np.ndarray:
        gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
        return cv2.magnitude(gx, gy)

    def ncc(a: np.ndarray, b: np.ndarray, m: np.ndarray) -> float:
        if m.sum() < 64:
            return 0.0
        a, b = a[m], b[m]
        a = a - a.mean()
        b = b - b.mean()
        den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
        return float((a * b).sum()) / den if den > 0 else 0.0

    gr, gw = grad(ref.feat.astype(np.float32)), grad(warped)
    shift = max(3, round(_BASELINE_SHIFT * max(shape)))
    aligned = ncc(gr, gw, valid)
    base = -1.0
    for sy, sx in ((shift, 0), (0, shift), (shift, -shift), (-shift, -shift)):
        gs = np.roll(gw, (sy, sx), axis=(0, 1))
        vs = valid & np.roll(valid, (sy, sx), axis=(0, 1))
        base = max(base, ncc(gr, gs, vs))
    gain = (aligned - base) / (1.0 - base) if base < 1.0 else 0.0
    return float(np.clip(gain, 0.0, 1.0))


def _use_mask(
    mask: np.ndarray | None, exclude: np.ndarray | None, shape: tuple[int, int]
) -> np.ndarray | None:
    use = None
    for arr, name, invert in ((mask, "mask", False), (exclude, "exclude", True)):
        if arr is None:
            continue
        arr = np.asarray(arr)
        if arr.shape != shape:
            raise AlignmentError(
                f"{name} must have the reference's height and width {shape}; got {arr.shape}."
            )
        arr = arr.astype(bool)
        arr = ~arr if invert else arr
        use = arr if use is None else (use & arr)
    if use is not None and use.mean() < 0.05:
        raise AlignmentError(
            "The mask leaves less than 5 % of the reference to align on; mark a larger area "
            "to use (or a smaller area to exclude)."
        )
    return use


def _mask_level(use: np.ndarray | None, s: float, shape: tuple[int, int]) -> np.ndarray | None:
    """Use-mask at a level (uint8 0/255), a pixel kept only when fully inside."""
    if use is None:
        return None
    m = cv2.resize(use.astype(np.uint8) * 255, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return np.where(m >= 250, 255, 0).astype(np.uint8)


def _failed(
    ref_shape: tuple[int, ...],
    moving: np.ndarray,
    reason: str,
    model: str,
    n_matches: int = 0,
    n_inliers: int = 0,
) -> Alignment:
    m = _fit_frame(ref_shape[:2], moving.shape[:2])
    return Alignment(
        m, None, None, 0.0, math.nan, "identity", reason, n_matches, n_inliers, model,
        _source=(moving, ref_shape),
    )  # fmt: skip


def align(
    reference: np.ndarray,
    moving: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    model: str = "auto",
    refine: bool = True,
    work_long_side: int = 1024,
) -> Alignment:
    """Register ``moving`` onto ``reference`` (two photos of the same skin).

    Parameters
    ----------
    reference : ndarray
        H×W×3 (RGB), H×W×4 or H×W photo that defines the frame; uint8, uint16 or float
        in [0, 1].
    moving : ndarray
        The photo to align; any size (it need not match the reference).
    mask : ndarray of bool, optional
        Reference H×W; True marks pixels to **use** for the alignment (same polarity as
        the region of interest in ``measure(..., mask=...)``). Feature matching, the ECC
        refinement and the checks ignore the other pixels.
    exclude : ndarray of bool, optional
        Reference H×W; True marks pixels to **leave out**, e.g. the treated area that
        changes between sessions. Combined with ``mask`` as ``mask & ~exclude``.
    model : {"auto", "similarity", "affine", "homography"}
        The transform sought. A similarity (rotation, uniform scale, shift) does not
        distort the skin; an affine adds shear and unequal scales; a homography models
        a change of viewpoint over a flat patch. ``"auto"`` (default) fits a similarity
        and, only when the checks do not confirm it, a homography too, and keeps the
        one the checks prefer (see Notes); ``Alignment.model`` says which.
    refine : bool
        Refine the feature start with ECC and the tile correction (recommended); without
        it the feature transform is only checked.
    work_long_side : int
        Long side (pixels) of the grey copies used for the tile checks; features and ECC
        use half of it. A photo more than twice as large is reduced by a whole factor
        (exact and fast area averaging), so its copy may be a little smaller.

    Returns
    -------
    Alignment
        On failure (``confidence`` 0, method ``"identity"``): the fallback transform (the
        moving photo scaled to fit the reference frame, centred; the identity for equal
        sizes), never a guessed warp.

    Raises
    ------
    AlignmentError
        If an image is not a 2-D grey or 3-D colour array of at least 16×16 pixels, the
        model is unknown, a mask has the wrong shape or leaves < 5 % of the image.

    Notes
    -----
    Confidence combines four pieces of evidence. With ``n`` feature inliers (taken as 0
    when the features failed and ECC alone found the transform), ``k`` of ``u`` tile
    checks agreeing, the ECC correlation ``ρ`` and the gradient gain ``g`` (correlation
    of gradient magnitudes minus the best of four shifted baselines, over one minus that
    baseline)::

        f_feat  = clip((n - 8) / (40 - 8), 0, 1)
        f_check = clip(((k + 1) / (u + 2) - 0.3) / 0.5, 0, 1)
        f_ecc   = clip((ρ - 0.2) / 0.4, 0, 1)       (1 when ECC did not run)
        f_grad  = clip(g / 0.3, 0, 1)
        confidence = (0.7 + 0.3 f_feat) · (f_check · f_ecc · f_grad)^(1/3)

    The checks weigh most because they test the result directly: an unrelated pair gets
    no agreeing tile and no gradient gain, whatever chance matches RANSAC found. A
    transform is rejected outright (fallback, confidence 0) when it would mirror the
    photo, scale it outside 0.5–2× (after allowing for the two resolutions), stretch it
    (σ1/σ2 above 1.05, 1.3 or 1.6 for the three models), cover less than 15 % of the
    reference, or when the confidence is below 0.3. The threshold for
    :attr:`Alignment.ok` is ``CONFIDENCE_OK = 0.5``.

    A transform that the local checks contradict is capped at confidence 0.45 (not
    ``ok``, but still returned, with a reason that says so): when at least
    ``max(2, 10 %)`` of the usable tiles have a sharp correlation peak (PSR ≥ 8) more
    than one work pixel away from zero shift, or when the residual of the agreeing tiles
    exceeds one work pixel. This is what a similarity fitted to a perspective view gives.

    ``model="auto"`` keeps the similarity without further work when it is ``ok``, no
    tile contradicts it, at least 80 % of the usable tiles agree and ``residual_px ≤
    0.25``. Otherwise (and when at least 8 features matched) a homography is fitted to
    the same matches (MAGSAC++), refined with ECC (``MOTION_HOMOGRAPHY``) and checked
    the same way. It replaces the similarity only when its confidence is higher by
    more than 0.1, or, when the two are within 0.1 and it is ``ok``, its residual is
    below 70 % of the similarity's: this penalty for its four extra parameters keeps
    a similarity pair a similarity.

    ``residual_px`` (reference pixels) is the RMS distance between where the agreeing
    tiles are and where the final transform puts them (with the degrees-of-freedom
    correction): it includes what the model cannot follow (a face is not flat) and the
    noise of the tile shifts (a few hundredths of a work pixel on sharp photos; blur
    makes the Lucas-Kanade shifts underestimate).

    Time for two 12 MP photos on 2 cores: about 0.15-0.17 s for a similarity pair,
    0.22-0.3 s when ``"auto"`` also fits a homography (``bench/bench_align.py``);
    the full-resolution warp (``Alignment.warped``, another ~0.1 s) is made only when it
    is first used.

    References
    ----------
    .. [1] D. G. Lowe, "Distinctive image features from scale-invariant keypoints",
       Int. J. Comput. Vis. 60 (2004) 91-110. doi:10.1023/B:VISI.0000029664.99615.94
    .. [2] K. Zuiderveld, "Contrast limited adaptive histogram equalization", Graphics
       Gems IV (1994) 474-485. doi:10.1016/B978-0-12-336156-1.50061-6
    .. [3] M. A. Fischler and R. C. Bolles, "Random sample consensus", Commun. ACM 24
       (1981) 381-395. doi:10.1145/358669.358692
    .. [4] D. Barath, J. Noskova, M. Ivashechkin and J. Matas, "MAGSAC++, a fast,
       reliable and accurate robust estimator", CVPR 2020, 1304-1312.
       doi:10.1109/CVPR42600.2020.00138
    .. [5] G. D. Evangelidis and E. Z. Psarakis, "Parametric image alignment using
       enhanced correlation coefficient maximization", IEEE TPAMI 30 (2008) 1858-1865.
       doi:10.1109/TPAMI.2008.113
    .. [6] C. D. Kuglin and D. C. Hines, "The phase correlation image alignment method",
       Proc. IEEE Int. Conf. Cybernetics and Society (1975) 163-165.
    .. [7] C. Knapp and G. Carter, "The generalized correlation method for estimation of
       time delay", IEEE Trans. ASSP 24 (1976) 320-327. doi:10.1109/TASSP.1976.1162830
       (frequency weightings between plain and phase correlation).
    .. [8] S. Baker and I. Matthews, "Lucas-Kanade 20 years on: a unifying framework",
       Int. J. Comput. Vis. 56 (2004) 221-255. doi:10.1023/B:VISI.0000011205.11775.fd
    """
    reference = _check_image(reference, "reference")
    moving = _check_image(moving, "moving")
    if model != "auto" and model not in MODELS:
        raise AlignmentError(
            f"Unknown model {model!r}; choose 'auto' or one of {', '.join(MODELS)}."
        )
    if int(work_long_side) < 64:
        raise AlignmentError(f"work_long_side must be at least 64 pixels; got {work_long_side}.")
    use = _use_mask(mask, exclude, reference.shape[:2])
    ref = _Level.build(reference, int(work_long_side))
    return _align_levels(ref, moving, use, model, refine, int(work_long_side))


def _prepare_reference(reference: np.ndarray, *, work_long_side: int = 1024) -> _Level:
    """The reference's grey copies for :func:`_align_prepared` (reusable for many photos).

    Its SIFT keypoints and local-contrast copies are computed on first use and kept.
    """
    return _Level.build(_check_image(reference, "reference"), int(work_long_side))


def _align_prepared(ref: _Level, moving: np.ndarray) -> Alignment:
    """:func:`align` with the defaults, against a reference from :func:`_prepare_reference`.

    Gives the same result as ``align(reference, moving)`` without repeating the
    reference's half of the work (grey copies, keypoints, local contrast) per photo.
    """
    moving = _check_image(moving, "moving")
    return _align_levels(ref, moving, None, "auto", True, ref.work_long_side)


@dataclass(frozen=True)
class _Checks:
    """What the local checks of one attempt found (for choosing the model)."""

    n_usable: int = 0
    n_agree: int = 0
    n_contra: int = 0
    residual_work: float = math.nan


def _align_levels(
    ref: _Level,
    moving: np.ndarray,
    use: np.ndarray | None,
    model: str,
    refine: bool,
    work_long_side: int,
) -> Alignment:
    """The body of :func:`align` once the reference's level is built and inputs checked."""
    mov = _Level.build(moving, work_long_side)
    use_feat = _mask_level(use, ref.s_feat, ref.feat.shape)
    if use_feat is not None:
        # Keypoint descriptors reach about 8 pixels: keep them off the excluded area.
        use_feat = cv2.erode(use_feat, np.ones((9, 9), np.uint8))
    use_work = _mask_level(use, ref.s_work, ref.work.shape)
    matches = _matches(ref, mov, use_feat)
    args = (ref, mov, moving, use_feat, use_work, matches, refine)
    if model != "auto":
        return _attempt(*args, model)[0]

    first, checks = _attempt(*args, "similarity")
    if _verified(first, checks):
        return first  # the common case: no second fit
    if len(matches[0]) < _MIN_INLIERS:
        return first  # a homography needs a feature start (ECC alone is not trusted)
    second, _ = _attempt(*args, "homography", ecc_alone=False)
    return second if _prefer(second, first) else first


def _verified(result: Alignment, checks: _Checks) -> bool:
    """True when a similarity result needs no second model: ok, the local checks agree
    (at least 80 %, none contradicts) and the residual is at most 0.5 px."""
    return (
        result.ok
        and checks.n_contra == 0
        and checks.n_agree >= _AUTO_MIN_AGREE * checks.n_usable
        and result.residual_px <= _AUTO_MAX_RESIDUAL
    )


def _prefer(second: Alignment, first: Alignment) -> bool:
    """True when the more flexible model's result should replace the first one.

    The second must be clearly more confident (by more than ``_AUTO_PENALTY``), or as
    confident, usable and with a residual below 70 % of the first's.
    """
    if second.method == "identity":
        return False
    if second.confidence > first.confidence + _AUTO_PENALTY:
        return True
    if not second.ok or second.confidence < first.confidence - _AUTO_PENALTY:
        return False
    if not np.isfinite(first.residual_px):
        return bool(np.isfinite(second.residual_px))
    return bool(second.residual_px < _AUTO_RESIDUAL_GAIN * first.residual_px)


def _attempt(
    ref: _Level,
    mov: _Level,
    moving: np.ndarray,
    use_feat: np.ndarray | None,
    use_work: np.ndarray | None,
    matches: tuple[np.ndarray, np.ndarray],
    refine: bool,
    model: str,
    *,
    ecc_alone: bool = True,
) -> tuple[Alignment, _Checks]:
    """Fit, refine and check one model; ``ecc_alone`` allows ECC without a feature start."""
    s_ref_f, s_mov_f = _scale_matrix(ref.s_feat), _scale_matrix(mov.s_feat)
    s_ref_w, s_mov_w = _scale_matrix(ref.s_work), _scale_matrix(mov.s_work)
    none = _Checks()

    n_matches = len(matches[0])
    thr = max(1.0, _RANSAC_FRACTION * max(ref.feat.shape))
    m_feat, n_inl = _robust_fit(matches[0], matches[1], model, thr)
    method = "sift+ransac"
    why_not = None
    if m_feat is None or n_inl < _MIN_INLIERS:
        why_not = (
            f"Too few matching features ({n_inl} consistent of {n_matches} matched, "
            f"{_MIN_INLIERS} needed): these photos may not show the same skin."
        )
        m_full = _fit_frame(ref.shape, mov.shape)
    else:
        m_full = np.linalg.inv(s_ref_f) @ m_feat @ s_mov_f
        why_not = _plausibility(m_full, ref.shape, mov.shape, model)
        if why_not is not None:
            why_not += " These photos may not show the same skin."
            m_full = _fit_frame(ref.shape, mov.shape)
    if why_not is not None and (not refine or not ecc_alone):
        return _failed(ref.shape, moving, why_not, model, n_matches, n_inl), none
    from_features = why_not is None

    rho = math.nan
    if refine:
        start = m_full
        w0 = s_mov_f @ np.linalg.inv(m_full) @ np.linalg.inv(s_ref_f)
        got = _ecc(ref.lcn("feat"), mov.lcn("feat"), use_feat, w0, model, _ECC_CRITERIA)
        if got is not None:
            w, rho = got
            m_full = np.linalg.inv(s_ref_f) @ np.linalg.inv(w) @ s_mov_f
            if model == "similarity":
                m_full = _to_similarity(m_full, mov.shape)
        if not math.isnan(rho):
            # Distrust ECC if it wandered far from the feature start.
            hm, wm = mov.shape
            grid = np.array([[0, 0], [wm - 1, 0], [0, hm - 1], [wm - 1, hm - 1]], float)
            drift = np.abs(_apply(m_full, grid) - _apply(start, grid)).max() * ref.s_work
            if from_features and drift > _ECC_MAX_DRIFT_FRACTION * max(ref.work.shape):
                m_full, rho = start, math.nan
            else:
                method = "ecc" if not from_features else "sift+ransac+ecc"
        if not from_features:
            if math.isnan(rho) or rho < _ECC_MIN_RHO:
                return _failed(ref.shape, moving, why_not, model, n_matches, n_inl), none
            if _plausibility(m_full, ref.shape, mov.shape, model) is not None:
                return _failed(ref.shape, moving, why_not, model, n_matches, n_inl), none

    overlap = _overlap(m_full, ref.shape, mov.shape)
    if overlap < _MIN_OVERLAP:
        reason = (
            f"The photos would overlap on only {overlap:.0%} of the reference: "
            "they may not show the same skin."
        )
        return _failed(ref.shape, moving, reason, model, n_matches, n_inl), none

    # Tile checks at the work scale; their shifts also give a last fine correction.
    w_work = s_mov_w @ np.linalg.inv(m_full) @ np.linalg.inv(s_ref_w)
    n_usable, n_agree, n_contra, res_work, corr = _tile_checks(
        ref, mov, w_work, None if use_work is None else use_work > 0, model, refine
    )
    checks = _Checks(n_usable, n_agree, n_contra, res_work)
    if corr is not None and refine:
        m_full = np.linalg.inv(s_ref_w) @ corr @ s_ref_w @ m_full
    w_feat = s_mov_f @ np.linalg.inv(m_full) @ np.linalg.inv(s_ref_f)
    gain = _gradient_gain(ref, mov, w_feat, use_feat)

    f_feat = float(np.clip((n_inl - _MIN_INLIERS) / (_FULL_INLIERS - _MIN_INLIERS), 0, 1))
    if not from_features:
        f_feat = 0.0
    frac = (n_agree + 1) / (n_usable + 2)
    f_check = float(np.clip((frac - 0.3) / 0.5, 0, 1))
    f_ecc = 1.0 if math.isnan(rho) else float(np.clip((rho - 0.2) / 0.4, 0, 1))
    f_grad = float(np.clip(gain / 0.3, 0, 1))
    confidence = float((0.7 + 0.3 * f_feat) * (f_check * f_ecc * f_grad) ** (1 / 3))
    residual = res_work / ref.s_work if n_agree else math.nan
    # Local checks that contradict the transform (sharp offsets of over a work pixel), or
    # a residual over a work pixel among those that agree: not verified, so not "ok".
    offset = n_contra >= max(_MIN_CONTRA, _CONTRA_SHARE * n_usable)
    offset |= bool(np.isfinite(res_work) and res_work > 1.0)
    if offset:
        confidence = min(confidence, _CONFIDENCE_CAPPED)

    if not from_features and confidence < CONFIDENCE_OK:
        return _failed(ref.shape, moving, why_not, model, n_matches, n_inl), checks
    counts = (n_matches, n_inl, n_usable, n_agree)
    scores = (f_feat, f_check, f_ecc, f_grad)
    if confidence < _CONFIDENCE_FAIL:
        reason = _reason(counts, residual, from_features, scores, failed=True)
        return _failed(ref.shape, moving, reason, model, n_matches, n_inl), checks
    reason = _reason(counts, residual, from_features, scores, failed=False)
    if offset:
        reason = _offset_reason(counts, n_contra, residual, model)

    if model == "similarity":
        m_full = _to_similarity(m_full, mov.shape)
    # The warp is made on first use of ``warped`` / ``valid`` (see Alignment's notes).
    result = Alignment(
        m_full, None, None, confidence, residual, method, reason, n_matches, n_inl, model,
        _source=(moving, ref.shape),
    )  # fmt: skip
    return result, checks


def _offset_reason(
    counts: tuple[int, int, int, int], n_contra: int, residual: float, model: str
) -> str:
    """The sentence for a transform that the local checks do not confirm to a pixel."""
    _, _, n_usable, n_agree = counts
    what = f"{n_agree} of {n_usable} local checks agree"
    if n_contra:
        what += f" but {n_contra} find the photos still offset by more than a pixel"
    else:
        what += f" but with an error of about {residual:.2g} px"
    return (
        f"The {model} transform found does not fit everywhere ({what}): check the "
        "overlay, or mark point pairs, before trusting the comparison."
    )


def _reason(
    counts: tuple[int, int, int, int],
    residual: float,
    from_features: bool,
    scores: tuple[float, float, float, float],
    failed: bool,
) -> str:
    """One sentence: what agreed, the estimated error, and the weakest evidence."""
    n_matches, n_inl, n_usable, n_agree = counts
    words = (
        "few features match",
        "the local checks disagree",
        "the aligned photos correlate poorly",
        "fine detail confirms it only weakly",
    )
    worst_score, worst = min(zip(scores, words, strict=True))
    checks = f"{n_agree} of {n_usable} local checks agree"
    if failed:
        return (
            f"The best transform found is not confirmed ({worst}; {checks}): these photos "
            "may not show the same skin (or one is too blurred), so they were not aligned."
        )
    if from_features:
        lead = f"{n_inl} of {n_matches} feature matches fit one transform and {checks}"
    else:
        lead = f"Few features matched; intensity alignment converged and {checks}"
    if np.isfinite(residual):
        err = "under 0.01" if residual < 0.01 else f"{residual:.2g}"
        lead += f" (estimated error {err} px)"
    if worst_score >= 0.75:
        return f"{lead}."
    return f"{lead}, but {worst}: check the overlay before trusting the comparison."


# ---------------------------------------------------------------------------------------
# Manual alignment from point pairs
# ---------------------------------------------------------------------------------------


def align_from_points(
    reference_points: Sequence[Sequence[float]] | np.ndarray,
    moving_points: Sequence[Sequence[float]] | np.ndarray,
    reference: np.ndarray,
    moving: np.ndarray,
    *,
    model: str | None = None,
) -> Alignment:
    """Align from point pairs marked by the user (e.g. the same mole in both photos).

    Parameters
    ----------
    reference_points, moving_points : array_like, shape (N, 2)
        ``(x, y)`` in full-resolution pixels of each photo; pair ``i`` is the same spot.
    reference, moving : ndarray
        The two photos (the reference defines the frame).
    model : {"similarity", "affine", "homography"}, optional
        Default ``"similarity"``. A similarity needs 3 pairs (2 fix it, the third checks
        it), an affine 3, a homography 4.

    Returns
    -------
    Alignment
        ``method="manual"``; ``residual_px`` is the RMS distance between the reference
        points and the mapped moving points.

    Raises
    ------
    AlignmentError
        Fewer than 3 pairs (4 for a homography), unequal counts, non-finite values,
        repeated or collinear points.

    Notes
    -----
    Least squares: a similarity in closed form [1]_ (without reflection), an affine by
    linear least squares, a homography by the normalised direct linear transform [2]_.
    With ``tol = max(2 px, 0.5 % of the reference diagonal)`` (a click is rarely more
    precise than that) the confidence is ``1 / (1 + (rms / tol)²)``; it is set to 0.5
    when the pairs fix the model exactly (3 pairs for an affine, 4 for a homography:
    nothing is left to check) and multiplied by 0.2 for an implausible transform (a
    mirror image, a stretch, a scale outside 0.5–2×), which usually means the points
    were marked in a different order in the two photos.

    References
    ----------
    .. [1] S. Umeyama, "Least-squares estimation of transformation parameters between
       two point patterns", IEEE TPAMI 13 (1991) 376-380. doi:10.1109/34.88573
    .. [2] R. I. Hartley, "In defense of the eight-point algorithm", IEEE TPAMI 19 (1997)
       580-593. doi:10.1109/34.601246
    """
    reference = _check_image(reference, "reference")
    moving = _check_image(moving, "moving")
    model = "similarity" if model is None else model
    if model not in MODELS:
        raise AlignmentError(f"Unknown model {model!r}; choose one of {', '.join(MODELS)}.")
    ref_pts = np.asarray(reference_points, dtype=np.float64)
    mov_pts = np.asarray(moving_points, dtype=np.float64)
    for pts, name in ((ref_pts, "reference_points"), (mov_pts, "moving_points")):
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise AlignmentError(f"{name} must be a list of (x, y) pairs; got shape {pts.shape}.")
        if not np.all(np.isfinite(pts)):
            raise AlignmentError(f"{name} holds a missing or infinite coordinate.")
    if len(ref_pts) != len(mov_pts):
        raise AlignmentError(
            f"Got {len(ref_pts)} reference points and {len(mov_pts)} moving points; "
            "mark each spot once in both photos."
        )
    need = 4 if model == "homography" else 3
    if len(ref_pts) < need:
        raise AlignmentError(
            f"{need} point pairs are needed for a {model} transform (got {len(ref_pts)}); "
            f"mark {need - len(ref_pts)} more spot(s) visible in both photos."
        )
    for pts, name in ((ref_pts, "reference"), (mov_pts, "moving")):
        c = pts - pts.mean(axis=0)
        sv = np.linalg.svd(c, compute_uv=False)
        if sv[0] == 0 or sv[1] / sv[0] < 1e-3:
            raise AlignmentError(
                f"The {name} points lie on one line (or on one spot); choose spots spread "
                "over the area, not all in a row."
            )

    if model == "similarity":
        m = _fit_similarity(mov_pts, ref_pts)
    elif model == "affine":
        m = _fit_affine(mov_pts, ref_pts)
    else:
        m = _fit_homography(mov_pts, ref_pts)
    rms = float(np.sqrt(np.mean(np.sum((_apply(m, mov_pts) - ref_pts) ** 2, axis=1))))
    hr, wr = reference.shape[:2]
    tol = max(2.0, 0.005 * math.hypot(hr, wr))
    exact = 2 * len(ref_pts) <= _DOF[model]
    n = len(ref_pts)
    if exact:
        confidence = CONFIDENCE_OK
        reason = (
            f"{n} point pairs fix a {model} transform exactly, so nothing can be checked: "
            "add a point to verify."
        )
    else:
        confidence = 1.0 / (1.0 + (rms / tol) ** 2)
        reason = f"The {n} marked point pairs agree within {rms:.1f} px (RMS)."
        if confidence < CONFIDENCE_OK:
            reason = (
                f"The {n} marked point pairs disagree by {rms:.1f} px (RMS): check that "
                "each pair marks the same spot."
            )
    bad = _plausibility(m, reference.shape[:2], moving.shape[:2], model)
    if bad is not None:
        confidence *= 0.2
        reason = f"{bad} Check the order of the points."
    warped, valid = warp(moving, m, reference.shape)
    return Alignment(m, warped, valid, float(confidence), rms, "manual", reason, n, n, model)
