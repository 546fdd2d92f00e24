"""12 MP test photos for the benchmarks, made from the bundled sample series.

The sample series (``sample_images/*.jpg``, 1600×1200, rendered by
:mod:`progress.samples` with known capture jitter) is upscaled to 4000×3000 with
bicubic interpolation, and a fine sensor-like noise is added (σ = 3 code values,
blurred with σ = 0.7 px, independent per photo) so that the upscaled photos are not
blurry at full resolution. They are saved as JPEG (quality 92, 4:2:0 chroma as phones
write) with the original EXIF date, in a cache folder that is reused between runs.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_images"
SIZE = (4000, 3000)
CACHE = Path(os.environ.get("PROGRESS_BENCH_CACHE", Path(tempfile.gettempdir()) / "progress-bench"))


def sample_paths() -> list[Path]:
    """The bundled sample photos, in session order."""
    paths = sorted(SAMPLES.glob("*.jpg"))
    if not paths:
        raise SystemExit(f"No sample photos in {SAMPLES}: run `python -m progress.samples`.")
    return paths


def upscale(path: Path, *, seed: int, size: tuple[int, int] = SIZE) -> bytes:
    """One sample photo as a 12 MP JPEG (bytes), with its EXIF kept."""
    src = Image.open(path)
    exif = src.info.get("exif", b"")
    rgb = np.asarray(src.convert("RGB"))
    big = cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC).astype(np.float32)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((size[1], size[0], 3), dtype=np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.7)
    noise *= np.float32(3.0) / noise.std()
    big += noise
    out = np.clip(big + 0.5, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, format="JPEG", quality=92, exif=exif)
    return buf.getvalue()


def photo_files(n: int = 8, *, folder: Path | None = None) -> list[Path]:
    """``n`` 12 MP photos (made once and cached), reference first.

    Photos beyond the 8 samples repeat the series with other noise seeds. The default
    folder is ``CACHE/12mp/sample-client/left-cheek`` (the batch command's
    ``client/area`` layout).
    """
    paths = sample_paths()
    folder = folder or CACHE / "12mp" / "sample-client" / "left-cheek"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        src = paths[i % len(paths)]
        name = src.name if i < len(paths) else f"{src.stem}_repeat{i // len(paths)}.jpg"
        dst = folder / name
        if not dst.exists():
            tmp = dst.with_suffix(".tmp")
            tmp.write_bytes(upscale(src, seed=1000 + i))
            tmp.replace(dst)
        out.append(dst)
    return out
