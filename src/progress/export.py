"""A client's whole record in one ZIP: stored data, photos, and per area metrics and report.

:meth:`progress.store.Store.export_client` gives the stored data (``client.json``) and
the stored photos. :func:`export_client_record` adds, for each treatment area, the
metrics table (CSV) and the PDF report, made from the results stored at the time of the
export (photos not analysed yet have empty metric cells; nothing is recomputed).
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from datetime import datetime

from progress.store import Store

__all__ = ["area_folder", "export_client_record"]

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_UNSAFE = re.compile(r"[^\w\-]+")


def area_folder(area_id: int, name: str) -> str:
    """The archive folder of one area: ``areas/<id>_<name as a plain ASCII word>/``.

    The id keeps folders unique; the name is reduced to letters, digits, ``-`` and ``_``
    (at most 60 characters) so that it is safe as a path on every system.

    Examples
    --------
    >>> area_folder(3, "Left cheek / scar ../x")
    'areas/3_Left_cheek_scar_x/'
    """
    plain = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    word = _UNSAFE.sub("_", plain).strip("_")[:60].strip("_")
    return f"areas/{int(area_id)}_{word or 'area'}/"


def export_client_record(store: Store, client_id: int, *, now: datetime | None = None) -> bytes:
    """Everything about one client as a ZIP: data, photos, metrics and a report per area.

    Parameters
    ----------
    store : Store
    client_id : int
    now : datetime, optional
        The "generated" time printed in the reports (default: now).

    Returns
    -------
    bytes
        A ZIP holding every entry of :meth:`Store.export_client` (``client.json`` and
        ``photos/<session-date>_<photo-id>.jpg``) and, for every area that has photos,
        ``areas/<id>_<name>/metrics.csv`` (one row per photo,
        :func:`progress.workflow.export_rows` written by
        :func:`progress.report.metrics_csv`) and ``areas/<id>_<name>/report.pdf``
        (:func:`progress.report.pdf_report` of :func:`progress.workflow.report_data`).

    Raises
    ------
    progress.errors.StoreError
        If the client is unknown or one of their photo files is missing or corrupt.

    Notes
    -----
    Only stored results are used: run the analysis first (any analysis page of the
    dashboard, or :func:`progress.workflow.analyse_area`) for filled-in metrics.
    """
    from progress import report, workflow

    base = store.export_client(client_id)  # validates the id and reads every photo
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base)) as source,
        zipfile.ZipFile(buffer, "w") as archive,
    ):
        for info in source.infolist():
            archive.writestr(info, source.read(info))
        for area in store.areas(client_id):
            if not store.photos(area_id=area.id):
                continue
            folder = area_folder(area.id, area.name)
            csv = report.metrics_csv(workflow.export_rows(store, area.id))
            pdf = report.pdf_report(workflow.report_data(store, area.id, now=now))
            _write(archive, folder + "metrics.csv", csv, zipfile.ZIP_DEFLATED)
            _write(archive, folder + "report.pdf", pdf, zipfile.ZIP_STORED)
    return buffer.getvalue()


def _write(archive: zipfile.ZipFile, name: str, data: bytes, compression: int) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.compress_type = compression
    info.external_attr = 0o600 << 16
    archive.writestr(info, data)
