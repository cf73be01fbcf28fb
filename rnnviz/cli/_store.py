"""``rnnviz store``: check a capacity store file, upgrade an older one into a new file, or export its rows
to CSV."""

from __future__ import annotations

import sys
from pathlib import Path

from ..study import StoreError, check_store, upgrade_store
from ._options import OptionError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "store",
        help="check, upgrade or export a capacity store (capacity.sqlite)",
        description="Check a capacity store, upgrade one written by an older rnnviz into a new file "
        "(the old file is never changed), or export its rows to CSV. See docs/store.md.",
    )
    sub = p.add_subparsers(dest="store_command", metavar="ACTION")
    sub.required = True
    check = sub.add_parser("check", help="print a store's schema version, number of models and problems",
                           description="Print a store's schema version, number of models and problems; exit "
                           "status 0 when it is a current store without problems, 1 otherwise. Reads only.")
    check.add_argument("path", metavar="PATH", help="the store file")
    check.set_defaults(func=run_check)
    up = sub.add_parser("upgrade", help="write an older store's models into a new current store",
                        description="Write the models of a store written by an older rnnviz into NEW, a store "
                        "this rnnviz can resume in. OLD is opened read-only and never changed; NEW must not "
                        "exist. Model keys are kept, so a sweep in NEW trains nothing already finished.")
    up.add_argument("old", metavar="OLD", help="the older store")
    up.add_argument("new", metavar="NEW", nargs="?", default=None,
                    help="the new store (default: OLD with the suffix .v3.sqlite)")
    up.set_defaults(func=run_upgrade)
    export = sub.add_parser("export", help="write a store's models to a CSV file, one row per model",
                            description="Write the models of a store to CSV, one row per model, in the "
                            "published columns (rnnviz.study.PUBLISHED_CAPACITY_COLUMNS: configuration, scores, "
                            "stop reason, train_steps, parameters, time, device) or, with --all-columns, every "
                            "column of capacity.csv. The store is opened read-only and checked first.")
    export.add_argument("path", metavar="PATH", help="the store file")
    export.add_argument("csv", metavar="CSV", help="the CSV file to write (replaced atomically)")
    export.add_argument("--all-columns", action="store_true",
                        help="every column (per-position lists, versions, configuration JSON)")
    export.set_defaults(func=run_export)


def run_check(args) -> int:
    report = check_store(args.path)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def run_upgrade(args) -> int:
    try:
        new = upgrade_store(args.old, args.new)
    except StoreError as e:
        print(f"rnnviz store upgrade: {e}", file=sys.stderr)
        return 1
    report = check_store(new)
    print(f"wrote {new}: {report.n_models} models, store schema {report.schema_version} "
          f"({args.old} is unchanged)")
    return 0


def run_export(args) -> int:
    from .._files import write_text_atomically
    from ..study import load_capacity_results, published_capacity_rows

    if Path(args.path).suffix not in (".sqlite", ".db"):
        raise OptionError(f"PATH must be a capacity store (a .sqlite file), got {args.path!r}")
    if not Path(args.path).is_file():
        raise OptionError(f"PATH {args.path!r} does not exist")
    if Path(args.csv).suffix != ".csv":
        raise OptionError(f"CSV must name a .csv file, got {args.csv!r}")
    rows = load_capacity_results(args.path)  # read-only and checked; a StoreError is answered in one line
    table = rows if args.all_columns else published_capacity_rows(rows)
    Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(args.csv, table.to_csv(index=False))
    print(f"wrote {args.csv}: {len(table)} models, {table.shape[1]} columns ({args.path} is unchanged)")
    return 0
