"""Access: free on localhost, a login first on any other address.

* Bound to localhost (the default in ``.streamlit/config.toml``): no login, the machine's
  own user is the clinician.
* Served on any other address: every page needs a login first, either Streamlit's
  built-in ``st.login`` when an identity provider is configured (``[auth]`` in
  ``.streamlit/secrets.toml``), or a user name and an argon2 password hash from
  ``[passwords]`` in ``.streamlit/secrets.toml`` (make a hash with
  ``python -m progress_app.auth hash``). Repeated failed logins are slowed down.
"""

from __future__ import annotations

import sys
import threading
import time

import streamlit as st

LOCAL = {"", "localhost", "127.0.0.1", "::1"}
MAX_DELAY_S = 8.0
_failures: dict[str, int] = {}
_lock = threading.Lock()


def is_local() -> bool:
    """Whether the server listens on the loopback interface only."""
    address = st.get_option("server.address")
    return address is None or str(address).strip() in LOCAL


def _secrets_section(name: str) -> dict:
    try:
        return dict(st.secrets.get(name, {}))
    except Exception:  # noqa: BLE001 - no or malformed secrets file: no such section
        return {}


def _oidc_configured() -> bool:
    auth = _secrets_section("auth")
    return bool(auth.get("client_id") or any(isinstance(v, dict) for v in auth.values()))


def failure_delay(failures: int) -> float:
    """Seconds to wait before answering after ``failures`` failed logins: 0.5 · 2^(n−1), ≤ 8."""
    return 0.0 if failures <= 0 else min(MAX_DELAY_S, 0.5 * 2 ** (failures - 1))


def check_password(user: str, password: str) -> bool:
    """Verify a user's password against the argon2 hash in ``[passwords]``."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    stored = _secrets_section("passwords").get(user)
    if not stored:
        return False
    try:
        return PasswordHasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def gate() -> bool:
    """Return True when the visitor may see the app; otherwise draw the login and return False."""
    if is_local():
        return True
    if _oidc_configured():
        if getattr(st.user, "is_logged_in", False):
            return True
        st.title("Skin Progress")
        st.write("Please sign in to continue.")
        if st.button("Sign in"):
            st.login()
        return False
    if st.session_state.get("auth_user"):
        return True
    st.title("Skin Progress")
    if not _secrets_section("passwords"):
        st.error(
            "This dashboard is served on a network address but no login is configured. Add user names with "
            "argon2 password hashes under [passwords] in .streamlit/secrets.toml, or bind it to localhost."
        )
        return False
    with st.form("login"):
        user = st.text_input("User name")
        password = st.text_input("Password", type="password")
        if st.form_submit_button("Sign in"):
            with _lock:
                n = _failures.get(user, 0)
            time.sleep(failure_delay(n))
            if check_password(user, password):
                with _lock:
                    _failures.pop(user, None)
                st.session_state["auth_user"] = user
                st.rerun()
            else:
                with _lock:
                    _failures[user] = n + 1
                st.error("Wrong user name or password.")
    return False


def _main(argv: list[str]) -> int:
    if argv[:1] != ["hash"]:
        print("usage: python -m progress_app.auth hash   (then type the password)", file=sys.stderr)
        return 2
    import getpass

    from argon2 import PasswordHasher

    print(PasswordHasher().hash(getpass.getpass("Password: ")))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
