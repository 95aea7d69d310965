"""Start-up: the xcb library check, the `annotator gui` command and the first-run project."""

from __future__ import annotations

from ui import app


def test_missing_xcb_libraries_are_named_with_the_apt_command(monkeypatch):
    monkeypatch.setattr(app, "wants_xcb", lambda: True)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(app, "missing_libraries",
                        lambda _p: ["libxcb-icccm.so.4", "libxcb-keysyms.so.1",
                                    "libxcb-cursor.so.0", "libxkbcommon-x11.so.0"])
    msg = app.xcb_problems()
    assert "libxcb-icccm.so.4" in msg
    assert ("sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 "
            "libxkbcommon-x11-0") in msg


def test_no_message_when_nothing_is_missing(monkeypatch):
    monkeypatch.setattr(app, "wants_xcb", lambda: True)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(app, "missing_libraries", lambda _p: [])
    assert app.xcb_problems() is None


def test_offscreen_platform_needs_no_check(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert app.wants_xcb() is False
    assert app.xcb_problems() is None


def test_package_names_follow_debian_rules():
    assert app._guess_package("libxcb-xinerama.so.0") == "libxcb-xinerama0"
    assert app._guess_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"


def test_ldd_finds_what_the_real_plugin_lacks():
    plugin = app.xcb_plugin()
    if plugin is None:  # PySide6 without the xcb plugin (not Linux)
        return
    missing = app.missing_libraries(plugin)
    assert all(m.startswith("lib") and ".so" in m for m in missing)


def test_run_gui_refuses_with_a_message_instead_of_aborting(monkeypatch, capsys):
    monkeypatch.setattr(app, "xcb_problems", lambda: "missing: libxcb-icccm.so.4")
    assert app.run_gui(db=None) == 2
    assert "error: missing: libxcb-icccm.so.4" in capsys.readouterr().err


def test_gui_command_passes_db_and_project(monkeypatch):
    from annotator.cli import build_parser, main

    seen = {}
    monkeypatch.setattr(app, "run_gui", lambda db=None, project="default", annotator=None:
                        seen.update(db=db, project=project, annotator=annotator) or 0)
    assert main(["gui", "--db", "x.sqlite", "--project", "p1"]) == 0
    assert seen == {"db": "x.sqlite", "project": "p1", "annotator": None}
    assert main(["--db", "y.sqlite", "gui"]) == 0
    assert seen == {"db": "y.sqlite", "project": "default", "annotator": None}
    # whose layer the window opens on: the global option, or the same after the command
    assert main(["--annotator", "alice", "gui", "--db", "z.sqlite"]) == 0
    assert seen["annotator"] == "alice"
    assert main(["gui", "--annotator", "bob"]) == 0
    assert seen["annotator"] == "bob"
    assert build_parser().parse_args(["gui"]).db is None


def test_default_project_is_created_and_seeded_once(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("ANNOTATOR_DB", raising=False)
    store = app.open_project(None, "default")
    try:
        n = store.count_documents()
        assert n > 0
        assert str(tmp_path) in store.url
    finally:
        store.close()
    again = app.open_project(None, "default")
    try:
        assert again.count_documents() == n
    finally:
        again.close()
