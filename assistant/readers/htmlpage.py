"""HTML pages (and EPUB chapters): the main content only, without navigation, banners, cookie notices,
asides and footers; headings as the section path, table rows with their header, ``<pre>`` kept whole."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from .blocks import Block, section_path
from .lines import join_lines
from .tables import table_rows

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_NEVER_TEXT = {"script", "style", "noscript", "template", "svg", "iframe", "object", "button", "select", "textarea"}
_HEAD = {"head", "title"}
# Page furniture: left out wherever it is (a <header> only outside the article, where it is the site's).
_FURNITURE = {"nav", "aside", "footer", "menu", "dialog"}
_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog", "menu", "menubar"}
# Words of an id or class that name furniture (matched as whole words: "navbar", "site-nav", "cookie-notice").
_FURNITURE_WORDS = {
    "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "banner", "footer", "sidebar",
    "cookie", "cookies", "consent", "gdpr", "masthead", "topbar", "toolbar", "share", "social", "newsletter",
    "popup", "modal", "skip", "advert", "ads", "related",
}  # fmt: skip
_BLOCKS = {
    "p", "div", "section", "article", "main", "header", "li", "dd", "dt", "dl", "ul", "ol", "blockquote",
    "figure", "figcaption", "address", "details", "summary", "body", "form", "fieldset", "hgroup",
    "center", "caption", "br", "hr",
}  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_WORD = re.compile(r"[a-z0-9]+")
# Elements nested deeper than this become siblings: a hostile page of 50,000 nested <div>s is read, not a RecursionError
_MAX_DEPTH = 200


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list = field(default_factory=list)  # _Node or str
    parent: _Node | None = None


class _Tree(HTMLParser):
    """A forgiving DOM: an end tag closes the nearest open element of its name; stray ones are ignored."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root")
        self.open = self.root
        self.depth = 0  # of self.open

    def handle_starttag(self, tag, attrs):
        if tag == "p" and self.open.tag == "p":  # <p> closes an open <p>, as browsers do
            self.open = self.open.parent
            self.depth -= 1
        node = _Node(tag, {k: (v or "") for k, v in attrs}, parent=self.open)
        self.open.children.append(node)
        if tag not in _VOID and self.depth < _MAX_DEPTH:
            self.open = node
            self.depth += 1

    def handle_startendtag(self, tag, attrs):
        self.open.children.append(_Node(tag, {k: (v or "") for k, v in attrs}, parent=self.open))

    def handle_endtag(self, tag):
        node = self.open
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            while self.open is not node.parent:
                self.open = self.open.parent
                self.depth -= 1

    def handle_data(self, data):
        self.open.children.append(data)


def parse(markup: str) -> _Node:
    tree = _Tree()
    tree.feed(markup)
    tree.close()
    return tree.root


def _elements(node: _Node):
    for child in node.children:
        if isinstance(child, _Node):
            yield child
            yield from _elements(child)


def _holds_content(node: _Node) -> bool:
    """Contains the page's main content (an element that wraps <main>, <article> or the <h1> is never furniture)."""
    return any(e.tag in ("main", "article", "h1") or e.attrs.get("role") == "main" for e in _elements(node))


def _inside(node: _Node, tags: set[str]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag in tags:
            return True
        parent = parent.parent
    return False


def is_furniture(node: _Node) -> bool:
    """Navigation, banners, cookie notices, asides, footers and hidden elements: not the page's text."""
    if node.tag in _NEVER_TEXT or node.tag in _HEAD:
        return True
    attrs = node.attrs
    if (
        "hidden" in attrs
        or attrs.get("aria-hidden") == "true"
        or re.search(r"display\s*:\s*none", attrs.get("style", ""))
    ):
        return True
    if node.tag in ("html", "body", "main", "article"):
        return False
    if node.tag in _FURNITURE or attrs.get("role", "").lower() in _ROLES:
        return True
    if node.tag == "header" and not _inside(node, {"article", "main", "section"}):
        return not _holds_content(node)
    words = set(_WORD.findall(f"{attrs.get('id', '')} {attrs.get('class', '')}".lower()))
    return bool(words & _FURNITURE_WORDS) and not _holds_content(node)


def main_content(root: _Node) -> list[_Node]:
    """The elements that hold the page's text: its <main> (or role=main), else its <article>s, else the whole page."""
    everything = [e for e in _elements(root)]
    main = [e for e in everything if e.tag == "main" or e.attrs.get("role") == "main"]
    if main:
        return main[:1]
    articles = [e for e in everything if e.tag == "article" and not _inside(e, {"article"})]
    return articles or [root]


class _Writer:
    """Walks the content and cuts it into blocks at block elements, tracking the heading path."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.headings: list[str] = []
        self.first_heading = ""
        self.lines: list[str] = [""]

    def flush(self) -> None:
        text = re.sub(r"\s+", " ", join_lines(self.lines)).strip()
        self.lines = [""]
        if text:
            self.blocks.append(Block(text, section=section_path(self.headings)))

    def text(self, data: str) -> None:
        pieces = data.split("\n")
        self.lines[-1] += pieces[0]
        self.lines.extend(pieces[1:])

    def walk(self, node: _Node) -> None:
        for child in node.children:
            if isinstance(child, str):
                self.text(child)
            elif is_furniture(child):
                continue
            elif child.tag in _HEADINGS:
                self.heading(child)
            elif child.tag == "table":
                self.table(child)
            elif child.tag == "pre":
                self.flush()
                code = _plain(child).strip("\n")
                if code.strip():
                    self.blocks.append(Block(code, section=section_path(self.headings)))
            elif child.tag == "img":
                self.text(f" {child.attrs.get('alt', '')} " if child.attrs.get("alt") else "")
            elif child.tag in _BLOCKS:
                self.flush()
                self.walk(child)
                self.flush()
            else:
                self.walk(child)

    def heading(self, node: _Node) -> None:
        self.flush()
        writer = _Writer()
        writer.walk(node)
        writer.flush()
        text = " ".join(b.text for b in writer.blocks)
        if not text:
            return
        level = _HEADINGS[node.tag]
        self.first_heading = self.first_heading or text
        self.headings = self.headings[: level - 1] + [""] * (level - 1 - len(self.headings)) + [text]
        self.blocks.append(Block(text, section=section_path(self.headings)))

    def table(self, node: _Node) -> None:
        self.flush()
        rows = []
        for row in (e for e in _elements(node) if e.tag == "tr"):
            cells = []
            for cell in (c for c in row.children if isinstance(c, _Node) and c.tag in ("td", "th")):
                writer = _Writer()
                writer.walk(cell)
                writer.flush()
                cells.append(" ".join(b.text for b in writer.blocks))
            rows.append(cells)
        caption = next((e for e in _elements(node) if e.tag == "caption"), None)
        if caption is not None:
            self.walk(_Node("div", children=caption.children))
        section = section_path(self.headings)
        self.blocks.extend(Block(text, section=section) for text in table_rows(rows))


def _plain(node: _Node) -> str:
    return "".join(
        c if isinstance(c, str) else _plain(c) for c in node.children if isinstance(c, str) or not is_furniture(c)
    )


def read_html(markup: str) -> tuple[str, list[Block]]:
    """The page's title (the first heading of its content, else its <title>) and the blocks of its main content."""
    root = parse(markup)
    writer = _Writer()
    for node in main_content(root):
        writer.walk(node)
        writer.flush()
    title = next((e for e in _elements(root) if e.tag == "title"), None)
    fallback = re.sub(r"\s+", " ", _text_of(title)).strip() if title is not None else ""
    return writer.first_heading or fallback, writer.blocks


def _text_of(node: _Node) -> str:
    return "".join(c if isinstance(c, str) else _text_of(c) for c in node.children)
