"""Access: loopback by default; on any other address a login comes before every page.

AppTest runs ``app.py`` with ``server.address`` set to a network address and a client
named "Sample client" with a photo in the store. Before login nothing of it may show.
"""

from __future__ import annotations

import inspect
import tomllib
from datetime import date
from types import SimpleNamespace

import pytest
import streamlit
from app_support import (
    REPO,
    configure,
    element_types,
    new_app,
    one,
    option,
    photo_jpeg,
    shown_text,
)
from argon2 import PasswordHasher

from progress.loader import load_image
from progress.store import Store
from progress_app import auth

SECRET = "correct horse battery staple"
CLIENT = "Sample client"
PAGES = ["clients", "lineup", "measure", "timeline", "compare", "reports"]
# Cheap argon2 parameters keep the test fast; the app reads them from the hash.
HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(SECRET)
DATA_TYPES = {"image", "imgs", "dataframe", "plotly_chart", "download_button", "selectbox"}


def _config() -> dict:
    return tomllib.loads((REPO / ".streamlit" / "config.toml").read_text("utf-8"))


# ----------------------------------------------------------------------- the config


def test_config_binds_to_loopback_and_sends_no_usage_statistics():
    cfg = _config()
    assert auth.is_loopback_host(cfg["server"]["address"])
    assert cfg["browser"]["gatherUsageStats"] is False
    assert cfg["server"]["enableXsrfProtection"] is True
    assert cfg["client"]["showErrorDetails"] == "none"


def test_upload_size_is_limited_by_the_server_and_the_loader():
    limit_mb = _config()["server"]["maxUploadSize"]
    assert isinstance(limit_mb, int) and 0 < limit_mb <= 200
    default = inspect.signature(load_image).parameters["max_bytes"].default
    assert limit_mb * 2**20 <= default  # the server refuses first, the loader as well


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("LOCALHOST:8501", True),
        ("::1", True),
        ("[::1]:8501", True),
        ("127.0.0.1:8501", True),
        (None, False),  # Streamlit's default: every interface
        ("", False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("10.0.0.5:8501", False),
        ("clinic.example", False),
        ("localhost.evil.example", False),
        ("127.0.0.1.evil.example", False),
    ],
)
def test_loopback_hosts(host, local):
    assert auth.is_loopback_host(host) is local


def test_failure_delay_doubles_from_half_a_second_up_to_eight():
    assert [auth.failure_delay(n) for n in range(8)] == [0, 0.5, 1, 2, 4, 8, 8, 8]
    assert auth.failure_delay(-3) == 0 and auth.failure_delay(10**6) == 8


def test_email_allow_list():
    allowed = ["ann@clinic.example", "@partner.example"]
    assert auth.email_allowed("Ann@Clinic.example", allowed)
    assert auth.email_allowed("bob@partner.example", allowed)
    assert not auth.email_allowed("bob@clinic.example", allowed)
    assert not auth.email_allowed("eve@partner.example.evil", allowed)
    assert not auth.email_allowed("ann@clinic.example", None)  # no list: no one
    assert not auth.email_allowed(None, allowed)


# ----------------------------------------------------------------------- the gate


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A data folder with a client, served on 0.0.0.0; fast, recorded login delays."""
    folder = tmp_path / "data"
    configure(monkeypatch, folder)
    with Store(None, data_dir=folder) as s:
        c = s.add_client(CLIENT, notes="private notes")
        a = s.add_area(c.id, "Left cheek")
        s.add_photo(s.add_session(a.id, date(2026, 3, 2)).id, photo_jpeg(5), name="cheek.jpg")
    delays: list[float] = []
    monkeypatch.setattr(auth, "_sleep", delays.append)
    auth._failures.clear()
    with option("server.address", "0.0.0.0"):
        yield delays
    auth._failures.clear()


def _app(passwords=None, **sections):
    at = new_app()
    if passwords is not None:
        at.secrets["passwords"] = passwords
    for name, value in sections.items():
        at.secrets[name] = value
    return at


def _assert_nothing_shown(at):
    text = shown_text(at)
    assert CLIENT not in text and "Left cheek" not in text and "cheek.jpg" not in text
    assert "private notes" not in text
    assert not (element_types(at) & DATA_TYPES), element_types(at) & DATA_TYPES
    assert not at.exception


def _login(at, user, password):
    one(at.text_input, "User name").input(user)
    one(at.text_input, "Password").input(password)
    one(at.button, "Sign in").click().run()


@pytest.mark.parametrize("page", PAGES)
def test_no_page_shows_anything_before_login(served, page):
    at = _app({"ann": HASH})
    at.switch_page(f"src/progress_app/pages/{page}.py").run()
    _assert_nothing_shown(at)
    assert [t.value for t in at.title] == ["Skin Progress"]
    assert one(at.text_input, "Password")


def test_wrong_password_is_refused_and_the_right_one_lets_in(served):
    at = _app({"ann": HASH}).run()
    _login(at, "ann", "wrong")
    assert [e.value for e in at.error] == [auth.REFUSED]
    _assert_nothing_shown(at)
    _login(at, "nobody", SECRET)  # someone else's password under an unknown name
    assert [e.value for e in at.error] == [auth.REFUSED]
    _assert_nothing_shown(at)

    _login(at, "ann", SECRET)
    assert not at.error and not at.exception
    assert CLIENT in shown_text(at)  # the checks above could see it
    assert one(at.sidebar.button, "Sign out (ann)")
    assert [t.value for t in at.title] == ["Clients & photos"]

    one(at.sidebar.button, "Sign out (ann)").click().run()
    _assert_nothing_shown(at)
    assert one(at.text_input, "Password")


def test_removed_user_is_signed_out(served):
    at = _app({"ann": HASH}).run()
    _login(at, "ann", SECRET)
    assert CLIENT in shown_text(at)
    at.secrets["passwords"] = {"bob": HASH}
    at.run()
    _assert_nothing_shown(at)


def test_failures_slow_down_the_next_attempts_per_user_and_per_session(served):
    delays = served
    at = _app({"ann": HASH}).run()
    for _ in range(4):
        _login(at, "ann", "guess")
    assert delays == [0, 0.5, 1, 2]
    assert auth.failures("user:ann") == 4

    # Another browser session guessing the same user waits as long as the first would.
    other = _app({"ann": HASH}).run()
    _login(other, "ann", "guess")
    assert delays[-1] == 4 and auth.failures("user:ann") == 5

    # Guessing under ever new user names is slowed by the session's own count.
    third = _app({"ann": HASH}).run()
    for name in ("u1", "u2", "u3"):
        _login(third, name, "guess")
    assert delays[-3:] == [0, 0.5, 1]

    # The right password still waits, then clears the user's and the session's count.
    _login(other, "ann", SECRET)
    assert delays[-1] == 8
    assert CLIENT in shown_text(other)
    assert auth.failures("user:ann") == 0


def test_failure_counts_are_forgotten_after_a_quiet_quarter_hour(served, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(auth, "_clock", lambda: now[0])
    at = _app({"ann": HASH}).run()
    _login(at, "ann", "guess")
    _login(at, "ann", "guess")
    assert auth.failures("user:ann") == 2
    now[0] += auth.FORGET_AFTER_S + 1
    assert auth.failures("user:ann") == 0


def test_unknown_user_costs_a_full_password_check(served, monkeypatch):
    calls = []
    real = PasswordHasher.verify

    def spy(self, hash_, password):
        calls.append(hash_)
        return real(self, hash_, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    monkeypatch.setattr(auth, "_secrets_section", lambda name: {"ann": HASH})
    assert auth.check_password("ann", SECRET) is True
    assert auth.check_password("nobody", SECRET) is False
    assert len(calls) == 2 and calls[1] != HASH
    assert calls[1].split("$")[3] == HASH.split("$")[3]  # same argon2 parameters


def test_no_login_configured_shows_how_to_fix_and_nothing_else(served):
    at = _app().run()
    assert "no login is configured" in at.error[0].value
    _assert_nothing_shown(at)


def test_unset_address_means_every_interface_and_needs_a_login(served):
    with option("server.address", None):
        at = _app({"ann": HASH}).run()
    _assert_nothing_shown(at)
    assert one(at.text_input, "Password")


@pytest.mark.parametrize(
    "headers",
    [{"host": "clinic.example:8501"}, {"host": "127.0.0.1:8501", "x-forwarded-for": "203.0.113.9"}],
)
def test_loopback_behind_a_proxy_or_foreign_host_name_needs_a_login(served, monkeypatch, headers):
    monkeypatch.setattr(auth, "_headers", lambda: headers)
    with option("server.address", "127.0.0.1"):
        at = _app({"ann": HASH}).run()
    _assert_nothing_shown(at)


def test_loopback_without_login(served, monkeypatch):
    monkeypatch.setattr(auth, "_headers", lambda: {"host": "localhost:8501"})
    with option("server.address", "127.0.0.1"):
        at = _app().run()
    assert CLIENT in shown_text(at) and not at.exception


OIDC = {
    "client_id": "x",
    "client_secret": "y",
    "server_metadata_url": "https://id.example/.well-known",
}


def test_identity_provider_login_first_then_only_allowed_addresses(served, monkeypatch):
    at = _app(auth=OIDC, access={"allowed_emails": ["ann@clinic.example"]}).run()
    _assert_nothing_shown(at)
    assert one(at.button, "Sign in")

    monkeypatch.setattr(
        streamlit, "user", SimpleNamespace(is_logged_in=True, email="eve@elsewhere.example")
    )
    at.run()
    _assert_nothing_shown(at)
    assert "not allowed" in at.error[0].value

    monkeypatch.setattr(
        streamlit, "user", SimpleNamespace(is_logged_in=True, email="ann@clinic.example")
    )
    at.run()
    assert CLIENT in shown_text(at) and not at.exception
