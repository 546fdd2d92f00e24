"""Our pipeline against a straightforward full-resolution implementation of the same metrics.

Run: ``python bench/bench_reference.py [--repeat N] [--ref-repeat M]`` (about 1.5 minutes
with the defaults: 5 runs of ours, 1 of the reference, which takes about 45 s; each run is a
fresh process, so that its peak memory can be read).

The *reference implementation* is what one would write first with the usual libraries,
following the metric definitions of :mod:`progress.metrics` to the letter but on the full
12 MP photo, in float64, with library defaults wherever the definition leaves a choice:

* decode with Pillow (``np.asarray(Image.open(...))``); the reference photo's skin mask
  and the quality check are the library's own (``skin_mask``, ``check_quality``);
* alignment with ``progress.align`` and the moving photo warped onto the full-resolution
  reference frame (``Alignment.warped``, bilinear); region = skin mask ∩ covered pixels;
* CIELAB: ``skimage.color.rgb2lab`` of the whole photo (float64);
* GLCM: L* in 2-unit bins (50 levels), the outside as a 51st level that is dropped,
  ``skimage.feature.graycomatrix`` (symmetric) at the definition's 0.2 mm
  (5 px along the axes; ``distances=7`` gives the (5, 5) diagonal offset) and
  ``graycoprops``; joint entropy in bits by hand;
* roughness: ``scipy.ndimage.gaussian_filter`` (σ = 1.5 mm, zero outside the region
  and the photo) for the normalised-convolution background;
* fine lines and pores: the region's outside filled by the same normalised convolution
  (σ = 1 mm), ``skimage.feature.hessian_matrix`` (its default: Gaussian blur, then
  finite differences) and ``hessian_matrix_eigvals`` at each scale, ``scipy.ndimage``
  grey/binary morphology, maximum filters and ``label``;
* ΔE2000 spread: ``skimage.color.deltaE_ciede2000`` of every region pixel to the
  region's median colour (no subsampling);
* spot area: the 5 mm median background with ``cv2.medianBlur`` on L* in 0.4-unit steps
  (an exact float median over 133×133 px at 12 MP takes hours with scipy).

Lengths in millimetres are converted with the photo's nominal scale (4000 px = 150 mm,
26.7 px/mm) instead of our analysis grid's 10 px/mm. A second reference column applies the
same float64 library code to our analysis grid (the 10 px/mm copy that ``analyse`` makes),
which separates the effect of the resolution from that of our implementation; there the
Hessian uses Gaussian-derivative filters (``use_gaussian_derivatives=True``), because at
σ = 2 px the default's double ``np.gradient`` widens the scale noticeably (fine lines
+2.8 limits). At 12 MP the two choices differ by about 0.35 of the fine-line limit. Each
difference is shown as a share of the metric's repeatability limit
(``src/progress/data/repeatability.json``, the smallest change the product reports).

The table prints median wall times of each stage over the fresh processes and
the peak resident memory (VmHWM) of each process, for one 12 MP photo aligned to a 12 MP
reference (the reference photo is decoded before the clock starts, in both columns; our
process first analyses one other photo, so that OpenCV's one-time set-up is not timed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, max_rss_mib, run_child  # noqa: E402
from _photos import photo_files  # noqa: E402

LIMITS_FILE = Path(__file__).resolve().parents[1] / "src/progress/data/repeatability.json"
MOVING_INDEX = 3  # the photo analysed (session 3) against the baseline
# Ours: align + resample onto the analysis grid; reference: align + full-resolution warp.
ALIGN = "align + warp"

# Metric settings, as in progress.metrics / texture / colour (millimetres, L* units).
GLCM_BIN, GLCM_LEVELS, GLCM_MM = 2.0, 50, 0.2
ROUGH_MM, FILL_MM = 1.5, 1.0
LINE_SIGMAS_MM, LINE_T = (0.2, 0.4), 1.0
PORE_RADII_MM, PORE_SCALES, PORE_T = (0.1, 0.5), 5, 1.5
SPOT_MM, SPOT_T, SPOT_STEP = 5.0, 5.0, 1.0 / 2.55


class Clock:
    """Wall time per named stage."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = self.times.get(name, 0.0) + now - self._t
        self._t = now


# ------------------------------------------------------------------ reference metrics


def _gauss(image: np.ndarray, sigma: float) -> np.ndarray:
    from scipy import ndimage

    return ndimage.gaussian_filter(image, sigma, mode="constant", cval=0.0)


def _fill_outside(L: np.ndarray, m: np.ndarray, ppm: float) -> np.ndarray:
    """Outside the region: the normalised convolution of the region's L* (σ = 1 mm)."""
    w = m.astype(np.float64)
    num = _gauss(L * w, FILL_MM * ppm)
    den = _gauss(w, FILL_MM * ppm)
    mean = L[m].mean()
    fill = (num + 1e-6 * mean) / (den + 1e-6)
    return np.where(m, L, fill)


# Hessian of the reference: skimage's current default (Gaussian blur, then finite
# differences with np.gradient), or Gaussian-derivative filters (its future default).
EXACT_DERIVATIVES = {"full": False, "grid": True}


def _hessian(image: np.ndarray, sigma: float, exact: bool) -> tuple[np.ndarray, np.ndarray]:
    from skimage.feature import hessian_matrix, hessian_matrix_eigvals

    h = hessian_matrix(image, sigma=sigma, mode="reflect", use_gaussian_derivatives=exact)
    l1, l2 = hessian_matrix_eigvals(h)  # l1 >= l2
    return l1, l2


def ref_glcm(L: np.ndarray, m: np.ndarray, ppm: float) -> dict[str, float]:
    from skimage.feature import graycomatrix, graycoprops

    levels = np.clip(np.floor(L / GLCM_BIN), 0, GLCM_LEVELS - 1).astype(np.uint8)
    levels[~m] = GLCM_LEVELS  # outside: a level of its own, dropped below
    d = max(1, round(GLCM_MM * ppm))
    d_diag = next(k for k in range(d, 3 * d) if round(k * math.sin(math.pi / 4)) == d)
    angles = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
    p = graycomatrix(levels, [d, d_diag], angles, levels=GLCM_LEVELS + 1, symmetric=True)
    p = p[:GLCM_LEVELS, :GLCM_LEVELS, [0, 1, 0, 1], [0, 1, 2, 3]].astype(np.float64)
    p = p / p.sum(axis=(0, 1))  # (levels, levels, 4)
    p = p[:, :, None, :]  # graycoprops wants (levels, levels, distances, angles)
    out = {f"glcm_{k}": float(graycoprops(p, k).mean()) for k in
           ("contrast", "homogeneity", "energy", "correlation")}  # fmt: skip
    logp = np.log2(p, out=np.zeros_like(p), where=p > 0)
    out["glcm_entropy"] = float((-(p * logp).sum(axis=(0, 1))).mean())
    return out


def ref_roughness(L: np.ndarray, m: np.ndarray, ppm: float) -> dict[str, float]:
    w = m.astype(np.float64)
    background = _gauss(L * w, ROUGH_MM * ppm) / np.maximum(_gauss(w, ROUGH_MM * ppm), 1e-12)
    z = (L - background)[m]
    z -= z.mean()
    return {"roughness_ra": float(np.abs(z).mean()), "roughness_rq": float(np.sqrt((z * z).mean()))}


def ref_fine_lines(filled: np.ndarray, m: np.ndarray, ppm: float, exact: bool) -> float:
    from scipy import ndimage

    ridge = blob = None
    for s_mm in LINE_SIGMAS_MM:
        s = s_mm * ppm
        l1, l2 = _hessian(filled, s, exact)
        r = s * s * (l1 - np.abs(l2))
        b = np.where(l2 > 0, s**4 * l1 * l2, 0.0)
        ridge = r if ridge is None else np.maximum(ridge, r)
        blob = b if blob is None else np.maximum(blob, b)
    reach = max(1, round(max(LINE_SIGMAS_MM) * ppm))
    size = 2 * reach + 1
    seeds = (ridge > LINE_T) & (ridge**2 > ndimage.maximum_filter(blob, size=size))
    yy, xx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    disk = xx**2 + yy**2 <= reach**2
    near = ndimage.binary_dilation(seeds, structure=disk)
    closed = ndimage.grey_closing(filled, size=(size, size), mode="reflect")
    bottom = ndimage.grey_erosion(filled, size=(size, size), mode="reflect")
    line = near & (ridge > 0) & (filled < (closed + bottom) / 2)
    return float(100.0 * np.count_nonzero(line & m) / np.count_nonzero(m))


def ref_pores(filled: np.ndarray, m: np.ndarray, ppm: float, exact: bool) -> float:
    from scipy import ndimage

    best = None
    for r in np.geomspace(PORE_RADII_MM[0] * ppm, PORE_RADII_MM[1] * ppm, PORE_SCALES):
        s = r / math.sqrt(2)
        l1, l2 = _hessian(filled, s, exact)
        b = np.where(l2 > 0, s**4 * l1 * l2, 0.0)
        best = b if best is None else np.maximum(best, b)
    nms = max(1, round(PORE_RADII_MM[0] * ppm))
    yy, xx = np.mgrid[-nms : nms + 1, -nms : nms + 1]
    peaks = (best >= ndimage.maximum_filter(best, footprint=xx**2 + yy**2 <= nms**2)) & (
        best > PORE_T**2
    )
    er = math.ceil(PORE_RADII_MM[1] * ppm)
    yy, xx = np.mgrid[-er : er + 1, -er : er + 1]
    inner = ndimage.binary_erosion(m, structure=xx**2 + yy**2 <= er**2, border_value=0)
    _, n = ndimage.label(peaks & inner, structure=np.ones((3, 3)))
    return float(n / (np.count_nonzero(inner) / ppm**2 / 100.0))


def ref_tone(lab: np.ndarray, rgb: np.ndarray, m: np.ndarray) -> dict[str, float]:
    px = lab[m]
    mean, sd = px.mean(axis=0), px.std(axis=0)
    c = rgb[m].astype(np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).mean(axis=0)
    return {
        "lab_l": mean[0], "lab_a": mean[1], "lab_b": mean[2],
        "ita": math.degrees(math.atan((mean[0] - 50) / mean[2])),
        "erythema_index": 100 * math.log10(lin[0] / lin[1]),
        "melanin_index": -100 * math.log10(lin[0]),
        "sigma_l": sd[0], "sigma_a": sd[1], "sigma_b": sd[2],
    }  # fmt: skip


def ref_de_spread(lab: np.ndarray, m: np.ndarray) -> dict[str, float]:
    from skimage.color import deltaE_ciede2000

    px = lab[m]
    d = deltaE_ciede2000(px, np.median(px, axis=0)[None, :])
    p50, p90 = np.percentile(d, [50, 90])
    return {"de2000_p50": float(p50), "de2000_p90": float(p90)}


def ref_spot(L: np.ndarray, m: np.ndarray, ppm: float) -> float:
    filled = np.where(m, L, np.median(L[m]))
    q = np.clip(filled / SPOT_STEP + 0.5, 0, 255).astype(np.uint8)
    k = max(3, round(SPOT_MM * ppm)) | 1
    background = cv2.medianBlur(q, k).astype(np.float64) * SPOT_STEP
    return float(100.0 * np.count_nonzero((background - filled > SPOT_T) & m) / np.count_nonzero(m))


def reference_metrics(
    rgb: np.ndarray, m: np.ndarray, ppm: float, clock: Clock, *, exact: bool
) -> dict:
    """Every metric of the registry, the straightforward way (float64, library calls)."""
    from skimage.color import rgb2lab

    clock.lap("(other)")
    lab = rgb2lab(rgb)
    clock.lap("Lab")
    L = lab[..., 0]
    values = ref_glcm(L, m, ppm)
    clock.lap("GLCM")
    values.update(ref_roughness(L, m, ppm))
    clock.lap("roughness")
    filled = _fill_outside(L, m, ppm)
    values["fine_line_density"] = ref_fine_lines(filled, m, ppm, exact)
    clock.lap("fine lines")
    values["pore_density"] = ref_pores(filled, m, ppm, exact)
    clock.lap("pores")
    values.update(ref_tone(lab, rgb, m))
    clock.lap("tone (means, σ, ITA, EI, MI)")
    values.update(ref_de_spread(lab, m))
    clock.lap("ΔE2000 spread")
    values["spot_area_fraction"] = ref_spot(L, m, ppm)
    clock.lap("spot area")
    return {k: float(v) for k, v in values.items()}


# --------------------------------------------------------------------------- the runs


def run_reference(files: list[Path]) -> dict:
    from PIL import Image

    from progress.grid import ANALYSIS_PX_PER_MM, grid_factor
    from progress.quality import check_quality, quality_baseline
    from progress.registration import align
    from progress.skin import skin_mask

    ref = np.asarray(Image.open(files[0]).convert("RGB"))
    rss0 = max_rss_mib()
    clock = Clock()
    rgb = np.asarray(Image.open(files[MOVING_INDEX]).convert("RGB"))
    clock.lap("decode")
    roi = skin_mask(ref)
    clock.lap("skin mask (reference)")
    check_quality(rgb, baseline=quality_baseline(ref))
    clock.lap("quality")
    a = align(ref, rgb)
    warped, valid = a.warped, a.valid
    clock.lap(ALIGN)
    factor, _, _ = grid_factor(ref.shape, None)
    ppm = ANALYSIS_PX_PER_MM / factor
    values = reference_metrics(warped, roi & valid, ppm, clock, exact=EXACT_DERIVATIVES["full"])
    total = sum(clock.times.values())
    return {"times": clock.times, "total": total, "values": values,
            "peak_mib": max_rss_mib(), "before_mib": rss0}  # fmt: skip


def run_ours(files: list[Path]) -> dict:
    from progress import metrics as metrics_mod
    from progress import registration
    from progress.grid import grid_region, warp_to_grid
    from progress.loader import load_image
    from progress.pipeline import Reference, analyse
    from progress.quality import check_quality, quality_baseline

    ref = load_image(files[0]).rgb
    rss0 = max_rss_mib()
    # One other photo first: the clock should not include OpenCV's one-time set-up (a
    # dashboard or batch process analyses many photos).
    analyse(load_image(files[1]).rgb, reference=Reference.from_photo(ref))
    # The whole pipeline, timed as one call (what the target is about) ...
    t0 = time.perf_counter()
    rgb = load_image(files[MOVING_INDEX]).rgb
    result = analyse(rgb, reference=Reference.from_photo(ref))
    total = time.perf_counter() - t0
    peak = max_rss_mib()
    # ... then once more stage by stage, for the table.
    clock = Clock()
    rgb = load_image(files[MOVING_INDEX]).rgb
    clock.lap("decode")
    reference = Reference.from_photo(ref)
    clock.lap("skin mask (reference)")
    check_quality(rgb, baseline=quality_baseline(ref))
    clock.lap("quality")
    a = registration._align_prepared(registration._prepare_reference(ref), rgb)
    grid = warp_to_grid(rgb, a.matrix, grid_region(reference.roi))
    clock.lap(ALIGN)
    p = metrics_mod.Prepared(grid)
    groups = [
        ("Lab", lambda: p.lab),
        ("GLCM", lambda: p.glcm),
        ("roughness", lambda: p.roughness),
        ("fine lines", lambda: metrics_mod.METRICS["fine_line_density"].func(p)),
        ("pores", lambda: metrics_mod.METRICS["pore_density"].func(p)),
        ("tone (means, σ, ITA, EI, MI)",
         lambda: [metrics_mod.METRICS[k].func(p) for k in
                  ("lab_l", "ita", "sigma_l", "erythema_index", "melanin_index")]),
        ("ΔE2000 spread", lambda: p.de_spread),
        ("spot area", lambda: metrics_mod.METRICS["spot_area_fraction"].func(p)),
    ]  # fmt: skip
    with np.errstate(all="ignore"):
        for name, fn in groups:
            fn()
            clock.lap(name)
    return {"times": clock.times, "total": total, "values": result.metrics,
            "peak_mib": peak, "before_mib": rss0, "grid": [grid.rgb.shape[1], grid.rgb.shape[0]]}  # fmt: skip


def run_ours_reduced(files: list[Path]) -> dict:
    """Ours with both photos decoded at half size (JPEG DCT scaling, ``reduce_to=2000``)."""
    from progress.loader import load_image
    from progress.pipeline import Reference, analyse

    ref = load_image(files[0], reduce_to=2000).rgb
    t0 = time.perf_counter()
    rgb = load_image(files[MOVING_INDEX], reduce_to=2000).rgb
    result = analyse(rgb, reference=Reference.from_photo(ref))
    return {"times": {}, "total": time.perf_counter() - t0, "values": result.metrics,
            "peak_mib": max_rss_mib()}  # fmt: skip


def run_warp_check(files: list[Path]) -> dict:
    """Texture of warped copies against the unwarped photo, per interpolation kernel.

    The reference photo is shifted by whole pixels at full resolution (exact; 1 px is
    0.375 grid px, so the grid sees sub-pixel phases) and rotated by 1° and 3° (Lanczos
    at full resolution, which the area shrink averages out); each copy goes through
    ``warp_to_grid`` with its true matrix and is compared with ``to_grid`` of the
    photo itself.
    """
    from progress import grid as grid_mod
    from progress.loader import load_image
    from progress.metrics import measure_grid
    from progress.pipeline import Reference

    ref = load_image(files[0]).rgb
    reference = Reference.from_photo(ref)
    region = grid_mod.grid_region(reference.roi)
    base = measure_grid(grid_mod.to_grid(ref, reference.roi))
    h, w = ref.shape[:2]
    cases = []
    for dx, dy in [(1, 0), (1, 1), (2, 1), (3, 2), (5, 3)]:
        cases.append(
            (np.ascontiguousarray(ref[dy:, dx:]), np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1.0]]))
        )
    for deg in (1.0, 3.0):
        th = math.radians(deg)
        c = np.array([(w - 1) / 2, (h - 1) / 2])
        rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
        fwd = np.vstack([np.column_stack([rot, c - rot @ c + [0.3, 0.7]]), [0, 0, 1]])
        moved = cv2.warpAffine(ref, fwd[:2], (w, h), flags=cv2.INTER_LANCZOS4,
                               borderMode=cv2.BORDER_REFLECT_101)  # fmt: skip
        cases.append((moved, np.linalg.inv(fwd)))
    kernels = {
        "ours (luma Lanczos, chroma cubic)": (cv2.INTER_LANCZOS4, cv2.INTER_CUBIC),
        "Lanczos (all channels)": (cv2.INTER_LANCZOS4, cv2.INTER_LANCZOS4),
        "bicubic (all channels)": (cv2.INTER_CUBIC, cv2.INTER_CUBIC),
        "bilinear (all channels)": (cv2.INTER_LINEAR, cv2.INTER_LINEAR),
    }
    saved = grid_mod.WARP_INTERPOLATION, grid_mod.WARP_CHROMA_INTERPOLATION
    out = {}
    try:
        for name, (luma, chroma) in kernels.items():
            grid_mod.WARP_INTERPOLATION, grid_mod.WARP_CHROMA_INTERPOLATION = luma, chroma
            diffs: dict[str, list[float]] = {}
            for moving, matrix in cases:
                got = measure_grid(grid_mod.warp_to_grid(moving, matrix, region))
                for k, v in got.items():
                    diffs.setdefault(k, []).append(v - base[k])
            out[name] = diffs
    finally:
        grid_mod.WARP_INTERPOLATION, grid_mod.WARP_CHROMA_INTERPOLATION = saved
    return {"diffs": out, "n_cases": len(cases)}


def run_reference_on_grid(files: list[Path]) -> dict:
    """The float64 library code on our analysis grid (resolution effect removed)."""
    from progress.grid import grid_region, warp_to_grid
    from progress.loader import load_image
    from progress.pipeline import Reference
    from progress.registration import align

    ref = load_image(files[0]).rgb
    rgb = load_image(files[MOVING_INDEX]).rgb
    reference = Reference.from_photo(ref)
    grid = warp_to_grid(rgb, align(ref, rgb).matrix, grid_region(reference.roi))
    clock = Clock()
    values = reference_metrics(
        grid.rgb, grid.mask, grid.px_per_mm, clock, exact=EXACT_DERIVATIVES["grid"]
    )
    return {"times": clock.times, "total": sum(clock.times.values()), "values": values}


def child(kind: str) -> None:
    warnings.simplefilter("ignore")
    files = photo_files(8)
    run = {
        "ours": run_ours,
        "reference": run_reference,
        "grid": run_reference_on_grid,
        "reduced": run_ours_reduced,
        "warp": run_warp_check,
    }[kind]
    print(json.dumps(run(files)))


def _spawn(kind: str) -> dict:
    return run_child(__file__, kind)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes for ours")
    parser.add_argument(
        "--ref-repeat", type=int, default=1, help="fresh processes for the reference (~45 s each)"
    )
    parser.add_argument(
        "--child", choices=["ours", "reference", "grid", "reduced", "warp"], help=argparse.SUPPRESS
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    files = photo_files(8)
    print(machine())
    print(f"photo: {files[MOVING_INDEX].name} (4000×3000) aligned to {files[0].name} (4000×3000)")
    runs: dict[str, list[dict]] = {"ours": [], "reference": []}
    counts = {"ours": args.repeat, "reference": args.ref_repeat}
    # Ours first: right after a reference run the machine is still reclaiming its 3 GB.
    for kind, n in counts.items():
        for i in range(n):
            runs[kind].append(_spawn(kind))
            print(f"  run {i + 1}/{n} {kind:9s} {runs[kind][-1]['total']:7.2f} s", flush=True)
    on_grid = _spawn("grid")
    reduced = _spawn("reduced")
    warp_check = _spawn("warp")

    def med(kind: str, key: str) -> float:
        return float(np.median([r["times"].get(key, 0.0) for r in runs[kind]]))

    stages = list(dict.fromkeys([*runs["reference"][0]["times"], *runs["ours"][0]["times"]]))
    stages = [s for s in stages if s != "(other)"]
    print()
    print(machine().replace("before", "after"))
    print(f"grid: {runs['ours'][0]['grid'][0]}×{runs['ours'][0]['grid'][1]} px at 10 px/mm; "
          f"reference: 4000×3000 px at 26.7 px/mm (nominal)")  # fmt: skip
    head = f"stage (median of {args.repeat} / {args.ref_repeat} processes)"
    print(f"{head:40s} {'ours s':>8s} {'ref. s':>8s} {'×':>6s}")
    for s in stages:
        o, r = med("ours", s), med("reference", s)
        ratio = f"{r / o:6.1f}" if o > 0 and r > 0 else "     -"
        print(f"{s:40s} {o:8.3f} {r:8.3f} {ratio}")
    o_tot = float(np.median([r["total"] for r in runs["ours"]]))
    r_tot = float(np.median([r["total"] for r in runs["reference"]]))
    print(f"{'whole pipeline (one call)':40s} {o_tot:8.3f} {r_tot:8.3f} {r_tot / o_tot:6.1f}")
    o_mem = float(np.median([r["peak_mib"] for r in runs["ours"]]))
    r_mem = float(np.median([r["peak_mib"] for r in runs["reference"]]))
    print(f"{'peak RSS of the process, MiB':40s} {o_mem:8.0f} {r_mem:8.0f} {r_mem / o_mem:6.1f}")
    print(f"  (after imports and decoding the reference photo: ours "
          f"{np.median([r['before_mib'] for r in runs['ours']]):.0f} MiB, reference "
          f"{np.median([r['before_mib'] for r in runs['reference']]):.0f} MiB)")  # fmt: skip

    print(f"{'ours, both photos decoded with reduce_to=2000':40s} {reduced['total']:8.3f}"
          f" {'':8s} {r_tot / reduced['total']:6.1f}   peak RSS {reduced['peak_mib']:.0f} MiB")  # fmt: skip

    limits = {k: v["limit"] for k, v in json.loads(LIMITS_FILE.read_text())["metrics"].items()}
    ours, ref_full, ref_grid = (runs["ours"][0]["values"], runs["reference"][0]["values"],
                                on_grid["values"])  # fmt: skip
    half = reduced["values"]
    print()
    print("values; |Δ|/lim = |ours − other| as a share of the metric's repeatability limit")
    print("(ref full: reference at 12 MP; ref grid: the same float64 library code on our")
    print(" 10 px/mm grid; half: ours with both photos decoded at 2000×1500)")
    print(f"{'metric':20s} {'ours':>9s} {'ref full':>9s} {'ref grid':>9s} {'half':>9s} "
          f"{'limit':>7s} {'Δ/lim full':>10s} {'Δ/lim grid':>10s} {'Δ/lim half':>10s}")  # fmt: skip
    worst = {"full": 0.0, "grid": 0.0, "half": 0.0}
    for k, lim in limits.items():
        o, rf, rg, rh = ours[k], ref_full[k], ref_grid[k], half[k]
        d = {"full": abs(o - rf) / lim, "grid": abs(o - rg) / lim, "half": abs(o - rh) / lim}
        worst = {n: max(worst[n], d[n]) for n in worst}
        flag = "" if max(d.values()) <= 1 else "  > limit"
        print(f"{k:20s} {o:9.4f} {rf:9.4f} {rg:9.4f} {rh:9.4f} {lim:7.3f} "
              f"{d['full']:10.3f} {d['grid']:10.3f} {d['half']:10.3f}{flag}")  # fmt: skip
    print(f"largest |Δ|/limit: {worst['full']:.3f} against the 12 MP reference, "
          f"{worst['grid']:.3f} against the library code on our grid, "
          f"{worst['half']:.3f} for the half-size decode")  # fmt: skip

    print()
    print(f"warp check: {warp_check['n_cases']} shifted/rotated copies of the reference photo "
          "through warp_to_grid vs the unwarped photo on the grid;")  # fmt: skip
    print("largest |Δ| / limit per texture metric (mean signed Δ / limit in brackets)")
    texture_keys = ["glcm_contrast", "glcm_homogeneity", "glcm_entropy", "roughness_ra",
                    "fine_line_density", "pore_density", "sigma_a", "de2000_p50"]  # fmt: skip
    print(f"{'kernel':34s} " + " ".join(f"{k[:13]:>15s}" for k in texture_keys))
    for name, diffs in warp_check["diffs"].items():
        cells = []
        for k in texture_keys:
            v = np.asarray(diffs[k]) / limits[k]
            cells.append(f"{np.abs(v).max():6.3f} ({v.mean():+.3f})")
        print(f"{name:34s} " + " ".join(f"{c:>15s}" for c in cells))
    if args.json:
        args.json.write_text(
            json.dumps({"runs": runs, "grid": on_grid, "reduced": reduced, "warp": warp_check})
        )


if __name__ == "__main__":
    main()
