"""Per-photo pipeline at 12 MP: time and memory of each stage and of the whole.

Run: ``python bench/bench_pipeline.py [--repeat N]``.

The photos are the bundled sample series upscaled to 4000×3000 (see ``_photos.py``): the
baseline is the reference, and the seven later sessions are analysed against it. Stages:

* ``decode``: ``load_image`` of a 12 MP JPEG (full resolution), and with
  ``reduce_to=2000`` (JPEG DCT-domain scaling, what the batch command uses);
* ``quality``: ``check_quality(photo, baseline=reference)``;
* ``skin mask``: ``Reference.from_photo(reference)`` (the reference's skin region);
* ``align``: ``align(reference, photo)`` (the transform; the warp is done where used);
* ``measure``: every metric of the reference in its own frame (grid + metrics);
* ``analyse``: ``analyse(photo, reference=...)``: quality, alignment, warp onto the
  analysis grid, every metric;
* ``full``: what one new photo costs: decode + skin mask of the reference + analyse
  (the reference is already decoded). Target: median ≤ 1.0 s, peak memory ≤ 600 MB.

Wall times are medians over the 7 photos × ``--repeat`` runs; CPU is process time (all
threads). "peak MiB" is the tracemalloc peak during one call (arrays allocated by the
call, inputs excluded). The whole-process peak (max RSS) of a fresh process that imports
the library, decodes the reference and runs ``full`` once is measured in a child process.
"""

from __future__ import annotations

import argparse
import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, max_rss_mib, timed  # noqa: E402
from _photos import photo_files  # noqa: E402

from progress.loader import load_image  # noqa: E402
from progress.metrics import measure  # noqa: E402
from progress.pipeline import Reference, analyse  # noqa: E402
from progress.quality import check_quality  # noqa: E402
from progress.registration import align  # noqa: E402

REDUCE_TO = 2000
HAS_REDUCE = "reduce_to" in inspect.signature(load_image).parameters


def _load(path: Path, reduced: bool) -> np.ndarray:
    if reduced:
        return load_image(path, reduce_to=REDUCE_TO).rgb
    return load_image(path).rgb


def full(ref_rgb: np.ndarray, path: Path, *, reduced: bool = False):
    """One new photo: decode, the reference's skin mask, quality, alignment, metrics."""
    rgb = _load(path, reduced)
    return analyse(rgb, reference=Reference.from_photo(ref_rgb))


def child(reduced: bool) -> None:
    """Run ``full`` once in this fresh process and print its memory figures as JSON."""
    files = photo_files(8)
    before = max_rss_mib()
    ref = _load(files[0], reduced)
    after_ref = max_rss_mib()
    full(ref, files[3], reduced=reduced)
    print(json.dumps({"imports": before, "reference": after_ref, "peak": max_rss_mib()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs per photo")
    parser.add_argument("--child", choices=["full", "reduced"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child == "reduced")
        return

    files = photo_files(8)
    ref_path, moving = files[0], files[1:]
    print(machine())
    print(f"photos: {len(moving)} × 4000×3000 JPEG against a 4000×3000 reference")
    ref = load_image(ref_path).rgb
    reference = Reference.from_photo(ref)
    photos = [load_image(p).rgb for p in moving]
    analyse(photos[0], reference=reference)  # warm-up (imports, OpenCV initialisation)

    def over_photos(fn):
        it = iter(range(10**9))

        def call():
            i = next(it) % len(photos)
            return fn(i)

        return timed(call, args.repeat * len(photos))

    rows = []
    rows.append(("decode (full)", over_photos(lambda i: load_image(moving[i]))))
    if HAS_REDUCE:
        rows.append(
            (
                f"decode (reduce_to={REDUCE_TO})",
                over_photos(lambda i: load_image(moving[i], reduce_to=REDUCE_TO)),
            )
        )
    rows.append(("quality", over_photos(lambda i: check_quality(photos[i], baseline=ref))))
    rows.append(("skin mask (reference)", timed(lambda: Reference.from_photo(ref), 5)))
    rows.append(("align", over_photos(lambda i: align(ref, photos[i]))))
    rows.append(("measure (reference)", timed(lambda: measure(ref, mask=reference.roi), 5)))
    rows.append(("analyse", over_photos(lambda i: analyse(photos[i], reference=reference))))
    rows.append(("full", over_photos(lambda i: full(ref, moving[i]))))
    if HAS_REDUCE:
        ref_small = load_image(ref_path, reduce_to=REDUCE_TO).rgb
        rows.append(
            (
                f"full (reduce_to={REDUCE_TO})",
                over_photos(lambda i: full(ref_small, moving[i], reduced=True)),
            )
        )

    print(f"{'stage':28s} {'median s':>9s} {'best s':>7s} {'CPU s':>6s} {'peak MiB':>9s}")
    for name, t in rows:
        print(f"{name:28s} {t.median:9.3f} {t.best:7.3f} {t.cpu_median:6.3f} {t.peak_mib:9.0f}")

    for mode in ["full", "reduced"] if HAS_REDUCE else ["full"]:
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode], capture_output=True, text=True, check=True
        )
        mem = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"max RSS of a fresh process running `full` once ({mode} decode): "
            f"{mem['peak']:.0f} MiB (after imports {mem['imports']:.0f} MiB, "
            f"with the reference decoded {mem['reference']:.0f} MiB)"
        )

    res = rows[-1][1].result
    print(
        f"last photo: alignment {res.alignment.method}, confidence "
        f"{res.alignment.confidence:.2f}, residual {res.alignment.residual_px:.2f} px; "
        f"quality {res.quality.status}"
    )


if __name__ == "__main__":
    main()
