"""One photo through the whole analysis: quality check, alignment, region, metrics.

The dashboard, the batch command and the benchmark all call :func:`analyse`, so a photo
is measured the same way wherever it is measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from progress.align import Alignment, align
from progress.metrics import measure
from progress.quality import QualityReport, check_quality
from progress.skin import skin_mask

ROI_AUTO = "skin"


@dataclass(frozen=True)
class Reference:
    """The reference photo of an area and its region of interest (in its own frame)."""

    rgb: np.ndarray
    roi: np.ndarray

    @classmethod
    def from_photo(
        cls, rgb: np.ndarray, *, box: tuple[int, int, int, int] | None = None
    ) -> Reference:
        """Build the reference: its skin mask, or a box ``(x0, y0, x1, y1)`` in pixels."""
        return cls(rgb, roi_mask(rgb, box=box))


@dataclass(frozen=True)
class Analysis:
    """The result of :func:`analyse` for one photo."""

    metrics: dict[str, float]
    quality: QualityReport
    alignment: Alignment | None
    roi: str
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict:
        """A JSON-friendly summary (no image arrays)."""
        a = self.alignment
        return {
            "metrics": self.metrics,
            "quality": self.quality.to_dict(),
            "alignment": None
            if a is None
            else {
                "matrix": np.asarray(a.matrix).tolist(),
                "confidence": float(a.confidence),
                "residual_px": float(a.residual_px),
                "method": a.method,
                "reason": a.reason,
            },
            "roi": self.roi,
            "computed_at": self.computed_at.isoformat(),
        }


def roi_mask(rgb: np.ndarray, *, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The region of interest: a box ``(x0, y0, x1, y1)`` if given, else the skin mask.

    A box is intersected with nothing: the user chose it on purpose.
    """
    if box is None:
        return skin_mask(rgb)
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, x1 = sorted((max(0, min(w, x0)), max(0, min(w, x1))))
    y0, y1 = sorted((max(0, min(h, y0)), max(0, min(h, y1))))
    mask = np.zeros((h, w), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def analyse(
    rgb: np.ndarray,
    *,
    reference: Reference | None = None,
    box: tuple[int, int, int, int] | None = None,
    scale_px_per_mm: float | None = None,
    alignment: Alignment | None = None,
) -> Analysis:
    """Analyse one photo: quality, alignment to the area's reference, and every metric.

    Parameters
    ----------
    rgb : ndarray
        H×W×3 uint8 sRGB photo.
    reference : Reference, optional
        The area's reference photo and region. None: this photo *is* the reference, and is
        measured in its own frame (region = ``box`` or its skin mask).
    box : tuple, optional
        Used only without a reference: a box region in this photo's pixels.
    scale_px_per_mm : float, optional
        The reference frame's scale, if known.
    alignment : Alignment, optional
        A ready alignment to the reference (e.g. from clicked points,
        :func:`progress.align_from_points`); None aligns automatically.

    Returns
    -------
    Analysis

    Notes
    -----
    With a reference, the photo is aligned to it and measured on the warped photo inside
    the reference's region ∩ the pixels the warp covers, so every session is measured on
    the same skin. A failed alignment (low confidence) still measures the overlapping
    region but the result carries the alignment's reason, which the dashboard shows.
    """
    if reference is None:
        quality = check_quality(rgb)
        roi = roi_mask(rgb, box=box)
        values = measure(rgb, mask=roi, scale_px_per_mm=scale_px_per_mm)
        return Analysis(values, quality, None, "box" if box is not None else "skin")
    if alignment is None:
        alignment = align(reference.rgb, rgb)
    quality = check_quality(rgb, baseline=reference.rgb)
    region = reference.roi & alignment.valid
    values = measure(alignment.warped, mask=region, scale_px_per_mm=scale_px_per_mm)
    return Analysis(values, quality, alignment, "reference region")
