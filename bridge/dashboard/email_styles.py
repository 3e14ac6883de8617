"""The style policy of one email shown in the mailbox: a hash for each style it carries, no 'unsafe-inline'.

Emails carry their styles inline (style="…" attributes, sometimes a <style> block), because mail clients drop
stylesheets. CSP level 3 lets a page allow exactly those: the hash of each <style> block's text, and with
'unsafe-hashes' the hash of each style attribute's value (Chromium, Firefox and Safari support it). So the
merchant sees the email styled as sent, and a style that was not in it (nothing can add one: the frame is
sandboxed without script) would not apply.
"""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser


class _Styles(HTMLParser):
    """Every style attribute value (entities decoded, as the browser hashes it) and every <style> text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attributes: set[str] = set()
        self.blocks: list[str] = []
        self._in_style: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes.update(value for name, value in attrs if name == "style" and value is not None)
        if tag == "style":
            self._in_style = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes.update(value for name, value in attrs if name == "style" and value is not None)

    def handle_data(self, data: str) -> None:
        if self._in_style is not None:
            self._in_style.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style" and self._in_style is not None:
            self.blocks.append("".join(self._in_style))
            self._in_style = None


def _source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def style_sources(html: str) -> str:
    """The style-src sources that allow exactly this document's inline styles ('none' when it has none)."""
    found = _Styles()
    found.feed(html.replace("\r\n", "\n").replace("\r", "\n"))  # the browser's newline normalisation, first
    found.close()
    hashes = sorted({_source(text) for text in (*found.attributes, *found.blocks)})
    if not hashes:
        return "'none'"
    return " ".join((["'unsafe-hashes'"] if found.attributes else []) + hashes)
