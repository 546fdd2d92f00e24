"""No telemetry and no request to any outside host: the real app in a real browser.

``offline_probe.py`` starts ``streamlit run app.py`` on a fresh data folder (the sample
series is seeded on first start) with a socket guard, opens every page in headless
Chromium and records each non-loopback connection attempt of the server and each
request of the browser to another origin. When user namespaces are available it runs
inside ``unshare -rn`` (a network namespace with only loopback), so nothing can leave
the machine even if something tried.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.browser


def _namespace_prefix() -> list[str]:
    if not (shutil.which("unshare") and shutil.which("ip")):
        return []
    ok = subprocess.run(
        ["unshare", "-rn", "sh", "-c", "ip link set lo up"], capture_output=True, check=False
    )
    return (
        ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
        if ok.returncode == 0
        else []
    )


def test_dashboard_makes_no_outside_connection(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium (apt-get install chromium), see BROWSER.md")
    pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    prefix = _namespace_prefix()
    proc = subprocess.run(
        [*prefix, sys.executable, str(HERE / "offline_probe.py"), str(tmp_path / "work")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])

    assert result["connects"] == ["connect ('192.0.2.1', 9)"]  # only the guard's self-check
    assert result["requests"] == []
    assert result["server_errors"] == [] and result["page_exceptions"] == []
    assert result["pages"] == {
        "/": "Clients & photos",
        "lineup": "Line up",
        "measure": "Measure",
        "timeline": "Timeline",
        "compare": "Compare",
        "reports": "Reports",
    }
    assert len(result["photos_in_data"]) == 2  # the (trimmed) sample series was seeded
    if prefix:
        assert result["isolated"] is True
