"""The ``streamwise`` command."""

from __future__ import annotations

import argparse
import sys

__all__ = ("main",)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``streamwise`` command."""
    parser = argparse.ArgumentParser(prog="streamwise", description=__doc__)
    parser.add_subparsers(dest="command")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
