"""The metric registry and ``measure``.

Every metric is one function of a :class:`Prepared` photo region, registered with the
:func:`metric` decorator together with its metadata (label, unit, better direction, kind,
formula, reference). The dashboard, the reports, the batch command and the tests all walk
the same registry ``METRICS``. Adding a metric is one function and one decorator.

Settings shared by the texture metrics (all lengths in millimetres on the analysis grid,
see :mod:`progress.grid`):

* GLCM: L* quantised with a fixed bin width of ``GLCM_BIN_WIDTH`` L* units from 0
  (``GLCM_LEVELS`` levels), distance ``GLCM_DISTANCE_MM``, symmetric, 0°/45°/90°/135°,
  features averaged over the four directions; pixels outside the region take part in no
  pair.
* Roughness: Gaussian background of ``ROUGHNESS_SIGMA_MM``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from progress import colour, glcm, texture
from progress.grid import Grid, to_grid

log = logging.getLogger(__name__)

GLCM_BIN_WIDTH = 2.0
GLCM_LEVELS = 50
GLCM_DISTANCE_MM = 0.2
ROUGHNESS_SIGMA_MM = 1.5


@dataclass(frozen=True)
class Metric:
    """Metadata of one metric.

    Attributes
    ----------
    name : str
        Stable key (``"glcm_contrast"``), used in stores, CSV columns and the API.
    label : str
        Human-readable name.
    unit : str
        Unit of the value ("" for dimensionless).
    kind : {"texture", "tone"}
    better : {"lower", "higher"}
        Which direction is an improvement.
    formula : str
        The formula in one line.
    reference : str
        Citation.
    func : callable
        ``func(prepared) -> float``.
    """

    name: str
    label: str
    unit: str
    kind: Literal["texture", "tone"]
    better: Literal["lower", "higher"]
    formula: str
    reference: str
    func: Callable[[Prepared], float] = field(repr=False, compare=False)

    @property
    def description(self) -> str:
        """The first paragraph of the metric function's docstring."""
        doc = (self.func.__doc__ or "").strip()
        return doc.split("\n\n")[0].replace("\n", " ")


class UnknownMetricError(KeyError):
    """A metric name that is not in the registry (a ``KeyError``, hence a ``LookupError``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class _Registry(Mapping[str, Metric]):
    """An ordered, read-only mapping of metric name to :class:`Metric`."""

    def __init__(self) -> None:
        self._items: dict[str, Metric] = {}

    def __getitem__(self, name: str) -> Metric:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(self._items)
            raise UnknownMetricError(f"Unknown metric {name!r}; known metrics: {known}.") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def _add(self, item: Metric) -> None:
        if item.name in self._items:
            raise ValueError(f"Metric {item.name!r} is registered twice.")
        self._items[item.name] = item

    def of_kind(self, kind: str) -> list[Metric]:
        """The metrics of one kind ("texture" or "tone"), in registry order."""
        return [m for m in self._items.values() if m.kind == kind]


METRICS = _Registry()


def metric(
    *,
    name: str,
    label: str,
    unit: str,
    kind: Literal["texture", "tone"],
    better: Literal["lower", "higher"],
    formula: str,
    reference: str,
) -> Callable[[Callable[[Prepared], float]], Callable[[Prepared], float]]:
    """Register a metric function in :data:`METRICS`."""
    if kind not in ("texture", "tone"):
        raise ValueError(f"kind must be 'texture' or 'tone', got {kind!r}")
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")

    def register(func: Callable[[Prepared], float]) -> Callable[[Prepared], float]:
        METRICS._add(Metric(name, label, unit, kind, better, formula, reference, func))
        return func

    return register


class cached_property:  # noqa: N801 - named after functools.cached_property
    """``functools.cached_property`` without its lock.

    On Python 3.11 the standard one holds one lock per property for *all* instances, so
    photos analysed on several threads (``workflow.analyse_area``) wait for each other
    at every shared intermediate. Each :class:`Prepared` is used by one analysis, whose
    helper thread (:func:`_measure`) touches only intermediates that the calling thread
    leaves alone until it has joined, so no lock is needed.
    """

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = self.func(obj)
        obj.__dict__[self.name] = value  # found before this (non-data) descriptor next time
        return value


@dataclass
class Prepared:
    """A photo region on the analysis grid, with the shared intermediate arrays.

    Each intermediate (Lab, linear RGB, GLCM, ...) is computed once, on first use, and
    shared by the metrics that need it.
    """

    grid: Grid

    @property
    def mask(self) -> np.ndarray:
        return self.grid.mask

    @property
    def px_per_mm(self) -> float:
        return self.grid.px_per_mm

    @cached_property
    def lab(self) -> np.ndarray:
        """CIELAB (D65) of the grid, float32 H×W×3."""
        return colour.srgb_to_lab(self.grid.rgb)

    @cached_property
    def lab_in(self) -> np.ndarray:
        """Lab of the region's pixels, N×3."""
        return self.lab[self.mask]

    @cached_property
    def _lab_moments(self) -> tuple[np.ndarray, np.ndarray]:
        # One pass of OpenCV (sums in float64) instead of gathering the region's pixels
        # and two NumPy reductions over a length-3 axis (~30× slower on 1.7 MP).
        mean, std = cv2.meanStdDev(self.lab, mask=self.mask.view(np.uint8))
        return mean.ravel(), std.ravel()

    @cached_property
    def lab_mean(self) -> np.ndarray:
        """Mean (L*, a*, b*) over the region, float64."""
        return self._lab_moments[0]

    @cached_property
    def lab_std(self) -> np.ndarray:
        """Population standard deviation of (L*, a*, b*) over the region, float64."""
        return self._lab_moments[1]

    @cached_property
    def glcm(self) -> glcm.GlcmFeatures:
        levels = glcm.quantise(
            self.lab[..., 0], bin_width=GLCM_BIN_WIDTH, low=0.0, n_levels=GLCM_LEVELS
        )
        distance = max(1, round(GLCM_DISTANCE_MM * self.px_per_mm))
        matrices = glcm.glcm(levels, self.mask, n_levels=GLCM_LEVELS, distance=distance)
        return glcm.glcm_features(matrices)

    @cached_property
    def _texture_input(self) -> tuple[np.ndarray, np.ndarray | None]:
        # L* checked once for the three texture filters (float32, 0 outside the region).
        return texture._check_inputs(self.lab[..., 0], self.mask, self.px_per_mm)

    @cached_property
    def _filled_l(self) -> np.ndarray:
        # L* with the outside replaced by a smooth fill: shared by ridges and blobs.
        work, m = self._texture_input
        return texture._fill_outside(work, m, self.px_per_mm)

    @cached_property
    def roughness(self) -> tuple[float, float]:
        work, m = self._texture_input
        return texture._roughness(work, m, ROUGHNESS_SIGMA_MM * self.px_per_mm)

    @cached_property
    def fine_lines(self) -> float:
        """:func:`progress.texture.fine_line_density` with its defaults."""
        sigmas_px = [s * self.px_per_mm for s in texture.FINE_LINE_SIGMAS_MM]
        return texture._fine_lines(
            self._filled_l, self._texture_input[1], sigmas_px, texture.FINE_LINE_THRESHOLD
        )

    @cached_property
    def pores(self) -> float:
        """:func:`progress.texture.pore_density` with its defaults."""
        return texture._pores(
            self._filled_l,
            self._texture_input[1],
            float(self.px_per_mm),
            texture.PORE_RADIUS_MM,
            texture.PORE_N_SCALES,
            texture.PORE_THRESHOLD,
        )

    @cached_property
    def de_spread(self) -> tuple[float, ...]:
        return colour.delta_e_spread(self.lab, self.mask, percentiles=(50, 90))


def prepare(
    rgb: np.ndarray, *, mask: np.ndarray | None = None, scale_px_per_mm: float | None = None
) -> Prepared:
    """Put a photo region on the analysis grid (see :func:`progress.grid.to_grid`)."""
    return Prepared(to_grid(rgb, mask, scale_px_per_mm=scale_px_per_mm))


def measure(
    rgb: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    scale_px_per_mm: float | None = None,
    metrics: list[str] | None = None,
) -> dict[str, float]:
    """Measure every registered metric inside a region of a photo.

    Parameters
    ----------
    rgb : ndarray
        H×W×3 uint8 sRGB photo (e.g. ``load_image(...).rgb`` or ``align(...).warped``).
    mask : ndarray, optional
        H×W bool region of interest; pixels outside it take no part in any metric.
        None measures the whole photo (use :func:`progress.skin_mask` for skin only).
    scale_px_per_mm : float, optional
        The photo's scale if known; otherwise a nominal scale is assumed (see
        :mod:`progress.grid`).
    metrics : list of str, optional
        Names of the metrics to compute (default: all of :data:`METRICS`).

    Returns
    -------
    dict of str to float
        One value per metric, in registry order. A metric that fails on this image is
        logged and reported as NaN so that a batch goes on.

    Raises
    ------
    ValueError
        If the photo is not H×W×3 uint8 or the mask does not match.
    RegionError
        If the region is empty or too small.
    LookupError
        If a requested metric name is unknown.
    """
    names = list(METRICS) if metrics is None else list(metrics)
    chosen = [METRICS[n] for n in names]
    return _measure(prepare(rgb, mask=mask, scale_px_per_mm=scale_px_per_mm), chosen)


def measure_grid(grid: Grid, *, metrics: list[str] | None = None) -> dict[str, float]:
    """Measure every registered metric of a region already on the analysis grid.

    Parameters
    ----------
    grid : Grid
        From :func:`progress.grid.to_grid` or :func:`progress.grid.warp_to_grid`.
    metrics : list of str, optional
        Names of the metrics to compute (default: all of :data:`METRICS`).

    Returns
    -------
    dict of str to float
        As :func:`measure` (NaN for a metric that fails).

    Raises
    ------
    LookupError
        If a requested metric name is unknown.
    """
    names = list(METRICS) if metrics is None else list(metrics)
    return _measure(Prepared(grid), [METRICS[n] for n in names])


# The texture filters (about half of the metrics' time) and the intermediates of the
# registered texture metrics that hold them: computed on a helper thread while the
# calling thread computes the other metrics (OpenCV and NumPy release the GIL).
_TEXTURE_INTERMEDIATES = {
    "roughness_ra": "roughness",
    "roughness_rq": "roughness",
    "fine_line_density": "fine_lines",
    "pore_density": "pores",
}


def _evaluate(item: Metric, prepared: Prepared) -> float:
    try:
        return float(item.func(prepared))
    except (ValueError, ArithmeticError, IndexError) as exc:
        log.warning("metric %s failed: %s", item.name, exc)
        return float("nan")


def _warm(prepared: Prepared, names: list[str]) -> None:
    """Compute cached intermediates; a failure is left for the metric itself to report."""
    with np.errstate(all="ignore"):
        for name in names:
            try:
                getattr(prepared, name)
            except Exception:  # noqa: BLE001 - recomputed (and reported) by the caller
                pass


def _measure(prepared: Prepared, chosen: list[Metric]) -> dict[str, float]:
    """Evaluate the metrics; NaN (and a log line) for a metric that fails.

    When OpenCV may use more than one thread (``cv2.getNumThreads() > 1``) and both
    texture and other metrics are asked for, the texture intermediates are computed on
    a helper thread meanwhile (results are the same, only sooner; in a process pool set
    ``cv2.setNumThreads(1)`` in the workers to keep one thread per process).
    """
    texture_names = [m.name for m in chosen if m.name in _TEXTURE_INTERMEDIATES]
    helper = None
    if texture_names and len(texture_names) < len(chosen) and cv2.getNumThreads() > 1:
        try:
            _ = prepared.lab  # shared by everything: made before the threads split
        except (ValueError, ArithmeticError, IndexError):
            pass
        else:
            props = list(dict.fromkeys(_TEXTURE_INTERMEDIATES[n] for n in texture_names))
            helper = threading.Thread(target=_warm, args=(prepared, props), daemon=True)
            helper.start()
    values: dict[str, float] = {}
    with np.errstate(all="ignore"):
        for item in chosen:
            if helper is None or item.name not in _TEXTURE_INTERMEDIATES:
                values[item.name] = _evaluate(item, prepared)
        if helper is not None:
            helper.join()
            for item in chosen:
                if item.name not in values:
                    values[item.name] = _evaluate(item, prepared)
    return {item.name: values[item.name] for item in chosen}


# ---------------------------------------------------------------------------- texture

_HARALICK = (
    "Haralick, Shanmugam & Dinstein, IEEE Trans SMC 1973;3:610, doi:10.1109/TSMC.1973.4309314"
)
_IBSI = "Zwanenburg et al., IBSI, Radiology 2020;295:328, doi:10.1148/radiol.2020191145"


@metric(
    name="glcm_contrast",
    label="GLCM contrast",
    unit="",
    kind="texture",
    better="lower",
    formula="Σ p(i,j) (i − j)²",
    reference=_HARALICK,
)
def glcm_contrast(p: Prepared) -> float:
    """Local grey-level variation of L*: high on rough, pitted or lined skin.

    Quantised L* (fixed 2-unit bins), distance 0.2 mm, symmetric, averaged over 4
    directions; a flat region gives 0.
    """
    return p.glcm.contrast


@metric(
    name="glcm_homogeneity",
    label="GLCM homogeneity",
    unit="",
    kind="texture",
    better="higher",
    formula="Σ p(i,j) / (1 + (i − j)²)  (inverse difference moment)",
    reference=_HARALICK + "; " + _IBSI,
)
def glcm_homogeneity(p: Prepared) -> float:
    """Closeness of neighbouring L* levels (1 for a flat region): smoother skin is higher."""
    return p.glcm.homogeneity


@metric(
    name="glcm_energy",
    label="GLCM energy",
    unit="",
    kind="texture",
    better="higher",
    formula="√(Σ p(i,j)²)  (square root of the angular second moment)",
    reference=_HARALICK,
)
def glcm_energy(p: Prepared) -> float:
    """Orderliness of the texture (1 for a flat region): even skin is higher."""
    return p.glcm.energy


@metric(
    name="glcm_correlation",
    label="GLCM correlation",
    unit="",
    kind="texture",
    better="higher",
    formula="Σ (i − μi)(j − μj) p(i,j) / (σi σj)",
    reference=_HARALICK,
)
def glcm_correlation(p: Prepared) -> float:
    """Linear dependence of neighbouring L* levels (1 for a flat region by convention)."""
    return p.glcm.correlation


@metric(
    name="glcm_entropy",
    label="GLCM entropy",
    unit="bit",
    kind="texture",
    better="lower",
    formula="−Σ p(i,j) log2 p(i,j)  (IBSI joint entropy)",
    reference=_IBSI,
)
def glcm_entropy(p: Prepared) -> float:
    """Disorder of the L* co-occurrences: irregular texture is higher."""
    return p.glcm.entropy


_ISO4287 = (
    "ISO 4287:1997 profile parameters applied to L* as a height proxy; "
    "Stout et al., The development of methods for the characterisation of roughness in three dimensions, 2000"
)


@metric(
    name="roughness_ra",
    label="Roughness Ra",
    unit="L*",
    kind="texture",
    better="lower",
    formula="z = L* − G_1.5mm(L*);  Ra = mean|z − z̄|",
    reference=_ISO4287,
)
def roughness_ra(p: Prepared) -> float:
    """Mean absolute fine-scale deviation of L* from its 1.5 mm Gaussian background.

    Intensity is not height: compare only within one client under the same light.
    """
    return p.roughness[0]


@metric(
    name="roughness_rq",
    label="Roughness Rq",
    unit="L*",
    kind="texture",
    better="lower",
    formula="z = L* − G_1.5mm(L*);  Rq = √mean((z − z̄)²)",
    reference=_ISO4287,
)
def roughness_rq(p: Prepared) -> float:
    """Root-mean-square fine-scale deviation of L* from its 1.5 mm Gaussian background."""
    return p.roughness[1]


@metric(
    name="fine_line_density",
    label="Fine-line density",
    unit="% area",
    kind="texture",
    better="lower",
    formula="share of region pixels on dark valleys: Hessian ridge strength σ²(λ1 − |λ2|) at σ = 0.2, 0.4 mm above 1 L*, band at half depth",
    reference="Frangi et al., MICCAI 1998, doi:10.1007/BFb0056195; Sato et al., Med Image Anal 1998;2:143",
)
def fine_line_density(p: Prepared) -> float:
    """Share of the region covered by fine dark lines (wrinkles, creases), in %.

    Fixed scales and a fixed absolute threshold: every session is measured with the same
    ruler (no per-image normalisation).
    """
    return p.fine_lines


@metric(
    name="pore_density",
    label="Pore / spot density",
    unit="per cm²",
    kind="texture",
    better="lower",
    formula="count of maxima of the dark-blob strength σ²√(λ1λ2) (radius 0.1–0.5 mm) above 1.5 L* / region area",
    reference="Lindeberg, Int J Comput Vis 1998;30:79, doi:10.1023/A:1008045108935",
)
def pore_density(p: Prepared) -> float:
    """Number of small dark blobs (pores, small spots) per cm² of the region.

    Without a known scale the area is in nominal cm² (see :mod:`progress.grid`).
    """
    return p.pores


# ------------------------------------------------------------------------------- tone

_CIE = "CIE 15:2004 Colorimetry; IEC 61966-2-1 (sRGB)"


@metric(
    name="lab_l",
    label="Mean L* (lightness)",
    unit="L*",
    kind="tone",
    better="higher",
    formula="mean of L* over the region (sRGB → CIELAB, D65)",
    reference=_CIE,
)
def lab_l(p: Prepared) -> float:
    """Mean CIELAB lightness of the region; falls with tanning or pigmentation."""
    return float(p.lab_mean[0])


@metric(
    name="lab_a",
    label="Mean a* (redness)",
    unit="a*",
    kind="tone",
    better="lower",
    formula="mean of a* over the region",
    reference=_CIE
    + "; Clarys et al., Skin Res Technol 2000;6:230, doi:10.1034/j.1600-0846.2000.006004230.x",
)
def lab_a(p: Prepared) -> float:
    """Mean CIELAB a* (green–red axis): rises with erythema."""
    return float(p.lab_mean[1])


@metric(
    name="lab_b",
    label="Mean b* (yellowness)",
    unit="b*",
    kind="tone",
    better="lower",
    formula="mean of b* over the region",
    reference=_CIE,
)
def lab_b(p: Prepared) -> float:
    """Mean CIELAB b* (blue–yellow axis): rises with tanning/browning (with L* down)."""
    return float(p.lab_mean[2])


@metric(
    name="ita",
    label="ITA° (individual typology angle)",
    unit="°",
    kind="tone",
    better="higher",
    formula="ITA = arctan((L̄* − 50) / b̄*) · 180/π on the region's mean L*, b*",
    reference="Chardon, Cretois & Hourseau, Int J Cosmet Sci 1991;13:191, doi:10.1111/j.1467-2494.1991.tb00561.x",
)
def ita(p: Prepared) -> float:
    """Individual typology angle of the region's mean colour: lower is darker skin."""
    return float(colour.ita_degrees(p.lab_mean[0], p.lab_mean[2]))


_DIFFEY = (
    "Diffey, Oliver & Farr, Br J Dermatol 1984;111:663; Takiwaki, J Med Invest 1998;44:121; "
    "Yamamoto et al., Skin Res Technol 2008;14:26, doi:10.1111/j.1600-0846.2007.00256.x"
)


@metric(
    name="erythema_index",
    label="Erythema index",
    unit="EI",
    kind="tone",
    better="lower",
    formula="EI = 100 · log10(R / G) on linearised sRGB",
    reference=_DIFFEY,
)
def erythema_index(p: Prepared) -> float:
    """Haemoglobin (redness) index from camera RGB.

    Comparable only between photos taken with the same camera and light.
    """
    return float(colour.erythema_index(p.grid.rgb, p.mask))


@metric(
    name="melanin_index",
    label="Melanin index",
    unit="MI",
    kind="tone",
    better="lower",
    formula="MI = 100 · log10(1 / R) on linearised, white-referenced sRGB",
    reference=_DIFFEY,
)
def melanin_index(p: Prepared) -> float:
    """Melanin (pigment) index from camera RGB.

    Needs a colour-normalised photo (white reference) to compare between sessions.
    """
    return float(colour.melanin_index(p.grid.rgb, p.mask))


@metric(
    name="sigma_l",
    label="σL* (lightness unevenness)",
    unit="L*",
    kind="tone",
    better="lower",
    formula="standard deviation of L* over the region",
    reference="Matts et al., J Am Acad Dermatol 2007;57:977, doi:10.1016/j.jaad.2007.07.040",
)
def sigma_l(p: Prepared) -> float:
    """Spread of lightness over the region: uneven pigmentation is higher."""
    return float(p.lab_std[0])


@metric(
    name="sigma_a",
    label="σa* (redness unevenness)",
    unit="a*",
    kind="tone",
    better="lower",
    formula="standard deviation of a* over the region",
    reference="Matts et al., J Am Acad Dermatol 2007;57:977, doi:10.1016/j.jaad.2007.07.040",
)
def sigma_a(p: Prepared) -> float:
    """Spread of redness over the region: blotchy redness is higher."""
    return float(p.lab_std[1])


@metric(
    name="sigma_b",
    label="σb* (yellowness unevenness)",
    unit="b*",
    kind="tone",
    better="lower",
    formula="standard deviation of b* over the region",
    reference="Matts et al., J Am Acad Dermatol 2007;57:977, doi:10.1016/j.jaad.2007.07.040",
)
def sigma_b(p: Prepared) -> float:
    """Spread of b* over the region: uneven browning is higher."""
    return float(p.lab_std[2])


_CIEDE = "Sharma, Wu & Dalal, Color Res Appl 2005;30:21, doi:10.1002/col.20070"


@metric(
    name="de2000_p50",
    label="ΔE2000 spread, median",
    unit="ΔE00",
    kind="tone",
    better="lower",
    formula="P50 over region pixels of ΔE2000(pixel Lab, median Lab of the region)",
    reference=_CIEDE,
)
def de2000_p50(p: Prepared) -> float:
    """Typical colour difference of a pixel from the region's median colour."""
    return float(p.de_spread[0])


@metric(
    name="de2000_p90",
    label="ΔE2000 spread, 90th percentile",
    unit="ΔE00",
    kind="tone",
    better="lower",
    formula="P90 over region pixels of ΔE2000(pixel Lab, median Lab of the region)",
    reference=_CIEDE,
)
def de2000_p90(p: Prepared) -> float:
    """Colour difference exceeded by the 10 % most off-colour pixels (spots, blotches)."""
    return float(p.de_spread[1])


@metric(
    name="spot_area_fraction",
    label="Spot area",
    unit="% area",
    kind="tone",
    better="lower",
    formula="share of region pixels with L* below the 5 mm median background by more than T",
    reference="Matts et al., J Am Acad Dermatol 2007;57:977; SCIENCE.md (spot area definition)",
)
def spot_area_fraction(p: Prepared) -> float:
    """Share of the region covered by spots darker than their surroundings, in %."""
    share = colour.spot_area_fraction(p.lab[..., 0], p.mask, px_per_mm=p.px_per_mm)
    return 100.0 * float(share)
