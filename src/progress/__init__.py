"""Skin Progress: measure skin texture and tone across treatment sessions.

The public API. Names are imported on first use (PEP 562), so that ``import progress``
stays cheap for the command line and the dashboard; the modules are listed in
``docs/architecture.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "METRICS": "progress.metrics",
    "Metric": "progress.metrics",
    "measure": "progress.metrics",
    "Alignment": "progress.registration",
    "align": "progress.registration",
    "align_from_points": "progress.registration",
    "AlignmentError": "progress.errors",
    "ColourError": "progress.errors",
    "ImageError": "progress.errors",
    "ProgressError": "progress.errors",
    "RegionError": "progress.errors",
    "StoreError": "progress.errors",
    "Photo": "progress.loader",
    "load_image": "progress.loader",
    "ColourCorrection": "progress.normalise",
    "normalise_colour": "progress.normalise",
    "Analysis": "progress.pipeline",
    "Reference": "progress.pipeline",
    "analyse": "progress.pipeline",
    "QualityReport": "progress.quality",
    "check_quality": "progress.quality",
    "skin_mask": "progress.skin",
}
_MODULES = ("timeline", "repeatability")

__all__ = sorted([*_EXPORTS, *_MODULES])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"progress.{name}")
    else:
        raise AttributeError(f"module 'progress' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from progress import repeatability, timeline  # noqa: F401
    from progress.errors import (  # noqa: F401
        AlignmentError,
        ColourError,
        ImageError,
        ProgressError,
        RegionError,
        StoreError,
    )
    from progress.loader import Photo, load_image  # noqa: F401
    from progress.metrics import METRICS, Metric, measure  # noqa: F401
    from progress.normalise import ColourCorrection, normalise_colour  # noqa: F401
    from progress.pipeline import Analysis, Reference, analyse  # noqa: F401
    from progress.quality import QualityReport, check_quality  # noqa: F401
    from progress.registration import Alignment, align, align_from_points  # noqa: F401
    from progress.skin import skin_mask  # noqa: F401
