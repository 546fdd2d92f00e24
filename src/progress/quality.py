"""Capture-quality check: is this photo fit to be compared with the others?

Each check gives pass / warn / fail with one plain sentence for the user. Blur and
brightness are judged against a baseline photo of the same client when one is given,
because there is no universal sharpness threshold for skin (SCIENCE.md, "Standardising
photos").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from progress import colour
from progress.skin import skin_mask

Status = Literal["pass", "warn", "fail"]
_ORDER = {"pass": 0, "warn": 1, "fail": 2}

WORK_LONG_SIDE = 1500
MIN_SIDE_FAIL = 480
MIN_SIDE_WARN = 1000
CLIP_WARN, CLIP_FAIL = 0.01, 0.05  # share of clipped pixels
SHARP_RATIO_WARN, SHARP_RATIO_FAIL = 0.6, 0.35  # sharpness vs baseline
SHARP_ABS_WARN, SHARP_ABS_FAIL = 8.0, 2.0  # Laplacian variance without a baseline
DL_WARN, DL_FAIL = 6.0, 12.0  # |ΔL*| of the mean vs baseline
CAST_WARN = 4.0  # |Δa*| or |Δb*| of the mean vs baseline
HIGHLIGHT_CHROMA_WARN = 14.0  # chroma of the brightest pixels without a baseline
EVEN_WARN = 22.0  # L* range (P95 − P5) of the 1/8-scale lighting field over the skin
MIN_SKIN_SHARE = 0.05  # below this share of skin pixels, judge the light on the whole frame


@dataclass(frozen=True)
class QualityCheck:
    """One capture-quality check.

    Attributes
    ----------
    name : str
        "resolution", "blur", "exposure", "colour_cast", "brightness", "lighting".
    status : {"pass", "warn", "fail"}
    value : float
        The measured figure (see ``message``).
    message : str
        One plain sentence for the user.
    """

    name: str
    status: Status
    value: float
    message: str


@dataclass(frozen=True)
class QualityReport:
    """All checks of one photo; ``status`` is the worst of them."""

    checks: tuple[QualityCheck, ...]

    @property
    def status(self) -> Status:
        return max((c.status for c in self.checks), key=_ORDER.__getitem__, default="pass")

    @property
    def warnings(self) -> list[str]:
        """Messages of the checks that did not pass."""
        return [c.message for c in self.checks if c.status != "pass"]

    def __getitem__(self, name: str) -> QualityCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "checks": [c.__dict__ for c in self.checks],
        }


@dataclass(frozen=True)
class QualityBaseline:
    """The figures of a baseline photo that :func:`check_quality` compares against.

    Made by :func:`quality_baseline`. Passing it as ``baseline`` instead of the photo
    checks many photos against one baseline without measuring the baseline each time.

    Attributes
    ----------
    sharpness : float
        Laplacian variance on the 1500 px work grid (see :func:`sharpness`).
    mean_lab : tuple of float
        Mean (L*, a*, b*) of the photo.
    """

    sharpness: float
    mean_lab: tuple[float, float, float]


@dataclass(frozen=True)
class _Stats:
    sharpness: float
    clipped: float
    mean_lab: np.ndarray
    highlight_chroma: float
    lighting_range: float
    lighting_on_skin: bool


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian of a grey image at a common brightness.

    Parameters
    ----------
    grey : ndarray
        H×W uint8 or float image.

    Returns
    -------
    float
        ``Var(∇²(128 I / mean(I)))`` with the 3×3 Laplacian kernel; larger is sharper.
        Only comparable between photos at the same scale (``check_quality`` uses a
        1500 px grid).

    Notes
    -----
    The Laplacian variance of Pech-Pacheco et al. grows with the square of the image's
    gain, so a darker photo of the same sharpness would read as blurrier. Scaling the
    image to a mean of 128 first makes the measure independent of exposure (exactly for
    a gain, approximately for the sRGB curve) and leaves it unchanged for a photo of mean
    grey 128.

    References
    ----------
    Pech-Pacheco, Cristóbal, Chamorro-Martínez & Fernández-Valdivia, Diatom autofocusing in
    brightfield microscopy, ICPR 2000, doi:10.1109/ICPR.2000.903548.
    """
    img = np.asarray(grey, np.float32)
    mean = float(img.mean()) if img.size else 0.0
    if mean > 1e-3:
        img = img * np.float32(128.0 / mean)
    lap = cv2.Laplacian(img, cv2.CV_32F, ksize=1)
    return float(lap.var())


def _lighting_range(lab_l: np.ndarray, weight: np.ndarray | None) -> float:
    """P95 − P5 of the smoothed lighting field of L*, over the pixels with weight ≥ ½.

    With a weight (1 on skin, 0 elsewhere), the field is a normalised convolution,
    ``G∗(w·L*) / G∗w``, read on the skin only: a dark background or a white card beside
    the skin does not read as uneven light.
    """
    sigma = max(lab_l.shape) / 16
    if weight is None:
        field = cv2.GaussianBlur(lab_l, (0, 0), sigma)
        return float(np.percentile(field, 95) - np.percentile(field, 5))
    w = weight.astype(np.float32)
    num = cv2.GaussianBlur(lab_l.astype(np.float32) * w, (0, 0), sigma)
    den = cv2.GaussianBlur(w, (0, 0), sigma)
    inside = w >= 0.5
    field = num[inside] / np.maximum(den[inside], 1e-6)
    return float(np.percentile(field, 95) - np.percentile(field, 5))


def _stats(rgb: np.ndarray) -> _Stats:
    h, w = rgb.shape[:2]
    f = min(1.0, WORK_LONG_SIDE / max(h, w))
    small = (
        cv2.resize(rgb, (max(round(w * f), 1), max(round(h * f), 1)), interpolation=cv2.INTER_AREA)
        if f < 1
        else rgb
    )
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    # channel maximum with OpenCV (NumPy's reduction over a length-3 axis is ~20× slower)
    r, g, b = cv2.split(np.ascontiguousarray(small))
    top = cv2.max(cv2.max(r, g), b)
    clipped = float(np.count_nonzero((top >= 250) | (top <= 5)) / top.size)
    tiny_size = (max(small.shape[1] // 8, 1), max(small.shape[0] // 8, 1))
    tiny = cv2.resize(small, tiny_size, interpolation=cv2.INTER_AREA)
    lab = colour.srgb_to_lab(tiny)
    flat = lab.reshape(-1, 3)
    bright = flat[flat[:, 0] >= np.percentile(flat[:, 0], 98)]
    highlight_chroma = float(np.hypot(bright[:, 1].mean(), bright[:, 2].mean()))
    # The skin mask on the 1/8 copy the lighting field is measured on (≈ 190 px: 3.5 ms
    # instead of 34 ms on the 1500 px copy; the samples' lighting ranges agree within 0.3).
    skin = skin_mask(tiny).astype(np.float32)
    weight = skin if np.count_nonzero(skin >= 0.5) >= MIN_SKIN_SHARE * skin.size else None
    lighting_range = _lighting_range(lab[..., 0], weight)
    return _Stats(
        sharpness(grey),
        clipped,
        flat.mean(axis=0),
        highlight_chroma,
        lighting_range,
        weight is not None,
    )


def quality_baseline(rgb: np.ndarray) -> QualityBaseline:
    """Measure a baseline photo once, for many calls of :func:`check_quality`.

    Parameters
    ----------
    rgb : ndarray
        H×W×3 uint8 sRGB baseline photo.

    Returns
    -------
    QualityBaseline

    Raises
    ------
    ValueError
        If ``rgb`` is not H×W×3 uint8.
    """
    rgb = _check_rgb(rgb, "baseline")
    s = _stats(rgb)
    return QualityBaseline(s.sharpness, tuple(float(v) for v in s.mean_lab))


def _check_rgb(arr: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(
            f"The {what} must be an H×W×3 uint8 sRGB image, got {arr.shape} {arr.dtype}."
        )
    return arr


def check_quality(
    rgb: np.ndarray, *, baseline: np.ndarray | QualityBaseline | None = None
) -> QualityReport:
    """Check a photo's capture quality, alone or against a baseline photo.

    Parameters
    ----------
    rgb : ndarray
        H×W×3 uint8 sRGB photo.
    baseline : ndarray or QualityBaseline, optional
        The client's baseline photo of the same area (H×W×3 uint8), ideally already
        aligned; blur, brightness and colour cast are then judged relative to it. Its
        :func:`quality_baseline` gives the same result without measuring it again.

    Returns
    -------
    QualityReport

    Raises
    ------
    ValueError
        If an image is not H×W×3 uint8.

    Notes
    -----
    * resolution: shorter side < 480 px fails, < 1000 px warns.
    * exposure: share of clipped pixels (any channel ≥ 250 or all ≤ 5) > 1 % warns,
      > 5 % fails.
    * blur: Laplacian variance on a 1500 px grid; with a baseline, a ratio < 0.6 warns and
      < 0.35 fails; without one, < 8 warns and < 2 fails.
    * brightness (baseline only): |ΔL̄*| > 6 warns, > 12 fails.
    * colour cast: with a baseline |Δā*| or |Δb̄*| > 4 warns; without one, the chroma of
      the brightest 2 % of pixels > 14 warns (highlights of a neutral light are neutral).
    * lighting: the range (P95 − P5) of L* in the 1/16-frame-smoothed lighting field > 22
      warns of uneven light. The field is taken over the skin only
      (:func:`progress.skin.skin_mask`, as a normalised convolution
      ``G∗(m·L*) / G∗m``), so a dark background, hair or a white card is not mistaken
      for uneven light; when less than 5 % of the frame is skin, over the whole frame.
      Exposure and colour cast stay whole-frame checks: the skin mask leaves clipped
      pixels out by construction, and the skin's own a*, b* are what a treatment
      changes, so a cast is judged on the whole scene (or its brightest, mostly
      neutral, pixels).
    """
    rgb = _check_rgb(rgb, "photo")
    if baseline is not None and not isinstance(baseline, QualityBaseline):
        baseline = quality_baseline(baseline)
    checks: list[QualityCheck] = []
    side = min(rgb.shape[:2])
    if side < MIN_SIDE_FAIL:
        checks.append(
            QualityCheck(
                "resolution",
                "fail",
                side,
                f"The photo is only {side} px on its short side: too small to measure texture (at least {MIN_SIDE_WARN} px is advised).",
            )
        )
    elif side < MIN_SIDE_WARN:
        checks.append(
            QualityCheck(
                "resolution",
                "warn",
                side,
                f"The photo is {side} px on its short side: texture is more reliable at {MIN_SIDE_WARN} px or more.",
            )
        )
    else:
        checks.append(
            QualityCheck(
                "resolution",
                "pass",
                side,
                f"Resolution is fine ({rgb.shape[1]}×{rgb.shape[0]} px).",
            )
        )

    s = _stats(rgb)
    b = baseline

    pct = 100 * s.clipped
    if s.clipped > CLIP_FAIL:
        checks.append(
            QualityCheck(
                "exposure",
                "fail",
                pct,
                f"{pct:.1f} % of the photo is blown out or black: retake it with softer, even light.",
            )
        )
    elif s.clipped > CLIP_WARN:
        checks.append(
            QualityCheck(
                "exposure",
                "warn",
                pct,
                f"{pct:.1f} % of the photo is blown out or black: values near shiny or dark areas may be off.",
            )
        )
    else:
        checks.append(
            QualityCheck("exposure", "pass", pct, f"Exposure is fine ({pct:.1f} % clipped).")
        )

    if b is not None and b.sharpness > 0:
        ratio = s.sharpness / b.sharpness
        status: Status = (
            "fail" if ratio < SHARP_RATIO_FAIL else "warn" if ratio < SHARP_RATIO_WARN else "pass"
        )
        msg = {
            "fail": f"The photo is much blurrier than the baseline ({ratio:.0%} of its sharpness): texture cannot be compared; retake it.",
            "warn": f"The photo is blurrier than the baseline ({ratio:.0%} of its sharpness): texture may look smoother than it is.",
            "pass": f"Sharpness is comparable to the baseline ({ratio:.0%}).",
        }[status]
        checks.append(QualityCheck("blur", status, ratio, msg))
    else:
        v = s.sharpness
        status = "fail" if v < SHARP_ABS_FAIL else "warn" if v < SHARP_ABS_WARN else "pass"
        msg = {
            "fail": f"The photo looks out of focus (sharpness {v:.1f}): retake it.",
            "warn": f"The photo may be slightly out of focus (sharpness {v:.1f}).",
            "pass": f"The photo looks in focus (sharpness {v:.1f}).",
        }[status]
        checks.append(QualityCheck("blur", status, v, msg))

    if b is not None:
        dl = float(s.mean_lab[0] - b.mean_lab[0])
        status = "fail" if abs(dl) > DL_FAIL else "warn" if abs(dl) > DL_WARN else "pass"
        word = "brighter" if dl > 0 else "darker"
        msg = {
            "fail": f"The photo is much {word} than the baseline (ΔL* {dl:+.1f}): use the same light and camera settings.",
            "warn": f"The photo is {word} than the baseline (ΔL* {dl:+.1f}): tone values may shift.",
            "pass": f"Brightness matches the baseline (ΔL* {dl:+.1f}).",
        }[status]
        checks.append(QualityCheck("brightness", status, dl, msg))
        # Colour at the baseline's exposure: under a gain k of linear light, L* + 16, a*
        # and b* all scale by k^(1/3) (CIE 1976, above the linear toe), so the ratio takes
        # the brightness change out and leaves the change of light colour.
        k = (b.mean_lab[0] + 16.0) / max(float(s.mean_lab[0]) + 16.0, 1.0)
        da = float(s.mean_lab[1] * k - b.mean_lab[1])
        db = float(s.mean_lab[2] * k - b.mean_lab[2])
        worst = max(abs(da), abs(db))
        if worst > CAST_WARN:
            checks.append(
                QualityCheck(
                    "colour_cast",
                    "warn",
                    worst,
                    f"The colours differ from the baseline (Δa* {da:+.1f}, Δb* {db:+.1f}): the light or white balance changed; normalise with a grey card before comparing tone.",
                )
            )
        else:
            checks.append(
                QualityCheck(
                    "colour_cast",
                    "pass",
                    worst,
                    f"Colour balance matches the baseline (Δa* {da:+.1f}, Δb* {db:+.1f}).",
                )
            )
    else:
        c = s.highlight_chroma
        if c > HIGHLIGHT_CHROMA_WARN:
            checks.append(
                QualityCheck(
                    "colour_cast",
                    "warn",
                    c,
                    f"The light looks coloured (highlight chroma {c:.0f}): a grey card in the photo would let tone be compared.",
                )
            )
        else:
            checks.append(
                QualityCheck(
                    "colour_cast", "pass", c, f"No strong colour cast (highlight chroma {c:.0f})."
                )
            )

    r = s.lighting_range
    where = "the skin" if s.lighting_on_skin else "the photo"
    if r > EVEN_WARN:
        checks.append(
            QualityCheck(
                "lighting",
                "warn",
                r,
                f"The light is uneven across {where} (L* range {r:.0f}): use diffuse front light.",
            )
        )
    else:
        checks.append(
            QualityCheck(
                "lighting",
                "pass",
                r,
                f"The light is even enough across {where} (L* range {r:.0f}).",
            )
        )
    return QualityReport(tuple(checks))
