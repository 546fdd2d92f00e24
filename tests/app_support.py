"""Shared helpers for the dashboard safety tests (AppTest on a private data folder)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from google.protobuf import text_format
from PIL import Image
from streamlit import config
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app.py"
TIMEOUT_S = 180  # one script run on a slow shared machine (a timeout, not a speed check)


def configure(monkeypatch, data_dir: Path) -> None:
    """Point the app at ``data_dir`` with no sample series and no database URL."""
    monkeypatch.setenv("PROGRESS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PROGRESS_NO_SAMPLES", "1")
    monkeypatch.delenv("PROGRESS_DB_URL", raising=False)


@contextmanager
def option(key: str, value) -> Iterator[None]:
    """Set a Streamlit config option for a block (tests must not depend on the cwd's
    ``.streamlit/config.toml``)."""
    old = config.get_option(key)
    config.set_option(key, value)
    try:
        yield
    finally:
        config.set_option(key, old)


def new_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)


def walk(node) -> Iterator[object]:
    yield node
    children = getattr(node, "children", None) or {}
    for child in children.values():
        yield from walk(child)


def shown_text(at: AppTest, *, root=None) -> str:
    """Every element's protobuf as text: labels, values, options, markdown, captions…"""
    base = at._tree if root is None else root
    return "\n".join(
        text_format.MessageToString(n.proto, as_utf8=True)
        for n in walk(base)
        if getattr(n, "proto", None) is not None
    )


def element_types(at: AppTest, *, root=None) -> set[str]:
    base = at._tree if root is None else root
    return {getattr(n, "type", "") for n in walk(base)}


def one(elements, label: str):
    """The single element of a list whose label is ``label``."""
    found = [e for e in elements if getattr(e, "label", None) == label]
    assert len(found) == 1, f"{len(found)} elements labelled {label!r}"
    return found[0]


def create_client(at: AppTest, name: str) -> None:
    one(at.text_input, "Name or pseudonym").input(name)
    one(at.button, "Create client").click().run()
    assert not at.exception, at.exception


def add_area(at: AppTest, name: str) -> None:
    one(at.text_input, "New area (e.g. left cheek, scar on forearm)").input(name)
    one(at.button, "Add area").click().run()
    assert not at.exception, at.exception


def upload(at: AppTest, files: list[tuple[str, bytes]]) -> None:
    at.file_uploader[0].set_value([(n, b, "application/octet-stream") for n, b in files])
    one(at.button, "Upload").click().run()
    assert not at.exception, at.exception


def photo_jpeg(seed: int, *, size: tuple[int, int] = (96, 72)) -> bytes:
    """A small textured JPEG, different for every seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.integers(60, 200, size=(h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    rgb = np.kron(base, np.ones((8, 8, 1), np.uint8))[:h, :w]
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())
