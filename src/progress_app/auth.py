"""Access: free on localhost, a login first on any other address.

* Bound to the loopback interface (``server.address = "127.0.0.1"`` in
  ``.streamlit/config.toml``) and reached as ``localhost``/``127.0.0.1``: no login, the
  machine's own user is the clinician.
* Anything else needs a login before any page runs: a non-loopback ``server.address``,
  no ``server.address`` at all (Streamlit then listens on every interface), a request
  whose ``Host`` header is not a loopback name (a reverse proxy, or a web page trying
  DNS rebinding) or that carries proxy headers (``X-Forwarded-For``, ``Forwarded``,
  ``X-Real-IP``).
* The login is Streamlit's ``st.login`` when an identity provider is configured
  (``[auth]`` in ``.streamlit/secrets.toml``); only the e-mail addresses (or ``@domain``
  entries) listed in ``[access] allowed_emails`` get in. Otherwise a user name and an
  argon2 password hash from ``[passwords]`` (make one with
  ``python -m progress_app.auth hash``).
* Failed password logins are slowed down: before answering, the server waits
  ``failure_delay(n)`` seconds, where ``n`` is the largest count of recent failures for
  this user name, this browser session and this client address. The wait only grows
  the time per guess; nobody is locked out. Counts are forgotten 15 minutes after the
  last failure.
"""

from __future__ import annotations

import ipaddress
import secrets
import sys
import threading
import time
from collections import OrderedDict

import streamlit as st

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host")
MAX_DELAY_S = 8.0
FORGET_AFTER_S = 15 * 60.0
MAX_TRACKED = 10_000
MAX_USER_CHARS = 200
MAX_PASSWORD_CHARS = 1024
REFUSED = "Wrong user name or password."

_failures: OrderedDict[str, tuple[int, float]] = OrderedDict()
_lock = threading.Lock()
_dummy_hashes: dict[str, str] = {}
_sleep = time.sleep  # tests replace this
_clock = time.monotonic  # tests replace this


# ----------------------------------------------------------------------- where from


def is_loopback_host(host: object) -> bool:
    """Whether a ``server.address`` or ``Host`` header value names this machine only.

    Accepts an optional port (``localhost:8501``, ``[::1]:8501``). ``None``, ``""`` and
    ``0.0.0.0`` are not loopback: Streamlit then listens on every interface.
    """
    if not isinstance(host, str):
        return False
    h = host.strip().lower()
    if h.startswith("["):  # [::1]:8501
        h = h[1:].split("]", 1)[0]
    elif h.count(":") == 1:  # name:port or a.b.c.d:port
        h = h.split(":", 1)[0]
    h = h.rstrip(".")
    if not h:
        return False
    if h in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _headers() -> dict[str, str]:
    try:
        return {str(k).lower(): str(v) for k, v in dict(st.context.headers).items()}
    except Exception:  # noqa: BLE001 - no request context (bare mode, tests): no headers
        return {}


def is_local() -> bool:
    """Whether this visitor reaches a server that listens on loopback only, directly.

    False when ``server.address`` is unset or not a loopback address, or when the
    request has a non-loopback ``Host`` header or proxy headers.
    """
    if not is_loopback_host(st.get_option("server.address")):
        return False
    headers = _headers()
    if any(h in headers for h in PROXY_HEADERS):
        return False
    host = headers.get("host")
    return host is None or is_loopback_host(host)


# ----------------------------------------------------------------------- secrets


def _secrets_section(name: str) -> dict:
    try:
        section = st.secrets.get(name, {})
        return dict(section) if hasattr(section, "keys") else {}
    except Exception:  # noqa: BLE001 - no or malformed secrets file: no such section
        return {}


def _oidc_configured() -> bool:
    auth = _secrets_section("auth")
    return bool(auth.get("client_id") or any(hasattr(v, "keys") for v in auth.values()))


def email_allowed(email: object, allowed: object) -> bool:
    """Whether a signed-in e-mail is on the ``[access] allowed_emails`` list.

    Entries are whole addresses or ``@domain``; case does not matter. No list: no one.
    """
    if not isinstance(email, str) or "@" not in email:
        return False
    if isinstance(allowed, str):
        allowed = [allowed]
    if not isinstance(allowed, list | tuple):
        return False
    e = email.strip().lower()
    domain = "@" + e.rsplit("@", 1)[1]
    entries = {str(a).strip().lower() for a in allowed}
    return e in entries or domain in entries


# ----------------------------------------------------------------------- passwords


def failure_delay(failures: int) -> float:
    """Seconds to wait before answering after ``failures`` recent failed logins.

    ``0`` for none, then ``0.5 · 2^(n−1)``: 0.5, 1, 2, 4, 8, 8, … s (at most ``MAX_DELAY_S``).
    """
    if failures <= 0:
        return 0.0
    return min(MAX_DELAY_S, 0.5 * 2.0 ** min(failures - 1, 16))


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def _dummy_for(passwords: dict) -> str:
    """A hash of no one's password with the same argon2 parameters as the real ones."""
    from argon2 import PasswordHasher, extract_parameters
    from argon2.exceptions import InvalidHashError

    params = None
    for h in passwords.values():
        try:
            params = extract_parameters(h)
            break
        except (InvalidHashError, TypeError, ValueError):
            continue
    key = repr(params)
    if key not in _dummy_hashes:
        hasher = _hasher() if params is None else PasswordHasher.from_parameters(params)
        _dummy_hashes[key] = hasher.hash(secrets.token_hex(16))
    return _dummy_hashes[key]


def check_password(user: str, password: str) -> bool:
    """Verify a user's password against the argon2 hash in ``[passwords]``.

    An unknown user name costs the same argon2 verification (same parameters) as a
    known one, so the answer time does not tell which user names exist.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    passwords = _secrets_section("passwords")
    stored = passwords.get(user) if isinstance(user, str) else None
    known = isinstance(stored, str) and stored.startswith("$argon2")
    try:
        ok = _hasher().verify(stored if known else _dummy_for(passwords), password)
    except (VerificationError, InvalidHashError):
        return False
    return bool(ok and known)


def _forget_old(now: float) -> None:
    for key in [k for k, (_, t) in _failures.items() if now - t > FORGET_AFTER_S]:
        del _failures[key]
    while len(_failures) > MAX_TRACKED:
        _failures.popitem(last=False)


def failures(key: str) -> int:
    """Recent failed logins counted under ``key`` (``user:…``, ``session:…``, ``ip:…``)."""
    with _lock:
        _forget_old(_clock())
        return _failures.get(key, (0, 0.0))[0]


def _reserve(keys: list[str]) -> int:
    """Count an attempt under every key at once; return the largest count before it.

    Counting before the password is checked means parallel guesses from many sessions
    each wait longer than the one before.
    """
    with _lock:
        now = _clock()
        _forget_old(now)
        n = max(_failures.get(k, (0, 0.0))[0] for k in keys)
        for k in keys:
            _failures[k] = (_failures.get(k, (0, 0.0))[0] + 1, now)
            _failures.move_to_end(k)
        return n


def _release(keys: list[str], *, clear: list[str]) -> None:
    """After a success: take back the attempt under ``keys``, drop ``clear`` entirely."""
    with _lock:
        for k in clear:
            _failures.pop(k, None)
        for k in keys:
            if k in _failures:
                count, t = _failures[k]
                if count <= 1:
                    del _failures[k]
                else:
                    _failures[k] = (count - 1, t)


def _session_key() -> str:
    if "_auth_session" not in st.session_state:
        st.session_state["_auth_session"] = secrets.token_hex(8)
    return f"session:{st.session_state['_auth_session']}"


def _ip_key() -> str | None:
    try:
        ip = st.context.ip_address
    except Exception:  # noqa: BLE001 - no request context
        return None
    return f"ip:{ip}" if isinstance(ip, str) and ip else None


def attempt_login(user: str, password: str) -> bool:
    """One password login attempt, slowed by the recent failures; True if it succeeds."""
    user = (user or "").strip()[:MAX_USER_CHARS]
    password = (password or "")[:MAX_PASSWORD_CHARS]
    user_key, session_key, ip_key = f"user:{user}", _session_key(), _ip_key()
    keys = [user_key, session_key] + ([ip_key] if ip_key else [])
    _sleep(failure_delay(_reserve(keys)))
    if user and password and check_password(user, password):
        _release(
            [k for k in keys if k not in (user_key, session_key)], clear=[user_key, session_key]
        )
        return True
    return False


# ----------------------------------------------------------------------- the gate


def _sign_out_button(label: str, on_click) -> None:
    with st.sidebar:
        if st.button(label, key="_auth_sign_out"):
            on_click()


def _password_sign_out() -> None:
    st.session_state.pop("auth_user", None)
    st.rerun()


def gate() -> bool:
    """Return True when the visitor may see the app; otherwise draw the login and return False."""
    if is_local():
        return True
    if _oidc_configured():
        return _oidc_gate()
    passwords = _secrets_section("passwords")
    user = st.session_state.get("auth_user")
    if user and user in passwords:
        _sign_out_button(f"Sign out ({user})", _password_sign_out)
        return True
    st.session_state.pop("auth_user", None)
    st.title("Skin Progress")
    if not passwords:
        st.error(
            "This dashboard is served on a network address but no login is configured. Add "
            "user names with argon2 password hashes under [passwords] in "
            ".streamlit/secrets.toml, or bind it to localhost."
        )
        return False
    with st.form("login"):
        name = st.text_input("User name", max_chars=MAX_USER_CHARS)
        password = st.text_input("Password", type="password", max_chars=MAX_PASSWORD_CHARS)
        if st.form_submit_button("Sign in"):
            if attempt_login(name, password):
                st.session_state["auth_user"] = name.strip()
                st.rerun()
            else:
                st.error(REFUSED)
    return False


def _oidc_gate() -> bool:
    if not getattr(st.user, "is_logged_in", False):
        st.title("Skin Progress")
        st.write("Please sign in to continue.")
        if st.button("Sign in"):
            st.login()
        return False
    email = getattr(st.user, "email", None)
    if email_allowed(email, _secrets_section("access").get("allowed_emails")):
        _sign_out_button("Sign out", st.logout)
        return True
    st.title("Skin Progress")
    st.error(
        "This account is not allowed to use this dashboard. An administrator can add its "
        "e-mail address under [access] allowed_emails in .streamlit/secrets.toml."
    )
    if st.button("Sign out"):
        st.logout()
    return False


def _main(argv: list[str]) -> int:
    if argv[:1] != ["hash"]:
        print("usage: python -m progress_app.auth hash   (then type the password)", file=sys.stderr)
        return 2
    import getpass

    first = getpass.getpass("Password: ")
    if len(first) < 12:
        print("Use at least 12 characters.", file=sys.stderr)
        return 1
    if getpass.getpass("Again: ") != first:
        print("The two entries differ.", file=sys.stderr)
        return 1
    print(_hasher().hash(first))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
