"""Read a photo file into an 8-bit sRGB array, safely.

Supported formats
-----------------
JPEG (including multi-picture MPO files from cameras), PNG (including APNG), WebP, TIFF,
GIF, BMP and HEIC/HEIF (through ``pillow-heif``, registered lazily on first use). The file
extensions are listed in :data:`SUPPORTED_EXTENSIONS`; the file *content* decides the
format, never the extension. Only these decoders are ever tried, so a renamed EPS or PSD
file cannot reach a decoder that runs external programs.

Conversions (every result is ``H×W×3`` ``uint8`` sRGB, C-contiguous)
--------------------------------------------------------------------
- Animated GIF, APNG, multi-page TIFF, MPO: the first frame or page is loaded;
  ``Photo.n_frames`` says how many there were.
- EXIF orientation (all 8 values) is applied. HEIC files are turned by libheif itself,
  from the container's rotation and mirror boxes.
- 16-bit grey (``I;16``, ``I;16B``, ...): ``round(v / 257)``, i.e. ``(v + 128) // 257``.
  Pillow reads 16-bit-per-channel colour PNG and TIFF as 8-bit ``RGB`` by keeping the high
  byte (``v >> 8``, at most one level below rounding).
- ``I`` (32-bit integer) is taken as 16-bit data: clipped to 0–65535, then as above.
- ``F`` (32-bit float) is taken as 0–1 (scikit-image's float convention): clipped,
  ``floor(255 v + 0.5)``; NaN becomes 0.
- ``1`` (bilevel) → 0 and 255; ``L`` → grey ``R = G = B``; ``P`` → its palette colours.
- Transparency (``RGBA``, ``LA``, ``PA``, ``P`` with a transparent index, premultiplied
  ``RGBa``/``La``) is composited on white in the stored code values:
  ``c' = round((c·α + 255·(255 − α)) / 255)``.
- ``CMYK`` JPEGs are read with Adobe's inverted convention (Pillow's rawmode ``CMYK;I``,
  what Photoshop writes); without an ICC profile the naive
  ``R = 255 − C`` scaled by ``(255 − K) / 255`` conversion is used.
- ``YCbCr`` → RGB with the JFIF matrix; ``LAB`` → sRGB through LittleCMS.
- An embedded ICC profile (Display P3, Adobe RGB, a grey or CMYK profile, anything that
  matches the image's colour space) is converted to sRGB with LittleCMS
  (``PIL.ImageCms``), intent *relative colorimetric*: colours inside the sRGB gamut keep
  their measured values (what colour metrics need); colours outside it are clipped to
  the gamut boundary. For the matrix/TRC profiles of phones, perceptual intent is not
  defined and LittleCMS would use the colorimetric transform anyway. A profile that is
  unreadable or does not fit the image is ignored (the data are taken as sRGB).
- A HEIC/HEIF without ICC profile but with an NCLX colour box (ITU-T H.273 code points,
  what Android phones and iPhones write) whose primaries are Display P3 (12) or BT.2020
  (9) is converted to sRGB by a 3×3 matrix in linear light (the two white points are
  both D65), after decoding its transfer curve (13: sRGB; 1, 6, 14, 15: BT.709), clipped
  to the sRGB gamut. Primaries 1 (BT.709, i.e. sRGB's) and 2 (unspecified) are taken as
  sRGB; other primaries are not converted.
- EXIF that cannot be parsed is ignored: it never makes a load fail.

Refusals (:class:`progress.errors.ImageError`, message names the file and the reason)
-----------------------------------------------------------------------------------
empty file; not an image (says whether it looks like text, PDF, SVG/XML, HTML, ZIP,
video); an image format that is not supported (AVIF, PSD, JPEG 2000, ...); truncated or
corrupt data; more pixels than ``max_pixels`` (checked from the header before any pixel
is decoded); a file larger than ``max_bytes``; fewer than 16 pixels on a side; an aspect
ratio beyond 20:1; missing file, folder, unreadable file.

References
----------
- CIPA DC-008-2019, *Exif 2.32*: tags 0x0112 (Orientation), 0x9003, 0x9004, 0x0132.
- ICC.1:2022 (profile version 4.4), *Image technology colour management*.
- IEC 61966-2-1:1999, *Default RGB colour space: sRGB*.
- Adobe Systems (2005), *Adobe RGB (1998) Color Image Encoding*, version 2005-05.
- ITU-T H.273 (2016), *Coding-independent code points for video signal type
  identification* (colour primaries and transfer characteristics of the NCLX box).
- SMPTE RP 177-1993, *Derivation of Basic Television Color Equations* (RGB → XYZ matrix
  from the primaries and white point).
- SMPTE EG 432-1:2010, *Digital Source Processing: Color Processing for D-Cinema*
  (the P3 primaries of Display P3, which uses a D65 white and the sRGB curve).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import threading
import unicodedata
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from progress.errors import ImageError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_ASPECT_RATIO",
    "MIN_SIDE",
    "SUPPORTED_EXTENSIONS",
    "Photo",
    "downscale",
    "load_image",
    "read_taken_at",
    "to_jpeg_bytes",
    "to_png_bytes",
]

#: File name extensions the dashboard's uploader accepts (lower case, no dot).
SUPPORTED_EXTENSIONS: tuple[str, ...] = (
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

#: Default largest ``width × height`` accepted by :func:`load_image`: 120 MP, above the
#: 108 MP (12000 × 9000) and 50 MP (8160 × 6144) modes of phone cameras; a 200 MP mode
#: needs ``max_pixels`` raised (Pillow's hard cap, ``2 × Image.MAX_IMAGE_PIXELS`` =
#: 178,956,970 px, still applies).
DEFAULT_MAX_PIXELS = 120_000_000
#: Smallest accepted width and height, in pixels.
MIN_SIDE = 16
#: Largest accepted ratio of the long side to the short side.
MAX_ASPECT_RATIO = 20.0

# Pillow format names tried by ``Image.open`` (MPO comes through the JPEG opener).
_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "GIF", "BMP", "HEIF")
_ACCEPTED = "JPEG, PNG, WebP, TIFF, HEIC, GIF or BMP"

_EXIF_IFD = 0x8769
_TAG_ORIENTATION = 0x0112
_TAG_DATETIME = 0x0132
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_DATETIME_DIGITIZED = 0x9004

# EXIF 2.3, tag 0x0112: how to turn the stored pixels into the upright view.
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_DATE_RE = re.compile(r"^\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")

# The warnings filter is process-wide state. Every decode runs under this lock with its
# own filter (Pillow's warnings silenced, the decompression-bomb warning raised), so two
# loads in different threads cannot interleave ``catch_warnings`` and leave a filter
# behind. (Other code that uses ``catch_warnings`` in another thread still could.)
_PILLOW_LOCK = threading.RLock()


@dataclass(frozen=True, eq=False)
class Photo:
    """A decoded photo: pixels, capture time, display name and provenance.

    Attributes
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
        sRGB pixels, C-contiguous, upright (EXIF orientation applied).
    taken_at : datetime or None
        Capture time from EXIF: the first of DateTimeOriginal, DateTimeDigitized and
        DateTime that parses, as naive local camera time; None when none does.
    name : str
        Display name: a base file name only (never a path), or ``"upload"``.
    original_size : tuple of int
        ``(width, height)`` as stored in the file, before orientation.
    format : str
        Pillow's format name (``"JPEG"``, ``"MPO"``, ``"PNG"``, ``"HEIF"``, ...).
    source_mode : str
        Pillow mode of the stored pixels (``"RGB"``, ``"I;16"``, ``"CMYK"``, ...).
    n_frames : int
        Number of frames or pages in the file; only the first one is in ``rgb``.
    orientation : int
        EXIF orientation (1–8) that was applied; 1 when absent or invalid.
    icc_converted : bool
        True when an embedded ICC profile, or a HEIF's NCLX colour box (Display P3,
        BT.2020), was used to convert the pixels to sRGB.

    Notes
    -----
    Equality and hashing are by identity (``eq=False``): comparing arrays element-wise
    has no single truth value.
    """

    rgb: np.ndarray = field(repr=False)
    taken_at: datetime | None
    name: str
    original_size: tuple[int, int]
    format: str = ""
    source_mode: str = ""
    n_frames: int = 1
    orientation: int = 1
    icc_converted: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of ``rgb`` (after orientation)."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])

    @property
    def decode_scale(self) -> float:
        """Pixels of ``rgb`` per stored pixel: 1, or exactly 1/2, 1/4, 1/8 with ``reduce_to``.

        A JPEG reduced ``k`` times has ``ceil(L / k)`` pixels on a side of ``L``; the
        ``k`` whose ``ceil(L / k)`` gives ``rgb``'s long side is returned as ``1 / k``
        (these are distinct for every side of at least 16 px).
        """
        stored, decoded = max(self.original_size), max(self.rgb.shape[:2])
        for k in (1, 2, 4, 8):
            if -(-stored // k) == decoded:
                return 1.0 / k
        return decoded / stored


# ---------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------


def load_image(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO,
    *,
    name: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = 200 * 2**20,
    reduce_to: int | None = None,
) -> Photo:
    """Read a photo into an upright 8-bit sRGB array.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview or binary file object
        A path to read, the file's bytes, or an object with ``read()`` returning bytes
        (read from its current position up to ``max_bytes``; e.g. Streamlit's
        ``UploadedFile``).
    name : str, optional
        Display name for messages and ``Photo.name``. Only its base name is kept; it is
        never used to open anything. Default: the path's base name, else the file
        object's ``.name``, else ``"upload"``.
    max_pixels : int, optional
        Largest accepted ``width × height``, checked from the header before any pixel
        is decoded (the decompression-bomb guard). Default
        :data:`DEFAULT_MAX_PIXELS` = 120,000,000: every phone mode up to 108 MP
        (12000 × 9000) loads. Pillow's hard cap (``2 × Image.MAX_IMAGE_PIXELS``,
        178,956,970 px by default) still applies, so larger limits are capped there.
        Memory: a 108 MP JPEG without ICC profile peaks at about 0.4 GB; with an
        ICC profile (Pillow path) at about 1.5 GB (measured). ``reduce_to`` avoids both
        when the full resolution is not needed.
    max_bytes : int, optional
        Largest accepted file size in bytes.
    reduce_to : int, optional
        Let a JPEG be decoded at 1/2, 1/4 or 1/8 of its size (scaling in the DCT domain,
        much faster than decoding in full and shrinking): the smallest of these whose
        long side is still at least ``reduce_to`` pixels. Other formats, and JPEGs
        already smaller, are decoded in full. None (default): always in full.
        ``Photo.original_size`` keeps the stored size; pixel coordinates (boxes, a
        px/mm scale) of the full-size photo must be multiplied by
        :attr:`Photo.decode_scale`.

    Returns
    -------
    Photo
        The pixels (``H×W×3`` ``uint8`` sRGB), capture time, display name, stored size
        and provenance (format, mode, frame count, orientation, ICC conversion).

    Raises
    ------
    ImageError
        The file is missing, empty, too large, not an image, of an unsupported kind,
        truncated or corrupt, has too many pixels, is smaller than 16 px on a side, or
        has an aspect ratio beyond 20:1. The message names the file and the reason.
        Also when ``source`` is not a path, bytes or a binary file object (``None``, a
        number, a list, a file opened in text mode).
    ValueError
        ``max_pixels``, ``max_bytes`` or ``reduce_to`` is not a positive integer.

    Notes
    -----
    The module docstring lists the formats and colour conversions. Decoding is done
    under a process-wide lock (Pillow's warnings filter is global state), so concurrent
    calls from threads run one after another.

    A complete baseline or progressive JPEG in RGB without an ICC profile (what most
    phones and cameras write) is decoded by OpenCV's libjpeg-turbo straight into the
    array: the same pixels as Pillow's decoder (checked by ``bench/bench_pipeline.py``),
    about twice as fast for 12 MP,
    because Pillow's ``tobytes`` repacking of its 4-byte pixels costs as much as the
    decoding itself. Everything else, and any file that OpenCV does not decode
    cleanly, goes through Pillow.

    Examples
    --------
    >>> from progress.loader import load_image, to_png_bytes
    >>> import numpy as np
    >>> photo = load_image(to_png_bytes(np.zeros((20, 30, 3), np.uint8)), name="a/b.png")
    >>> photo.rgb.shape, photo.name, photo.original_size
    ((20, 30, 3), 'b.png', (30, 20))
    """
    _check_positive_int(max_pixels, "max_pixels")
    _check_positive_int(max_bytes, "max_bytes")
    if reduce_to is not None:
        _check_positive_int(reduce_to, "reduce_to")
    data, display = _read_source(source, name=name, max_bytes=max_bytes)
    if not data:
        raise ImageError(
            f"'{display}' is empty (0 bytes): choose the photo file itself, not a "
            "shortcut or a file that is still downloading."
        )
    with _pillow_guard():
        return _decode(data, display, max_pixels=max_pixels, reduce_to=reduce_to)


def read_taken_at(path: str | os.PathLike) -> datetime | None:
    """The capture time of a photo file from its header, without decoding the pixels.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    datetime or None
        The same date as ``load_image(path).taken_at`` (same formats, same EXIF rules).

    Raises
    ------
    ImageError
        If the file cannot be read (from :func:`load_image`, with its message).
    """
    _register_heif()
    try:
        with Image.open(path, formats=[f for f in _FORMATS if f in Image.OPEN]) as im:
            return _read_exif(im)[1]
    except Exception:  # anything wrong with the header: let the loader say what
        return load_image(path).taken_at


def to_jpeg_bytes(rgb: np.ndarray, *, quality: int = 95) -> bytes:
    """Encode an array as a JPEG without any metadata.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3) or (H, W)
        sRGB (or grey) pixels.
    quality : int, optional
        libjpeg quality, 1–100 (95 keeps skin texture; above 95 mostly grows the file).

    Returns
    -------
    bytes
        A baseline JFIF file with 4:4:4 chroma (no subsampling) and no EXIF, GPS, ICC or
        XMP segment, so nothing about the camera, place or person leaves with it.

    Raises
    ------
    ValueError
        ``rgb`` is not ``uint8`` ``H×W×3``/``H×W``, or ``quality`` is outside 1–100.
    """
    if isinstance(quality, bool) or not isinstance(quality, int | np.integer):
        raise ValueError(f"quality must be an integer from 1 to 100, got {quality!r}.")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be from 1 to 100, got {quality}.")
    arr = _check_uint8_image(rgb, channels=(3,), func="to_jpeg_bytes")
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=int(quality), subsampling=0)
    return buf.getvalue()


def to_png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an array as a lossless PNG without metadata.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3), (H, W, 4) or (H, W)
        sRGB, sRGB with alpha, or grey pixels.

    Returns
    -------
    bytes
        A PNG file with only the IHDR, IDAT and IEND chunks.

    Raises
    ------
    ValueError
        ``rgb`` is not a ``uint8`` image of one of those shapes.
    """
    arr = _check_uint8_image(rgb, channels=(3, 4), func="to_png_bytes")
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def downscale(rgb: np.ndarray, *, long_side: int) -> np.ndarray:
    """Shrink an image so that its long side is at most ``long_side`` pixels.

    Parameters
    ----------
    rgb : ndarray, shape (H, W) or (H, W, C)
        Image of dtype ``uint8``, ``uint16``, ``float32`` or ``float64``.
    long_side : int
        Largest allowed ``max(H, W)`` of the result.

    Returns
    -------
    ndarray
        A new array of the same dtype and channel count. When the image is already
        small enough it is returned as an unchanged copy: this function never upscales.

    Raises
    ------
    ValueError
        ``long_side`` is not a positive integer, or ``rgb`` has an unsupported shape or
        dtype.

    Notes
    -----
    Area averaging (``cv2.INTER_AREA``): each output pixel is the mean of the input
    pixels its footprint covers (fractionally weighted at the edges), which is the
    anti-aliased choice for shrinking. The output size is
    ``max(1, round(W·s)) × max(1, round(H·s))`` with ``s = long_side / max(H, W)``.
    """
    _check_positive_int(long_side, "long_side")
    arr = np.asarray(rgb)
    if arr.ndim not in (2, 3) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"downscale needs an H×W or H×W×C image, got shape {arr.shape}; pass "
            "Photo.rgb or a 2-D mask."
        )
    if arr.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise ValueError(
            f"downscale supports uint8, uint16, float32 and float64 images, got "
            f"{arr.dtype}; convert with .astype(np.float32) first."
        )
    if arr.ndim == 3 and not 1 <= arr.shape[2] <= 512:
        raise ValueError(f"downscale supports 1 to 512 channels, got {arr.shape[2]}.")
    h, w = arr.shape[:2]
    if max(h, w) <= long_side:
        return arr.copy()
    s = long_side / max(h, w)
    new_w = max(1, round(w * s))
    new_h = max(1, round(h * s))
    out = cv2.resize(np.ascontiguousarray(arr), (new_w, new_h), interpolation=cv2.INTER_AREA)
    if arr.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel axis
        out = out[:, :, np.newaxis]
    return np.ascontiguousarray(out)


# ---------------------------------------------------------------------------------------
# Reading the source
# ---------------------------------------------------------------------------------------


def _check_positive_int(value: Any, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}.")


def _check_uint8_image(rgb: Any, *, channels: tuple[int, ...], func: str) -> np.ndarray:
    arr = np.asarray(rgb)
    shape_ok = arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in channels)
    if not shape_ok or arr.dtype != np.uint8 or arr.size == 0:
        allowed = " or ".join(f"H×W×{c}" for c in channels)
        raise ValueError(
            f"{func} needs a non-empty uint8 array of shape H×W or {allowed}, got "
            f"{arr.dtype} {arr.shape}; convert floats with "
            "np.clip(np.round(x * 255), 0, 255).astype(np.uint8)."
        )
    return np.ascontiguousarray(arr)


def _display_name(raw: str | bytes | None) -> str:
    """Base name fit for display: no directories, no control or bidi-override chars."""
    if raw is None:
        return "upload"
    text = os.fsdecode(raw) if isinstance(raw, bytes) else str(raw)
    text = unicodedata.normalize("NFC", text).replace("\\", "/")
    text = text.rsplit("/", 1)[-1]
    text = "".join(
        ch
        for ch in text
        if unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn")
        and not ("\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069")
        and ch not in "\u200e\u200f"
    ).strip()
    if text in ("", ".", ".."):
        return "upload"
    if len(text) > 120:
        text = text[:80] + "…" + text[-39:]
    return text


def _too_large(display: str, size: int, max_bytes: int) -> ImageError:
    return ImageError(
        f"'{display}' is too large a file: {size:,} bytes, more than the limit of "
        f"{max_bytes:,} bytes ({max_bytes / 2**20:.0f} MiB); export a smaller JPEG."
    )


def _read_source(source: Any, *, name: str | None, max_bytes: int) -> tuple[bytes, str]:
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        display = _display_name(name if name is not None else os.path.basename(path))
        return _read_path(path, display, max_bytes), display
    if isinstance(source, bytes | bytearray | memoryview):
        display = _display_name(name)
        nbytes = source.nbytes if isinstance(source, memoryview) else len(source)
        if nbytes > max_bytes:
            raise _too_large(display, nbytes, max_bytes)
        return bytes(source), display
    if hasattr(source, "read"):
        raw_name = getattr(source, "name", None)
        if name is None and isinstance(raw_name, str | bytes):
            name = os.fsdecode(raw_name)
        display = _display_name(name)
        return _read_stream(source, display, max_bytes), display
    raise ImageError(
        "load_image accepts a path (str or os.PathLike), the file's bytes (bytes, "
        "bytearray, memoryview) or a binary file object (open(path, 'rb'), an upload); "
        f"got {type(source).__name__}."
    )


def _read_path(path: str | bytes, display: str, max_bytes: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise _too_large(display, size, max_bytes)
            return _read_stream(fh, display, max_bytes, first=size + 1)
    except FileNotFoundError:
        raise ImageError(f"'{display}' was not found; check the path.") from None
    except IsADirectoryError:
        raise ImageError(f"'{display}' is a folder, not an image file.") from None
    except PermissionError:
        raise ImageError(f"'{display}' cannot be read: permission denied.") from None
    except OSError as exc:
        raise ImageError(f"'{display}' cannot be read: {exc.strerror or exc}.") from None


_READ_CHUNK = 8 * 2**20


def _read_stream(fh: Any, display: str, max_bytes: int, *, first: int | None = None) -> bytes:
    """Read up to ``max_bytes + 1`` bytes in chunks (``first``: size of the first read).

    Chunks, because ``read(n)`` allocates ``n`` bytes up front: one read of
    ``max_bytes + 1`` would reserve 200 MiB for every 3 MB photo.
    """
    chunks: list[bytes] = []
    total = 0
    size = _READ_CHUNK if first is None else max(1, first)
    while total <= max_bytes:
        chunk = fh.read(min(size, max_bytes + 1 - total))
        size = _READ_CHUNK
        if isinstance(chunk, str):
            raise ImageError(
                f"'{display}' was opened as text: load_image needs a file opened in binary "
                "mode (open(path, 'rb')), the file's bytes or a path."
            )
        if not chunk:
            break
        chunks.append(bytes(chunk))
        total += len(chunk)
    if total > max_bytes:
        raise _too_large(display, total, max_bytes)
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------


@functools.cache
def _register_heif() -> bool:
    """Register pillow-heif's opener once; False when pillow-heif is not installed."""
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
        Image.init()
        return False
    pillow_heif.register_heif_opener()
    Image.init()  # load every plugin now: Image.OPEN is empty in a fresh process
    return True


@contextlib.contextmanager
def _pillow_guard() -> Iterator[None]:
    """Serialise decoding; silence Pillow's warnings.

    Pillow's decompression-bomb *warning* (above ``Image.MAX_IMAGE_PIXELS``, 89.5 MP) is
    silenced too: ``max_pixels``, checked from the header before decoding, is the guard
    (it would otherwise refuse 108 MP phone photos). Pillow's *error* (above twice that)
    still stops the open.
    """
    with _PILLOW_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _decode(data: bytes, display: str, *, max_pixels: int, reduce_to: int | None = None) -> Photo:
    _register_heif()
    formats = [f for f in _FORMATS if f in Image.OPEN]
    try:
        im = Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError:
        raise _not_an_image(data, display) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb(display, str(exc), max_pixels) from None
    except MemoryError:
        raise _no_memory(display) from None
    except Exception as exc:  # a damaged header can raise anything inside a decoder
        raise _corrupt(display, data, exc) from None
    with im:
        return _decode_opened(im, data, display, max_pixels=max_pixels, reduce_to=reduce_to)


def _jpeg_scale(width: int, height: int, reduce_to: int | None) -> int:
    """The JPEG DCT scaling denominator (1, 2, 4 or 8) for ``reduce_to``."""
    if reduce_to is None:
        return 1
    long_side = max(width, height)
    for k in (8, 4, 2):
        if -(-long_side // k) >= reduce_to:
            return k
    return 1


# cv2.imdecode flags: RGB order, at full size or reduced 2, 4, 8 times in the DCT domain
# (the REDUCED_COLOR flags include IMREAD_COLOR, i.e. BGR, which is swapped for RGB).
_CV_READ = {
    k: (flag & ~cv2.IMREAD_COLOR) | cv2.IMREAD_COLOR_RGB
    for k, flag in (
        (1, cv2.IMREAD_COLOR),
        (2, cv2.IMREAD_REDUCED_COLOR_2),
        (4, cv2.IMREAD_REDUCED_COLOR_4),
        (8, cv2.IMREAD_REDUCED_COLOR_8),
    )
}

# EXIF orientation with OpenCV (each one pass, C-contiguous output); same as Pillow's
# transposes in _ORIENTATION_TRANSPOSE (tested).
_CV_ORIENT = {
    2: lambda a: cv2.flip(a, 1),
    3: lambda a: cv2.flip(a, -1),
    4: lambda a: cv2.flip(a, 0),
    5: cv2.transpose,
    6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
    7: lambda a: cv2.flip(cv2.transpose(a), -1),
    8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
}


def _fast_jpeg(im: Image.Image, data: bytes, scale: int) -> np.ndarray | None:
    """Decode a plain RGB JPEG with OpenCV; None when Pillow must do it.

    Only complete files (ending in the EOI marker) without an ICC profile, so that
    truncation, colour management and unusual colour spaces stay with Pillow; any
    failure or unexpected size also falls back to Pillow.
    """
    if im.format != "JPEG" or im.mode != "RGB" or im.info.get("icc_profile"):
        return None
    if not data.endswith(b"\xff\xd9"):
        return None
    width, height = im.size
    flags = _CV_READ[scale] | cv2.IMREAD_IGNORE_ORIENTATION
    try:
        out = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        return None
    expected = (-(-height // scale), -(-width // scale), 3)
    if out is None or out.shape != expected or out.dtype != np.uint8:
        return None
    return out


def _decode_opened(
    im: Image.Image, data: bytes, display: str, *, max_pixels: int, reduce_to: int | None = None
) -> Photo:
    fmt = str(im.format or "")
    width, height = im.size
    _check_geometry(display, width, height, max_pixels)
    try:
        n_frames = int(getattr(im, "n_frames", 1))
    except Exception:  # counting frames walks the whole file; damage there is not fatal
        n_frames = 1
    scale = _jpeg_scale(width, height, reduce_to) if fmt in ("JPEG", "MPO") else 1
    fast = _fast_jpeg(im, data, scale)
    if fast is not None:
        orientation, taken_at = _read_exif(im)
        if orientation in _CV_ORIENT:
            fast = _CV_ORIENT[orientation](fast)
        return Photo(
            rgb=np.ascontiguousarray(fast),
            taken_at=taken_at,
            name=display,
            original_size=(int(width), int(height)),
            format=fmt,
            source_mode=im.mode,
            n_frames=max(1, n_frames),
            orientation=orientation,
            icc_converted=False,
        )
    try:
        if scale > 1:
            # Pillow picks the largest k ≤ min(W // w, H // h): floor sizes ask for k.
            im.draft(im.mode, (max(1, width // scale), max(1, height // scale)))
        # Decode before reading EXIF: some plugins decode inside getexif(), and a failed
        # decode retried later can "succeed" with blank pixels.
        if im.tell() != 0:
            im.seek(0)
        im.load()
        source_mode = im.mode
        flat = _flatten(im, display)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb(display, str(exc), max_pixels) from None
    except MemoryError:
        raise _no_memory(display) from None
    except Exception as exc:  # see _decode
        raise _corrupt(display, data, exc) from None
    orientation, taken_at = _read_exif(im)
    if fmt == "HEIF":
        # libheif has already turned the pixels; report what the container said.
        orientation = _as_orientation(im.info.get("original_orientation"))
        if orientation >= 5:
            width, height = height, width
        applied = 1
    else:
        applied = orientation
    rgb_im, converted = _to_srgb(flat, im.info.get("icc_profile"))
    if applied in _ORIENTATION_TRANSPOSE:
        rgb_im = rgb_im.transpose(_ORIENTATION_TRANSPOSE[applied])
    rgb = np.array(rgb_im, dtype=np.uint8, order="C", copy=True)
    if not converted and rgb_im.mode == "RGB":
        converted = _nclx_to_srgb(rgb, im.info.get("nclx_profile"))
    if rgb.ndim != 3 or rgb.shape[2] != 3:  # pragma: no cover - guarded by _to_srgb
        raise ImageError(f"'{display}' decoded to an unexpected shape {rgb.shape}.")
    return Photo(
        rgb=rgb,
        taken_at=taken_at,
        name=display,
        original_size=(int(width), int(height)),
        format=fmt,
        source_mode=source_mode,
        n_frames=max(1, n_frames),
        orientation=orientation,
        icc_converted=converted,
    )


def _check_geometry(display: str, width: int, height: int, max_pixels: int) -> None:
    pixels = width * height
    if pixels > max_pixels:
        raise ImageError(
            f"'{display}' has too many pixels: {width} × {height} = {pixels:,}, more than "
            f"the limit of {max_pixels:,}; downscale it before uploading."
        )
    ratio = max(width, height) / max(1, min(width, height))
    if ratio > MAX_ASPECT_RATIO:
        raise ImageError(
            f"'{display}' has an extreme aspect ratio: {width} × {height} pixels "
            f"({ratio:.0f}:1, the limit is {MAX_ASPECT_RATIO:.0f}:1); crop it to the "
            "photo itself."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(
            f"'{display}' is too small: {width} × {height} pixels; a photo needs at least "
            f"{MIN_SIDE} pixels on each side."
        )


def _bomb(display: str, detail: str, max_pixels: int) -> ImageError:
    found = re.search(r"\((\d+) pixels\)", detail)
    count = f"{int(found.group(1)):,}" if found else "more than Pillow allows"
    cap = 2 * Image.MAX_IMAGE_PIXELS if Image.MAX_IMAGE_PIXELS else max_pixels
    limit = min(max_pixels, cap)
    return ImageError(
        f"'{display}' has too many pixels: {count}, more than the limit of {limit:,} "
        "(a possible decompression bomb); downscale it before uploading."
    )


def _no_memory(display: str) -> ImageError:
    return ImageError(
        f"'{display}' could not be decoded: not enough memory; lower max_pixels or "
        "downscale the photo."
    )


def _corrupt(display: str, data: bytes, exc: BaseException) -> ImageError:
    kind = _sniff_image(data)
    what = f" {kind}" if kind else ""
    detail = str(exc).strip() or type(exc).__name__
    if len(detail) > 120:
        detail = detail[:117] + "..."
    return ImageError(
        f"'{display}' is a truncated or corrupt{what} image ({detail}); copy the original "
        "file from the camera or phone again."
    )


def _as_orientation(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return 1
    return number if 1 <= number <= 8 else 1


def _read_exif(im: Image.Image) -> tuple[int, datetime | None]:
    """EXIF orientation and capture time; anything unreadable counts as absent."""
    try:
        exif = im.getexif()
    except Exception:  # garbage EXIF must never stop a load
        return 1, None
    try:
        orientation = _as_orientation(exif.get(_TAG_ORIENTATION, 1))
    except Exception:
        orientation = 1
    candidates: list[Any] = []
    try:
        sub = exif.get_ifd(_EXIF_IFD)
        candidates += [sub.get(_TAG_DATETIME_ORIGINAL), sub.get(_TAG_DATETIME_DIGITIZED)]
    except Exception:
        pass
    try:
        candidates.append(exif.get(_TAG_DATETIME))
    except Exception:
        pass
    for value in candidates:
        parsed = _parse_exif_datetime(value)
        if parsed is not None:
            return orientation, parsed
    return orientation, None


def _parse_exif_datetime(value: Any) -> datetime | None:
    """Parse EXIF ``"YYYY:MM:DD HH:MM:SS"`` (also ``-`` or ``/`` in the date)."""
    if isinstance(value, list | tuple) and value:
        value = value[0]
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    found = _DATE_RE.match(value.replace("\x00", ""))
    if not found:
        return None
    try:
        return datetime(*(int(g) for g in found.groups()))
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------
# Colour conversion
# ---------------------------------------------------------------------------------------


def _flatten(im: Image.Image, display: str) -> Image.Image:
    """Reduce any Pillow mode to one of RGB, L, CMYK or LAB (8 bits, no alpha)."""
    mode = im.mode
    if mode in ("RGB", "L", "CMYK", "LAB"):
        return im
    if mode == "1":
        return im.convert("L")
    if mode.startswith("I;16"):
        v = np.asarray(im).astype(np.uint32)
        return Image.fromarray(((v + 128) // 257).astype(np.uint8))
    if mode == "I":
        v = np.clip(np.asarray(im).astype(np.int64), 0, 65535)
        return Image.fromarray(((v + 128) // 257).astype(np.uint8))
    if mode == "F":
        v = np.nan_to_num(np.asarray(im).astype(np.float64), nan=0.0)
        return Image.fromarray(np.floor(np.clip(v, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    if mode in ("LA", "La"):
        la = np.asarray(im.convert("LA"))
        return Image.fromarray(_on_white(la[:, :, :1], la[:, :, 1:])[:, :, 0])
    if mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"))
        return Image.fromarray(_on_white(rgba[:, :, :3], rgba[:, :, 3:]))
    if mode in ("P", "RGBX", "YCbCr", "HSV"):
        return im.convert("RGB")
    raise ImageError(
        f"'{display}' has the colour mode {mode}, which is not supported; save it as an "
        "8-bit RGB JPEG or PNG."
    )


def _on_white(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite on white: ``round((c·a + 255·(255 − a)) / 255)`` in integers."""
    c = colour.astype(np.uint32)
    a = alpha.astype(np.uint32)
    return ((c * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


_COLOUR_SPACE_OF_MODE = {"RGB": "RGB", "L": "GRAY", "CMYK": "CMYK", "LAB": "LAB"}


def _to_srgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bool]:
    """Convert an RGB/L/CMYK/LAB image to sRGB RGB; True when an ICC profile was used."""
    srgb = ImageCms.createProfile("sRGB")
    intent = ImageCms.Intent.RELATIVE_COLORIMETRIC
    if icc:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            space = profile.profile.xcolor_space.strip().upper()
            if space == _COLOUR_SPACE_OF_MODE[im.mode]:
                transform = ImageCms.buildTransform(profile, srgb, im.mode, "RGB", intent)
                if im.mode == "RGB":  # in place: a 108 MP copy is 0.4 GB
                    ImageCms.applyTransform(im, transform, inPlace=True)
                    return im, True
                return ImageCms.applyTransform(im, transform), True
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # an unreadable or unfitting profile is ignored: data taken as sRGB
    if im.mode == "LAB":
        lab = ImageCms.createProfile("LAB")
        transform = ImageCms.buildTransform(lab, srgb, "LAB", "RGB", intent)
        return ImageCms.applyTransform(im, transform), False
    if im.mode == "RGB":
        return im, False
    return im.convert("RGB"), False


# CIE xy chromaticities (red, green, blue, white) of the ITU-T H.273 colour primaries
# that are converted; 1 (BT.709 = sRGB) and 2 (unspecified) are taken as sRGB.
_NCLX_PRIMARIES: dict[int, tuple[tuple[float, float], ...]] = {
    # BT.2020 / BT.2100
    9: ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046), (0.3127, 0.3290)),
    # SMPTE EG 432-1 (P3-D65, "Display P3")
    12: ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), (0.3127, 0.3290)),
}
_SRGB_PRIMARIES = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060), (0.3127, 0.3290))
# H.273 transfer characteristics using the BT.709 / BT.2020 OETF (1, 6, 14, 15).
_BT709_TRANSFERS = frozenset({1, 6, 14, 15})


def _rgb_to_xyz_matrix(primaries: tuple[tuple[float, float], ...]) -> np.ndarray:
    """RGB → XYZ matrix of a colour space given by its xy primaries and white (SMPTE RP 177)."""
    xyz = np.array([[x / y, 1.0, (1.0 - x - y) / y] for x, y in primaries]).T
    scale = np.linalg.solve(xyz[:, :3], xyz[:, 3])
    return xyz[:, :3] * scale


def _decode_lut(transfer: int) -> np.ndarray:
    """Code value 0–255 → linear light, float32, for an H.273 transfer characteristic."""
    v = np.arange(256, dtype=np.float64) / 255.0
    if transfer in _BT709_TRANSFERS:
        lin = np.where(v < 0.081, v / 4.5, ((v + 0.099) / 1.099) ** (1 / 0.45))
    else:  # 13 (sRGB, Display P3) and anything else: the sRGB curve
        lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return lin.astype(np.float32)


@functools.cache
def _srgb_encode_lut() -> np.ndarray:
    """Linear light quantised to 1/65535 → sRGB 8-bit code (IEC 61966-2-1)."""
    lin = np.arange(65536, dtype=np.float64) / 65535.0
    v = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.floor(v * 255.0 + 0.5).astype(np.uint8)


def _nclx_to_srgb(rgb: np.ndarray, nclx: Any) -> bool:
    """Convert ``rgb`` in place from the NCLX colour space of a HEIF to sRGB.

    Phones tag HEIC photos with an NCLX colour box (ITU-T H.273 code points) instead of
    an ICC profile. For primaries 12 (Display P3) and 9 (BT.2020): decode the transfer
    curve (13: sRGB; 1, 6, 14, 15: BT.709), apply ``M = M_sRGB⁻¹ · M_src`` in linear
    light (both white points are D65, so no adaptation is needed), clip to the sRGB
    gamut [0, 1] and encode with the sRGB curve. Other primaries are left as they are.
    True when converted.
    """
    if not isinstance(nclx, dict):
        return False
    try:
        primaries = int(nclx.get("color_primaries", 2))
        transfer = int(nclx.get("transfer_characteristics", 13))
    except (TypeError, ValueError):
        return False
    if primaries not in _NCLX_PRIMARIES:
        return False
    m = np.linalg.solve(
        _rgb_to_xyz_matrix(_SRGB_PRIMARIES), _rgb_to_xyz_matrix(_NCLX_PRIMARIES[primaries])
    ).astype(np.float32)
    lut = _decode_lut(transfer)
    encode = _srgb_encode_lut()
    rows = max(1, 2**20 // max(1, rgb.shape[1]))  # ~1 MP per block: bounded memory
    for y0 in range(0, rgb.shape[0], rows):
        block = rgb[y0 : y0 + rows]
        lin = lut[block] @ m.T
        np.clip(lin, 0.0, 1.0, out=lin)
        block[...] = encode[(lin * 65535.0 + 0.5).astype(np.uint16)]
    return True


# ---------------------------------------------------------------------------------------
# Recognising what a file is
# ---------------------------------------------------------------------------------------

_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


def _sniff_image(data: bytes) -> str | None:
    """Name of a supported image format whose signature ``data`` starts with."""
    if data.startswith(b"\xff\xd8"):
        return "JPEG"
    if data.startswith(b"\x89PNG"):
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIC"
    if data.startswith(b"BM") and len(data) >= 14:
        return "BMP"
    return None


def _sniff_other(data: bytes) -> tuple[str, bool] | None:
    """(description, is_an_image) for well-known formats that are not supported."""
    head = data[:64]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "an AVIF image", True
        return "a video or other ISO media file", False
    table: tuple[tuple[bytes, str, bool], ...] = (
        (b"%PDF", "a PDF document", False),
        (b"%!PS", "a PostScript/EPS file", False),
        (b"8BPS", "a Photoshop PSD image", True),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image", True),
        (b"\xffO\xffQ", "a JPEG 2000 image", True),
        (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "a JPEG XL image", True),
        (b"\xff\x0a", "a JPEG XL image", True),
        (b"\x00\x00\x01\x00", "a Windows icon", True),
        (b"PK\x03\x04", "a ZIP archive (or an Office document)", False),
        (b"\x1f\x8b", "a gzip archive", False),
        (b"Rar!", "a RAR archive", False),
        (b"7z\xbc\xaf", "a 7-Zip archive", False),
    )
    for magic, description, is_image in table:
        if head.startswith(magic):
            return description, is_image
    return None


def _sniff_text(data: bytes) -> str | None:
    """Describe text content (SVG/XML, HTML or plain text), or None for binary data."""
    head = data[:4096]
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if head.startswith(bom):
            head = head[len(bom) :].decode(codec, "ignore").encode("utf-8", "ignore")
            break
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the 4 KiB edge
            return None
        text = head[: exc.start].decode("utf-8")
    if not text:
        return None
    printable = sum(ch.isprintable() or ch in "\t\r\n\f" for ch in text)
    if printable < 0.95 * len(text):
        return None
    lower = text.lstrip().lower()
    if "<svg" in lower:
        return "an SVG drawing (XML text)"
    if lower.startswith("<!doctype html") or lower.startswith("<html") or "<html" in lower[:512]:
        return "an HTML web page"
    if lower.startswith("<?xml"):
        return "an XML document"
    return "plain text"


def _not_an_image(data: bytes, display: str) -> ImageError:
    supported = _sniff_image(data)
    if supported:
        return ImageError(
            f"'{display}' is a truncated or corrupt {supported} image (its header cannot "
            "be read); copy the original file from the camera or phone again."
        )
    other = _sniff_other(data)
    if other and other[1]:
        return ImageError(
            f"'{display}' is {other[0]}, an unsupported kind of image; convert it to {_ACCEPTED}."
        )
    what = other[0] if other else _sniff_text(data)
    if what:
        return ImageError(
            f"'{display}' is not an image: it looks like {what}. Upload a photo ({_ACCEPTED})."
        )
    return ImageError(
        f"'{display}' is not an image in a supported format (unrecognised binary data). "
        f"Upload a photo ({_ACCEPTED})."
    )
