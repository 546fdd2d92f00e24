"""Shared fixtures. Keep each one small and clearly named; several test files use them."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "sample_images"


@pytest.fixture(scope="session")
def analysed_samples_dir(tmp_path_factory) -> Path:
    """A data folder holding the bundled sample series, seeded and analysed once per run.

    Built with the same library calls the dashboard makes on first start
    (``workflow.seed_samples`` then ``workflow.analyse_area`` with the area's box), so
    the dashboard finds every result current and analyses nothing. Tests must treat it
    as read-only; copy it (``shutil.copytree``) to change anything.
    """
    if not (SAMPLE_DIR / "truth.json").exists():
        pytest.skip(f"the bundled sample series is missing ({SAMPLE_DIR})")
    from progress import workflow
    from progress.store import Store

    folder = tmp_path_factory.mktemp("analysed-samples")
    store = Store(None, data_dir=folder)
    try:
        client_id = workflow.seed_samples(store, SAMPLE_DIR)
        assert client_id is not None
        for area in store.areas(client_id):
            workflow.analyse_area(store, area.id, box=workflow.area_box(store, area.id))
    finally:
        store.close()
    return folder
