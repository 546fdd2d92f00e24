"""Command line: ``python -m progress analyze FOLDER --out results.csv [--json results.json]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

LAYOUT = """\
folder layout:
  FOLDER/<client>/<area>/<photos>   e.g. archive/anna-k/left-cheek/IMG_0412.HEIC
  FOLDER/<client>/<photos>          area "default"
  FOLDER/<photos>                   client = the folder's name, area "default"
  (deeper sub-folders belong to the area above them; names starting with "." are ignored)

Within an area the photos are ordered by EXIF capture time (then file name). The first
is the reference; every other photo is aligned to it and measured inside its skin region.
One CSV row per photo: client, area, file, capture time, reference file, alignment
confidence/residual/reason, quality status and warnings, and every metric.

A second run with the same --out skips the photos already in it (resumable). A file that
cannot be read gets one "skipped:" line on stderr and no row (a later run retries it).
Exit status: 0 when the run finished (even with skipped files), 2 for a fatal error
(missing folder, unwritable or incompatible --out, a worker process that died), 130 when
interrupted (run the same command again to resume)."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    p = argparse.ArgumentParser(prog="python -m progress", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    an = sub.add_parser(
        "analyze",
        help="analyse a folder of photos (FOLDER/client/area/photos)",
        description="Analyse every photo below FOLDER on every core and write one CSV row "
        "per photo.",
        epilog=LAYOUT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    an.add_argument("folder", type=Path, metavar="FOLDER", help="the folder of photos")
    an.add_argument(
        "--out", type=Path, required=True, help="CSV file (created, or appended to: resumable)"
    )
    an.add_argument("--json", type=Path, default=None, help="also write all rows as JSON here")
    an.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="worker processes (default: one per core)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from progress.batch import run

    try:
        summary = run(args.folder, args.out, json_out=args.json, workers=args.workers)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: the rows written so far are in {args.out}; run the same "
            "command again to go on.",
            file=sys.stderr,
        )
        return 130
    except (OSError, ValueError) as exc:  # BatchError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = f", {len(summary.failed)} skipped (see above)" if summary.failed else ""
    print(
        f"{summary.analysed} photo(s) analysed, {summary.already_done} already done{failed}; "
        f"results in {args.out}" + (f" and {args.json}" if args.json else ""),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
