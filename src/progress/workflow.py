"""Area-level work over the store: analyse every photo of an area, build tables and series.

This is the layer the dashboard, the report and the tests share; it holds no UI code.
Day 0 of an area is its first treatment (or its first photo when no treatment is
recorded); a photo's *day* is counted from there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np

from progress import repeatability, timeline
from progress.errors import ColourError
from progress.loader import load_image
from progress.metrics import METRICS
from progress.pipeline import Reference, analyse
from progress.registration import align_from_points
from progress.store import PhotoRecord, Session, Store

RESULT_VERSION = 1
INFLAMMATION_DAYS = 7


@dataclass(frozen=True)
class AreaPhoto:
    """A photo of an area with its place on the area's timeline and its stored result."""

    record: PhotoRecord
    session: Session
    day: float
    days_since_treatment: float | None
    result: dict | None

    @property
    def within_7_days(self) -> bool:
        """Taken 0–7 days after a treatment: it shows inflammation, not the result."""
        d = self.days_since_treatment
        return d is not None and 0 <= d <= INFLAMMATION_DAYS

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.result["metrics"]) if self.result else {}

    @property
    def when(self) -> datetime:
        return self.record.taken_at or datetime.combine(self.session.on_date, datetime.min.time())


def day_zero(store: Store, area_id: int) -> date | None:
    """The area's first treatment date, else its first session date, else None."""
    treatments = store.treatments(area_id)
    if treatments:
        return min(t.on_date for t in treatments)
    sessions = store.sessions(area_id)
    return min((s.on_date for s in sessions), default=None)


def treatment_days(store: Store, area_id: int) -> list[float]:
    """Treatment days relative to day 0."""
    zero = day_zero(store, area_id)
    if zero is None:
        return []
    return sorted(float((t.on_date - zero).days) for t in store.treatments(area_id))


def area_photos(store: Store, area_id: int) -> list[AreaPhoto]:
    """Every photo of an area in time order, with its day and stored result."""
    zero = day_zero(store, area_id)
    sessions = {s.id: s for s in store.sessions(area_id)}
    t_days = sorted(t.on_date for t in store.treatments(area_id))
    results = store.results(area_id)
    out = []
    for rec in store.photos(area_id=area_id):
        session = sessions[rec.session_id]
        # The session date (assigned by the clinician, proposed from EXIF) places the photo.
        # A photo on a treatment day counts as taken *before* that treatment, as pre-session
        # photos are.
        when = session.on_date
        day = float((when - zero).days) if zero else 0.0
        before = [t for t in t_days if t < when]
        since = float((when - before[-1]).days) if before else None
        out.append(AreaPhoto(rec, session, day, since, results.get(rec.id)))
    out.sort(key=lambda p: (p.day, p.when, p.record.id))
    return out


def reference_id(store: Store, area_id: int) -> int | None:
    """The area's reference photo: the one the user chose, else the first photo."""
    area = store.area(area_id)
    if area.reference_photo_id is not None:
        return area.reference_photo_id
    photos = area_photos(store, area_id)
    return photos[0].record.id if photos else None


def area_box(store: Store, area_id: int) -> tuple[int, int, int, int] | None:
    """The area's region of interest box (reference pixels), or None for the skin mask."""
    box = store.area_settings(area_id).get("roi_box")
    return tuple(int(v) for v in box) if box else None


def set_area_box(store: Store, area_id: int, box: Sequence[int] | None) -> None:
    """Set (or clear, with None) the area's region of interest box."""
    settings = store.area_settings(area_id)
    settings["roi_box"] = None if box is None else [int(v) for v in box]
    store.set_area_settings(area_id, settings)


def area_card(store: Store, area_id: int) -> tuple[int, int, int, int] | None:
    """The area's grey-card box ``(x0, y0, x1, y1)`` in reference pixels, or None."""
    box = store.area_settings(area_id).get("card_box")
    return tuple(int(v) for v in box) if box else None


def set_area_card(store: Store, area_id: int, box: Sequence[float] | None) -> None:
    """Set (or clear, with None) the area's grey-card box, in reference pixels.

    Every photo of the area is then white-balanced on the card's place in the reference
    frame (see :class:`progress.pipeline.Reference`); the results of the area become
    out of date (:func:`roi_key` includes the card).

    Raises
    ------
    ColourError
        If the box does not have 4 finite values or has no area.
    """
    settings = store.area_settings(area_id)
    if box is None:
        settings.pop("card_box", None)
    else:
        v = np.asarray(box, float).ravel()
        if v.size != 4 or not np.isfinite(v).all():
            raise ColourError(f"A card box is 4 numbers (x0, y0, x1, y1), got {box!r}.")
        x0, x1 = sorted(int(round(c)) for c in v[[0, 2]])
        y0, y1 = sorted(int(round(c)) for c in v[[1, 3]])
        if x1 <= x0 or y1 <= y0:
            raise ColourError("The card box has no area: drag a rectangle over the card.")
        settings["card_box"] = [x0, y0, x1, y1]
    store.set_area_settings(area_id, settings)


def area_scale(store: Store, area_id: int) -> float | None:
    """The area's scale (pixels per millimetre on the reference photo), or None."""
    v = store.area_settings(area_id).get("scale_px_per_mm")
    return float(v) if v else None


def set_area_scale(store: Store, area_id: int, px_per_mm: float | None) -> None:
    """Set (or clear, with None) the area's scale in pixels per millimetre.

    Raises
    ------
    ValueError
        If the scale is not a finite positive number.
    """
    settings = store.area_settings(area_id)
    if px_per_mm is None:
        settings.pop("scale_px_per_mm", None)
    else:
        v = float(px_per_mm)
        if not np.isfinite(v) or v <= 0:
            raise ValueError(f"The scale must be a positive number of pixels per mm, got {v}.")
        settings["scale_px_per_mm"] = v
    store.set_area_settings(area_id, settings)


def scale_from_points(p0: Sequence[float], p1: Sequence[float], distance_mm: float) -> float:
    """Pixels per millimetre from two points a known distance apart (e.g. on a ruler).

    ``hypot(x1 − x0, y1 − y0) / distance_mm``, with the points in the photo's pixels.

    Raises
    ------
    ValueError
        If the distance is not positive or the two points coincide.
    """
    d = float(distance_mm)
    if not np.isfinite(d) or d <= 0:
        raise ValueError(f"The distance between the points must be positive mm, got {d}.")
    px = float(np.hypot(p1[0] - p0[0], p1[1] - p0[1]))
    if px == 0:
        raise ValueError("The two points coincide: click two different marks on the ruler.")
    return px / d


def pending(store: Store, area_id: int, *, box: Sequence[int] | None = None) -> int:
    """How many photos of the area have no current result."""
    ref_id = reference_id(store, area_id)
    if ref_id is None:
        return 0
    key = roi_key(box, store.area_settings(area_id))
    return sum(not _is_current(p.result, ref_id, key) for p in area_photos(store, area_id))


def roi_key(box: Sequence[int] | None, settings: dict | None = None) -> str:
    """A key of everything that changes the measured values: region, card and scale."""
    key = "skin" if box is None else "box:" + ",".join(str(int(v)) for v in box)
    settings = settings or {}
    if settings.get("card_box"):
        key += ";card:" + ",".join(str(int(v)) for v in settings["card_box"])
    if settings.get("scale_px_per_mm"):
        key += f";scale:{float(settings['scale_px_per_mm']):g}"
    return key


def area_reference(store: Store, area_id: int, ref_id: int, box: Sequence[int] | None) -> Reference:
    """The area's :class:`Reference`: reference photo, region, grey card and scale."""
    settings = store.area_settings(area_id)
    card = settings.get("card_box")
    ref_rgb = store.photo_rgb(ref_id)
    return Reference.from_photo(
        ref_rgb,
        box=tuple(box) if box else None,
        card_box=tuple(int(v) for v in card) if card else None,
        scale_px_per_mm=settings.get("scale_px_per_mm"),
    )


def _is_current(result: dict | None, ref_id: int, key: str) -> bool:
    return (
        result is not None
        and result.get("reference_photo_id") == ref_id
        and result.get("roi_key") == key
        and result.get("version") == RESULT_VERSION
    )


def analyse_area(
    store: Store,
    area_id: int,
    *,
    box: Sequence[int] | None = None,
    force: bool = False,
    on_progress: Callable[[int, int, str], None] | None = None,
    workers: int | None = None,
) -> int:
    """Align and measure every photo of an area that has no current result.

    Parameters
    ----------
    store : Store
    area_id : int
    box : sequence of 4 ints, optional
        Region of interest ``(x0, y0, x1, y1)`` in the reference photo's pixels; None uses
        the reference's skin mask.
    force : bool
        Recompute every photo.
    on_progress : callable, optional
        ``on_progress(done, total, photo_name)`` after each photo.
    workers : int, optional
        Photos analysed at once, in threads; default :func:`analysis_workers`.

    Returns
    -------
    int
        Number of photos analysed now (0 when everything was already stored).
    """
    ref_id = reference_id(store, area_id)
    if ref_id is None:
        return 0
    key = roi_key(box, store.area_settings(area_id))
    photos = area_photos(store, area_id)
    todo = [p for p in photos if force or not _is_current(p.result, ref_id, key)]
    if not todo:
        return 0
    reference = area_reference(store, area_id, ref_id, box)

    def one(p: AreaPhoto) -> dict:
        rgb = store.photo_rgb(p.record.id)
        points = _manual_points(p.result, ref_id)
        if p.record.id == ref_id:
            result = analyse(
                rgb,
                box=tuple(box) if box else None,
                card_box=reference.card_box,
                scale_px_per_mm=reference.scale_px_per_mm,
            )
        elif points is not None:
            manual = align_from_points(points[0], points[1], reference.rgb, rgb)
            result = analyse(rgb, reference=reference, alignment=manual)
        else:
            result = analyse(rgb, reference=reference)
        payload = result.to_dict()
        payload.update(reference_photo_id=ref_id, roi_key=key, version=RESULT_VERSION)
        if points is not None:
            payload["manual_points"] = [
                np.asarray(points[0]).tolist(),
                np.asarray(points[1]).tolist(),
            ]
        return payload

    # Photos are analysed in threads (NumPy, OpenCV and Pillow release the GIL for the
    # heavy parts) and saved here, one by one, in order: an error stops the run with the
    # photos before it saved.
    n_workers = max(1, min(workers or analysis_workers(), len(todo)))
    with ThreadPoolExecutor(n_workers, thread_name_prefix="analyse") as pool:
        futures = [pool.submit(one, p) for p in todo]
        try:
            for i, (p, fut) in enumerate(zip(todo, futures, strict=True)):
                store.save_result(p.record.id, fut.result())
                if on_progress is not None:
                    on_progress(i + 1, len(todo), p.record.display_name)
        finally:
            for fut in futures:
                fut.cancel()
    return len(todo)


def analysis_workers() -> int:
    """Threads for analysing an area's photos: the usable cores, at most 4 (memory)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(4, n))


def _manual_points(result: dict | None, ref_id: int):
    if result and result.get("manual_points") and result.get("reference_photo_id") == ref_id:
        ref_pts, mov_pts = result["manual_points"]
        return np.asarray(ref_pts, float), np.asarray(mov_pts, float)
    return None


def align_manually(
    store: Store,
    area_id: int,
    photo_id: int,
    reference_points: Sequence[Sequence[float]],
    moving_points: Sequence[Sequence[float]],
    *,
    box: Sequence[int] | None = None,
) -> dict:
    """Align one photo from clicked point pairs (full-resolution pixels) and re-measure it.

    The points are kept with the result, so a later re-analysis of the area keeps this
    manual alignment as long as the reference stays the same.

    Raises
    ------
    AlignmentError
        If fewer than 3 pairs are given or the points are degenerate.
    """
    ref_id = reference_id(store, area_id)
    reference = area_reference(store, area_id, ref_id, box)
    rgb = store.photo_rgb(photo_id)
    manual = align_from_points(reference_points, moving_points, reference.rgb, rgb)
    payload = analyse(rgb, reference=reference, alignment=manual).to_dict()
    payload.update(
        reference_photo_id=ref_id,
        roi_key=roi_key(box, store.area_settings(area_id)),
        version=RESULT_VERSION,
        manual_points=[
            np.asarray(reference_points, float).tolist(),
            np.asarray(moving_points, float).tolist(),
        ],
    )
    store.save_result(photo_id, payload)
    return payload


def limits_for(store: Store, area_id: int) -> tuple[dict[str, float], str]:
    """Repeatability limits: the client's own from repeated photos if enough, else defaults.

    Replicates are photos of one session taken within 15 minutes of each other (EXIF time;
    all of a session's photos without a time form one group, except on a treatment day,
    where they may be before and after the treatment and are not used), so a before/after
    pair of a treatment day never counts as a repeat; photos whose automatic alignment failed are
    left out. A metric takes the client's own limit once its estimate has ≥ 2 degrees of
    freedom (three photos in one session, or two sessions with two) and never less than
    half the default (:func:`progress.repeatability.client_limits`). The default is
    :data:`~progress.repeatability.CARD_LIMITS` when the area has a grey card, else
    :data:`~progress.repeatability.DEFAULT_LIMITS`.

    Returns the limits and a sentence saying where they come from.
    """
    card = bool(store.area_settings(area_id).get("card_box"))
    defaults = repeatability.default_limits(card=card)
    kind = "with grey card" if card else "without grey card"
    treated_on = {t.on_date for t in store.treatments(area_id)}
    by_session: dict[int, list[AreaPhoto]] = {}
    for p in area_photos(store, area_id):
        a = (p.result or {}).get("alignment") or {}
        conf = a.get("confidence")
        failed = a.get("method") != "manual" and conf is not None and conf < 0.5
        if p.result and not failed:
            by_session.setdefault(p.session.id, []).append(p)
    bursts: list[list[AreaPhoto]] = []
    for members in by_session.values():
        untimed = [q for q in members if q.record.taken_at is None]
        runs = [] if members[0].session.on_date in treated_on else [untimed]
        timed = sorted((q for q in members if q.record.taken_at), key=lambda q: q.when)
        for i, q in enumerate(timed):
            if i == 0 or (q.when - timed[i - 1].when).total_seconds() > 15 * 60:
                runs.append([])
            runs[-1].append(q)
        bursts += [r for r in runs if len(r) >= 2]
    groups: dict[str, list[list[float]]] = {}
    for burst in bursts:
        for m in METRICS:
            vals = [q.metrics.get(m) for q in burst]
            vals = [v for v in vals if v is not None and np.isfinite(v)]
            if len(vals) >= 2:
                groups.setdefault(m, []).append(vals)
    dof = max((sum(len(g) - 1 for g in gs) for gs in groups.values()), default=0)
    if dof < 2:
        why = (
            "one pair of repeated photos is not enough; three photos of one session give the "
            "client's own"
            if dof == 1
            else "no repeated photos of one session yet"
        )
        return defaults, f"Limits from the default repeatability study ({kind}): {why}."
    limits = repeatability.client_limits(groups, defaults, min_dof=2, floor=0.5)
    return (
        limits,
        f"Limits from this client's own repeated photos ({len(bursts)} series taken minutes "
        f"apart, {sum(len(b) for b in bursts)} photos), never below half the default "
        f"({kind}).",
    )


@dataclass(frozen=True)
class TableRow:
    """One metric of the area: baseline, latest, change and what the change means."""

    name: str
    label: str
    unit: str
    kind: str
    better: str
    baseline: float
    latest: float
    change: float
    change_pct: float
    limit: float
    verdict: str


def comparable(photos: Sequence[AreaPhoto]) -> list[AreaPhoto]:
    """Photos with a result that are not within 7 days after a treatment."""
    return [p for p in photos if p.result and not p.within_7_days]


def metric_table(
    photos: Sequence[AreaPhoto], limits: dict[str, float], *, latest: AreaPhoto | None = None
) -> list[TableRow]:
    """Every metric: the first photo (baseline) against the latest comparable photo."""
    usable = comparable(photos)
    if len(usable) == 0:
        return []
    base = usable[0]
    last = latest or usable[-1]
    rows = []
    for m in METRICS.values():
        b = base.metrics.get(m.name, float("nan"))
        v = last.metrics.get(m.name, float("nan"))
        delta = v - b
        lim = float(limits.get(m.name, repeatability.DEFAULT_LIMITS.get(m.name, float("nan"))))
        rows.append(
            TableRow(
                m.name,
                m.label,
                m.unit,
                m.kind,
                m.better,
                b,
                v,
                delta,
                100 * delta / abs(b) if b else float("nan"),
                lim,
                timeline.change_label(delta, lim, m.better),
            )
        )
    return rows


def observations(photos: Sequence[AreaPhoto]) -> list[timeline.Observation]:
    return [timeline.Observation(p.record.id, p.day, p.metrics) for p in photos if p.result]


def flags(store: Store, area_id: int, photos: Sequence[AreaPhoto], limits: dict[str, float]):
    """The timeline assessment of the area (see :func:`progress.timeline.assess`)."""
    obs = observations(photos)
    if not obs:
        return []
    ita0 = obs[0].values.get("ita")
    return timeline.assess(
        obs,
        treatment_days=treatment_days(store, area_id),
        limits=limits,
        ita_baseline=ita0,
        better={m.name: m.better for m in METRICS.values()},
    )


_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}


def _skin_type(value: object) -> int | None:
    """A Fitzpatrick type as 1–6 from an int or a Roman numeral; None if unknown."""
    if isinstance(value, int) and 1 <= value <= 6:
        return value
    return _ROMAN.get(str(value).strip().upper()) if value is not None else None


def seed_samples(store: Store, folder: Path) -> int | None:
    """Load the bundled sample series into an empty store; return the client id.

    Uses ``truth.json`` beside the photos for the client, area and treatment dates.
    Does nothing (returns None) when the store already has a client or the folder is
    missing.
    """
    truth_path = folder / "truth.json"
    if store.clients() or not truth_path.exists():
        return None
    truth = json.loads(truth_path.read_text("utf-8"))
    client = store.add_client(
        truth.get("client", "Sample client"),
        skin_type=_skin_type(truth.get("skin_type", truth.get("fitzpatrick_skin_type"))),
        notes="Generated sample series (python -m progress.samples)",
    )
    area = store.add_area(client.id, truth.get("area", "Sample area"))
    card = (truth.get("landmarks") or {}).get("grey_patch")
    settings: dict = {}
    if card:  # the sticker's grey patch, inset so that no edge pixel is used
        x0, y0, x1, y1 = card
        settings["card_box"] = [int(x0) + 12, int(y0) + 12, int(x1) - 12, int(y1) - 12]
    if truth.get("px_per_mm"):
        settings["scale_px_per_mm"] = float(truth["px_per_mm"])
    store.set_area_settings(area.id, settings)
    for d in truth.get("treatment_dates", []):
        store.add_treatment(
            area.id, date.fromisoformat(d[:10]), depth_mm=truth.get("needle_depth_mm")
        )
    for entry in truth["photos"]:
        path = folder / entry["file"]
        data = path.read_bytes()
        photo = load_image(data, name=path.name)
        when = photo.taken_at.date() if photo.taken_at else date.fromisoformat(entry["date"][:10])
        session = store.session_for_date(area.id, when)
        store.add_photo(session.id, data, name=path.name)
    return client.id


# ----------------------------------------------------------------------- reports

REPORT_CHARTS = (
    "lab_a",
    "erythema_index",
    "melanin_index",
    "roughness_ra",
    "glcm_contrast",
    "spot_area_fraction",
)

METHOD_NOTES = (
    "Photos are aligned to the area's reference photo (SIFT features, robust similarity fit, ECC "
    "refinement); each is measured on the same skin region of the reference frame.",
    "Metrics are computed on an analysis grid of 10 px/mm when the scale is known, otherwise on a "
    "1500 px grid assumed to span 150 mm (nominal millimetres).",
    "Texture: GLCM on L* with fixed 2-unit bins, 0.2 mm distance, 4 directions (Haralick 1973); roughness "
    "Ra/Rq of L* minus its 1.5 mm Gaussian background (ISO 4287 analogues); fixed-scale ridge and blob "
    "filters for fine lines and pores.",
    "Tone: CIELAB (D65), ITA° (Chardon 1991), erythema and melanin indices from linearised RGB "
    "(Diffey 1984; Yamamoto 2008): comparable only under the same camera and light.",
    "A change smaller than the repeatability limit (2.77 × within-subject SD, Bland & Altman 1986) is "
    "reported as no measurable change.",
    "Photos taken within 7 days after a session show inflammation (Chu et al. 2021), not the result.",
    "The expected course is a heuristic envelope from published timelines (Alam 2014; Alster & Li 2020; "
    "Aust 2008), not a clinical norm.",
)


def chart_series(
    store: Store, area_id: int, photos: Sequence[AreaPhoto], name: str, limits: dict[str, float]
):
    """The data of one timeline chart (for :func:`progress.report.chart_png`)."""
    from progress.report import ChartSeries

    m = METRICS[name]
    measured = [p for p in photos if p.result]
    days = [p.day for p in measured]
    values = [p.metrics.get(name, float("nan")) for p in measured]
    t_days = treatment_days(store, area_id)
    finite = [
        v for v, p in zip(values, measured, strict=True) if np.isfinite(v) and not p.within_7_days
    ]
    band_days = low = high = None
    if finite and days:
        band_days = np.linspace(min(min(days), 0), max(max(days), max(t_days, default=0)) + 7, 300)
        low, _, high = timeline.expected_band(
            name, band_days, treatment_days=t_days, baseline=finite[0], limit=limits.get(name, 0.0)
        )
        band_days, low, high = list(band_days), list(low), list(high)
    phases = []
    for t in t_days:
        for ph in timeline.phases():
            if ph.name != "maturation":
                phases.append((ph.name, t + ph.start_day, t + ph.end_day))
    return ChartSeries(
        label=m.label,
        unit=m.unit,
        days=days,
        values=values,
        band_days=band_days,
        band_low=low,
        band_high=high,
        limit=limits.get(name),
        inflamed=[p.within_7_days for p in measured],
        treatment_days=t_days,
        phases=phases,
    )


def _aligned_full(store: Store, p: AreaPhoto, ref_id: int) -> np.ndarray:
    from progress.registration import warp

    rgb = store.photo_rgb(p.record.id)
    a = (p.result or {}).get("alignment")
    if p.record.id == ref_id or not a:
        return rgb
    ref = store.photo(ref_id)
    warped, _ = warp(rgb, np.asarray(a["matrix"], float), (ref.height, ref.width))
    return warped


def report_data(store: Store, area_id: int, *, now: datetime | None = None):
    """Everything the PDF report shows for an area (see :class:`progress.report.ReportData`)."""
    from progress.loader import downscale
    from progress.report import MetricRow, PhotoEntry, ReportData

    area = store.area(area_id)
    client = store.client(area.client_id)
    photos = area_photos(store, area_id)
    limits, source = limits_for(store, area_id)
    table = [
        MetricRow(
            r.name, r.label, r.unit, r.better, r.baseline, r.latest, r.change, r.limit, r.verdict
        )
        for r in metric_table(photos, limits)
    ]
    entries = [
        PhotoEntry(
            photo_id=p.record.id,
            session_label=p.session.label or p.session.on_date.isoformat(),
            taken=p.record.taken_at or p.session.on_date,
            day=p.day,
            values=p.metrics,
            confidence=(p.result.get("alignment") or {}).get("confidence") if p.result else None,
            quality_warnings=[
                c["message"]
                for c in (p.result or {}).get("quality", {}).get("checks", [])
                if c["status"] != "pass"
            ],
            within_7_days=p.within_7_days,
        )
        for p in photos
    ]
    usable = comparable(photos)
    ref_id = reference_id(store, area_id)
    before = after = None
    before_label = after_label = ""
    if usable:
        first, last = usable[0], usable[-1]
        before = downscale(_aligned_full(store, first, ref_id), long_side=1200)
        after = downscale(_aligned_full(store, last, ref_id), long_side=1200)
        before_label = f"{first.session.on_date} (day {first.day:+.0f})"
        after_label = f"{last.session.on_date} (day {last.day:+.0f})"
    by_id = {p.record.id: p for p in photos}
    flag_lines = []
    for f in flags(store, area_id, photos, limits):
        if f.severity == "info":
            continue
        p = by_id.get(f.photo_id)
        flag_lines.append((f"{p.session.on_date}: " if p else "") + f.message)
    charts = {
        n: chart_series(store, area_id, photos, n, limits) for n in REPORT_CHARTS if n in METRICS
    }
    charts = {n: c for n, c in charts.items() if any(np.isfinite(v) for v in c.values)}
    return ReportData(
        client=client.name,
        skin_type=client.skin_type,
        area=area.name,
        treatment_days=treatment_days(store, area_id),
        treatment_dates=[t.on_date for t in store.treatments(area_id)],
        photos=entries,
        table=table,
        before=before,
        after=after,
        before_label=before_label,
        after_label=after_label,
        flags=flag_lines,
        charts=charts,
        method_notes=[*METHOD_NOTES, source],
        generated_at=now or datetime.now(),
    )


def export_rows(store: Store, area_id: int) -> list[dict]:
    """One row per photo of the area: identity, dates, alignment, quality, every metric."""
    area = store.area(area_id)
    client = store.client(area.client_id)
    rows = []
    for p in area_photos(store, area_id):
        a = (p.result or {}).get("alignment") or {}
        q = (p.result or {}).get("quality") or {}
        row = {
            "client": client.name,
            "area": area.name,
            "photo_id": p.record.id,
            "file": p.record.display_name,
            "session_date": p.session.on_date.isoformat(),
            "taken_at": p.record.taken_at.isoformat() if p.record.taken_at else "",
            "day": p.day,
            "within_7_days_after_session": p.within_7_days,
            "alignment_confidence": a.get("confidence"),
            "alignment_residual_px": a.get("residual_px"),
            "quality_status": q.get("status", ""),
            "quality_warnings": " | ".join(
                c["message"] for c in q.get("checks", []) if c["status"] != "pass"
            ),
        }
        row.update({m: p.metrics.get(m, float("nan")) for m in METRICS})
        rows.append(row)
    return rows


def export_meta(store: Store, area_id: int) -> dict:
    """The header of the JSON export: area, treatments, units and better directions."""
    area = store.area(area_id)
    limits, source = limits_for(store, area_id)
    return {
        "area": area.name,
        "treatments": [t.on_date.isoformat() for t in store.treatments(area_id)],
        "metrics": {
            m.name: {
                "label": m.label,
                "unit": m.unit,
                "better": m.better,
                "kind": m.kind,
                "limit": limits.get(m.name),
            }
            for m in METRICS.values()
        },
        "limits_source": source,
        "generated_at": datetime.now().isoformat(timespec="seconds"),
    }


def aligned_images(store: Store, area_id: int) -> list[tuple[str, np.ndarray]]:
    """Every photo of the area warped onto the reference frame, named by date and id."""
    ref_id = reference_id(store, area_id)
    return [
        (f"{p.session.on_date.isoformat()}_photo-{p.record.id}", _aligned_full(store, p, ref_id))
        for p in area_photos(store, area_id)
    ]
