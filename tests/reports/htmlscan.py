"""A small html.parser-based reader of report pages for the tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Row:
    attrs: dict[str, str]
    cells: dict[str, dict[str, str]] = field(default_factory=dict)  # class -> attrs + text


@dataclass
class Figure:
    id: str
    svg_count: int = 0
    caption: str = ""


class ReportScan(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.rows: list[Row] = []
        self.figures: list[Figure] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.body: dict[str, str] = {}
        self.by_id_text: dict[str, str] = {}
        self._row: Row | None = None
        self._cell: dict[str, str] | None = None
        self._figure: Figure | None = None
        self._in_caption = False
        self._text_stack: list[tuple[str, str, list[str]]] = []  # (tag, id, chunks)
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        self.tags.append((tag, a))
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "body":
            self.body = a
        if a.get("id") and tag in ("p", "div", "section", "table", "h2"):
            self._text_stack.append((tag, a["id"], []))
        classes = a.get("class", "").split()
        if tag == "tr" and "measurement" in classes:
            self._row = Row(a)
        elif tag == "td" and self._row is not None:
            self._cell = dict(a, text="")
            for c in classes:
                self._row.cells[c] = self._cell
        elif tag == "figure" and "plot" in classes:
            self._figure = Figure(a.get("id", ""))
            self.figures.append(self._figure)
        elif tag == "svg" and self._figure is not None:
            self._figure.svg_count += 1
        elif tag == "figcaption":
            self._in_caption = True

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "td":
            self._cell = None
        elif tag == "figure":
            self._figure = None
        elif tag == "figcaption":
            self._in_caption = False
        if self._text_stack and self._text_stack[-1][0] == tag:
            _, ident, chunks = self._text_stack.pop()
            self.by_id_text[ident] = "".join(chunks)

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data
        if self._in_caption and self._figure is not None:
            self._figure.caption += data
        for _, _, chunks in self._text_stack:
            chunks.append(data)
