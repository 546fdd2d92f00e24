"""Command line: ``python -m progress analyze FOLDER --out results.csv [--json results.json]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m progress", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    an = sub.add_parser("analyze", help="analyse a folder of photos (FOLDER/client/area/photos)")
    an.add_argument("folder", type=Path)
    an.add_argument("--out", type=Path, required=True, help="CSV file (appended; resumable)")
    an.add_argument("--json", type=Path, default=None, help="also write all rows as JSON")
    an.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    args = parser.parse_args(argv)
    from progress.batch import run

    try:
        n = run(args.folder, args.out, json_out=args.json, workers=args.workers)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{n} photo(s) analysed; results in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
