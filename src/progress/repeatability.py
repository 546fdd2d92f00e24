"""Repeatability of the metrics and the smallest change worth calling a change.

A phone photo is never taken twice the same way: the hand turns a little, the distance and
the light change, the camera blurs, compresses and adds noise. A metric that moves by less
than this capture noise has not measurably changed. This module

* simulates re-captures of one photo (:func:`recapture`, with a :class:`Jitter`), aligns
  them back, measures them and reports the within-subject spread per metric
  (:func:`study` → :class:`Repeatability`);
* pools a client's own replicate photos (:func:`within_subject_sd`,
  :func:`client_limits`);
* holds the default limits (:data:`DEFAULT_LIMITS`, from ``data/repeatability.json``)
  and the rule :func:`is_measurable`.

The limit is the repeatability coefficient of Bland & Altman: two measurements of an
unchanged subject differ by less than :math:`1.96\\sqrt{2}\\,s_w \\approx 2.77\\,s_w` in
95 % of cases, where :math:`s_w` is the within-subject standard deviation.

Command line::

    python -m progress.repeatability IMAGE... [--n 20] [--seed 0] [--no-align]
                                     [--out src/progress/data/repeatability.json]

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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from progress.errors import AlignmentError, RegionError

__all__ = [
    "DEFAULT_LIMITS",
    "NO_JITTER",
    "REPEATABILITY_FACTOR",
    "Jitter",
    "Repeatability",
    "client_limits",
    "is_measurable",
    "load_limits",
    "main",
    "pool",
    "recapture",
    "save_limits",
    "study",
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
    """

    metric: str
    mean: float
    sd_within: float
    cv_percent: float
    limit: float
    n: int


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
    Order of the simulated effects: pose (similarity about the image centre; borders
    reflected), exposure and white balance (gains on linear light), optical blur
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
        img = cv2.warpAffine(
            img, forward[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
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
    return importlib.import_module("progress.align").align


def _summarise(metric: str, values: Sequence[float]) -> Repeatability:
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    mean = float(x.mean()) if n else math.nan
    sd = float((x - x[0]).std(ddof=1)) if n >= 2 else math.nan  # shifted: exact 0 for ties
    cv = 100.0 * sd / abs(mean) if n >= 2 and mean != 0 else math.nan
    return Repeatability(metric, mean, sd, cv, REPEATABILITY_FACTOR * sd, n)


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


def pool(results: Sequence[Mapping[str, Repeatability]]) -> dict[str, Repeatability]:
    """Pool the studies of several photos (subjects) into one result per metric.

    The pooled within-subject variance is the degrees-of-freedom-weighted mean of the
    per-photo variances, :math:`s_w^2 = \\sum (n_i - 1) s_i^2 / \\sum (n_i - 1)`; the mean
    is weighted by :math:`n_i`; the CV is :math:`100\\,s_w / |\\text{pooled mean}|`.
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
        out[name] = Repeatability(name, mean, sd, cv, REPEATABILITY_FACTOR * sd, total)
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

    Returns
    -------
    dict of str to float
        For every metric in ``defaults`` or ``replicates``: ``2.77 · s_w`` of the client's
        replicates when at least ``min_groups`` usable groups exist, else the default.
        Metrics with neither are left out.

    Notes
    -----
    One pair of photos gives an estimate with a single degree of freedom: it can be far
    too small or too large. Raise ``min_groups`` for more caution.
    """
    if min_groups < 1:
        raise ValueError(f"min_groups must be ≥ 1, got {min_groups!r}.")
    out = {name: float(v) for name, v in defaults.items()}
    for name, groups in replicates.items():
        usable = sum(
            1 for g in groups if np.count_nonzero(~np.isnan(np.asarray(g, dtype=float))) >= 2
        )
        if usable >= min_groups:
            out[name] = REPEATABILITY_FACTOR * within_subject_sd(groups)
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


def load_limits(path: str | Path | None = None) -> dict[str, float]:
    """Read limits written by :func:`save_limits` (default: the package's data file).

    Missing or non-finite limits are left out.
    """
    if path is None:
        text = (Path(__file__).resolve().parent / "data" / _DATA_FILE).read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    data = json.loads(text)
    metrics = data.get("metrics", {})
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
    #: Default smallest detectable change per metric (provisional, see the data file).
    DEFAULT_LIMITS: dict[str, float] = load_limits()
except FileNotFoundError:  # pragma: no cover - the data file ships with the package
    DEFAULT_LIMITS = {}


# ------------------------------------------------------------------------------- CLI


def _read_image(path: str, long_side: int) -> np.ndarray:
    from PIL import Image, ImageOps

    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except ImportError:  # pragma: no cover - optional
        pass
    with Image.open(path) as im:
        rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    h, w = rgb.shape[:2]
    if max(h, w) > long_side:
        f = long_side / max(h, w)
        rgb = cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    return rgb


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run :func:`study` on photos and print (and optionally save) limits."""
    parser = argparse.ArgumentParser(
        prog="python -m progress.repeatability",
        description="Capture-repeatability study: simulated re-captures of each photo, "
        "aligned back and measured; prints the smallest detectable change per metric.",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--n", type=int, default=20, help="re-captures per photo (default 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-align", action="store_true", help="warp back with the true matrix (no registration)"
    )
    parser.add_argument(
        "--long-side",
        type=int,
        default=1500,
        help="downscale photos to this long side first (default 1500, the analysis grid)",
    )
    parser.add_argument("--out", type=Path, help="write the limits as JSON to this file")
    parser.add_argument(
        "--note", default="provisional: capture-jitter study on the photos named in settings"
    )
    args = parser.parse_args(argv)

    jitter = Jitter()
    per_image = []
    for i, path in enumerate(args.images):
        rgb = _read_image(path, args.long_side)
        per_image.append(
            study(
                rgb,
                n=args.n,
                jitter=jitter,
                seed=args.seed + i,
                align=False if args.no_align else None,
            )
        )
    results = pool(per_image)
    print(f"{'metric':<20} {'mean':>10} {'sd_within':>10} {'cv %':>7} {'limit':>10} {'n':>4}")
    for r in results.values():
        print(
            f"{r.metric:<20} {r.mean:>10.4g} {r.sd_within:>10.4g} {r.cv_percent:>7.2f} "
            f"{r.limit:>10.4g} {r.n:>4}"
        )
    if args.out is not None:
        settings = {
            "images": [Path(p).name for p in args.images],
            "n": args.n,
            "seed": args.seed,
            "aligned": not args.no_align,
            "long_side": args.long_side,
            "jitter": asdict(jitter),
        }
        save_limits(results, args.out, note=args.note, settings=settings)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
