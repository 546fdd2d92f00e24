"""Repeatability of the metrics and the smallest change worth calling a change.

A phone photo is never taken twice the same way: the hand turns a little, the distance and
the light change, the camera blurs, compresses and adds noise. A metric that moves by less
than this capture noise has not measurably changed. This module

* simulates re-captures of one photo (:func:`recapture`, with a :class:`Jitter`),
  measures them exactly as the product does (:func:`study_pipeline`: alignment, grey-card
  white balance, every metric) or with a custom measure (:func:`study`), and reports the
  within-subject spread per metric (:class:`Repeatability`, with the 95 % interval of
  the SD, :func:`sd_interval`);
* pools a client's own replicate photos (:func:`within_subject_sd`,
  :func:`client_limits`);
* holds the default limits, measured by :func:`run_standard` (:data:`DEFAULT_LIMITS`
  without a grey card, :data:`CARD_LIMITS` with one, from ``data/repeatability.json``;
  see ``docs/repeatability.md``) and the rule :func:`is_measurable`.

The limit is the repeatability coefficient of Bland & Altman: two measurements of an
unchanged subject differ by less than :math:`1.96\\sqrt{2}\\,s_w \\approx 2.77\\,s_w` in
95 % of cases, where :math:`s_w` is the within-subject standard deviation.

Command line::

    python -m progress.repeatability IMAGE... [--n 20] [--seed 0] [--box X0,Y0,X1,Y1]
                                     [--card-box X0,Y0,X1,Y1] [--scale PX_PER_MM]
                                     [--no-align] [--out FILE]

    # the shipped defaults:
    python -m progress.repeatability --standard \\
        sample_images/2026-03-02_session-01_baseline.jpg --n 30 --seed 0 \\
        --out src/progress/data/repeatability.json

References
----------
.. [1] Bland JM, Altman DG. Statistical methods for assessing agreement between two
       methods of clinical measurement. Lancet 1986;327(8476):307-310.
       doi:10.1016/S0140-6736(86)90837-8
.. [2] Bland JM, Altman DG. Measurement error. BMJ 1996;313(7059):744.
       doi:10.1136/bmj.313.7059.744
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from progress.errors import AlignmentError, RegionError

__all__ = [
    "ASTRONAUT_CARD",
    "ASTRONAUT_FACE_BOX",
    "CARD_LIMITS",
    "DEFAULT_LIMITS",
    "NO_JITTER",
    "REPEATABILITY_FACTOR",
    "STANDARD_NOTE",
    "STANDARD_RULE",
    "Jitter",
    "Repeatability",
    "client_limits",
    "combine_max",
    "default_limits",
    "is_measurable",
    "load_limits",
    "main",
    "pool",
    "recapture",
    "run_standard",
    "save_limits",
    "sd_interval",
    "standard_setups",
    "study",
    "study_pipeline",
    "within_subject_sd",
]

#: Bland & Altman's repeatability coefficient factor, 1.96 · √2 ≈ 2.77.
REPEATABILITY_FACTOR = 1.96 * math.sqrt(2.0)

_DATA_FILE = "repeatability.json"


@dataclass(frozen=True)
class Repeatability:
    """Repeatability of one metric.

    Attributes
    ----------
    metric : str
    mean : float
        Mean of the replicate values.
    sd_within : float
        Within-subject standard deviation :math:`s_w` (ddof = 1).
    cv_percent : float
        :math:`100\\, s_w / |\\bar x|` (NaN if the mean is 0).
    limit : float
        Smallest detectable change, :math:`1.96\\sqrt 2\\, s_w \\approx 2.77\\, s_w`
        (the repeatability coefficient of Bland & Altman 1986, 1996).
    n : int
        Number of replicates that gave a finite value.
    sd_low, sd_high : float
        95 % confidence interval of :math:`s_w` (chi-square with the estimate's degrees of
        freedom ν, normal errors assumed): :math:`s_w\\sqrt{\\nu/\\chi^2_{0.975,\\nu}}` to
        :math:`s_w\\sqrt{\\nu/\\chi^2_{0.025,\\nu}}`. NaN when unknown.
    offset : float
        Mean of the re-captures minus the original photo's own value, measured as the
        product measures a reference photo (:func:`study_pipeline` only; NaN otherwise):
        the systematic difference between an aligned later photo and the unwarped
        reference.
    """

    metric: str
    mean: float
    sd_within: float
    cv_percent: float
    limit: float
    n: int
    sd_low: float = math.nan
    sd_high: float = math.nan
    offset: float = math.nan


@dataclass(frozen=True)
class Jitter:
    """How much one re-capture may differ from another (each drawn uniformly).

    Attributes
    ----------
    rotation_deg : float
        Rotation in ± degrees about the image centre.
    scale : float
        Relative zoom, factor in 1 ± ``scale``.
    shift_px : float
        Shift in ± pixels along each axis (pixels of the image given).
    exposure : float
        Exposure gain in 1 ± ``exposure``, applied to linear light.
    wb : float
        White-balance gain per channel in 1 ± ``wb``, applied to linear light.
    blur_sigma_px : (float, float)
        Range of the Gaussian blur σ in pixels (0 = sharp).
    jpeg_quality : (int, int) or None
        Range of the JPEG quality (1–100); None = no JPEG compression.
    noise_sd : float
        Standard deviation of Gaussian noise, independent per pixel and channel, in
        8-bit units (0–255 scale).

    Notes
    -----
    The defaults are a guess at a careful hand-held phone re-capture (same room, same
    phone, a framing guide); :data:`NO_JITTER` switches everything off.
    """

    rotation_deg: float = 3.0
    scale: float = 0.05
    shift_px: float = 20.0
    exposure: float = 0.10
    wb: float = 0.03
    blur_sigma_px: tuple[float, float] = (0.0, 0.8)
    jpeg_quality: tuple[int, int] | None = (80, 95)
    noise_sd: float = 2.0

    def __post_init__(self) -> None:
        for name in ("rotation_deg", "scale", "shift_px", "exposure", "wb", "noise_sd"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"Jitter.{name} must be a finite number ≥ 0, got {value!r}.")
        if self.scale >= 1 or self.exposure >= 1 or self.wb >= 1:
            raise ValueError("Jitter.scale, exposure and wb are fractions: keep them below 1.")
        lo, hi = self.blur_sigma_px
        if not (0 <= lo <= hi and math.isfinite(hi)):
            raise ValueError(
                f"Jitter.blur_sigma_px must be (low, high) with 0 ≤ low ≤ high, got "
                f"{self.blur_sigma_px!r}."
            )
        if self.jpeg_quality is not None:
            qlo, qhi = self.jpeg_quality
            if not (1 <= qlo <= qhi <= 100):
                raise ValueError(
                    f"Jitter.jpeg_quality must be (low, high) within 1–100 or None, got "
                    f"{self.jpeg_quality!r}."
                )

    @property
    def moves(self) -> bool:
        """True if this jitter can move the image (rotation, zoom or shift)."""
        return bool(self.rotation_deg or self.scale or self.shift_px)


#: No jitter at all: :func:`recapture` returns the image unchanged.
NO_JITTER = Jitter(0.0, 0.0, 0.0, 0.0, 0.0, (0.0, 0.0), None, 0.0)


# ------------------------------------------------------------------------- re-capture


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an H×W×3 colour image, got shape {rgb.shape}.")
    if rgb.dtype == np.uint8:
        return rgb
    if np.issubdtype(rgb.dtype, np.floating):
        if not np.all(np.isfinite(rgb)) or rgb.min() < 0 or rgb.max() > 1:
            raise ValueError("A float rgb image must hold finite values in [0, 1].")
        return rgb
    raise ValueError(f"rgb must be uint8 or float in [0, 1], got dtype {rgb.dtype}.")


def _srgb_to_linear(v: np.ndarray) -> np.ndarray:
    # IEC 61966-2-1
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0.0, 1.0)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)


def _similarity(rng: np.random.Generator, jitter: Jitter, shape: tuple[int, int]) -> np.ndarray:
    """A random similarity (3×3, original → re-capture pixel coordinates x, y)."""
    h, w = shape
    angle = math.radians(rng.uniform(-jitter.rotation_deg, jitter.rotation_deg))
    zoom = 1.0 + rng.uniform(-jitter.scale, jitter.scale)
    tx, ty = rng.uniform(-jitter.shift_px, jitter.shift_px, size=2)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    c, s = zoom * math.cos(angle), zoom * math.sin(angle)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    to_origin = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    back = np.array([[1.0, 0.0, cx + tx], [0.0, 1.0, cy + ty], [0.0, 0.0, 1.0]])
    return back @ rot @ to_origin


def recapture(
    rgb: np.ndarray, rng: np.random.Generator, jitter: Jitter = Jitter()
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate taking the same photo again.

    Parameters
    ----------
    rgb : ndarray
        H×W×3 sRGB image, uint8 or float in [0, 1].
    rng : numpy.random.Generator
        Source of randomness (``np.random.default_rng(seed)``).
    jitter : Jitter
        How much the re-capture may differ.

    Returns
    -------
    image : ndarray
        The re-capture, same shape as ``rgb``; uint8 if ``rgb`` is uint8 or JPEG was
        applied, else float64 in [0, 1] (no quantisation).
    matrix : ndarray
        3×3 homogeneous matrix mapping pixel coordinates ``(x, y, 1)`` (x = column,
        y = row) of the re-capture to those of the original, i.e. the warp that puts it
        back: ``cv2.warpAffine(image, matrix[:2], (W, H))``.

    Raises
    ------
    ValueError
        If ``rgb`` is not an H×W×3 uint8 or [0, 1] float image.

    Notes
    -----
    Order of the simulated effects: pose (similarity about the image centre, Lanczos
    resampling; borders reflected), exposure and white balance (gains on linear light), optical blur
    (Gaussian), sensor noise (Gaussian, in 8-bit units), clipping to [0, 1], JPEG.
    All random numbers are drawn in a fixed order, so one seed gives one sequence
    whatever the jitter.
    """
    rgb = _check_rgb(rgb)
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator (np.random.default_rng(seed)).")
    uint8_in = rgb.dtype == np.uint8
    img = rgb.astype(np.float64) / 255.0 if uint8_in else rgb.astype(np.float64)
    h, w = img.shape[:2]

    forward = _similarity(rng, jitter, (h, w))
    gain = (1.0 + rng.uniform(-jitter.exposure, jitter.exposure)) * (
        1.0 + rng.uniform(-jitter.wb, jitter.wb, size=3)
    )
    sigma = rng.uniform(*jitter.blur_sigma_px)
    quality = (
        None
        if jitter.jpeg_quality is None
        else int(rng.integers(jitter.jpeg_quality[0], jitter.jpeg_quality[1] + 1))
    )

    if not np.allclose(forward, np.eye(3)):
        # Lanczos, not bilinear: a camera samples the scene afresh, it does not low-pass it
        # the way bilinear interpolation does (a half-pixel bilinear shift alone lowers the
        # GLCM contrast of the sample photo by 13 %, Lanczos by < 0.1 %).
        img = cv2.warpAffine(
            img,
            forward[:2],
            (w, h),
            flags=cv2.INTER_LANCZOS4,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        img = np.clip(img, 0.0, 1.0)  # Lanczos overshoots a little at sharp edges
    if not np.allclose(gain, 1.0):
        img = _linear_to_srgb(_srgb_to_linear(img) * gain)
    if sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma)
    if jitter.noise_sd > 0:
        img = img + rng.normal(0.0, jitter.noise_sd / 255.0, size=img.shape)
    img = np.clip(img, 0.0, 1.0)

    if quality is not None:
        bgr = np.round(img[..., ::-1] * 255.0).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
            raise RuntimeError("JPEG encoding failed.")
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
    elif uint8_in:
        out = np.round(img * 255.0).astype(np.uint8)
    else:
        out = img
    return out, np.linalg.inv(forward)


def _warp_back(image: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp a re-capture back with its true matrix; return (warped, valid)."""
    h, w = image.shape[:2]
    if np.allclose(matrix, np.eye(3)):
        return image, np.ones((h, w), dtype=bool)
    warped = cv2.warpAffine(
        image, matrix[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    ones = np.ones((h, w), dtype=np.float32)
    there = cv2.warpAffine(ones, np.linalg.inv(matrix)[:2], (w, h), flags=cv2.INTER_LINEAR)
    back = cv2.warpAffine(there, matrix[:2], (w, h), flags=cv2.INTER_LINEAR)
    return warped, back >= 1.0 - 1e-4


# ------------------------------------------------------------------------------ study


def _default_measure() -> Callable[..., Mapping[str, float]]:
    return importlib.import_module("progress.metrics").measure


def _default_align() -> Callable[..., Any]:
    return importlib.import_module("progress.registration").align


def sd_interval(sd: float, dof: int, *, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of a standard deviation estimated with ``dof`` degrees of freedom.

    Parameters
    ----------
    sd : float
        The estimate.
    dof : int
        Its degrees of freedom (n − 1 for one group; Σ (n_g − 1) when pooled).
    level : float
        Confidence level in (0, 1).

    Returns
    -------
    (float, float)
        :math:`\\left(s\\sqrt{\\nu/\\chi^2_{(1+c)/2,\\nu}},\\;
        s\\sqrt{\\nu/\\chi^2_{(1-c)/2,\\nu}}\\right)`; NaNs when ``dof < 1`` or ``sd``
        is not finite.

    Notes
    -----
    Exact for normally distributed errors; heavier tails widen the true interval.

    Examples
    --------
    >>> [round(v, 3) for v in sd_interval(1.0, 29)]
    [0.796, 1.344]
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}.")
    if dof < 1 or not math.isfinite(sd):
        return math.nan, math.nan
    from scipy.stats import chi2

    lo = sd * math.sqrt(dof / chi2.ppf((1 + level) / 2, dof))
    hi = sd * math.sqrt(dof / chi2.ppf((1 - level) / 2, dof))
    return float(lo), float(hi)


def _summarise(
    metric: str, values: Sequence[float], *, reference: float = math.nan
) -> Repeatability:
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    mean = float(x.mean()) if n else math.nan
    sd = float((x - x[0]).std(ddof=1)) if n >= 2 else math.nan  # shifted: exact 0 for ties
    cv = 100.0 * sd / abs(mean) if n >= 2 and mean != 0 else math.nan
    lo, hi = sd_interval(sd, n - 1)
    return Repeatability(
        metric, mean, sd, cv, REPEATABILITY_FACTOR * sd, n, lo, hi, mean - reference
    )


def study(
    rgb: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    n: int = 12,
    jitter: Jitter = Jitter(),
    seed: int = 0,
    measure: Callable[..., Mapping[str, float]] | None = None,
    align: Callable[..., Any] | bool | None = None,
    scale_px_per_mm: float | None = None,
) -> dict[str, Repeatability]:
    """Measure each metric's capture repeatability on simulated re-captures of one photo.

    Parameters
    ----------
    rgb : ndarray
        H×W×3 photo (uint8 for the library's ``measure``).
    mask : ndarray, optional
        H×W bool region of interest in ``rgb``'s frame (default: the whole photo).
    n : int
        Number of re-captures (≥ 2).
    jitter : Jitter
        How much each re-capture differs.
    seed : int
        Seed of the random generator.
    measure : callable, optional
        ``measure(rgb, *, mask, scale_px_per_mm) -> {name: value}``; default
        :func:`progress.measure`.
    align : callable, False or None
        ``align(reference, moving, *, mask) -> Alignment`` (with ``warped`` and ``valid``);
        None uses :func:`progress.align`. False skips registration and warps each
        re-capture back with its *true* matrix: it isolates the photometric noise from
        the registration error.
    scale_px_per_mm : float, optional
        Passed on to ``measure``.

    Returns
    -------
    dict of str to Repeatability
        Per metric, over the re-captures that gave a finite value.

    Raises
    ------
    ValueError
        If ``n < 2``, or ``rgb`` / ``mask`` have the wrong shape or type.

    Notes
    -----
    Each re-capture is measured inside ``mask ∩ valid``, valid being where the re-capture,
    warped back, covers the original. A re-capture that cannot be aligned
    (:class:`~progress.errors.AlignmentError`) or leaves too small a region
    (:class:`~progress.errors.RegionError`) is dropped; ``Repeatability.n`` says how many
    counted. The original itself is not among the replicates. The within-subject SD is the
    SD (ddof = 1) of the replicate values; the limit is 2.77 times it [1]_ [2]_.

    References
    ----------
    .. [1] Bland JM, Altman DG. Lancet 1986;327(8476):307-310.
           doi:10.1016/S0140-6736(86)90837-8
    .. [2] Bland JM, Altman DG. Measurement error. BMJ 1996;313(7059):744.
           doi:10.1136/bmj.313.7059.744
    """
    rgb = _check_rgb(rgb)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise ValueError(f"n must be an integer ≥ 2 (replicates), got {n!r}.")
    h, w = rgb.shape[:2]
    if mask is None:
        mask = np.ones((h, w), dtype=bool)
    else:
        mask = np.asarray(mask)
        if mask.shape != (h, w) or mask.dtype != bool:
            raise ValueError(
                f"mask must be a bool array of shape {(h, w)}, got {mask.dtype} {mask.shape}."
            )
    measure = _default_measure() if measure is None else measure
    if align is None:
        align = _default_align()
    elif align is True:
        raise ValueError("align must be a callable, None (progress.align) or False (no alignment).")

    rng = np.random.default_rng(seed)
    collected: dict[str, list[float]] = {}
    for _ in range(n):
        moving, matrix = recapture(rgb, rng, jitter)
        try:
            if align is False:
                warped, valid = _warp_back(moving, matrix)
            else:
                result = align(rgb, moving, mask=mask)
                warped, valid = result.warped, np.asarray(result.valid, dtype=bool)
            values = measure(warped, mask=mask & valid, scale_px_per_mm=scale_px_per_mm)
        except (AlignmentError, RegionError):
            continue
        for name, value in values.items():
            collected.setdefault(name, []).append(float(value))
    return {name: _summarise(name, vals) for name, vals in collected.items()}


Box = tuple[int, int, int, int]


def _identity_alignment(rgb: np.ndarray) -> Any:
    """The alignment of a photo to itself (no resampling)."""
    align_mod = importlib.import_module("progress.registration")
    h, w = rgb.shape[:2]
    return align_mod.Alignment(
        np.eye(3), rgb, np.ones((h, w), dtype=bool), 1.0, 0.0, "identity", "The photo itself."
    )


def study_pipeline(
    rgb: np.ndarray,
    *,
    box: Box | None = None,
    roi: np.ndarray | None = None,
    card_box: Box | None = None,
    scale_px_per_mm: float | None = None,
    n: int = 20,
    jitter: Jitter = Jitter(),
    seed: int = 0,
    min_confidence: float | None = None,
) -> dict[str, Repeatability]:
    """Capture repeatability of every metric, measured exactly as the product measures.

    The photo becomes an area's reference (:meth:`progress.pipeline.Reference.from_photo`);
    each simulated re-capture goes through :func:`progress.pipeline.analyse` with that
    reference: automatic alignment (:func:`progress.align`), white balance on the grey
    card when there is one, every metric of :data:`progress.METRICS` in the reference's
    region ∩ the pixels the warp covers.

    Parameters
    ----------
    rgb : ndarray
        H×W×3 uint8 sRGB photo (the reference).
    box : (x0, y0, x1, y1), optional
        Region of interest in ``rgb``'s pixels, as the user would draw it.
    roi : ndarray, optional
        H×W bool region of interest, instead of ``box`` (e.g. a skin mask restricted to a
        face). Neither: the photo's skin mask (:func:`progress.skin_mask`).
    card_box : (x0, y0, x1, y1), optional
        Grey card in ``rgb``'s pixels (kept out of the region).
    scale_px_per_mm : float, optional
        Scale of the photo (None: the nominal analysis grid).
    n : int
        Number of re-captures (≥ 2).
    jitter : Jitter
        How much each re-capture differs.
    seed : int
        Seed of the random generator.
    min_confidence : float, optional
        Re-captures aligned with a lower confidence are left out (in the product they are
        flagged for manual alignment). Default :data:`progress.registration.CONFIDENCE_OK`.

    Returns
    -------
    dict of str to Repeatability
        Per metric, over the re-captures that were aligned and gave a finite value;
        ``offset`` is their mean minus the original photo's own value (measured as the
        reference photo is measured, unwarped).

    Raises
    ------
    ValueError
        If ``n < 2``, ``rgb`` is not H×W×3 uint8, ``box`` and ``roi`` are both given or
        ``roi`` has the wrong shape.

    Notes
    -----
    Unlike :func:`study`, this includes the registration error, the resampling of the
    warp and the colour normalisation, so its limits apply to what the dashboard
    compares. Limits as in :func:`study`: :math:`2.77\\,s_w` [1]_.

    References
    ----------
    .. [1] Bland JM, Altman DG. Measurement error. BMJ 1996;313(7059):744.
           doi:10.1136/bmj.313.7059.744
    """
    rgb = _check_rgb(rgb)
    if rgb.dtype != np.uint8:
        raise ValueError("study_pipeline needs a uint8 photo, as the product does.")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise ValueError(f"n must be an integer ≥ 2 (replicates), got {n!r}.")
    if box is not None and roi is not None:
        raise ValueError("Give the region as box or as roi, not both.")
    h, w = rgb.shape[:2]
    if roi is not None:
        roi = np.asarray(roi)
        if roi.shape != (h, w) or roi.dtype != bool:
            raise ValueError(
                f"roi must be a bool array of shape {(h, w)}, got {roi.dtype} {roi.shape}."
            )
    pipeline = importlib.import_module("progress.pipeline")
    if min_confidence is None:
        min_confidence = importlib.import_module("progress.registration").CONFIDENCE_OK

    reference = pipeline.Reference.from_photo(
        rgb, box=box, card_box=card_box, scale_px_per_mm=scale_px_per_mm
    )
    if roi is not None:
        region = roi.copy()
        if card_box is not None:
            region &= ~pipeline.roi_mask(rgb, box=card_box)
        reference = replace(reference, roi=region)
    own = pipeline.analyse(rgb, reference=reference, alignment=_identity_alignment(rgb)).metrics

    rng = np.random.default_rng(seed)
    collected: dict[str, list[float]] = {name: [] for name in own}
    for _ in range(n):
        moving, _ = recapture(rgb, rng, jitter)
        try:
            result = pipeline.analyse(moving, reference=reference)
        except (AlignmentError, RegionError):
            continue
        if result.alignment is not None and result.alignment.confidence < min_confidence:
            continue
        for name, value in result.metrics.items():
            collected.setdefault(name, []).append(float(value))
    return {
        name: _summarise(name, vals, reference=own.get(name, math.nan))
        for name, vals in collected.items()
    }


def pool(results: Sequence[Mapping[str, Repeatability]]) -> dict[str, Repeatability]:
    """Pool the studies of several photos (subjects) into one result per metric.

    The pooled within-subject variance is the degrees-of-freedom-weighted mean of the
    per-photo variances, :math:`s_w^2 = \\sum (n_i - 1) s_i^2 / \\sum (n_i - 1)`; the mean
    (and the offset) is weighted by :math:`n_i`; the CV is
    :math:`100\\,s_w / |\\text{pooled mean}|`; the confidence interval uses the pooled
    degrees of freedom :math:`\\sum (n_i - 1)`.
    """
    names: list[str] = []
    for r in results:
        names += [k for k in r if k not in names]
    out: dict[str, Repeatability] = {}
    for name in names:
        parts = [r[name] for r in results if name in r and r[name].n >= 2]
        dof = sum(p.n - 1 for p in parts)
        if not dof:
            out[name] = Repeatability(name, math.nan, math.nan, math.nan, math.nan, 0)
            continue
        sd = math.sqrt(sum((p.n - 1) * p.sd_within**2 for p in parts) / dof)
        total = sum(p.n for p in parts)
        mean = sum(p.n * p.mean for p in parts) / total
        cv = 100.0 * sd / abs(mean) if mean != 0 else math.nan
        lo, hi = sd_interval(sd, dof)
        offset = sum(p.n * p.offset for p in parts) / total
        out[name] = Repeatability(
            name, mean, sd, cv, REPEATABILITY_FACTOR * sd, total, lo, hi, offset
        )
    return out


# ------------------------------------------------------------- client's own replicates


def within_subject_sd(groups: Sequence[Sequence[float]]) -> float:
    """Pooled within-subject SD from groups of replicate measurements.

    Parameters
    ----------
    groups : sequence of sequences of float
        Each group holds repeated measurements of one unchanged subject (e.g. several
        photos of one area taken minutes apart). NaN values (failed measurements) are
        dropped; groups with fewer than two values carry no information and are skipped.

    Returns
    -------
    float
        :math:`s_w = \\sqrt{\\sum_g (n_g - 1)\\, s_g^2 / \\sum_g (n_g - 1)}`, with
        :math:`s_g^2` each group's variance (ddof = 1): the root of the mean within-group
        variance weighted by degrees of freedom (one-way ANOVA residual mean square).

    Raises
    ------
    ValueError
        If no group holds two finite values, or a value is infinite.

    References
    ----------
    .. [1] Bland JM, Altman DG. Measurement error. BMJ 1996;313(7059):744.
           doi:10.1136/bmj.313.7059.744

    Examples
    --------
    >>> within_subject_sd([[1.0, 3.0], [10.0, 11.0, 12.0]])
    1.1547005383792515
    """
    ss = 0.0
    dof = 0
    for group in groups:
        x = np.asarray(group, dtype=float).ravel()
        if np.any(np.isinf(x)):
            raise ValueError("Replicate values must be finite (use NaN for a failed one).")
        x = x[~np.isnan(x)]
        if x.size >= 2:
            ss += float(((x - x.mean()) ** 2).sum())
            dof += x.size - 1
    if dof == 0:
        raise ValueError(
            "No group holds two or more values: take at least two photos of one session."
        )
    return math.sqrt(ss / dof)


def client_limits(
    replicates: Mapping[str, Sequence[Sequence[float]]],
    defaults: Mapping[str, float],
    *,
    min_groups: int = 1,
    min_dof: int = 1,
    floor: float = 0.0,
) -> dict[str, float]:
    """Smallest detectable change per metric, from the client's own replicates if possible.

    Parameters
    ----------
    replicates : mapping of str to groups
        Metric name → groups of replicate values (see :func:`within_subject_sd`).
    defaults : mapping of str to float
        Fallback limits (e.g. :data:`DEFAULT_LIMITS`).
    min_groups : int
        Minimum number of usable groups (≥ 2 finite values each) before the client's own
        estimate replaces the default.
    min_dof : int
        Minimum degrees of freedom :math:`\\sum_g (n_g - 1)` of the client's estimate
        before it replaces the default (one pair gives 1, three photos of one session 2).
    floor : float
        The client's limit is never below ``floor`` times the default (0 = no floor).

    Returns
    -------
    dict of str to float
        For every metric in ``defaults`` or ``replicates``: ``2.77 · s_w`` of the client's
        replicates when at least ``min_groups`` usable groups exist, else the default.
        Metrics with neither are left out.

    Notes
    -----
    One pair of photos gives an estimate with a single degree of freedom: its 95 %
    interval spans 0.45 to 32 times the estimate (:func:`sd_interval`), and a pair of
    near-identical files gives a limit near 0 that would call every wobble a change.
    Raise ``min_groups`` or ``min_dof``, or set a ``floor``, for more caution; the
    product uses ``min_dof=2, floor=0.5`` (:func:`progress.workflow.limits_for`).
    """
    if min_groups < 1:
        raise ValueError(f"min_groups must be ≥ 1, got {min_groups!r}.")
    if min_dof < 1:
        raise ValueError(f"min_dof must be ≥ 1, got {min_dof!r}.")
    if not (math.isfinite(floor) and floor >= 0):
        raise ValueError(f"floor must be a finite fraction ≥ 0 of the default, got {floor!r}.")
    out = {name: float(v) for name, v in defaults.items()}
    for name, groups in replicates.items():
        counts = [int(np.count_nonzero(~np.isnan(np.asarray(g, dtype=float)))) for g in groups]
        usable = sum(1 for c in counts if c >= 2)
        dof = sum(c - 1 for c in counts if c >= 2)
        if usable >= min_groups and dof >= min_dof:
            own = REPEATABILITY_FACTOR * within_subject_sd(groups)
            if name in defaults:
                own = max(own, floor * float(defaults[name]))
            out[name] = own
    return out


def is_measurable(delta: float, limit: float) -> bool:
    """True if a change exceeds the smallest detectable change: ``|delta| > limit``.

    A change exactly at the limit is *not* measurable; NaN is never measurable.

    Examples
    --------
    >>> is_measurable(1.5, 1.0), is_measurable(-1.0, 1.0)
    (True, False)
    """
    if not (math.isfinite(limit) and limit >= 0):
        raise ValueError(f"limit must be a finite number ≥ 0, got {limit!r}.")
    return bool(abs(delta) > limit)


# -------------------------------------------------------------------------- defaults


def load_limits(path: str | Path | None = None, *, key: str = "metrics") -> dict[str, float]:
    """Read limits written by :func:`save_limits` (default: the package's data file).

    ``key`` selects the table: ``"metrics"`` (photos without a grey card, the default) or
    ``"metrics_with_card"`` (the shipped file's limits for areas with a grey card).
    Missing or non-finite limits are left out; a missing table gives an empty dict.
    """
    if path is None:
        text = (Path(__file__).resolve().parent / "data" / _DATA_FILE).read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    data = json.loads(text)
    metrics = data.get(key) or {}
    return {
        name: float(item["limit"])
        for name, item in metrics.items()
        if item.get("limit") is not None and math.isfinite(float(item["limit"]))
    }


def save_limits(
    results: Mapping[str, Repeatability],
    path: str | Path,
    *,
    note: str,
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Write a study's results as JSON (the format :func:`load_limits` reads)."""

    def clean(x: Any) -> Any:
        return None if isinstance(x, float) and not math.isfinite(x) else x

    payload = {
        "note": note,
        "factor": REPEATABILITY_FACTOR,
        "settings": dict(settings or {}),
        "metrics": {
            name: {k: clean(v) for k, v in asdict(r).items() if k != "metric"}
            for name, r in results.items()
        },
    }
    Path(path).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", "utf-8")


try:
    #: Default smallest detectable change per metric for photos *without* a grey card
    #: (see ``data/repeatability.json`` and ``docs/repeatability.md``).
    DEFAULT_LIMITS: dict[str, float] = load_limits()
    #: The same for areas whose photos are white-balanced on a grey card; metrics the
    #: study left out fall back to :data:`DEFAULT_LIMITS`.
    CARD_LIMITS: dict[str, float] = {**DEFAULT_LIMITS, **load_limits(key="metrics_with_card")}
except FileNotFoundError:  # pragma: no cover - the data file ships with the package
    DEFAULT_LIMITS = {}
    CARD_LIMITS = {}


def default_limits(*, card: bool) -> dict[str, float]:
    """The shipped default limits: :data:`CARD_LIMITS` if the area has a grey card, else
    :data:`DEFAULT_LIMITS` (a copy)."""
    return dict(CARD_LIMITS if card else DEFAULT_LIMITS)


# ------------------------------------------------------------------------------- CLI


def _read_image(path: str, long_side: int | None) -> tuple[np.ndarray, float]:
    """Read a photo as the product does; downscale to ``long_side``; return (rgb, factor)."""
    from progress.loader import load_image

    rgb = load_image(path).rgb
    h, w = rgb.shape[:2]
    if long_side and max(h, w) > long_side:
        f = long_side / max(h, w)
        rgb = cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
        return rgb, f
    return rgb, 1.0


#: The note written with the shipped defaults.
STANDARD_NOTE = (
    "Default smallest detectable change per metric (2.77 x within-subject SD, Bland & "
    "Altman 1986) from simulated hand-held re-captures measured through the product's own "
    "path (progress.pipeline.analyse: alignment, grey-card white balance, every metric). "
    "'metrics' applies to photos without a grey card (DEFAULT_LIMITS), 'metrics_with_card' "
    "to areas with one (CARD_LIMITS). Run the command to reproduce."
)
#: How the shipped limit per metric is chosen from the studies.
STANDARD_RULE = (
    "per metric, the larger limit of the two photos studied with the same colour set-up "
    "(synthetic cheek and real face), so that a reported change exceeds the capture noise "
    "of both; texture metrics only from the photos that meet their resolution "
    "(>= 10 px/mm, or >= 1500 px without a scale): the 512 px face is left out of them"
)


#: Face of ``skimage.data.astronaut()`` (x0, y0, x1, y1): forehead to chin, cheek to
#: cheek; the standard study measures the skin mask inside it.
ASTRONAUT_FACE_BOX: Box = (172, 80, 268, 180)
#: Where the standard study places a simulated grey card (L* 50, a* = b* = 0) in the
#: astronaut photo (on the suit, clear of the face), and the inset box it measures.
ASTRONAUT_CARD: Box = (60, 300, 130, 370)
_CARD_INSET_PX = {"sample": 12, "astronaut": 8}


def standard_setups(sample_path: str | Path) -> dict[str, dict[str, Any]]:
    """The photos and settings of the study behind the shipped default limits.

    Parameters
    ----------
    sample_path : str or Path
        The bundled baseline photo, ``sample_images/2026-03-02_session-01_baseline.jpg``
        (``python -m progress.samples``).

    Returns
    -------
    dict
        Setup name → ``{"photo" (0 sample, 1 face), "rgb", "kwargs" (for
        study_pipeline), "card" (bool), "description"}``. Four setups: the synthetic cheek with and without its grey card
        (20 px/mm, skin-mask region) and a real face photograph (scikit-image's
        ``astronaut``, skin mask inside :data:`ASTRONAUT_FACE_BOX`, nominal scale) with and
        without a simulated grey card pasted at :data:`ASTRONAUT_CARD`.
    """
    from skimage import data as skdata

    from progress.colour import lab_to_srgb
    from progress.samples import landmark_geometry
    from progress.skin import skin_mask

    sample, _ = _read_image(str(sample_path), None)
    h, w = sample.shape[:2]
    geo = landmark_geometry(size=(w, h))
    k = _CARD_INSET_PX["sample"]
    x0, y0, x1, y1 = geo["grey_patch"]
    sample_card = (int(x0) + k, int(y0) + k, int(x1) - k, int(y1) - k)
    sample_scale = 20.0 * w / 1600.0

    face = skdata.astronaut()
    region = np.zeros(face.shape[:2], dtype=bool)
    fx0, fy0, fx1, fy1 = ASTRONAUT_FACE_BOX
    region[fy0:fy1, fx0:fx1] = True
    region &= skin_mask(face)
    with_card = face.copy()
    cx0, cy0, cx1, cy1 = ASTRONAUT_CARD
    grey = np.clip(np.round(255 * lab_to_srgb(np.array([50.0, 0.0, 0.0]))), 0, 255)
    with_card[cy0:cy1, cx0:cx1] = grey.astype(np.uint8)
    k = _CARD_INSET_PX["astronaut"]
    face_card = (cx0 + k, cy0 + k, cx1 - k, cy1 - k)

    name = Path(sample_path).name
    return {
        "sample_card": {
            "photo": 0,
            "rgb": sample,
            "kwargs": {"card_box": sample_card, "scale_px_per_mm": sample_scale},
            "card": True,
            "description": f"{name} (synthetic cheek, {w}x{h}, {sample_scale:g} px/mm), "
            f"skin-mask region, grey card {list(sample_card)}",
        },
        "sample_no_card": {
            "photo": 0,
            "rgb": sample,
            "kwargs": {"scale_px_per_mm": sample_scale},
            "card": False,
            "description": f"{name}, skin-mask region, no colour normalisation",
        },
        "astronaut_card": {
            "photo": 1,
            "rgb": with_card,
            "kwargs": {"roi": region, "card_box": face_card},
            "card": True,
            "description": "skimage.data.astronaut() (real photograph, 512x512, nominal "
            f"scale), skin mask inside {list(ASTRONAUT_FACE_BOX)}, simulated grey card "
            f"(L* 50) pasted at {list(ASTRONAUT_CARD)}, measured in {list(face_card)}",
        },
        "astronaut_no_card": {
            "photo": 1,
            "rgb": face,
            "kwargs": {"roi": region},
            "card": False,
            "description": "skimage.data.astronaut(), skin mask inside "
            f"{list(ASTRONAUT_FACE_BOX)}, no colour normalisation",
        },
    }


def combine_max(results: Sequence[Mapping[str, Repeatability]]) -> dict[str, Repeatability]:
    """Per metric, the result with the largest limit (the noisier photo decides).

    A change must exceed the capture noise of every photo studied before it is called a
    change: the conservative choice when the subjects differ in level and texture, so that
    pooling their SDs would mix different scales.
    """
    out: dict[str, Repeatability] = {}
    for r in results:
        for name, item in r.items():
            best = out.get(name)
            if math.isfinite(item.limit) and (best is None or item.limit > best.limit):
                out[name] = item
    return out


def _parse_box(text: str) -> Box:
    try:
        x0, y0, x1, y1 = (int(round(float(v))) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a box is four numbers x0,y0,x1,y1 (pixels), got {text!r}"
        ) from None
    return x0, y0, x1, y1


def _scale_box(box: Box | None, factor: float) -> Box | None:
    if box is None:
        return None
    x0, y0, x1, y1 = (int(round(v * factor)) for v in box)
    return x0, y0, x1, y1


def _print(results: Mapping[str, Repeatability], title: str = "") -> None:
    if title:
        print(title)
    print(
        f"{'metric':<20} {'mean':>9} {'sd_within':>10} {'95% CI of sd':>19} {'cv %':>6} "
        f"{'limit':>9} {'offset':>9} {'n':>3}"
    )
    for r in results.values():
        ci = f"{r.sd_low:.3g}–{r.sd_high:.3g}"
        print(
            f"{r.metric:<20} {r.mean:>9.4g} {r.sd_within:>10.4g} {ci:>19} "
            f"{r.cv_percent:>6.2f} {r.limit:>9.4g} {r.offset:>9.3g} {r.n:>3}"
        )


def _metrics_payload(results: Mapping[str, Repeatability], source: Mapping[str, str] | None = None):
    def clean(x: Any) -> Any:
        return None if isinstance(x, float) and not math.isfinite(x) else x

    out = {}
    for name, r in results.items():
        item = {k: clean(v) for k, v in asdict(r).items() if k != "metric"}
        if source is not None:
            item["from"] = source[name]
        out[name] = item
    return out


def photo_texture_ok(setup: Mapping[str, Any]) -> bool:
    """Whether a study photo meets the texture metrics' resolution (see ``progress.grid``):
    a scale of at least 10 px/mm, or a long side of at least 1500 px without one."""
    from progress.grid import ANALYSIS_LONG_SIDE, ANALYSIS_PX_PER_MM

    scale = setup["kwargs"].get("scale_px_per_mm")
    if scale:
        return float(scale) >= ANALYSIS_PX_PER_MM
    return max(setup["rgb"].shape[:2]) >= ANALYSIS_LONG_SIDE


def run_standard(
    sample_path: str | Path, *, n: int = 30, seed: int = 0, jitter: Jitter = Jitter()
) -> dict[str, Any]:
    """Run the study behind the shipped defaults; return the JSON payload of the data file.

    Per setup :func:`study_pipeline`, with the same re-captures (seed ``seed`` for the
    sample photo, ``seed + 1`` for the face) with and without the card; then per
    metric the default limit is the larger of the two photos' limits (:func:`combine_max`;
    for texture metrics only photos that pass :func:`photo_texture_ok`),
    once for photos with a grey card (``metrics_with_card``) and once without (``metrics``,
    which :data:`DEFAULT_LIMITS` reads).
    """
    setups = standard_setups(sample_path)
    studies: dict[str, dict[str, Repeatability]] = {}
    for name, setup in setups.items():
        studies[name] = study_pipeline(
            setup["rgb"], n=n, jitter=jitter, seed=seed + setup["photo"], **setup["kwargs"]
        )
    chosen: dict[str, dict[str, Repeatability]] = {}
    sources: dict[str, dict[str, str]] = {}
    kinds = {m.name: m.kind for m in importlib.import_module("progress.metrics").METRICS.values()}
    for card in (True, False):
        names = [k for k, v in setups.items() if v["card"] is card]
        # Texture limits only from photos that meet the texture metrics' resolution
        # (≥ 10 px/mm, or ≥ 1500 px without a scale): the 512 px face is enlarged onto
        # the analysis grid, and its texture noise is not that of a usable photo.
        sharp = [k for k in names if photo_texture_ok(setups[k])]
        best = combine_max([studies[k] for k in names])
        best_texture = combine_max([studies[k] for k in sharp]) if sharp else {}
        best = {
            m: best_texture.get(m, r) if kinds.get(m) == "texture" else r for m, r in best.items()
        }
        chosen[str(card)] = best
        sources[str(card)] = {
            m: next(k for k in names if studies[k].get(m) is r) for m, r in best.items()
        }
    return {
        "studies": studies,
        "setups": {k: v["description"] for k, v in setups.items()},
        "with_card": chosen["True"],
        "without_card": chosen["False"],
        "sources": sources,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the study on photos and print (and optionally save) limits."""
    parser = argparse.ArgumentParser(
        prog="python -m progress.repeatability",
        description="Capture-repeatability study: simulated re-captures of each photo, "
        "aligned back and measured as the product measures; prints the smallest detectable "
        "change (limit = 2.77 x within-subject SD) per metric.",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--n", type=int, default=20, help="re-captures per photo (default 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--standard",
        action="store_true",
        help="run the study behind the shipped defaults; IMAGE is the bundled baseline "
        "sample_images/2026-03-02_session-01_baseline.jpg",
    )
    parser.add_argument("--box", type=_parse_box, help="region x0,y0,x1,y1 (default: skin)")
    parser.add_argument("--card-box", type=_parse_box, help="grey card x0,y0,x1,y1")
    parser.add_argument("--scale", type=float, help="pixels per millimetre of the photos")
    parser.add_argument(
        "--no-align",
        action="store_true",
        help="photometric noise only: warp back with the true matrix, no registration, no "
        "colour normalisation (the generic study())",
    )
    parser.add_argument(
        "--long-side",
        type=int,
        default=1500,
        help="downscale photos to this long side first (default 1500; boxes and scale are "
        "given in the original pixels)",
    )
    parser.add_argument("--out", type=Path, help="write the limits as JSON to this file")
    parser.add_argument("--note", default="capture-jitter study on the photos named in settings")
    args = parser.parse_args(argv)
    jitter = Jitter()
    command = "python -m progress.repeatability " + " ".join(
        str(a) for a in (sys.argv[1:] if argv is None else argv)
    )

    if args.standard:
        if len(args.images) != 1:
            parser.error("--standard takes one IMAGE: the bundled baseline sample photo.")
        run = run_standard(args.images[0], n=args.n, seed=args.seed, jitter=jitter)
        for name, res in run["studies"].items():
            _print(res, f"\n== {name}: {run['setups'][name]}")
        _print(run["with_card"], "\n== default limits, photos with a grey card")
        _print(run["without_card"], "\n== default limits, photos without a card")
        if args.out is not None:
            payload = {
                "note": STANDARD_NOTE,
                "date": date.today().isoformat(),
                "command": command,
                "factor": REPEATABILITY_FACTOR,
                "rule": STANDARD_RULE,
                "settings": {
                    "n": args.n,
                    "seed": args.seed,
                    "jitter": asdict(jitter),
                    "min_confidence": importlib.import_module(
                        "progress.registration"
                    ).CONFIDENCE_OK,
                    "path": "progress.pipeline.analyse with a Reference (align, grey-card "
                    "white balance, every metric of progress.METRICS)",
                },
                "metrics": _metrics_payload(run["without_card"], run["sources"]["False"]),
                "metrics_with_card": _metrics_payload(run["with_card"], run["sources"]["True"]),
                "studies": {
                    name: {"setup": run["setups"][name], "metrics": _metrics_payload(res)}
                    for name, res in run["studies"].items()
                },
            }
            args.out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", "utf-8")
            print(f"wrote {args.out}")
        return 0

    per_image = []
    for i, path in enumerate(args.images):
        rgb, f = _read_image(path, args.long_side)
        if args.no_align:
            res = study(rgb, n=args.n, jitter=jitter, seed=args.seed + i, align=False)
        else:
            res = study_pipeline(
                rgb,
                box=_scale_box(args.box, f),
                card_box=_scale_box(args.card_box, f),
                scale_px_per_mm=None if args.scale is None else args.scale * f,
                n=args.n,
                jitter=jitter,
                seed=args.seed + i,
            )
        per_image.append(res)
    results = pool(per_image)
    _print(results)
    if args.out is not None:
        settings = {
            "images": [Path(p).name for p in args.images],
            "n": args.n,
            "seed": args.seed,
            "aligned": not args.no_align,
            "box": args.box,
            "card_box": args.card_box,
            "scale_px_per_mm": args.scale,
            "long_side": args.long_side,
            "jitter": asdict(jitter),
            "command": command,
            "date": date.today().isoformat(),
        }
        save_limits(results, args.out, note=args.note, settings=settings)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
