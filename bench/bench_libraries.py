"""Our GLCM features and alignment against the libraries a user would reach for instead.

Run: ``python bench/bench_libraries.py [--repeat N] [--skip-full] [--skip-ecc]``
(install the comparators first: ``pip install -e .[bench]``; pyradiomics needs
``pip install versioneer setuptools wheel`` and ``pip install --no-build-isolation
pyradiomics``). A library that is not installed is skipped with the reason printed.

GLCM
----
The input is the bundled baseline photo at 12 MP (``_photos.py``) and its skin mask
(``progress.skin_mask``). Every library gets the *same grey levels* and the *same region*:
L* quantised exactly as the metrics do (``progress.metrics``: bins of ``GLCM_BIN_WIDTH``
L* from 0, ``GLCM_LEVELS`` levels), symmetric matrices, the four directions 0/45/90/135°,
features averaged over the directions (IBSI "2D averaged"). Timed: from the levels and
the mask to the features (the quantisation is shared and not timed).

How each library sees the mask:

* ours (``progress.glcm.glcm`` + ``glcm_features``): a pair counts only when both pixels
  are inside the mask.
* scikit-image ``graycomatrix``/``graycoprops`` cannot mask. Pixels outside the mask get a
  reserved extra level ``GLCM_LEVELS``; the matrix is computed with ``GLCM_LEVELS + 1``
  levels and the reserved row and column are dropped before ``graycoprops`` (which
  re-normalises), so exactly the pairs with both pixels inside are kept. Its offset for
  an angle θ and distance δ is ``(round(δ sin θ), round(δ cos θ))``, so the diagonals are
  asked for at ``δ = d√2`` (at ``δ = 2`` its 45° step would be (1, 1)). Its entropy is in
  nats and is converted to bits.
* mahotas ``features.haralick``: levels are shifted by +1, outside pixels set to 0, the
  image is padded with a frame of zeros (so its border handling cannot add pairs) and
  ``ignore_zeros=True`` drops every pair that touches a 0. Energy is ``√ASM`` per
  direction, then averaged (as ours). It has no dissimilarity.
* pyradiomics ``RadiomicsGLCM`` masks natively (``binWidth=1`` on the level image, so its
  levels are ours shifted, which changes none of these features). It only reports the
  mean ASM, so its energy column is left empty. At a distance ``d > 1`` it uses every
  offset on the square ring of Chebyshev radius ``d`` (8 offsets at ``d = 2``), not
  the four directions times ``d``: its values differ from the others *by definition*.

Blocks: the analysis grid (what the metrics use: long side 1500 px) at ``d = 1`` (all four
libraries define the same matrices: values must agree to rounding) and at the metrics'
``d = round(GLCM_DISTANCE_MM · px/mm)``; then the full 12 MP photo at ``d = 1``.

Alignment
---------
A 12 MP pair with a known transform: the moving photo is the baseline under a similarity
(rotation 2°, scale 1.03, shift (35.4, −22.7) px about the centre), with a gain of 0.85,
an offset of +15 and fresh sensor noise (σ 3). Compared: ``progress.align``;
``cv2.findTransformECC`` (affine, the whole 12 MP grey image, identity start, 50
iterations, as the OpenCV tutorial runs it); ``cv2.findTransformECCMultiScale`` (same,
OpenCV's pyramid); SimpleITK (similarity, Mattes mutual information, 1 % random sampling,
multi-resolution 8/4/2/1 on the 12 MP grey images, regular-step gradient descent starting
at a step of 8 px: with the tutorial's step of 1 px it stops 1.5° short). The error is
the distance, in reference pixels, between where the estimate and the truth send the
moving photo's four corners (mean and max).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine  # noqa: E402
from _photos import photo_files  # noqa: E402

from progress import align, glcm, load_image, skin_mask  # noqa: E402
from progress.colour import srgb_to_lab  # noqa: E402
from progress.metrics import (  # noqa: E402
    GLCM_BIN_WIDTH,
    GLCM_DISTANCE_MM,
    GLCM_LEVELS,
    measure,
    prepare,
)

FEATURES = ("contrast", "dissimilarity", "homogeneity", "asm", "energy", "correlation", "entropy")
NAN = float("nan")


def median_time(
    fn: Callable[[], object], repeat: int, *, warmup: bool = True
) -> tuple[float, object]:
    """Median wall time of ``repeat`` runs (after a warm-up run) and the last result."""
    out = fn() if warmup else None
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


# --------------------------------------------------------------------------- GLCM


def ours(levels: np.ndarray, mask: np.ndarray, d: int) -> dict[str, float]:
    p = glcm.glcm(levels, mask, n_levels=GLCM_LEVELS, distance=d)
    f = glcm.glcm_features(p)
    return {k: getattr(f, k) for k in FEATURES}


def skimage_glcm(levels: np.ndarray, mask: np.ndarray, d: int) -> dict[str, float]:
    from skimage.feature import graycomatrix, graycoprops

    n = GLCM_LEVELS
    work = np.where(mask, levels, n).astype(np.uint8)  # reserved level n = outside
    # skimage's offset is (round(dist·sin θ), round(dist·cos θ)): the diagonals need a
    # distance of d·√2 to step (d, d) as ours do (at d = 2, a distance 2 steps (1, 1)).
    axes = graycomatrix(work, [d], [0, np.pi / 2], levels=n + 1, symmetric=True)
    diag = graycomatrix(
        work, [d * math.sqrt(2)], [np.pi / 4, 3 * np.pi / 4], levels=n + 1, symmetric=True
    )
    p = np.concatenate([axes, diag], axis=3)[:n, :n]  # drop pairs touching the reserved level
    out = {k: float(graycoprops(p, "ASM" if k == "asm" else k).mean()) for k in FEATURES[:-1]}
    out["entropy"] = float(graycoprops(p, "entropy").mean()) / math.log(2)
    return out


def mahotas_glcm(levels: np.ndarray, mask: np.ndarray, d: int) -> dict[str, float]:
    import mahotas

    work = np.pad(np.where(mask, levels + 1, 0).astype(np.uint8), d)
    h = mahotas.features.haralick(work, ignore_zeros=True, distance=d)  # (4 directions, 13)
    return {
        "contrast": float(h[:, 1].mean()),
        "dissimilarity": NAN,
        "homogeneity": float(h[:, 4].mean()),
        "asm": float(h[:, 0].mean()),
        "energy": float(np.sqrt(h[:, 0]).mean()),
        "correlation": float(h[:, 2].mean()),
        "entropy": float(h[:, 8].mean()),
    }


def pyradiomics_glcm(levels: np.ndarray, mask: np.ndarray, d: int) -> dict[str, float]:
    import SimpleITK as sitk
    from radiomics.glcm import RadiomicsGLCM

    image = sitk.GetImageFromArray(levels[None].astype(np.float32))
    roi = sitk.GetImageFromArray(mask[None].astype(np.uint8))
    f = RadiomicsGLCM(image, roi, binWidth=1, force2D=True, distances=[d])
    names = {
        "Contrast": "contrast",
        "DifferenceAverage": "dissimilarity",
        "Idm": "homogeneity",
        "JointEnergy": "asm",
        "Correlation": "correlation",
        "JointEntropy": "entropy",
    }
    for name in names:
        f.enableFeatureByName(name)
    r = f.execute()
    out = {k: float(r[name]) for name, k in names.items()}
    out["energy"] = NAN
    return out


def glcm_libraries() -> list[tuple[str, Callable, str | None]]:
    """(name, function, reason it is skipped or None)."""
    libs: list[tuple[str, Callable, str | None]] = [("ours (progress.glcm)", ours, None)]
    import skimage

    libs.append((f"scikit-image {skimage.__version__}", skimage_glcm, None))
    try:
        import mahotas
    except ImportError as exc:
        libs.append(("mahotas", mahotas_glcm, f"not installed ({exc}); pip install mahotas"))
    else:
        libs.append((f"mahotas {mahotas.__version__}", mahotas_glcm, None))
    try:
        import radiomics
    except Exception as exc:  # a failed build can leave a package that does not import
        reason = f"not importable ({type(exc).__name__}: {exc}); see the module docstring"
        libs.append(("pyradiomics", pyradiomics_glcm, reason))
    else:
        radiomics.setVerbosity(logging.ERROR)
        logging.getLogger("radiomics").setLevel(logging.ERROR)
        libs.append((f"pyradiomics {radiomics.__version__.lstrip('v')}", pyradiomics_glcm, None))
    return libs


def glcm_block(title: str, levels: np.ndarray, mask: np.ndarray, d: int, repeat: int) -> None:
    h, w = levels.shape
    print(f"\n{title}: {w}×{h} px, {int(mask.sum()):,} px in the mask, distance {d} px")
    head = f"{'library':24s} {'median s':>9s} {'×ours':>6s}" + "".join(
        f" {k:>13s}" for k in FEATURES
    )
    print(head)
    base_t, base = NAN, None
    for name, fn, reason in glcm_libraries():
        if reason is not None:
            print(f"{name:24s} skipped: {reason}")
            continue
        try:
            t, values = median_time(lambda f=fn: f(levels, mask, d), repeat)
        except Exception as exc:  # a comparator failing must not stop the others
            print(f"{name:24s} failed: {type(exc).__name__}: {exc}")
            continue
        if base is None:
            base_t, base = t, values
        ratio = t / base_t
        print(
            f"{name:24s} {t:9.4f} {ratio:6.1f}"
            + "".join(f" {_num(values[k]):>13s}" for k in FEATURES)
        )
        if values is not base:
            diffs = [values[k] - base[k] for k in FEATURES]
            print(
                f"{'  − ours':24s} {'':9s} {'':6s}" + "".join(f" {_num(x, 2):>13s}" for x in diffs)
            )


def _num(x: float, digits: int = 6) -> str:
    if not math.isfinite(x):
        return "—"
    return f"{x:.{digits}e}" if digits == 2 else f"{x:.{digits}g}"


# ------------------------------------------------------------------------- alignment


def similarity(deg: float, scale: float, shift: tuple[float, float], w: int, h: int) -> np.ndarray:
    """3×3 similarity about the image centre, then a shift (reference → moving frame)."""
    th = np.deg2rad(deg)
    r = scale * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    c = np.array([(w - 1) / 2, (h - 1) / 2])
    t = c - r @ c + np.asarray(shift)
    return np.vstack([np.column_stack([r, t]), [0.0, 0.0, 1.0]])


def corner_error(
    estimate: np.ndarray | None, truth: np.ndarray, w: int, h: int
) -> tuple[float, float]:
    """Mean and max distance (reference px) between where two moving→reference maps send
    the moving photo's corners."""
    if estimate is None:
        return NAN, NAN
    p = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], float)

    def apply(m: np.ndarray) -> np.ndarray:
        q = p @ np.asarray(m, float).T
        return q[:, :2] / q[:, 2:]

    d = np.hypot(*(apply(estimate) - apply(truth)).T)
    return float(d.mean()), float(d.max())


def ecc_full(ref_g: np.ndarray, mov_g: np.ndarray) -> np.ndarray | None:
    """cv2.findTransformECC, affine, on the full-resolution grey images (moving → ref)."""
    w = np.eye(2, 3, dtype=np.float32)
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-6)
    try:
        _, w = cv2.findTransformECC(ref_g, mov_g, w, cv2.MOTION_AFFINE, crit, None, 5)
    except cv2.error:
        return None
    return np.linalg.inv(np.vstack([w, [0, 0, 1]]).astype(np.float64))


def ecc_pyramid(ref_g: np.ndarray, mov_g: np.ndarray) -> np.ndarray | None:
    """cv2.findTransformECCMultiScale (affine, 4 levels) on the full-resolution images."""
    w = np.eye(2, 3, dtype=np.float32)
    try:
        _, w = cv2.findTransformECCMultiScale(ref_g, mov_g, w, cv2.ECCParameters())
    except cv2.error:
        return None
    return np.linalg.inv(np.vstack([w, [0, 0, 1]]).astype(np.float64))


def sitk_register(ref_g: np.ndarray, mov_g: np.ndarray) -> np.ndarray | None:
    """SimpleITK similarity registration (Mattes MI) of the 12 MP grey images."""
    import SimpleITK as sitk

    fixed = sitk.GetImageFromArray(ref_g.astype(np.float32))
    moving = sitk.GetImageFromArray(mov_g.astype(np.float32))
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(50)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(0.01, seed=1)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(8.0, 1e-3, 200, 0.5)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([8, 4, 2, 1])
    reg.SetSmoothingSigmasPerLevel([4, 2, 1, 0])
    init = sitk.CenteredTransformInitializer(fixed, moving, sitk.Similarity2DTransform())
    reg.SetInitialTransform(init, inPlace=False)
    try:
        tx = reg.Execute(fixed, moving)
    except RuntimeError:
        return None
    if hasattr(tx, "GetNthTransform"):
        tx = tx.GetNthTransform(0)
    sim = sitk.Similarity2DTransform(tx)
    a = np.array(sim.GetMatrix()).reshape(2, 2)
    c = np.array(sim.GetCenter())
    t = np.array(sim.GetTranslation())
    fwd = np.eye(3)  # reference pixel (x, y) → moving pixel (spacing 1, origin 0)
    fwd[:2, :2] = a
    fwd[:2, 2] = t + c - a @ c
    return np.linalg.inv(fwd)


def align_block(repeat: int, ecc_repeat: int, skip_ecc: bool) -> None:
    ref = load_image(photo_files(1)[0]).rgb
    h, w = ref.shape[:2]
    # The moving photo samples the reference at truth(x): truth maps moving → reference
    # (warpAffine with WARP_INVERSE_MAP takes that destination → source map).
    truth = np.linalg.inv(similarity(2.0, 1.03, (35.4, -22.7), w, h))
    mov = cv2.warpAffine(
        ref,
        truth[:2],
        (w, h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )
    rng = np.random.default_rng(7)
    noise = cv2.GaussianBlur(rng.standard_normal(mov.shape).astype(np.float32), (0, 0), 0.7)
    noise *= np.float32(3.0) / noise.std()
    mov = np.clip(mov.astype(np.float32) * 0.85 + 15.0 + noise + 0.5, 0, 255).astype(np.uint8)
    print(
        f"\nAlignment: 12 MP pair {w}×{h}, truth rotation 2°, scale 1.03, shift (35.4, −22.7) px,"
        " gain 0.85, offset 15, noise σ 3"
    )
    print(f"{'method':42s} {'runs':>4s} {'median s':>9s} {'corner mean px':>15s} {'max px':>8s}")

    def row(name: str, runs: int, t: float, m: np.ndarray | None, note: str = "") -> None:
        mean, mx = corner_error(m, truth, w, h)
        tail = "   failed (no transform)" if m is None else f" {mean:15.2f} {mx:8.2f}"
        print(f"{name:42s} {runs:4d} {t:9.2f}{tail}{note}")

    t, res = median_time(lambda: align(ref, mov), repeat)
    row(
        f"progress.align ({res.method})",
        repeat,
        t,
        res.matrix,
        f"   confidence {res.confidence:.2f}",
    )
    ref_g = cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY)
    mov_g = cv2.cvtColor(mov, cv2.COLOR_RGB2GRAY)
    if skip_ecc:
        print("cv2 ECC skipped (--skip-ecc)")
    else:
        t, m = median_time(lambda: ecc_full(ref_g, mov_g), ecc_repeat, warmup=False)
        row("cv2.findTransformECC (full 12 MP)", ecc_repeat, t, m)
        t, m = median_time(lambda: ecc_pyramid(ref_g, mov_g), ecc_repeat, warmup=False)
        row("cv2.findTransformECCMultiScale (12 MP)", ecc_repeat, t, m)
    try:
        import SimpleITK as sitk
    except ImportError as exc:
        print(f"SimpleITK skipped: not installed ({exc}); pip install SimpleITK")
    else:
        t, m = median_time(lambda: sitk_register(ref_g, mov_g), ecc_repeat, warmup=False)
        row(f"SimpleITK {sitk.Version.VersionString()} (similarity, MI)", ecc_repeat, t, m)


# ------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of the fast methods")
    parser.add_argument(
        "--slow-repeat", type=int, default=3, help="runs of ECC and SimpleITK (≥ 2)"
    )
    parser.add_argument("--skip-full", action="store_true", help="skip the 12 MP GLCM block")
    parser.add_argument("--skip-ecc", action="store_true", help="skip the (slow) OpenCV ECC")
    parser.add_argument("--skip-align", action="store_true", help="GLCM only")
    args = parser.parse_args()
    print(machine())
    print(f"timings: median of {args.repeat} runs after a warm-up run (slow methods: see 'runs')")

    photo = load_image(photo_files(1)[0]).rgb
    mask = skin_mask(photo)
    p = prepare(photo, mask=mask)
    grid_levels = glcm.quantise(
        p.lab[..., 0], bin_width=GLCM_BIN_WIDTH, low=0.0, n_levels=GLCM_LEVELS
    )
    d_metric = max(1, round(GLCM_DISTANCE_MM * p.px_per_mm))
    check = ours(grid_levels, p.mask, d_metric)
    metrics = measure(photo, mask=mask)
    same = all(
        math.isclose(check[k], metrics[f"glcm_{k}"], rel_tol=1e-9, abs_tol=1e-12)
        for k in ("contrast", "homogeneity", "energy", "correlation", "entropy")
    )
    print(
        f"grey levels: L* in bins of {GLCM_BIN_WIDTH} from 0, {GLCM_LEVELS} levels; "
        f"analysis grid {p.px_per_mm:g} px/mm; our values here equal progress.measure's: "
        f"{'yes' if same else 'NO'}"
    )
    glcm_block("GLCM, analysis grid, d = 1", grid_levels, p.mask, 1, args.repeat)
    glcm_block(
        f"GLCM, analysis grid, d = {d_metric} (= {GLCM_DISTANCE_MM} mm, the metrics' setting)",
        grid_levels,
        p.mask,
        d_metric,
        args.repeat,
    )
    if not args.skip_full:
        full_levels = glcm.quantise(
            srgb_to_lab(photo)[..., 0], bin_width=GLCM_BIN_WIDTH, low=0.0, n_levels=GLCM_LEVELS
        )
        glcm_block("GLCM, full 12 MP photo, d = 1", full_levels, mask, 1, max(2, args.repeat // 2))
        del full_levels
    if not args.skip_align:
        align_block(args.repeat, max(2, args.slow_repeat), args.skip_ecc)


if __name__ == "__main__":
    main()
