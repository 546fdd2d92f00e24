"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright.

One ``streamlit run app.py`` on a free loopback port with a fresh data folder (so the
app seeds and analyses the bundled sample series itself), then: every page renders
without an exception; a new client gets two photos (and a broken file) through the file
input; the timeline chart and the side-by-side view show them; the PDF report downloads.

Screenshots of every page and PNG renderings of the PDF go to ``$PROGRESS_SCREENS_DIR``
(default ``/tmp/screens``), with ``browser-timings.json``: time from a fresh start to
the first chart and the time to revisit a page whose results are computed. They are
measured, not asserted.

Needs ``/usr/bin/chromium`` (Debian package ``chromium``) and the ``playwright`` Python
package; never run ``playwright install`` (it downloads a browser build).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "headless Chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright Python package is not installed"
)
pytest.importorskip("streamlit", reason="streamlit is not installed")

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_images"
TRUTH = json.loads((SAMPLES / "truth.json").read_text("utf-8"))
SCREENS = Path(os.environ.get("PROGRESS_SCREENS_DIR") or "/tmp/screens")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 2000}  # tall: Streamlit scrolls inside the page
PAGES = {  # URL path → title
    "": "Clients & photos",
    "lineup": "Line up",
    "measure": "Measure",
    "timeline": "Timeline",
    "compare": "Compare",
    "reports": "Reports",
}
ANALYSIS_MS = 240_000  # a first visit analyses all eight sample photos on 2 slow cores
TIMINGS: dict[str, float] = {}


# ------------------------------------------------------------------------------ server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = dict(os.environ, PROGRESS_DATA_DIR=str(data_dir))
        for var in ("PROGRESS_NO_SAMPLES", "PROGRESS_DB_URL", "PROGRESS_SAMPLE_DIR"):
            env.pop(var, None)
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.headless",
                "true",
                "--server.port",
                str(self.port),
                "--server.address",
                "127.0.0.1",
                "--server.fileWatcherType",
                "none",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited ({self.proc.returncode}):\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"streamlit did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text("utf-8", errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: our child only
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    srv = Server(folder / "data", folder / "streamlit.log")
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def page(browser, server):
    """One browser tab (one Streamlit session) shared by the tests, in file order."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()


@pytest.fixture(scope="module", autouse=True)
def _write_timings():
    yield
    if TIMINGS:
        SCREENS.mkdir(parents=True, exist_ok=True)
        (SCREENS / "browser-timings.json").write_text(json.dumps(TIMINGS, indent=2))


# ----------------------------------------------------------------------------- helpers

APP = "[data-testid=stApp]"
IDLE = f"{APP}[data-test-script-state=notRunning]"


SETTLED_JS = """() => {
    const app = document.querySelector('[data-testid=stApp]');
    const quiet = app
        && app.getAttribute('data-test-script-state') === 'notRunning'
        && app.getAttribute('data-test-connection-state') === 'CONNECTED'
        && !document.querySelector('[data-stale=true]');
    if (!quiet) { window.__spQuietSince = null; return false; }
    window.__spQuietSince = window.__spQuietSince || performance.now();
    return performance.now() - window.__spQuietSince > 400;
}"""


def settle(tab, *, timeout_ms: float = 60_000) -> None:
    """Wait until the app is idle, connected and free of stale elements for 0.4 s."""
    tab.evaluate("window.__spQuietSince = null")
    tab.wait_for_function(SETTLED_JS, polling=100, timeout=timeout_ms)


def wait_run(tab, *, timeout_ms: float = 60_000) -> None:
    """Wait for the script run an action started to finish and the page to settle.

    The click's rerun request shows at once as a state other than ``notRunning``; a
    run that was over before we looked is covered by the 1.5 s limit, and ``settle``
    keeps a late start from being taken for the end.
    """
    try:
        tab.wait_for_function(
            "document.querySelector('[data-testid=stApp]')"
            "?.getAttribute('data-test-script-state') !== 'notRunning'",
            polling="raf",
            timeout=1_500,
        )
    except sync_api.TimeoutError:
        pass  # the run was over before we looked
    settle(tab, timeout_ms=timeout_ms)


def expect_visible(tab, server, locator, what: str, *, timeout_ms: float = 60_000) -> None:
    """Wait for ``locator``; on a timeout, fail with what the page shows instead."""
    try:
        locator.wait_for(timeout=timeout_ms)
    except sync_api.TimeoutError:
        name = re.sub(r"\W+", "-", what).strip("-")
        shot(tab, f"failed-{name}")
        shown = tab.locator("[data-testid=stHeading], [data-testid=stAlert]").all_inner_texts()
        state = tab.locator(APP).evaluate(
            "a => [a.getAttribute('data-test-script-state'),"
            " a.getAttribute('data-test-connection-state')]"
        )
        pytest.fail(
            f"{what} did not appear within {timeout_ms / 1000:.0f} s; app state {state}; "
            f"the page shows {shown}\n--- server log ---\n{server.log()}"
        )


def assert_no_exception(tab, server) -> None:
    shown = tab.locator("[data-testid=stException]")
    assert shown.count() == 0, f"{shown.first.inner_text()}\n--- server log ---\n{server.log()}"


def heading(tab, title: str):
    return tab.locator("[data-testid=stHeading] h1", has_text=title)


def go(tab, title: str) -> float:
    """Open a page from the sidebar (same session); return seconds until idle."""
    t0 = time.perf_counter()
    tab.locator(
        "[data-testid=stSidebarNav] a", has_text=re.compile(f"^{re.escape(title)}$")
    ).click()
    heading(tab, title).wait_for(timeout=ANALYSIS_MS)  # the new page's run has begun
    tab.wait_for_selector(IDLE, timeout=ANALYSIS_MS)
    seconds = time.perf_counter() - t0
    settle(tab, timeout_ms=ANALYSIS_MS)  # before the next action
    return seconds


def shot(tab, name: str) -> Path:
    path = SCREENS / f"{name}.png"
    tab.screenshot(path=str(path))
    return path


def chart_points(tab) -> int:
    """Photos plotted in the timeline chart: markers of the "photo" and "≤ 7 days" traces.

    (Their ``x`` arrive base64-packed; ``text`` holds one hover label per point.)
    """
    return tab.locator("[data-testid=stPlotlyChart] .js-plotly-plot").evaluate(
        """gd => gd.data
            .filter(t => t.mode === 'markers' && (t.name === 'photo' || t.name.startsWith('≤ 7 days')))
            .reduce((n, t) => n + t.text.length, 0)"""
    )


def sidebar_client(tab) -> str:
    return tab.locator("[data-testid=stSidebar] input[aria-label=Client]").input_value()


def alerts(tab, kind: str) -> list[str]:
    icons = {"error": "stAlertContentError", "success": "stAlertContentSuccess"}
    return [t.strip() for t in tab.locator(f"[data-testid={icons[kind]}]").all_inner_texts()]


# ------------------------------------------------------------------------------- tests


def test_fresh_start_to_the_first_timeline_chart(page, server):
    """A first visit seeds the samples, analyses them and draws the chart."""
    t0 = time.perf_counter()
    page.goto(f"{server.url}/timeline")
    page.wait_for_selector("[data-testid=stPlotlyChart] .scatterlayer .point", timeout=ANALYSIS_MS)
    TIMINGS["fresh_start_to_first_chart_s"] = round(time.perf_counter() - t0, 2)
    TIMINGS["server_spawn_to_first_chart_s"] = round(time.perf_counter() - server.started, 2)
    wait_run(page, timeout_ms=ANALYSIS_MS)
    assert_no_exception(page, server)
    heading(page, "Timeline").wait_for()
    assert chart_points(page) == len(TRUTH["photos"])
    assert sidebar_client(page) == TRUTH["client"]
    shot(page, "timeline")


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders(page, server, path):
    title = PAGES[path]
    go(page, title)
    assert_no_exception(page, server)
    assert alerts(page, "error") == []
    if path == "timeline":
        page.wait_for_selector("[data-testid=stPlotlyChart] .scatterlayer .point")
    if path == "compare":
        page.wait_for_selector("[data-testid=stIFrame]")
    if path == "measure":
        page.wait_for_selector("[data-testid=stDataFrame]")
    page.wait_for_timeout(500)  # images and the plotly canvas settle
    shot(page, path or "clients")


def test_revisit_timing(page, server):
    """Measured, not asserted: reopening pages whose results are computed."""
    for title in ("Timeline", "Measure", "Compare"):
        go(page, title)
        go(page, "Reports")
        times = [go(page, title) for _ in range(3)]
        if title == "Timeline":
            page.wait_for_selector("[data-testid=stPlotlyChart] .scatterlayer .point")
        TIMINGS[f"revisit_{title.lower()}_s"] = round(sorted(times)[1], 3)
        assert_no_exception(page, server)


def test_new_client_upload_timeline_compare_pdf(page, server, tmp_path):
    if not page.url.startswith(server.url):  # run on its own
        page.goto(server.url)
        wait_run(page, timeout_ms=ANALYSIS_MS)
    go(page, "Clients & photos")
    page.get_by_text("New client", exact=True).click()
    page.get_by_label("Name or pseudonym").fill("Browser Zoë")
    page.locator("[data-testid=stFormSubmitButton] button", has_text="Create client").click()
    wait_run(page)
    expect_visible(
        page,
        server,
        page.locator("[data-testid=stHeading] h2", has_text="Browser Zoë"),
        "the new client's heading",
    )
    page.get_by_label("New area (e.g. left cheek, scar on forearm)").fill("Right cheek")
    page.locator("[data-testid=stFormSubmitButton] button", has_text="Add area").click()
    wait_run(page)
    expect_visible(page, server, page.get_by_text("Area: Right cheek"), "the new area")

    # Two good photos and a broken file, through the real file input.
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"meeting notes, not a photo\n" * 20)
    good = [TRUTH["photos"][0]["file"], TRUTH["photos"][-1]["file"]]
    page.set_input_files("input[type=file]", [str(SAMPLES / n) for n in good] + [str(bad)])
    # Each uploaded file gets a chip with its size (long names are cut in the middle).
    page.wait_for_function(
        "n => (document.querySelector('[data-testid=stFileUploader]').innerText"
        ".match(/[0-9.]+ ?[KM]B/g) || []).length === n",
        arg=3,
    )
    page.locator("[data-testid=stFileUploader]", has_text="notes.jpg").wait_for()
    page.locator("[data-testid=stFormSubmitButton] button", has_text="Upload").click()
    wait_run(page)
    expect_visible(
        page, server, page.locator("[data-testid=stAlertContentSuccess]"), "the upload summary"
    )
    assert_no_exception(page, server)
    errors = alerts(page, "error")
    assert len(errors) == 1 and "notes.jpg" in errors[0], errors
    assert alerts(page, "success") == ["2 photo(s) added. 1 file(s) were refused (see above)."]
    page.wait_for_timeout(500)
    shot(page, "clients-upload")

    # The timeline of the new area: the first visit analyses the two photos.
    go(page, "Timeline")
    page.wait_for_selector("[data-testid=stPlotlyChart] .scatterlayer .point")
    assert_no_exception(page, server)
    assert sidebar_client(page) == "Browser Zoë"
    assert chart_points(page) == 2
    page.wait_for_timeout(500)
    shot(page, "timeline-upload")

    # The before/after viewer, switched to side by side.
    go(page, "Compare")
    assert_no_exception(page, server)
    frame_el = page.locator("[data-testid=stIFrame]")
    frame_el.wait_for()
    frame = frame_el.content_frame
    frame.get_by_label("side by side").check()
    pair = frame.locator("#sp-pair")
    pair.wait_for(state="visible")
    frame_box = frame_el.bounding_box()
    for side in ("#sp-left", "#sp-right"):
        box = frame.locator(side).bounding_box()
        assert box["width"] > 200 and box["height"] > 150, (side, box)
        # The whole photo is inside the frame: nothing cut off at the bottom.
        assert box["y"] + box["height"] <= frame_box["y"] + frame_box["height"] + 1, (
            side,
            box,
            frame_box,
        )
        loaded = frame.locator(f"{side} img").first.evaluate(
            "img => img.complete && img.naturalWidth > 0"
        )
        assert loaded, side
    assert frame.locator("#sp-single").is_hidden()
    shot(page, "compare-side-by-side")

    # The PDF report, downloaded as a clinician would.
    go(page, "Reports")
    assert_no_exception(page, server)
    with page.expect_download(timeout=180_000) as info:
        page.get_by_role("button", name="PDF report").click()
    pdf_path = tmp_path / "report.pdf"
    info.value.save_as(pdf_path)
    assert re.fullmatch(r"skin-progress-\d+\.pdf", info.value.suggested_filename)
    pdf = pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip(b"\r\n").endswith(b"%%EOF")
    n_pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
    # Cover, metric table, six charts two per page, method notes.
    assert n_pages >= 2 + math.ceil(6 / 2)
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(pdf_path), "-"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode("utf-8")
        assert text.count("\f") == n_pages
        assert "Browser Zoë" in text and "Right cheek" in text
        assert "not a diagnosis" in text
    if shutil.which("pdftoppm"):
        for old in SCREENS.glob("report-*.png"):
            old.unlink()
        subprocess.run(
            ["pdftoppm", "-r", "60", "-png", str(pdf_path), str(SCREENS / "report")],
            check=True,
            timeout=120,
        )
        assert len(list(SCREENS.glob("report-*.png"))) == n_pages
