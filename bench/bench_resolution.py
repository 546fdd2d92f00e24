"""Same skin at several resolutions: per-metric differences against a 20 px/mm source.

Each source photo is taken as 20 px/mm and shrunk by area averaging (a lower-resolution
camera) to ratios 0.9 … 0.4, i.e. 18 … 8 px/mm; every copy is measured with its true
scale and compared with the 20 px/mm photo. Differences are absolute for ITA° and the
mean L*, a*, b*, relative for every other metric. The warp path
(``pipeline``-style ``warp_to_grid`` with an identity alignment onto the reference's grid)
is compared with the direct path as well.

Photos: scikit-image's astronaut (face crop), coffee and chelsea, and the bundled sample
series (grey card left out of the region).

    python bench/bench_resolution.py [--ratios 0.9 0.7 0.5] [--time]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from progress.grid import grid_region, warp_to_grid
from progress.loader import load_image
from progress.metrics import METRICS, measure, measure_grid

ROOT = Path(__file__).resolve().parents[1]
SOURCE_PX_PER_MM = 20.0
RATIOS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4)
ABSOLUTE = ("lab_l", "lab_a", "lab_b", "ita")
CARD = (170, 870, 330, 1030)  # x0, y0, x1, y1 in the sample photos


def photos() -> list[tuple[str, np.ndarray, tuple[int, int, int, int] | None]]:
    """(name, rgb, card box to leave out or None)."""
    out = [
        ("astronaut-face", np.ascontiguousarray(data.astronaut()[20:260, 140:340]), None),
        ("coffee", data.coffee(), None),
        ("chelsea", data.chelsea(), None),
    ]
    for path in sorted((ROOT / "sample_images").glob("*.jpg")):
        out.append((path.stem[:10], load_image(path).rgb, CARD))
    return out


def _mask(shape: tuple[int, int], card, ratio: float) -> np.ndarray | None:
    if card is None:
        return None
    m = np.ones(shape, bool)
    x0, y0, x1, y1 = (round(v * ratio) for v in card)
    m[y0:y1, x0:x1] = False
    return m


def diff(name: str, value: float, ref: float) -> float:
    if name in ABSOLUTE:
        return abs(value - ref)
    return abs(value - ref) / max(abs(ref), 1e-12)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ratios", type=float, nargs="*", default=list(RATIOS))
    ap.add_argument("--time", action="store_true", help="also time measure() on 12 MP")
    args = ap.parse_args()
    names = list(METRICS)
    worst = {r: dict.fromkeys(names, 0.0) for r in args.ratios}
    where = {r: dict.fromkeys(names, "") for r in args.ratios}
    warp_worst = dict.fromkeys(names, 0.0)
    for label, rgb, card in photos():
        h, w = rgb.shape[:2]
        ref = measure(rgb, mask=_mask((h, w), card, 1.0), scale_px_per_mm=SOURCE_PX_PER_MM)
        for r in args.ratios:
            size = (round(w * r), round(h * r))
            dn = rgb if r == 1.0 else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            scale = SOURCE_PX_PER_MM * size[0] / w
            out = measure(dn, mask=_mask(dn.shape[:2], card, size[0] / w), scale_px_per_mm=scale)
            for n in names:
                d = diff(n, out[n], ref[n])
                if not d <= worst[r][n]:
                    worst[r][n], where[r][n] = d, label
        # Warp path with an identity alignment: the same filter as the direct path?
        m = _mask((h, w), card, 1.0)
        region = grid_region(np.ones((h, w), bool) if m is None else m,
                             scale_px_per_mm=SOURCE_PX_PER_MM)  # fmt: skip
        warped = measure_grid(warp_to_grid(rgb, np.eye(3), region))
        for n in names:
            warp_worst[n] = max(warp_worst[n], diff(n, warped[n], ref[n]))

    head = "metric".ljust(20) + "".join(f"{r:>9.2f}" for r in args.ratios) + "   warp"
    print("worst difference per ratio (abs for " + ", ".join(ABSOLUTE) + "; else relative %)")
    print(head)
    for n in names:
        k = 1.0 if n in ABSOLUTE else 100.0
        row = "".join(f"{k * worst[r][n]:9.3f}" for r in args.ratios)
        print(f"{n:20s}{row}{k * warp_worst[n]:9.3f}")
    print("where (photo of the worst case):")
    for n in names:
        print(f"{n:20s}" + "".join(f"{where[r][n]:>11s}" for r in args.ratios))
    if args.time:
        big = cv2.resize(data.astronaut(), (4000, 3000), interpolation=cv2.INTER_CUBIC)
        for scale in (20.0, 10.0, 5.0, 1.0):
            t0 = time.perf_counter()
            measure(big, scale_px_per_mm=scale)
            print(f"12 MP at {scale:g} px/mm: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
