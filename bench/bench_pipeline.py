"""Per-photo pipeline at 12 MP: time and memory of each stage and of the whole.

Run: ``python bench/bench_pipeline.py [--repeat N] [--json FILE]`` (about a minute with the
default ``--repeat 2``). To measure another version of the library with the same script
(e.g. the last commit, for a before/after table), put its ``src`` first on ``PYTHONPATH``.

The photos are the bundled sample series upscaled to 4000×3000 (see ``_photos.py``): the
baseline is the reference, and the seven later sessions are analysed against it, without
a known scale (nominal grid: 1500 px long side, 1.7 MP) unless a row says otherwise.

Stages (each on its own, inputs ready):

* ``decode``: ``load_image`` of a 12 MP JPEG, in full and with ``reduce_to=2000`` (JPEG
  DCT-domain scaling to 2000×1500);
* ``quality``: ``check_quality(photo, baseline=...)`` (the reference's figures ready);
* ``skin mask (reference)``: ``Reference.from_photo(reference)``;
* ``align``: ``align(reference, photo)`` (the public function: both photos' grey copies
  and keypoints), and against a reference prepared once (what ``analyse`` does);
* ``warp onto grid``: ``warp_to_grid`` (area shrink + one warp onto the analysis grid);
* ``normalise (grey card)``: the white balance on the sample's grey patch;
* one row per metric group on the warped grid (``Prepared`` in registry order; a
  group's time includes the intermediates it is the first to need: Lab is its own row).

Whole pipeline:

* ``analyse``: ``analyse(photo, reference=R)`` with ``R`` built once for the area;
* ``full, reference ready``: decode + ``analyse`` (what each further photo of an area
  costs in the batch command and the dashboard);
* ``full, new reference``: decode + ``Reference.from_photo`` (skin mask) + ``analyse``,
  the reference's derived data made again for every photo (the issue's target:
  median ≤ 1.0 s, peak memory ≤ 600 MB);
* the same with ``reduce_to=2000`` for both photos, and with the sample's grey card
  and ruler scale (50 px/mm at 4000 px, so a 0.48 MP grid).

Times are wall-clock medians over the 7 photos × ``--repeat`` runs (and the best run);
"CPU s" is process time over all threads (less sensitive to other load on a shared
machine). "peak MiB" is the tracemalloc peak of one call (arrays allocated during the
call; OpenCV's internal scratch buffers are not seen). The whole-process peak (max RSS)
of a fresh process running ``full`` once is measured in a child process.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Timing, machine, max_rss_mib, run_child, timed  # noqa: E402
from _photos import photo_files  # noqa: E402

from progress import pipeline, registration  # noqa: E402
from progress.grid import grid_region, warp_to_grid  # noqa: E402
from progress.loader import load_image  # noqa: E402
from progress.metrics import METRICS, Prepared  # noqa: E402
from progress.pipeline import Reference, analyse  # noqa: E402
from progress.quality import check_quality, quality_baseline  # noqa: E402
from progress.registration import align  # noqa: E402

REDUCE_TO = 2000
HAS_REDUCE = "reduce_to" in inspect.signature(load_image).parameters
# The samples' grey patch and ruler scale (sample_images/truth.json, 1600 px wide),
# scaled to the 4000 px benchmark photos.
_UP = 4000 / 1600
CARD_BOX = tuple(round(v * _UP) for v in (170.0, 870.0, 330.0, 1030.0))
SCALE = 20.0 * _UP

METRIC_GROUPS = {
    "metric: GLCM (5)": ["glcm_contrast", "glcm_homogeneity", "glcm_energy",
                         "glcm_correlation", "glcm_entropy"],
    "metric: roughness Ra, Rq": ["roughness_ra", "roughness_rq"],
    "metric: fine lines": ["fine_line_density"],
    "metric: pores": ["pore_density"],
    "metric: L*a*b* means, σ, ITA": ["lab_l", "lab_a", "lab_b", "ita", "sigma_l",
                                     "sigma_a", "sigma_b"],
    "metric: erythema, melanin": ["erythema_index", "melanin_index"],
    "metric: ΔE2000 spread": ["de2000_p50", "de2000_p90"],
    "metric: spot area": ["spot_area_fraction"],
}  # fmt: skip


def _load(path: Path, reduced: bool) -> np.ndarray:
    if reduced:
        return load_image(path, reduce_to=REDUCE_TO).rgb
    return load_image(path).rgb


def full(ref_rgb: np.ndarray, path: Path, *, reduced: bool = False):
    """One new photo with a new reference: decode, skin mask, quality, alignment, metrics."""
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


def _prepared_align(reference: Reference):
    """``align`` against a reference prepared once, if this version of the library can."""
    prepare = getattr(registration, "_prepare_reference", None)
    run = getattr(registration, "_align_prepared", None)
    if prepare is None or run is None:
        return None
    ready = prepare(reference.rgb)
    return lambda rgb: run(ready, rgb)


def _same_as_pillow(paths: list[Path]) -> str:
    """Whether ``load_image`` gives Pillow's pixels (its fast JPEG path uses OpenCV)."""
    from PIL import Image

    checked = 0
    for path in paths:
        for reduced in (False, True) if HAS_REDUCE else (False,):
            with Image.open(path) as im:
                if reduced:
                    im.draft("RGB", (im.size[0] // 2, im.size[1] // 2))
                pillow = np.asarray(im.convert("RGB"))
            if not np.array_equal(_load(path, reduced), pillow):
                return f"NO ({path.name}, reduced={reduced})"
            checked += 1
    return f"yes ({checked} decodes)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs per photo (7 photos)")
    parser.add_argument("--json", type=Path, help="also write the table as JSON")
    parser.add_argument("--child", choices=["full", "reduced"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child == "reduced")
        return

    files = photo_files(8)
    ref_path, moving = files[0], files[1:]
    print(machine())
    print(f"library: {Path(pipeline.__file__).resolve().parent}")
    print(f"photos: {len(moving)} × 4000×3000 JPEG against a 4000×3000 reference")
    ref = load_image(ref_path).rgb
    reference = Reference.from_photo(ref)
    photos = [load_image(p).rgb for p in moving]
    analyse(photos[0], reference=reference)  # warm-up, and the reference's derived data
    baseline = quality_baseline(ref)
    region = grid_region(reference.roi)
    matrices = [align(ref, rgb).matrix for rgb in photos]
    grids = [warp_to_grid(rgb, m, region) for rgb, m in zip(photos, matrices, strict=True)]
    carded = Reference.from_photo(ref, card_box=CARD_BOX, scale_px_per_mm=SCALE)

    def over_photos(fn, repeat: int | None = None):
        it = iter(range(10**9))

        def call():
            i = next(it) % len(photos)
            return fn(i)

        return timed(call, (repeat or args.repeat) * len(photos))

    rows = []

    def add(name: str, t) -> None:
        rows.append((name, t))
        print(f"  {name:34s} {t.median:7.3f} s", flush=True)

    add("decode (full)", over_photos(lambda i: load_image(moving[i])))
    if HAS_REDUCE:
        add(
            f"decode (reduce_to={REDUCE_TO})",
            over_photos(lambda i: load_image(moving[i], reduce_to=REDUCE_TO)),
        )
    add("quality", over_photos(lambda i: check_quality(photos[i], baseline=baseline)))
    add("skin mask (reference)", timed(lambda: Reference.from_photo(ref), 5))
    add("align", over_photos(lambda i: align(ref, photos[i])))
    prepared = _prepared_align(reference)
    if prepared is not None:
        add("align (reference prepared)", over_photos(lambda i: prepared(photos[i])))
    add(
        "warp onto grid",
        over_photos(lambda i: warp_to_grid(photos[i], matrices[i], region)),
    )
    add(
        "normalise (grey card)",
        over_photos(lambda i: pipeline._normalise(grids[i], photos[i], matrices[i], carded)),
    )

    # Metric groups: a fresh Prepared per photo, the groups in registry order.
    order = ["metric: Lab of the grid", *METRIC_GROUPS]
    times: dict[str, list[float]] = {name: [] for name in order}
    cpus: dict[str, list[float]] = {name: [] for name in order}
    for _ in range(args.repeat):
        for g in grids:
            p = Prepared(g)
            for name in order:
                names = METRIC_GROUPS.get(name)
                if names is None:
                    t = timed(lambda p=p: p.lab, 1, memory=False)
                else:
                    t = timed(lambda p=p, n=names: [METRICS[k].func(p) for k in n], 1, memory=False)
                times[name].extend(t.wall)
                cpus[name].extend(t.cpu)
    for name in order:
        add(name, Timing(times[name], cpus[name]))
    mem = timed(lambda: pipeline.measure_grid(grids[0]), 1)
    add("all metrics (measure_grid)", over_photos(lambda i: pipeline.measure_grid(grids[i])))
    rows[-1][1].peak_mib = mem.peak_mib

    add("analyse", over_photos(lambda i: analyse(photos[i], reference=reference)))
    add(
        "full, reference ready",
        over_photos(lambda i: analyse(load_image(moving[i]).rgb, reference=reference)),
    )
    add("full, new reference", over_photos(lambda i: full(ref, moving[i])))
    if HAS_REDUCE:
        ref_small = load_image(ref_path, reduce_to=REDUCE_TO).rgb
        add(
            f"full, new reference, reduce_to={REDUCE_TO}",
            over_photos(lambda i: full(ref_small, moving[i], reduced=True)),
        )
    add(
        "full, new ref., grey card + scale",
        over_photos(
            lambda i: analyse(
                load_image(moving[i]).rgb,
                reference=Reference.from_photo(ref, card_box=CARD_BOX, scale_px_per_mm=SCALE),
            ),
        ),
    )

    print()
    print(machine().replace("before", "after"))
    print(f"{'stage':40s} {'median s':>9s} {'best s':>7s} {'CPU s':>6s} {'peak MiB':>9s}")
    out = []
    for name, t in rows:
        print(f"{name:40s} {t.median:9.3f} {t.best:7.3f} {t.cpu_median:6.3f} {t.peak_mib:9.0f}")
        out.append(
            {"stage": name, "median_s": t.median, "best_s": t.best, "cpu_s": t.cpu_median,
             "peak_mib": t.peak_mib, "runs": len(t.wall)}
        )  # fmt: skip

    for mode in ["full", "reduced"] if HAS_REDUCE else ["full"]:
        mem = run_child(__file__, mode)
        print(
            f"max RSS of a fresh process running `full, new reference` once ({mode} decode): "
            f"{mem['peak']:.0f} MiB (after imports {mem['imports']:.0f} MiB, "
            f"with the reference decoded {mem['reference']:.0f} MiB)"
        )
        out.append({"stage": f"max RSS, {mode} decode", "peak_mib": mem["peak"]})

    same = _same_as_pillow(moving)
    print(f"decoded pixels identical to Pillow's (full and reduce_to={REDUCE_TO}): {same}")

    res = rows[-2][1].result
    print(
        f"last photo: alignment {res.alignment.method}, confidence "
        f"{res.alignment.confidence:.2f}, residual {res.alignment.residual_px:.2f} px; "
        f"quality {res.quality.status}"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
