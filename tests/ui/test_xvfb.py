"""The review flow in a REAL X window: Xvfb + the xcb platform plugin + keys typed with
xdotool (XTEST), not the offscreen platform.

Needs the Debian packages ``xvfb`` and ``xdotool``, and the xcb plugin's libraries
(``libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0
libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0``); skipped, with the
reason, where they are missing.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from annotator.model import Document, Label, LabelSchema
from db.engine import display_url

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]

APP = textwrap.dedent("""
    import sys
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from db import Store
    from ui.main_window import MainWindow

    app = QApplication(sys.argv)
    store = Store(sys.argv[1], "default")
    win = MainWindow(store)
    win.resize(1200, 800)
    win.show()
    if not QTest.qWaitForWindowExposed(win, 20000):
        sys.exit("window never exposed")
    print("READY", int(win.winId()), app.platformName(), flush=True)
    sys.exit(app.exec())
""")

TEXT = "Metformine 850 mg matin et soir depuis 2019."


def _need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (apt-get install -y {package})")
    return path


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    """One line of ``proc``'s stdout, or '' if none comes within ``timeout`` s (not a test
    assertion on speed: a guard against a hung process)."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


@pytest.fixture
def db_path(db_url):
    """The project of the window: a SQLite file, and a PostgreSQL database (``db_url``)."""
    return db_url


@pytest.fixture
def xvfb_display():
    """Start Xvfb on a free display (it picks one: -displayfd); stop it by its own pid."""
    xvfb = _need("Xvfb", "xvfb")
    r, w = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(w), "-screen", "0", "1280x1024x24",
                             "-nolisten", "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 30)
        number = os.read(r, 64).decode().strip() if ready else ""
        if not number:
            pytest.skip("Xvfb did not start")
        yield f":{number}"
    finally:
        os.close(r)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _xcb_usable(display: str, env: dict) -> str:
    """'' when the xcb plugin loads, else Qt's message (missing system libraries)."""
    code = ("from PySide6.QtWidgets import QApplication; app = QApplication([]); "
            "print(app.platformName())")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=False, timeout=60)
    return "" if res.stdout.strip() == "xcb" else (res.stderr.strip() or "xcb did not load")


def test_select_and_label_key_in_a_real_x_window(xvfb_display, tmp_path, store, db_path):
    xdotool = _need("xdotool", "xdotool")
    store.set_schema(LabelSchema("xvfb", labels=[Label("DRUG", hotkey="1"),
                                                 Label("DOSE", hotkey="2")]))
    doc_id = store.add_document(Document(text=TEXT, name="ordonnance"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    env.update(DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb", XDG_CONFIG_HOME=str(tmp_path),
               ANNOTATOR_ANNOTATOR="xvfb-tester", XDG_RUNTIME_DIR=str(tmp_path))
    problem = _xcb_usable(xvfb_display, env)
    if problem:
        pytest.skip(f"Qt's xcb platform plugin cannot load: {problem.splitlines()[0]} "
                    "(apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 ...)")
    script = tmp_path / "app.py"
    script.write_text(APP, encoding="utf-8")
    app = subprocess.Popen([sys.executable, str(script), db_path], env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = _readline(app, 120)
        assert line.startswith("READY"), (line, app.poll(), app.stderr.read() if app.poll()
                                          is not None else "")
        _, win_id, platform = line.split()
        assert platform == "xcb"

        def xdo(*args):
            subprocess.run([xdotool, *args], env=env, check=True, timeout=30)

        xdo("windowfocus", "--sync", win_id)
        title = subprocess.run([xdotool, "getwindowname", win_id], env=env, check=True,
                               timeout=30, capture_output=True, text=True).stdout.strip()
        assert title == f"MedAnnotator — default — {display_url(store.url)}"  # no password
        # focus the text, go to its start, select the first word, press the DRUG key
        xdo("key", "--delay", "80", "ctrl+t", "ctrl+Home", "ctrl+shift+Right", "1")
        spans = _wait_for(lambda: store.get_document(doc_id).spans, 60)
        assert [(s.start, s.end, s.label, s.source, s.status, s.annotator) for s in spans] == [
            (0, 10, "DRUG", "human", "accepted", "xvfb-tester")]
        assert TEXT[0:10] == "Metformine"
        # undo in the same window removes it again (every edit is committed at once)
        xdo("key", "ctrl+z")
        assert _wait_for(lambda: not store.get_document(doc_id).spans, 60)
    finally:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()


def _wait_for(probe, timeout: float):
    """Poll ``probe()`` until it returns something truthy (the app commits asynchronously to
    the test process); returns the last value."""
    end = time.monotonic() + timeout
    value = probe()
    while not value and time.monotonic() < end:
        time.sleep(0.1)
        value = probe()
    return value
