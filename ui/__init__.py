"""The review desk: thin PySide6 widgets over ``db.Store`` and the ``annotator`` core.

Nothing here holds business logic or SQL. Start it with ``annotator gui`` or
``ui.app.run_gui(db=None, project="default")``.
"""

from .pyside_compat import make_none_immortal_if_needed

make_none_immortal_if_needed()
