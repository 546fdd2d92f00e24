"""The healing timeline after microneedling: phases, expected bands, and flags.

A photo is only as good as the moment it was taken. After each needling session the skin
goes through inflammation (redness, swelling), proliferation and a long maturation
(remodelling). Redness measured in the first week shows the inflammation, not the result;
a change in texture or tone becomes visible only after weeks to months. This module turns
those facts into

* :func:`phases` — the three healing phases relative to a session day;
* :func:`expected_change` / :func:`expected_band` — a *heuristic* envelope of where a
  metric may be expected on a given day, for the dashboard's plots;
* :func:`assess` — plain-language :class:`Flag`\\ s for a series of measured photos;
* :func:`change_label` — "improved" / "worse" / "no measurable change" for one change.

Days
----
All days are floats on one axis, conventionally *days since the first treatment*
(the first session is day 0, photos before it have negative days). Convert dates with
:func:`to_days`. A photo dated the same day as a session counts as taken *before* it (the
usual "before session N" photo); give it a later time (a fractional day) to say otherwise.

The envelope is a heuristic, not a clinical norm
------------------------------------------------
The per-family parameters in :data:`FAMILIES` summarise the trial timelines collected in
the project's SCIENCE.md; they are not fitted to any data set of camera metrics:

* redness resolves within 24–72 h after light needling (0.25–0.5 mm), within about 7 days
  after deep needling (Chu, Foulad & Atanaskova Mesinkovska 2021, systematic review of 85
  articles: transient erythema and oedema lasting up to 7 days);
* a scar-score change was significant at 6 months and not yet at 3 months after three
  sessions two weeks apart (Alam et al. 2014): improvement is slow and keeps growing over
  months, hence an onset of about 4 weeks and a time constant of about 90 days;
* most scars were at least 50 % improved after a mean of 2.5 monthly sessions (Alster & Li
  2020): the effect grows with the number of sessions and saturates;
* collagen and elastin were increased at 6 months and the epidermis 40 % thicker at 1 year
  (Aust et al. 2008): maturation lasts beyond 6 months.

References
----------
.. [1] Chu S, Foulad DP, Atanaskova Mesinkovska N. Safety profile for microneedling: a
       systematic review. Dermatol Surg 2021;47(9):1249-1254.
       doi:10.1097/01.dss.0000790428.70373.f6
.. [2] Alam M, Han S, Pongprutthipan M, et al. Efficacy of a needling device for the
       treatment of acne scars: a randomized clinical trial. JAMA Dermatol
       2014;150(8):844-849. doi:10.1001/jamadermatol.2013.8687
.. [3] Alster TS, Li MKY. Microneedling of scars: a large prospective study with long-term
       follow-up. Plast Reconstr Surg 2020;145(2):358-364.
       doi:10.1097/PRS.0000000000006462
.. [4] Aust MC, Fernandes D, Kolokythas P, Kaplan HM, Vogt PM. Percutaneous collagen
       induction therapy: an alternative treatment for scars, wrinkles, and skin laxity.
       Plast Reconstr Surg 2008;121(4):1421-1429. doi:10.1097/01.prs.0000304612.72899.02
.. [5] Chardon A, Cretois I, Hourseau C. Skin colour typology and suntanning pathways.
       Int J Cosmet Sci 1991;13(4):191-208. doi:10.1111/j.1467-2494.1991.tb00561.x
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import numpy as np

from progress.repeatability import DEFAULT_LIMITS, is_measurable

__all__ = [
    "FAMILIES",
    "FAMILY_OF",
    "INFLAMMATION_WINDOW_DAYS",
    "ITA_PIH_RISK_BELOW",
    "Band",
    "Flag",
    "Observation",
    "Phase",
    "assess",
    "change_label",
    "expected_band",
    "expected_change",
    "family_of",
    "phases",
    "to_days",
]

Depth = Literal["light", "deep"]
Better = Literal["lower", "higher"]

# ----------------------------------------------------------------------------- parameters

#: Days after a session during which a photo shows inflammation rather than the result
#: (transient erythema and oedema resolve within 7 days: Chu et al. 2021 [1]).
INFLAMMATION_WINDOW_DAYS = 7.0

#: Days for redness to settle after a session, by needling depth (24–72 h after light
#: 0.25–0.5 mm needling; up to about a week after deep needling: SCIENCE.md, [1]).
REDNESS_RESOLVES_DAYS: dict[str, float] = {"light": 3.0, "deep": 7.0}

#: Baseline ITA° below which skin is "tan", "brown" or "dark" in Chardon's typology [5];
#: post-inflammatory hyperpigmentation is more likely in darker skin (skin types IV–VI;
#: darker skin is a named risk factor in Chu et al. 2021 [1]).
ITA_PIH_RISK_BELOW = 28.0

#: Heuristic envelope per metric family (see the module docstring: NOT a clinical norm).
#:
#: ``max_fraction``
#:     largest expected improvement after a full course, as a fraction of the baseline
#:     value (of ``max(|baseline|, scale_floor)``), in the metric's better direction.
#: ``onset_days``
#:     delay after each session before its improvement starts ("visible change often
#:     claimed at 4–6 weeks"; Alam 2014 [2]: not significant at 3 months, significant at 6).
#: ``tau_days``
#:     time constant of each session's maturing effect, 1 − exp(−t/τ) (Alam 2014 [2],
#:     Aust 2008 [4]: remodelling over months).
#: ``sessions_scale``
#:     the course saturates with the number of matured sessions n as 1 − exp(−n / scale);
#:     2.0 puts 2.5 sessions at 71 % of the maximum (Alster & Li 2020 [3]: ≥ 50 % scar
#:     improvement after a mean of 2.5 sessions).
#: ``spread``
#:     half-width of the band beyond the repeatability limit, as a fraction of the expected
#:     change (people respond differently; 1.0 = anywhere from none to twice the centre).
#: ``peak_fraction``
#:     redness only: rise right after a session as a fraction of the baseline, by depth
#:     (resolving over :data:`REDNESS_RESOLVES_DAYS`).
FAMILIES: dict[str, dict[str, float]] = {
    "redness": dict(max_fraction=0.05, onset_days=28.0, tau_days=90.0, sessions_scale=2.0,
                    spread=1.0, peak_fraction_light=0.4, peak_fraction_deep=0.8),
    "texture": dict(max_fraction=0.15, onset_days=28.0, tau_days=90.0, sessions_scale=2.0,
                    spread=0.5),
    "pigment": dict(max_fraction=0.03, onset_days=28.0, tau_days=90.0, sessions_scale=2.0,
                    spread=0.5),
    "uniformity": dict(max_fraction=0.10, onset_days=28.0, tau_days=90.0, sessions_scale=2.0,
                       spread=0.5),
}  # fmt: skip

#: Which family each metric belongs to.
FAMILY_OF: dict[str, str] = {
    "lab_a": "redness",
    "erythema_index": "redness",
    "sigma_a": "redness",
    "glcm_contrast": "texture",
    "glcm_homogeneity": "texture",
    "glcm_energy": "texture",
    "glcm_correlation": "texture",
    "glcm_entropy": "texture",
    "roughness_ra": "texture",
    "roughness_rq": "texture",
    "fine_line_density": "texture",
    "pore_density": "texture",
    "lab_l": "pigment",
    "lab_b": "pigment",
    "ita": "pigment",
    "melanin_index": "pigment",
    "sigma_l": "uniformity",
    "sigma_b": "uniformity",
    "de2000_p50": "uniformity",
    "de2000_p90": "uniformity",
    "spot_area_fraction": "uniformity",
}

#: Smallest magnitude used to scale a relative change, for metrics whose baseline may sit
#: near zero (ITA° of brown skin; a* or b* of very pale skin). In the metric's unit.
_SCALE_FLOOR: dict[str, float] = {"ita": 10.0, "lab_a": 2.0, "lab_b": 2.0}

#: Natural range of a metric; absolute bands are clipped to it.
_BOUNDS: dict[str, tuple[float, float]] = {
    "glcm_homogeneity": (0.0, 1.0),
    "glcm_energy": (0.0, 1.0),
    "glcm_correlation": (-1.0, 1.0),
    "glcm_contrast": (0.0, math.inf),
    "glcm_entropy": (0.0, math.inf),
    "roughness_ra": (0.0, math.inf),
    "roughness_rq": (0.0, math.inf),
    "fine_line_density": (0.0, 100.0),
    "pore_density": (0.0, math.inf),
    "lab_l": (0.0, 100.0),
    "sigma_l": (0.0, math.inf),
    "sigma_a": (0.0, math.inf),
    "sigma_b": (0.0, math.inf),
    "de2000_p50": (0.0, math.inf),
    "de2000_p90": (0.0, math.inf),
    "spot_area_fraction": (0.0, 100.0),
}

_REDNESS_FLAG_METRICS = ("lab_a", "erythema_index")
# metric -> sign of a change that means "more pigment"
_PIGMENT_RISING = {"melanin_index": +1.0, "ita": -1.0, "lab_l": -1.0}
# metrics that read pigment from lightness; a lighter skin by these contradicts a rise of
# the RGB melanin index, which also responds to redness (haemoglobin absorbs some red)
_LIGHTNESS_METRICS = {"ita": "ITA° {:+.2g}°", "lab_l": "L* {:+.2g}"}


# ------------------------------------------------------------------------------- phases


@dataclass(frozen=True)
class Phase:
    """One phase of wound healing, in days after a session.

    Attributes
    ----------
    name : {"inflammation", "proliferation", "maturation"}
    start_day, end_day : float
        Days after the session (the session is day 0).
    description : str
        One sentence for the dashboard.
    """

    name: str
    start_day: float
    end_day: float
    description: str


def _check_depth(depth: str) -> str:
    if depth not in REDNESS_RESOLVES_DAYS:
        raise ValueError(f"depth must be 'light' (0.25–0.5 mm) or 'deep', got {depth!r}.")
    return depth


def phases(*, depth: Depth = "light") -> tuple[Phase, ...]:
    """The healing phases after one microneedling session.

    Parameters
    ----------
    depth : {"light", "deep"}
        Needling depth: "light" is 0.25–0.5 mm, "deep" anything deeper.

    Returns
    -------
    tuple of Phase
        Inflammation (0–3 days light, 0–7 days deep), proliferation (to day 21) and
        maturation (to day 365; remodelling continues for months).

    Raises
    ------
    ValueError
        If ``depth`` is neither "light" nor "deep".

    Notes
    -----
    The boundaries are round numbers for display; biology overlaps them. Inflammation:
    redness and swelling for 24–72 h after light needling, up to about a week after deep
    needling [1]_. Proliferation: days to weeks. Maturation: months; collagen up at
    6 months and the epidermis thicker at 1 year [2]_.

    References
    ----------
    .. [1] Chu S, et al. Dermatol Surg 2021;47(9):1249-1254.
           doi:10.1097/01.dss.0000790428.70373.f6
    .. [2] Aust MC, et al. Plast Reconstr Surg 2008;121(4):1421-1429.
           doi:10.1097/01.prs.0000304612.72899.02

    Examples
    --------
    >>> [p.end_day for p in phases(depth="deep")]
    [7.0, 21.0, 365.0]
    """
    end = REDNESS_RESOLVES_DAYS[_check_depth(depth)]
    return (
        Phase(
            "inflammation",
            0.0,
            end,
            "Redness and swelling from the needling; photos now show the reaction, not the result.",
        ),
        Phase(
            "proliferation",
            end,
            21.0,
            "New tissue and collagen are being laid down; little visible change yet.",
        ),
        Phase(
            "maturation",
            21.0,
            365.0,
            "Collagen remodels over months; texture and tone change slowly.",
        ),
    )


# -------------------------------------------------------------------------------- bands


@dataclass(frozen=True, eq=False)
class Band:
    """An expected envelope, as a *change from baseline* in the metric's unit.

    Attributes
    ----------
    low, high : ndarray
        Lower and upper edge of the expected change (``low <= centre <= high``).
    centre : ndarray
        The most likely change.

    Notes
    -----
    Keeping the change rather than the value lets one band be re-used for any baseline;
    :meth:`absolute` adds the baseline back for a value-vs-day plot.
    """

    low: np.ndarray
    high: np.ndarray
    centre: np.ndarray

    def absolute(
        self, baseline: float, *, bounds: tuple[float, float] = (-math.inf, math.inf)
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The band in the metric's unit: ``(low, centre, high)`` = baseline + change.

        Parameters
        ----------
        baseline : float
            The metric's baseline value.
        bounds : (float, float), optional
            The metric's natural range; the result is clipped to it.

        Returns
        -------
        low, centre, high : ndarray
        """
        if not math.isfinite(baseline):
            raise ValueError(f"baseline must be a finite number, got {baseline!r}.")
        lo, hi = bounds
        return tuple(
            np.clip(baseline + np.asarray(x, dtype=float), lo, hi)
            for x in (self.low, self.centre, self.high)
        )  # type: ignore[return-value]


def family_of(metric: str) -> str:
    """The timeline family of a metric: "redness", "texture", "pigment" or "uniformity".

    Metrics not in :data:`FAMILY_OF` fall back on the registry's ``kind`` (texture →
    "texture", tone → "uniformity").

    Raises
    ------
    LookupError
        If the metric is neither in :data:`FAMILY_OF` nor in the registry.
    """
    if metric in FAMILY_OF:
        return FAMILY_OF[metric]
    entry = _registered(metric)
    if entry is not None:
        return "texture" if entry.kind == "texture" else "uniformity"
    raise LookupError(f"Unknown metric {metric!r}; known metrics: {', '.join(FAMILY_OF)}.")


def _registered(metric: str) -> object | None:
    """The registry's entry for a metric, or None (imported lazily: no import cycle)."""
    try:
        registry = importlib.import_module("progress.metrics").METRICS
    except ImportError:  # pragma: no cover - the registry is part of the package
        return None
    try:  # the registry raises LookupError (not only KeyError) for unknown names
        return registry[metric]
    except LookupError:
        return None


def _better_of(metric: str, better: Mapping[str, str] | str | None) -> str:
    if isinstance(better, str):
        value = better
    elif better is not None and metric in better:
        value = better[metric]
    else:
        entry = _registered(metric)
        if entry is None:
            raise LookupError(
                f"No 'better' direction known for metric {metric!r}; pass "
                f"better={{'{metric}': 'lower' or 'higher'}}."
            )
        value = entry.better
    if value not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {value!r} for {metric!r}.")
    return value


def _sessions(treatment_days: Sequence[float]) -> np.ndarray:
    t = np.asarray(treatment_days, dtype=float).ravel()
    if t.size and not np.all(np.isfinite(t)):
        raise ValueError("treatment_days must be finite numbers (days since the first one).")
    return np.sort(t)


def expected_change(
    metric: str,
    days: float | Sequence[float] | np.ndarray,
    *,
    treatment_days: Sequence[float],
    baseline: float,
    limit: float,
    depth: Depth = "light",
    better: Better | None = None,
) -> Band:
    """Heuristic envelope of a metric's change from baseline over time.

    Parameters
    ----------
    metric : str
        Metric name (e.g. ``"lab_a"``, ``"roughness_ra"``).
    days : float or array_like
        Days on the same axis as ``treatment_days`` (days since the first treatment).
    treatment_days : sequence of float
        Session days.
    baseline : float
        The metric's baseline value (scales the expected change).
    limit : float
        The metric's repeatability limit (smallest detectable change, ≥ 0): the band is
        at least ± this wide.
    depth : {"light", "deep"}
        Needling depth; sets how long the redness spike lasts and how high it is.
    better : {"lower", "higher"}, optional
        Direction of improvement; default: the metric's ``better`` in ``METRICS``.

    Returns
    -------
    Band
        Change from baseline in the metric's unit, same shape as ``days``.

    Raises
    ------
    ValueError
        On a non-finite baseline, a negative or non-finite limit, or an unknown depth.
    LookupError
        If the metric is unknown and no ``better`` is given.

    Notes
    -----
    With sessions at days :math:`t_i`, scale :math:`s = \\max(|b|, s_{floor})` and the
    family parameters of :data:`FAMILIES`:

    * matured sessions :math:`n(t) = \\sum_i g(t - t_i - t_{onset})`, with
      :math:`g(u) = 1 - e^{-u/\\tau}` for :math:`u > 0`, else 0;
    * trend :math:`= d \\cdot f_{max} \\cdot s \\cdot (1 - e^{-n(t)/k})`, where
      :math:`d = +1` if higher is better, else −1;
    * redness family, plus a spike per session:
      :math:`p \\cdot s \\cdot (1 - u/T)^2` for :math:`0 \\le u < T` days after it
      (:math:`T` = 3 days light, 7 days deep; always upwards, since redness raises a*
      and the erythema index);
    * half-width :math:`= limit + spread \\cdot |centre|`.

    This is an envelope for plotting derived from the trial timelines in SCIENCE.md
    (Alam 2014: significant at 6 months, not at 3; Alster & Li 2020; Aust 2008; Chu
    2021), not a clinical norm: a client outside it is a prompt to look, not a finding.

    References
    ----------
    .. [1] Alam M, et al. JAMA Dermatol 2014;150(8):844-849.
           doi:10.1001/jamadermatol.2013.8687
    .. [2] Alster TS, Li MKY. Plast Reconstr Surg 2020;145(2):358-364.
           doi:10.1097/PRS.0000000000006462
    .. [3] Aust MC, et al. Plast Reconstr Surg 2008;121(4):1421-1429.
           doi:10.1097/01.prs.0000304612.72899.02
    .. [4] Chu S, et al. Dermatol Surg 2021;47(9):1249-1254.
           doi:10.1097/01.dss.0000790428.70373.f6
    """
    _check_depth(depth)
    if not math.isfinite(baseline):
        raise ValueError(f"baseline must be a finite number, got {baseline!r}.")
    if not (math.isfinite(limit) and limit >= 0):
        raise ValueError(f"limit must be a finite number ≥ 0, got {limit!r}.")
    family = family_of(metric)
    direction = 1.0 if _better_of(metric, better) == "higher" else -1.0
    p = FAMILIES[family]
    t = np.asarray(days, dtype=float)
    sessions = _sessions(treatment_days)
    scale = max(abs(baseline), _SCALE_FLOOR.get(metric, 0.0))

    since = t[..., None] - sessions  # days since each session, shape (..., n_sessions)
    matured = np.where(
        since > p["onset_days"], 1.0 - np.exp(-(since - p["onset_days"]) / p["tau_days"]), 0.0
    ).sum(axis=-1)
    fraction = 1.0 - np.exp(-matured / p["sessions_scale"])
    centre = direction * p["max_fraction"] * scale * fraction

    if family == "redness":
        resolve = REDNESS_RESOLVES_DAYS[depth]
        peak = p[f"peak_fraction_{depth}"] * scale
        u = np.clip(since / resolve, 0.0, None)
        spike = np.where((since >= 0) & (u < 1.0), peak * (1.0 - u) ** 2, 0.0).sum(axis=-1)
        centre = centre + spike

    half = limit + p["spread"] * np.abs(centre)
    return Band(low=centre - half, high=centre + half, centre=centre)


def expected_band(
    metric: str,
    days_since_first: float | Sequence[float] | np.ndarray,
    *,
    treatment_days: Sequence[float],
    baseline: float,
    limit: float,
    depth: Depth = "light",
    better: Better | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected ``(low, centre, high)`` of a metric's value over time, in its unit.

    The absolute version of :func:`expected_change` (baseline added, clipped to the
    metric's natural range), ready for a value-vs-day plot. Parameters, notes and
    references as there.

    Returns
    -------
    low, centre, high : ndarray
        Same shape as ``days_since_first``.

    Examples
    --------
    >>> lo, mid, hi = expected_band("lab_a", [-5.0, 0.0, 3.0], treatment_days=[0.0],
    ...                             baseline=12.0, limit=1.0, better="lower")
    >>> mid.round(2).tolist()
    [12.0, 16.8, 12.0]
    """
    band = expected_change(
        metric,
        days_since_first,
        treatment_days=treatment_days,
        baseline=baseline,
        limit=limit,
        depth=depth,
        better=better,
    )
    return band.absolute(baseline, bounds=_BOUNDS.get(metric, (-math.inf, math.inf)))


# -------------------------------------------------------------------------------- flags


@dataclass(frozen=True)
class Observation:
    """One measured photo.

    Attributes
    ----------
    photo_id : str or int
    day : float
        Days since the first treatment (negative before it); see :func:`to_days`.
    values : mapping of str to float
        Metric name → value (NaN for a metric that failed).
    """

    photo_id: str | int
    day: float
    values: Mapping[str, float]


@dataclass(frozen=True)
class Flag:
    """One finding about one photo, for the dashboard and the report.

    Attributes
    ----------
    photo_id : str or int
    day : float
    code : str
        ``within_7_days``, ``persistent_redness``, ``pigmentation_rising``,
        ``pigment_signals_disagree``, ``off_track``, ``improved``,
        ``no_measurable_change`` or ``no_baseline``.
    severity : {"info", "warn", "alert"}
    metric : str or None
        The metric concerned (None for a flag about the whole photo).
    message : str
        One plain sentence for a clinician.
    """

    photo_id: str | int
    day: float
    code: str
    severity: Literal["info", "warn", "alert"]
    metric: str | None
    message: str


def to_days(when: date | datetime, *, start: date | datetime) -> float:
    """Days from ``start`` (e.g. the first treatment) to ``when``, as a float.

    Dates count from midnight; mixing a date and a datetime compares the date's midnight.

    Examples
    --------
    >>> to_days(date(2024, 3, 15), start=date(2024, 3, 1))
    14.0
    >>> to_days(datetime(2024, 3, 1, 18), start=date(2024, 3, 1))
    0.75
    """

    def as_dt(x: date | datetime) -> datetime:
        if isinstance(x, datetime):
            return x.replace(tzinfo=None) if x.tzinfo is None else x
        if isinstance(x, date):
            return datetime(x.year, x.month, x.day)
        raise TypeError(f"expected a date or datetime, got {type(x).__name__}.")

    a, b = as_dt(when), as_dt(start)
    if (a.tzinfo is None) != (b.tzinfo is None):
        raise ValueError("Cannot mix time-zone-aware and naive datetimes; use one kind.")
    return (a - b).total_seconds() / 86400.0


def change_label(delta: float, limit: float, better: Better) -> str:
    """Label one change from baseline for a table or a report.

    Parameters
    ----------
    delta : float
        Value minus baseline, in the metric's unit.
    limit : float
        Smallest detectable change (repeatability limit), ≥ 0.
    better : {"lower", "higher"}
        Which direction is an improvement.

    Returns
    -------
    str
        ``"improved"`` or ``"worse"`` when ``|delta| > limit``; ``"no measurable change"``
        when ``|delta| <= limit`` (a change exactly at the limit is not measurable);
        ``"not measured"`` when ``delta`` is NaN (a failed measurement).

    Raises
    ------
    ValueError
        If ``limit`` is negative or not finite, or ``better`` is not "lower"/"higher".

    Examples
    --------
    >>> change_label(-2.0, 1.0, "lower"), change_label(1.0, 1.0, "lower")
    ('improved', 'no measurable change')
    """
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}.")
    if not (math.isfinite(limit) and limit >= 0):
        raise ValueError(f"limit must be a finite number ≥ 0, got {limit!r}.")
    if math.isnan(delta):
        return "not measured"
    if not is_measurable(delta, limit):
        return "no measurable change"
    return "improved" if (delta > 0) == (better == "higher") else "worse"


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _days(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def assess(
    records: Sequence[Observation],
    treatment_days: Sequence[float] = (),
    limits: Mapping[str, float] | None = None,
    *,
    ita_baseline: float | None = None,
    depth: Depth = "light",
    better: Mapping[str, str] | None = None,
) -> list[Flag]:
    """Flag what a clinician should know about a series of measured photos.

    Parameters
    ----------
    records : sequence of Observation
        The photos of one area of one client, in any order.
    treatment_days : sequence of float, optional
        Session days on the same axis as ``Observation.day``; default none (then no
        photo is in an inflammation window and the earliest photo is the baseline).
    limits : mapping of str to float, optional
        Smallest detectable change per metric (e.g. ``repeatability.client_limits(...)``).
        Only these metrics are assessed. Default: ``repeatability.DEFAULT_LIMITS``, the
        shipped limits for photos without a grey card.
    ita_baseline : float, optional
        The client's baseline ITA°; default: the baseline photo's ``"ita"`` value.
    depth : {"light", "deep"}
        Needling depth (wording of the redness messages).
    better : mapping of str to {"lower", "higher"}, optional
        Direction of improvement per metric; default: ``METRICS[name].better``.

    Returns
    -------
    list of Flag
        In order of day. For each photo other than the baseline: ``within_7_days`` if
        taken 0–7 days after a session (then nothing else, since its values show the
        inflammation); otherwise exactly one flag per assessed metric:

        * ``persistent_redness`` (alert): ``lab_a`` or ``erythema_index`` above baseline
          by more than the limit, more than 7 days after the last session;
        * ``pigmentation_rising``: ``melanin_index`` up, or ``ita`` or ``lab_l`` down, by
          more than the limit; "alert" if the baseline ITA° is below 28 (tan, brown or
          dark skin: more risk of post-inflammatory hyperpigmentation), else "warn";
        * ``pigment_signals_disagree`` (info): ``melanin_index`` up by more than the
          limit while ``ita`` or ``lab_l`` say lighter skin by more than theirs. The
          RGB melanin index ``100·log10(1/R)`` reads the red channel, which a change
          of redness moves too (Takiwaki 1998), so a rise that the lightness metrics
          contradict is not reported as pigmentation;
        * ``off_track`` (warn): beyond the limit in the worse direction;
        * ``improved`` (info): beyond the limit in the better direction;
        * ``no_measurable_change`` (info): within ± the limit.

        ``no_baseline`` (warn) is added when no photo precedes the first session.

    Raises
    ------
    ValueError
        If ``records`` is empty, a day is not finite, or a limit is negative.
    LookupError
        If a metric's better direction is unknown.

    Notes
    -----
    Baseline = the earliest photo taken on or before the first session day (or the
    earliest photo if none was). Metrics missing or NaN in the photo or the baseline are
    skipped. A photo on a session's day counts as taken before the session.

    References
    ----------
    .. [1] Chu S, et al. Dermatol Surg 2021;47(9):1249-1254.
           doi:10.1097/01.dss.0000790428.70373.f6 (erythema and oedema up to 7 days; PIH
           and darker skin as risks)
    .. [2] Chardon A, et al. Int J Cosmet Sci 1991;13(4):191-208.
           doi:10.1111/j.1467-2494.1991.tb00561.x (ITA° skin-colour categories)
    .. [3] Takiwaki H. J Med Invest 1998;44(3-4):121-126 (the RGB erythema and
           melanin indices, and how each responds to the other chromophore)
    """
    _check_depth(depth)
    if not records:
        raise ValueError("records is empty: pass at least one Observation.")
    if limits is None:
        limits = DEFAULT_LIMITS
    for r in records:
        if not math.isfinite(r.day):
            raise ValueError(f"Photo {r.photo_id!r} has a non-finite day {r.day!r}.")
    for name, lim in limits.items():
        if not (math.isfinite(lim) and lim >= 0):
            raise ValueError(f"limit for {name!r} must be a finite number ≥ 0, got {lim!r}.")
    sessions = _sessions(treatment_days)
    ordered = sorted(records, key=lambda r: r.day)

    flags: list[Flag] = []
    if sessions.size and ordered[0].day <= sessions[0]:
        base = [r for r in ordered if r.day <= sessions[0]][0]
    else:
        base = ordered[0]
        if sessions.size:
            flags.append(
                Flag(
                    base.photo_id,
                    base.day,
                    "no_baseline",
                    "warn",
                    None,
                    "No photo was taken before the first session, so changes are measured "
                    "against a photo that already shows treatment.",
                )
            )

    if ita_baseline is None:
        ita_value = base.values.get("ita")
        ita_baseline = float(ita_value) if ita_value is not None else None
    if ita_baseline is not None and math.isfinite(ita_baseline):
        high_risk: bool | None = ita_baseline < ITA_PIH_RISK_BELOW
    else:
        high_risk = None
    directions = {m: _better_of(m, better) for m in limits}
    resolve = REDNESS_RESOLVES_DAYS[depth]

    for obs in ordered:
        if obs is base:
            continue
        before = sessions[sessions < obs.day]
        since = float(obs.day - before[-1]) if before.size else None
        if since is not None and since <= INFLAMMATION_WINDOW_DAYS:
            flags.append(
                Flag(
                    obs.photo_id,
                    obs.day,
                    "within_7_days",
                    "warn",
                    None,
                    f"Taken {_days(since)} day(s) after a session, this photo shows the "
                    "inflammation, not the result; compare photos taken before a session.",
                )
            )
            continue
        lighter = _lighter_by(obs, base, limits)
        for name, limit in limits.items():
            delta = _change(obs, base, name)
            if delta is None:
                continue
            if name == "melanin_index" and delta > limit and lighter:
                flags.append(_melanin_contradicted(obs, delta, limit, lighter))
                continue
            flags.append(
                _metric_flag(
                    obs,
                    name,
                    delta,
                    limit,
                    directions[name],
                    since,
                    high_risk,
                    ita_baseline,
                    resolve,
                )
            )
    return flags


def _change(obs: Observation, base: Observation, name: str) -> float | None:
    """``obs − base`` for one metric; None when either value is missing or not finite."""
    value, ref = obs.values.get(name), base.values.get(name)
    if value is None or ref is None or not (math.isfinite(value) and math.isfinite(ref)):
        return None
    return float(value) - float(ref)


def _lighter_by(obs: Observation, base: Observation, limits: Mapping[str, float]) -> str:
    """The lightness metrics that say the skin became lighter beyond their limit.

    Returns a short text such as "ITA° +2.1°, L* +0.6", or "" when none does.
    """
    said = []
    for name, shown in _LIGHTNESS_METRICS.items():
        delta, limit = _change(obs, base, name), limits.get(name)
        if delta is not None and limit is not None and -_PIGMENT_RISING[name] * delta > limit:
            said.append(shown.format(delta))
    return ", ".join(said)


def _melanin_contradicted(obs: Observation, delta: float, limit: float, lighter: str) -> Flag:
    """An info flag in place of "pigmentation rising" when ITA° or L* say lighter skin."""
    return Flag(
        obs.photo_id,
        obs.day,
        "pigment_signals_disagree",
        "info",
        "melanin_index",
        f"{_label('melanin_index')} rose ({delta:+.3g} against a limit of {_fmt(limit)}) "
        f"while the skin became lighter ({lighter}). The RGB melanin index also responds "
        "to redness, so this is not read as rising pigmentation; look at the photos if "
        "in doubt.",
    )


def _label(name: str) -> str:
    """The metric's label from the registry (its key when it is not registered)."""
    item = _registered(name)
    return str(getattr(item, "label", name))


def _metric_flag(
    obs: Observation,
    name: str,
    delta: float,
    limit: float,
    better: str,
    since: float | None,
    high_risk: bool | None,
    ita_baseline: float | None,
    resolve: float,
) -> Flag:
    change = f"{delta:+.3g} against a limit of {_fmt(limit)}"
    shown = _label(name)
    if (
        name in _REDNESS_FLAG_METRICS
        and since is not None
        and since > INFLAMMATION_WINDOW_DAYS
        and delta > limit
    ):
        return Flag(
            obs.photo_id,
            obs.day,
            "persistent_redness",
            "alert",
            name,
            f"Redness ({shown}) is still above baseline ({change}) {_days(since)} days "
            f"after the last session, when it usually settles within {resolve:.0f} "
            "days; check for irritation or infection.",
        )
    if name in _PIGMENT_RISING and _PIGMENT_RISING[name] * delta > limit:
        if high_risk is None:
            severity, tone = "warn", "the baseline skin tone (ITA°) is unknown"
        elif high_risk:
            severity = "alert"
            tone = (
                f"baseline ITA° {ita_baseline:.0f}° marks skin at higher risk of "
                "post-inflammatory hyperpigmentation"
            )
        else:
            severity, tone = "warn", f"baseline ITA° is {ita_baseline:.0f}°"
        return Flag(
            obs.photo_id,
            obs.day,
            "pigmentation_rising",
            severity,
            name,
            f"Pigmentation is rising ({shown} {change}); {tone}.",
        )
    label = change_label(delta, limit, better)  # type: ignore[arg-type]
    if label == "worse":
        return Flag(
            obs.photo_id,
            obs.day,
            "off_track",
            "warn",
            name,
            f"{shown} has become worse than baseline ({change}) outside the inflammation window.",
        )
    if label == "improved":
        return Flag(
            obs.photo_id,
            obs.day,
            "improved",
            "info",
            name,
            f"{shown} has improved beyond the measurement noise ({change}).",
        )
    return Flag(
        obs.photo_id,
        obs.day,
        "no_measurable_change",
        "info",
        name,
        f"{shown} has not changed by more than the measurement noise ({change}).",
    )
