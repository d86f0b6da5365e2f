"""Regenerate docs/cards: `.venv/bin/python -m tests.render [--out DIR] [NAME …]`.

Renders every card of tests/render/gallery.py (or the named ones) with the Adaptive Cards JS renderer
in headless Chromium, writes one PNG per card, removes docs/cards PNGs of cards that no longer exist
(full runs only), and exits 1 if the renderer warned about any card.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from tests.render import DOCS_CARDS, RenderError, render_cards
from tests.render.gallery import gallery


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.render", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these cards (default: all)")
    parser.add_argument(
        "--out", type=Path, default=DOCS_CARDS, help=f"where to write (default: {DOCS_CARDS})"
    )
    parser.add_argument("--scale", type=float, default=1, help="device pixels per CSS pixel (default: 1)")
    args = parser.parse_args(argv)

    every = gallery()
    unknown = sorted(set(args.names) - set(every))
    if unknown:
        parser.error(f"no such card: {', '.join(unknown)} (known: {', '.join(every)})")
    chosen = {name: every[name] for name in args.names} if args.names else every
    try:
        run = render_cards(chosen, args.out, scale=args.scale)
    except (pytest.skip.Exception, pytest.fail.Exception) as why:  # Node or Chromium unavailable
        print(f"cannot render: {why}", file=sys.stderr)
        return 1
    except RenderError as error:
        print(error, file=sys.stderr)
        return 1
    if not args.names and args.out.resolve() == DOCS_CARDS:  # never prune a folder it does not own
        for stale in sorted(set(args.out.glob("*.png")) - {report.png for report in run.cards.values()}):
            stale.unlink()
            print(f"removed {stale}")

    print(f"{run.renderer}, {run.user_agent}")
    failed = 0
    for report in run.cards.values():
        problems = report.warnings + ([] if report.text.strip() else ["rendered empty"])
        status = "ok " if not problems else "BAD"
        failed += bool(problems)
        print(f"{status} {report.png}  {report.width}×{report.height}")
        for problem in problems:
            print(f"      {problem}")
        cut = [button["title"] for button in report.buttons if button["truncated"]]
        if cut:
            print(f"      note: button titles cut off at this width: {', '.join(cut)}")
    for url in run.blocked:
        print(f"blocked off-machine request: {url}")
    return 1 if failed or run.page_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
