"""Persistent store of clients, areas, treatments, sessions, photos and analysis results.

Rows live in a SQL database through SQLAlchemy 2 (SQLite in the data folder by default,
any SQLAlchemy URL otherwise, e.g. PostgreSQL for a clinic); photo files live beside it in
a content-addressed folder::

    {data_dir}/progress.db            (SQLite only; WAL mode)
    {data_dir}/photos/ab/abcdef….jpg   (sha256 of the stored bytes, two-character fan-out)

Every public method opens its own short transaction, so one :class:`Store` may be shared
by the threads of a Streamlit server, and several processes may open the same folder.
Callers only ever receive frozen dataclasses (:class:`Client`, :class:`Area`,
:class:`Treatment`, :class:`Session`, :class:`PhotoRecord`, :class:`IntegrityReport`),
never ORM objects.

Privacy and durability rules
----------------------------
* A stored photo is a re-encoded copy of the decoded, oriented pixels: no EXIF (no GPS,
  no camera serial), no ICC profile, no comments. Only the capture time is kept, in the
  database. The user's file name is kept as a sanitised ``display_name`` and is never
  used to build a path.
* A file is written atomically (temporary file in the same folder, ``fsync``,
  ``os.replace``, ``fsync`` of the folder) *before* its row is committed, and it is
  unlinked only *after* the row that referenced it is gone. A crash therefore never leaves
  a row without its file; at worst it leaves an unreferenced file or a ``*.tmp`` file,
  which :meth:`Store.check_integrity` reports and ``repair=True`` removes.
* Files are shared by content: two photo rows with the same bytes (e.g. the same upload
  for two clients) use one file, which is removed when the last row using it goes.
  Deleting a client therefore removes every file that only that client used.
* Files and the folders are created private to the user (0600 / 0700). With SQLite,
  ``secure_delete`` is on and :meth:`Store.delete_client` truncates the write-ahead log,
  so a deleted client's text does not linger in the database files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import io
import json
import logging
import math
import operator
import os
import re
import tempfile
import threading
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    case,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.orm import Session as OrmSession

from progress.errors import StoreError

try:  # POSIX advisory locks; on other systems only threads of one process are serialised
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "SCHEMA_VERSION",
    "Area",
    "Client",
    "IntegrityReport",
    "PhotoRecord",
    "Session",
    "Store",
    "StoreArgumentError",
    "Treatment",
    "UnknownIdError",
    "sanitise_display_name",
]

logger = logging.getLogger(__name__)

#: Version of the table layout written by this module (kept in table ``schema_version``).
SCHEMA_VERSION = 1

#: Longest client, area and display name, in characters.
MAX_NAME_CHARS = 200
#: Longest free-text note or label, in characters.
MAX_NOTES_CHARS = 20_000
#: Treatment depth limits in millimetres (microneedling, injections: a few mm at most).
MAX_DEPTH_MM = 10.0
#: JPEG quality of the stored copy (see ``progress.loader.to_jpeg_bytes``).
STORED_JPEG_QUALITY = 95

_HEX64 = re.compile(r"[0-9a-f]{64}")
_EXPORT_FORMAT = "progress-client-export"
_EXPORT_FORMAT_VERSION = 1
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_UNSET: Any = object()
_IN_CHUNK = 500  # ids/hashes per IN (...) clause; far below every backend's limit


class StoreArgumentError(StoreError, ValueError):
    """An argument given to the store is invalid (wrong type, empty name, bad range)."""


class UnknownIdError(StoreError, LookupError):
    """No row has the given id (it was never created, or it was deleted)."""


# --------------------------------------------------------------------------------------
# Public records
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """A person whose skin is followed.

    Attributes
    ----------
    id : int
    name : str
    skin_type : int or None
        Fitzpatrick skin type 1–6, None when not recorded.
    notes : str
    created_at : datetime
        UTC, timezone-aware.
    """

    id: int
    name: str
    skin_type: int | None
    notes: str
    created_at: datetime


@dataclass(frozen=True)
class Area:
    """A treated body area of a client (e.g. "left cheek")."""

    id: int
    client_id: int
    name: str
    reference_photo_id: int | None


@dataclass(frozen=True)
class Treatment:
    """A treatment given to an area on a date (depth in mm when it applies)."""

    id: int
    area_id: int
    on_date: date
    depth_mm: float | None
    notes: str


@dataclass(frozen=True)
class Session:
    """A photo session of an area on a date; ``label`` tells two same-day sessions apart."""

    id: int
    area_id: int
    on_date: date
    label: str


@dataclass(frozen=True)
class PhotoRecord:
    """A stored photo (its metadata; read the pixels with :meth:`Store.photo_rgb`).

    Attributes
    ----------
    id, session_id, area_id, client_id : int
    session_date : date
        Date of the photo's session.
    sha256 : str
        Hex digest of the stored JPEG bytes (also its file name).
    display_name : str
        The uploaded file name, sanitised; for display only.
    taken_at : datetime or None
        Capture time from the upload's EXIF (camera wall-clock time, naive).
    width, height : int
        Size of the stored (oriented) photo in pixels.
    created_at : datetime
        When it was stored, UTC, timezone-aware.
    """

    id: int
    session_id: int
    area_id: int
    client_id: int
    session_date: date
    sha256: str
    display_name: str
    taken_at: datetime | None
    width: int
    height: int
    created_at: datetime

    @property
    def file_name(self) -> str:
        """Name of the stored file: ``<sha256>.jpg``."""
        return f"{self.sha256}.jpg"


@dataclass(frozen=True)
class IntegrityReport:
    """What :meth:`Store.check_integrity` found.

    Attributes
    ----------
    checked : int
        Number of photo rows whose file was read and hashed.
    missing : tuple of int
        Ids of photos whose file is absent.
    corrupt : tuple of int
        Ids of photos whose file's sha256 differs from the recorded one.
    orphans : tuple of str
        Files in the photo folder that no row references (paths relative to it).
    temp_files : tuple of str
        Leftover ``*.tmp`` files of interrupted writes (relative paths).
    removed : tuple of str
        The orphans and temporary files deleted by ``repair=True``.
    """

    checked: int
    missing: tuple[int, ...]
    corrupt: tuple[int, ...]
    orphans: tuple[str, ...]
    temp_files: tuple[str, ...]
    removed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every photo is intact and no stray file remains."""
        stray = set(self.orphans) | set(self.temp_files)
        return not self.missing and not self.corrupt and stray <= set(self.removed)


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------

_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class _Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class _ClientRow(_Base):
    __tablename__ = "clients"
    __table_args__ = (
        CheckConstraint("skin_type IS NULL OR (skin_type >= 1 AND skin_type <= 6)", name="skin"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    skin_type: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class _AreaRow(_Base):
    __tablename__ = "areas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    # areas -> photos -> sessions -> areas is a cycle: this key is added after both tables.
    reference_photo_id: Mapped[int | None] = mapped_column(
        ForeignKey("photos.id", ondelete="SET NULL", use_alter=True)
    )
    # JSON object: the area's analysis settings (region-of-interest box, grey-card box).
    settings: Mapped[str] = mapped_column(Text, default="{}")


class _TreatmentRow(_Base):
    __tablename__ = "treatments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    on_date: Mapped[date] = mapped_column(Date)
    depth_mm: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str] = mapped_column(Text, default="")


class _SessionRow(_Base):
    __tablename__ = "sessions"
    __table_args__ = (UniqueConstraint("area_id", "on_date", "label"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    on_date: Mapped[date] = mapped_column(Date)
    label: Mapped[str] = mapped_column(String(MAX_NAME_CHARS), default="")


class _PhotoRow(_Base):
    __tablename__ = "photos"
    __table_args__ = (UniqueConstraint("session_id", "sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    display_name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    taken_at: Mapped[datetime | None] = mapped_column(DateTime)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class _ResultRow(_Base):
    __tablename__ = "results"
    photo_id: Mapped[int] = mapped_column(
        ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True
    )
    reference_photo_id: Mapped[int | None] = mapped_column(
        ForeignKey("photos.id", ondelete="SET NULL"), index=True
    )
    payload: Mapped[str] = mapped_column(Text)


class _SchemaVersionRow(_Base):
    __tablename__ = "schema_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _now() -> datetime:
    """Current UTC time as a naive datetime (what every backend stores the same way)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _library_version() -> str:
    try:
        from importlib.metadata import version

        return version("progress")
    except Exception:  # noqa: BLE001 - not installed: fall back to the source's version
        from progress import __version__

        return __version__


#: JPEG markers kept when the metadata are stripped: frame, tables, restart interval and
#: JFIF (APP0). Everything else before the scan (APP1–APP15: Exif, XMP, ICC, MPF, IPTC,
#: maker data; COM) is dropped, and so is anything after the end of the image.
_JPEG_KEEP = {0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCC}
_JPEG_KEEP |= {0xCD, 0xCE, 0xCF, 0xDB, 0xDD, 0xE0}


def _jpeg_without_metadata(data: bytes, rgb: np.ndarray) -> bytes | None:
    """The JPEG ``data`` with its metadata cut out, if it still decodes to ``rgb`` exactly.

    Returns None (the caller re-encodes) for anything else: not a JPEG, an unexpected
    marker layout, or pixels that differ (an EXIF orientation or an ICC profile that the
    loader applied). The entropy-coded data are copied unchanged up to the first end of
    image marker (inside them a 0xFF byte is always followed by 0x00 or a restart marker).
    """
    import cv2

    if not data.startswith(b"\xff\xd8"):
        return None
    out = bytearray(b"\xff\xd8")
    i, n = 2, len(data)
    while True:
        if i + 4 > n or data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > n:
            return None
        if marker == 0xDA:  # start of scan: the rest up to the end of image, as it is
            end = data.find(b"\xff\xd9", i + 2 + length)
            if end < 0:
                return None
            out += data[i : end + 2]
            break
        if marker in _JPEG_KEEP:
            out += data[i : i + 2 + length]
        elif not (0xE1 <= marker <= 0xEF or marker == 0xFE):
            return None  # a marker we do not know: let the encoder make a clean file
        i += 2 + length
    stripped = bytes(out)
    decoded = cv2.imdecode(np.frombuffer(stripped, np.uint8), cv2.IMREAD_COLOR_RGB)
    if decoded is None or decoded.shape != rgb.shape or not np.array_equal(decoded, rgb):
        return None
    return stripped


def _check_id(value: Any, kind: str) -> int:
    if isinstance(value, bool):
        raise StoreArgumentError(f"{kind} id must be an integer, got a bool ({value!r}).")
    try:
        return operator.index(value)
    except TypeError:
        raise StoreArgumentError(
            f"{kind} id must be an integer, got {type(value).__name__} ({value!r})."
        ) from None


def _check_text(value: Any, what: str, *, max_chars: int = MAX_NOTES_CHARS) -> str:
    if not isinstance(value, str):
        raise StoreArgumentError(f"{what} must be a str, got {type(value).__name__}.")
    if "\x00" in value:
        raise StoreArgumentError(f"{what} contains a NUL character; remove it.")
    if len(value) > max_chars:
        raise StoreArgumentError(
            f"{what} is {len(value)} characters long; the limit is {max_chars}."
        )
    return value


def _check_name(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise StoreArgumentError(f"{what} must be a str, got {type(value).__name__}.")
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise StoreArgumentError(f"{what} is empty; give a non-blank name.")
    if len(name) > MAX_NAME_CHARS:
        raise StoreArgumentError(
            f"{what} is {len(name)} characters long; the limit is {MAX_NAME_CHARS}."
        )
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise StoreArgumentError(
            f"{what} contains a control character (newline, tab, ...); use plain text."
        )
    return name


def _check_label(value: Any) -> str:
    label = _check_text(value, "Session label", max_chars=MAX_NAME_CHARS).strip()
    if any(unicodedata.category(ch) == "Cc" for ch in label):
        raise StoreArgumentError("Session label contains a control character; use plain text.")
    return label


def _check_skin_type(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise StoreArgumentError(
            f"skin_type must be an integer 1-6 (Fitzpatrick) or None, got {value!r}."
        )
    if not 1 <= int(value) <= 6:
        raise StoreArgumentError(
            f"skin_type must be a Fitzpatrick type 1-6 or None, got {int(value)}."
        )
    return int(value)


def _check_date(value: Any, what: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise StoreArgumentError(
            f"{what} must be a datetime.date (not a datetime or a string), got {value!r}; "
            "use date.fromisoformat('2024-05-31') or dt.date()."
        )
    return value


def _check_depth(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise StoreArgumentError(
            f"depth_mm must be a number of millimetres or None, got {value!r}."
        )
    depth = float(value)
    if not math.isfinite(depth) or not 0.0 <= depth <= MAX_DEPTH_MM:
        raise StoreArgumentError(
            f"depth_mm must be between 0 and {MAX_DEPTH_MM} mm, got {depth}; "
            "give millimetres (1.5), not micrometres."
        )
    return depth


def sanitise_display_name(name: Any) -> str:
    """The uploaded file name made safe for display (never used as a path).

    Keeps the last path component, normalises to NFC, drops control and formatting
    characters (including bidirectional overrides), trims blanks and cuts it to
    ``MAX_NAME_CHARS``. An empty result becomes ``"photo"``.

    Raises
    ------
    StoreArgumentError
        If ``name`` is not a str.
    """
    if not isinstance(name, str):
        raise StoreArgumentError(f"name must be a str, got {type(name).__name__}.")
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = base.strip()[:MAX_NAME_CHARS].strip()
    return base or "photo"


def _to_jsonable(value: Any, where: str) -> Any:
    """Convert a result payload to plain JSON types (non-finite floats become None)."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.ndarray):
        return _to_jsonable(value.tolist(), where)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _to_jsonable(value.value, where)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return _to_jsonable(value.to_dict(), where)
        return _to_jsonable(dataclasses.asdict(value), where)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise StoreArgumentError(
                    f"Result payload key {key!r} at {where} is not a str; JSON keys must be "
                    "strings."
                )
            out[key] = _to_jsonable(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_to_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise StoreArgumentError(
        f"Result payload value at {where} has type {type(value).__name__}, which cannot be "
        "stored as JSON; convert it to numbers, strings, lists or dicts."
    )


def _fsync_dir(path: Path) -> None:
    """Make a folder's entries (a new, renamed or removed file) durable."""
    if os.name != "posix":  # pragma: no cover - folders cannot be opened on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _chunks(items: Iterable[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == _IN_CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


class _FolderLock:
    """Serialise file changes with the matching row changes, across threads and processes.

    Writers (add/delete photo, repair) hold it exclusively from the file change to the
    row commit; readers that need files and rows to agree (integrity check, export) hold
    it shared. Each acquisition opens its own descriptor, so ``flock`` also separates the
    threads of one process. The kernel releases it when a process dies.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fallback = threading.Lock()

    @contextlib.contextmanager
    def hold(self, *, shared: bool = False) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover - Windows: one process only
            with self._fallback:
                yield
            return
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock


# --------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------


class Store:
    """Clients, areas, treatments, sessions, photos and results, on disk.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy database URL (e.g. ``postgresql+psycopg://user@host/progress``).
        None: SQLite at ``{data_dir}/progress.db``.
    data_dir : str or Path
        Folder for the photo files (and the default SQLite database). Created if absent,
        private to the user.
    cleanup_temps : bool, default True
        Remove leftover ``*.tmp`` files of interrupted writes when opening.

    Raises
    ------
    StoreError
        If the database was written by a newer version of this library.
    StoreArgumentError
        For an in-memory SQLite URL (its rows would vanish while the files stay).

    Notes
    -----
    SQLite connections get ``foreign_keys=ON``, WAL journal, ``synchronous=FULL``,
    ``secure_delete=ON``, a 30 s busy timeout, and write transactions start with
    ``BEGIN IMMEDIATE`` so that concurrent writers wait for each other instead of failing.
    Only portable column types are used, so the same tables work on PostgreSQL.

    Examples
    --------
    >>> store = Store(data_dir="data")                                   # doctest: +SKIP
    >>> alice = store.add_client("Alice", skin_type=3)                   # doctest: +SKIP
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        data_dir: str | os.PathLike[str],
        cleanup_temps: bool = True,
    ) -> None:
        self._closed = True
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.photo_dir = self.data_dir / "photos"
        for folder in (self.data_dir, self.photo_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = _FolderLock(self.photo_dir / ".lock")

        db_url = (
            URL.create("sqlite", database=str(self.data_dir / "progress.db"))
            if url is None
            else make_url(url)
        )
        self._is_sqlite = db_url.get_backend_name() == "sqlite"
        if self._is_sqlite:
            database = db_url.database or ""
            if database in ("", ":memory:") or database.startswith("file::memory:"):
                raise StoreArgumentError(
                    "An in-memory SQLite database cannot hold photos that outlive the process; "
                    "give a file URL (sqlite:///path/progress.db) or url=None."
                )
            db_path = Path(database)
            if not db_path.exists():  # private from the first byte; -wal/-shm inherit it
                db_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.close(os.open(db_path, os.O_WRONLY | os.O_CREAT, 0o600))
            engine = create_engine(
                db_url, connect_args={"check_same_thread": False, "timeout": 30.0}
            )
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
        else:
            engine = create_engine(db_url, pool_pre_ping=True)
        self._url_text = db_url.render_as_string(hide_password=True)
        self._engine: Engine = engine
        write_engine = engine.execution_options(progress_write=True)
        self._read_maker = sessionmaker(engine, expire_on_commit=False)
        self._write_maker = sessionmaker(write_engine, expire_on_commit=False)
        try:
            self._init_schema(write_engine)
        except BaseException:
            engine.dispose()
            raise
        self._closed = False
        if cleanup_temps:
            self._remove_temp_files()

    # ----------------------------------------------------------------- lifecycle

    @classmethod
    def from_env(cls) -> Store:
        """Open the store named by the environment.

        ``PROGRESS_DATA_DIR`` (default ``./data``) is the data folder and
        ``PROGRESS_DB_URL`` (default: SQLite in that folder) the database URL.
        """
        data_dir = os.environ.get("PROGRESS_DATA_DIR") or "./data"
        url = os.environ.get("PROGRESS_DB_URL") or None
        return cls(url, data_dir=data_dir)

    def close(self) -> None:
        """Release the database connections. Calls after this raise :class:`StoreError`."""
        if not self._closed:
            self._closed = True
            self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"Store({self._url_text!r}, data_dir={str(self.data_dir)!r}, {state})"

    def _init_schema(self, write_engine: Engine) -> None:
        # One write transaction, so two processes opening a fresh folder do not race.
        with write_engine.begin() as conn:
            _create_tables(conn)
        with self._write_maker.begin() as s:
            row = s.get(_SchemaVersionRow, 1)
            if row is None:
                s.add(_SchemaVersionRow(id=1, version=SCHEMA_VERSION))
            elif row.version > SCHEMA_VERSION:
                raise StoreError(
                    f"The database at {self._url_text} has schema version {row.version}, newer "
                    f"than this library's {SCHEMA_VERSION}; upgrade the progress package."
                )
            elif row.version < SCHEMA_VERSION:  # pragma: no cover - no older layout exists yet
                raise StoreError(
                    f"The database has schema version {row.version}; this library expects "
                    f"{SCHEMA_VERSION} and has no migration for it."
                )

    @property
    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self._read() as s:
            return s.get(_SchemaVersionRow, 1).version  # type: ignore[union-attr]

    @contextlib.contextmanager
    def _read(self) -> Iterator[OrmSession]:
        if self._closed:
            raise StoreError("This Store is closed; open a new Store to continue.")
        with self._read_maker.begin() as s:
            yield s

    @contextlib.contextmanager
    def _write(self) -> Iterator[OrmSession]:
        if self._closed:
            raise StoreError("This Store is closed; open a new Store to continue.")
        with self._write_maker.begin() as s:
            yield s

    # ----------------------------------------------------------------- row helpers

    @staticmethod
    def _get(s: OrmSession, row_type: type, row_id: Any, kind: str) -> Any:
        row_id = _check_id(row_id, kind.capitalize())
        row = s.get(row_type, row_id)
        if row is None:
            raise UnknownIdError(
                f"No {kind} with id {row_id} (it was never stored or was deleted)."
            )
        return row

    @staticmethod
    def _client(row: _ClientRow) -> Client:
        return Client(row.id, row.name, row.skin_type, row.notes, _as_utc(row.created_at))

    @staticmethod
    def _area(row: _AreaRow) -> Area:
        return Area(row.id, row.client_id, row.name, row.reference_photo_id)

    @staticmethod
    def _treatment(row: _TreatmentRow) -> Treatment:
        return Treatment(row.id, row.area_id, row.on_date, row.depth_mm, row.notes)

    @staticmethod
    def _session(row: _SessionRow) -> Session:
        return Session(row.id, row.area_id, row.on_date, row.label)

    @staticmethod
    def _photo_query():  # noqa: ANN205 - a SQLAlchemy Select
        return (
            select(_PhotoRow, _SessionRow.on_date, _SessionRow.area_id, _AreaRow.client_id)
            .join(_SessionRow, _PhotoRow.session_id == _SessionRow.id)
            .join(_AreaRow, _SessionRow.area_id == _AreaRow.id)
        )

    @staticmethod
    def _photo(row: Any) -> PhotoRecord:
        p, on_date, area_id, client_id = row
        return PhotoRecord(
            id=p.id,
            session_id=p.session_id,
            area_id=area_id,
            client_id=client_id,
            session_date=on_date,
            sha256=p.sha256,
            display_name=p.display_name,
            taken_at=p.taken_at,
            width=p.width,
            height=p.height,
            created_at=_as_utc(p.created_at),
        )

    def _photo_by_id(self, s: OrmSession, photo_id: Any) -> PhotoRecord:
        photo_id = _check_id(photo_id, "Photo")
        row = s.execute(self._photo_query().where(_PhotoRow.id == photo_id)).first()
        if row is None:
            raise UnknownIdError(
                f"No photo with id {photo_id} (it was never stored or was deleted)."
            )
        return self._photo(row)

    # ----------------------------------------------------------------- clients

    def add_client(self, name: str, *, skin_type: int | None = None, notes: str = "") -> Client:
        """Create a client.

        Parameters
        ----------
        name : str
            Non-blank, at most 200 characters, no control characters.
        skin_type : int, optional
            Fitzpatrick type 1–6.
        notes : str, optional

        Raises
        ------
        StoreArgumentError
            For a blank or too long name, a skin type outside 1–6, or bad notes.
        """
        name = _check_name(name, "Client name")
        skin_type = _check_skin_type(skin_type)
        notes = _check_text(notes, "Client notes")
        with self._write() as s:
            row = _ClientRow(name=name, skin_type=skin_type, notes=notes, created_at=_now())
            s.add(row)
            s.flush()
            return self._client(row)

    def clients(self) -> list[Client]:
        """All clients, by name (case-insensitive), then id."""
        with self._read() as s:
            rows = s.scalars(
                select(_ClientRow).order_by(func.lower(_ClientRow.name), _ClientRow.id)
            )
            return [self._client(r) for r in rows]

    def client(self, client_id: int) -> Client:
        """One client. Raises :class:`UnknownIdError` (a :class:`StoreError`) if unknown."""
        with self._read() as s:
            return self._client(self._get(s, _ClientRow, client_id, "client"))

    def update_client(
        self,
        client_id: int,
        *,
        name: str | None = None,
        skin_type: int | None = _UNSET,
        notes: str | None = None,
    ) -> Client:
        """Change a client's name, skin type (None clears it) or notes; omitted ones stay."""
        new_name = None if name is None else _check_name(name, "Client name")
        new_skin = _UNSET if skin_type is _UNSET else _check_skin_type(skin_type)
        new_notes = None if notes is None else _check_text(notes, "Client notes")
        with self._write() as s:
            row = self._get(s, _ClientRow, client_id, "client")
            if new_name is not None:
                row.name = new_name
            if new_skin is not _UNSET:
                row.skin_type = new_skin
            if new_notes is not None:
                row.notes = new_notes
            s.flush()
            return self._client(row)

    def rename_client(self, client_id: int, name: str) -> Client:
        """Change a client's name."""
        return self.update_client(client_id, name=name)

    def delete_client(self, client_id: int) -> None:
        """Delete a client with all their areas, treatments, sessions, photos, results and
        photo files (a file stays only while another client's photo has the same bytes)."""
        client_id = _check_id(client_id, "Client")

        def collect(s: OrmSession) -> list[str]:
            self._get(s, _ClientRow, client_id, "client")
            return list(
                s.scalars(
                    select(_PhotoRow.sha256)
                    .join(_SessionRow, _PhotoRow.session_id == _SessionRow.id)
                    .join(_AreaRow, _SessionRow.area_id == _AreaRow.id)
                    .where(_AreaRow.client_id == client_id)
                )
            )

        def remove(s: OrmSession) -> None:
            s.execute(delete(_ClientRow).where(_ClientRow.id == client_id))

        self._delete_with_files(collect, remove)
        self._compact_log()

    # ----------------------------------------------------------------- areas

    def add_area(self, client_id: int, name: str) -> Area:
        """Create a body area ("left cheek") for a client."""
        name = _check_name(name, "Area name")
        with self._write() as s:
            client = self._get(s, _ClientRow, client_id, "client")
            row = _AreaRow(client_id=client.id, name=name)
            s.add(row)
            s.flush()
            return self._area(row)

    def areas(self, client_id: int) -> list[Area]:
        """A client's areas, in creation order."""
        with self._read() as s:
            client = self._get(s, _ClientRow, client_id, "client")
            rows = s.scalars(
                select(_AreaRow).where(_AreaRow.client_id == client.id).order_by(_AreaRow.id)
            )
            return [self._area(r) for r in rows]

    def area(self, area_id: int) -> Area:
        """One area. Raises :class:`UnknownIdError` if unknown."""
        with self._read() as s:
            return self._area(self._get(s, _AreaRow, area_id, "area"))

    def rename_area(self, area_id: int, name: str) -> Area:
        """Change an area's name."""
        name = _check_name(name, "Area name")
        with self._write() as s:
            row = self._get(s, _AreaRow, area_id, "area")
            row.name = name
            s.flush()
            return self._area(row)

    def delete_area(self, area_id: int) -> None:
        """Delete an area with its treatments, sessions, photos, results and files."""
        area_id = _check_id(area_id, "Area")

        def collect(s: OrmSession) -> list[str]:
            self._get(s, _AreaRow, area_id, "area")
            return list(
                s.scalars(
                    select(_PhotoRow.sha256)
                    .join(_SessionRow, _PhotoRow.session_id == _SessionRow.id)
                    .where(_SessionRow.area_id == area_id)
                )
            )

        def remove(s: OrmSession) -> None:
            s.execute(delete(_AreaRow).where(_AreaRow.id == area_id))

        self._delete_with_files(collect, remove)

    def area_settings(self, area_id: int) -> dict[str, Any]:
        """The area's analysis settings (a JSON object; empty by default)."""
        with self._read() as s:
            row = self._get(s, _AreaRow, area_id, "area")
            return dict(json.loads(row.settings or "{}"))

    def set_area_settings(self, area_id: int, settings: Mapping[str, Any]) -> None:
        """Replace the area's analysis settings (must be JSON-serialisable)."""
        try:
            text = json.dumps(dict(settings), sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StoreArgumentError(f"Area settings must be plain JSON values: {exc}") from None
        with self._write() as s:
            row = self._get(s, _AreaRow, area_id, "area")
            row.settings = text

    def set_reference(self, area_id: int, photo_id: int | None) -> Area:
        """Make a photo of this area the area's reference (None clears it).

        Raises
        ------
        StoreArgumentError
            If the photo belongs to another area.
        """
        with self._write() as s:
            row = self._get(s, _AreaRow, area_id, "area")
            if photo_id is None:
                row.reference_photo_id = None
            else:
                photo = self._photo_by_id(s, photo_id)
                if photo.area_id != row.id:
                    raise StoreArgumentError(
                        f"Photo {photo.id} belongs to area {photo.area_id}, not to area "
                        f"{row.id}; choose a photo of the same area as its reference."
                    )
                row.reference_photo_id = photo.id
            s.flush()
            return self._area(row)

    # ----------------------------------------------------------------- treatments

    def add_treatment(
        self, area_id: int, on_date: date, *, depth_mm: float | None = None, notes: str = ""
    ) -> Treatment:
        """Record a treatment of an area on a date (needle depth in mm when it applies)."""
        on_date = _check_date(on_date, "on_date")
        depth = _check_depth(depth_mm)
        notes = _check_text(notes, "Treatment notes")
        with self._write() as s:
            area = self._get(s, _AreaRow, area_id, "area")
            row = _TreatmentRow(area_id=area.id, on_date=on_date, depth_mm=depth, notes=notes)
            s.add(row)
            s.flush()
            return self._treatment(row)

    def treatments(self, area_id: int) -> list[Treatment]:
        """An area's treatments by date, then id."""
        with self._read() as s:
            area = self._get(s, _AreaRow, area_id, "area")
            rows = s.scalars(
                select(_TreatmentRow)
                .where(_TreatmentRow.area_id == area.id)
                .order_by(_TreatmentRow.on_date, _TreatmentRow.id)
            )
            return [self._treatment(r) for r in rows]

    def treatment(self, treatment_id: int) -> Treatment:
        """One treatment. Raises :class:`UnknownIdError` if unknown."""
        with self._read() as s:
            return self._treatment(self._get(s, _TreatmentRow, treatment_id, "treatment"))

    def delete_treatment(self, treatment_id: int) -> None:
        """Delete one treatment."""
        with self._write() as s:
            s.delete(self._get(s, _TreatmentRow, treatment_id, "treatment"))

    # ----------------------------------------------------------------- sessions

    def add_session(self, area_id: int, on_date: date, *, label: str = "") -> Session:
        """Create a photo session of an area on a date.

        Raises
        ------
        StoreArgumentError
            If the area already has a session with that date and label.
        """
        on_date = _check_date(on_date, "on_date")
        label = _check_label(label)
        try:
            with self._write() as s:
                area = self._get(s, _AreaRow, area_id, "area")
                row = _SessionRow(area_id=area.id, on_date=on_date, label=label)
                s.add(row)
                s.flush()
                return self._session(row)
        except IntegrityError:
            raise StoreArgumentError(
                f"Area {area_id} already has a session on {on_date.isoformat()} labelled "
                f"{label!r}; use session_for_date() or give another label."
            ) from None

    def sessions(self, area_id: int) -> list[Session]:
        """An area's sessions by date, then id."""
        with self._read() as s:
            area = self._get(s, _AreaRow, area_id, "area")
            rows = s.scalars(
                select(_SessionRow)
                .where(_SessionRow.area_id == area.id)
                .order_by(_SessionRow.on_date, _SessionRow.id)
            )
            return [self._session(r) for r in rows]

    def session(self, session_id: int) -> Session:
        """One session. Raises :class:`UnknownIdError` if unknown."""
        with self._read() as s:
            return self._session(self._get(s, _SessionRow, session_id, "session"))

    def session_for_date(self, area_id: int, on_date: date) -> Session:
        """The area's first session on that date, created (unlabelled) if there is none."""
        on_date = _check_date(on_date, "on_date")
        for _attempt in range(3):
            with self._read() as s:
                area = self._get(s, _AreaRow, area_id, "area")
                found = s.scalars(
                    select(_SessionRow)
                    .where(_SessionRow.area_id == area.id, _SessionRow.on_date == on_date)
                    .order_by(_SessionRow.id)
                    .limit(1)
                ).first()
                if found is not None:
                    return self._session(found)
            try:
                return self.add_session(area_id, on_date)
            except StoreArgumentError:  # another thread created it meanwhile: read it
                continue
        raise StoreError(  # pragma: no cover - needs a session deleted and recreated twice
            f"Could not get or create the session of area {area_id} on {on_date}; retry."
        )

    def delete_session(self, session_id: int) -> None:
        """Delete a session with its photos, their results and files."""
        session_id = _check_id(session_id, "Session")

        def collect(s: OrmSession) -> list[str]:
            self._get(s, _SessionRow, session_id, "session")
            return list(
                s.scalars(select(_PhotoRow.sha256).where(_PhotoRow.session_id == session_id))
            )

        def remove(s: OrmSession) -> None:
            s.execute(delete(_SessionRow).where(_SessionRow.id == session_id))

        self._delete_with_files(collect, remove)

    # ----------------------------------------------------------------- photos

    def add_photo(
        self,
        session_id: int,
        data: bytes,
        *,
        name: str,
        max_pixels: int | None = None,
        photo: Any = None,
    ) -> PhotoRecord:
        """Store an uploaded photo in a session.

        Parameters
        ----------
        session_id : int
        data : bytes
            The uploaded file (any format :func:`progress.loader.load_image` reads).
        name : str
            The uploaded file name; kept sanitised for display, never used as a path.
        max_pixels : int, optional
            Passed to ``load_image`` (its default when None).
        photo : Photo, optional
            ``load_image(data)`` already done by the caller (to read the date): saves
            decoding the upload a second time.

        Returns
        -------
        PhotoRecord
            The new record, or the existing one when the same photo is already in this
            session.

        Raises
        ------
        ImageError
            If the upload is not a readable photo; nothing is written.
        UnknownIdError
            If the session does not exist.

        Notes
        -----
        The file stored is the upload's own JPEG data without its metadata segments when
        that decodes to exactly the loaded pixels (no orientation turn or colour conversion
        needed: no quality lost, no encoding time), else ``to_jpeg_bytes(oriented sRGB
        pixels, quality=95)``. Either way no EXIF, GPS, camera serial, comment, thumbnail or
        trailing data survives. Its sha256 names the file. The file is written
        atomically and made durable before the row is committed; if the row cannot be
        committed, a file that no row uses is removed again.
        """
        from progress.loader import load_image, to_jpeg_bytes

        session_id = _check_id(session_id, "Session")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise StoreArgumentError(
                f"data must be the uploaded file's bytes, got {type(data).__name__}; "
                "pass uploaded_file.getvalue() or path.read_bytes()."
            )
        display_name = sanitise_display_name(name)
        with self._read() as s:
            self._get(s, _SessionRow, session_id, "session")
        options = {} if max_pixels is None else {"max_pixels": max_pixels}
        if photo is None:
            photo = load_image(bytes(data), name=display_name, **options)
        rgb = photo.rgb
        stored = _jpeg_without_metadata(bytes(data), rgb)
        if stored is None:
            stored = to_jpeg_bytes(rgb, quality=STORED_JPEG_QUALITY)
        digest = hashlib.sha256(stored).hexdigest()
        height, width = int(rgb.shape[0]), int(rgb.shape[1])
        taken_at = photo.taken_at
        if taken_at is not None and taken_at.tzinfo is not None:
            taken_at = taken_at.replace(tzinfo=None)  # keep the camera's wall-clock time

        with self._lock.hold():
            existing = self._find_photo(session_id, digest)
            if existing is not None:
                return existing
            self._write_file(digest, stored)
            try:
                return self._insert_photo_row(
                    session_id, digest, display_name, taken_at, width, height
                )
            except BaseException as exc:
                # Remove the file unless a row uses it; if even that fails (database gone)
                # it stays as an orphan for check_integrity, and the first error is raised.
                with contextlib.suppress(Exception):
                    self._unlink_unreferenced([digest])
                if isinstance(exc, IntegrityError):
                    # Unique (session, sha256) lost a race, or the session was just deleted.
                    existing = self._find_photo(session_id, digest)
                    if existing is not None:
                        return existing
                    raise UnknownIdError(
                        f"No session with id {session_id} (it was deleted while the photo "
                        f"{display_name!r} was being stored)."
                    ) from None
                raise

    def _find_photo(self, session_id: int, digest: str) -> PhotoRecord | None:
        with self._read() as s:
            row = s.execute(
                self._photo_query().where(
                    _PhotoRow.session_id == session_id, _PhotoRow.sha256 == digest
                )
            ).first()
            return None if row is None else self._photo(row)

    def _insert_photo_row(
        self,
        session_id: int,
        digest: str,
        display_name: str,
        taken_at: datetime | None,
        width: int,
        height: int,
    ) -> PhotoRecord:
        with self._write() as s:
            row = _PhotoRow(
                session_id=session_id,
                sha256=digest,
                display_name=display_name,
                taken_at=taken_at,
                width=width,
                height=height,
                created_at=_now(),
            )
            s.add(row)
            s.flush()
            return self._photo_by_id(s, row.id)

    def photos(
        self,
        *,
        area_id: int | None = None,
        session_id: int | None = None,
        client_id: int | None = None,
    ) -> list[PhotoRecord]:
        """Photos matching every filter given (all photos when none is), ordered by session
        date, capture time (unknown last) and id.

        Raises
        ------
        UnknownIdError
            If a filter names an unknown client, area or session.
        """
        with self._read() as s:
            query = self._photo_query()
            if client_id is not None:
                client_id = self._get(s, _ClientRow, client_id, "client").id
                query = query.where(_AreaRow.client_id == client_id)
            if area_id is not None:
                area_id = self._get(s, _AreaRow, area_id, "area").id
                query = query.where(_SessionRow.area_id == area_id)
            if session_id is not None:
                session_id = self._get(s, _SessionRow, session_id, "session").id
                query = query.where(_PhotoRow.session_id == session_id)
            query = query.order_by(
                _SessionRow.on_date,
                case((_PhotoRow.taken_at.is_(None), 1), else_=0),
                _PhotoRow.taken_at,
                _PhotoRow.id,
            )
            return [self._photo(r) for r in s.execute(query)]

    def photo(self, photo_id: int) -> PhotoRecord:
        """One photo's record. Raises :class:`UnknownIdError` if unknown."""
        with self._read() as s:
            return self._photo_by_id(s, photo_id)

    def photo_bytes(self, photo_id: int) -> bytes:
        """The stored JPEG of a photo, checked against its sha256.

        Raises
        ------
        StoreError
            If the file is missing or its content does not match (names the photo).
        """
        record = self.photo(photo_id)
        return self._read_verified(record)

    def photo_rgb(self, photo_id: int) -> np.ndarray:
        """The stored photo decoded to an H×W×3 uint8 sRGB array."""
        from progress.loader import load_image

        record = self.photo(photo_id)
        data = self._read_verified(record)
        return load_image(
            data, name=record.display_name, max_pixels=max(record.width * record.height, 1)
        ).rgb

    def delete_photo(self, photo_id: int) -> None:
        """Delete a photo, its result, and its file unless another photo has the same bytes.
        An area using it as reference gets no reference."""
        photo_id = _check_id(photo_id, "Photo")

        def collect(s: OrmSession) -> list[str]:
            return [self._get(s, _PhotoRow, photo_id, "photo").sha256]

        def remove(s: OrmSession) -> None:
            s.execute(delete(_PhotoRow).where(_PhotoRow.id == photo_id))

        self._delete_with_files(collect, remove)

    # ----------------------------------------------------------------- results

    def save_result(
        self, photo_id: int, payload: Mapping[str, Any], *, reference_photo_id: int | None = None
    ) -> None:
        """Store (or replace) the analysis result of a photo.

        Parameters
        ----------
        photo_id : int
        payload : mapping
            JSON-like data: alignment matrix, confidence, residual, method, reason, metrics,
            quality, ROI description... numpy arrays and scalars, dates and dataclasses are
            converted; NaN and infinities become None (JSON has no such numbers).
            ``computed_at`` (UTC ISO time) and ``library_version`` are added when absent.
        reference_photo_id : int, optional
            The reference it was computed against; taken from
            ``payload["reference_photo_id"]`` when not given. Must be in the same area.

        Raises
        ------
        StoreArgumentError
            If the payload cannot be stored as JSON or the reference is in another area.
        """
        if not isinstance(payload, Mapping):
            raise StoreArgumentError(
                f"payload must be a dict, got {type(payload).__name__}; use Analysis.to_dict()."
            )
        body = _to_jsonable(payload, "payload")
        body.setdefault("computed_at", datetime.now(UTC).isoformat())
        body.setdefault("library_version", _library_version())
        if reference_photo_id is None and body.get("reference_photo_id") is not None:
            reference_photo_id = body["reference_photo_id"]
        text = json.dumps(body, sort_keys=True, allow_nan=False, ensure_ascii=False)
        with self._write() as s:
            photo = self._photo_by_id(s, photo_id)
            ref_id = None
            if reference_photo_id is not None:
                reference = self._photo_by_id(s, reference_photo_id)
                if reference.area_id != photo.area_id:
                    raise StoreArgumentError(
                        f"Reference photo {reference.id} is in area {reference.area_id}, "
                        f"photo {photo.id} in area {photo.area_id}; a result compares photos "
                        "of one area."
                    )
                ref_id = reference.id
            row = s.get(_ResultRow, photo.id)
            if row is None:
                s.add(_ResultRow(photo_id=photo.id, reference_photo_id=ref_id, payload=text))
            else:
                row.reference_photo_id = ref_id
                row.payload = text

    def result(self, photo_id: int) -> dict[str, Any] | None:
        """The stored result of a photo, None if it has none yet."""
        with self._read() as s:
            photo = self._photo_by_id(s, photo_id)
            row = s.get(_ResultRow, photo.id)
            return None if row is None else json.loads(row.payload)

    def results(self, area_id: int) -> dict[int, dict[str, Any]]:
        """The results of an area's photos, by photo id."""
        with self._read() as s:
            area = self._get(s, _AreaRow, area_id, "area")
            rows = s.execute(
                select(_ResultRow.photo_id, _ResultRow.payload)
                .join(_PhotoRow, _ResultRow.photo_id == _PhotoRow.id)
                .join(_SessionRow, _PhotoRow.session_id == _SessionRow.id)
                .where(_SessionRow.area_id == area.id)
                .order_by(_ResultRow.photo_id)
            )
            return {pid: json.loads(text) for pid, text in rows}

    # ----------------------------------------------------------------- export

    def export_client(self, client_id: int) -> bytes:
        """Everything stored about one client, as a ZIP archive.

        Returns
        -------
        bytes
            A ZIP with ``client.json`` (client, areas, treatments, sessions, photo metadata,
            results by photo id) and ``photos/<session-date>_<photo-id>.jpg``. Nothing of
            any other client is included. The archive is deterministic: the same data gives
            the same bytes.

        Raises
        ------
        StoreError
            If the client is unknown or one of their photo files is missing or corrupt.
        """
        client_id = _check_id(client_id, "Client")
        with self._lock.hold(shared=True), self._read() as s:
            client = self._client(self._get(s, _ClientRow, client_id, "client"))
            areas = [
                self._area(r)
                for r in s.scalars(
                    select(_AreaRow).where(_AreaRow.client_id == client_id).order_by(_AreaRow.id)
                )
            ]
            treatments = [
                self._treatment(r)
                for r in s.scalars(
                    select(_TreatmentRow)
                    .join(_AreaRow, _TreatmentRow.area_id == _AreaRow.id)
                    .where(_AreaRow.client_id == client_id)
                    .order_by(_TreatmentRow.id)
                )
            ]
            sessions = [
                self._session(r)
                for r in s.scalars(
                    select(_SessionRow)
                    .join(_AreaRow, _SessionRow.area_id == _AreaRow.id)
                    .where(_AreaRow.client_id == client_id)
                    .order_by(_SessionRow.id)
                )
            ]
            photos = [
                self._photo(r)
                for r in s.execute(
                    self._photo_query()
                    .where(_AreaRow.client_id == client_id)
                    .order_by(_PhotoRow.id)
                )
            ]
            results = {
                str(pid): json.loads(text)
                for pid, text in s.execute(
                    select(_ResultRow.photo_id, _ResultRow.payload)
                    .join(_PhotoRow, _ResultRow.photo_id == _PhotoRow.id)
                    .join(_SessionRow, _PhotoRow.session_id == _SessionRow.id)
                    .join(_AreaRow, _SessionRow.area_id == _AreaRow.id)
                    .where(_AreaRow.client_id == client_id)
                    .order_by(_ResultRow.photo_id)
                )
            }
            files = {p.id: self._read_verified(p) for p in photos}

        def photo_entry(p: PhotoRecord) -> dict[str, Any]:
            entry = _plain(p)
            entry["file"] = f"photos/{p.session_date.isoformat()}_{p.id}.jpg"
            return entry

        document = {
            "format": _EXPORT_FORMAT,
            "format_version": _EXPORT_FORMAT_VERSION,
            "schema_version": SCHEMA_VERSION,
            "client": _plain(client),
            "areas": [_plain(a) for a in areas],
            "treatments": [_plain(t) for t in treatments],
            "sessions": [_plain(x) for x in sessions],
            "photos": [photo_entry(p) for p in photos],
            "results": results,
        }
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
            _zip_write(archive, "client.json", text.encode("utf-8"), zipfile.ZIP_DEFLATED)
            for entry, p in zip(document["photos"], photos, strict=True):
                _zip_write(archive, entry["file"], files[p.id], zipfile.ZIP_STORED)
        return buffer.getvalue()

    # ----------------------------------------------------------------- files

    def _path(self, digest: str) -> Path:
        if not _HEX64.fullmatch(digest):
            raise StoreError(f"Recorded photo hash {digest!r} is not a sha256 hex digest.")
        return self.photo_dir / digest[:2] / f"{digest}.jpg"

    def _write_file(self, digest: str, data: bytes) -> bool:
        """Write a photo file atomically and durably; False if an intact copy was there."""
        final = self._path(digest)
        with contextlib.suppress(FileNotFoundError):
            if hashlib.sha256(final.read_bytes()).hexdigest() == digest:
                return False
        folder = final.parent
        if not folder.is_dir():
            folder.mkdir(mode=0o700, exist_ok=True)
            _fsync_dir(self.photo_dir)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{digest[:12]}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(folder)
        return True

    def _read_verified(self, record: PhotoRecord) -> bytes:
        path = self._path(record.sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(
                f"The file of photo {record.id} ({record.display_name!r}) is missing; run "
                "check_integrity() and restore it from a backup."
            ) from None
        if hashlib.sha256(data).hexdigest() != record.sha256:
            raise StoreError(
                f"The file of photo {record.id} ({record.display_name!r}) does not match its "
                "recorded sha256 (corrupted on disk); restore it from a backup."
            )
        return data

    def _delete_with_files(
        self, collect: Callable[[OrmSession], list[str]], remove: Callable[[OrmSession], None]
    ) -> None:
        # Rows first, then files: a crash in between leaves orphan files, never a row
        # without its file. The folder lock keeps a concurrent add_photo of the same bytes
        # from reusing a file that is about to be unlinked.
        with self._lock.hold():
            with self._write() as s:
                digests = set(collect(s))
                remove(s)
            self._unlink_unreferenced(digests)

    def _unlink_unreferenced(self, digests: Iterable[str]) -> None:
        """Remove the files of these hashes that no photo row references (lock held)."""
        digests = set(digests)
        if not digests:
            return
        with self._read() as s:
            used: set[str] = set()
            for batch in _chunks(sorted(digests)):
                used.update(s.scalars(select(_PhotoRow.sha256).where(_PhotoRow.sha256.in_(batch))))
        folders = set()
        for digest in sorted(digests - used):
            path = self._path(digest)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                folders.add(path.parent)
        for folder in folders:
            _fsync_dir(folder)
            with contextlib.suppress(OSError):
                folder.rmdir()  # only succeeds when empty
        if folders:
            _fsync_dir(self.photo_dir)

    def _remove_temp_files(self) -> None:
        with self._lock.hold():
            removed = 0
            for path in self.photo_dir.glob("*/*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        if removed:
            logger.warning("Removed %d unfinished temporary photo file(s).", removed)

    def _compact_log(self) -> None:
        """SQLite: move the write-ahead log into the database and empty it, so deleted
        rows do not linger in the log file (best effort; readers may keep it busy)."""
        if not self._is_sqlite or self._closed:
            return
        raw = self._engine.raw_connection()  # driver in autocommit: no BEGIN around it
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.fetchall()
            cursor.close()
        finally:
            raw.close()

    def check_integrity(self, *, repair: bool = False) -> IntegrityReport:
        """Check every photo file against its row, and look for stray files.

        Parameters
        ----------
        repair : bool, default False
            Delete orphan files (no row references them) and leftover ``*.tmp`` files.
            A file that a row references is never deleted; missing or corrupt photos are
            only reported (restore them from a backup).

        Returns
        -------
        IntegrityReport
        """
        with self._lock.hold(shared=not repair):
            with self._read() as s:
                rows = s.execute(select(_PhotoRow.id, _PhotoRow.sha256).order_by(_PhotoRow.id))
                by_digest: dict[str, list[int]] = {}
                for photo_id, digest in rows:
                    by_digest.setdefault(digest, []).append(photo_id)
            missing: list[int] = []
            corrupt: list[int] = []
            expected: set[str] = set()
            for digest, ids in by_digest.items():
                try:
                    path = self._path(digest)
                except StoreError:
                    corrupt.extend(ids)
                    continue
                expected.add(path.relative_to(self.photo_dir).as_posix())
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    missing.extend(ids)
                    continue
                if hashlib.sha256(data).hexdigest() != digest:
                    corrupt.extend(ids)
            orphans: list[str] = []
            temps: list[str] = []
            for path in sorted(self.photo_dir.rglob("*")):
                if path.is_dir() and not path.is_symlink():
                    continue
                rel = path.relative_to(self.photo_dir).as_posix()
                if rel == ".lock" or rel in expected:
                    continue
                (temps if path.name.endswith(".tmp") else orphans).append(rel)
            removed: list[str] = []
            if repair:
                for rel in [*orphans, *temps]:
                    with contextlib.suppress(FileNotFoundError):
                        (self.photo_dir / rel).unlink()
                        removed.append(rel)
                for folder in {(self.photo_dir / rel).parent for rel in removed}:
                    _fsync_dir(folder)
                    if folder != self.photo_dir:
                        with contextlib.suppress(OSError):
                            folder.rmdir()
        report = IntegrityReport(
            checked=sum(len(ids) for ids in by_digest.values()),
            missing=tuple(sorted(missing)),
            corrupt=tuple(sorted(corrupt)),
            orphans=tuple(orphans),
            temp_files=tuple(temps),
            removed=tuple(removed),
        )
        if report.missing or report.corrupt:
            logger.error(
                "Integrity check: %d missing and %d corrupt photo file(s).",
                len(report.missing),
                len(report.corrupt),
            )
        return report


# --------------------------------------------------------------------------------------
# Module-level helpers used by Store
# --------------------------------------------------------------------------------------


def _create_tables(bind: Any, *, checkfirst: bool = True) -> None:
    """CREATE the tables that do not exist yet, from a fresh copy of their definitions.

    Emitting ``ALTER TABLE ... ADD CONSTRAINT`` (PostgreSQL, for the areas → photos key
    that closes a cycle) marks that constraint as "not inline" on the Table objects it was
    given; a later SQLite CREATE in the same process would then silently leave the foreign
    key out. Working on a copy keeps the module's tables untouched.
    """
    ddl = MetaData(naming_convention=_NAMING)
    for table in _Base.metadata.tables.values():
        table.to_metadata(ddl)
    ddl.create_all(bind, checkfirst=checkfirst)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (the driver would defer it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in (
            "PRAGMA busy_timeout = 30000",
            "PRAGMA foreign_keys = ON",
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = FULL",
            "PRAGMA secure_delete = ON",
        ):
            cursor.execute(pragma)
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    # Writers take the write lock at BEGIN, so they queue on the busy timeout instead of
    # failing when a read-then-write transaction finds the database changed under it.
    write = conn.get_execution_options().get("progress_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _plain(record: Any) -> dict[str, Any]:
    """A public record as JSON-ready data (dates as ISO strings)."""
    return _to_jsonable(dataclasses.asdict(record), type(record).__name__)


def _zip_write(archive: zipfile.ZipFile, name: str, data: bytes, compression: int) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.compress_type = compression
    info.external_attr = 0o600 << 16
    archive.writestr(info, data)
