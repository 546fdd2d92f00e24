"""Synthetic sample series: one cheek photographed over six months of microneedling.

The series is built so that every quantity the app measures has a known answer. A
close-up of a left cheek (Fitzpatrick type III) is rendered in CIELAB from fixed,
seeded layers (tone, erythema, pigment spots, pores, fine lines, micro-relief
texture) whose strengths follow known functions of the day (:func:`true_trends`).
Fixed landmarks (moles, the cheek's edge against the background, a ruler sticker
with a grey patch) do not change between sessions, so registration has something
stable to lock on to. Each photo is then "captured" with a known similarity
transform, exposure factor, white-balance gains and sensor noise, and saved as a
JPEG with its EXIF capture date. ``truth.json`` records all of it.

Run ``python -m progress.samples [--out sample_images] [--seed 7]`` to (re)write the
bundled series.

Conventions
-----------
* Pixel coordinates are ``(x, y)`` = (column, row), pixel centres at integers, ``y``
  pointing down (OpenCV's convention).
* ``matrix_to_baseline`` of a photo is the 3 x 3 matrix that maps that photo's pixel
  coordinates to the baseline photo's pixel coordinates, the convention of
  ``progress.registration.Alignment.matrix`` (moving -> reference).
* The day is counted from the first treatment (day 0). A treatment acts from its day
  onwards; no photo is taken on a treatment day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

__all__ = [
    "FIRST_TREATMENT",
    "PHOTO_DAYS",
    "TREATMENT_DAYS",
    "default_sample_dir",
    "generate_series",
    "landmark_geometry",
    "render_skin",
    "skin_region",
    "true_trends",
]

# --------------------------------------------------------------------------- schedule

#: Date and time of the first treatment (day 0).
FIRST_TREATMENT = dt.datetime(2026, 3, 3, 10, 0, 0)
#: Treatment days (microneedling every four weeks).
TREATMENT_DAYS: tuple[int, ...] = (0, 28, 56, 84, 112, 140)
#: Photo days and kinds: baseline on the day before the first treatment, one photo two
#: days after the second treatment, one the day before every further treatment, and a
#: follow-up six months after the first treatment.
PHOTO_DAYS: tuple[tuple[int, str], ...] = (
    (-1, "baseline"),
    (27, "pre-treatment"),
    (30, "post-treatment"),
    (55, "pre-treatment"),
    (83, "pre-treatment"),
    (111, "pre-treatment"),
    (139, "pre-treatment"),
    (180, "follow-up"),
)

_NOMINAL_SIZE = (1600, 1200)
_NOMINAL_PX_PER_MM = 20.0  # at 1600 px wide: the frame spans 80 mm x 60 mm
_JPEG_QUALITY = 92
_NOISE_SIGMA_DN = 1.2  # sensor noise, sRGB 8-bit code values

# --------------------------------------------------------------------------- trends

# Redness: spike after each treatment plus a slow improvement of baseline redness.
_SPIKE_PEAK_A = 12.0  # a* units at the moment of treatment (6 at day 1, 3 at day 2)
_SPIKE_HALF_LIFE_D = 1.0
_SLOW_REDNESS_A = -1.5  # a* change of baseline redness at day 180
# Remodelling: saturating curve reaching the stated change at day 180.
_REMODEL_TAU_D = 120.0
_REMODEL_END_D = 180.0
_FACTOR_CHANGE = {
    "roughness_factor": -0.25,
    "line_depth_factor": -0.30,
    "spot_contrast_factor": -0.30,
    "pore_depth_factor": -0.20,
}

_EXPECTED_DIRECTION = {
    "lab_a": "down",
    "erythema_index": "down",
    "sigma_a": "down",
    "roughness_ra": "down",
    "roughness_rq": "down",
    "spot_area_fraction": "down",
    "fine_line_density": "down",
    "pore_density": "down",
    "glcm_contrast": "down",
    "glcm_dissimilarity": "down",
    "glcm_entropy": "down",
    "glcm_homogeneity": "up",
    "glcm_energy": "up",
    "sigma_l": "down",
    "delta_e_spread": "down",
    "ita": "up",
}


def _remodel(day: float) -> float:
    """Share (0 -> 1 at day 180) of the slow remodelling change reached on ``day``."""
    d = max(float(day), 0.0)
    return (1.0 - math.exp(-d / _REMODEL_TAU_D)) / (
        1.0 - math.exp(-_REMODEL_END_D / _REMODEL_TAU_D)
    )


def true_trends(
    day: float, *, treatment_days: Sequence[float] = TREATMENT_DAYS
) -> dict[str, float]:
    """True values of the trend parameters on a given day.

    Parameters
    ----------
    day : float
        Days since the first treatment (negative before it).
    treatment_days : sequence of float, optional
        Treatment days; a treatment acts from its day onwards.

    Returns
    -------
    dict
        ``redness_offset_a`` (mean a* change over the skin relative to the baseline,
        spike plus slow part), ``redness_spike_a``, ``redness_slow_a``,
        ``roughness_factor``, ``line_depth_factor``, ``spot_contrast_factor`` and
        ``pore_depth_factor`` (amplitudes relative to the baseline, 1 = unchanged).

    Raises
    ------
    ValueError
        If ``day`` is not finite.

    Notes
    -----
    Redness spike of a treatment on day t, for day >= t:
    ``12 * 2**(-(day - t) / 1)`` a* units (6 on day 1, 3 on day 2, 0.09 on day 7),
    following the transient erythema that resolves within a week after needling
    (Chu et al. 2021). Slow redness: ``-1.5 * g(day)`` with
    ``g(day) = (1 - exp(-day/120)) / (1 - exp(-180/120))`` (0 before day 0, 1 on
    day 180). Each factor is ``1 + c * g(day)`` with c = -0.25 (roughness), -0.30
    (line depth), -0.30 (spot contrast), -0.20 (pore depth).

    References
    ----------
    .. [1] Chu S. et al. "Safety profile for microneedling: a systematic review."
       Dermatol Surg 47(9):1249-1254, 2021. doi:10.1097/DSS.0000000000003116
    .. [2] Alam M. et al. "Efficacy of a needling device for the treatment of acne
       scars." JAMA Dermatol 150(8):844-849, 2014. doi:10.1001/jamadermatol.2013.8687
    """
    day = float(day)
    if not math.isfinite(day):
        raise ValueError(f"day must be a finite number of days, got {day!r}.")
    spike = sum(
        _SPIKE_PEAK_A * 2.0 ** (-(day - t) / _SPIKE_HALF_LIFE_D) for t in treatment_days if t <= day
    )
    g = _remodel(day)
    slow = _SLOW_REDNESS_A * g
    out = {
        "redness_offset_a": spike + slow,
        "redness_spike_a": spike,
        "redness_slow_a": slow,
    }
    for name, change in _FACTOR_CHANGE.items():
        out[name] = 1.0 + change * g
    return out


# --------------------------------------------------------------------------- colour

_WHITE_D65 = np.array([0.95047, 1.0, 1.08883], dtype=np.float64)
_XYZ_FROM_RGB = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB)


def _lab_to_linear(lab: np.ndarray) -> np.ndarray:
    """CIELAB (D65, 2 deg) to linear sRGB, float32, not clipped."""
    lab = np.asarray(lab, dtype=np.float32)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    eps = np.float32(6.0 / 29.0)
    xyz = np.where(
        f > eps, f * f * f, np.float32(3.0 * (6.0 / 29.0) ** 2) * (f - np.float32(4.0 / 29.0))
    )
    mat = (_RGB_FROM_XYZ * _WHITE_D65[None, :]).astype(np.float32)
    return cv2.transform(xyz.astype(np.float32), mat)


def _encode_srgb(lin: np.ndarray) -> np.ndarray:
    """Linear sRGB (clipped to [0, 1]) to encoded sRGB."""
    c = np.clip(lin, 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1.0 / 2.4) - 0.055).astype(
        np.float32
    )


# --------------------------------------------------------------------------- geometry


def _check_size(size: Sequence[int]) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height) in pixels, got {size!r}.") from None
    if w < 160 or h < 120 or w > 8000 or h > 8000:
        raise ValueError(f"size must be between (160, 120) and (8000, 8000) pixels, got {(w, h)}.")
    return w, h


def _px_per_mm(size: tuple[int, int]) -> float:
    return _NOMINAL_PX_PER_MM * size[0] / _NOMINAL_SIZE[0]


def _margin(size: tuple[int, int]) -> int:
    # Rotation <= 4 deg, scale >= 0.93, shift <= 40 px (nominal) need <= 150 px.
    return int(math.ceil(0.1 * max(size))) + 8


def landmark_geometry(*, size: Sequence[int] = _NOMINAL_SIZE) -> dict:
    """Geometry of the fixed landmarks in baseline-photo pixel coordinates.

    Parameters
    ----------
    size : (int, int), optional
        Photo width and height in pixels.

    Returns
    -------
    dict
        ``cheek_ellipse`` (centre, semi-axes; outside it is background), ``moles``
        (centre and radius in px), ``sticker`` and ``grey_patch`` (rectangles
        ``[x0, y0, x1, y1]``), ``ruler`` (tick positions in px, 1 mm apart).

    Raises
    ------
    ValueError
        If ``size`` is not a pair of pixel counts in range.
    """
    w, h = _check_size(size)
    p = _px_per_mm((w, h))
    sx, sy = w / _NOMINAL_SIZE[0], h / _NOMINAL_SIZE[1]
    moles = [
        (560.0, 380.0, 1.3),
        (1110.0, 250.0, 0.8),
        (1270.0, 640.0, 1.0),
        (820.0, 760.0, 1.6),
    ]
    x0, y0 = 150.0 * sx, h - 150.0 * sy - 10.0 * p
    sticker = [x0, y0, x0 + 32.0 * p, y0 + 10.0 * p]
    grey = [x0 + 1.0 * p, y0 + 1.0 * p, x0 + 9.0 * p, y0 + 9.0 * p]
    ruler_x0 = x0 + 11.0 * p
    ticks = [ruler_x0 + k * p for k in range(21)]
    return {
        "cheek_ellipse": {
            "centre": [0.75 * w, 0.80 * h],
            "semi_axes": [0.80 * w, 1.05 * h],
            "wobble": "rho * (1 + 0.012 sin(3 phi + 0.4) + 0.008 sin(7 phi + 1.1))",
        },
        "moles": [{"x": x * sx, "y": y * sy, "radius_px": r * p} for x, y, r in moles],
        "sticker": sticker,
        "grey_patch": grey,
        "grey_patch_lab": [50.0, 0.0, 0.0],
        "ruler": {"y_top": y0 + 2.0 * p, "y_bottom": y0 + 5.0 * p, "ticks_x": ticks},
    }


def _cheek_rho(xx: np.ndarray, yy: np.ndarray, geo: dict) -> np.ndarray:
    cx, cy = geo["cheek_ellipse"]["centre"]
    ax, ay = geo["cheek_ellipse"]["semi_axes"]
    u, v = (xx - cx) / ax, (yy - cy) / ay
    rho = np.sqrt(u * u + v * v)
    phi = np.arctan2(v, u)
    return rho * (1.0 + 0.012 * np.sin(3 * phi + 0.4) + 0.008 * np.sin(7 * phi + 1.1))


def skin_region(*, size: Sequence[int] = _NOMINAL_SIZE, erode_px: int = 0) -> np.ndarray:
    """Boolean mask of the skin in the baseline photo (no background, sticker, moles).

    Parameters
    ----------
    size : (int, int), optional
        Photo width and height in pixels.
    erode_px : int, optional
        Shrink the region by this many pixels (away from edges).

    Returns
    -------
    ndarray of bool, shape (height, width)

    Raises
    ------
    ValueError
        If ``size`` is out of range or ``erode_px`` is negative.
    """
    w, h = _check_size(size)
    if erode_px < 0:
        raise ValueError(f"erode_px must be >= 0, got {erode_px}.")
    geo = landmark_geometry(size=(w, h))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    mask = _cheek_rho(xx, yy, geo) < 1.0
    x0, y0, x1, y1 = geo["sticker"]
    mask[int(y0) : int(math.ceil(y1)) + 1, int(x0) : int(math.ceil(x1)) + 1] = False
    for m in geo["moles"]:
        mask[(xx - m["x"]) ** 2 + (yy - m["y"]) ** 2 <= (m["radius_px"] * 1.6) ** 2] = False
    if erode_px:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode_px + 1, 2 * erode_px + 1))
        mask = cv2.erode(mask.astype(np.uint8), k, borderValue=0).astype(bool)
    return mask


# --------------------------------------------------------------------------- scene


def _noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Unit-variance Gaussian-smoothed white noise, fast for large ``sigma``."""
    h, w = shape
    k = max(1, int(sigma // 3))
    hs, ws = h // k + 8, w // k + 8
    n = rng.standard_normal((hs, ws)).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), sigma / k, borderType=cv2.BORDER_REFLECT)
    if k > 1:
        n = cv2.resize(n, (ws * k, hs * k), interpolation=cv2.INTER_CUBIC)
    n = n[:h, :w]
    return (n - n.mean()) / (n.std() + 1e-12)


def _aniso_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    sigma_along: float,
    sigma_across: float,
    angle_deg: float,
) -> np.ndarray:
    """Unit-variance noise smoothed by an oriented anisotropic Gaussian."""
    r = int(math.ceil(3 * max(sigma_along, sigma_across)))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
    t = math.radians(angle_deg)
    u = xx * math.cos(t) + yy * math.sin(t)
    v = -xx * math.sin(t) + yy * math.cos(t)
    kern = np.exp(-0.5 * ((u / sigma_along) ** 2 + (v / sigma_across) ** 2)).astype(np.float32)
    kern /= kern.sum()
    n = rng.standard_normal(shape).astype(np.float32)
    n = cv2.filter2D(n, -1, kern, borderType=cv2.BORDER_REFLECT)
    return (n - n.mean()) / (n.std() + 1e-12)


def _relief(height: np.ndarray, *, albedo: float, shade: float) -> np.ndarray:
    """L* contribution of a height map: darkening in depressions plus directional shading.

    Light comes from the upper right: ``dL = albedo * H - shade * (H_x * 0.6 - H_y * 0.8)``.
    """
    hy, hx = np.gradient(height)
    return albedo * height - shade * (0.6 * hx - 0.8 * hy)


def _splat(acc: np.ndarray, xs: np.ndarray, ys: np.ndarray, ws: np.ndarray) -> None:
    """Bilinear splat of weights at sub-pixel points into ``acc`` (in place)."""
    h, w = acc.shape
    x0 = np.floor(xs).astype(np.int64)
    y0 = np.floor(ys).astype(np.int64)
    fx, fy = xs - x0, ys - y0
    for dx, dy, wt in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xi, yi = x0 + dx, y0 + dy
        ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        np.add.at(acc, (yi[ok], xi[ok]), (ws * wt)[ok])


@dataclass(frozen=True)
class _Scene:
    """Static layers on the canvas (baseline frame plus a margin), float32."""

    margin: int
    px_per_mm: float
    base: np.ndarray  # (H, W, 3) Lab of everything that never changes
    erythema: np.ndarray  # (H, W) baseline redness pattern, mean 1 over skin
    spike: np.ndarray  # (H, W) post-treatment redness pattern, mean 1 over skin
    spots: np.ndarray  # (H, W, 3) Lab change of the pigment spots at baseline contrast
    lines: np.ndarray  # (H, W) L* change of the fine lines at baseline depth
    pores: np.ndarray  # (H, W) L* change of the pores at baseline depth
    texture: np.ndarray  # (H, W) L* change of the micro-relief at baseline amplitude
    info: dict


# Skin colour (albedo) for Fitzpatrick III: ITA about 35 deg over the visible skin.
_SKIN_LAB = (62.5, 7.5, 17.0)
_ERYTHEMA_A = 4.0  # mean a* added by the baseline redness pattern
_BACKGROUND_LAB = (30.0, 1.0, -6.0)
_STICKER_LAB = (90.0, 0.0, 3.0)
_TICK_LAB = (22.0, 0.0, 0.0)


def _build_scene(seed: int, size: tuple[int, int]) -> _Scene:
    w, h = size
    m = _margin(size)
    W, H = w + 2 * m, h + 2 * m
    p = _px_per_mm(size)
    geo = landmark_geometry(size=size)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    xb, yb = xx - m, yy - m  # baseline-frame coordinates

    def rng(k: int) -> np.random.Generator:
        return np.random.default_rng([seed, k])

    # --- regions: cheek vs background, sticker -----------------------------------
    rho = _cheek_rho(xb, yb, geo)
    cheek = cv2.GaussianBlur((rho < 1.0).astype(np.float32), (0, 0), 0.06 * p)
    x0, y0, x1, y1 = geo["sticker"]
    st = np.zeros((H, W), np.uint8)
    r_corner = int(round(1.0 * p))
    cv2.rectangle(
        st, (int(x0 + m + r_corner), int(y0 + m)), (int(x1 + m - r_corner), int(y1 + m)), 1, -1
    )
    cv2.rectangle(
        st, (int(x0 + m), int(y0 + m + r_corner)), (int(x1 + m), int(y1 + m - r_corner)), 1, -1
    )
    for cx, cy in (
        (x0 + r_corner, y0 + r_corner),
        (x1 - r_corner, y0 + r_corner),
        (x0 + r_corner, y1 - r_corner),
        (x1 - r_corner, y1 - r_corner),
    ):
        cv2.circle(st, (int(cx + m), int(cy + m)), r_corner, 1, -1)
    sticker = cv2.GaussianBlur(st.astype(np.float32), (0, 0), 0.04 * p)
    skin = cheek * (1.0 - sticker)  # alpha of skin layers
    skin_hard = (rho < 1.0) & (st == 0)
    frame = np.zeros((H, W), bool)
    frame[m : m + h, m : m + w] = True
    sel = skin_hard & frame

    # --- base colour ---------------------------------------------------------------
    base = np.empty((H, W, 3), np.float32)
    base[..., 0], base[..., 1], base[..., 2] = _SKIN_LAB
    r0 = rng(1)
    base[..., 0] += 1.6 * _noise(r0, (H, W), 12.0 * p)
    base[..., 2] += 1.0 * _noise(r0, (H, W), 9.0 * p)
    base[..., 1] += 0.5 * _noise(r0, (H, W), 7.0 * p)
    # Cheek curvature: darker where the surface turns away (multiplicative on Y).
    z = np.sqrt(np.clip(1.0 - rho**2, 0.0, 1.0))
    shade_y = 0.55 + 0.5 * z**0.7
    base[..., 0] = (base[..., 0] + 16.0) * np.cbrt(shade_y).astype(np.float32) - 16.0
    # Broad sheen on the cheek apex.
    cx, cy = geo["cheek_ellipse"]["centre"]
    apex = np.exp(
        -(((xb - (cx - 0.18 * w)) / (0.22 * w)) ** 2 + ((yb - (cy - 0.35 * h)) / (0.25 * h)) ** 2)
    )
    base[..., 0] += 3.0 * apex
    # Shadow of the sticker edge on the skin (light from the upper right).
    shadow = cv2.GaussianBlur(
        np.roll(np.roll(sticker, int(0.15 * p), 0), -int(0.1 * p), 1), (0, 0), 0.2 * p
    )
    base[..., 0] -= 6.0 * np.clip(shadow - sticker, 0.0, 1.0)

    # Moles (fixed landmarks): dark, slightly raised, soft rim.
    r1 = rng(2)
    for mole in geo["moles"]:
        mx, my, mr = mole["x"] + m, mole["y"] + m, mole["radius_px"]
        pad = int(mr * 2.5) + 4
        xs0, ys0 = int(mx) - pad, int(my) - pad
        sub_x = xx[ys0 : ys0 + 2 * pad, xs0 : xs0 + 2 * pad] - mx
        sub_y = yy[ys0 : ys0 + 2 * pad, xs0 : xs0 + 2 * pad] - my
        ang = np.arctan2(sub_y, sub_x)
        wob = (
            1.0
            + 0.06 * np.sin(2 * ang + r1.uniform(0, 6.3))
            + 0.04 * np.sin(5 * ang + r1.uniform(0, 6.3))
        )
        d = np.sqrt(sub_x**2 + sub_y**2) / (mr * wob)
        a = 1.0 / (1.0 + np.exp((d - 1.0) / 0.07))
        core = np.exp(-(d**2) / 0.5)
        dL = (
            -(24.0 + 8.0 * core) * a
            + 5.0 * a * np.clip(-(sub_x * 0.6 - sub_y * 0.8) / mr, 0, 1) * core
        )
        sl = (slice(ys0, ys0 + 2 * pad), slice(xs0, xs0 + 2 * pad))
        base[sl + (0,)] += dL
        base[sl + (1,)] += 4.0 * a
        base[sl + (2,)] += -2.0 * a

    # Background and sticker composite (the skin layers are multiplied by ``skin``).
    bg = np.empty((H, W, 3), np.float32)
    bg[..., 0] = _BACKGROUND_LAB[0] + 5.0 * (yb / h) + 0.8 * _noise(rng(3), (H, W), 20.0 * p)
    bg[..., 1], bg[..., 2] = _BACKGROUND_LAB[1], _BACKGROUND_LAB[2]
    base = base * cheek[..., None] + bg * (1.0 - cheek[..., None])
    # Sticker: off-white paper, grey patch, ruler ticks and a label.
    paper = np.empty((H, W, 3), np.float32)
    paper[...] = _STICKER_LAB
    paper[..., 0] += 0.4 * _noise(rng(4), (H, W), 0.05 * p) - 2.0 * (xb - x0) / max(x1 - x0, 1)
    gx0, gy0, gx1, gy1 = (v + m for v in geo["grey_patch"])
    ink = np.zeros((H, W), np.uint8)
    gpatch = np.zeros((H, W), np.uint8)
    cv2.rectangle(
        gpatch,
        (int(round(gx0)), int(round(gy0))),
        (int(round(gx1)) - 1, int(round(gy1)) - 1),
        255,
        -1,
    )
    ruler = geo["ruler"]
    lw = max(1, int(round(0.12 * p)))
    for k, tx in enumerate(ruler["ticks_x"]):
        length = 1.0 if k % 10 == 0 else (0.75 if k % 5 == 0 else 0.5)
        yt = ruler["y_top"] + m
        yb_ = yt + length * (ruler["y_bottom"] - ruler["y_top"])
        cv2.line(
            ink,
            (int(round(tx + m)), int(round(yt))),
            (int(round(tx + m)), int(round(yb_))),
            255,
            lw,
        )
    cv2.line(
        ink,
        (int(round(ruler["ticks_x"][0] + m)), int(round(ruler["y_top"] + m))),
        (int(round(ruler["ticks_x"][-1] + m)), int(round(ruler["y_top"] + m))),
        255,
        lw,
    )
    font_scale = 0.045 * p
    for k in (0, 10, 20):
        cv2.putText(
            ink,
            str(k // 10) if k else "0",
            (int(ruler["ticks_x"][k] + m - 0.4 * p), int(ruler["y_bottom"] + m + 3.0 * p)),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            255,
            max(1, int(0.1 * p)),
            cv2.LINE_AA,
        )
    cv2.putText(
        ink,
        "cm",
        (int(ruler["ticks_x"][-1] + m - 2.6 * p), int(ruler["y_bottom"] + m + 3.0 * p)),
        cv2.FONT_HERSHEY_SIMPLEX,
        font_scale,
        255,
        max(1, int(0.1 * p)),
        cv2.LINE_AA,
    )
    ink_f = cv2.GaussianBlur(ink.astype(np.float32) / 255.0, (0, 0), 0.03 * p)
    g_f = cv2.GaussianBlur(gpatch.astype(np.float32) / 255.0, (0, 0), 0.03 * p)
    paper = paper * (1.0 - g_f[..., None]) + np.array([50.0, 0.0, 0.0], np.float32) * g_f[..., None]
    paper = paper * (1.0 - ink_f[..., None]) + np.array(_TICK_LAB, np.float32) * ink_f[..., None]
    base = base * (1.0 - sticker[..., None]) + paper * sticker[..., None]

    # --- redness patterns ---------------------------------------------------------
    r5 = rng(5)
    blotch = 0.5 * _noise(r5, (H, W), 3.0 * p) + 0.85 * _noise(r5, (H, W), 8.0 * p)
    ery = 0.35 + np.log1p(np.exp(1.3 * (blotch + 0.1))) * (0.6 + 0.6 * apex)
    ery *= skin
    ery /= ery[sel].mean()
    pin = np.zeros((H, W), np.float32)
    n_pin = int(2.5 * (W / p) * (H / p))  # 2.5 pinpoint marks per mm^2
    _splat(pin, r5.uniform(0, W, n_pin), r5.uniform(0, H, n_pin), np.ones(n_pin))
    pin = cv2.GaussianBlur(pin, (0, 0), 0.07 * p) * (2 * math.pi * (0.07 * p) ** 2)
    spike = (0.7 + 0.25 * np.clip(blotch + 1.0, 0.0, None) + 1.2 * pin) * skin
    spike /= spike[sel].mean()

    # --- pigment spots --------------------------------------------------------------
    r6 = rng(6)
    spots = np.zeros((H, W, 3), np.float32)
    spot_info = []
    mole_xy = np.array([[mo["x"], mo["y"]] for mo in geo["moles"]])
    while len(spot_info) < 30:
        sx_, sy_ = r6.uniform(0.05 * w, 0.95 * w), r6.uniform(0.05 * h, 0.95 * h)
        rad_mm = float(np.clip(r6.lognormal(math.log(0.9), 0.45), 0.35, 2.5))
        rad = rad_mm * p
        if _cheek_rho(np.float32(sx_), np.float32(sy_), geo) > 0.93:
            continue
        if sticker[int(sy_) + m, int(sx_) + m] > 0 or (
            x0 - 3 * rad < sx_ < x1 + 3 * rad and y0 - 3 * rad < sy_ < y1 + 3 * rad
        ):
            continue
        if np.min(np.hypot(*(mole_xy - [sx_, sy_]).T)) < 4 * p + rad:
            continue
        dl = float(r6.uniform(5.0, 11.0))
        db = float(r6.uniform(2.5, 5.5))
        da = float(r6.uniform(0.5, 1.5))
        ell, ang0 = float(r6.uniform(0.6, 1.0)), float(r6.uniform(0, math.pi))
        ph = r6.uniform(0, 6.3, 3)
        pad = int(rad * 1.8) + 4
        cxs, cys = sx_ + m, sy_ + m
        xs0, ys0 = int(cxs) - pad, int(cys) - pad
        sub_x = xx[ys0 : ys0 + 2 * pad, xs0 : xs0 + 2 * pad] - cxs
        sub_y = yy[ys0 : ys0 + 2 * pad, xs0 : xs0 + 2 * pad] - cys
        u = sub_x * math.cos(ang0) + sub_y * math.sin(ang0)
        v = (-sub_x * math.sin(ang0) + sub_y * math.cos(ang0)) / ell
        ang = np.arctan2(v, u)
        wob = (
            1.0
            + 0.12 * np.sin(2 * ang + ph[0])
            + 0.08 * np.sin(3 * ang + ph[1])
            + 0.05 * np.sin(5 * ang + ph[2])
        )
        d = np.sqrt(u**2 + v**2) / (rad * wob)
        a = 1.0 / (1.0 + np.exp((d - 1.0) / 0.12))
        a *= 1.0 + 0.15 * r6.standard_normal(a.shape).astype(np.float32).clip(-2, 2) * 0.5
        sl = (slice(ys0, ys0 + 2 * pad), slice(xs0, xs0 + 2 * pad))
        spots[sl + (0,)] -= dl * a
        spots[sl + (1,)] += da * a
        spots[sl + (2,)] += db * a
        spot_info.append(
            {
                "x": round(sx_, 2),
                "y": round(sy_, 2),
                "radius_mm": round(rad_mm, 3),
                "delta_L": round(-dl, 3),
                "delta_a": round(da, 3),
                "delta_b": round(db, 3),
            }
        )
    spots = cv2.GaussianBlur(spots, (0, 0), 0.04 * p) * skin[..., None]

    # --- fine lines -----------------------------------------------------------------
    r7 = rng(7)
    lines_h = np.zeros((H, W), np.float32)
    line_info = []
    while len(line_info) < 9:
        lx, ly = r7.uniform(0.1 * w, 0.9 * w), r7.uniform(0.1 * h, 0.85 * h)
        if _cheek_rho(np.float32(lx), np.float32(ly), geo) > 0.85:
            continue
        if x0 - 4 * p < lx < x1 + 4 * p and y0 - 6 * p < ly:
            continue
        length = float(r7.uniform(10.0, 28.0)) * p
        ang = math.radians(float(r7.normal(-40.0, 12.0)))
        curv = float(r7.uniform(-1.0, 1.0)) / length
        width_mm = float(r7.uniform(0.3, 0.5))
        depth = float(r7.uniform(5.0, 8.0))
        t = np.arange(-0.5 * length, 0.5 * length, 0.4, dtype=np.float64)
        phi = ang + curv * t
        wob = 0.15 * p * np.sin(t / (2.5 * p) + r7.uniform(0, 6.3))
        px = lx + m + np.cumsum(np.cos(phi)) * 0.4 - np.sin(phi) * wob
        py = ly + m + np.cumsum(np.sin(phi)) * 0.4 + np.cos(phi) * wob
        px -= px.mean() - (lx + m)
        py -= py.mean() - (ly + m)
        taper = np.sin(np.pi * (t / length + 0.5)) ** 0.6
        sig = width_mm * p / 2.355
        one = np.zeros((H, W), np.float32)
        _splat(one, px, py, 0.4 * taper)
        pad = int(4 * sig) + 4
        ys_, xs_ = int(py.min()) - pad, int(px.min()) - pad
        ye_, xe_ = int(py.max()) + pad, int(px.max()) + pad
        ys_, xs_ = max(ys_, 0), max(xs_, 0)
        sub = cv2.GaussianBlur(one[ys_:ye_, xs_:xe_], (0, 0), sig) * (math.sqrt(2 * math.pi) * sig)
        lines_h[ys_:ye_, xs_:xe_] -= depth * sub
        line_info.append(
            {
                "x": round(lx, 2),
                "y": round(ly, 2),
                "length_mm": round(length / p, 2),
                "angle_deg": round(math.degrees(ang), 2),
                "width_mm": round(width_mm, 3),
                "depth_L": round(depth, 3),
            }
        )
    lines = _relief(lines_h, albedo=0.8, shade=0.25 * p) * skin

    # --- pores ------------------------------------------------------------------------
    r8 = rng(8)
    density = 0.9  # per mm^2 where the density field is 1
    n_try = int(density * 1.6 * (W / p) * (H / p))
    px_ = r8.uniform(0, W, n_try)
    py_ = r8.uniform(0, H, n_try)
    dens = np.clip(0.55 + 0.25 * _noise(r8, (H, W), 8.0 * p) + 0.35 * apex, 0.1, 1.0)
    keep = r8.uniform(0, 1.6, n_try) < dens[py_.astype(int), px_.astype(int)]
    px_, py_ = px_[keep], py_[keep]
    diam = np.clip(r8.lognormal(math.log(0.2), 0.3, px_.size), 0.1, 0.35)
    pdepth = r8.uniform(6.0, 12.0, px_.size)
    pores_h = np.zeros((H, W), np.float32)
    classes = np.digitize(diam, [0.15, 0.2, 0.26])
    for c, dmm in enumerate((0.125, 0.175, 0.23, 0.3)):
        sel_c = classes == c
        imp = np.zeros((H, W), np.float32)
        _splat(imp, px_[sel_c], py_[sel_c], pdepth[sel_c])
        sig = dmm * p / 2.355
        pores_h -= cv2.GaussianBlur(imp, (0, 0), sig) * (2 * math.pi * sig**2)
    pores = _relief(pores_h, albedo=0.9, shade=0.2 * p) * skin
    in_frame = (px_ >= m) & (px_ < m + w) & (py_ >= m) & (py_ < m + h)
    on_skin = skin_hard[py_.astype(int), px_.astype(int)]
    n_pores = int(np.count_nonzero(in_frame & on_skin))

    # --- micro-relief texture ------------------------------------------------------------
    r9 = rng(9)
    tex_h = np.zeros((H, W), np.float32)
    for sig_mm, amp in ((0.03, 0.35), (0.07, 0.5), (0.15, 0.55), (0.35, 0.5), (0.8, 0.45)):
        tex_h += amp * _noise(r9, (H, W), sig_mm * p)
    for ang, depth in ((35.0, 2.2), (-50.0, 1.7), (80.0, 1.0)):
        n = _aniso_noise(r9, (H, W), 0.8 * p, 0.14 * p, ang)
        tex_h -= depth * np.exp(-((n / 0.2) ** 2))
    tex_h -= tex_h[sel].mean()
    texture = _relief(tex_h, albedo=1.0, shade=0.18 * p) * skin

    info = {
        "pigment_spots": spot_info,
        "fine_lines": line_info,
        "pores": {
            "count_in_baseline_skin": n_pores,
            "diameter_mm": [0.1, 0.35],
            "diameter_mm_median": 0.2,
            "depth_L": [6.0, 12.0],
            "density_per_mm2_max": density,
        },
    }
    return _Scene(
        m,
        p,
        base,
        ery.astype(np.float32),
        spike.astype(np.float32),
        spots,
        lines.astype(np.float32),
        pores.astype(np.float32),
        texture.astype(np.float32),
        info,
    )


@functools.lru_cache(maxsize=2)
def _scene(seed: int, size: tuple[int, int]) -> _Scene:
    return _build_scene(seed, size)


def _scene_lab(scene: _Scene, trends: dict[str, float]) -> np.ndarray:
    lab = scene.base.copy()
    red = (_ERYTHEMA_A + trends["redness_slow_a"]) * scene.erythema + trends[
        "redness_spike_a"
    ] * scene.spike
    lab[..., 1] += red
    lab[..., 0] -= 0.25 * red
    lab += trends["spot_contrast_factor"] * scene.spots
    lab[..., 0] += (
        trends["line_depth_factor"] * scene.lines
        + trends["pore_depth_factor"] * scene.pores
        + trends["roughness_factor"] * scene.texture
    )
    return lab


def _scene_linear(scene: _Scene, trends: dict[str, float]) -> np.ndarray:
    lin = _lab_to_linear(_scene_lab(scene, trends))
    # Optics: the lens and the sensor's pixel area blur fine detail a little.
    return cv2.GaussianBlur(lin, (0, 0), 0.6 * scene.px_per_mm / _NOMINAL_PX_PER_MM)


def render_skin(
    day: float,
    *,
    seed: int = 7,
    size: Sequence[int] = _NOMINAL_SIZE,
    treatment_days: Sequence[float] = TREATMENT_DAYS,
) -> np.ndarray:
    """Render the cheek on a given day as the baseline camera sees it, without jitter.

    Parameters
    ----------
    day : float
        Days since the first treatment.
    seed : int, optional
        Seed of the scene (spots, pores, lines, texture).
    size : (int, int), optional
        Width and height in pixels (20 px/mm at 1600 px wide).
    treatment_days : sequence of float, optional
        Days of the treatments, which drive :func:`true_trends`.

    Returns
    -------
    ndarray of float32, shape (height, width, 3)
        Encoded sRGB in [0, 1]: identity view, exposure 1, neutral white balance, no
        sensor noise, no quantisation.

    Raises
    ------
    ValueError
        If ``size`` or ``day`` is invalid.

    Notes
    -----
    The scene is composed in CIELAB (D65): ``Lab = base + (4 + slow) * E + spike * S +
    f_spot * spots + (f_line * lines + f_pore * pores + f_rough * texture) on L*``,
    where ``E`` and ``S`` have mean 1 over the skin, so the mean a* over the skin
    moves by exactly ``redness_offset_a`` of :func:`true_trends`; L* also drops by a
    quarter of the added a*. It is then converted to sRGB with the IEC 61966-2-1
    matrices.
    """
    size = _check_size(size)
    trends = true_trends(day, treatment_days=treatment_days)
    scene = _scene(int(seed), size)
    lin = _scene_linear(scene, trends)
    m = scene.margin
    return _encode_srgb(lin[m : m + size[1], m : m + size[0]])


# --------------------------------------------------------------------------- capture


def _similarity(
    theta_deg: float, scale: float, shift: tuple[float, float], size: tuple[int, int]
) -> np.ndarray:
    """Baseline -> photo map: rotate and scale about the frame centre, then shift."""
    c = np.array([(size[0] - 1) / 2.0, (size[1] - 1) / 2.0])
    t = math.radians(theta_deg)
    a = scale * np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    f = np.eye(3)
    f[:2, :2] = a
    f[:2, 2] = c + np.asarray(shift) - a @ c
    return f


def _capture_params(seed: int, n: int, size: tuple[int, int]) -> list[dict]:
    rng = np.random.default_rng([seed, 100])
    s_px = size[0] / _NOMINAL_SIZE[0]
    out = [
        {
            "rotation_deg": 0.0,
            "scale": 1.0,
            "shift_px": [0.0, 0.0],
            "exposure": 1.0,
            "wb_gains": [1.0, 1.0, 1.0],
        }
    ]
    corners = np.array(
        [[0, 0, 1], [size[0] - 1, 0, 1], [0, size[1] - 1, 1], [size[0] - 1, size[1] - 1, 1]], float
    ).T
    while len(out) < n:
        theta = float(rng.uniform(-4.0, 4.0))
        scale = float(rng.uniform(0.93, 1.07))
        shift = [float(rng.uniform(-40.0, 40.0)) * s_px, float(rng.uniform(-40.0, 40.0)) * s_px]
        expo = float(rng.uniform(0.9, 1.1))
        wb = [float(v) for v in rng.uniform(0.96, 1.04, 3)]
        f = _similarity(theta, scale, tuple(shift), size)
        if np.abs(f @ corners - corners).max() < 20.0 * s_px:
            continue  # make every capture visibly different from the baseline
        out.append(
            {
                "rotation_deg": theta,
                "scale": scale,
                "shift_px": shift,
                "exposure": expo,
                "wb_gains": wb,
            }
        )
    return out


def _capture(
    scene: _Scene,
    lin: np.ndarray,
    m_to_base: np.ndarray,
    params: dict,
    size: tuple[int, int],
    rng: np.random.Generator,
) -> np.ndarray:
    w, h = size
    gains = np.asarray(params["wb_gains"], np.float32) * np.float32(params["exposure"])
    mg = scene.margin
    if np.allclose(m_to_base, np.eye(3)):
        view = lin[mg : mg + h, mg : mg + w]
    else:
        a = m_to_base[:2].copy()
        a[:, 2] += mg
        view = cv2.warpAffine(
            lin,
            a.astype(np.float64),
            (w, h),
            flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )
    srgb = _encode_srgb(view * gains)
    noise = rng.standard_normal(srgb.shape, dtype=np.float32)
    noisy = srgb * np.float32(255.0) + np.float32(_NOISE_SIGMA_DN) * noise
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def _round(x, nd: int = 6):
    if isinstance(x, float):
        return round(x, nd) + 0.0
    if isinstance(x, list | tuple):
        return [_round(v, nd) for v in x]
    if isinstance(x, dict):
        return {k: v if k == "matrix_to_baseline" else _round(v, nd) for k, v in x.items()}
    return x


def generate_series(out_dir: Path, *, seed: int = 7, size: Sequence[int] = _NOMINAL_SIZE) -> dict:
    """Render the sample series into ``out_dir`` and write ``truth.json``.

    Parameters
    ----------
    out_dir : Path
        Folder for the JPEGs and ``truth.json`` (created if missing; files of the same
        names are overwritten, nothing else is touched).
    seed : int, optional
        Seed of the scene and of the capture jitter; the output is deterministic.
    size : (int, int), optional
        Photo width and height in pixels.

    Returns
    -------
    dict
        The truth, as written to ``truth.json``.

    Raises
    ------
    ValueError
        If ``size`` is out of range or ``seed`` is negative.
    """
    size = _check_size(size)
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scene = _scene(seed, size)
    params = _capture_params(seed, len(PHOTO_DAYS), size)
    time_rng = np.random.default_rng([seed, 101])
    noise_rng = np.random.default_rng([seed, 102])
    photos = []
    for i, ((day, kind), cap) in enumerate(zip(PHOTO_DAYS, params, strict=True)):
        date = FIRST_TREATMENT.date() + dt.timedelta(days=day)
        if i == 0:
            when = dt.datetime.combine(date, dt.time(9, 30, 0))
        else:
            minutes = int(time_rng.integers(0, 150))
            when = dt.datetime.combine(date, dt.time(9, 0, 0)) + dt.timedelta(
                minutes=minutes, seconds=int(time_rng.integers(0, 60))
            )
        done = [t for t in TREATMENT_DAYS if t <= day]
        session = {"baseline": 1, "follow-up": len(TREATMENT_DAYS) + 1}.get(
            kind, len(done) + (1 if kind == "pre-treatment" else 0)
        )
        fname = f"{date.isoformat()}_session-{session:02d}_{kind}.jpg"
        trends = true_trends(day)
        f = _similarity(cap["rotation_deg"], cap["scale"], tuple(cap["shift_px"]), size)
        m_to_base = np.linalg.inv(f)
        pixels = _capture(scene, _scene_linear(scene, trends), m_to_base, cap, size, noise_rng)
        exif = Image.Exif()
        stamp = when.strftime("%Y:%m:%d %H:%M:%S")
        exif[0x010F] = "progress.samples"  # Make
        exif[0x0110] = "synthetic cheek v1"  # Model
        exif[0x0132] = stamp  # DateTime
        ifd = exif.get_ifd(0x8769)
        ifd[0x9003] = stamp  # DateTimeOriginal
        ifd[0x9004] = stamp  # DateTimeDigitized
        Image.fromarray(pixels, "RGB").save(
            out_dir / fname, "JPEG", quality=_JPEG_QUALITY, exif=exif
        )
        photos.append(
            {
                "file": fname,
                "date": when.isoformat(),
                "day": day,
                "session": session,
                "kind": kind,
                "treatments_received": len(done),
                "days_since_last_treatment": (day - done[-1]) if done else None,
                "within_7_days_of_treatment": bool(done) and day - done[-1] <= 7,
                "capture": {
                    "rotation_deg": cap["rotation_deg"],
                    "scale": cap["scale"],
                    "shift_px": cap["shift_px"],
                    "exposure": cap["exposure"],
                    "wb_gains": cap["wb_gains"],
                    "noise_sigma_dn": _NOISE_SIGMA_DN,
                },
                "matrix_to_baseline": [
                    [round(float(v), 9) + 0.0 for v in row] for row in m_to_base
                ],
                "trends": trends,
            }
        )
    geo = landmark_geometry(size=size)
    truth = {
        "description": (
            "Synthetic close-up of a left cheek over six months of monthly microneedling, "
            "rendered by progress.samples with known trends and capture jitter."
        ),
        "generator": "progress.samples",
        "version": 1,
        "seed": seed,
        "client": "Sample client",
        "fitzpatrick_skin_type": "III",
        "ita_category": "intermediate",
        "skin_albedo_lab": list(_SKIN_LAB),
        "area": "Left cheek",
        "treatment": "microneedling",
        "treatment_dates": [
            (FIRST_TREATMENT + dt.timedelta(days=t)).isoformat() for t in TREATMENT_DAYS
        ],
        "treatment_days": list(TREATMENT_DAYS),
        "image_size": list(size),
        "px_per_mm": scene.px_per_mm,
        "jpeg_quality": _JPEG_QUALITY,
        "conventions": {
            "pixel_coordinates": "(x, y) = (column, row), pixel centres at integers, y down",
            "matrix_to_baseline": "3x3, maps this photo's pixel coords to the baseline's "
            "(moving -> reference, as progress.registration.Alignment.matrix)",
            "capture": "baseline->photo: p = s R(theta) (q - c) + c + shift, c = frame centre, "
            "R(theta) = [[cos, -sin], [sin, cos]]; colour: linear sRGB * exposure * wb_gains",
            "day": "days since the first treatment; treatments act from their day on",
        },
        "trend_model": {
            "redness_offset_a": "mean a* change over the skin vs baseline = spike + slow",
            "redness_spike_a": f"sum over treatments t <= day of {_SPIKE_PEAK_A} * "
            f"2**(-(day - t) / {_SPIKE_HALF_LIFE_D})",
            "redness_slow_a": f"{_SLOW_REDNESS_A} * g(day)",
            "g": f"(1 - exp(-max(day, 0) / {_REMODEL_TAU_D})) / "
            f"(1 - exp(-{_REMODEL_END_D} / {_REMODEL_TAU_D}))",
            **{k: f"1 + ({v}) * g(day)" for k, v in _FACTOR_CHANGE.items()},
        },
        "expected_direction": dict(_EXPECTED_DIRECTION),
        "expected_direction_applies_to": (
            "baseline, pre-treatment and follow-up photos (not post-treatment), from the "
            "baseline to the final follow-up, registered to the baseline; the melanin index "
            "has no expected direction (fading redness raises it, fading spots lower it)"
        ),
        "landmarks": geo,
        "scene": scene.info,
        "photos": photos,
    }
    truth = _round(truth)
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return truth


def default_sample_dir() -> Path:
    """Folder of the bundled sample series.

    Returns
    -------
    Path
        ``sample_images/`` of the source checkout this module was loaded from when
        that folder exists, else ``./sample_images`` in the working directory.
    """
    checkout = Path(__file__).resolve().parents[2] / "sample_images"
    if checkout.is_dir():
        return checkout
    return Path.cwd() / "sample_images"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m progress.samples [--out DIR] [--seed N]``."""
    ap = argparse.ArgumentParser(
        prog="python -m progress.samples", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: sample_images)")
    ap.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    args = ap.parse_args(argv)
    out = args.out if args.out is not None else default_sample_dir()
    truth = generate_series(out, seed=args.seed)
    total = sum((out / p["file"]).stat().st_size for p in truth["photos"])
    for p in truth["photos"]:
        print(f"{p['file']}  day {p['day']:>4}  {p['kind']}")
    print(f"{len(truth['photos'])} photos, {total / 1e6:.2f} MB, truth.json in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
