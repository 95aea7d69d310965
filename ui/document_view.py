"""The text of one document with its spans drawn over it (read-only, text shown exactly).

Drawing (what a reviewer sees):

* accepted span: background in the label colour and a solid bar under the text;
* proposed span (a suggestion): a paler background and a dashed bar (short dashes, wide
  gaps: it reads as "not yet decided" without its colour);
* a label tag (a short name, "Di" for Disease) under the end of each span, so that the label
  never depends on colour alone (View > Label tags turns it off);
* rejected span: hidden, or struck through in grey (dotted bar) when "show rejected" is on;
* nesting: each span has its own bar under the text; overlapping spans are stacked on
  lanes (outer span nearest the text, inner spans below), and the inner span's background
  is painted over the outer one, so nested spans stay visibly nested;
* a discontinuous span: each fragment is drawn like a span, on one lane, and a dotted line
  on that lane joins each fragment to the next, so the parts read as one entity;
* the current span (under the cursor, or picked with J/K or in the span table) is framed
  (every fragment of it).

Speed (a 1,000-span document must open in < 50 ms and take an edit in < 20 ms): the geometry
of a span (its rectangles, in document coordinates) is computed once per layout and cached
(the cache is emptied when the text, the width or the font changes); a paint only looks at
the spans of the lines on screen, found by bisecting the spans sorted by start.

Offsets: spans use Python code-point offsets; Qt uses UTF-16 positions and turns ``\\r\\n``
into one paragraph break. ``OffsetMap`` converts between the two, so non-BMP characters and
Windows line ends never shift a span.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QPainter,
    QPen,
    QRegion,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import QTextEdit, QWidget

from annotator.model import Span
from annotator.review import drag_boundary, spans_at

LANE_GAP = 4.0  # px between stacked bars
BAR = 2.5  # bar thickness, px
HANDLE_PX = 5.0  # px either side of a span edge where a mouse press grabs it
PARTIAL_MAX = 64  # more changed spans than this: repaint the whole viewport
TAG_PX = 9.0  # height of a label tag under a span's bar


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
    """Lane (0 = nearest the text) of each span, keyed by ``id(span)``: overlapping spans never
    share a lane; longer (outer) spans take the lower lanes."""
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


def _paint_key(sp: Span) -> tuple[int, int, int]:
    return (-(sp.end - sp.start), sp.start, sp.id or 0)


def _pale(c: QColor, amount: float) -> QColor:
    """``c`` mixed with white (amount 0 = c, 1 = white)."""
    return QColor(int(c.red() + (255 - c.red()) * amount),
                  int(c.green() + (255 - c.green()) * amount),
                  int(c.blue() + (255 - c.blue()) * amount))


class DocumentView(QTextEdit):
    """Read-only text with spans; selection and caret work from mouse and keyboard."""

    currentSpanChanged = Signal(object)  # Span or None
    # an edge of the current span dragged with the mouse: (span, "start"|"end", Python
    # offset where it was dropped, exact: Alt held)
    boundaryDragged = Signal(object, str, int, bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._geom: dict[tuple[int, int], list[QRectF]] = {}  # document coordinates
        self.setReadOnly(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        # a scroll bar that comes and goes changes the width, and a 1,000-span document
        # would be laid out twice per switch
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
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
        self.tags: dict[str, str] = {}  # label key -> short tag drawn under its spans
        self.show_tags = True
        self._tag_font = QFont(self.font())
        self._tag_font.setPixelSize(int(TAG_PX))
        self._tag_font.setBold(True)
        self.show_rejected = False
        self.current: Span | None = None
        self.focus_region: tuple[int, int] | None = None
        self._map = OffsetMap("")
        self._lanes: dict[int, int] = {}
        self._by_start: list[Span] = []  # shown spans sorted by start
        self._starts: list[int] = []
        self._max_len = 0
        self._span_ids: set[int] = set()  # id() of the spans in self.spans
        self._max_lane = 0
        self._fills: dict[tuple[str, str], QColor] = {}
        self._pens: dict[tuple[str, str], QPen] = {}
        self._following_cursor = True
        self._drag: tuple[str, Span] | None = None  # edge being dragged, and its span
        self._drag_pos: int | None = None
        self.cursorPositionChanged.connect(self._on_cursor_moved)
        # partial repaints are queued in viewport coordinates: after a scroll (which blits
        # the old pixels) repaint everything rather than trust a region that has moved
        for bar in (self.verticalScrollBar(), self.horizontalScrollBar()):
            bar.valueChanged.connect(lambda _v: self.viewport().update())
        self.document().documentLayout().documentSizeChanged.connect(
            lambda _size: self._geom.clear())

    # ------------------------------------------------------------------ content
    def set_colors(self, colors: dict[str, str]) -> None:
        self.colors = {k: QColor(v) for k, v in colors.items()}
        self._fills.clear()
        self._pens.clear()
        self._render()

    def set_tags(self, tags: dict[str, str]) -> None:
        """Short tags per label key (``ui.label_palette.label_tags``)."""
        self.tags = dict(tags)
        self.viewport().update()

    def set_show_tags(self, on: bool) -> None:
        self.show_tags = bool(on)
        self.viewport().update()

    def set_text(self, text: str) -> None:
        """Show a new document (no spans yet); the caret goes to the start."""
        self.text = text
        self._map = OffsetMap(text)
        self.current, self.focus_region, self.spans = None, None, []
        self._span_ids = set()
        self._by_start, self._starts, self._lanes = [], [], {}
        self._geom.clear()
        # one edit block that inserts the text with its block format: the document is laid
        # out once (setPlainText + mergeBlockFormat laid it out twice); insertText treats
        # "\r\n", "\n" and U+2029 exactly as setPlainText does
        cur = QTextCursor(self.document())
        cur.beginEditBlock()
        cur.select(QTextCursor.SelectionType.Document)
        cur.removeSelectedText()
        fmt = QTextBlockFormat()
        fmt.setLineHeight(175, QTextBlockFormat.LineHeightTypes.ProportionalHeight.value)
        cur.setBlockFormat(fmt)
        cur.setCharFormat(QTextCharFormat())
        cur.insertText(text)
        cur.endEditBlock()
        self.moveCursor(QTextCursor.MoveOperation.Start)

    def set_spans(self, spans: list[Span], current_id: int | None = None) -> None:
        """Replace the spans drawn; keep (or set) the current span by id.

        Span objects that stay in the list are taken as unchanged (an edit passes a new
        object for the span it changed): when few spans differ, only the lines of the
        changed spans, of the spans whose lane moved and of the old/new current span are
        repainted."""
        old_list, old_ids = self.spans, self._span_ids
        old_current = self.current
        self.spans = list(spans)
        self._span_ids = {id(s) for s in self.spans}
        keep = current_id if current_id is not None else (
            self.current.id if self.current is not None else None)
        self.current = next((s for s in self.spans if s.id == keep), None) if keep else None
        added = [s for s in self.spans if id(s) not in old_ids]
        removed = [s for s in old_list if id(s) not in self._span_ids]
        if old_list and len(added) + len(removed) <= PARTIAL_MAX:
            # an edit: patch the indexes and re-lane only the overlap clusters it touches
            moved = self._patch(added, removed)
            self._update_spans([*added, *removed, *moved, old_current, self.current])
        else:
            self._render(update=False)
            self.viewport().update()
        self.currentSpanChanged.emit(self.current)

    def _shown(self, sp: Span) -> bool:
        return self.show_rejected or sp.status != "rejected"

    def _patch(self, added: list[Span], removed: list[Span]) -> list[Span]:
        """Take ``removed`` out of and ``added`` into the start index, then recompute the
        lanes of the overlap clusters the changed spans reach (lanes of other clusters cannot
        change: ``lanes`` starts every cluster on free lanes). Returns the spans whose lane
        moved. O(cluster + log n) instead of O(n log n) per edit."""
        for sp in removed:
            i = bisect_left(self._starts, sp.start)
            while i < len(self._by_start) and self._by_start[i] is not sp:
                i += 1
            if i < len(self._by_start):
                del self._by_start[i], self._starts[i]
            self._lanes.pop(id(sp), None)
        for sp in added:
            i = bisect_right(self._starts, sp.start)
            self._by_start.insert(i, sp)
            self._starts.insert(i, sp.start)
            self._max_len = max(self._max_len, sp.end - sp.start)
        moved: list[Span] = []
        fresh = {id(sp) for sp in added}
        for lo, hi in sorted((sp.start, sp.end) for sp in (*added, *removed)):
            cluster = self._cluster(lo, hi)
            new = lanes(cluster)
            for sp in cluster:
                if self._lanes.get(id(sp)) != new[id(sp)]:
                    if id(sp) not in fresh:
                        moved.append(sp)
                    self._lanes[id(sp)] = new[id(sp)]
        self._max_lane = max(self._lanes.values(), default=0)
        return moved

    def _cluster(self, lo: int, hi: int) -> list[Span]:
        """The shown spans overlapping ``[lo, hi)``, closed under overlap (whole clusters)."""
        while True:
            near = [sp for sp in self._near(lo, hi)
                    if sp.start < hi and sp.end > lo and self._shown(sp)]
            nlo = min([lo, *(sp.start for sp in near)])
            nhi = max([hi, *(sp.end for sp in near)])
            if (nlo, nhi) == (lo, hi):
                return near
            lo, hi = nlo, nhi

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
        self._update_spans([self.current, span], self.focus_region)
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
        self._update_spans([span])
        self.currentSpanChanged.emit(span)

    def set_focus_region(self, region: tuple[int, int] | None) -> None:
        """Select a region (a disagreement) and frame it."""
        if region is not None:
            self.select_range(*region)
        if region != self.focus_region:
            self._update_spans([], self.focus_region, region)
            self.focus_region = region

    def _on_cursor_moved(self) -> None:
        if not self._following_cursor:
            return
        cur = self.textCursor()
        pos = self._map.to_py(cur.position())
        hits = spans_at(self._near(pos), pos, include_rejected=self.show_rejected)
        new = hits[0] if hits else None
        if cur.hasSelection():
            new = self.current if self.current in hits else new
        if new is not self.current:
            self._update_spans([self.current, new])
            self.current = new
            self.currentSpanChanged.emit(new)

    # ------------------------------------------------------------------ drawing
    def _color(self, label: str) -> QColor:
        return self.colors.get(label) or QColor("#dddddd")

    def _render(self, update: bool = True) -> None:
        """Recompute the drawing order and lanes, then repaint (when ``update``).

        Backgrounds are painted by ``paintEvent`` under the text rather than with
        ``setExtraSelections``, which corrupts Python's refcount of None in PySide6 6.12
        (a crash after a few thousand spans).
        """
        shown = self.visible_spans()
        self._lanes = lanes(shown)
        self._by_start = sorted(self.spans, key=lambda s: s.start)
        self._starts = [sp.start for sp in self._by_start]
        self._max_len = max((sp.end - sp.start for sp in self._by_start), default=0)
        self._max_lane = max(self._lanes.values(), default=0)
        if update:
            self.viewport().update()

    def _update_spans(self, spans: Iterable[Span | None],
                      *regions: tuple[int, int] | None) -> None:
        """Schedule a repaint of the lines (full width, with the bars hanging under them)
        that ``spans`` and ``regions`` cover; the whole viewport when one of them has no
        geometry yet."""
        ranges = [part for sp in spans if sp is not None for part in sp.parts]
        ranges += [r for r in regions if r is not None]
        if not ranges:
            return
        vp = self.viewport()
        dy = -self.verticalScrollBar().value()
        below = (2 + (self._max_lane + 1) * LANE_GAP + BAR + 4
                 + (TAG_PX if self.show_tags else 0))
        width = vp.width()
        region = QRegion()
        for a, b in ranges:
            rects = self._doc_rects(a, b) if a < b else []
            if not rects and a < b:
                vp.update()
                return
            for r in rects:
                region += QRect(0, int(r.top() + dy) - 5, width, int(r.height() + below) + 10)
        if not region.isEmpty():
            vp.update(region)

    def _near(self, lo: int, hi: int | None = None) -> list[Span]:
        """Spans (rejected ones included) that reach ``[lo, hi]``: ``end >= lo`` and
        ``start <= hi``, in start order; a bisection, not a scan of every span."""
        hi = lo if hi is None else hi
        a = bisect_left(self._starts, lo - self._max_len)
        b = bisect_right(self._starts, hi)
        return [sp for sp in self._by_start[a:b] if sp.end >= lo]

    # geometry ---------------------------------------------------------------------
    def _fill(self, label: str, status: str) -> QColor:
        key = (label, status)
        c = self._fills.get(key)
        if c is None:
            base = self._color(label)
            c = self._fills[key] = _pale(base, 0.55) if status == "proposed" else base
        return c

    def _bar_pen(self, label: str, status: str) -> QPen:
        key = (label, status)
        pen = self._pens.get(key)
        if pen is None:
            pen = QPen(self._color(label).darker(160), BAR)
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            if status == "proposed":
                pen.setDashPattern([1.6, 1.4])  # in pen widths: short dashes, wide gaps
            elif status == "rejected":
                pen.setColor(QColor("#9a9a9a"))
                pen.setStyle(Qt.PenStyle.DotLine)
            self._pens[key] = pen
        return pen

    def resizeEvent(self, event) -> None:
        self._geom.clear()
        super().resizeEvent(event)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._geom.clear()
        super().changeEvent(event)

    def _doc_rects(self, start: int, end: int) -> list[QRectF]:
        """Rectangles in document coordinates (one per visual line) covering ``[start, end)``,
        cached until the layout changes. Do not modify the list returned."""
        key = (start, end)
        rects = self._geom.get(key)
        if rects is None:
            rects = self._layout_rects(start, end)
            if rects:  # a block not laid out yet has no lines: try again next time
                self._geom[key] = rects
        return rects

    def range_rects(self, start: int, end: int) -> list[QRectF]:
        """Viewport rectangles (one per visual line) covering ``[start, end)``."""
        dx, dy = -self.horizontalScrollBar().value(), -self.verticalScrollBar().value()
        return [r.translated(dx, dy) for r in self._doc_rects(start, end)]

    def _layout_rects(self, start: int, end: int) -> list[QRectF]:
        qa, qb = self._map.to_qt(start), self._map.to_qt(end)
        rects: list[QRectF] = []
        doc = self.document()
        block = doc.findBlock(qa)
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
                top = origin.y() + line.y()
                rects.append(QRectF(origin.x() + x1, top, x2 - x1,
                                    line.ascent() + line.descent()))
            block = block.next()
        return rects

    def _visible_range(self, vp: QRect) -> tuple[int, int]:
        """Python offsets ``(lo, hi)`` of the text in ``vp`` (viewport coordinates), widened
        by two lines above and below (the bars of a line hang into the gap under it)."""
        layout = self.document().documentLayout()
        x0 = self.horizontalScrollBar().value()
        y0 = self.verticalScrollBar().value() + vp.top()
        pad = 2.0 * self.fontMetrics().height() * 1.75
        fuzzy = Qt.HitTestAccuracy.FuzzyHit
        top = layout.hitTest(QPointF(0.0, max(0.0, y0 - pad)), fuzzy)
        bottom = layout.hitTest(QPointF(x0 + vp.width() + 1e4, y0 + vp.height() + pad), fuzzy)
        lo = self._map.to_py(top) if top >= 0 else 0
        hi = self._map.to_py(bottom) + 1 if bottom >= 0 else self._map.n
        return lo, hi

    def _on_screen(self, vp: QRect) -> list[Span]:
        """Shown spans that reach the lines in ``vp`` (viewport coordinates), in paint order:
        longer (outer) first, then by start and id, so inner spans are painted over them."""
        if not self._by_start:
            return []
        lo, hi = self._visible_range(vp)
        near = [sp for sp in self._near(lo, hi) if self._shown(sp)]
        near.sort(key=_paint_key)
        return near

    def paintEvent(self, event) -> None:
        on_screen = self._on_screen(event.rect())
        dx, dy = -self.horizontalScrollBar().value(), -self.verticalScrollBar().value()
        p = QPainter(self.viewport())
        p.fillRect(event.rect(), self.palette().base())
        p.translate(dx, dy)  # rectangles are cached in document coordinates
        p.setPen(Qt.PenStyle.NoPen)
        for sp in on_screen:  # outer spans first, inner ones painted over them
            if sp.status == "rejected":
                continue
            p.setBrush(self._fill(sp.label, sp.status))
            for a, b in sp.parts:
                for r in self._doc_rects(a, b):
                    p.drawRect(r)
        p.end()
        super().paintEvent(event)
        if not on_screen and self.focus_region is None and self._drag is None:
            return
        p = QPainter(self.viewport())
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.translate(dx, dy)
        strike = QPen(QColor("#8a8a8a"), 1.2)
        for sp in on_screen:
            lane = self._lanes.get(id(sp), 0)
            pen = self._bar_pen(sp.label, sp.status)
            rejected = sp.status == "rejected"
            for a, b in sp.parts:
                for r in self._doc_rects(a, b):
                    if rejected:  # struck through
                        p.setPen(strike)
                        cy = r.center().y()
                        p.drawLine(QPointF(r.left(), cy), QPointF(r.right(), cy))
                    p.setPen(pen)
                    y = r.bottom() + 2 + lane * LANE_GAP
                    p.drawLine(QPointF(r.left() + 1, y), QPointF(r.right() - 1, y))
            if sp.fragments is not None:
                self._draw_links(p, sp, lane)
        if self.show_tags and self.tags:
            self._draw_tags(p, on_screen)
        cur = self.current
        if cur is not None and (id(cur) in self._span_ids or cur in self.spans):
            p.setPen(QPen(QColor("#1f2937"), 1.6))
            p.setBrush(Qt.BrushStyle.NoBrush)
            for a, b in cur.parts:
                for r in self._doc_rects(a, b):
                    p.drawRoundedRect(r.adjusted(-2, -1, 2, 1), 3, 3)
        if self.focus_region is not None:
            p.setPen(QPen(QColor("#d9480f"), 1.6, Qt.PenStyle.DashLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            for r in self._doc_rects(*self.focus_region):
                p.drawRoundedRect(r.adjusted(-3, -2, 3, 2), 3, 3)
        self._draw_drag_preview(p)
        p.end()

    def _draw_tags(self, p: QPainter, spans: list[Span]) -> None:
        """Each shown span's label tag, right-aligned under the end of its bar."""
        p.setFont(self._tag_font)
        for sp in spans:
            tag = self.tags.get(sp.label)
            if not tag or sp.status == "rejected":
                continue
            rects = self._doc_rects(*sp.parts[-1])
            if not rects:
                continue
            r = rects[-1]
            y = r.bottom() + 2 + self._lanes.get(id(sp), 0) * LANE_GAP + BAR
            p.setPen(self._bar_pen(sp.label, "accepted").color())
            box = QRectF(r.right() - 60, y, 60, TAG_PX + 1)
            p.drawText(box, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop), tag)

    def _draw_links(self, p: QPainter, sp: Span, lane: int) -> None:
        """Join the fragments of a discontinuous span: a thin dotted line, on the span's
        lane, across each gap between two fragments on the same line (a gap that wraps is
        joined from the first fragment to the end of its line and from the start of the
        next line)."""
        pen = QPen(self._bar_pen(sp.label, sp.status).color(), 1.2, Qt.PenStyle.DotLine)
        p.setPen(pen)
        parts = sp.parts
        for first, second in zip(parts, parts[1:]):
            left, right = self._doc_rects(*first), self._doc_rects(*second)
            if not left or not right:
                continue
            r1, r2 = left[-1], right[0]
            y1 = r1.bottom() + 2 + lane * LANE_GAP
            if abs(r1.top() - r2.top()) < 1:
                p.drawLine(QPointF(r1.right(), y1), QPointF(r2.left(), y1))
            else:
                y2 = r2.bottom() + 2 + lane * LANE_GAP
                p.drawLine(QPointF(r1.right(), y1), QPointF(r1.right() + 12, y1))
                p.drawLine(QPointF(r2.left() - 12, y2), QPointF(r2.left(), y2))

    # ------------------------------------------------------------------ mouse: drag an edge
    def edge_at(self, point) -> str | None:
        """``"start"`` / ``"end"`` when ``point`` (viewport coordinates) is on that edge of
        the current span (continuous spans only), else None."""
        cur = self.current
        if cur is None or cur.fragments is not None or (
                id(cur) not in self._span_ids and cur not in self.spans):  # hover: O(1)
            return None
        rects = self.range_rects(cur.start, cur.end)
        if not rects:
            return None
        x, y = point.x(), point.y()
        hits = []
        for edge, r, ex in (("start", rects[0], rects[0].left()),
                            ("end", rects[-1], rects[-1].right())):
            if r.top() - 2 <= y <= r.bottom() + 2 and abs(x - ex) <= HANDLE_PX:
                hits.append((abs(x - ex), edge))
        return min(hits)[1] if hits else None

    def offset_at(self, point) -> int:
        """The Python offset of the caret position nearest ``point`` (viewport coordinates)."""
        return self._map.to_py(self.cursorForPosition(point.toPoint()).position())

    def mousePressEvent(self, event) -> None:
        edge = (self.edge_at(event.position())
                if event.button() == Qt.MouseButton.LeftButton else None)
        if edge is None:
            super().mousePressEvent(event)
            return
        self._drag, self._drag_pos = (edge, self.current), None
        self.viewport().setCursor(Qt.CursorShape.SizeHorCursor)
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        if self._drag is not None:
            self._drag_pos = self.offset_at(event.position())
            self._drag_exact = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
            self.viewport().update()
            event.accept()
            return
        if event.buttons() == Qt.MouseButton.NoButton:
            on_edge = self.edge_at(event.position()) is not None
            self.viewport().setCursor(Qt.CursorShape.SizeHorCursor if on_edge
                                      else Qt.CursorShape.IBeamCursor)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._drag is None or event.button() != Qt.MouseButton.LeftButton:
            super().mouseReleaseEvent(event)
            return
        (edge, span), self._drag, self._drag_pos = self._drag, None, None
        self.viewport().setCursor(Qt.CursorShape.IBeamCursor)
        self.viewport().update()
        exact = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
        event.accept()
        self.boundaryDragged.emit(span, edge, self.offset_at(event.position()), exact)

    def drag_preview(self) -> tuple[int, int] | None:
        """While an edge is dragged: the ``[start, end)`` the span would get if dropped now
        (snapped to the word unless Alt is held), None when it would not change."""
        if self._drag is None or self._drag_pos is None:
            return None
        edge, span = self._drag
        return drag_boundary(self.text, span.start, span.end, edge, self._drag_pos,
                             exact=getattr(self, "_drag_exact", False))

    def _draw_drag_preview(self, p: QPainter) -> None:
        """While an edge is dragged: the span it would make (a dashed frame over the text it
        would cover) and a caret-high bar where the edge would be dropped."""
        if self._drag is None or self._drag_pos is None:
            return
        new = self.drag_preview()
        if new is not None:
            p.setPen(QPen(QColor("#1f2937"), 1.4, Qt.PenStyle.DashLine))
            p.setBrush(QColor(31, 41, 55, 40))
            for r in self._doc_rects(*new):
                p.drawRoundedRect(r.adjusted(-2, -1, 2, 1), 3, 3)
        cur = QTextCursor(self.document())
        cur.setPosition(self._map.to_qt(self._drag_pos))
        r = self.cursorRect(cur)  # viewport coordinates
        p.resetTransform()
        p.setPen(QPen(QColor("#1f2937"), 2.0))
        p.drawLine(QPointF(r.center().x(), r.top() - 2), QPointF(r.center().x(), r.bottom() + 2))

    def span_at_point(self, point) -> Span | None:
        pos = self._map.to_py(self.cursorForPosition(point).position())
        hits = spans_at(self._near(pos), pos, include_rejected=self.show_rejected)
        return hits[0] if hits else None
