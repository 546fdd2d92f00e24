"""Tests of progress.store: round trips, cascades, privacy, integrity, restart, threads.

Every expected value is written by hand or follows from how the test built its input
(pixel colours, EXIF fields, file counts); raw SQL and a walk of the folder check what
the store itself reports.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import threading
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from progress.errors import ImageError, StoreError
from progress.store import (
    SCHEMA_VERSION,
    Area,
    Client,
    PhotoRecord,
    Session,
    Store,
    Treatment,
    UnknownIdError,
)

TABLES = ("clients", "areas", "treatments", "sessions", "photos", "results", "schema_version")
PG_ENV = "PROGRESS_TEST_PG_URL"


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def solid(rgb: tuple[int, int, int], *, size: tuple[int, int] = (48, 32), stripe: int = 0):
    """A W×H image of one colour, with a black stripe `stripe` px wide to make it unique."""
    w, h = size
    arr = np.empty((h, w, 3), np.uint8)
    arr[:] = rgb
    arr[:, :stripe] = 0
    return arr


def jpeg(arr: np.ndarray, *, exif: Image.Exif | None = None, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    kwargs = {} if exif is None else {"exif": exif.tobytes()}
    Image.fromarray(arr).save(buf, "JPEG", quality=quality, **kwargs)
    return buf.getvalue()


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def exif_with(
    *, taken: str | None = None, gps: bool = False, serial: str | None = None, orientation=None
) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "TestMake"  # Make
    exif[0x0110] = "TestModel"  # Model
    if orientation is not None:
        exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)  # Exif IFD
    if taken is not None:
        sub[0x9003] = taken  # DateTimeOriginal
    if serial is not None:
        sub[0xA431] = serial  # BodySerialNumber
    if gps:
        g = exif.get_ifd(0x8825)  # GPS IFD
        g[1] = "N"
        g[2] = (52.0, 22.0, 1.5)
        g[3] = "E"
        g[4] = (4.0, 53.0, 0.0)
    return exif


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of every JPEG header segment up to the start of scan."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    out, i = [], 2
    while i + 4 <= len(data):
        assert data[i] == 0xFF, f"bad marker at {i}"
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        out.append((marker, data[i + 4 : i + 2 + length]))
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        i += 2 + length
    return out


def files_under(folder: Path) -> set[str]:
    """Every file below folder (relative POSIX paths), the lock file excluded."""
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != ".lock"
    }


def stored_path(sha: str) -> str:
    return f"{sha[:2]}/{sha}.jpg"


# --------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------


class Backend:
    """Opens stores on one database + folder, and reads the tables with raw SQL."""

    def __init__(self, url: str | None, data_dir: Path) -> None:
        self.url = url
        self.data_dir = data_dir
        raw_url = url or f"sqlite:///{data_dir / 'progress.db'}"
        self.engine = sa.create_engine(raw_url)
        self.opened: list[Store] = []

    def open(self) -> Store:
        store = Store(self.url, data_dir=self.data_dir)
        self.opened.append(store)
        return store

    def count(self, table: str, where: str = "", **params) -> int:
        sql = f"SELECT COUNT(*) FROM {table}" + (f" WHERE {where}" if where else "")
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar_one()

    def counts(self) -> dict[str, int]:
        return {t: self.count(t) for t in TABLES}

    def close(self) -> None:
        for store in self.opened:
            store.close()
        self.engine.dispose()


def _pg_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}=postgresql+psycopg://user:pw@host/db")
    return url


def _reset_pg(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path):
    if request.param == "sqlite":
        b = Backend(None, tmp_path / "data")
    else:
        url = _pg_url()
        _reset_pg(url)
        b = Backend(url, tmp_path / "data")
    yield b
    b.close()


@pytest.fixture
def sqlite_backend(tmp_path):
    b = Backend(None, tmp_path / "data")
    yield b
    b.close()


@pytest.fixture
def store(sqlite_backend):
    return sqlite_backend.open()


def populate(store: Store, name: str, colour: tuple[int, int, int], *, n: int = 3):
    """A client with one area, a treatment, two sessions and n photos with results."""
    client = store.add_client(name, skin_type=2, notes=f"notes of {name}")
    area = store.add_area(client.id, f"cheek of {name}")
    store.add_treatment(area.id, date(2024, 3, 1), depth_mm=1.5, notes=f"needling {name}")
    s1 = store.session_for_date(area.id, date(2024, 3, 1))
    s2 = store.session_for_date(area.id, date(2024, 4, 1))
    photos = []
    for i in range(n):
        session = s1 if i == 0 else s2
        rec = store.add_photo(session.id, jpeg(solid(colour, stripe=i + 1)), name=f"{name}-{i}.jpg")
        store.save_result(rec.id, {"owner": name, "index": i})
        photos.append(rec)
    store.set_reference(area.id, photos[0].id)
    return client, area, photos


# --------------------------------------------------------------------------------------
# CRUD round trips (both backends)
# --------------------------------------------------------------------------------------


def test_client_round_trip(backend):
    store = backend.open()
    before = datetime.now(UTC)
    alice = store.add_client("  Alice  ", skin_type=3, notes="sensitive")
    bob = store.add_client("bob")
    after = datetime.now(UTC)
    assert isinstance(alice, Client)
    assert (alice.name, alice.skin_type, alice.notes) == ("Alice", 3, "sensitive")
    assert (bob.skin_type, bob.notes) == (None, "")
    assert before <= alice.created_at <= after and alice.created_at.tzinfo is not None
    assert store.client(alice.id) == alice
    assert [c.name for c in store.clients()] == ["Alice", "bob"]  # case-insensitive order

    changed = store.update_client(alice.id, skin_type=None, notes="ok")
    assert (changed.name, changed.skin_type, changed.notes) == ("Alice", None, "ok")
    assert store.rename_client(alice.id, "Alicia").name == "Alicia"
    assert store.client(alice.id).skin_type is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        alice.name = "x"  # type: ignore[misc]


def test_area_treatment_session_round_trip(backend):
    store = backend.open()
    c = store.add_client("Carla")
    cheek = store.add_area(c.id, "left cheek")
    brow = store.add_area(c.id, "forehead")
    assert isinstance(cheek, Area) and cheek.reference_photo_id is None
    assert store.areas(c.id) == [cheek, brow]
    assert store.area(cheek.id) == cheek
    assert store.rename_area(brow.id, "brow").name == "brow"

    t2 = store.add_treatment(cheek.id, date(2024, 5, 2), depth_mm=2, notes="second")
    t1 = store.add_treatment(cheek.id, date(2024, 4, 1))
    assert isinstance(t1, Treatment)
    assert t2.depth_mm == 2.0 and t1.depth_mm is None
    assert store.treatments(cheek.id) == [t1, t2]  # by date
    assert store.treatment(t2.id) == t2
    store.delete_treatment(t1.id)
    assert store.treatments(cheek.id) == [t2]

    s_may = store.add_session(cheek.id, date(2024, 5, 2), label="after")
    s_apr = store.session_for_date(cheek.id, date(2024, 4, 1))
    assert isinstance(s_apr, Session) and s_apr.label == ""
    assert store.session_for_date(cheek.id, date(2024, 4, 1)) == s_apr  # get, not create
    assert store.session_for_date(cheek.id, date(2024, 5, 2)) == s_may  # any label counts
    assert store.sessions(cheek.id) == [s_apr, s_may]
    assert store.sessions(brow.id) == []
    with pytest.raises(ValueError, match="already has a session"):
        store.add_session(cheek.id, date(2024, 5, 2), label="after")
    second = store.add_session(cheek.id, date(2024, 5, 2), label="evening")
    assert store.session(second.id).label == "evening"
    store.delete_session(second.id)
    assert store.sessions(cheek.id) == [s_apr, s_may]


def test_photo_round_trip_and_files(backend):
    store = backend.open()
    c = store.add_client("Dora")
    a = store.add_area(c.id, "chin")
    s = store.session_for_date(a.id, date(2024, 1, 10))
    source = np.zeros((32, 48, 3), np.uint8)
    source[..., 0] = np.linspace(0, 255, 48, dtype=np.uint8)[None, :]  # smooth ramp
    source[..., 1] = 120
    rec = store.add_photo(s.id, png(source), name="C:\\Users\\dora/../IMG_0001\u202e.png")

    assert isinstance(rec, PhotoRecord)
    assert (rec.width, rec.height) == (48, 32)
    assert (rec.session_id, rec.area_id, rec.client_id) == (s.id, a.id, c.id)
    assert rec.session_date == date(2024, 1, 10)
    assert rec.display_name == "IMG_0001.png"  # last component, no bidi override
    assert rec.taken_at is None

    photo_dir = backend.data_dir / "photos"
    on_disk = files_under(photo_dir)
    assert len(on_disk) == 1
    (only,) = on_disk
    data = (photo_dir / only).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert only == f"{digest[:2]}/{digest}.jpg"
    assert rec.sha256 == digest and rec.file_name == f"{digest}.jpg"
    assert store.photo_bytes(rec.id) == data
    rgb = store.photo_rgb(rec.id)
    assert rgb.shape == (32, 48, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb.astype(int) - source.astype(int)).mean() < 3  # JPEG q95 of a ramp
    assert store.photo(rec.id) == rec
    assert store.photos(session_id=s.id) == [rec]
    assert backend.count("photos") == 1


def test_same_bytes_are_deduplicated_per_session_and_share_one_file(backend):
    store = backend.open()
    c = store.add_client("Eve")
    a = store.add_area(c.id, "neck")
    s1 = store.session_for_date(a.id, date(2024, 1, 1))
    s2 = store.session_for_date(a.id, date(2024, 2, 1))
    data = jpeg(solid((200, 150, 120)))
    r1 = store.add_photo(s1.id, data, name="a.jpg")
    assert store.add_photo(s1.id, data, name="again.jpg") == r1
    r2 = store.add_photo(s2.id, data, name="b.jpg")
    assert r2.id != r1.id and r2.sha256 == r1.sha256
    photo_dir = backend.data_dir / "photos"
    assert backend.count("photos") == 2
    assert files_under(photo_dir) == {stored_path(r1.sha256)}

    store.delete_photo(r1.id)
    assert files_under(photo_dir) == {stored_path(r1.sha256)}  # r2 still uses it
    assert store.photo_bytes(r2.id)
    store.delete_photo(r2.id)
    assert files_under(photo_dir) == set()
    assert backend.count("photos") == 0


def test_results_round_trip_and_conversion(backend):
    store = backend.open()
    c = store.add_client("Fay")
    a = store.add_area(c.id, "cheek")
    s = store.session_for_date(a.id, date(2024, 1, 1))
    ref = store.add_photo(s.id, jpeg(solid((180, 120, 100), stripe=1)), name="r.jpg")
    p = store.add_photo(s.id, jpeg(solid((180, 120, 100), stripe=5)), name="p.jpg")
    assert store.result(p.id) is None
    payload = {
        "alignment": {"matrix": np.eye(3)[:2], "confidence": np.float32(0.75), "method": "orb"},
        "metrics": {"ra": np.float64(1.25), "failed": float("nan"), "big": math.inf},
        "quality": {"ok": np.bool_(True), "n": np.int64(7)},
        "roi": "skin",
        "when": date(2024, 1, 2),
        "computed_at": "2024-01-02T03:04:05+00:00",
    }
    store.save_result(p.id, payload, reference_photo_id=ref.id)
    got = store.result(p.id)
    assert got["alignment"] == {
        "matrix": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        "confidence": 0.75,
        "method": "orb",
    }
    assert got["metrics"] == {"ra": 1.25, "failed": None, "big": None}
    assert got["quality"] == {"ok": True, "n": 7}
    assert got["when"] == "2024-01-02"
    assert got["computed_at"] == "2024-01-02T03:04:05+00:00"  # kept when given
    assert isinstance(got["library_version"], str) and got["library_version"]

    store.save_result(p.id, {"metrics": {"ra": 2.0}})  # replaces
    got = store.result(p.id)
    assert got["metrics"] == {"ra": 2.0}
    assert "alignment" not in got
    datetime.fromisoformat(got["computed_at"])  # added, ISO formatted
    store.save_result(ref.id, {"metrics": {"ra": 1.0}})
    assert {k: v["metrics"] for k, v in store.results(a.id).items()} == {
        ref.id: {"ra": 1.0},
        p.id: {"ra": 2.0},
    }
    assert backend.count("results") == 2


def test_reference_photo(backend):
    store = backend.open()
    c = store.add_client("Gina")
    a = store.add_area(c.id, "cheek")
    other = store.add_area(c.id, "chin")
    s = store.session_for_date(a.id, date(2024, 1, 1))
    so = store.session_for_date(other.id, date(2024, 1, 1))
    p = store.add_photo(s.id, jpeg(solid((100, 100, 100))), name="p.jpg")
    q = store.add_photo(s.id, jpeg(solid((100, 100, 100), stripe=3)), name="q.jpg")
    po = store.add_photo(so.id, jpeg(solid((90, 90, 90))), name="o.jpg")
    assert store.set_reference(a.id, p.id).reference_photo_id == p.id
    with pytest.raises(ValueError, match="belongs to area"):
        store.set_reference(a.id, po.id)
    with pytest.raises(ValueError, match="one area"):
        store.save_result(q.id, {"x": 1}, reference_photo_id=po.id)
    store.save_result(q.id, {"x": 1, "reference_photo_id": p.id})
    store.delete_photo(p.id)  # the reference goes: the area has none, q's result stays
    assert store.area(a.id).reference_photo_id is None
    assert store.result(q.id)["x"] == 1
    assert store.set_reference(a.id, q.id).reference_photo_id == q.id
    assert store.set_reference(a.id, None).reference_photo_id is None


def test_restart_keeps_everything(backend):
    store = backend.open()
    client, area, photos = populate(store, "Hana", (210, 160, 140))
    expected = {
        "clients": store.clients(),
        "areas": store.areas(client.id),
        "treatments": store.treatments(area.id),
        "sessions": store.sessions(area.id),
        "photos": store.photos(client_id=client.id),
        "results": store.results(area.id),
        "bytes": [store.photo_bytes(p.id) for p in photos],
    }
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.clients()

    again = backend.open()
    assert again.clients() == expected["clients"]
    assert again.areas(client.id) == expected["areas"]
    assert again.area(area.id).reference_photo_id == photos[0].id
    assert again.treatments(area.id) == expected["treatments"]
    assert again.sessions(area.id) == expected["sessions"]
    assert again.photos(client_id=client.id) == expected["photos"]
    assert again.results(area.id) == expected["results"]
    assert [r["owner"] for r in again.results(area.id).values()] == ["Hana"] * 3
    assert [again.photo_bytes(p.id) for p in photos] == expected["bytes"]
    assert again.schema_version == SCHEMA_VERSION
    assert again.check_integrity().ok


def test_delete_client_removes_rows_and_files_but_not_other_clients(backend):
    store = backend.open()
    ann, ann_area, ann_photos = populate(store, "Ann", (220, 170, 150))
    ben, ben_area, ben_photos = populate(store, "Ben", (120, 90, 70))
    # One upload shared by both clients (same bytes): one file, two rows.
    shared = jpeg(solid((10, 200, 10)))
    s_ann = store.session_for_date(ann_area.id, date(2024, 5, 1))
    s_ben = store.session_for_date(ben_area.id, date(2024, 5, 1))
    shared_ann = store.add_photo(s_ann.id, shared, name="shared.jpg")
    shared_ben = store.add_photo(s_ben.id, shared, name="shared.jpg")
    assert shared_ann.sha256 == shared_ben.sha256
    ben_export = store.export_client(ben.id)
    shared_bytes = store.photo_bytes(shared_ann.id)
    photo_dir = backend.data_dir / "photos"
    ben_files = {stored_path(p.sha256) for p in [*ben_photos, shared_ben]}
    ann_only = {stored_path(p.sha256) for p in ann_photos}
    assert files_under(photo_dir) == ben_files | ann_only

    store.delete_client(ann.id)

    # No row of any table mentions Ann any more (raw SQL on the tables).
    assert backend.count("clients", "id = :i", i=ann.id) == 0
    assert backend.count("areas", "client_id = :i", i=ann.id) == 0
    assert backend.count("treatments", "area_id = :i", i=ann_area.id) == 0
    assert backend.count("sessions", "area_id = :i", i=ann_area.id) == 0
    ann_ids = [p.id for p in [*ann_photos, shared_ann]]
    for pid in ann_ids:
        assert backend.count("photos", "id = :i", i=pid) == 0
        assert backend.count("results", "photo_id = :i OR reference_photo_id = :i", i=pid) == 0
    assert backend.counts() == {
        "clients": 1,
        "areas": 1,
        "treatments": 1,
        "sessions": 3,
        "photos": 4,
        "results": 3,
        "schema_version": 1,
    }
    # Files: only Ben's remain, including the shared one.
    assert files_under(photo_dir) == ben_files
    assert store.photo_bytes(shared_ben.id) == shared_bytes
    # Ben's export is byte-identical.
    assert store.export_client(ben.id) == ben_export
    for getter in (store.client, store.export_client, store.areas):
        with pytest.raises(StoreError, match=f"No client with id {ann.id}"):
            getter(ann.id)
    with pytest.raises(StoreError):
        store.photo(ann_photos[0].id)
    assert store.check_integrity().ok


def test_delete_area_and_session_cascade(backend):
    store = backend.open()
    client, area, photos = populate(store, "Ivy", (200, 150, 130))
    other = store.add_area(client.id, "forehead")
    keep = store.add_photo(
        store.session_for_date(other.id, date(2024, 3, 3)).id,
        jpeg(solid((1, 2, 250))),
        name="keep.jpg",
    )
    photo_dir = backend.data_dir / "photos"
    s2 = store.photos(area_id=area.id)[-1].session_id
    store.delete_session(s2)  # photos 1 and 2 with their results and files
    assert [p.id for p in store.photos(area_id=area.id)] == [photos[0].id]
    assert backend.count("results") == 1
    assert files_under(photo_dir) == {stored_path(photos[0].sha256), stored_path(keep.sha256)}
    store.delete_area(area.id)
    assert backend.count("areas") == 1
    assert backend.count("treatments") == 0
    assert backend.count("sessions") == 1
    assert files_under(photo_dir) == {stored_path(keep.sha256)}
    assert store.photos(client_id=client.id) == [keep]


def test_photos_filters_and_order(backend):
    store = backend.open()
    c = store.add_client("Jo")
    a = store.add_area(c.id, "cheek")
    b = store.add_area(c.id, "chin")
    late = store.session_for_date(a.id, date(2024, 6, 1))
    early = store.session_for_date(a.id, date(2024, 1, 1))
    chin = store.session_for_date(b.id, date(2023, 1, 1))

    def add(session, stripe, taken):
        exif = None if taken is None else exif_with(taken=taken)
        return store.add_photo(
            session.id, jpeg(solid((90, 80, 70), stripe=stripe), exif=exif), name="x.jpg"
        )

    p_late_no_time = add(late, 1, None)
    p_late_noon = add(late, 2, "2024:06:01 12:00:00")
    p_late_morning = add(late, 3, "2024:06:01 08:00:00")
    p_early = add(early, 4, "2024:01:01 09:00:00")
    p_chin = add(chin, 5, None)
    assert p_late_noon.taken_at == datetime(2024, 6, 1, 12, 0, 0)
    by_id = [p.id for p in store.photos(area_id=a.id)]
    assert by_id == [p_early.id, p_late_morning.id, p_late_noon.id, p_late_no_time.id]
    assert [p.id for p in store.photos(client_id=c.id)][0] == p_chin.id  # 2023 first
    assert [p.id for p in store.photos(session_id=early.id)] == [p_early.id]
    assert store.photos(area_id=b.id, session_id=early.id) == []  # filters combine
    assert len(store.photos()) == 5


# --------------------------------------------------------------------------------------
# Validation and unknown ids
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "match"),
    [("", "empty"), ("   ", "empty"), ("x" * 201, "limit is 200"), ("a\nb", "control"), (5, "str")],
)
def test_bad_client_names(store, name, match):
    with pytest.raises(ValueError, match=match):
        store.add_client(name)
    assert store.clients() == []


@pytest.mark.parametrize("skin_type", [0, 7, True, "3", 2.0])
def test_bad_skin_type(store, skin_type):
    with pytest.raises(ValueError, match="skin_type"):
        store.add_client("Kim", skin_type=skin_type)


def test_bad_arguments(store):
    c = store.add_client("Lea", skin_type=6)
    a = store.add_area(c.id, "arm")
    with pytest.raises(ValueError, match="datetime.date"):
        store.add_treatment(a.id, datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="datetime.date"):
        store.add_session(a.id, "2024-01-01")
    for depth in (-0.1, 10.5, float("nan"), "1"):
        with pytest.raises(ValueError, match="depth_mm"):
            store.add_treatment(a.id, date(2024, 1, 1), depth_mm=depth)
    with pytest.raises(ValueError, match="NUL"):
        store.add_client("Max", notes="a\x00b")
    with pytest.raises(ValueError, match="integer"):
        store.client("1")
    with pytest.raises(ValueError, match="integer"):
        store.area(True)
    s = store.session_for_date(a.id, date(2024, 1, 1))
    with pytest.raises(ValueError, match="bytes"):
        store.add_photo(s.id, "not bytes", name="x.jpg")
    p = store.add_photo(s.id, jpeg(solid((5, 5, 5))), name="x.jpg")
    with pytest.raises(ValueError, match="cannot be stored as JSON"):
        store.save_result(p.id, {"obj": object()})
    with pytest.raises(ValueError, match="not a str"):
        store.save_result(p.id, {"metrics": {1: 2.0}})
    with pytest.raises(ValueError, match="dict"):
        store.save_result(p.id, [1, 2])
    assert store.result(p.id) is None
    with pytest.raises(ValueError, match="in-memory"):
        Store("sqlite://", data_dir=store.data_dir)


def test_unknown_ids_raise_store_error(store):
    calls = [
        (store.client, "client"),
        (store.delete_client, "client"),
        (store.areas, "client"),
        (lambda i: store.add_area(i, "x"), "client"),
        (store.area, "area"),
        (store.delete_area, "area"),
        (lambda i: store.set_reference(i, None), "area"),
        (lambda i: store.add_treatment(i, date(2024, 1, 1)), "area"),
        (store.treatments, "area"),
        (store.treatment, "treatment"),
        (store.delete_treatment, "treatment"),
        (lambda i: store.session_for_date(i, date(2024, 1, 1)), "area"),
        (store.sessions, "area"),
        (store.session, "session"),
        (store.delete_session, "session"),
        (lambda i: store.add_photo(i, b"x", name="x"), "session"),
        (lambda i: store.photos(area_id=i), "area"),
        (store.photo, "photo"),
        (store.photo_bytes, "photo"),
        (store.photo_rgb, "photo"),
        (store.delete_photo, "photo"),
        (store.result, "photo"),
        (lambda i: store.save_result(i, {}), "photo"),
        (store.results, "area"),
        (store.export_client, "client"),
    ]
    for call, kind in calls:
        with pytest.raises(StoreError, match=f"No {kind} with id 999") as info:
            call(999)
        assert isinstance(info.value, UnknownIdError | LookupError)


# --------------------------------------------------------------------------------------
# Privacy: EXIF, export, deletion
# --------------------------------------------------------------------------------------


def test_stored_copy_has_no_exif_but_keeps_the_capture_time(store):
    c = store.add_client("Mia")
    a = store.add_area(c.id, "cheek")
    s = store.session_for_date(a.id, date(2024, 3, 5))
    exif = exif_with(taken="2024:03:05 14:30:00", gps=True, serial="SERIAL-9F3A7")
    upload = jpeg(solid((200, 140, 120)), exif=exif)
    # Preconditions: the upload really carries GPS, the serial and an APP1/Exif segment.
    source_exif = Image.open(io.BytesIO(upload)).getexif()
    assert source_exif.get_ifd(0x8825)[1] == "N"
    assert b"SERIAL-9F3A7" in upload
    assert any(m == 0xE1 and p.startswith(b"Exif") for m, p in jpeg_segments(upload))

    rec = store.add_photo(s.id, upload, name="IMG_1.jpg")
    stored = store.photo_bytes(rec.id)
    markers = [m for m, _ in jpeg_segments(stored)]
    assert 0xE1 not in markers  # no APP1 (Exif / XMP)
    assert 0xE2 not in markers  # no APP2 (ICC profile)
    assert 0xFE not in markers  # no comment
    assert b"Exif\x00\x00" not in stored
    assert b"SERIAL-9F3A7" not in stored and b"TestMake" not in stored
    assert len(Image.open(io.BytesIO(stored)).getexif()) == 0
    assert rec.taken_at == datetime(2024, 3, 5, 14, 30, 0)
    assert store.photo(rec.id).taken_at == datetime(2024, 3, 5, 14, 30, 0)


def test_upright_jpeg_is_stored_losslessly_without_its_metadata(store):
    # A camera JPEG (textured, so that re-encoding would change pixels), with Exif, GPS, a
    # comment and a second image after its end (as phones append depth maps or previews).
    from progress.loader import load_image

    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    exif = exif_with(taken="2024:03:05 14:30:00", gps=True, serial="SERIAL-LOSSLESS")
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=80, exif=exif, comment=b"clinic note")
    upload = buf.getvalue() + b"\xff\xd8TRAILING-PREVIEW\xff\xd9"
    scan = upload[
        upload.index(b"\xff\xda") : upload.index(b"\xff\xd9", upload.index(b"\xff\xda")) + 2
    ]
    c = store.add_client("Lossless")
    a = store.add_area(c.id, "cheek")
    s = store.session_for_date(a.id, date(2024, 3, 5))
    rec = store.add_photo(s.id, upload, name="IMG_2.jpg")
    stored = store.photo_bytes(rec.id)
    # The compressed image data are the camera's own, byte for byte: nothing re-encoded.
    assert stored.endswith(scan)
    assert np.array_equal(store.photo_rgb(rec.id), load_image(upload).rgb)
    # ... and nothing else of the upload is left.
    assert b"SERIAL-LOSSLESS" not in stored and b"Exif" not in stored
    assert b"clinic note" not in stored and b"TRAILING-PREVIEW" not in stored
    assert {m for m, _ in jpeg_segments(stored)} <= {0xC0, 0xC4, 0xDB, 0xE0, 0xDA}
    assert rec.taken_at == datetime(2024, 3, 5, 14, 30, 0)


def test_orientation_is_applied_before_storing(store):
    c = store.add_client("Nia")
    a = store.add_area(c.id, "cheek")
    s = store.session_for_date(a.id, date(2024, 1, 1))
    source = solid((40, 40, 40), size=(48, 32))
    source[:8, :8] = (250, 0, 0)  # red block in the top-left corner of the raw pixels
    rec = store.add_photo(s.id, jpeg(source, exif=exif_with(orientation=6)), name="rot.jpg")
    assert (rec.width, rec.height) == (32, 48)  # 90° clockwise turn: W and H swap
    rgb = store.photo_rgb(rec.id)
    assert rgb.shape == (48, 32, 3)
    assert rgb[2:6, -6:-2, 0].mean() > 200  # the block is now top-right
    assert rgb[2:6, 2:6, 0].mean() < 80


@pytest.mark.parametrize(
    "bad",
    [b"", b"hello, not a photo", "truncated"],
    ids=["empty", "text", "truncated"],
)
def test_bad_upload_changes_nothing(sqlite_backend, bad):
    store = sqlite_backend.open()
    populate(store, "Olga", (150, 100, 90), n=2)
    s = store.sessions(store.areas(store.clients()[0].id)[0].id)[0]
    if bad == "truncated":
        good = jpeg(solid((30, 60, 90), size=(64, 48)))
        bad = good[: len(good) // 2]
    photo_dir = sqlite_backend.data_dir / "photos"
    before = (sqlite_backend.counts(), files_under(photo_dir), sorted(os.listdir(photo_dir)))
    with pytest.raises(ImageError):
        store.add_photo(s.id, bad, name="broken.jpg")
    after = (sqlite_backend.counts(), files_under(photo_dir), sorted(os.listdir(photo_dir)))
    assert after == before


def test_export_contains_exactly_that_client(store):
    ann, ann_area, ann_photos = populate(store, "Petra", (230, 180, 160))
    populate(store, "Quentin", (60, 40, 30), n=2)
    archive = zipfile.ZipFile(io.BytesIO(store.export_client(ann.id)))
    names = set(archive.namelist())
    expected_files = {
        f"photos/2024-03-01_{ann_photos[0].id}.jpg",
        f"photos/2024-04-01_{ann_photos[1].id}.jpg",
        f"photos/2024-04-01_{ann_photos[2].id}.jpg",
    }
    assert names == {"client.json"} | expected_files
    for p in ann_photos:
        blob = archive.read(f"photos/{p.session_date.isoformat()}_{p.id}.jpg")
        assert hashlib.sha256(blob).hexdigest() == p.sha256
    doc = json.loads(archive.read("client.json"))
    assert doc["client"]["name"] == "Petra" and doc["client"]["skin_type"] == 2
    assert [a["name"] for a in doc["areas"]] == ["cheek of Petra"]
    assert [(t["on_date"], t["depth_mm"]) for t in doc["treatments"]] == [("2024-03-01", 1.5)]
    assert sorted(s["on_date"] for s in doc["sessions"]) == ["2024-03-01", "2024-04-01"]
    assert [p["id"] for p in doc["photos"]] == [p.id for p in ann_photos]
    assert {k: v["owner"] for k, v in doc["results"].items()} == {
        str(p.id): "Petra" for p in ann_photos
    }
    everything = b"".join(archive.read(n) for n in names)
    assert b"Quentin" not in everything
    # Deterministic: exporting again gives the same bytes.
    assert store.export_client(ann.id) == store.export_client(ann.id)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_files_are_private(sqlite_backend):
    store = sqlite_backend.open()
    _, _, photos = populate(store, "Rita", (100, 80, 60), n=1)
    photo_dir = sqlite_backend.data_dir / "photos"
    path = photo_dir / photos[0].sha256[:2] / photos[0].file_name
    assert path.stat().st_mode & 0o777 == 0o600
    assert photo_dir.stat().st_mode & 0o077 == 0
    assert (sqlite_backend.data_dir / "progress.db").stat().st_mode & 0o077 == 0


def test_deleted_client_text_does_not_linger_in_the_database_files(sqlite_backend):
    store = sqlite_backend.open()
    secret = "Zelda-Quixote-7731"
    populate(store, secret, (100, 100, 100), n=1)
    keep, _, _ = populate(store, "Keeper", (100, 100, 101), n=1)
    client = next(c for c in store.clients() if c.name == secret)
    db_files = [p for p in sqlite_backend.data_dir.glob("progress.db*") if p.is_file()]
    assert any(secret.encode() in p.read_bytes() for p in db_files)  # precondition
    store.delete_client(client.id)
    for p in sqlite_backend.data_dir.glob("progress.db*"):
        assert secret.encode() not in p.read_bytes(), p.name
    assert store.client(keep.id).name == "Keeper"


# --------------------------------------------------------------------------------------
# Failure paths and integrity
# --------------------------------------------------------------------------------------


def test_failed_row_insert_removes_the_new_file_only(store, monkeypatch):
    c = store.add_client("Sara")
    a = store.add_area(c.id, "cheek")
    s1 = store.session_for_date(a.id, date(2024, 1, 1))
    s2 = store.session_for_date(a.id, date(2024, 2, 1))
    kept = store.add_photo(s1.id, jpeg(solid((50, 60, 70))), name="kept.jpg")
    photo_dir = store.photo_dir

    def boom(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Store, "_insert_photo_row", boom)
    with pytest.raises(RuntimeError, match="went away"):
        store.add_photo(s2.id, jpeg(solid((70, 60, 50))), name="new.jpg")
    assert files_under(photo_dir) == {stored_path(kept.sha256)}  # new file removed
    with pytest.raises(RuntimeError, match="went away"):
        store.add_photo(s2.id, jpeg(solid((50, 60, 70))), name="same-as-kept.jpg")
    assert files_under(photo_dir) == {stored_path(kept.sha256)}  # shared file kept
    monkeypatch.undo()
    assert store.photo_bytes(kept.id)
    assert [p.id for p in store.photos()] == [kept.id]


def test_check_integrity_reports_and_repairs(sqlite_backend):
    store = sqlite_backend.open()
    _, _, photos = populate(store, "Tina", (120, 100, 90), n=3)
    report = store.check_integrity()
    assert report.ok and report.checked == 3
    assert (report.missing, report.corrupt, report.orphans, report.temp_files) == ((), (), (), ())

    photo_dir = sqlite_backend.data_dir / "photos"
    (photo_dir / "zz").mkdir()
    (photo_dir / "zz" / ("e" * 64 + ".jpg")).write_bytes(b"orphan")
    (photo_dir / "stray.txt").write_bytes(b"stray")
    tmp_rel = f"{photos[0].sha256[:2]}/abc123.tmp"
    (photo_dir / tmp_rel).write_bytes(b"half a photo")
    corrupt_path = photo_dir / stored_path(photos[1].sha256)
    corrupt_bytes = bytearray(corrupt_path.read_bytes())
    corrupt_bytes[-10] ^= 0xFF
    corrupt_path.write_bytes(bytes(corrupt_bytes))
    (photo_dir / stored_path(photos[2].sha256)).unlink()

    report = store.check_integrity()
    assert not report.ok and report.checked == 3
    assert report.missing == (photos[2].id,)
    assert report.corrupt == (photos[1].id,)
    assert set(report.orphans) == {"zz/" + "e" * 64 + ".jpg", "stray.txt"}
    assert report.temp_files == (tmp_rel,)
    assert report.removed == ()
    with pytest.raises(StoreError, match=f"photo {photos[1].id} .*does not match"):
        store.photo_bytes(photos[1].id)
    with pytest.raises(StoreError, match=f"photo {photos[2].id} .*missing"):
        store.photo_rgb(photos[2].id)

    repaired = store.check_integrity(repair=True)
    assert set(repaired.removed) == {*report.orphans, tmp_rel}
    assert files_under(photo_dir) == {
        stored_path(photos[0].sha256),
        stored_path(photos[1].sha256),  # corrupt but referenced: never deleted
    }
    assert not (photo_dir / "zz").exists()  # emptied fan-out folder removed
    assert store.photo_bytes(photos[0].id)


def test_opening_removes_leftover_temp_files_only(sqlite_backend):
    store = sqlite_backend.open()
    _, _, photos = populate(store, "Uma", (120, 100, 90), n=1)
    store.close()
    photo_dir = sqlite_backend.data_dir / "photos"
    folder = photos[0].sha256[:2]
    (photo_dir / folder / "left.tmp").write_bytes(b"x")
    (photo_dir / folder / "orphan.jpg").write_bytes(b"y")
    sqlite_backend.open()
    assert files_under(photo_dir) == {stored_path(photos[0].sha256), f"{folder}/orphan.jpg"}


def test_newer_schema_is_refused(sqlite_backend):
    sqlite_backend.open().close()
    with sqlite_backend.engine.begin() as conn:
        conn.execute(sa.text("UPDATE schema_version SET version = :v"), {"v": SCHEMA_VERSION + 1})
    with pytest.raises(StoreError, match="newer"):
        sqlite_backend.open()


def test_postgresql_ddl_in_the_same_process_keeps_sqlite_foreign_keys(tmp_path):
    from progress.store import _create_tables

    emitted: list[str] = []
    mock = sa.create_mock_engine(
        "postgresql://", lambda sql, *a, **k: emitted.append(str(sql.compile(dialect=mock.dialect)))
    )
    _create_tables(mock, checkfirst=False)
    assert any("ALTER TABLE areas ADD CONSTRAINT" in s for s in emitted)  # the cycle's key
    with Store(data_dir=tmp_path / "d") as store:
        store.add_client("Xavi")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'd' / 'progress.db'}")
    with engine.connect() as conn:
        keys = conn.exec_driver_sql("PRAGMA foreign_key_list(areas)").all()
    engine.dispose()
    # (id, seq, table, from, to, on_update, on_delete, match)
    assert {(k[2], k[3], k[6]) for k in keys} == {
        ("clients", "client_id", "CASCADE"),
        ("photos", "reference_photo_id", "SET NULL"),
    }


def test_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PROGRESS_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.delenv("PROGRESS_DB_URL", raising=False)
    with Store.from_env() as store:
        assert store.data_dir == (tmp_path / "d").resolve()
        store.add_client("Vera")
    assert (tmp_path / "d" / "progress.db").is_file()
    monkeypatch.setenv("PROGRESS_DB_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    with Store.from_env() as store:
        assert store.clients() == []  # a different database
        store.add_client("Wim")
    assert (tmp_path / "elsewhere.db").is_file()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROGRESS_DATA_DIR")
    monkeypatch.delenv("PROGRESS_DB_URL")
    with Store.from_env() as store:
        assert store.data_dir == (tmp_path / "data").resolve()


# --------------------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------------------

OWNERS = {"Xena": (220, 40, 40), "Yuri": (40, 40, 220)}


@pytest.mark.parametrize("shared", [False, True], ids=["two-stores", "one-store"])
def test_two_browser_sessions_do_not_cross_talk(sqlite_backend, shared):
    first = sqlite_backend.open()
    stores = {name: first if shared else sqlite_backend.open() for name in OWNERS}
    clients = {name: first.add_client(name) for name in OWNERS}
    errors: list[BaseException] = []
    rounds = 12
    barrier = threading.Barrier(len(OWNERS))

    def work(name: str) -> None:
        try:
            store = stores[name]
            area = store.add_area(clients[name].id, f"{name} cheek")
            barrier.wait()
            for i in range(rounds):
                session = store.session_for_date(area.id, date(2024, 1, 1 + i % 3))
                data = jpeg(solid(OWNERS[name], stripe=i + 1))
                rec = store.add_photo(session.id, data, name=f"{name}-{i}.jpg")
                store.save_result(rec.id, {"owner": name, "i": i})
                if i % 4 == 3:
                    store.delete_photo(rec.id)
                store.photos(client_id=clients[name].id)
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in OWNERS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    kept = [i for i in range(rounds) if i % 4 != 3]
    for name, colour in OWNERS.items():
        photos = first.photos(client_id=clients[name].id)
        assert len(photos) == len(kept)
        (area,) = first.areas(clients[name].id)
        results = first.results(area.id)
        assert sorted(r["i"] for r in results.values()) == kept
        assert {r["owner"] for r in results.values()} == {name}
        for p in photos:
            mean = first.photo_rgb(p.id)[:, 16:].reshape(-1, 3).mean(axis=0)
            assert np.abs(mean - colour).max() < 8, (name, p.id, mean)
    assert first.check_integrity().ok
    assert len(files_under(sqlite_backend.data_dir / "photos")) == 2 * len(kept)
