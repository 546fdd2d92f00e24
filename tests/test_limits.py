"""The smallest real change, end to end: limits from the store, verdicts in the table.

Expected values are worked out here from the stored metric values and the shipped data
file, never taken from the functions under test.
"""

from __future__ import annotations

import io
import json
import math
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from progress import repeatability, timeline, workflow
from progress.metrics import METRICS
from progress.repeatability import Jitter, recapture
from progress.store import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_images" / "2026-03-02_session-01_baseline.jpg"
DATA = Path(repeatability.__file__).with_name("data") / "repeatability.json"
FACTOR = 1.96 * math.sqrt(2)  # Bland & Altman repeatability coefficient
# an 800 x 600 crop of the sample baseline with its grey patch (170, 870, 330, 1030) and a
# mole; the patch inset by 12 px, in crop pixels
CROP = (slice(450, 1050), slice(100, 900))
CARD = [82, 432, 218, 568]


def shipped(table: str) -> dict[str, float]:
    data = json.loads(DATA.read_text("utf-8"))
    return {name: item["limit"] for name, item in data[table].items()}


def jpeg(rgb: np.ndarray, when: datetime | None = None) -> bytes:
    exif = Image.Exif()
    if when is not None:
        exif[0x0132] = when.strftime("%Y:%m:%d %H:%M:%S")  # EXIF DateTime
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=92, exif=exif)
    return buf.getvalue()


@pytest.fixture(scope="module")
def photos():
    if not SAMPLE.exists():
        pytest.skip("sample_images/ is missing: run `python -m progress.samples`")
    crop = np.asarray(Image.open(SAMPLE).convert("RGB"))[CROP].copy()
    rng = np.random.default_rng(11)
    return crop, [recapture(crop, rng, Jitter())[0] for _ in range(4)]


@pytest.fixture(scope="module")
def store(photos, tmp_path_factory):
    crop, again = photos
    st = Store(data_dir=tmp_path_factory.mktemp("limits"))
    client = st.add_client("Test client")

    # area 1: grey card; session 1 has three photos taken minutes apart (no EXIF time)
    a1 = st.add_area(client.id, "Left cheek")
    st.set_area_settings(a1.id, {"card_box": CARD, "scale_px_per_mm": 20.0})
    s1 = st.session_for_date(a1.id, date(2026, 3, 2))
    for i, rgb in enumerate([crop, again[0], again[1]]):
        st.add_photo(s1.id, jpeg(rgb), name=f"s1-{i}.jpg")
    s2 = st.session_for_date(a1.id, date(2026, 3, 30))
    st.add_photo(s2.id, jpeg(again[2]), name="s2.jpg")

    # area 2: no card; one session, two photos 3 min apart and one 90 min later (after
    # the treatment): only the first two are repeats, one pair, 1 degree of freedom
    a2 = st.add_area(client.id, "Right cheek")
    st.set_area_settings(a2.id, {"scale_px_per_mm": 20.0})
    s3 = st.session_for_date(a2.id, date(2026, 3, 2))
    for i, (rgb, minute) in enumerate([(crop, 0), (again[0], 3), (again[3], 90)]):
        when = datetime(2026, 3, 2, 10, 0) + timedelta(minutes=minute)
        st.add_photo(s3.id, jpeg(rgb, when), name=f"s3-{i}.jpg")

    assert workflow.analyse_area(st, a1.id) == 4
    assert workflow.analyse_area(st, a2.id) == 3
    return st, a1.id, a2.id


def test_client_limits_from_three_photos_of_one_session(store):
    st, area, _ = store
    photos = workflow.area_photos(st, area)
    first = [p for p in photos if p.session.on_date == date(2026, 3, 2)]
    assert len(first) == 3 and all(p.result for p in first)
    defaults = shipped("metrics_with_card")  # the area has a grey card

    limits, source = workflow.limits_for(st, area)

    assert "own repeated photos" in source
    own_used = 0
    for name in METRICS:
        values = [p.metrics[name] for p in first]
        own = FACTOR * float(np.std(values, ddof=1))  # one group: s_w = its SD
        expected = max(own, 0.5 * defaults[name])  # floored at half the default
        assert limits[name] == pytest.approx(expected, rel=1e-9, abs=1e-12), name
        own_used += own > 0.5 * defaults[name]
    # the client's own estimate really replaced the default for most metrics
    assert own_used >= len(METRICS) // 2
    assert any(limits[n] != defaults[n] for n in METRICS)


def test_one_pair_keeps_the_default_and_a_later_photo_is_no_repeat(store):
    st, _, area = store
    photos = workflow.area_photos(st, area)
    assert len(photos) == 3 and all(p.record.taken_at for p in photos)

    limits, source = workflow.limits_for(st, area)

    assert limits == shipped("metrics")  # no card: the no-card defaults
    assert "default" in source and "without grey card" in source


# ------------------------------------------------------------ verdicts in the table


def _photo(values: dict[str, float], day: float) -> workflow.AreaPhoto:
    return workflow.AreaPhoto(None, None, day, None, {"metrics": values})


@pytest.mark.parametrize("card", [False, True])
def test_metric_table_reports_changes_beyond_the_limit_only(card):
    limits = shipped("metrics_with_card" if card else "metrics")
    names = list(METRICS)
    # multiples of each metric's limit, and the verdict worked out by hand for them
    steps = [1.5, -1.5, 0.5, -0.5, 0.9, -0.9, 3.0]
    base = {n: 50.0 for n in names}
    late = {}
    expected = {}
    for i, n in enumerate(names):
        k = steps[i % len(steps)]
        late[n] = base[n] + k * limits[n]
        if abs(k) < 1:
            expected[n] = "no measurable change"
        else:
            up_is_good = METRICS[n].better == "higher"
            expected[n] = "improved" if (k > 0) == up_is_good else "worse"
    photos = [_photo(base, 0.0), _photo(late, 90.0)]

    rows = workflow.metric_table(photos, limits)

    assert [r.name for r in rows] == names
    for r in rows:
        assert r.limit == limits[r.name]
        assert r.change == pytest.approx(late[r.name] - 50.0)
        assert r.verdict == expected[r.name], (r.name, r.change, r.limit)
        assert timeline.change_label(r.change, r.limit, r.better) == expected[r.name]
    assert {r.verdict for r in rows} == {"improved", "worse", "no measurable change"}


def test_known_change_of_the_sample_series_is_reported_and_no_change_is_not(tmp_path):
    # The sample series is rendered with known trends (sample_images/truth.json): by the
    # follow-up (day 180) redness, erythema, fine lines and spots are down by far more than
    # the shipped limits, and b* has no trend at all.
    truth_path = SAMPLE.with_name("truth.json")
    if not truth_path.exists():
        pytest.skip("sample_images/ is missing: run `python -m progress.samples`")
    truth = json.loads(truth_path.read_text("utf-8"))
    st = Store(data_dir=tmp_path)
    area = st.add_area(st.add_client("Sample").id, "Left cheek")
    x0, y0, x1, y1 = truth["landmarks"]["grey_patch"]
    card = [int(x0) + 12, int(y0) + 12, int(x1) - 12, int(y1) - 12]
    st.set_area_settings(area.id, {"card_box": card, "scale_px_per_mm": truth["px_per_mm"]})
    for d in truth["treatment_dates"]:
        st.add_treatment(area.id, date.fromisoformat(d[:10]))
    for name in (SAMPLE.name, "2026-08-30_session-07_follow-up.jpg"):
        session = st.session_for_date(area.id, date.fromisoformat(name[:10]))
        st.add_photo(session.id, (SAMPLE.parent / name).read_bytes(), name=name)
    assert workflow.analyse_area(st, area.id) == 2

    limits, source = workflow.limits_for(st, area.id)
    assert limits == shipped("metrics_with_card") and "default" in source
    rows = {r.name: r for r in workflow.metric_table(workflow.area_photos(st, area.id), limits)}

    for name in ("lab_a", "erythema_index", "fine_line_density", "spot_area_fraction"):
        assert truth["expected_direction"][name] == "down"
        assert rows[name].verdict == "improved", (name, rows[name].change, rows[name].limit)
    assert "lab_b" not in truth["expected_direction"]  # no b* trend in the generator
    assert rows["lab_b"].verdict == "no measurable change", (rows["lab_b"].change, limits["lab_b"])
