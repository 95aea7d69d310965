"""Start the review desk: check the Qt platform can load, build the QApplication, open the
project and show the main window.

On Linux the default ``xcb`` platform plugin links against X libraries that a fresh machine
may lack; Qt then aborts with "could not load the Qt platform plugin". ``xcb_problems``
finds the missing ones with ``ldd`` on PySide6's ``libqxcb.so`` and ``run_gui`` prints
which Debian/Ubuntu packages to install instead of letting Qt abort.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# soname -> Debian/Ubuntu package
XCB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
}


def _guess_package(soname: str) -> str:
    """Debian's naming rule: ``libfoo-bar.so.N`` ships in ``libfoo-barN``."""
    if soname in XCB_PACKAGES:
        return XCB_PACKAGES[soname]
    m = re.match(r"(lib[\w.+-]+?)\.so\.(\d+)", soname)
    if not m:
        return soname
    name, ver = m.group(1).lower().replace("_", "-"), m.group(2)
    return f"{name}-{ver}" if name[-1].isdigit() else f"{name}{ver}"


def xcb_plugin() -> Path | None:
    """PySide6's xcb platform plugin (``libqxcb.so``), or None when absent."""
    import PySide6  # a dependency; imported here so that the check runs before Qt loads

    p = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return p if p.exists() else None


def missing_libraries(plugin: Path) -> list[str]:
    """Sonames ``ldd`` reports as "not found" for ``plugin`` (empty when ldd is absent)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=20,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = re.findall(r"^\s*(\S+)\s*=>\s*not found", out, flags=re.MULTILINE)
    return list(dict.fromkeys(found))


def wants_xcb() -> bool:
    """True when Qt would try the xcb platform (Linux, not told otherwise)."""
    if not sys.platform.startswith("linux"):
        return False
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return "xcb" in platform.split(";")[0]
    return not os.environ.get("WAYLAND_DISPLAY")


def xcb_problems() -> str | None:
    """A message naming what stops the xcb platform from loading, or None when it can load."""
    if not wants_xcb():
        return None
    if not os.environ.get("DISPLAY"):
        return ("no X display: $DISPLAY is not set. Run the GUI inside a desktop session, "
                "or set QT_QPA_PLATFORM=offscreen for headless use.")
    plugin = xcb_plugin()
    if plugin is None:
        return None
    missing = missing_libraries(plugin)
    if not missing:
        return None
    packages = list(dict.fromkeys(_guess_package(s) for s in missing))
    lines = ["the Qt xcb platform plugin cannot load: these system libraries are missing:"]
    lines += [f"  {s}  (package {_guess_package(s)})" for s in missing]
    lines += ["Install them with:", f"  sudo apt-get install -y {' '.join(packages)}",
              ("(Fedora: sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms "
               "libxkbcommon-x11)")]
    return "\n".join(lines)


def create_app(argv: list[str] | None = None):
    """The QApplication (created once), with a consistent light look on every platform."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setApplicationName("MedAnnotator")
        app.setOrganizationName("medannotator")
        app.setStyle("Fusion")
    return app


def run_gui(db: str | None = None, project: str = "default",
            annotator: str | None = None) -> int:
    """Open the project (``db`` None: the embedded project in the user's data folder, created
    and seeded with sample documents on first run) and run the window until it closes.
    ``annotator`` (``annotator --annotator NAME gui``) is who works in this window; with
    documents assigned to them, the window opens on their own layer."""
    if annotator:
        os.environ["ANNOTATOR_ANNOTATOR"] = annotator  # this process's identity
    problem = xcb_problems()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    store = open_project(db, project)
    app = create_app()
    from annotator.review import get_annotator
    from db.team_queries import work_store

    from .main_window import MainWindow

    # an annotator with documents assigned opens on their queue: their own layer
    win = MainWindow(work_store(store, get_annotator()))
    win.show()
    try:
        return int(app.exec())
    finally:
        store.close()


def open_project(db: str | None, project: str):
    """A Store on ``db``; the embedded default project is seeded with samples when empty."""
    from db import Store

    store = Store(db, project)
    if db is None and not os.environ.get("ANNOTATOR_DB") and store.count_documents() == 0:
        from annotator.samples import seed_sample_project

        print(f"first run: creating the sample project in {store.url}", file=sys.stderr)
        seed_sample_project(store)
    return store
