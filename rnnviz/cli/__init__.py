"""The ``rnnviz`` command line: ``rnnviz SUBCOMMAND ...``.

Each subcommand lives in its own module, which provides ``register(subparsers)``: it adds its parser
and sets ``func`` (called with the parsed arguments, returning an exit code). Add a module to
``COMMANDS`` to add a subcommand.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("rnnviz.cli._capacity", "rnnviz.cli._lm", "rnnviz.cli._notebooks", "rnnviz.cli._demo", "rnnviz.cli._store")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnviz", description="See inside recurrent networks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rnnviz`` script."""
    args = build_parser().parse_args(argv)
    from ..study import StoreError

    try:
        return int(args.func(args) or 0)
    except StoreError as e:  # a store file that cannot be used: one line, no traceback
        print(f"rnnviz {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
