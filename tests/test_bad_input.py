"""Bad and awkward files: every corpus case loads as declared or fails with ImageError.

Also a property test: mutated JPEG and PNG bytes either load into a valid array or
raise ImageError, never any other exception.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from bad_files import Case, corpus, encode, good_jpeg, good_png
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from progress.errors import ImageError
from progress.loader import Photo, load_image

CORPUS = corpus()


def _load(case: Case, tmp_path) -> Photo:
    data = case.make()
    if case.via == "path":
        path = tmp_path / case.filename
        path.write_bytes(data)
        return load_image(path, **case.kwargs)
    if case.via == "file":
        path = tmp_path / case.filename
        path.write_bytes(data)
        with open(path, "rb") as fh:
            return load_image(fh, **case.kwargs)
    return load_image(data, **case.kwargs)


def _assert_valid_photo(photo: Photo) -> None:
    assert isinstance(photo, Photo)
    rgb = photo.rgb
    assert isinstance(rgb, np.ndarray)
    assert rgb.dtype == np.uint8
    assert rgb.ndim == 3 and rgb.shape[2] == 3
    assert rgb.flags.c_contiguous
    assert min(rgb.shape[:2]) >= 1


def test_corpus_is_large_and_ids_are_unique():
    assert len(CORPUS) >= 30
    ids = [c.id for c in CORPUS]
    assert len(ids) == len(set(ids))


def test_corpus_covers_every_refusal_reason():
    """Each kind of ImageError the loader can give for file content has a corpus case."""
    patterns = " ".join(c.raises for c in CORPUS if c.raises)
    for reason in (
        "is empty",
        "not an image: it looks like",
        "unrecognised binary data",
        "unsupported kind of image",
        "truncated or corrupt",
        "too many pixels",
        "too large a file",
        "too small",
        "extreme aspect ratio",
    ):
        assert reason in patterns, reason


@pytest.mark.timeout(10)
@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_corpus_case(case: Case, tmp_path):
    expected_name = case.expected_name or (
        case.filename if case.via in ("path", "file") else "upload"
    )
    if case.raises is not None:
        with pytest.raises(ImageError, match=case.raises) as info:
            _load(case, tmp_path)
        message = str(info.value)
        assert message.startswith(f"'{expected_name}'"), message
        assert "/" not in message.split("'")[1]
        return
    photo = _load(case, tmp_path)
    _assert_valid_photo(photo)
    assert photo.name == expected_name
    if case.shape is not None:
        assert photo.rgb.shape[:2] == tuple(case.shape)
    if case.check is not None:
        case.check(photo)


# ---------------------------------------------------------------------------------------
# Property test: mutated files
# ---------------------------------------------------------------------------------------

SMALL_JPEG = encode(np.tile(np.arange(32, dtype=np.uint8) * 8, (24, 1)), "JPEG", quality=80)
BASES = {"jpeg": good_jpeg(), "png": good_png(), "small-jpeg": SMALL_JPEG}


@st.composite
def mutated(draw, base: bytes) -> bytes:
    data = bytearray(base)
    n_ops = draw(st.integers(1, 4))
    for _ in range(n_ops):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "slice", "delete"]))
        n = len(data)
        if n == 0:
            data = bytearray(draw(st.binary(max_size=64)))
            continue
        i = draw(st.integers(0, n - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0xD9, 0xD8]))
        elif op == "truncate":
            data = data[:i]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=32))
        elif op == "slice":
            j = draw(st.integers(i, n))
            data = data[i:j]
        else:
            j = draw(st.integers(i, min(n, i + 64)))
            del data[i:j]
    return bytes(data)


def _check_mutant(data: bytes) -> None:
    try:
        photo = load_image(data, max_pixels=200_000, name="mutant.bin")
    except ImageError as exc:
        assert str(exc).startswith("'mutant.bin'")
        return
    _assert_valid_photo(photo)
    assert photo.rgb.shape[0] * photo.rgb.shape[1] <= 200_000


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", sorted(BASES))
@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_mutated_files_load_or_raise_image_error(kind, data):
    _check_mutant(data.draw(mutated(BASES[kind])))


def test_mutation_property_can_fail():
    """The property is not vacuous: an intact file loads, a cut one raises ImageError."""
    _check_mutant(good_png())
    with pytest.raises(ImageError, match=re.escape("'mutant.bin'")):
        load_image(good_png()[:50], name="mutant.bin")
