"""Tests of progress.loader against answers worked out by hand or from the specs."""

from __future__ import annotations

import dataclasses
import doctest
import io
import os
import struct
import threading
import warnings
import zlib
from datetime import datetime

import cv2
import numpy as np
import pytest
from bad_files import (
    ADOBE_GAMMA,
    ADOBE_PRIMARIES,
    D65_XY,
    ORIENTATION_SPEC,
    P3_PRIMARIES,
    SRGB_PRIMARIES,
    adobe_rgb_icc,
    block_pattern,
    display_p3_icc,
    encode,
    exif_block,
    expected_srgb_from,
    good_jpeg,
    good_png,
    jpeg_with_app1,
    linear_gray_icc,
    one_bit_png,
    png_from_rows,
    rgb_to_xyz_matrix,
    srgb_decode,
    unique_pattern,
)
from PIL import Image

import progress.loader as loader
from progress.errors import ImageError
from progress.loader import (
    SUPPORTED_EXTENSIONS,
    downscale,
    load_image,
    to_jpeg_bytes,
    to_png_bytes,
)

# ---------------------------------------------------------------------------------------
# Constants, dataclass, docstring example
# ---------------------------------------------------------------------------------------


def test_supported_extensions():
    assert SUPPORTED_EXTENSIONS == (
        "jpg",
        "jpeg",
        "png",
        "webp",
        "tif",
        "tiff",
        "heic",
        "heif",
        "gif",
        "bmp",
    )


def test_photo_is_frozen_and_reports_size():
    photo = load_image(good_png())
    with pytest.raises(dataclasses.FrozenInstanceError):
        photo.name = "other"  # type: ignore[misc]
    assert photo.size == (40, 24)
    assert photo.original_size == (40, 24)
    assert photo.rgb.shape == (24, 40, 3)
    assert photo.format == "PNG" and photo.source_mode == "RGB" and photo.n_frames == 1


def test_module_docstring_examples_run():
    result = doctest.testmod(loader, verbose=False)
    assert result.attempted >= 1 and result.failed == 0


# ---------------------------------------------------------------------------------------
# Sources and names
# ---------------------------------------------------------------------------------------


def test_every_source_type_gives_the_same_pixels(tmp_path):
    data = good_png()
    path = tmp_path / "same.png"
    path.write_bytes(data)
    expected = unique_pattern()
    with open(path, "rb") as fh:
        from_file = load_image(fh)
    results = {
        "str": load_image(str(path)),
        "path": load_image(path),
        "bytes": load_image(data),
        "bytearray": load_image(bytearray(data)),
        "memoryview": load_image(memoryview(data)),
        "bytesio": load_image(io.BytesIO(data)),
        "file": from_file,
    }
    for kind, photo in results.items():
        np.testing.assert_array_equal(photo.rgb, expected, err_msg=kind)
    assert results["str"].name == results["path"].name == results["file"].name == "same.png"
    assert results["bytes"].name == results["bytesio"].name == "upload"


class _ShortReads(io.RawIOBase):
    """A raw stream that hands out at most 7 bytes per read() call."""

    def __init__(self, data: bytes, name: str):
        self._buf = io.BytesIO(data)
        self.name = name

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._buf.read(7 if n < 0 else min(n, 7))


def test_stream_with_short_reads_is_read_to_the_end():
    photo = load_image(_ShortReads(good_png(), "/home/u/Pictures/short.png"))
    np.testing.assert_array_equal(photo.rgb, unique_pattern())
    assert photo.name == "short.png"


def test_name_argument_wins_and_is_never_opened(tmp_path):
    decoy = tmp_path / "decoy.png"
    decoy.write_bytes(encode(np.zeros((24, 40, 3), np.uint8), "PNG"))
    photo = load_image(good_png(), name=str(decoy))
    np.testing.assert_array_equal(photo.rgb, unique_pattern())  # the bytes, not the decoy
    assert photo.name == "decoy.png"
    path = tmp_path / "real.png"
    path.write_bytes(good_png())
    assert load_image(path, name="shown.png").name == "shown.png"
    fh = io.BytesIO(good_png())
    fh.name = "/x/from_attr.png"  # type: ignore[attr-defined]
    assert load_image(fh).name == "from_attr.png"
    assert load_image(fh := io.BytesIO(good_png()), name="arg.png").name == "arg.png"
    fh.close()


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("..\\..\\Windows\\win.ini.jpg", "win.ini.jpg"),
        ("C:\\Users\\Zoë\\DCIM\\IMG_0001.JPG", "IMG_0001.JPG"),
        ("Zoë_Ñandú_面.jpg", "Zoë_Ñandú_面.jpg"),
        ("Zoe\u0308.jpg", "Zo\u00eb.jpg"),  # decomposed ë composed (NFC)
        ("evil\u202egpj.exe", "evilgpj.exe"),  # right-to-left override removed
        ("a\x00b\nc.jpg", "abc.jpg"),  # control characters removed
        ("  spaced.png  ", "spaced.png"),
        ("", "upload"),
        ("..", "upload"),
        ("folder/", "upload"),
    ],
)
def test_display_name_is_sanitised(raw, shown):
    assert load_image(good_png(), name=raw).name == shown


def test_long_name_is_shortened_but_keeps_its_end():
    name = "x" * 300 + ".jpeg"
    shown = load_image(good_png(), name=name).name
    assert len(shown) == 120 and shown.endswith("x.jpeg") and "…" in shown


def test_missing_file_folder_and_non_directory(tmp_path):
    with pytest.raises(ImageError, match=r"^'nope\.jpg' was not found"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match=r"^'sub' is a folder, not an image file"):
        (tmp_path / "sub").mkdir()
        load_image(tmp_path / "sub")
    afile = tmp_path / "afile.png"
    afile.write_bytes(good_png())
    with pytest.raises(ImageError, match=r"^'x\.jpg' cannot be read: Not a directory"):
        load_image(afile / "x.jpg")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path):
    path = tmp_path / "locked.png"
    path.write_bytes(good_png())
    path.chmod(0)
    try:
        with pytest.raises(ImageError, match=r"^'locked\.png' cannot be read: permission denied"):
            load_image(path)
    finally:
        path.chmod(0o600)


def test_wrong_argument_types_and_limits(tmp_path):
    for bad, kind in ((12345, "int"), (None, "NoneType"), ([b"\xff\xd8"], "list")):
        with pytest.raises(
            ImageError, match=rf"accepts a path .* bytes .* binary file object .*got {kind}\."
        ):
            load_image(bad)  # type: ignore[arg-type]
    text_path = tmp_path / "t.txt"
    text_path.write_text("hello")
    with open(text_path, encoding="utf-8") as fh, pytest.raises(ImageError, match="binary mode"):
        load_image(fh)  # type: ignore[arg-type]
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(ValueError, match="max_pixels must be a positive integer"):
            load_image(good_png(), max_pixels=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
            load_image(good_png(), max_bytes=bad)  # type: ignore[arg-type]


def test_max_bytes_boundary_and_memoryview_counts_bytes():
    data = good_png()
    assert load_image(data, max_bytes=len(data)).size == (40, 24)
    with pytest.raises(
        ImageError, match=f"{len(data):,} bytes, more than the limit of {len(data) - 1:,}"
    ):
        load_image(data, max_bytes=len(data) - 1)
    as_u32 = memoryview(np.frombuffer(data[: len(data) // 4 * 4], dtype=np.uint32))
    with pytest.raises(ImageError, match=r"too large a file: \d+ bytes"):
        load_image(as_u32, max_bytes=len(as_u32))  # len() counts items, nbytes counts bytes


# ---------------------------------------------------------------------------------------
# Pixel limits and warnings
# ---------------------------------------------------------------------------------------


def test_pixel_limit_boundary():
    png = one_bit_png(100, 50)
    assert load_image(png, max_pixels=5000).size == (100, 50)
    with pytest.raises(ImageError, match=r"100 × 50 = 5,000, more than the limit of 4,999"):
        load_image(png, max_pixels=4999)


def test_pillow_bomb_guard_caps_a_larger_max_pixels():
    # 196 MP is above Pillow's hard limit, 2 × 89,478,485 = 178,956,970 px by default:
    # an ImageError even though max_pixels would allow it.
    with pytest.raises(ImageError, match=r"196,000,000, more than the limit of 178,956,970"):
        load_image(one_bit_png(14_000, 14_000), max_pixels=200_000_000)


def test_default_limit_takes_50_and_108_mp_phone_photos():
    # 8160 × 6144 = 50,135,040 px (50 MP mode) and 12000 × 9000 = 108,000,000 px (108 MP
    # mode, above Pillow's 89.5 MP warning) load; 11000 × 11000 = 121 MP does not.
    assert load_image.__kwdefaults__["max_pixels"] == 120_000_000
    for w, h in ((8160, 6144), (12_000, 9_000)):
        photo = load_image(one_bit_png(w, h))
        assert photo.rgb.shape == (h, w, 3)
        assert photo.rgb[::997, ::997].max() == 0
        del photo
    with pytest.raises(ImageError, match=r"121,000,000, more than the limit of 120,000,000"):
        load_image(one_bit_png(11_000, 11_000))


def test_no_warning_escapes_and_filters_are_restored():
    before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageError):
            load_image(one_bit_png(12_000, 12_000))
        load_image(jpeg_with_app1(good_jpeg(), b"MM\x00\x2a\x7f\xff\xff\xff"))
    assert caught == []
    assert list(warnings.filters) == before


def test_concurrent_loads_from_threads():
    datas = [encode(np.full((20, 30, 3), v, np.uint8), "PNG") for v in (10, 80, 150, 220)]
    results: dict[int, int] = {}

    def work(i: int) -> None:
        for _ in range(5):
            results[i] = int(load_image(datas[i]).rgb[0, 0, 0])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {0: 10, 1: 80, 2: 150, 3: 220}


# ---------------------------------------------------------------------------------------
# EXIF orientation
# ---------------------------------------------------------------------------------------


def _upright_from_spec(stored: np.ndarray, row0: str, col0: str) -> np.ndarray:
    """Place every stored pixel where the EXIF table's words say it goes (no numpy ops)."""
    h, w = stored.shape[:2]
    out = np.empty((h, w, 3) if row0 in ("top", "bottom") else (w, h, 3), stored.dtype)
    for r in range(h):
        for c in range(w):
            if row0 in ("top", "bottom"):
                y = r if row0 == "top" else h - 1 - r
                x = c if col0 == "left" else w - 1 - c
            else:
                x = r if row0 == "left" else h - 1 - r
                y = c if col0 == "top" else w - 1 - c
            out[y, x] = stored[r, c]
    return out


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_numpy_table_matches_spec_words(orientation):
    stored = unique_pattern(5, 7)
    row0, col0, op = ORIENTATION_SPEC[orientation]
    np.testing.assert_array_equal(op(stored), _upright_from_spec(stored, row0, col0))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_in_a_jpeg(orientation):
    exif = exif_block({0x0112: (3, orientation)})
    photo = load_image(jpeg_with_app1(good_jpeg(), exif))
    row0, col0, _ = ORIENTATION_SPEC[orientation]
    expected = _upright_from_spec(block_pattern(), row0, col0)
    assert photo.rgb.shape == expected.shape
    assert np.abs(photo.rgb.astype(int) - expected).max() <= 3
    assert photo.orientation == orientation
    assert photo.original_size == (64, 48)


def test_heic_orientation_is_applied_once():
    from pillow_heif import register_heif_opener

    register_heif_opener()
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = load_image(encode(block_pattern(), "HEIF", exif=exif.tobytes(), quality=95))
    expected = _upright_from_spec(block_pattern(), "right", "top")
    assert photo.rgb.shape == expected.shape == (64, 48, 3)
    assert np.abs(photo.rgb.astype(int) - expected).mean() < 3
    assert photo.orientation == 6
    assert photo.original_size == (64, 48)


# ---------------------------------------------------------------------------------------
# EXIF dates
# ---------------------------------------------------------------------------------------

D_ORIG, D_DIGI, D_DT = "2021:05:06 07:08:09", "2021:05:06 07:08:10", "2022:01:01 00:00:00"


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        ({"original": D_ORIG, "digitized": D_DIGI, "dt": D_DT}, datetime(2021, 5, 6, 7, 8, 9)),
        ({"digitized": D_DIGI, "dt": D_DT}, datetime(2021, 5, 6, 7, 8, 10)),
        ({"dt": D_DT}, datetime(2022, 1, 1)),
        ({"original": "2021-05-06 07:08:09"}, datetime(2021, 5, 6, 7, 8, 9)),
        ({"original": "2021:05:06T07:08:09"}, datetime(2021, 5, 6, 7, 8, 9)),
        ({"original": "    :  :     :  :  ", "dt": D_DT}, datetime(2022, 1, 1)),
        ({"original": "2021:13:06 07:08:09"}, None),
        ({"original": "2021:02:29 07:08:09"}, None),  # not a leap year
        ({"original": "today"}, None),
        ({}, None),
    ],
)
def test_exif_date_priority_and_parsing(dates, expected):
    ifd0 = {0x0132: (2, dates["dt"])} if "dt" in dates else {}
    sub = {}
    if "original" in dates:
        sub[0x9003] = (2, dates["original"])
    if "digitized" in dates:
        sub[0x9004] = (2, dates["digitized"])
    payload = exif_block(ifd0 or {0x0112: (3, 1)}, sub or None)
    assert load_image(jpeg_with_app1(good_jpeg(), payload)).taken_at == expected


def test_exif_date_from_tiff_and_png():
    exif = Image.Exif()
    exif[0x0132] = "2019:09:09 10:11:12"
    for fmt in ("TIFF", "PNG", "WEBP"):
        data = encode(
            unique_pattern(),
            fmt,
            exif=exif.tobytes(),
            **({"lossless": True} if fmt == "WEBP" else {}),
        )
        assert load_image(data).taken_at == datetime(2019, 9, 9, 10, 11, 12), fmt


# ---------------------------------------------------------------------------------------
# Colour: ICC profiles
# ---------------------------------------------------------------------------------------


def test_derived_matrices_match_published_ones():
    # IEC 61966-2-1 (sRGB), Adobe RGB (1998) Color Image Encoding §4.3.4.3, and the
    # Display P3 (SMPTE EG 432-1 primaries, D65) matrix published by Apple/W3C CSS Color 4.
    srgb = [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    adobe = [[0.5767, 0.1856, 0.1882], [0.2973, 0.6274, 0.0753], [0.0270, 0.0707, 0.9911]]
    p3 = [[0.4866, 0.2657, 0.1982], [0.2290, 0.6917, 0.0793], [0.0000, 0.0451, 1.0439]]
    np.testing.assert_allclose(rgb_to_xyz_matrix(SRGB_PRIMARIES, D65_XY), srgb, atol=2e-4)
    # Adobe rounds with white XYZ (0.95047, 1, 1.08883), not the xy (0.3127, 0.3290): 3e-4
    np.testing.assert_allclose(rgb_to_xyz_matrix(ADOBE_PRIMARIES, D65_XY), adobe, atol=5e-4)
    np.testing.assert_allclose(rgb_to_xyz_matrix(P3_PRIMARIES, D65_XY), p3, atol=2e-4)


# P3 → sRGB on linear values: M = M_sRGB⁻¹ · M_P3 ≈ [[1.2249, −0.2249, 0],
# [−0.0421, 1.0421, 0], [−0.0196, −0.0786, 1.0983]]. Saturated P3 red at code 128:
# linear 0.2158 → sRGB linear (0.2644, −0.0091, −0.0042) → clip → (0.2644, 0, 0)
# → encoded 0.5517 → (141, 0, 0). Read as if it were sRGB it would stay (128, 0, 0).
P3_CASES = [
    ((128, 0, 0), (141, 0, 0)),
    ((200, 120, 80), (213, 115, 70)),
    ((255, 255, 255), (255, 255, 255)),
    ((60, 200, 230), (0, 203, 234)),
]


@pytest.mark.parametrize(("p3_code", "srgb_code"), P3_CASES)
def test_display_p3_to_srgb(p3_code, srgb_code):
    np.testing.assert_array_equal(expected_srgb_from(p3_code, P3_PRIMARIES, srgb_decode), srgb_code)
    photo = load_image(
        encode(Image.new("RGB", (32, 24), p3_code), "PNG", icc_profile=display_p3_icc())
    )
    assert photo.icc_converted
    assert np.abs(photo.rgb.astype(int) - srgb_code).max() <= 1


# Adobe RGB → sRGB: linear = code^(563/256); M ≈ [[1.3984, −0.3984, 0], [0, 1, 0],
# [0, −0.0429, 1.0429]]. (100, 180, 120): linear (0.1277, 0.4286, 0.1747) →
# sRGB linear (−0.0922, 0.4286, 0.1638) → clip → (0, 181, 117).
ADOBE_CASES = [
    ((100, 180, 120), (0, 181, 117)),
    ((200, 120, 80), (224, 121, 77)),
    ((10, 10, 10), (3, 3, 3)),
]


@pytest.mark.parametrize(("adobe_code", "srgb_code"), ADOBE_CASES)
def test_adobe_rgb_to_srgb(adobe_code, srgb_code):
    np.testing.assert_array_equal(
        expected_srgb_from(adobe_code, ADOBE_PRIMARIES, lambda v: v**ADOBE_GAMMA), srgb_code
    )
    photo = load_image(
        encode(Image.new("RGB", (32, 24), adobe_code), "PNG", icc_profile=adobe_rgb_icc())
    )
    assert photo.icc_converted
    assert np.abs(photo.rgb.astype(int) - srgb_code).max() <= 1


def test_icc_profile_in_a_jpeg():
    code = (200, 120, 80)
    data = encode(
        Image.new("RGB", (32, 32), code),
        "JPEG",
        quality=100,
        subsampling=0,
        icc_profile=display_p3_icc(),
    )
    photo = load_image(data)
    assert photo.icc_converted
    assert np.abs(photo.rgb.astype(int) - (213, 115, 70)).max() <= 2


def test_grey_profile_on_a_grey_image():
    # linear grey (gamma 1) code 128: Y = 128/255 = 0.50196 → sRGB 0.7366 → 188 (by hand)
    photo = load_image(encode(Image.new("L", (32, 24), 128), "PNG", icc_profile=linear_gray_icc()))
    assert photo.icc_converted
    np.testing.assert_array_equal(photo.rgb[0, 0], (188, 188, 188))


def test_profile_of_the_wrong_colour_space_is_ignored():
    photo = load_image(encode(Image.new("L", (32, 24), 128), "PNG", icc_profile=display_p3_icc()))
    assert not photo.icc_converted
    np.testing.assert_array_equal(photo.rgb[0, 0], (128, 128, 128))


# ---------------------------------------------------------------------------------------
# Colour: modes, worked by hand
# ---------------------------------------------------------------------------------------


def test_sixteen_bit_grey_rounds_to_nearest():
    v = np.array([[0, 128, 129, 385, 386, 32896, 65406, 65407, 65535]] * 16, dtype=np.uint16)
    v = np.repeat(v, 2, axis=1)
    photo = load_image(encode(Image.fromarray(v), "PNG"))
    # v/257 = 0, 0.498, 0.502, 1.498, 1.502, 128, 254.498, 254.502, 255 (257·254 = 65278)
    np.testing.assert_array_equal(photo.rgb[0, ::2, 0], [0, 0, 1, 1, 2, 128, 254, 255, 255])
    assert photo.source_mode == "I;16"


def test_alpha_is_composited_on_white():
    a = np.zeros((16, 16, 4), np.uint8)
    a[:8] = (200, 100, 0, 128)
    a[8:] = (10, 20, 30, 255)
    photo = load_image(encode(a, "PNG"))
    # 200·128/255 + 255·127/255 = 227.4; 100·128/255 + 127 = 177.2; 0 + 127 = 127
    np.testing.assert_array_equal(photo.rgb[0, 0], (227, 177, 127))
    np.testing.assert_array_equal(photo.rgb[15, 15], (10, 20, 30))


def test_grey_with_alpha_is_composited_on_white():
    la = Image.merge("LA", [Image.new("L", (16, 16), 60), Image.new("L", (16, 16), 200)])
    # 60·200/255 + 255·55/255 = 47.06 + 55 = 102.06
    np.testing.assert_array_equal(load_image(encode(la, "PNG")).rgb[3, 3], (102, 102, 102))


def test_cmyk_jpeg_matches_an_independent_decoder():
    im = Image.new("CMYK", (32, 32), (50, 100, 150, 30))
    data = encode(im, "JPEG", quality=100)
    assert b"Adobe" in data  # APP14 Adobe segment: inverted CMYK convention
    ours = load_image(data).rgb[5, 5].astype(int)
    theirs = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[5, 5, ::-1].astype(int)
    # by hand: (255 − C)(255 − K)/255 = 205·225/255, 155·225/255, 105·225/255
    assert np.abs(ours - (181, 137, 93)).max() <= 1
    assert np.abs(ours - theirs).max() <= 2


def test_unsupported_mode_branch():
    class Odd:
        mode = "XYZ;99"
        info: dict = {}

    with pytest.raises(ImageError, match=r"^'odd\.tif' has the colour mode XYZ;99"):
        loader._flatten(Odd(), "odd.tif")  # type: ignore[arg-type]


def test_out_of_memory_becomes_image_error(monkeypatch):
    from PIL import ImageFile

    def no_memory(self):
        raise MemoryError

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_memory)
    with pytest.raises(ImageError, match=r"^'upload' could not be decoded: not enough memory"):
        load_image(good_png())


# ---------------------------------------------------------------------------------------
# Encoders
# ---------------------------------------------------------------------------------------


def _jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of every segment before the scan data."""
    assert data[:2] == b"\xff\xd8"
    out, i = [], 2
    while True:
        marker = data[i + 1]
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        out.append((marker, data[i + 4 : i + 2 + length]))
        if marker == 0xDA:
            return out
        i += 2 + length


def test_jpeg_has_no_metadata_and_full_chroma():
    # start from a photo that carries EXIF with GPS and an ICC profile
    exif = Image.Exif()
    exif[0x0132] = "2020:01:01 00:00:00"
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)
    source = encode(unique_pattern(), "JPEG", exif=exif.tobytes(), icc_profile=display_p3_icc())
    photo = load_image(source)
    data = to_jpeg_bytes(photo.rgb)
    markers = [m for m, _ in _jpeg_segments(data)]
    assert set(markers) <= {0xE0, 0xDB, 0xC0, 0xC4, 0xDA}, [hex(m) for m in markers]
    assert b"Exif" not in data and b"ICC_PROFILE" not in data
    sof = dict(_jpeg_segments(data))[0xC0]
    n = sof[5]
    sampling = [sof[6 + 3 * k + 1] for k in range(n)]
    assert n == 3 and sampling == [0x11, 0x11, 0x11]  # 4:4:4
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    assert np.abs(decoded.astype(int) - photo.rgb).mean() < 2


def test_jpeg_quality_changes_size_and_is_validated():
    rgb = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert len(to_jpeg_bytes(rgb, quality=30)) < len(to_jpeg_bytes(rgb, quality=95))
    assert len(to_jpeg_bytes(rgb[:, :, 0])) > 0  # grey is accepted
    for q in (0, 101, 2.5, True):
        with pytest.raises(ValueError, match="quality must be"):
            to_jpeg_bytes(rgb, quality=q)  # type: ignore[arg-type]
    for bad in (
        rgb.astype(np.float32),
        rgb[:, :, :2],
        np.zeros((0, 4, 3), np.uint8),
        np.zeros((2, 2, 2, 3), np.uint8),
    ):
        with pytest.raises(ValueError, match="to_jpeg_bytes needs a non-empty uint8 array"):
            to_jpeg_bytes(bad)
    with pytest.raises(ValueError, match="to_jpeg_bytes needs"):
        to_jpeg_bytes(np.zeros((4, 4, 4), np.uint8))


def _png_chunk_types(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    types, i = [], 8
    while i < len(data):
        (length,) = struct.unpack(">I", data[i : i + 4])
        ctype = data[i + 4 : i + 8]
        assert (
            zlib.crc32(data[i + 4 : i + 8 + length])
            == struct.unpack(">I", data[i + 8 + length : i + 12 + length])[0]
        )
        types.append(ctype)
        i += 12 + length
    return types


@pytest.mark.parametrize("shape", [(20, 30, 3), (20, 30, 4), (20, 30)])
def test_png_is_lossless_and_bare(shape):
    arr = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    data = to_png_bytes(arr)
    assert set(_png_chunk_types(data)) == {b"IHDR", b"IDAT", b"IEND"}
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr.ndim == 3:
        decoded = decoded[:, :, [2, 1, 0, 3][: arr.shape[2]]]  # OpenCV gives BGR(A)
    np.testing.assert_array_equal(decoded, arr)


def test_png_rejects_bad_arrays():
    for bad in (
        np.zeros((4, 4, 3), np.uint16),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros(5, np.uint8),
    ):
        with pytest.raises(ValueError, match="to_png_bytes needs"):
            to_png_bytes(bad)


# ---------------------------------------------------------------------------------------
# downscale
# ---------------------------------------------------------------------------------------


def test_downscale_halves_by_block_means():
    a = np.array([[0, 2, 4, 6], [2, 4, 6, 8], [10, 20, 30, 40], [50, 60, 70, 80]], np.uint8)
    out = downscale(a, long_side=2)
    # block means: (0+2+2+4)/4 = 2, (4+6+6+8)/4 = 6, (10+20+50+60)/4 = 35, (30+40+70+80)/4 = 55
    np.testing.assert_array_equal(out, [[2, 6], [35, 55]])
    assert out.dtype == np.uint8


def test_downscale_non_integer_factor_weights_partial_pixels():
    # 3 → 2: output 0 covers pixel 0 and half of pixel 1: (0 + 0.5·30)/1.5 = 10;
    # output 1 covers half of pixel 1 and pixel 2: (0.5·30 + 60)/1.5 = 50.
    a = np.tile(np.array([0, 30, 60], np.float32), (3, 1))
    np.testing.assert_allclose(downscale(a, long_side=2), [[10, 50], [10, 50]], atol=1e-4)


def test_downscale_keeps_aspect_and_channels():
    rgb = np.zeros((2000, 3000, 3), np.uint8)
    assert downscale(rgb, long_side=1500).shape == (1000, 1500, 3)
    assert downscale(np.zeros((300, 200, 1), np.float64), long_side=30).shape == (30, 20, 1)
    assert downscale(np.zeros((10, 1000), np.uint16), long_side=100).shape == (1, 100)


def test_downscale_never_upscales():
    rgb = unique_pattern()
    for long_side in (40, 41, 10_000):
        out = downscale(rgb, long_side=long_side)
        np.testing.assert_array_equal(out, rgb)
        assert out is not rgb


def test_downscale_validates():
    rgb = np.zeros((10, 10, 3), np.uint8)
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="long_side must be a positive integer"):
            downscale(rgb, long_side=bad)  # type: ignore[arg-type]
    for arr in (
        np.zeros(10, np.uint8),
        np.zeros((2, 2, 2, 2), np.uint8),
        np.zeros((0, 5), np.uint8),
    ):
        with pytest.raises(ValueError, match="H×W or H×W×C"):
            downscale(arr, long_side=4)
    for arr in (np.zeros((5, 5), bool), np.zeros((5, 5), np.int64)):
        with pytest.raises(ValueError, match="supports uint8, uint16, float32 and float64"):
            downscale(arr, long_side=4)
    with pytest.raises(ValueError, match="1 to 512 channels"):
        downscale(np.zeros((5, 5, 0), np.uint8), long_side=4)


def test_loaded_photo_round_trips_through_jpeg_and_downscale():
    photo = load_image(png_from_rows(64, 32, 8, 0, lambda y: bytes(range(64))))
    small = downscale(photo.rgb, long_side=32)
    assert small.shape == (16, 32, 3)
    # pairs (2k, 2k+1) average to 2k + 0.5, rounded to even or up by OpenCV: within 1
    assert np.abs(small[0, :, 0].astype(int) - (np.arange(32) * 2 + 0.5)).max() <= 1
    again = load_image(to_jpeg_bytes(small, quality=95))
    assert again.format == "JPEG" and np.abs(again.rgb.astype(int) - small).max() <= 3


# ---------------------------------------------------------------------------------------
# Colour: NCLX colour box of HEIC files (no ICC profile)
# ---------------------------------------------------------------------------------------


def heic_with_nclx(code, primaries, transfer):
    import pillow_heif

    arr = np.full((32, 32, 3), code, np.uint8)
    buf = io.BytesIO()
    heif = pillow_heif.from_bytes(mode="RGB", size=(32, 32), data=arr.tobytes())
    nclx = {
        "color_primaries": primaries,
        "transfer_characteristics": transfer,
        "matrix_coefficients": 6,
        "full_range_flag": 1,
    }
    heif.save(buf, quality=-1, nclx_profile=nclx)  # quality -1: lossless
    return buf.getvalue()


# Worked by hand. Display P3 (200, 150, 100), sRGB curve: linear (0.5776, 0.3049, 0.1274);
# P3 → sRGB matrix [[1.2249, −0.2249, 0], [−0.0421, 1.0421, 0], [−0.0196, −0.0786,
# 1.0983]] (published, see test_derived_matrices_match_published_ones) → (0.6389, 0.2934,
# 0.1046) → sRGB-encoded × 255 = (209.2, 147.4, 91.0). P3 (0, 128, 0): linear G 0.2158 →
# (−0.0485, 0.2249, −0.0170) → clip → (0, 0.2249, 0) → (0, 130.4, 0).
# BT.2020 (200, 150, 100) with the BT.709 curve: linear (0.6153, 0.3523, 0.1670); BT.2020
# → sRGB [[1.6605, −0.5876, −0.0728], [−0.1246, 1.1329, −0.0083], [−0.0182, −0.1006,
# 1.1187]] (ITU-R BT.2087) → (0.8025, 0.3211, 0.1402) → (231.4, 153.6, 104.6).
NCLX_CASES = [
    ((200, 150, 100), 12, 13, (209, 147, 91)),
    ((0, 128, 0), 12, 13, (0, 130, 0)),
    ((200, 150, 100), 9, 14, (231, 154, 105)),
    ((200, 150, 100), 1, 1, (200, 150, 100)),  # BT.709 primaries = sRGB's: unchanged
    ((200, 150, 100), 2, 2, (200, 150, 100)),  # unspecified: taken as sRGB
]


@pytest.mark.parametrize(("code", "primaries", "transfer", "srgb_code"), NCLX_CASES)
def test_heic_nclx_colour_box_is_converted(code, primaries, transfer, srgb_code):
    photo = load_image(heic_with_nclx(code, primaries, transfer), name="p3.heic")
    assert photo.format == "HEIF"
    assert photo.icc_converted == (primaries in (9, 12))
    assert np.abs(photo.rgb.astype(int) - srgb_code).max() <= 1, photo.rgb[0, 0]


# ---------------------------------------------------------------------------------------
# reduce_to and Photo.decode_scale
# ---------------------------------------------------------------------------------------


def quadrant_image(w, h):
    """Four flat quadrants of known colours (even sizes: quadrant edges on 8-px blocks)."""
    arr = np.empty((h, w, 3), np.uint8)
    arr[: h // 2, : w // 2] = (200, 40, 40)
    arr[: h // 2, w // 2 :] = (40, 200, 40)
    arr[h // 2 :, : w // 2] = (40, 40, 200)
    arr[h // 2 :, w // 2 :] = (128, 128, 128)
    return arr


@pytest.mark.parametrize(
    ("reduce_to", "size", "scale"),
    [
        (None, (640, 480), 1.0),
        (1000, (640, 480), 1.0),
        (320, (320, 240), 0.5),
        (100, (160, 120), 0.25),
        (80, (80, 60), 0.125),
        (1, (80, 60), 0.125),
    ],
)
def test_reduce_to_decodes_a_jpeg_smaller(reduce_to, size, scale):
    # 640 px long side: 1/2 → 320, 1/4 → 160, 1/8 → 80; the smallest not below reduce_to.
    data = encode(Image.fromarray(quadrant_image(640, 480)), "JPEG", quality=95)
    photo = load_image(data, reduce_to=reduce_to)
    assert photo.size == size
    assert photo.original_size == (640, 480)
    assert photo.decode_scale == scale
    w, h = size
    for (y, x), colour in zip(
        ((h // 4, w // 4), (h // 4, 3 * w // 4), (3 * h // 4, w // 4), (3 * h // 4, 3 * w // 4)),
        ((200, 40, 40), (40, 200, 40), (40, 40, 200), (128, 128, 128)),
        strict=True,
    ):
        assert np.abs(photo.rgb[y, x].astype(int) - colour).max() <= 4


def test_reduce_to_odd_size_orientation_and_pillow_path():
    # 401 × 301 turned by EXIF orientation 6, reduced 2×: ceil(401/2) = 201, ceil(301/2)
    # = 151, upright (151 wide, 201 high); the scale is exactly 1/2, not 201/401.
    arr = quadrant_image(401, 301)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.fromarray(arr), "JPEG", quality=95, exif=exif.tobytes())
    photo = load_image(data, reduce_to=200)
    assert photo.size == (151, 201)
    assert photo.decode_scale == 0.5
    # A JPEG with an ICC profile goes through Pillow (draft mode): reduced the same way.
    icc = encode(Image.fromarray(arr), "JPEG", quality=95, icc_profile=display_p3_icc())
    photo = load_image(icc, reduce_to=100)
    assert photo.size == (101, 76) and photo.decode_scale == 0.25 and photo.icc_converted


def test_reduce_to_is_ignored_for_other_formats():
    png = encode(Image.fromarray(quadrant_image(640, 480)), "PNG")
    photo = load_image(png, reduce_to=100)
    assert photo.size == (640, 480) and photo.decode_scale == 1.0
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="reduce_to must be a positive integer"):
            load_image(png, reduce_to=bad)  # type: ignore[arg-type]


def test_read_taken_at_reads_the_header_only(tmp_path):
    from datetime import datetime

    from progress.loader import read_taken_at

    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2025:06:07 08:09:10"  # DateTimeOriginal
    path = tmp_path / "dated.jpg"
    Image.new("RGB", (40, 30), (120, 90, 80)).save(path, "JPEG", exif=exif)
    assert read_taken_at(path) == datetime(2025, 6, 7, 8, 9, 10)
    undated = tmp_path / "undated.png"
    Image.new("RGB", (40, 30)).save(undated)
    assert read_taken_at(undated) is None
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    with pytest.raises(ImageError, match="notes.jpg"):
        read_taken_at(text)
