"""``python -m rnnviz.lm --preset smoke --out DIR``: the ``rnnviz lm`` command."""

from __future__ import annotations

import argparse
import sys

from ._cli import __doc__ as cli_doc
from ._cli import add_lm_arguments, run_lm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnviz.lm", description=cli_doc.splitlines()[0])
    add_lm_arguments(parser)
    return run_lm(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
