"""A job's parameters, declared once: in the job function's own signature.

A keyword-only parameter annotated ``Annotated[T, Param(...)]`` is a parameter a person sets:
the command line makes a flag of it (``annotator.cli.params``) and the GUI a field of its job
dialog (``ui.jobs_actions``), both from :func:`job_params`. Its name, type and default are the
signature's; ``Param`` adds what the signature cannot say (help, choices, the settings key its
default comes from). A parameter without ``Param`` (a store, document ids, a pre-built model,
an API key) is for callers only. Two jobs that share parameters share their ``Annotated``
aliases, so each is still written once::

    Limit = Annotated[int | None, Param(help="process at most N documents", metavar="N")]

    def prelabel_job(store, *, limit: Limit = None, ...): ...
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Param:
    """What a job parameter's signature does not say.

    ``flag``: the command-line name when it is not the parameter's (``fmt`` is ``--format``);
    ``positional``: a positional argument instead of a flag. ``choices``: the allowed values, or
    a function giving them (a registry's names, read when a parser or dialog is built).
    ``setting``: the ``annotator.settings`` key whose value is the default when the parameter is
    not given (and the signature's default after that). ``widget``: ``open``, ``save`` or
    ``dir`` for a path the GUI lets one browse to. ``bounds``: the GUI's range for a number.
    ``advanced``: in the GUI's collapsed "More options" part; ``empty``: what an empty field
    reads in the GUI (what leaving the parameter out means: "all", "the project's").
    ``gui``: False for a parameter the GUI does not offer (another part of the window sets
    it)."""

    help: str | Callable[[], str] = ""  # a function: read when a parser is built
    title: str = ""
    flag: str | None = None
    positional: bool = False
    metavar: str | None = None
    choices: tuple[Any, ...] | Callable[[], tuple[Any, ...]] | None = None
    setting: str | None = None
    widget: str | None = None
    bounds: tuple[float, float] | None = None
    advanced: bool = False
    gui: bool = True
    empty: str = "default"  # what the GUI shows in an empty field: what leaving it out means


_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True)
class JobParam:
    """One declared parameter of a job function, resolved from its signature."""

    name: str
    type: type  # the value's type (str for ``str | Path``); bool, int, float or str
    default: Any
    required: bool  # no default in the signature
    optional: bool  # ``None`` is a value (left out: the job's own default applies)
    param: Param

    @property
    def flag(self) -> str:
        """The command-line spelling, ``--max-words``."""
        return "--" + (self.param.flag or self.name).replace("_", "-")

    @property
    def title(self) -> str:
        return self.param.title or self.name.replace("_", " ").capitalize()

    @property
    def help(self) -> str:
        h = self.param.help
        return h() if callable(h) else h

    def choices(self) -> tuple[Any, ...] | None:
        c = self.param.choices
        return tuple(c()) if callable(c) else c


def _base_type(hint: Any) -> tuple[type, bool]:
    """``(value type, None allowed)`` of an annotation without its ``Annotated`` extras."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        optional = type(None) in args
        rest = [a for a in args if a is not type(None)]
        kinds = [a for a in rest if a in (bool, int, float, str)]
        return (kinds[0] if kinds else str), optional
    return (hint if hint in (bool, int, float, str) else str), False


@functools.cache
def job_params(fn: Callable[..., Any]) -> tuple[JobParam, ...]:
    """The declared parameters of job function ``fn``, in signature order."""
    # not typing.get_type_hints: before 3.11 it wraps a parameter whose default is None in
    # Optional[...], hiding its Annotated
    hints = inspect.get_annotations(fn, eval_str=True)
    out = []
    for name, p in inspect.signature(fn).parameters.items():
        hint = hints.get(name)
        if typing.get_origin(hint) is not typing.Annotated:
            continue
        meta = [m for m in hint.__metadata__ if isinstance(m, Param)]
        if not meta:
            continue
        kind, optional = _base_type(hint.__origin__)
        out.append(JobParam(name, kind, None if p.default is _EMPTY else p.default,
                            p.default is _EMPTY, optional or p.default is None, meta[0]))
    return tuple(out)


def setting_defaults(params: tuple[JobParam, ...], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` with each parameter that has a ``setting`` read through the user's settings
    (``annotator.settings``): a given value is checked and normalised as that setting is (a
    bad one is refused, naming it), one not given (None) is the setting's (the
    ``ANNOTATOR_*`` environment, then the settings file). Parameters still None are left
    out, so the job's default applies."""
    keyed = [p for p in params if p.param.setting and p.name in given]
    out = dict(given)
    if keyed:
        from .settings import load_settings

        user = load_settings(**{p.param.setting: given[p.name] for p in keyed})
        for p in keyed:
            out[p.name] = getattr(user, p.param.setting)
    return {k: v for k, v in out.items()
            if v is not None or k not in {p.name for p in keyed}}
