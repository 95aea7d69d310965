"""The text of one document with its spans drawn over it (read-only, text shown exactly).

Drawing (what a reviewer sees):

* accepted span: background in the label colour and a solid bar under the text;
* proposed span (a suggestion): a paler background and a dashed bar;
* rejected span: hidden, or struck through in grey (dotted bar) when "show rejected" is on;
* nesting: each span has its own bar under the text; overlapping spans are stacked on
  lanes (outer span nearest the text, inner spans below), and the inner span's background
  is painted over the outer one, so nested spans stay visibly nested;
* the current span (under the cursor, or picked with J/K or in the span table) is framed.

Offsets: spans use Python code-point offsets; Qt uses UTF-16 positions and turns ``\\r\\n``
into one paragraph break. ``OffsetMap`` converts between the two, so non-BMP characters and
Windows line ends never shift a span.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QPainter,
    QPen,
    QTextBlockFormat,
    QTextCursor,
)
from PySide6.QtWidgets import QTextEdit, QWidget

from annotator.model import Span
from annotator.review import spans_at

LANE_GAP = 4.0  # px between stacked bars
BAR = 2.5  # bar thickness, px


class OffsetMap:
    """Python code-point offsets <-> Qt document positions for one text."""

    def __init__(self, text: str):
        self.n = len(text)
        simple = "\r\n" not in text and len(text.encode("utf-16-le")) == 2 * len(text)
        self._q: list[int] | None = None
        if not simple:
            q, pos = [], 0
            for i, ch in enumerate(text):
                q.append(pos)
                if ch == "\r" and i + 1 < len(text) and text[i + 1] == "\n":
                    continue  # "\r\n" is one paragraph break in Qt
                pos += 2 if ord(ch) > 0xFFFF else 1
            q.append(pos)
            self._q = q

    def to_qt(self, i: int) -> int:
        return i if self._q is None else self._q[max(0, min(i, self.n))]

    def to_py(self, p: int) -> int:
        if self._q is None:
            return max(0, min(p, self.n))
        return min(bisect_left(self._q, p), self.n)


def lanes(spans: Iterable[Span]) -> dict[int, int]:
    """Lane (0 = nearest the text) of each span, keyed by ``id(span)``: overlapping spans never share a lane;
    longer (outer) spans take the lower lanes."""
    lane_end: list[int] = []
    out: dict[int, int] = {}
    for sp in sorted(spans, key=lambda s: (s.start, -s.end, s.id or 0)):
        for i, end in enumerate(lane_end):
            if end <= sp.start:
                lane_end[i] = sp.end
                out[id(sp)] = i
                break
        else:
            lane_end.append(sp.end)
            out[id(sp)] = len(lane_end) - 1
    return out


def _pale(c: QColor, amount: float) -> QColor:
    """``c`` mixed with white (amount 0 = c, 1 = white)."""
    return QColor(int(c.red() + (255 - c.red()) * amount),
                  int(c.green() + (255 - c.green()) * amount),
                  int(c.blue() + (255 - c.blue()) * amount))


class DocumentView(QTextEdit):
    """Read-only text with spans; selection and caret work from mouse and keyboard."""

    currentSpanChanged = Signal(object)  # Span or None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.setAcceptRichText(False)
        self.setCursorWidth(2)
        font = QFont(self.font())
        font.setPointSizeF(max(12.0, font.pointSizeF() * 1.25))
        self.setFont(font)
        self.document().setDocumentMargin(18)
        self.document().setUndoRedoEnabled(False)
        self.text = ""
        self.spans: list[Span] = []
        self.colors: dict[str, QColor] = {}
        self.show_rejected = False
        self.current: Span | None = None
        self.focus_region: tuple[int, int] | None = None
        self._map = OffsetMap("")
        self._lanes: dict[int, int] = {}
        self._paint_order: list[Span] = []
        self._following_cursor = True
        self.cursorPositionChanged.connect(self._on_cursor_moved)

    # ------------------------------------------------------------------ content
    def set_colors(self, colors: dict[str, str]) -> None:
        self.colors = {k: QColor(v) for k, v in colors.items()}
        self._render()

    def set_text(self, text: str) -> None:
        """Show a new document (no spans yet); the caret goes to the start."""
        self.text = text
        self._map = OffsetMap(text)
        self.current, self.focus_region, self.spans = None, None, []
        self.setPlainText(text)
        cur = QTextCursor(self.document())
        cur.select(QTextCursor.SelectionType.Document)
        fmt = QTextBlockFormat()
        fmt.setLineHeight(175, QTextBlockFormat.LineHeightTypes.ProportionalHeight.value)
        cur.mergeBlockFormat(fmt)
        self.moveCursor(QTextCursor.MoveOperation.Start)

    def set_spans(self, spans: list[Span], current_id: int | None = None) -> None:
        """Replace the spans drawn; keep (or set) the current span by id."""
        self.spans = list(spans)
        keep = current_id if current_id is not None else (
            self.current.id if self.current is not None else None)
        self.current = next((s for s in self.spans if s.id == keep), None) if keep else None
        self._render()
        self.currentSpanChanged.emit(self.current)

    def set_show_rejected(self, on: bool) -> None:
        self.show_rejected = on
        self._render()

    def visible_spans(self) -> list[Span]:
        return [s for s in self.spans if self.show_rejected or s.status != "rejected"]

    # ------------------------------------------------------------------ caret / selection
    def selection_range(self) -> tuple[int, int] | None:
        """The selected ``[start, end)`` in Python offsets, or None without a selection."""
        cur = self.textCursor()
        if not cur.hasSelection():
            return None
        return self._map.to_py(cur.selectionStart()), self._map.to_py(cur.selectionEnd())

    def caret(self) -> int:
        return self._map.to_py(self.textCursor().position())

    def select_range(self, start: int, end: int) -> None:
        """Select ``[start, end)`` (Python offsets) and scroll to it."""
        cur = QTextCursor(self.document())
        cur.setPosition(self._map.to_qt(start))
        cur.setPosition(self._map.to_qt(end), QTextCursor.MoveMode.KeepAnchor)
        self.setTextCursor(cur)
        self.ensureCursorVisible()

    def set_current(self, span: Span | None, *, move_caret: bool = True) -> None:
        """Make ``span`` the current one (framed); the caret goes to its start."""
        self.current = span
        self.focus_region = None
        if span is not None and move_caret:
            self._following_cursor = False
            try:
                cur = QTextCursor(self.document())
                cur.setPosition(self._map.to_qt(span.start))
                self.setTextCursor(cur)
                self.ensureCursorVisible()
            finally:
                self._following_cursor = True
        self._render()
        self.currentSpanChanged.emit(span)

    def set_focus_region(self, region: tuple[int, int] | None) -> None:
        """Select a region (a disagreement) and frame it."""
        if region is not None:
            self.select_range(*region)
        self.focus_region = region
        self.viewport().update()

    def _on_cursor_moved(self) -> None:
        if not self._following_cursor:
            return
        cur = self.textCursor()
        pos = self._map.to_py(cur.position())
        hits = spans_at(self.spans, pos, include_rejected=self.show_rejected)
        new = hits[0] if hits else None
        if cur.hasSelection():
            new = self.current if self.current in hits else new
        if new is not self.current:
            self.current = new
            self.viewport().update()
            self.currentSpanChanged.emit(new)

    # ------------------------------------------------------------------ drawing
    def _color(self, label: str) -> QColor:
        return self.colors.get(label) or QColor("#dddddd")

    def _render(self) -> None:
        """Recompute the drawing order and lanes, then repaint.

        Backgrounds are painted by ``paintEvent`` under the text rather than with
        ``setExtraSelections``, which corrupts Python's refcount of None in PySide6 6.12
        (a crash after a few thousand spans).
        """
        shown = self.visible_spans()
        self._lanes = lanes(shown)
        self._paint_order = sorted(shown, key=lambda s: (-(s.end - s.start), s.start))
        self.viewport().update()

    def range_rects(self, start: int, end: int) -> list[QRectF]:
        """Viewport rectangles (one per visual line) covering ``[start, end)``."""
        qa, qb = self._map.to_qt(start), self._map.to_qt(end)
        rects: list[QRectF] = []
        doc = self.document()
        block = doc.findBlock(qa)
        dx, dy = -self.horizontalScrollBar().value(), -self.verticalScrollBar().value()
        while block.isValid() and block.position() <= qb:
            layout = block.layout()
            origin = layout.position()  # document coordinates (QTextDocumentLayout)
            bpos = block.position()
            first = layout.lineForTextPosition(max(qa, bpos) - bpos)
            i = first.lineNumber() if first.isValid() else 0
            while i < layout.lineCount():
                line = layout.lineAt(i)
                i += 1
                ls, le = bpos + line.textStart(), bpos + line.textStart() + line.textLength()
                if ls >= qb:
                    break
                s, e = max(qa, ls), min(qb, le)
                if s >= e:
                    continue
                x1 = line.cursorToX(s - bpos)[0]
                x2 = line.cursorToX(e - bpos)[0]
                top = origin.y() + line.y() + dy
                rects.append(QRectF(origin.x() + x1 + dx, top, x2 - x1,
                                    line.ascent() + line.descent()))
            block = block.next()
        return rects

    def _visible_range(self) -> tuple[int, int]:
        """Python offsets of the first and last characters on screen."""
        rect = self.viewport().rect()
        top = self.cursorForPosition(rect.topLeft()).block().position()
        last = self.cursorForPosition(rect.bottomRight()).block()
        return self._map.to_py(top), self._map.to_py(last.position() + last.length()) + 1

    def paintEvent(self, event) -> None:
        lo, hi = self._visible_range() if self.spans else (0, -1)
        on_screen = [sp for sp in self._paint_order if sp.end >= lo and sp.start <= hi]
        p = QPainter(self.viewport())
        p.fillRect(event.rect(), self.palette().base())
        p.setPen(Qt.PenStyle.NoPen)
        for sp in on_screen:  # outer spans first, inner ones painted over them
            if sp.status == "rejected":
                continue
            base = self._color(sp.label)
            p.setBrush(_pale(base, 0.55) if sp.status == "proposed" else base)
            for a, b in sp.parts:
                for r in self.range_rects(a, b):
                    p.drawRect(r)
        p.end()
        super().paintEvent(event)
        if not on_screen and self.focus_region is None:
            return
        p = QPainter(self.viewport())
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        for sp in on_screen:
            lane = self._lanes.get(id(sp), 0)
            pen = QPen(self._color(sp.label).darker(160), BAR)
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            if sp.status == "proposed":
                pen.setStyle(Qt.PenStyle.DashLine)
            elif sp.status == "rejected":
                pen.setColor(QColor("#9a9a9a"))
                pen.setStyle(Qt.PenStyle.DotLine)
            for a, b in sp.parts:
                for r in self.range_rects(a, b):
                    if sp.status == "rejected":  # struck through
                        p.setPen(QPen(QColor("#8a8a8a"), 1.2))
                        p.drawLine(QPointF(r.left(), r.center().y()),
                                   QPointF(r.right(), r.center().y()))
                    p.setPen(pen)
                    y = r.bottom() + 2 + lane * LANE_GAP
                    p.drawLine(QPointF(r.left() + 1, y), QPointF(r.right() - 1, y))
        if self.current is not None and self.current in self.spans:
            p.setPen(QPen(QColor("#1f2937"), 1.6))
            p.setBrush(Qt.BrushStyle.NoBrush)
            for a, b in self.current.parts:
                for r in self.range_rects(a, b):
                    p.drawRoundedRect(r.adjusted(-2, -1, 2, 1), 3, 3)
        if self.focus_region is not None:
            p.setPen(QPen(QColor("#d9480f"), 1.6, Qt.PenStyle.DashLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            for r in self.range_rects(*self.focus_region):
                p.drawRoundedRect(r.adjusted(-3, -2, 3, 2), 3, 3)
        p.end()

    def span_at_point(self, point) -> Span | None:
        pos = self._map.to_py(self.cursorForPosition(point).position())
        hits = spans_at(self.spans, pos, include_rejected=self.show_rejected)
        return hits[0] if hits else None
