"""Command-line flags made from a job function's declared parameters
(``annotator.params``): the flag, its type, default, choices and help are the signature's and
its ``Param``'s, so a job's parameter is written once for the CLI and the GUI."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any

from annotator.errors import AnnotatorError
from annotator.params import job_params, setting_defaults


class CommandParser(argparse.ArgumentParser):
    """A sub-command's parser whose arguments may be added when the command is the one run
    (``later``): a job's declared parameters need the job's module imported, and the plugin
    registries scanned, which only that command needs. :func:`annotator.cli.build_parser`
    completes the parsers of the commands its ``argv`` names (all of them without one)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._later: list[Callable[[argparse.ArgumentParser], None]] = []

    def later(self, add: Callable[[argparse.ArgumentParser], None]) -> None:
        self._later.append(add)

    def complete(self) -> None:
        while self._later:
            self._later.pop(0)(self)


def later(parser: argparse.ArgumentParser, add: Callable[[argparse.ArgumentParser], None]
          ) -> None:
    """``add(parser)`` when the command is the one run (a :class:`CommandParser`), else now."""
    if isinstance(parser, CommandParser):
        parser.later(add)
    else:
        add(parser)


def add_job_params(parser: argparse.ArgumentParser, fn: Callable[..., Any], *,
                   skip: Iterable[str] = (), optional: Iterable[str] = ()) -> list[str]:
    """One argument per declared parameter of ``fn`` (but those in ``skip``); ``optional``
    names parameters the job needs that this command may do without (export's ``--out``
    with ``--dry-run``). Returns the parameters' names, for :func:`job_kwargs`."""
    skip, optional = set(skip), set(optional)
    names = []
    for p in job_params(fn):
        if p.name in skip:
            continue
        kw: dict[str, Any] = {"help": p.help or None}
        choices = p.choices()
        if p.param.positional:
            parser.add_argument(p.name, type=p.type, choices=choices,
                                metavar=p.param.metavar, **kw)
            names.append(p.name)
            continue
        kw["dest"] = p.name
        if p.type is bool:
            if p.default is None:
                kw.update(action=argparse.BooleanOptionalAction, default=None)
            elif p.default:  # a flag that turns it off (train --no-default)
                kw.update(action="store_false", default=True)
            else:
                kw.update(action="store_true", default=False)
        else:
            kw.update(type=p.type, choices=choices,
                      default=None if p.param.setting else p.default)
            if p.required and not p.param.setting and p.name not in optional:
                kw["required"] = True
            if p.param.metavar or not choices:
                kw["metavar"] = p.param.metavar or p.name.upper()
        parser.add_argument(p.flag, **kw)
        names.append(p.name)
    return names


def job_kwargs(args: argparse.Namespace, fn: Callable[..., Any], names: Iterable[str]
               ) -> dict[str, Any]:
    """The keyword arguments for ``fn`` from parsed ``args``: parameters with a ``setting``
    that were not given take the user's setting (else the job's default); a required one
    still missing is refused, naming its flag and setting."""
    params = {p.name: p for p in job_params(fn)}
    given = {n: getattr(args, n) for n in names if n in params}
    out = setting_defaults(tuple(params[n] for n in given), given)
    for n in given:
        p = params[n]
        if p.required and out.get(n) in (None, "") and p.param.setting:
            from annotator.settings import settings_path

            raise AnnotatorError(
                f"{p.flag} is needed: give {p.flag} {p.param.metavar or p.name.upper()}, or "
                f"set {p.param.setting} in {settings_path()} "
                f"(or $ANNOTATOR_{p.param.setting.upper()})")
    return out
