"""The ``rnnviz`` command line: ``rnnviz SUBCOMMAND ...``.

Each subcommand lives in its own module, which provides ``register(subparsers)``: it adds its parser
and sets ``func`` (called with the parsed arguments, returning an exit code). Add a module to
``COMMANDS`` to add a subcommand.

Errors, one rule: a *user error* is answered in one line on stderr, ``rnnviz COMMAND: message``, with
exit status 2 and no traceback; anything else keeps its traceback, because it is a bug to report.
User errors are exactly these exception types:

- :class:`~rnnviz.cli._options.OptionError`: an option's value (each command checks all its options
  before it runs anything);
- a usage error that argparse finds (an unknown option or command, a value of the wrong type, a
  choice not offered, a required option missing): the same one line, ending with where to look
  (``see 'rnnviz COMMAND --help'``), instead of argparse's usage text;
- :class:`~rnnviz.study.StoreError`: a store file that cannot be used (not a store, older, locked by
  another sweep, read-only);
- :class:`~rnnviz._checks.MissingDependency`: an optional dependency is not installed (the message
  names the ``pip install 'rnnviz[extra]'`` that provides it).

A plain ValueError or TypeError raised while a command runs is *not* caught: the commands turn the
errors of their inputs into OptionError where they check them, so a ValueError that escapes is a bug.
Other outcomes: :class:`~rnnviz.study.WorkersFailed` (a worker process died twice) prints one line and
exits 1; Ctrl-C exits 130 and SIGTERM 143, each after the command stopped its workers, kept every
finished model and logged the run. When the reader of its output goes away (``rnnviz capacity ... --plan
| head``), a command stops quietly with status 141 (128 + SIGPIPE), as the shell's own tools do.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading

COMMANDS = ("rnnviz.cli._capacity", "rnnviz.cli._lm", "rnnviz.cli._adding", "rnnviz.cli._notebooks", "rnnviz.cli._demo", "rnnviz.cli._store")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that the command unwinds as on Ctrl-C: workers are
    stopped, finished models are kept and the run log gets its line."""


class UsageError(Exception):
    """A usage error argparse found, raised instead of its usage text and exit: ``prog`` is the
    (sub)command's name, e.g. ``"rnnviz capacity"``."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse's parser whose usage errors raise :class:`UsageError` (subcommands' parsers are of
    this class too: ``add_subparsers`` makes them with the parser's own class)."""

    def error(self, message: str):
        raise UsageError(self.prog, message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rnnviz", description="See inside recurrent networks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    parser.commands = sub.choices  # name -> parser of each subcommand
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rnnviz`` script (see the module docstring for its exit statuses)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:  # one line, as for every user error
        prog = e.prog
        words = sys.argv[1:] if argv is None else list(argv)
        if prog == "rnnviz" and words and words[0] in parser.commands:  # unrecognized arguments: the top parser says so
            prog = f"rnnviz {words[0]}"
        print(f"{prog}: {e}; see '{prog} --help'", file=sys.stderr)
        return 2
    from .._checks import EnvironmentVariableError, MissingDependency
    from ..study import StoreError, WorkersFailed
    from ._options import OptionError

    name = f"rnnviz {args.command}"
    with _sigterm_raises():
        try:
            status = int(args.func(args) or 0)
            sys.stdout.flush()  # a reader that left shows here, not as an error at the interpreter's exit
            return status
        except (OptionError, StoreError, MissingDependency, EnvironmentVariableError) as e:  # user errors: one line
            print(f"{name}: {e}", file=sys.stderr)
            return 2
        except WorkersFailed as e:
            print(f"{name}: {e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt as e:
            terminated = isinstance(e, Terminated)
            print(f"{name}: {'terminated (SIGTERM)' if terminated else 'interrupted'}; what finished is kept, "
                  "run the same command again to resume", file=sys.stderr)
            return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
        except BrokenPipeError:  # stdout's reader left: nothing more to say, and nothing to flush at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 128 + signal.SIGPIPE


@contextlib.contextmanager
def _sigterm_raises():
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread (elsewhere: unchanged)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated("SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
