"""Benchmark of ``progress.align`` on synthetic 12 MP photo pairs with known transforms.

Run: ``python bench/bench_align.py [--repeat N]``. Prints, for our ``align`` and for the
comparators (``cv2.findTransformECCMultiScale`` on the full-resolution images, SimpleITK
if it is installed), the wall time and the registration error in reference pixels
(mean and max over a grid of moving-frame points that land inside the reference).
A second pair under a known perspective (homography) shows the default ``model="auto"``
choosing the homography, and the capped confidence of a forced similarity.

The scene is scikit-image's astronaut (512×512) upscaled to 4000×3000 with a fixed
fine-grained texture added (as skin pores would give); the moving photo is the scene under
a known similarity, with a brightness/contrast change and independent sensor noise.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc

import cv2
import numpy as np
from skimage import data

from progress import registration
from progress.registration import align

W, H = 4000, 3000


def scene(rng: np.random.Generator) -> np.ndarray:
    """The astronaut at 12 MP with a fine texture (sigma 1.5 px) over it."""
    big = cv2.resize(data.astronaut(), (W, H), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    tex = cv2.GaussianBlur(rng.normal(0.0, 30.0, (H, W)).astype(np.float32), (0, 0), 1.5)
    return np.clip(big + tex[..., None], 0, 255).astype(np.uint8)


def similarity(deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """3×3 similarity about the image centre, then a shift (scene → moving frame)."""
    th = np.deg2rad(deg)
    r = scale * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    c = np.array([(W - 1) / 2, (H - 1) / 2])
    t = c - r @ c + np.asarray(shift)
    return np.vstack([np.column_stack([r, t]), [0.0, 0.0, 1.0]])


def perspective() -> np.ndarray:
    """Scene → moving homography: the frame corners moved by 25-100 px."""
    src = np.float32([[0, 0], [W, 0], [W, H], [0, H]])
    dst = np.float32([[60, 40], [W - 20, 100], [W - 80, H - 30], [30, H - 80]])
    return cv2.getPerspectiveTransform(src, dst).astype(np.float64)


def grid_error(estimate: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Mean and max distance between two moving→reference maps on a 30×30 grid.

    Only grid points that the true map sends inside the reference frame count.
    """
    ys, xs = np.mgrid[0 : H - 1 : 30j, 0 : W - 1 : 30j]
    p = np.column_stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])

    def apply(m: np.ndarray) -> np.ndarray:
        q = p @ m.T
        return q[:, :2] / q[:, 2:]

    t, e = apply(truth), apply(estimate)
    inside = (t[:, 0] >= 0) & (t[:, 0] <= W - 1) & (t[:, 1] >= 0) & (t[:, 1] <= H - 1)
    d = np.hypot(*(t - e)[inside].T)
    return float(d.mean()), float(d.max())


def timed(fn, repeat: int):
    """Run ``fn`` ``repeat`` times: (last result, best wall s, median wall s, best CPU s)."""
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return out, min(times), float(np.median(times)), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-ecc", action="store_true", help="skip the slow full-res ECC")
    args = parser.parse_args()

    rng = np.random.default_rng(2024)
    ref = scene(rng)
    a = similarity(2.0, 1.03, (35.4, -22.7))
    mov = cv2.warpAffine(ref, a[:2], (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    noise = rng.normal(0.0, 4.0, mov.shape).astype(np.float32)
    mov = np.clip(mov.astype(np.float32) * 0.85 + 15.0 + noise, 0, 255).astype(np.uint8)
    truth = np.linalg.inv(a)  # moving → reference
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"images: 2 × {W}×{H}×3 uint8; OpenCV threads: {cv2.getNumThreads()}; "
        f"CPUs: {os.cpu_count()}; load average before: {load:.1f}"
    )
    print("truth: rotation 2°, scale 1.03, shift (35.4, -22.7) px, gain 0.85, offset 15, noise σ 4")
    print("times: wall best and median, CPU best (all threads); errors in reference px")
    print(
        f"{'method':38s} {'best s':>7s} {'median s':>8s} {'CPU s':>6s} {'mean px':>8s} {'max px':>7s}"
    )

    def row(name: str, m: np.ndarray | None, best: float, median: float, cpu: float) -> None:
        if m is None:
            print(f"{name:38s} {best:7.3f} {median:8.3f} {cpu:6.3f}   failed")
            return
        mean, mx = grid_error(m, truth)
        print(f"{name:38s} {best:7.3f} {median:8.3f} {cpu:6.3f} {mean:8.3f} {mx:7.3f}")

    align(ref, mov)  # warm-up (OpenCV initialisation)
    for refine in (True, False):
        res, best, med, cpu = timed(lambda r=refine: align(ref, mov, refine=r), args.repeat)
        row(f"progress.align ({res.method})", res.matrix, best, med, cpu)
    print(f"  confidence {res.confidence:.2f}, residual {res.residual_px:.2f} px: {res.reason}")
    if hasattr(registration, "_prepare_reference"):
        ready = registration._prepare_reference(ref)
        res, best, med, cpu = timed(lambda: registration._align_prepared(ready, mov), args.repeat)
        row("  the same, reference prepared once", res.matrix, best, med, cpu)
    res, best, med, cpu = timed(lambda: align(ref, mov).warped, args.repeat)
    row("  + full-resolution warp (.warped)", align(ref, mov).matrix, best, med, cpu)

    tracemalloc.start()
    align(ref, mov)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  memory: peak of arrays allocated during align {peak / 2**20:.0f} MiB "
        f"(numpy-visible; the warped photo is made only on first use of .warped; inputs "
        f"2 × {ref.nbytes / 2**20:.0f} MiB); process max RSS {rss:.0f} MiB"
    )

    pmat = perspective()
    pmov = cv2.warpPerspective(ref, pmat, (W, H), flags=cv2.INTER_LINEAR)
    pmov = np.clip(pmov.astype(np.float32) * 0.85 + 15.0 + noise, 0, 255).astype(np.uint8)
    ptruth = np.linalg.inv(pmat)
    print("perspective pair: corners moved by 25-100 px, same gain, offset and noise")
    for model in ("auto", "homography", "similarity"):
        res, best, med, cpu = timed(lambda m=model: align(ref, pmov, model=m), args.repeat)
        mean, mx = grid_error(res.matrix, ptruth)
        name = f"progress.align(model={model!r}) -> {res.model}"
        print(
            f"{name:38s} {best:7.3f} {med:8.3f} {cpu:6.3f} {mean:8.3f} {mx:7.3f}"
            f"  confidence {res.confidence:.2f}"
        )

    if not args.skip_ecc:
        g_ref = cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY)
        g_mov = cv2.cvtColor(mov, cv2.COLOR_RGB2GRAY)

        def ecc_pyramid():
            w = np.eye(2, 3, dtype=np.float32)
            params = cv2.ECCParameters()  # affine, 4 pyramid levels, 50 iterations, eps 1e-6
            try:
                _, w = cv2.findTransformECCMultiScale(g_ref, g_mov, w, params)
            except cv2.error:
                return None
            return np.linalg.inv(np.vstack([w, [0, 0, 1]]).astype(np.float64))

        m, best, med, cpu = timed(ecc_pyramid, 1)
        row("cv2.findTransformECCMultiScale (full)", m, best, med, cpu)

    try:
        import SimpleITK as sitk  # noqa: F401
    except ImportError:
        print("SimpleITK is not installed: its comparison is skipped (pip install SimpleITK).")
    else:
        m, best, med, cpu = timed(lambda: sitk_register(ref, mov), 1)
        row("SimpleITK (similarity, Mattes MI)", m, best, med, cpu)


def sitk_register(ref: np.ndarray, mov: np.ndarray) -> np.ndarray | None:
    """SimpleITK similarity registration on quarter-size grey images (multi-resolution)."""
    import SimpleITK as sitk

    s = 0.25
    fr = cv2.resize(
        cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY), None, fx=s, fy=s, interpolation=cv2.INTER_AREA
    )
    mv = cv2.resize(
        cv2.cvtColor(mov, cv2.COLOR_RGB2GRAY), None, fx=s, fy=s, interpolation=cv2.INTER_AREA
    )
    fixed = sitk.GetImageFromArray(fr.astype(np.float32))
    moving = sitk.GetImageFromArray(mv.astype(np.float32))
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(50)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(0.2, seed=1)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(1.0, 1e-4, 300)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([4, 2, 1])
    reg.SetSmoothingSigmasPerLevel([2, 1, 0])
    init = sitk.CenteredTransformInitializer(fixed, moving, sitk.Similarity2DTransform())
    reg.SetInitialTransform(init, inPlace=False)
    try:
        tx = reg.Execute(fixed, moving)
    except RuntimeError:
        return None
    # SimpleITK maps fixed (reference) points to moving points: invert for moving → reference.
    tx = tx.GetNthTransform(0) if hasattr(tx, "GetNthTransform") else tx
    aff = sitk.AffineTransform(2)
    sim = sitk.Similarity2DTransform(tx)
    aff.SetMatrix(sim.GetMatrix())
    aff.SetCenter(sim.GetCenter())
    aff.SetTranslation(sim.GetTranslation())
    a = np.array(aff.GetMatrix()).reshape(2, 2)
    c = np.array(aff.GetCenter())
    t = np.array(aff.GetTranslation())
    fwd = np.eye(3)  # reference (quarter) → moving (quarter)
    fwd[:2, :2] = a
    fwd[:2, 2] = t + c - a @ c
    sm = np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5], [0, 0, 1]])
    return np.linalg.inv(sm) @ np.linalg.inv(fwd) @ sm


if __name__ == "__main__":
    main()
