"""Tests of the public API (``progress/__init__.py``): the names the issue asks for.

The expected names, types and metric families are written out here from the issue's
text, not read from the package.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import types
from dataclasses import is_dataclass

import pytest

import progress

# The public names required by the issue.
REQUIRED = [
    "load_image",
    "Photo",
    "ImageError",
    "check_quality",
    "QualityReport",
    "align",
    "Alignment",
    "align_from_points",
    "skin_mask",
    "measure",
    "METRICS",
    "Metric",
    "normalise_colour",
    "timeline",
    "repeatability",
]
FUNCTIONS = [
    "load_image",
    "check_quality",
    "align",
    "align_from_points",
    "skin_mask",
    "measure",
    "normalise_colour",
]
CLASSES = ["Photo", "QualityReport", "Alignment", "Metric"]


@pytest.mark.parametrize("name", REQUIRED)
def test_required_name_is_public(name):
    assert name in progress.__all__
    assert name in dir(progress)
    assert getattr(progress, name) is not None


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_are_functions(name):
    assert inspect.isfunction(getattr(progress, name))


@pytest.mark.parametrize(
    "first", ["progress.pipeline", "progress.registration", "progress.workflow", "progress.batch"]
)
def test_align_is_the_function_after_other_imports(first):
    # In a fresh interpreter, so that the order of imports is known.
    code = (
        f"import inspect, importlib, progress; importlib.import_module({first!r}); "
        "print(inspect.isfunction(progress.align))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "True"


def test_align_is_the_function_when_looked_up_first():
    code = (
        "import inspect, progress; a = progress.align; import progress.pipeline; "
        "print(inspect.isfunction(a), progress.Alignment.__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["True", "Alignment"]


@pytest.mark.parametrize("name", CLASSES)
def test_result_types_are_dataclasses(name):
    obj = getattr(progress, name)
    assert inspect.isclass(obj)
    assert is_dataclass(obj)


def test_image_error_is_a_value_error():
    assert issubclass(progress.ImageError, ValueError)
    with pytest.raises(ValueError):
        raise progress.ImageError("bad photo")


@pytest.mark.parametrize("name", ["timeline", "repeatability"])
def test_modules_are_exported_as_modules(name):
    module = getattr(progress, name)
    assert isinstance(module, types.ModuleType)
    assert module.__name__ == f"progress.{name}"


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("load_image", "progress.loader"),
        ("Photo", "progress.loader"),
        ("ImageError", "progress.errors"),
        ("check_quality", "progress.quality"),
        ("QualityReport", "progress.quality"),
        ("Alignment", "progress.registration"),
        ("align_from_points", "progress.registration"),
        ("skin_mask", "progress.skin"),
        ("measure", "progress.metrics"),
        ("METRICS", "progress.metrics"),
        ("Metric", "progress.metrics"),
        ("normalise_colour", "progress.normalise"),
    ],
)
def test_names_are_the_module_objects(name, module):
    # The documented module map (docs/architecture.md) says where each name lives.
    assert getattr(progress, name) is getattr(sys.modules[module], name)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        progress.no_such_thing  # noqa: B018


def test_metric_registry_is_a_read_only_mapping():
    assert len(progress.METRICS) >= 21
    assert "x" not in progress.METRICS
    assert not hasattr(progress.METRICS, "__setitem__")


def test_import_is_lazy():
    """``import progress`` alone loads none of the heavy libraries (PEP 562 lazy names)."""
    code = (
        "import sys, progress; "
        "heavy = [m for m in ('cv2', 'sqlalchemy', 'skimage', 'scipy', 'matplotlib', 'fpdf') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""
