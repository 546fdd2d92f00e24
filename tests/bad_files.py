"""Generator of a corpus of bad and awkward image files, made in memory.

Nothing binary is committed: every file is built here, by hand where the point is the
exact bytes (PNG chunks with their CRCs, EXIF blocks, ICC profiles) and with Pillow,
OpenCV or pillow-heif where a real encoder's output is wanted.

Each :class:`Case` declares its expectation: either it loads (with the expected array
shape and a pixel check whose expected values are computed here from the file's known
content, never by the loader), or :func:`progress.loader.load_image` raises
:class:`progress.ImageError` whose message matches a regular expression.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

from progress.loader import Photo

# ---------------------------------------------------------------------------------------
# Small writers: PNG chunks, EXIF (TIFF) blocks, JPEG segments, ICC profiles
# ---------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(ctype: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and the CRC-32 of type + data."""
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def png_ihdr(width: int, height: int, bit_depth: int, colour_type: int) -> bytes:
    return png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    )


def png_from_rows(
    width: int,
    height: int,
    bit_depth: int,
    colour_type: int,
    rows: Callable[[int], bytes],
    *,
    extra: bytes = b"",
) -> bytes:
    """A PNG whose scanline ``y`` (without its filter byte) is ``rows(y)``; filter 0."""
    comp = zlib.compressobj(9)
    parts = []
    for y in range(height):
        parts.append(comp.compress(b"\x00" + rows(y)))
    parts.append(comp.flush())
    return (
        PNG_SIGNATURE
        + png_ihdr(width, height, bit_depth, colour_type)
        + extra
        + png_chunk(b"IDAT", b"".join(parts))
        + png_chunk(b"IEND", b"")
    )


def png_rgb16(values: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG (colour type 2, depth 16) from an H×W×3 uint16 array."""
    h, w, _ = values.shape
    big = values.astype(">u2")
    return png_from_rows(w, h, 16, 2, lambda y: big[y].tobytes())


def exif_block(
    ifd0: dict[int, tuple[int, Any]], exif_ifd: dict[int, tuple[int, Any]] | None = None
) -> bytes:
    """A big-endian TIFF/EXIF block.

    Entries are ``tag: (type, value)`` with type 2 (ASCII, value str or bytes),
    3 (SHORT, int) or 4 (LONG, int). When ``exif_ifd`` is given, IFD0 gets an
    ExifIFD pointer (0x8769) to a second IFD holding those entries.
    """

    def encode(entries: dict[int, tuple[int, Any]], start: int) -> tuple[bytes, bytes]:
        n = len(entries)
        data_at = start + 2 + 12 * n + 4
        table = struct.pack(">H", n)
        data = b""
        for tag in sorted(entries):
            typ, value = entries[tag]
            if typ == 2:
                raw = value.encode("latin-1") if isinstance(value, str) else bytes(value)
                raw += b"\x00"
                count = len(raw)
            elif typ == 3:
                raw, count = struct.pack(">H", value), 1
            else:
                raw, count = struct.pack(">I", value), 1
            if len(raw) <= 4:
                field_ = raw.ljust(4, b"\x00")
            else:
                field_ = struct.pack(">I", data_at + len(data))
                data += raw + (b"\x00" if len(raw) % 2 else b"")
            table += struct.pack(">HHI", tag, typ, count) + field_
        return table + b"\x00\x00\x00\x00", data

    entries0 = dict(ifd0)
    if exif_ifd is not None:
        entries0[0x8769] = (4, 0)  # placeholder, patched below
    table0, data0 = encode(entries0, 8)
    sub_at = 8 + len(table0) + len(data0)
    if exif_ifd is not None:
        entries0[0x8769] = (4, sub_at)
        table0, data0 = encode(entries0, 8)
        table1, data1 = encode(exif_ifd, sub_at)
    else:
        table1 = data1 = b""
    return b"MM\x00\x2a" + struct.pack(">I", 8) + table0 + data0 + table1 + data1


def jpeg_with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """Insert an APP1 ``Exif`` segment carrying ``payload`` right after the SOI marker."""
    body = b"Exif\x00\x00" + payload
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def _s15f16(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _icc_xyz(xyz: np.ndarray | tuple[float, float, float]) -> bytes:
    return b"XYZ \x00\x00\x00\x00" + b"".join(_s15f16(float(v)) for v in xyz)


def _icc_mluc(text: str) -> bytes:
    s = text.encode("utf-16-be")
    return (
        b"mluc\x00\x00\x00\x00"
        + struct.pack(">II", 1, 12)
        + b"enUS"
        + struct.pack(">II", len(s), 28)
        + s
    )


def icc_trc_srgb() -> bytes:
    """parametricCurveType, function 3: Y = (aX + b)^g for X >= d, Y = cX below."""
    params = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
    return b"para\x00\x00\x00\x00" + struct.pack(">HH", 3, 0) + b"".join(_s15f16(p) for p in params)


def icc_trc_gamma(gamma: float) -> bytes:
    """curveType with one entry: a pure power law, gamma as u8Fixed8Number."""
    return b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, round(gamma * 256)) + b"\x00\x00"


D50_ICC = np.array([0.9642, 1.0, 0.8249])  # the ICC profile connection space illuminant
D65_XY = (0.3127, 0.3290)
BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)


def xy_to_xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


def rgb_to_xyz_matrix(
    primaries: tuple[tuple[float, float], ...], white: tuple[float, float]
) -> np.ndarray:
    """RGB → XYZ matrix from chromaticities: columns x/y, 1, z/y scaled so RGB=1 is white."""
    p = np.stack([xy_to_xyz(xy) for xy in primaries], axis=1)
    s = np.linalg.solve(p, xy_to_xyz(white))
    return p * s


def bradford(src_white: np.ndarray, dst_white: np.ndarray) -> np.ndarray:
    """Bradford chromatic adaptation matrix from ``src_white`` to ``dst_white`` (XYZ)."""
    gain = (BRADFORD @ dst_white) / (BRADFORD @ src_white)
    return np.linalg.inv(BRADFORD) @ np.diag(gain) @ BRADFORD


def _icc_assemble(colour_space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    n = len(tags)
    offset = 128 + 4 + 12 * n
    table = struct.pack(">I", n)
    body = b""
    for sig, data in tags:
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data + b"\x00" * (-len(data) % 4)
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"\x00" * 4  # preferred CMM
        + struct.pack(">I", 0x04300000)  # version 4.3
        + b"mntr"
        + colour_space
        + b"XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\x00" * 4  # platform
        + b"\x00" * 4  # flags
        + b"\x00" * 8  # manufacturer, model
        + b"\x00" * 8  # attributes
        + struct.pack(">I", 0)  # rendering intent: perceptual
        + b"".join(_s15f16(v) for v in D50_ICC)
        + b"\x00" * 4  # creator
        + b"\x00" * 16  # profile ID (zero: not computed)
        + b"\x00" * 28
    )
    assert len(header) == 128
    return header + table + body


def icc_rgb_profile(
    description: str,
    primaries: tuple[tuple[float, float], ...],
    trc: bytes,
    white: tuple[float, float] = D65_XY,
) -> bytes:
    """A v4 matrix/TRC display profile; colorants Bradford-adapted from ``white`` to D50."""
    white_xyz = xy_to_xyz(white)
    chad = bradford(white_xyz, D50_ICC)
    m = chad @ rgb_to_xyz_matrix(primaries, white)
    tags = [
        (b"desc", _icc_mluc(description)),
        (b"cprt", _icc_mluc("No copyright, test profile")),
        (b"wtpt", _icc_xyz(D50_ICC)),
        (b"chad", b"sf32\x00\x00\x00\x00" + b"".join(_s15f16(v) for v in chad.ravel())),
        (b"rXYZ", _icc_xyz(m[:, 0])),
        (b"gXYZ", _icc_xyz(m[:, 1])),
        (b"bXYZ", _icc_xyz(m[:, 2])),
        (b"rTRC", trc),
        (b"gTRC", trc),
        (b"bTRC", trc),
    ]
    return _icc_assemble(b"RGB ", tags)


def icc_gray_profile(description: str, trc: bytes) -> bytes:
    """A v4 grey display profile with a D50 white and the given tone curve."""
    tags = [
        (b"desc", _icc_mluc(description)),
        (b"cprt", _icc_mluc("No copyright, test profile")),
        (b"wtpt", _icc_xyz(D50_ICC)),
        (b"kTRC", trc),
    ]
    return _icc_assemble(b"GRAY", tags)


# Published primaries (CIE 1931 xy), both with a D65 white:
# Display P3: SMPTE EG 432-1 (DCI-P3 primaries) with the sRGB tone curve (Apple).
P3_PRIMARIES = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
# Adobe RGB (1998) Color Image Encoding, Adobe Systems 2005: gamma 563/256.
ADOBE_PRIMARIES = ((0.640, 0.330), (0.210, 0.710), (0.150, 0.060))
ADOBE_GAMMA = 563 / 256
# sRGB, IEC 61966-2-1.
SRGB_PRIMARIES = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060))


@functools.cache
def display_p3_icc() -> bytes:
    return icc_rgb_profile("Display P3 (test)", P3_PRIMARIES, icc_trc_srgb())


@functools.cache
def adobe_rgb_icc() -> bytes:
    return icc_rgb_profile("Adobe RGB (1998) (test)", ADOBE_PRIMARIES, icc_trc_gamma(ADOBE_GAMMA))


@functools.cache
def linear_gray_icc() -> bytes:
    return icc_gray_profile("Linear grey (test)", icc_trc_gamma(1.0))


def srgb_encode(u: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 transfer function, linear [0, 1] → encoded [0, 1]."""
    u = np.clip(u, 0.0, 1.0)
    return np.where(u <= 0.0031308, 12.92 * u, 1.055 * u ** (1 / 2.4) - 0.055)


def srgb_decode(v: np.ndarray) -> np.ndarray:
    """Inverse of :func:`srgb_encode`."""
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def expected_srgb_from(code: tuple[int, int, int], primaries, decode) -> np.ndarray:
    """8-bit sRGB of an 8-bit RGB code in another D65 space (relative colorimetric, clipped).

    linear = decode(code / 255); XYZ = M_src · linear; sRGB linear = M_sRGB⁻¹ · XYZ;
    clip to [0, 1]; encode with the sRGB curve; round. Both spaces have a D65 white,
    so no chromatic adaptation is needed (the profile's D50 adaptation cancels).
    """
    m = np.linalg.inv(rgb_to_xyz_matrix(SRGB_PRIMARIES, D65_XY)) @ rgb_to_xyz_matrix(
        primaries, D65_XY
    )
    lin = decode(np.asarray(code, dtype=float) / 255.0)
    return np.round(srgb_encode(m @ lin) * 255.0)


# ---------------------------------------------------------------------------------------
# Base images
# ---------------------------------------------------------------------------------------


def unique_pattern(h: int = 24, w: int = 40) -> np.ndarray:
    """An H×W×3 uint8 image in which every pixel differs (asymmetric in every way)."""
    r, c = np.mgrid[0:h, 0:w]
    return np.stack([r * 10 % 256, c * 6 % 256, (r * 7 + c * 3) % 256], axis=2).astype(np.uint8)


def block_pattern(h: int = 48, w: int = 64) -> np.ndarray:
    """Flat 16×16 blocks of distinct colours (JPEG-friendly: little ringing)."""
    r, c = np.mgrid[0:h, 0:w] // 16
    return np.stack([r * 80 + 20, c * 60 + 10, (r * 3 + c * 5) * 12 % 256], axis=2).astype(np.uint8)


def encode(arr_or_im: np.ndarray | Image.Image, fmt: str, **kw: Any) -> bytes:
    im = Image.fromarray(arr_or_im) if isinstance(arr_or_im, np.ndarray) else arr_or_im
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


@functools.cache
def good_jpeg() -> bytes:
    return encode(block_pattern(), "JPEG", quality=95, subsampling=0)


@functools.cache
def good_png() -> bytes:
    return encode(unique_pattern(), "PNG")


def one_bit_png(width: int, height: int) -> bytes:
    """An all-black 1-bit greyscale PNG of any size: tiny, however many pixels it claims."""
    row = bytes((width + 7) // 8)
    return png_from_rows(width, height, 1, 0, lambda y: row)


def header_only_png(width: int, height: int) -> bytes:
    """A PNG whose correct IHDR claims ``width × height``; no pixel data follows."""
    return PNG_SIGNATURE + png_ihdr(width, height, 8, 2) + png_chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A valid small JPEG whose SOF0 frame header is patched to claim another size."""
    data = bytearray(good_jpeg())
    i = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, i + 5, height, width)
    return bytes(data)


def orientation_png(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(unique_pattern(), "PNG", exif=exif.tobytes())


# EXIF 2.3 (CIPA DC-008), tag 0x0112: where the stored 0th row and 0th column appear
# in the upright view, and the numpy operation that produces that view.
ORIENTATION_SPEC: dict[int, tuple[str, str, Callable[[np.ndarray], np.ndarray]]] = {
    1: ("top", "left", lambda a: a),
    2: ("top", "right", np.fliplr),
    3: ("bottom", "right", lambda a: np.rot90(a, 2)),
    4: ("bottom", "left", np.flipud),
    5: ("left", "top", lambda a: np.swapaxes(a, 0, 1)),
    6: ("right", "top", lambda a: np.rot90(a, -1)),  # k=-1: 90° clockwise
    7: ("right", "bottom", lambda a: np.rot90(np.swapaxes(a, 0, 1), 2)),
    8: ("left", "bottom", lambda a: np.rot90(a, 1)),  # k=1: 90° counter-clockwise
}


# ---------------------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One corpus file and what loading it must do.

    ``via`` is how the test hands it to ``load_image``: ``"bytes"``, ``"path"`` (written
    to ``tmp_path / filename``) or ``"file"`` (an open binary file object).
    """

    id: str
    make: Callable[[], bytes]
    raises: str | None = None
    shape: tuple[int, int] | None = None
    check: Callable[[Photo], None] | None = None
    filename: str = "photo.jpg"
    via: str = "bytes"
    kwargs: dict[str, Any] = field(default_factory=dict)
    expected_name: str | None = None


def _all_equal(expected: np.ndarray, atol: int = 0) -> Callable[[Photo], None]:
    def check(photo: Photo) -> None:
        diff = np.abs(photo.rgb.astype(int) - expected.astype(int))
        assert diff.max() <= atol, f"max difference {diff.max()} > {atol}"

    return check


def _uniform(colour: tuple[int, int, int], atol: int = 0, **attrs: Any) -> Callable[[Photo], None]:
    def check(photo: Photo) -> None:
        diff = np.abs(photo.rgb.astype(int) - np.array(colour)).max()
        assert diff <= atol, f"pixels differ from {colour} by {diff}"
        for key, value in attrs.items():
            assert getattr(photo, key) == value, (key, getattr(photo, key), value)

    return check


def _attrs(**attrs: Any) -> Callable[[Photo], None]:
    return _uniform((0, 0, 0), atol=255, **attrs)


def _solid(mode: str, value: Any, size: tuple[int, int] = (32, 24)) -> Image.Image:
    return Image.new(mode, size, value)


def _animated_gif() -> bytes:
    frames = [_solid("RGB", c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _noise_gif() -> bytes:
    noise = np.random.default_rng(5).integers(0, 256, (64, 64), dtype=np.uint8)
    return encode(noise, "GIF")


def _multipage_tiff() -> bytes:
    pages = [_solid("RGB", c) for c in ((10, 20, 30), (200, 100, 50))]
    return encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def _grey16() -> np.ndarray:
    # one row of 16-bit values at rounding edges: round(v / 257) flips between 385 and 386
    row = np.array([0, 128, 129, 385, 386, 32896, 65406, 65407, 65535] * 2, dtype=np.uint16)
    return np.tile(row, (16, 1))


def _grey16_expected() -> np.ndarray:
    v = _grey16().astype(float)
    e = np.floor(v / 257 + 0.5)  # round(v · 255 / 65535), halves up
    return np.repeat(e[:, :, None], 3, axis=2)


def _rgb16() -> np.ndarray:
    a = np.zeros((16, 20, 3), np.uint16)
    a[..., 0] = 0x12FF
    a[..., 1] = 0x8000
    a[..., 2] = 0xFFFF
    a[8:, :, 0] = 0x0101
    return a


def _cmyk_jpeg() -> bytes:
    im = Image.new("CMYK", (32, 32), (0, 255, 255, 0))
    im.paste((50, 100, 150, 30), (0, 16, 32, 32))
    return encode(im, "JPEG", quality=100)


def _cmyk_expected() -> np.ndarray:
    # naive CMYK → RGB on un-inverted values: R = (255 − C)(255 − K) / 255, etc.
    def rgb(c: int, m: int, y: int, k: int) -> list[float]:
        return [(255 - v) * (255 - k) / 255 for v in (c, m, y)]

    out = np.zeros((32, 32, 3))
    out[:16] = rgb(0, 255, 255, 0)
    out[16:] = rgb(50, 100, 150, 30)
    return out


def _palette_png(transparent: bool) -> bytes:
    im = Image.new("P", (32, 24), 0)
    im.putpalette([200, 30, 40, 10, 220, 90] + [0] * (254 * 3))
    im.paste(1, (16, 0, 32, 24))
    if transparent:
        return encode(im, "PNG", transparency=1)
    return encode(im, "PNG")


def _half_split(
    left: tuple[int, int, int], right: tuple[int, int, int], h: int = 24, w: int = 32
) -> np.ndarray:
    out = np.empty((h, w, 3), np.uint8)
    out[:, : w // 2] = left
    out[:, w // 2 :] = right
    return out


def _over_white(c: float, a: float) -> float:
    return round(c * a / 255 + 255 * (1 - a / 255))


def _rgba_png() -> bytes:
    a = np.zeros((16, 20, 4), np.uint8)
    a[:, :10] = (200, 100, 0, 128)
    a[:, 10:] = (0, 50, 250, 0)
    return encode(a, "PNG")


def _rgba_expected() -> np.ndarray:
    out = np.zeros((16, 20, 3))
    out[:, :10] = [_over_white(c, 128) for c in (200, 100, 0)]
    out[:, 10:] = 255
    return out


def _la_png() -> bytes:
    grey, alpha = Image.new("L", (16, 16), 60), Image.new("L", (16, 16), 200)
    return encode(Image.merge("LA", [grey, alpha]), "PNG")


def _bitonal_png() -> bytes:
    a = np.zeros((16, 24), bool)
    a[:, 12:] = True
    return encode(Image.fromarray(a), "PNG")


def _garbage_exif(payload: bytes) -> Callable[[], bytes]:
    return lambda: jpeg_with_app1(good_jpeg(), payload)


def _dated_exif(**dates: str) -> bytes:
    ifd0: dict[int, tuple[int, Any]] = {}
    sub: dict[int, tuple[int, Any]] = {}
    if "dt" in dates:
        ifd0[0x0132] = (2, dates["dt"])
    if "original" in dates:
        sub[0x9003] = (2, dates["original"])
    if "digitized" in dates:
        sub[0x9004] = (2, dates["digitized"])
    return exif_block(ifd0, sub or None)


def _heic_with_date() -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2024:03:15 09:30:00"
    return encode(block_pattern(), "HEIF", exif=exif.tobytes(), quality=90)


def _tiff16_rgb() -> bytes:
    ok, buf = cv2.imencode(".tiff", _rgb16()[:, :, ::-1])  # OpenCV writes BGR order
    assert ok
    return buf.tobytes()


def _lab_tiff() -> bytes:
    # Pillow's LAB mode: L* scaled to 0–255, a* and b* offset by 128; (128,128,128) is grey
    return encode(_solid("LAB", (128, 128, 128)), "TIFF")


def _expected_lab_grey() -> float:
    # L* = 128/255·100 = 50.196; Y = ((L* + 16)/116)^3 = 0.1857; sRGB 8-bit of that Y
    y = ((128 / 255 * 100 + 16) / 116) ** 3
    return float(np.round(srgb_encode(np.array(y)) * 255))


def _icc_png(icc: bytes, code: tuple[int, int, int]) -> bytes:
    return encode(_solid("RGB", code), "PNG", icc_profile=icc)


def _truncate(make: Callable[[], bytes], n: int | Callable[[int], int]) -> Callable[[], bytes]:
    def cut() -> bytes:
        data = make()
        k = n(len(data)) if callable(n) else n
        return data[:k]

    return cut


def _flip_ihdr_crc() -> bytes:
    data = bytearray(good_png())
    data[8 + 4 + 4 + 13] ^= 0xFF  # first CRC byte of IHDR
    return bytes(data)


def _idat_offsets(png: bytes) -> tuple[int, int]:
    i = png.index(b"IDAT")
    (length,) = struct.unpack(">I", png[i - 4 : i])
    return i + 4, length


def _flip_idat_crc() -> bytes:
    data = bytearray(good_png())
    start, length = _idat_offsets(bytes(data))
    data[start + length] ^= 0xFF
    return bytes(data)


def _break_zlib_header() -> bytes:
    # A flipped byte inside the deflate data is not always caught: Pillow stops once it
    # has every row and never reaches the Adler-32 trailer. A bad zlib header always is.
    data = bytearray(good_png())
    start, _ = _idat_offsets(bytes(data))
    data[start] ^= 0xFF
    return bytes(data)


def _orientation_case(o: int) -> Case:
    expected = ORIENTATION_SPEC[o][2](unique_pattern())
    return Case(
        f"exif-orientation-{o}",
        functools.partial(orientation_png, o),
        shape=expected.shape[:2],
        check=lambda p, e=expected, o=o: (
            _all_equal(e)(p),
            _attrs(orientation=o, original_size=(40, 24))(p),
        ),
        filename="oriented.png",
    )


ERR_TRUNC = r"truncated or corrupt {} image"
TOO_MANY = r"too many pixels: {}"


def corpus() -> list[Case]:
    """All cases (≥ 30); file bytes are made lazily by each case's ``make``."""
    jpg = good_jpeg
    png = good_png
    up = unique_pattern()
    cases = [
        # --- not an image at all ------------------------------------------------------
        Case("empty", lambda: b"", raises=r"is empty \(0 bytes\)"),
        Case(
            "text-as-jpg",
            lambda: b"Dear diary,\nskin looked better today.\n" * 5,
            raises=r"not an image: it looks like plain text",
        ),
        Case(
            "pdf-as-jpg",
            lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
            raises=r"not an image: it looks like a PDF document",
        ),
        Case(
            "svg-as-jpg",
            lambda: (
                b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>\n'
            ),
            raises=r"not an image: it looks like an SVG drawing",
        ),
        Case(
            "html-as-jpg",
            lambda: (
                b"<!DOCTYPE html>\n<html><head><title>Login</title></head><body>Session expired</body></html>\n"
            ),
            raises=r"not an image: it looks like an HTML web page",
        ),
        Case(
            "xml-as-png",
            lambda: b'<?xml version="1.0" encoding="UTF-8"?>\n<plist><dict/></plist>\n',
            raises=r"not an image: it looks like an XML document",
            filename="x.png",
        ),
        Case(
            "zip-as-jpg",
            lambda: b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(40),
            raises=r"not an image: it looks like a ZIP archive",
        ),
        Case(
            "eps-as-jpg",
            lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
            raises=r"not an image: it looks like a PostScript/EPS file",
        ),
        Case(
            "mp4-as-jpg",
            lambda: b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(64),
            raises=r"not an image: it looks like a video",
        ),
        Case(
            "random-binary",
            lambda: bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8)),
            raises=r"not an image in a supported format \(unrecognised binary data\)",
        ),
        # --- images of an unsupported kind -------------------------------------------
        Case(
            "avif",
            lambda: encode(_solid("RGB", (1, 2, 3)), "AVIF"),
            raises=r"is an AVIF image, an unsupported kind of image",
            filename="p.avif",
        ),
        Case(
            "ico",
            lambda: encode(_solid("RGB", (1, 2, 3)), "ICO"),
            raises=r"is a Windows icon, an unsupported kind of image",
            filename="p.ico",
        ),
        Case(
            "psd-magic",
            lambda: b"8BPS\x00\x01" + bytes(60),
            raises=r"is a Photoshop PSD image, an unsupported kind",
        ),
        # --- truncated or corrupt -----------------------------------------------------
        Case("jpeg-soi-only", _truncate(jpg, 2), raises=ERR_TRUNC.format("JPEG")),
        Case("jpeg-cut-10-bytes", _truncate(jpg, 10), raises=ERR_TRUNC.format("JPEG")),
        Case("jpeg-cut-half", _truncate(jpg, lambda n: n // 2), raises=ERR_TRUNC.format("JPEG")),
        Case("jpeg-without-eoi", _truncate(jpg, lambda n: n - 2), raises=ERR_TRUNC.format("JPEG")),
        Case(
            "png-signature-only",
            _truncate(png, 8),
            raises=ERR_TRUNC.format("PNG"),
            filename="p.png",
        ),
        Case(
            "png-cut-in-ihdr", _truncate(png, 20), raises=ERR_TRUNC.format("PNG"), filename="p.png"
        ),
        Case(
            "png-cut-in-idat",
            _truncate(png, lambda n: n // 2),
            raises=ERR_TRUNC.format("PNG"),
            filename="p.png",
        ),
        Case("png-bad-ihdr-crc", _flip_ihdr_crc, raises=ERR_TRUNC.format("PNG"), filename="p.png"),
        Case(
            "png-bad-zlib-header",
            _break_zlib_header,
            raises=ERR_TRUNC.format("PNG"),
            filename="p.png",
        ),
        Case(
            "gif-cut-half",
            _truncate(_noise_gif, lambda n: n // 2),
            raises=ERR_TRUNC.format("GIF"),
            filename="a.gif",
        ),
        Case(
            "webp-cut-half",
            _truncate(lambda: encode(up, "WEBP", lossless=True), lambda n: n // 2),
            raises=ERR_TRUNC.format("WebP"),
            filename="a.webp",
        ),
        Case(
            "tiff-cut-half",
            _truncate(lambda: encode(up, "TIFF"), lambda n: n // 2),
            raises=ERR_TRUNC.format("TIFF"),
            filename="a.tif",
        ),
        Case(
            "heic-cut-half",
            _truncate(_heic_with_date, lambda n: n // 2),
            raises=ERR_TRUNC.format("HEIC"),
            filename="a.heic",
        ),
        # --- too many pixels, decompression bombs ------------------------------------
        Case(
            "png-header-100000x100000",
            lambda: header_only_png(100_000, 100_000),
            raises=TOO_MANY.format("10,000,000,000"),
            filename="p.png",
        ),
        Case(
            "jpeg-header-65000x65000",
            lambda: jpeg_claiming(65_000, 65_000),
            raises=TOO_MANY.format("4,225,000,000"),
        ),
        Case(
            "bomb-12000x12000-default-limit",
            lambda: one_bit_png(12_000, 12_000),
            raises=TOO_MANY.format(
                r"12000 × 12000 = 144,000,000, more than the limit of 120,000,000"
            ),
            filename="bomb.png",
        ),
        Case(
            "bomb-11000x11000-default-limit",
            lambda: one_bit_png(11_000, 11_000),
            raises=TOO_MANY.format(
                r"11000 × 11000 = 121,000,000, more than the limit of 120,000,000"
            ),
            filename="bomb.png",
        ),
        Case(
            "bomb-3000x3000-max-pixels-1M",
            lambda: one_bit_png(3_000, 3_000),
            raises=TOO_MANY.format(r"3000 × 3000 = 9,000,000, more than the limit of 1,000,000"),
            kwargs={"max_pixels": 1_000_000},
            filename="bomb.png",
        ),
        # --- file size, geometry ------------------------------------------------------
        Case(
            "over-max-bytes",
            png,
            raises=r"is too large a file: \d[\d,]* bytes, more than the limit of 100 bytes",
            kwargs={"max_bytes": 100},
            filename="p.png",
        ),
        Case(
            "over-max-bytes-path",
            png,
            raises=r"is too large a file",
            kwargs={"max_bytes": 100},
            filename="p.png",
            via="path",
        ),
        Case(
            "over-max-bytes-file",
            png,
            raises=r"is too large a file",
            kwargs={"max_bytes": 100},
            filename="p.png",
            via="file",
        ),
        Case(
            "1x1",
            lambda: encode(_solid("RGB", (9, 9, 9), (1, 1)), "PNG"),
            raises=r"is too small: 1 × 1 pixels",
            filename="p.png",
        ),
        Case(
            "15x16",
            lambda: encode(_solid("RGB", (9, 9, 9), (15, 16)), "PNG"),
            raises=r"is too small: 15 × 16 pixels",
            filename="p.png",
        ),
        Case(
            "16x16-smallest-accepted",
            lambda: encode(_solid("RGB", (9, 8, 7), (16, 16)), "PNG"),
            shape=(16, 16),
            check=_uniform((9, 8, 7)),
            filename="p.png",
        ),
        Case(
            "10x100000",
            lambda: png_from_rows(10, 100_000, 8, 0, lambda y: bytes(10)),
            raises=r"extreme aspect ratio: 10 × 100000 pixels \(10000:1",
            filename="p.png",
        ),
        Case(
            "500x20-aspect-25",
            lambda: encode(_solid("L", 90, (500, 20)), "PNG"),
            raises=r"extreme aspect ratio: 500 × 20 pixels \(25:1",
            filename="p.png",
        ),
        Case(
            "320x16-aspect-20-accepted",
            lambda: encode(_solid("L", 90, (320, 16)), "PNG"),
            shape=(16, 320),
            check=_uniform((90, 90, 90)),
            filename="p.png",
        ),
        # --- awkward but valid: they load ---------------------------------------------
        Case(
            "jpeg-trailing-garbage",
            lambda: good_jpeg() + b"\x00garbage after EOI" * 4,
            shape=(48, 64),
            check=_all_equal(block_pattern(), atol=12),
        ),
        Case(
            "png-without-iend",
            _truncate(png, lambda n: n - 12),
            shape=(24, 40),
            check=_all_equal(up),
            filename="p.png",
        ),
        # zlib's Adler-32 still guards the pixels, and Pillow does not check IDAT CRCs:
        Case(
            "png-bad-idat-crc-loads",
            _flip_idat_crc,
            shape=(24, 40),
            check=_all_equal(up),
            filename="p.png",
        ),
        Case(
            "animated-gif-first-frame",
            _animated_gif,
            shape=(24, 32),
            check=_uniform((255, 0, 0), n_frames=3, format="GIF"),
            filename="a.gif",
        ),
        Case(
            "apng-first-frame",
            lambda: encode(
                _solid("RGB", (0, 0, 200)),
                "PNG",
                save_all=True,
                append_images=[_solid("RGB", (9, 9, 9))],
            ),
            shape=(24, 32),
            check=_uniform((0, 0, 200), n_frames=2),
            filename="a.png",
        ),
        Case(
            "multipage-tiff-first-page",
            _multipage_tiff,
            shape=(24, 32),
            check=_uniform((10, 20, 30), n_frames=2, format="TIFF"),
            filename="a.tif",
        ),
        Case(
            "mpo-first-image",
            lambda: encode(
                _solid("RGB", (250, 250, 250)),
                "MPO",
                save_all=True,
                append_images=[_solid("RGB", (0, 0, 0))],
            ),
            shape=(24, 32),
            check=_uniform((250, 250, 250), atol=2, n_frames=2, format="MPO"),
        ),
        Case(
            "png-grey16",
            lambda: encode(Image.fromarray(_grey16()), "PNG"),
            shape=(16, 18),
            check=lambda p: (_all_equal(_grey16_expected())(p), _attrs(source_mode="I;16")(p)),
            filename="g16.png",
        ),
        Case(
            "tiff-grey16",
            lambda: encode(Image.fromarray(_grey16()), "TIFF"),
            shape=(16, 18),
            check=_all_equal(_grey16_expected()),
            filename="g16.tif",
        ),
        # 16-bit colour: Pillow keeps the high byte, v >> 8 (0x12FF → 0x12 = 18, not 19)
        Case(
            "png-rgb48",
            lambda: png_rgb16(_rgb16()),
            shape=(16, 20),
            check=_all_equal(_rgb16() >> 8),
            filename="c16.png",
        ),
        Case(
            "tiff-rgb48",
            _tiff16_rgb,
            shape=(16, 20),
            check=_all_equal(_rgb16() >> 8),
            filename="c16.tif",
        ),
        Case(
            "cmyk-jpeg-adobe-inverted",
            _cmyk_jpeg,
            shape=(32, 32),
            check=lambda p: (
                _all_equal(_cmyk_expected(), atol=3)(p),
                _attrs(source_mode="CMYK")(p),
            ),
        ),
        Case(
            "grey-L",
            lambda: encode(_solid("L", 77), "PNG"),
            shape=(24, 32),
            check=_uniform((77, 77, 77), source_mode="L"),
            filename="g.png",
        ),
        Case(
            "palette",
            lambda: _palette_png(False),
            shape=(24, 32),
            check=_all_equal(_half_split((200, 30, 40), (10, 220, 90))),
            filename="p.png",
        ),
        Case(
            "palette-transparent",
            lambda: _palette_png(True),
            shape=(24, 32),
            check=_all_equal(_half_split((200, 30, 40), (255, 255, 255))),
            filename="p.png",
        ),
        Case(
            "gif-transparent-index",
            lambda: encode(Image.open(io.BytesIO(_palette_png(False))), "GIF", transparency=1),
            shape=(24, 32),
            check=_all_equal(_half_split((200, 30, 40), (255, 255, 255))),
            filename="p.gif",
        ),
        Case(
            "rgba-on-white",
            _rgba_png,
            shape=(16, 20),
            check=_all_equal(_rgba_expected()),
            filename="p.png",
        ),
        Case(
            "la-on-white",
            _la_png,
            shape=(16, 16),
            check=_uniform((_over_white(60, 200),) * 3),
            filename="p.png",
        ),
        Case(
            "bilevel-1bit",
            _bitonal_png,
            shape=(16, 24),
            check=_all_equal(
                np.repeat(np.where(np.arange(24) < 12, 0, 255)[None, :, None], 16, 0).repeat(3, 2)
            ),
            filename="p.png",
        ),
        Case(
            "webp-lossless",
            lambda: encode(up, "WEBP", lossless=True),
            shape=(24, 40),
            check=_all_equal(up),
            filename="p.webp",
        ),
        Case(
            "bmp", lambda: encode(up, "BMP"), shape=(24, 40), check=_all_equal(up), filename="p.bmp"
        ),
        Case(
            "tiff-ycbcr",
            lambda: encode(_solid("YCbCr", (100, 150, 200)), "TIFF"),
            # JFIF: R = Y + 1.402(Cr−128); G = Y − 0.344136(Cb−128) − 0.714136(Cr−128); B = Y + 1.772(Cb−128)
            shape=(24, 32),
            check=_uniform(
                (
                    round(100 + 1.402 * 72),
                    round(100 - 0.344136 * 22 - 0.714136 * 72),
                    round(100 + 1.772 * 22),
                ),
                atol=1,
            ),
            filename="y.tif",
        ),
        Case(
            "tiff-lab-grey",
            _lab_tiff,
            shape=(24, 32),
            check=lambda p: _uniform((_expected_lab_grey(),) * 3, atol=1)(p),
            filename="l.tif",
        ),
        Case(
            "tiff-float-0-to-1",
            lambda: encode(_solid("F", 0.25), "TIFF"),
            shape=(24, 32),
            check=_uniform((64, 64, 64)),
            filename="f.tif",
        ),  # floor(63.75 + 0.5)
        Case(
            "tiff-int32-as-16bit",
            lambda: encode(_solid("I", 70_000), "TIFF"),
            shape=(24, 32),
            check=_uniform((255, 255, 255)),
            filename="i.tif",
        ),  # clipped to 65535
        Case(
            "heic-with-exif-date",
            _heic_with_date,
            shape=(48, 64),
            check=lambda p: (
                _all_equal(block_pattern(), atol=16)(p),
                _attrs(format="HEIF")(p),
                _taken(p, "2024-03-15T09:30:00"),
            ),
            filename="IMG_0001.HEIC",
        ),
        Case(
            "icc-display-p3",
            lambda: _icc_png(display_p3_icc(), (128, 0, 0)),
            shape=(24, 32),
            check=_uniform(
                tuple(expected_srgb_from((128, 0, 0), P3_PRIMARIES, srgb_decode)),
                atol=1,
                icc_converted=True,
            ),
            filename="p3.png",
        ),
        Case(
            "icc-adobe-rgb",
            lambda: _icc_png(adobe_rgb_icc(), (100, 180, 120)),
            shape=(24, 32),
            check=_uniform(
                tuple(
                    expected_srgb_from((100, 180, 120), ADOBE_PRIMARIES, lambda v: v**ADOBE_GAMMA)
                ),
                atol=1,
                icc_converted=True,
            ),
            filename="argb.png",
        ),
        Case(
            "icc-garbage-ignored",
            lambda: _icc_png(b"not an ICC profile" * 10, (12, 34, 56)),
            shape=(24, 32),
            check=_uniform((12, 34, 56), icc_converted=False),
            filename="p.png",
        ),
        # --- EXIF: garbage never fails ------------------------------------------------
        Case(
            "exif-random-bytes",
            _garbage_exif(bytes(np.random.default_rng(3).integers(0, 256, 300, dtype=np.uint8))),
            shape=(48, 64),
            check=_attrs(taken_at=None, orientation=1),
        ),
        Case(
            "exif-ifd-offset-past-end",
            _garbage_exif(b"MM\x00\x2a\x7f\xff\xff\xff"),
            shape=(48, 64),
            check=_attrs(taken_at=None, orientation=1),
        ),
        Case(
            "exif-ifd-count-too-big",
            _garbage_exif(b"MM\x00\x2a\x00\x00\x00\x08\xff\xff\x01\x12\x00\x03"),
            shape=(48, 64),
            check=_attrs(taken_at=None, orientation=1),
        ),
        Case(
            "exif-orientation-9",
            _garbage_exif(exif_block({0x0112: (3, 9)})),
            shape=(48, 64),
            check=_attrs(orientation=1),
        ),
        Case(
            "exif-date-garbage",
            _garbage_exif(
                _dated_exif(
                    original="yesterday-ish",
                    digitized="0000:00:00 00:00:00",
                    dt="2023:02:30 10:00:00",
                )
            ),
            shape=(48, 64),
            check=_attrs(taken_at=None),
        ),
        Case(
            "exif-date-fallback-to-datetime",
            _garbage_exif(_dated_exif(original="garbage", dt="2022:12:31 23:59:58")),
            shape=(48, 64),
            check=lambda p: _taken(p, "2022-12-31T23:59:58"),
        ),
        # --- names --------------------------------------------------------------------
        Case(
            "name-with-dotdot",
            png,
            shape=(24, 40),
            kwargs={"name": "../../etc/passwd.jpg"},
            expected_name="passwd.jpg",
            check=_attrs(name="passwd.jpg"),
        ),
        Case(
            "name-with-dotdot-error",
            lambda: b"",
            raises=r"^'passwd\.jpg' is empty",
            kwargs={"name": "..\\..\\etc\\passwd.jpg"},
            expected_name="passwd.jpg",
        ),
        Case(
            "name-non-ascii-path",
            good_jpeg,
            shape=(48, 64),
            filename="Zoë_Ñandú_面.jpg",
            via="path",
            expected_name="Zoë_Ñandú_面.jpg",
            check=_attrs(name="Zoë_Ñandú_面.jpg"),
        ),
        Case(
            "name-non-ascii-error",
            lambda: b"%PDF-1.4",
            raises=r"^'Zoë_Ñandú_面\.jpg' is not an image",
            filename="Zoë_Ñandú_面.jpg",
            via="file",
            expected_name="Zoë_Ñandú_面.jpg",
        ),
    ]
    cases += [_orientation_case(o) for o in range(1, 9)]
    return cases


def _taken(photo: Photo, iso: str) -> None:
    assert photo.taken_at is not None and photo.taken_at.isoformat() == iso, photo.taken_at
