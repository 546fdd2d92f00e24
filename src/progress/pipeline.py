"""One photo through the whole analysis: quality check, alignment, colour, region, metrics.

The dashboard, the batch command and the benchmark all call :func:`analyse`, so a photo
is measured the same way wherever it is measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from progress import colour
from progress.errors import ColourError
from progress.grid import Grid, grid_region, to_grid, warp_to_grid
from progress.metrics import measure_grid
from progress.normalise import normalise_colour
from progress.quality import QualityCheck, QualityReport, check_quality, quality_baseline
from progress.registration import Alignment, _align_prepared, _prepare_reference, warp
from progress.skin import skin_mask

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Reference:
    """The reference photo of an area, its region of interest and colour reference.

    Attributes
    ----------
    rgb : ndarray
        The reference photo (H×W×3 uint8); every other photo is aligned to it.
    roi : ndarray
        H×W bool region of interest in the reference frame.
    card_box : tuple, optional
        ``(x0, y0, x1, y1)`` of a grey card in the reference frame: every photo (after
        alignment) is white-balanced on it and brought to the reference card's L*.
    card_lightness : float, optional
        L* of the card in the reference photo (the common target).
    scale_px_per_mm : float, optional
        Scale of the reference frame, if known (e.g. from a ruler).

    Notes
    -----
    What every analysis against this reference needs from it (its quality figures, its
    region on the analysis grid) is computed on first use and kept with the reference:
    treat ``rgb`` and ``roi`` as read-only once the reference is in use.
    """

    rgb: np.ndarray
    roi: np.ndarray
    card_box: Box | None = None
    card_lightness: float | None = None
    scale_px_per_mm: float | None = None
    _derived: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def _once(self, key: str, make):
        """A value derived from the reference, computed on first use."""
        if key not in self._derived:
            self._derived[key] = make()
        return self._derived[key]

    def __getstate__(self) -> dict:
        # The derived values are a cache (and hold OpenCV keypoints, which do not
        # pickle): a copy sent to another process recomputes them.
        state = dict(self.__dict__)
        state["_derived"] = {}
        return state

    @classmethod
    def from_photo(
        cls,
        rgb: np.ndarray,
        *,
        box: Box | None = None,
        card_box: Box | None = None,
        scale_px_per_mm: float | None = None,
    ) -> Reference:
        """Build the reference: region = ``box`` or the skin mask, minus the card."""
        roi = roi_mask(rgb, box=box)
        lightness = None
        if card_box is not None:
            card = roi_mask(rgb, box=card_box)
            if not card.any():
                raise ColourError("The grey-card box lies outside the reference photo.")
            roi &= ~card
            lightness = float(colour.srgb_to_lab(rgb[card])[:, 0].mean())
        return cls(rgb, roi, card_box, lightness, scale_px_per_mm)


@dataclass(frozen=True)
class Analysis:
    """The result of :func:`analyse` for one photo."""

    metrics: dict[str, float]
    quality: QualityReport
    alignment: Alignment | None
    roi: str
    colour: dict = field(default_factory=lambda: {"method": "none"})
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
            "colour": self.colour,
            "computed_at": self.computed_at.isoformat(),
        }


def roi_mask(rgb: np.ndarray, *, box: Box | None = None) -> np.ndarray:
    """The region of interest: a box ``(x0, y0, x1, y1)`` if given, else the skin mask.

    A box is taken as it is: the user chose it on purpose.
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


def _normalise(
    grid: Grid, rgb: np.ndarray, matrix: np.ndarray | None, reference: Reference
) -> tuple[Grid, dict, QualityCheck | None]:
    """White-balance a photo's grid on the reference's grey card.

    The card is read from the photo at full resolution, at its place in the reference
    frame (``matrix``: photo → reference frame; None for the reference itself), and the
    correction is applied to the grid.
    """
    if reference.card_box is None:
        return grid, {"method": "none"}, None
    h, w = reference.rgb.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in reference.card_box)
    x0, x1 = sorted((max(0, min(w, x0)), max(0, min(w, x1))))
    y0, y1 = sorted((max(0, min(h, y0)), max(0, min(h, y1))))
    try:
        if x1 <= x0 or y1 <= y0:
            raise ColourError("The grey-card box lies outside the reference photo.")
        if matrix is None:
            card, valid = rgb[y0:y1, x0:x1], None
        else:
            to_box = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0], [0.0, 0.0, 1.0]])
            card, valid = warp(rgb, to_box @ np.asarray(matrix, float), (y1 - y0, x1 - x0))
        region = np.ones(card.shape[:2], bool) if valid is None else valid
        _, corr = normalise_colour(
            card,
            reference_region=region,
            reference="grey",
            target_lightness=reference.card_lightness,
        )
    except ColourError as exc:
        msg = f"Colour not normalised: {exc} Tone values may differ from other sessions."
        return (
            grid,
            {"method": "none", "reason": str(exc)},
            QualityCheck("colour_card", "warn", float("nan"), msg),
        )
    info = {
        "method": corr.method,
        "residual_de": float(corr.residual_de),
        "gains": np.diag(corr.matrix).tolist(),
    }
    return replace(grid, rgb=corr.apply(grid.rgb)), info, None


def _with(quality: QualityReport, extra: QualityCheck | None) -> QualityReport:
    return quality if extra is None else QualityReport((*quality.checks, extra))


def analyse(
    rgb: np.ndarray,
    *,
    reference: Reference | None = None,
    box: Box | None = None,
    card_box: Box | None = None,
    scale_px_per_mm: float | None = None,
    alignment: Alignment | None = None,
) -> Analysis:
    """Analyse one photo: quality, alignment to the area's reference, colour, every metric.

    Parameters
    ----------
    rgb : ndarray
        H×W×3 uint8 sRGB photo.
    reference : Reference, optional
        The area's reference photo, region and grey card. None: this photo *is* the
        reference and is measured in its own frame (region = ``box`` or its skin mask,
        grey card = ``card_box``, scale = ``scale_px_per_mm``).
    box, card_box, scale_px_per_mm : optional
        Used only without a reference (see :class:`Reference`).
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
    the same skin. The photo is resampled once, straight onto the analysis grid of the
    reference's region (:func:`progress.grid.warp_to_grid`: area shrink, then one warp,
    Lanczos for the luma, which keeps fine texture, and bicubic for the chroma). The
    reference's share of the alignment (its grey copies and keypoints), its quality
    figures and its region on the grid are computed once per :class:`Reference` and
    reused for every photo. With a grey card, the photo is white-balanced on the card's
    place in the reference frame and brought to the reference card's lightness (von Kries
    gains, :func:`progress.normalise_colour`), which removes changes of light and white
    balance but keeps the skin's own redness. A failed alignment (low confidence) still
    measures the overlapping region; the result carries the alignment's reason.
    """
    if reference is None:
        ref = Reference.from_photo(rgb, box=box, card_box=card_box, scale_px_per_mm=scale_px_per_mm)
        quality = check_quality(rgb)
        grid = to_grid(rgb, ref.roi, scale_px_per_mm=ref.scale_px_per_mm)
        grid, info, extra = _normalise(grid, rgb, None, ref)
        roi = "box" if box is not None else "skin"
        return Analysis(measure_grid(grid), _with(quality, extra), None, roi, info)
    if alignment is None:
        # As progress.align(reference.rgb, rgb); the reference's grey copies and
        # keypoints are made once per reference, not once per photo.
        alignment = _align_prepared(
            reference._once("align", lambda: _prepare_reference(reference.rgb)), rgb
        )
    quality = check_quality(
        rgb, baseline=reference._once("quality", lambda: quality_baseline(reference.rgb))
    )
    region = reference._once(
        "grid", lambda: grid_region(reference.roi, scale_px_per_mm=reference.scale_px_per_mm)
    )
    # One resampling from the photo onto the analysis grid (no full-resolution warp).
    grid = warp_to_grid(rgb, alignment.matrix, region)
    grid, info, extra = _normalise(grid, rgb, alignment.matrix, reference)
    return Analysis(measure_grid(grid), _with(quality, extra), alignment, "reference region", info)
