"""``annotator settings``: the user's settings (``annotator.settings``), shown and changed."""

from __future__ import annotations

import argparse
from typing import Any

from annotator.cli.common import print_json


def register(sub: Any) -> None:
    p = sub.add_parser(
        "settings", help="show or change your settings (annotator name, defaults, LLM endpoint)",
        description="Your settings file (TOML; $ANNOTATOR_SETTINGS_FILE, else "
                    "$XDG_CONFIG_HOME/medannotator/settings.toml). ANNOTATOR_<KEY> variables "
                    "override it and command-line options override both. The project's "
                    "default model is the project's (`annotator models set-default`); API "
                    "keys are never kept here (the environment or the OS keyring).")
    ssub = p.add_subparsers(dest="settings_command", metavar="ACTION")
    q = ssub.add_parser("show", help="every setting, its value and where it comes from")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_show)
    q = ssub.add_parser("set", help="write KEY = VALUE into the settings file")
    q.add_argument("key")
    q.add_argument("value")
    q.set_defaults(func=cmd_set)
    q = ssub.add_parser("unset", help="remove KEY from the settings file (back to its default)")
    q.add_argument("key")
    q.set_defaults(func=cmd_unset)
    q = ssub.add_parser("path", help="print where the settings file is")
    q.set_defaults(func=cmd_path)
    p.set_defaults(func=cmd_show, json=False)


def cmd_show(args: argparse.Namespace) -> int:
    from annotator.settings import explain

    rows = explain()
    if args.json:
        print_json({k: {"value": v, "from": where} for k, v, where in rows})
        return 0
    width = max(len(k) for k, _, _ in rows)
    for key, value, where in rows:
        shown = "(unset)" if value is None or value == "" else value
        print(f"{key:<{width}}  {shown}    [{where}]")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    from annotator.settings import save_settings

    print(f"{args.key} written to {save_settings({args.key: args.value})}")
    return 0


def cmd_unset(args: argparse.Namespace) -> int:
    from annotator.settings import save_settings

    print(f"{args.key} removed from {save_settings({args.key: None})}")
    return 0


def cmd_path(args: argparse.Namespace) -> int:
    from annotator.settings import settings_path

    print(settings_path())
    return 0
