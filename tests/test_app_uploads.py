"""Dashboard uploads and sessions: bad files, hostile file names, two users at once.

AppTest runs ``app.py`` on a private data folder. The expected outcomes are set by the
test (which files are bad, which names were given), never read back from the app.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from pathlib import Path

import pytest
from app_support import (
    REPO,
    add_area,
    all_files,
    configure,
    create_client,
    new_app,
    one,
    option,
    photo_jpeg,
    shown_text,
    upload,
)
from bad_files import corpus

from progress.loader import SUPPORTED_EXTENSIONS, to_jpeg_bytes
from progress.store import Store


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    configure(monkeypatch, folder)
    with option("server.address", "127.0.0.1"):
        yield folder


def _bad_upload_cases():
    """Corpus files the loader must refuse, as the dashboard receives them: the bytes
    under a name with an extension the uploader accepts (no loader options)."""
    out = []
    for case in corpus():
        ext = Path(case.filename).suffix.lower().lstrip(".")
        if case.raises and not case.kwargs and ext in SUPPORTED_EXTENSIONS:
            out.append((f"{case.id}.{ext}", case.make()))
    return out


def _stored_state(folder: Path) -> tuple[list, dict[str, bytes]]:
    with Store(None, data_dir=folder) as s:
        rows = [
            (
                c.id,
                c.name,
                a.id,
                a.name,
                [(p.id, p.sha256, p.display_name) for p in s.photos(area_id=a.id)],
            )
            for c in s.clients()
            for a in s.areas(c.id)
        ]
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in all_files(folder / "photos")}
    return rows, files


def test_bad_files_in_a_batch_each_get_their_own_error_and_change_nothing(data_dir):
    # Data saved before: another client with a photo.
    with Store(None, data_dir=data_dir) as s:
        earlier = s.add_client("Earlier client")
        area = s.add_area(earlier.id, "Forehead")
        session = s.add_session(area.id, date(2026, 1, 5))
        s.add_photo(session.id, photo_jpeg(1), name="earlier.jpg")
        before_export = s.export_client(earlier.id)
    rows_before, files_before = _stored_state(data_dir)

    at = new_app().run()
    create_client(at, "Batch client")
    add_area(at, "Left cheek")
    bad = _bad_upload_cases()
    assert len(bad) >= 20
    good_name, good = "good-one.jpg", photo_jpeg(2)
    batch = bad[: len(bad) // 2] + [(good_name, good)] + bad[len(bad) // 2 :]
    upload(at, batch)

    errors = [e.value for e in at.error]
    assert len(errors) == len(bad)
    for name, _ in bad:
        naming = [e for e in errors if f"'{name}'" in e]
        assert len(naming) == 1, (name, naming)
    assert not any(good_name in e for e in errors)
    assert [s.value for s in at.success] == [
        f"1 photo(s) added. {len(bad)} file(s) were refused (see above)."
    ]

    with Store(None, data_dir=data_dir) as s:
        client = next(c for c in s.clients() if c.name == "Batch client")
        (new_area,) = s.areas(client.id)
        photos = s.photos(area_id=new_area.id)
        assert [p.display_name for p in photos] == [good_name]
        assert len(s.sessions(new_area.id)) == 1  # no empty sessions from the bad files
        assert s.export_client(earlier.id) == before_export
        assert s.check_integrity().ok
    rows_after, files_after = _stored_state(data_dir)
    assert [r for r in rows_after if r[0] == earlier.id] == [r for r in rows_before]
    added = set(files_after) - set(files_before)
    assert len(added) == 1
    assert {k: files_after[k] for k in files_before} == files_before
    assert files_after[added.pop()] == to_jpeg_bytes_of(good)


def to_jpeg_bytes_of(data: bytes) -> bytes:
    """What the store keeps for an upload (test_store checks the rule itself): the JPEG
    without its metadata where that decodes to the same pixels, else the pixels
    re-encoded (no EXIF)."""
    from progress.loader import load_image
    from progress.store import _jpeg_without_metadata

    rgb = load_image(data).rgb
    return _jpeg_without_metadata(data, rgb) or to_jpeg_bytes(rgb, quality=95)


def test_file_name_with_path_parts_is_never_used_as_a_path(data_dir, tmp_path):
    tag = uuid.uuid4().hex[:12]
    hostile = [
        f"../../evil-{tag}.jpg",
        f"..\\..\\evil-{tag}-win.jpg",
        f"/tmp/evil-{tag}-abs.jpg",
    ]
    at = new_app().run()
    create_client(at, "Path client")
    add_area(at, "Chin")
    upload(at, [(n, photo_jpeg(10 + i)) for i, n in enumerate(hostile)])
    assert not at.error
    assert [s.value for s in at.success] == ["3 photo(s) added."]

    with Store(None, data_dir=data_dir) as s:
        (client,) = s.clients()
        (area,) = s.areas(client.id)
        names = sorted(p.display_name for p in s.photos(area_id=area.id))
        shas = {p.sha256 for p in s.photos(area_id=area.id)}
    assert names == sorted([f"evil-{tag}.jpg", f"evil-{tag}-win.jpg", f"evil-{tag}-abs.jpg"])

    # Everything written is inside the data folder, under fixed names.
    outside = [p for p in all_files(tmp_path) if data_dir not in p.parents]
    assert outside == []
    for p in all_files(data_dir):
        rel = p.relative_to(data_dir).as_posix()
        if rel.startswith("photos/") and rel != "photos/.lock":
            assert p.stem in shas and rel == f"photos/{p.stem[:2]}/{p.stem}.jpg", rel
        else:
            assert rel in {"photos/.lock", "progress.db", "progress.db-wal", "progress.db-shm"}, rel
    # And nothing named after the upload anywhere it could have landed.
    places = [
        tmp_path,
        tmp_path.parent,
        Path.cwd(),
        Path.cwd().parent,
        REPO,
        Path("/tmp"),
        Path("/"),
    ]
    for place in places:
        assert not list(place.glob(f"evil-{tag}*")), place


def test_two_sessions_on_different_clients_keep_their_own_selection_and_data(data_dir):
    a = new_app().run()
    b = new_app().run()
    create_client(a, "Ann Alpha")
    create_client(b, "Ben Beta")
    add_area(a, "Left cheek")
    add_area(b, "Right hand")

    # Each session, rerun after the other's changes, still works on its own client.
    a.run()
    b.run()
    assert [h.value for h in a.header] == ["Ann Alpha"]
    assert [h.value for h in b.header] == ["Ben Beta"]
    assert "Ben Beta" not in shown_text(a, root=a.main)
    assert "Ann Alpha" not in shown_text(b, root=b.main)
    with Store(None, data_dir=data_dir) as s:
        ids = {c.name: c.id for c in s.clients()}
    assert a.selectbox(key="_client_pick").value == ids["Ann Alpha"] == a.session_state["client_id"]
    assert b.selectbox(key="_client_pick").value == ids["Ben Beta"] == b.session_state["client_id"]

    # Interleaved uploads: both forms filled, then submitted one after the other.
    pa = [(f"ann-{i}.jpg", photo_jpeg(100 + i)) for i in range(2)]
    pb = [(f"ben-{i}.jpg", photo_jpeg(200 + i)) for i in range(3)]
    a.file_uploader[0].set_value([(n, d, "image/jpeg") for n, d in pa])
    b.file_uploader[0].set_value([(n, d, "image/jpeg") for n, d in pb])
    one(a.button, "Upload").click()
    one(b.button, "Upload").click()
    a.run()
    b.run()
    assert not a.exception and not b.exception
    assert [s.value for s in a.success] == ["2 photo(s) added."]
    assert [s.value for s in b.success] == ["3 photo(s) added."]
    a.run()
    b.run()
    text_a, text_b = shown_text(a, root=a.main), shown_text(b, root=b.main)
    assert "ann-0.jpg" in text_a and "ann-1.jpg" in text_a and "ben-" not in text_a
    assert "ben-0.jpg" in text_b and "ben-2.jpg" in text_b and "ann-" not in text_b
    assert a.session_state["client_id"] != b.session_state["client_id"]

    with Store(None, data_dir=data_dir) as s:
        by_name = {c.name: c for c in s.clients()}
        assert set(by_name) == {"Ann Alpha", "Ben Beta"}
        for client, area_name, files in (
            ("Ann Alpha", "Left cheek", pa),
            ("Ben Beta", "Right hand", pb),
        ):
            (area,) = s.areas(by_name[client].id)
            assert area.name == area_name
            photos = s.photos(area_id=area.id)
            assert sorted(p.display_name for p in photos) == sorted(n for n, _ in files)
            stored = sorted(hashlib.sha256(s.photo_bytes(p.id)).hexdigest() for p in photos)
            expected = sorted(hashlib.sha256(to_jpeg_bytes_of(d)).hexdigest() for _, d in files)
            assert stored == expected
        assert s.check_integrity().ok


def test_a_new_client_or_area_becomes_the_selection_and_a_pick_switches_back(data_dir):
    at = new_app().run()
    create_client(at, "First")
    add_area(at, "Area one")
    create_client(at, "Second")
    assert [h.value for h in at.header] == ["Second"]
    add_area(at, "Area two")
    add_area(at, "Area three")
    assert "#### Area: Area three" in [m.value for m in at.markdown]
    with Store(None, data_dir=data_dir) as s:
        ids = {c.name: c.id for c in s.clients()}
    assert at.selectbox(key="_client_pick").value == ids["Second"]

    at.selectbox(key="_client_pick").set_value(ids["First"]).run()
    assert [h.value for h in at.header] == ["First"]
    assert "#### Area: Area one" in [m.value for m in at.markdown]
    at.selectbox(key="_client_pick").set_value(ids["Second"]).run()
    area_pick = at.selectbox(key="_area_pick")
    with Store(None, data_dir=data_dir) as s:
        area_ids = {a.name: a.id for a in s.areas(ids["Second"])}
    area_pick.set_value(area_ids["Area two"]).run()
    assert "#### Area: Area two" in [m.value for m in at.markdown]
    assert not at.exception
