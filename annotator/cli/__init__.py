"""The ``annotator`` command line. Each sub-module registers its sub-commands; the handlers
parse arguments and call the same keyword-only core functions that the GUI calls."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from annotator.errors import AnnotatorError, CancelledError

# sub-command modules, in help order
COMMAND_MODULES = ("data", "review", "team", "prelabel", "silver", "train", "settings", "gui",
                   "doctor")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``argv``, only the commands it names are complete
    (their job parameters read from the jobs' modules), which keeps every start quick."""
    from annotator.cli.params import CommandParser

    parser = argparse.ArgumentParser(
        prog="annotator",
        description="Pre-label, review and export medical named entities.",
    )
    parser.add_argument("--db", default=None,
                        help="database: a SQLite file path or any SQLAlchemy URL "
                             "(default: $ANNOTATOR_DB, else the embedded project in the user "
                             "data folder)")
    parser.add_argument("--project", default="default", help="project inside the database")
    parser.add_argument("--annotator", default=None,
                        help="whose decisions this command writes (default: "
                             "$ANNOTATOR_ANNOTATOR, else the annotator setting of the user "
                             "settings file, else the login)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"annotator.cli.{name}").register(sub)
    _complete(parser, None if argv is None else set(argv))
    return parser


def _load_plugins() -> None:
    """The installed plugins' backends (their names are span sources every command knows)
    and formats: entry point names only, their code is imported when used."""
    from annotator.formats import load_plugins as load_formats
    from annotator.prelabel.registry import load_plugins as load_backends

    load_backends()
    load_formats()


def _complete(parser: argparse.ArgumentParser, names: set[str] | None) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if names is None or name in names:
                    sub.complete()
                    _complete(sub, names)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        _load_plugins()
        rc = args.func(args)
    except AnnotatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CancelledError:
        print("interrupted: finished work is stored; run the same command again to continue",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except OSError as exc:  # unreadable input, unwritable output, disk full: user-fixable
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished work is stored; run the same command again to continue",
              file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
