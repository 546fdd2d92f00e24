"""Tests of progress.timeline on hand-made series with answers worked out by hand."""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np
import pytest

from progress.timeline import (
    FAMILY_OF,
    Band,
    Observation,
    assess,
    change_label,
    expected_band,
    expected_change,
    phases,
    to_days,
)

BETTER = {
    "lab_a": "lower",
    "erythema_index": "lower",
    "melanin_index": "lower",
    "ita": "higher",
    "lab_l": "higher",
    "roughness_ra": "lower",
    "glcm_homogeneity": "higher",
}
LIMITS = {
    "lab_a": 1.0,
    "erythema_index": 2.0,
    "melanin_index": 2.0,
    "ita": 2.0,
    "lab_l": 1.0,
    "roughness_ra": 0.2,
}
BASE_VALUES = {
    "lab_a": 12.0,
    "erythema_index": 30.0,
    "melanin_index": 40.0,
    "ita": 20.0,
    "lab_l": 60.0,
    "roughness_ra": 3.0,
}


def obs(pid, day, **changes):
    values = dict(BASE_VALUES)
    values.update(changes)
    return Observation(pid, day, values)


def by_photo(flags, pid):
    return {(f.code, f.metric): f for f in flags if f.photo_id == pid}


# ------------------------------------------------------------------------- phases


def test_phases_light_and_deep():
    light = phases()
    assert [p.name for p in light] == ["inflammation", "proliferation", "maturation"]
    assert (light[0].start_day, light[0].end_day) == (0.0, 3.0)
    assert phases(depth="deep")[0].end_day == 7.0
    for ph in (light, phases(depth="deep")):
        assert ph[1].end_day == 21.0 and ph[2].start_day == 21.0 and ph[2].end_day >= 180
        assert all(a.end_day == b.start_day for a, b in zip(ph, ph[1:], strict=False))
        assert all(p.description for p in ph)


def test_phases_rejects_unknown_depth():
    with pytest.raises(ValueError, match="depth"):
        phases(depth="medium")


# ------------------------------------------------------------------- change_label


@pytest.mark.parametrize(
    "delta, limit, better, label",
    [
        (-2.0, 1.0, "lower", "improved"),
        (2.0, 1.0, "lower", "worse"),
        (2.0, 1.0, "higher", "improved"),
        (-2.0, 1.0, "higher", "worse"),
        (0.5, 1.0, "lower", "no measurable change"),
        (1.0, 1.0, "lower", "no measurable change"),  # exactly at the limit: not a change
        (-1.0, 1.0, "higher", "no measurable change"),
        (1.0000001, 1.0, "higher", "improved"),
        (0.0, 0.0, "lower", "no measurable change"),
        (math.nan, 1.0, "lower", "not measured"),
    ],
)
def test_change_label(delta, limit, better, label):
    assert change_label(delta, limit, better) == label


def test_change_label_validation():
    with pytest.raises(ValueError, match="better"):
        change_label(1.0, 1.0, "up")
    with pytest.raises(ValueError, match="limit"):
        change_label(1.0, -1.0, "lower")
    with pytest.raises(ValueError, match="limit"):
        change_label(1.0, math.inf, "lower")


# ------------------------------------------------------------------------- assess


def test_assess_within_7_days_only():
    flags = assess(
        [obs("b", -1.0), obs("p", 2.0, lab_a=20.0)],
        treatment_days=[0.0],
        limits=LIMITS,
        better=BETTER,
    )
    mine = [f for f in flags if f.photo_id == "p"]
    assert [f.code for f in mine] == ["within_7_days"]
    assert mine[0].metric is None and "inflammation" in mine[0].message
    assert not [f for f in flags if f.photo_id == "b"]  # the baseline gets no flag


@pytest.mark.parametrize(
    "day, within", [(28.0, False), (28.5, True), (35.0, True), (35.5, False), (10.0, False)]
)
def test_assess_inflammation_window_edges(day, within):
    # sessions on days 0 and 28; a photo on a session day is the "before" photo
    flags = assess(
        [obs("b", -1.0), obs("p", day)], treatment_days=[0.0, 28.0], limits=LIMITS, better=BETTER
    )
    codes = {f.code for f in flags if f.photo_id == "p"}
    assert ("within_7_days" in codes) is within


def test_assess_persistent_redness():
    # 20 days after the last session (28), a* 2 units above baseline with a limit of 1
    flags = assess(
        [obs("b", -1.0), obs("p", 48.0, lab_a=14.0, erythema_index=30.5)],
        treatment_days=[0.0, 28.0],
        limits=LIMITS,
        better=BETTER,
    )
    mine = by_photo(flags, "p")
    f = mine[("persistent_redness", "lab_a")]
    assert f.severity == "alert" and f.day == 48.0
    assert ("no_measurable_change", "erythema_index") in mine  # 0.5 < 2
    assert ("off_track", "lab_a") not in mine  # one flag per metric


def test_assess_pigmentation_severity_by_skin_tone():
    series = [obs("b", -1.0), obs("p", 60.0, melanin_index=45.0)]
    dark = assess(series, treatment_days=[0.0], limits=LIMITS, better=BETTER, ita_baseline=20.0)
    light = assess(series, treatment_days=[0.0], limits=LIMITS, better=BETTER, ita_baseline=50.0)
    assert by_photo(dark, "p")[("pigmentation_rising", "melanin_index")].severity == "alert"
    assert by_photo(light, "p")[("pigmentation_rising", "melanin_index")].severity == "warn"
    # without ita_baseline the baseline photo's ITA (20°) is used
    auto = assess(series, treatment_days=[0.0], limits=LIMITS, better=BETTER)
    assert by_photo(auto, "p")[("pigmentation_rising", "melanin_index")].severity == "alert"


def test_assess_pigmentation_from_ita_and_lightness():
    flags = assess(
        [obs("b", -1.0, ita=45.0), obs("p", 60.0, ita=42.0, lab_l=58.5)],
        treatment_days=[0.0],
        limits=LIMITS,
        better=BETTER,
    )
    mine = by_photo(flags, "p")
    assert mine[("pigmentation_rising", "ita")].severity == "warn"  # 45° ≥ 28
    assert mine[("pigmentation_rising", "lab_l")].severity == "warn"


def test_melanin_rise_contradicted_by_lighter_skin_is_not_pigmentation():
    """MI = 100·log10(1/R) rises when a* falls at constant L* (less red, same lightness):
    with ITA° and L* saying lighter skin beyond their limits, the MI rise is an info
    about disagreeing signals, not "pigmentation rising"; without them it stays a flag."""
    lighter = obs("p", 60.0, melanin_index=43.0, ita=23.0, lab_l=61.5)  # ITA +3 > 2, L +1.5 > 1
    only_ita = obs("q", 61.0, melanin_index=43.0, ita=22.5)  # L* within its limit
    within = obs("r", 62.0, melanin_index=43.0, ita=21.5, lab_l=60.5)  # both within
    darker = obs("s", 63.0, melanin_index=43.0, ita=17.0)
    flags = assess(
        [obs("b", -1.0), lighter, only_ita, within, darker],
        treatment_days=[0.0],
        limits=LIMITS,
        better=BETTER,
    )
    f = by_photo(flags, "p")[("pigment_signals_disagree", "melanin_index")]
    assert f.severity == "info" and "+3" in f.message and "ITA" in f.message
    assert ("pigmentation_rising", "melanin_index") not in by_photo(flags, "p")
    assert ("pigment_signals_disagree", "melanin_index") in by_photo(flags, "q")
    assert ("pigmentation_rising", "melanin_index") in by_photo(flags, "r")
    dark = by_photo(flags, "s")
    assert ("pigmentation_rising", "melanin_index") in dark
    assert ("pigmentation_rising", "ita") in dark
    # one flag per metric and photo, as before
    assert len([f for f in flags if f.photo_id == "p" and f.metric == "melanin_index"]) == 1


def test_assess_improved_off_track_and_no_change():
    flags = assess(
        [obs("b", -1.0), obs("x", 90.0, roughness_ra=2.5), obs("y", 91.0, roughness_ra=3.5),
         obs("z", 92.0, roughness_ra=3.05)],
        treatment_days=[0.0, 28.0, 56.0],
        limits=LIMITS,
        better=BETTER,
    )  # fmt: skip
    assert by_photo(flags, "x")[("improved", "roughness_ra")].severity == "info"
    assert by_photo(flags, "y")[("off_track", "roughness_ra")].severity == "warn"
    assert by_photo(flags, "z")[("no_measurable_change", "roughness_ra")].severity == "info"
    # every assessed metric of every photo gets exactly one flag
    for pid in "xyz":
        assert sorted(f.metric for f in flags if f.photo_id == pid) == sorted(LIMITS)
    assert [f.day for f in flags] == sorted(f.day for f in flags)


def test_assess_baseline_choice_and_missing_values():
    # records out of order; the baseline is the earliest photo before the first session
    flags = assess(
        [Observation("late", 40.0, {"lab_a": 12.5, "roughness_ra": math.nan}),
         Observation("b", -10.0, {"lab_a": 12.0, "roughness_ra": 3.0}),
         Observation("b2", -2.0, {"lab_a": 20.0, "roughness_ra": 3.0})],
        treatment_days=[0.0],
        limits=LIMITS,
        better=BETTER,
    )  # fmt: skip
    late = by_photo(flags, "late")
    assert set(late) == {("no_measurable_change", "lab_a")}  # NaN and absent metrics skipped
    assert by_photo(flags, "b2")[("off_track", "lab_a")].severity == "warn"  # before sessions


def test_assess_without_pretreatment_photo():
    flags = assess(
        [obs("a", 10.0), obs("c", 40.0, roughness_ra=2.0)],
        treatment_days=[0.0],
        limits=LIMITS,
        better=BETTER,
    )
    assert flags[0].code == "no_baseline" and flags[0].photo_id == "a"
    assert ("improved", "roughness_ra") in by_photo(flags, "c")


def test_assess_validation():
    with pytest.raises(ValueError, match="empty"):
        assess([], treatment_days=[0.0], limits=LIMITS, better=BETTER)
    with pytest.raises(ValueError, match="non-finite day"):
        assess([obs("a", math.nan)], treatment_days=[0.0], limits=LIMITS, better=BETTER)
    with pytest.raises(ValueError, match="limit for"):
        assess([obs("a", 0.0)], treatment_days=[0.0], limits={"lab_a": -1.0}, better=BETTER)
    with pytest.raises(LookupError, match="better"):
        assess([obs("a", 0.0)], treatment_days=[0.0], limits={"no_such_metric": 1.0})


# ------------------------------------------------------------------ expected band


def test_redness_band_light_spike_and_return():
    days = np.arange(-5.0, 40.0, 0.25)
    lo, mid, hi = expected_band(
        "lab_a", days, treatment_days=[0.0], baseline=12.0, limit=1.0, better="lower"
    )
    assert days[np.argmax(mid)] == 0.0  # peaks right after the session
    assert mid[days == 0.0][0] > 12.0 + 1.0
    # hand value of the documented shape: 0.4 · 12 · (1 − 1/3)² at day 1
    assert mid[days == 1.0][0] == pytest.approx(12.0 + 4.8 * (2 / 3) ** 2)
    settled = days >= 3.0
    assert np.all(np.abs(mid[settled] - 12.0) <= 1.0)
    assert np.all((lo[settled] <= 12.0) & (hi[settled] >= 12.0))
    assert np.all(mid[days < 0] == 12.0) and np.all(hi - lo >= 2.0 - 1e-12)


def test_redness_band_deep_lasts_a_week():
    days = np.arange(0.0, 21.0, 0.5)
    _, mid, _ = expected_band(
        "erythema_index", days, treatment_days=[0.0], baseline=30.0, limit=2.0,
        depth="deep", better="lower",
    )  # fmt: skip
    assert mid[days == 3.0][0] > 30.0 + 2.0  # still red on day 3 after deep needling
    assert np.all(np.abs(mid[days >= 7.0] - 30.0) <= 2.0)


def test_redness_band_spikes_after_each_session():
    _, mid, _ = expected_band(
        "lab_a", [27.0, 28.0, 29.0, 31.0], treatment_days=[0.0, 28.0], baseline=12.0,
        limit=1.0, better="lower",
    )  # fmt: skip
    assert mid[1] > 12.0 + 1.0 and mid[1] > mid[0] and mid[1] > mid[2] > mid[3]


def test_texture_band_slow_monotone_improvement():
    days = np.arange(0.0, 181.0)
    sessions = [0.0, 28.0, 56.0]
    lo, mid, hi = expected_band(
        "roughness_ra", days, treatment_days=sessions, baseline=3.0, limit=0.2, better="lower"
    )
    assert np.all(np.diff(mid) <= 1e-12)  # never gets worse
    assert np.all(mid[days <= 28.0] == 3.0)  # nothing visible in the first four weeks
    assert mid[-1] < 3.0 - 0.2  # measurable by six months
    assert mid[-1] > 3.0 * (1 - 0.15)  # but not beyond the family maximum (15 %)
    assert np.all(hi - mid >= 0.2 - 1e-12) and np.all(mid - lo >= 0.2 - 1e-12)
    # Alam 2014: the 3-month change is a part, not all, of the 6-month change
    assert 0.3 < (3.0 - mid[90]) / (3.0 - mid[180]) < 0.9


def test_texture_band_higher_is_better_and_clipped():
    days = np.linspace(0.0, 180.0, 50)
    lo, mid, hi = expected_band(
        "glcm_homogeneity", days, treatment_days=[0.0, 28.0], baseline=0.9, limit=0.1,
        better="higher",
    )  # fmt: skip
    assert np.all(np.diff(mid) >= -1e-12) and mid[-1] > 0.9
    assert hi.max() <= 1.0  # homogeneity cannot exceed 1


def test_more_sessions_more_improvement():
    def at_180(sessions):
        return expected_change(
            "roughness_ra", 180.0, treatment_days=sessions, baseline=3.0, limit=0.1,
            better="lower",
        ).centre  # fmt: skip

    one, three = at_180([0.0]), at_180([0.0, 28.0, 56.0])
    assert three < one < 0


def test_band_absolute_and_validation():
    b = Band(low=np.array([-1.0]), high=np.array([1.0]), centre=np.array([0.0]))
    lo, mid, hi = b.absolute(5.0)
    assert (lo[0], mid[0], hi[0]) == (4.0, 5.0, 6.0)
    assert b.absolute(0.5, bounds=(0.0, 1.0))[0][0] == 0.0
    kw = dict(treatment_days=[0.0], baseline=1.0, better="lower")
    with pytest.raises(ValueError, match="limit"):
        expected_band("lab_a", 1.0, limit=-1.0, **kw)
    with pytest.raises(ValueError, match="depth"):
        expected_band("lab_a", 1.0, limit=1.0, depth="medium", **kw)
    with pytest.raises(LookupError, match="Unknown metric"):
        expected_band("no_such_metric", 1.0, limit=1.0, **kw)


def test_every_metric_has_a_family():
    names = (
        "glcm_contrast glcm_homogeneity glcm_energy glcm_correlation glcm_entropy "
        "roughness_ra roughness_rq fine_line_density pore_density lab_l lab_a lab_b ita "
        "erythema_index melanin_index sigma_l sigma_a sigma_b de2000_p50 de2000_p90 "
        "spot_area_fraction"
    ).split()
    assert set(names) == set(FAMILY_OF)


# ------------------------------------------------------------------------ to_days


def test_to_days():
    assert to_days(date(2024, 3, 15), start=date(2024, 3, 1)) == 14.0
    assert to_days(datetime(2024, 3, 1, 18), start=date(2024, 3, 1)) == 0.75
    assert to_days(date(2024, 2, 28), start=date(2024, 3, 1)) == -2.0  # leap year


def test_better_defaults_to_registry():
    metrics = pytest.importorskip("progress.metrics")
    kw = dict(treatment_days=[0.0, 28.0], baseline=3.0, limit=0.1)
    for name in ("roughness_ra", "glcm_homogeneity"):
        explicit = expected_change(name, 150.0, better=metrics.METRICS[name].better, **kw)
        assert expected_change(name, 150.0, **kw).centre == explicit.centre
    # roughness: lower is better, so the expected change is negative
    assert expected_change("roughness_ra", 150.0, **kw).centre < 0


def test_assess_defaults_to_the_shipped_limits():
    # Called as the issue names it, without limits: the shipped no-card limit of a* (read
    # from the data file, not from the code) decides between change and no change.
    import json
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "src" / "progress" / "data" / "repeatability.json"
    lim = json.loads(data.read_text("utf-8"))["metrics"]["lab_a"]["limit"]
    inside = obs("in", 40.0, lab_a=BASE_VALUES["lab_a"] - 0.5 * lim)
    beyond = obs("out", 60.0, lab_a=BASE_VALUES["lab_a"] - 1.5 * lim)
    flags = assess([obs("b", -1.0), inside, beyond], [0.0])
    assert by_photo(flags, "in")[("no_measurable_change", "lab_a")]
    assert by_photo(flags, "out")[("improved", "lab_a")]
    # No sessions at all: the earliest photo is the baseline and nothing is "within 7 days".
    flags = assess([obs("b", 0.0), obs("p", 3.0, lab_a=BASE_VALUES["lab_a"] + 3 * lim)])
    assert ("within_7_days", None) not in by_photo(flags, "p")
    assert ("off_track", "lab_a") in by_photo(flags, "p") or (
        "persistent_redness",
        "lab_a",
    ) in by_photo(flags, "p")
