"""Dashboard speed: six 12 MP photos from upload to the first chart, and a page revisit.

Run: ``python bench/bench_dashboard.py [--repeat 3] [--revisits 5]``.

The dashboard (``app.py``) is driven by Streamlit's ``AppTest`` (the script runs in this
process, as the server would run it, with no browser) on a temporary data folder
(``PROGRESS_DATA_DIR``; ``PROGRESS_NO_SAMPLES=1`` so that no sample series is seeded;
``server.address`` = 127.0.0.1, so no login). Per repeat, with a fresh data folder and
Streamlit's caches cleared:

1. (not timed) start the app, create a client and an area;
2. **upload**: six 12 MP JPEGs (the sample series upscaled, ``_photos.py``) are put in
   the uploader and "Upload" is pressed: each photo is read (EXIF date), filed in the
   session of its date and stored;
3. **first chart**: the Timeline page is opened: it aligns every photo to the first and
   measures them (with its progress bar), then draws the chart. "upload → chart" is
   2 + 3 (target ≤ 5 s);
4. **revisit**: with every result stored, another page and then the Timeline (and the
   Measure page) are opened again; the time of that one run is the revisit (target
   ≤ 0.2 s), median over ``--revisits``.

Not included: the browser's upload of ~25 MB over the network and drawing the page.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine  # noqa: E402
from _photos import photo_files  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
PAGE = "src/progress_app/pages/{}.py"


def _button(at, label: str):
    found = [b for b in at.button if b.label == label]
    if not found:
        raise SystemExit(f"no button {label!r}: the dashboard changed; update this script")
    return found[0]


def _check(at, step: str) -> None:
    if at.exception:
        raise SystemExit(f"{step}: the app raised {[e.value for e in at.exception]}")
    if at.error:
        raise SystemExit(f"{step}: the app shows an error {[e.value for e in at.error]}")


def flow(data_dir: Path, photos: list[tuple[str, bytes]], revisits: int) -> dict[str, float]:
    """One repeat: returns the timings in seconds."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["PROGRESS_DATA_DIR"] = str(data_dir)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=600)
    at.run()
    _check(at, "start")
    at.text_input[0].input("Bench client")
    _button(at, "Create client").click().run()
    [area] = [t for t in at.text_input if t.label.startswith("New area")]
    area.input("Left cheek")
    _button(at, "Add area").click().run()
    _check(at, "create client and area")

    uploader = at.file_uploader[0]
    for name, data in photos:
        uploader.upload(name, data, "image/jpeg")
    t0 = time.perf_counter()
    _button(at, "Upload").click().run()
    t_upload = time.perf_counter() - t0
    _check(at, "upload")
    added = " ".join(s.value for s in at.success)
    if f"{len(photos)} photo(s) added" not in added:
        raise SystemExit(f"upload: expected {len(photos)} photos added, the app says {added!r}")

    t0 = time.perf_counter()
    at.switch_page(PAGE.format("timeline")).run()
    t_chart = time.perf_counter() - t0
    _check(at, "timeline")
    if len(at.get("plotly_chart")) != 1:
        raise SystemExit("timeline: no chart drawn")

    out = {"upload": t_upload, "first chart": t_chart, "upload → chart": t_upload + t_chart}
    for page in ("timeline", "measure"):
        times = []
        for _ in range(revisits):
            at.switch_page(PAGE.format("clients")).run()
            t0 = time.perf_counter()
            at.switch_page(PAGE.format(page)).run()
            times.append(time.perf_counter() - t0)
            _check(at, f"revisit {page}")
        out[f"revisit {page}"] = float(np.median(times))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--revisits", type=int, default=5)
    args = parser.parse_args()

    from streamlit import config
    from streamlit.logger import set_log_level

    # No "missing ScriptRunContext" chatter from the cache clearing in bare mode.
    config.set_option("logger.level", "error")
    set_log_level("error")
    config.set_option("server.address", "127.0.0.1")
    os.environ["PROGRESS_NO_SAMPLES"] = "1"
    for var in ("PROGRESS_DB_URL", "PROGRESS_SAMPLE_DIR"):
        os.environ.pop(var, None)
    photos = [(p.name, p.read_bytes()) for p in photo_files(6)]
    print(machine())
    size = sum(len(b) for _, b in photos) / 2**20
    print(f"6 photos, 4000×3000 JPEG, {size:.0f} MiB in all; driven by streamlit AppTest")
    runs, loads = [], []
    with tempfile.TemporaryDirectory(prefix="progress-bench-dashboard-") as tmp:
        for i in range(args.repeat):
            loads.append(os.getloadavg()[0])
            runs.append(flow(Path(tmp) / f"data{i}", photos, args.revisits))
    targets = {"upload → chart": 5.0, "revisit timeline": 0.2, "revisit measure": 0.2}
    print(f"{'step':22s} {'median s':>9s} {'runs':>28s} {'target':>8s}")
    for key in runs[0]:
        values = [r[key] for r in runs]
        target = f"≤ {targets[key]:g} s" if key in targets else ""
        shown = " ".join(f"{v:.2f}" for v in values)
        print(f"{key:22s} {np.median(values):9.3f} {shown:>28s} {target:>8s}")
    print(
        f"load average (1 min) at the start of each repeat: {' '.join(f'{x:.1f}' for x in loads)}"
    )


if __name__ == "__main__":
    main()
