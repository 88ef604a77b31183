"""The ``streamwise`` command."""

from __future__ import annotations

import argparse
import sys

from .server._cli import add_dev_command, add_serve_command

__all__ = ("main",)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``streamwise`` command."""
    parser = argparse.ArgumentParser(prog="streamwise", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    add_serve_command(sub)
    add_dev_command(sub)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handler = getattr(args, "handler", None)
    return int(handler(args)) if handler is not None else 0


if __name__ == "__main__":
    sys.exit(main())
