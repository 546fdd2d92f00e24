"""Run the real dashboard and a real browser, and record every outbound attempt.

Used by ``test_offline.py``, usually inside a network namespace that has only a loopback
interface (``unshare -rn``), so nothing can leave the machine even by mistake; the
records below show whether anything *tried*. Prints one JSON object on stdout:

* ``isolated``: a connection to a public address failed (we are in the namespace);
* ``connects``: every non-loopback ``connect``, ``sendto`` or name lookup made by the
  server process (a socket guard installed before Streamlit starts; its first entry is
  its own self-check, a connect to 192.0.2.1, TEST-NET-1);
* ``requests``: every URL the browser requested that is not the app's own origin;
* ``pages``: the title shown on each page; ``page_exceptions``: pages showing an
  exception; ``server_errors``: tracebacks in the server log.

Usage: ``python offline_probe.py WORK_DIR`` (the data folder and logs go there).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = {
    "": "Clients & photos",
    "lineup": "Line up",
    "measure": "Measure",
    "timeline": "Timeline",
    "compare": "Compare",
    "reports": "Reports",
}
# The app element's run state, as Streamlit's own end-to-end tests read it.
DONE = (
    "document.querySelector('[data-test-script-state]')"
    "?.getAttribute('data-test-script-state') === 'notRunning'"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]

# Installed in the server process before Streamlit is imported.
GUARD = r"""
import socket, sys, traceback
_LOG = sys.argv.pop(1)
_LOCAL = {"localhost", "127.0.0.1", "::1", "", None}

def _note(kind, target):
    with open(_LOG, "a", encoding="utf-8") as fh:
        fh.write(f"{kind} {target!r}\n")

def _is_local(address):
    if isinstance(address, str):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    return host in _LOCAL or str(host).startswith("127.")

_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
_sendto, _getaddrinfo = socket.socket.sendto, socket.getaddrinfo

def connect(self, address):
    if not _is_local(address):
        _note("connect", address)
    return _connect(self, address)

def connect_ex(self, address):
    if not _is_local(address):
        _note("connect", address)
    return _connect_ex(self, address)

def sendto(self, data, *args):
    address = args[-1]
    if not _is_local(address):
        _note("sendto", address)
    return _sendto(self, data, *args)

def getaddrinfo(host, *args, **kwargs):
    if not _is_local((host,)):
        _note("lookup", host)
    return _getaddrinfo(host, *args, **kwargs)

socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
socket.socket.sendto, socket.getaddrinfo = sendto, getaddrinfo

# Self-check: this attempt (to TEST-NET-1, never a real host) must be the only entry.
_s = socket.socket()
_s.settimeout(0.2)
try:
    _s.connect(("192.0.2.1", 9))
except OSError:
    pass
finally:
    _s.close()

from streamlit.web import cli
sys.argv = ["streamlit", *sys.argv[1:]]
sys.exit(cli.main())
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _isolated() -> bool:
    try:
        socket.create_connection(("1.1.1.1", 443), timeout=1).close()
    except OSError:
        return True
    return False


def _small_samples(folder: Path) -> Path:
    """The sample series at 320×240 and only its first two photos (fast to analyse)."""
    from progress.samples import generate_series

    generate_series(folder, size=(320, 240))
    truth = json.loads((folder / "truth.json").read_text("utf-8"))
    truth["photos"] = truth["photos"][:2]
    (folder / "truth.json").write_text(json.dumps(truth), "utf-8")
    return folder


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("the server exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing answers on port {port}")


def main(work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    log = work / "connects.log"
    log.write_text("", "utf-8")
    port = _free_port()
    env = dict(
        os.environ,
        PROGRESS_DATA_DIR=str(work / "data"),
        PROGRESS_SAMPLE_DIR=str(_small_samples(work / "samples")),
        PYTHONUNBUFFERED="1",
    )
    env.pop("PROGRESS_NO_SAMPLES", None)
    env.pop("PROGRESS_DB_URL", None)
    server_log = open(work / "server.log", "w", encoding="utf-8")  # noqa: SIM115
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            GUARD,
            str(log),
            "run",
            str(REPO / "app.py"),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],
        cwd=REPO,  # .streamlit/config.toml of the project applies
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    origin = f"127.0.0.1:{port}"
    foreign: list[str] = []
    pages: dict[str, str] = {}
    exceptions: list[str] = []
    timings: dict[str, float] = {"start": time.monotonic()}
    try:
        _wait_for_port(port, server)
        timings["server_up"] = round(time.monotonic() - timings.pop("start"), 2)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = browser.new_context()

            def seen(request) -> None:
                url = request.url
                if url.split(":", 1)[0] in ("data", "blob", "about"):
                    return
                if url.split("/")[2] != origin:
                    foreign.append(url)

            context.on("request", seen)
            page = context.new_page()
            page.goto(f"http://{origin}/", wait_until="domcontentloaded")
            for path, title in PAGES.items():
                t0 = time.monotonic()
                if path:  # the sidebar's page links (one browser session throughout)
                    page.locator('[data-testid="stSidebarNav"] a', has_text=title).click()
                page.locator("h1", has_text=title).first.wait_for(timeout=90_000)
                # Let the script run finish (analysis, charts) before leaving the page.
                page.wait_for_function(DONE, timeout=90_000)
                page.wait_for_timeout(200)
                page.wait_for_function(DONE, timeout=90_000)
                pages[path or "/"] = page.locator("h1").first.inner_text()
                if page.locator('[data-testid="stException"]').count():
                    exceptions.append(path or "/")
                timings[path or "/"] = round(time.monotonic() - t0, 2)
            context.close()
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()
    text = (work / "server.log").read_text("utf-8", "replace")
    return {
        "isolated": _isolated(),
        "connects": [line for line in log.read_text("utf-8").splitlines() if line],
        "requests": foreign,
        "pages": pages,
        "seconds": timings,
        "page_exceptions": exceptions,
        "server_errors": [line for line in text.splitlines() if "Traceback" in line],
        "photos_in_data": sorted(
            p.name for p in (work / "data" / "photos").rglob("*.jpg") if p.is_file()
        ),
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
