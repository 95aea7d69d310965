"""A job's parameters are declared once, in its function's signature (``annotator.params``):
the command line's flags and the GUI's fields are made from that declaration."""

from __future__ import annotations

import argparse
from typing import Annotated

import pytest

from annotator.cli import build_parser, main
from annotator.cli.params import add_job_params, job_kwargs
from annotator.errors import AnnotatorError
from annotator.io import export_job, import_job
from annotator.llm.batch import batch_export_job
from annotator.llm.silver import silver_job
from annotator.params import Param, job_params
from annotator.prelabel.job import prelabel_job
from annotator.prelabel.ray_engine import ray_prelabel_job
from annotator.training import train_job

# each job and the sub-command whose flags come from it
COMMANDS = ((prelabel_job, ("prelabel",)), (ray_prelabel_job, ("prelabel",)),
            (silver_job, ("silver",)), (batch_export_job, ("silver-batch", "export")),
            (import_job, ("import",)), (export_job, ("export",)), (train_job, ("train",)))


def _sub(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    for name in path:
        parser = next(a for a in parser._actions
                      if isinstance(a, argparse._SubParsersAction)).choices[name]
    return parser


def _toy(store, *, size: Annotated[int, Param(help="how many", metavar="N")] = 3,
         mode: Annotated[str, Param(choices=("a", "b"))] = "a",
         ratio: Annotated[float | None, Param(bounds=(0.0, 1.0),
                                              setting="prelabel_threshold")] = None,
         name: Annotated[str, Param(flag="label", setting="llm_model")],
         keep: Annotated[bool, Param(flag="no-keep")] = True,
         hidden: int = 7):
    return size, mode, ratio, name, keep, hidden


def test_the_signature_is_the_declaration():
    params = {p.name: p for p in job_params(_toy)}
    assert set(params) == {"size", "mode", "ratio", "name", "keep"}  # hidden: callers only
    assert (params["size"].type, params["size"].default, params["size"].required) == (int, 3,
                                                                                     False)
    assert params["ratio"].type is float and params["ratio"].optional
    assert params["name"].required and params["name"].flag == "--label"
    assert params["mode"].choices() == ("a", "b")


def test_flags_come_from_the_declaration_and_settings_fill_what_is_not_given(monkeypatch):
    monkeypatch.setenv("ANNOTATOR_LLM_MODEL", "from-settings")
    monkeypatch.setenv("ANNOTATOR_PRELABEL_THRESHOLD", "0.25")
    p = argparse.ArgumentParser()
    names = add_job_params(p, _toy)
    args = p.parse_args(["--size", "5", "--no-keep"])
    assert job_kwargs(args, _toy, names) == {"size": 5, "mode": "a", "ratio": 0.25,
                                             "name": "from-settings", "keep": False}
    args = p.parse_args(["--ratio", "0.9", "--label", "given", "--mode", "b"])
    assert job_kwargs(args, _toy, names)["ratio"] == 0.9  # given beats the setting
    assert job_kwargs(args, _toy, names)["name"] == "given"
    with pytest.raises(SystemExit):
        p.parse_args(["--mode", "c"])  # choices are the declaration's


def test_a_required_parameter_missing_from_flags_and_settings_is_named(monkeypatch, capsys,
                                                                       tmp_path):
    monkeypatch.delenv("ANNOTATOR_LLM_MODEL", raising=False)
    p = argparse.ArgumentParser()
    names = add_job_params(p, _toy)
    with pytest.raises(AnnotatorError, match=r"--label is needed.*llm_model"):
        job_kwargs(p.parse_args([]), _toy, names)
    # the same through the real command: silver without a model anywhere
    rc = main(["--db", str(tmp_path / "p.db"), "silver", "--base-url", "http://127.0.0.1:9/v1"])
    assert rc == 2 and "--model is needed" in capsys.readouterr().err


@pytest.mark.parametrize("fn,path", COMMANDS, ids=lambda v: getattr(v, "__name__", None))
def test_every_declared_parameter_is_a_flag_with_the_declared_default(fn, path):
    sub = _sub(build_parser(), path)
    by_dest = {a.dest: a for a in sub._actions}
    for p in job_params(fn):
        action = by_dest[p.name]
        if not p.param.positional:
            assert p.flag in action.option_strings, (fn.__name__, p.name)
        if p.type is not bool and not p.param.setting:
            assert action.default == p.default, (fn.__name__, p.name)
        if p.choices() and not p.param.positional:
            assert tuple(action.choices) == p.choices()


def test_the_gui_fields_are_the_same_declarations(qtbot):
    from ui import jobs_actions
    from ui import settings as st

    s = st.get_settings()
    for spec in jobs_actions.JOBS:
        fn = jobs_actions.load_job_function(spec)
        fields = {f.name: f for f in spec.fields(s)}
        declared = [p for p in job_params(fn) if p.param.gui and p.name not in spec.omit]
        assert declared, spec.key
        for p in declared:
            f = fields[p.name]
            assert f.label == p.title and f.tooltip == p.help and f.advanced == p.param.advanced
            if p.name in spec.defaults(s) or p.param.setting:
                continue  # the window's own default (the project's model), or the user's
            if f.kind in ("int", "float", "bool"):
                want = p.default
            elif f.kind == "choice":
                want = "" if p.default is None else p.default
            else:
                want = "" if p.default is None else str(p.default)
            assert f.default == want, (spec.key, p.name)
        for name in spec.omit:
            assert name not in fields


def test_the_dialog_folds_advanced_fields_types_values_and_asks_for_required_ones(
        qtbot, monkeypatch):
    from PySide6.QtWidgets import QDoubleSpinBox, QMessageBox

    from ui import jobs_actions
    from ui import settings as st

    monkeypatch.delenv("ANNOTATOR_PRELABEL_THRESHOLD", raising=False)
    fields = jobs_actions.job_fields(_toy, st.get_settings(), defaults={}, choices={})
    dlg = jobs_actions.OptionsDialog("Toy", fields)
    qtbot.addWidget(dlg)
    dlg.show()
    assert not dlg.more_box.isVisible() and dlg.more_button.isVisible() is False  # none
    ratio = dlg.editors["ratio"]
    assert isinstance(ratio, QDoubleSpinBox) and ratio.specialValueText() == "default"
    assert "ratio" not in dlg.values()  # "default": left out, the job's own applies
    ratio.setValue(0.4)
    assert dlg.values()["ratio"] == pytest.approx(0.4)
    assert dlg.values()["mode"] == "a" and dlg.values()["keep"] is True
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warned.append(a[2]))
    dlg.accept()  # the name is needed: refused, and said
    assert warned and "Name" in warned[0] and dlg.result() == 0
    dlg.editors["name"].setText("x")
    dlg.accept()
    assert dlg.result() == 1

    spec = next(j for j in jobs_actions.JOBS if j.key == "prelabel")
    dlg = jobs_actions.OptionsDialog("Pre-label", spec.fields(st.get_settings()))
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.more_button.isVisible() and not dlg.more_box.isVisible()
    dlg.more_button.setChecked(True)
    assert dlg.more_box.isVisible() and dlg.editors["limit"].isVisible()
    dlg.editors["limit"].setText("12")
    assert dlg.values()["limit"] == 12 and "threshold" not in dlg.values()


def test_a_command_completes_only_its_own_parser():
    """``annotator stats`` does not import the jobs' modules (their declarations are read by
    the command that runs them); ``prelabel --help`` lists the prelabel job's flags."""
    import subprocess
    import sys

    code = ("import sys; from annotator.cli import build_parser; build_parser(['stats']); "
            "print(sorted(m for m in ('annotator.llm.silver', 'annotator.io', "
            "'annotator.training', 'annotator.prelabel.ray_engine') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
    helptext = subprocess.run([sys.executable, "-m", "annotator", "prelabel", "--help"],
                              capture_output=True, text=True, check=True).stdout
    for p in job_params(prelabel_job) + job_params(ray_prelabel_job):
        assert p.flag in helptext


def test_a_value_given_is_checked_and_normalised_as_its_setting(tmp_path, capsys):
    parser = build_parser(["prelabel"])
    args = parser.parse_args(["prelabel", "--device", " CUDA ", "--threshold", "0.3"])
    kwargs = job_kwargs(args, prelabel_job, args.job_params)
    assert kwargs["device"] == "cuda" and kwargs["threshold"] == 0.3
    args = parser.parse_args(["prelabel", "--device", ""])
    assert "device" not in job_kwargs(args, prelabel_job, args.job_params)  # the job's: cpu
    db = str(tmp_path / "p.db")
    assert main(["--db", db, "prelabel", "--backend", "lexicon", "--threshold", "1.5"]) == 2
    assert "prelabel_threshold = 1.5" in capsys.readouterr().err
    assert main(["--db", db, "prelabel", "--backend", "lexicon", "--device", "gpu"]) == 2
    assert "expected auto, cpu, cuda, cuda:N or mps" in capsys.readouterr().err
    args = build_parser(["silver"]).parse_args(["silver", "--model", " m "])
    got = job_kwargs(args, silver_job, args.job_params)
    assert got["model"] == "m" and isinstance(got["timeout"], float)


def test_a_number_being_typed_is_named_not_a_crash(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from ui import jobs_actions
    from ui import settings as st

    spec = next(j for j in jobs_actions.JOBS if j.key == "silver")
    dlg = jobs_actions.OptionsDialog("Silver", spec.fields(st.get_settings()))
    qtbot.addWidget(dlg)
    dlg.editors["model"].setText("m")
    dlg.editors["temperature"].setText("1e")  # the validator lets it through: not done yet
    assert "temperature" not in dlg.values()
    message, field = dlg.problem()
    assert field.name == "temperature" and "1e" in message
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warned.append(a[2]))
    dlg.accept()
    assert warned == [message] and dlg.result() == 0 and dlg.more_box.isVisibleTo(dlg)
    dlg.editors["temperature"].setText("1e-1")
    assert dlg.values()["temperature"] == pytest.approx(0.1) and dlg.problem() is None
