"""``rnnviz store``: check a capacity store file, or upgrade an older one into a new file."""

from __future__ import annotations

import sys

from ..study import StoreError, check_store, upgrade_store


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "store",
        help="check or upgrade a capacity store (capacity.sqlite)",
        description="Check a capacity store, or upgrade one written by an older rnnviz into a new file "
        "(the old file is never changed). See docs/store.md.",
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
