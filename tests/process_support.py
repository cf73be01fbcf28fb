"""Helpers of the process tests that worker processes import (they cannot see a test's monkeypatching).

:func:`scripted_train` stands in for ``rnnviz.study._run.train_group`` in a worker. Before training a
group it records the attempt as a file ``<cell>-<attempt>`` in the folder ``$RNNVIZ_TEST_ATTEMPTS``;
then ``$RNNVIZ_TEST_RULES`` (JSON: cell -> rule) decides: "once" dies as the out-of-memory killer
would (SIGKILL) on the first attempt, "always" on every attempt, "stall" sleeps for ten minutes (a
group still training when the sweep is killed); other cells train.

Run as a script (``python process_support.py ARGS...``), it is ``rnnviz ARGS...`` with
:func:`scripted_train` in place of ``train_group``.
"""

import json
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

# the real one, taken before a test or the script below puts scripted_train in its place: a forked
# worker inherits that replacement, and looking train_group up again there would find scripted_train
from rnnviz.study._run import train_group


def scripted_train(payload, *args):
    cell = payload[0]["cell"]
    attempts = Path(os.environ["RNNVIZ_TEST_ATTEMPTS"])
    attempt = len(list(attempts.glob(f"{cell}-*")))
    (attempts / f"{cell}-{attempt}").touch()
    rule = json.loads(os.environ.get("RNNVIZ_TEST_RULES", "{}")).get(cell)
    if rule == "always" or (rule == "once" and attempt == 0):
        os.kill(os.getpid(), signal.SIGKILL)
    if rule == "stall":
        time.sleep(600)
    return train_group(payload, *args)


def threads_seen(seconds):
    """A group that trains (one torch thread, as a study's worker) for up to ``seconds``: returns
    ``(seconds, the most threads its CPU kernels were given)``, early once that is more than one."""
    import torch

    from rnnviz.kernels.cpu._threads import kernel_threads

    torch.set_num_threads(1)
    end, most = time.monotonic() + seconds, kernel_threads()
    while most < 2 and time.monotonic() < end:
        time.sleep(0.01)
        most = max(most, kernel_threads())
    return seconds, most


def report_and_wait(payload):
    """A group that reports ``payload = (step, steps, release)`` to the sweep's bar
    (:func:`rnnviz.study._progress.report`, as fit does in a worker), then waits (up to a minute) for
    the file ``release`` to exist; returns ``(step, steps)``."""
    from rnnviz.study._progress import report

    step, steps, release = payload
    report(step, steps)
    end = time.monotonic() + 60
    while not Path(release).exists() and time.monotonic() < end:
        time.sleep(0.01)
    return step, steps


def fail(payload, *args):
    """A group whose training raises (a bug, not a death): the sweep must stop with this error."""
    raise ArithmeticError(f"deliberate failure in group {payload[0]['cell']}")


if __name__ == "__main__":
    import rnnviz.study._run as run_module
    from rnnviz.cli import main

    run_module.train_group = scripted_train
    sys.exit(main(sys.argv[1:]))


def watch_status(want, release: Path, seen: list):
    """A sweep's ``while_running`` for tests, as the progress heartbeat uses it: while the groups train,
    a thread polls ``status()`` until it lists ``want`` (sorted; at most 60 s), appends what it lists
    to ``seen`` and creates ``release`` (the groups then finish); after them ``seen`` gets ``status()``
    once more."""
    @contextmanager
    def watch(status):
        def poll():
            end = time.monotonic() + 60
            while time.monotonic() < end and sorted(status()) != sorted(want):
                time.sleep(0.01)
            seen.append(sorted(status()))
            release.touch()

        thread = threading.Thread(target=poll)
        thread.start()
        yield
        thread.join()
        seen.append(status())

    return watch
