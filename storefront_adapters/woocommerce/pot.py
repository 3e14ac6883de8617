"""The plugin's translation template, languages/voltbridge-woocommerce.pot, made from its PHP and JS sources.

`python -m storefront_adapters.woocommerce.pot` rewrites it; the suite checks it is current. Extracted are the
gettext calls WordPress plugins use (__, _e, esc_html__, esc_html_e, esc_attr__, esc_attr_e) with the text
domain `voltbridge-woocommerce`, each with its `translators:` comment and its places, as wp i18n make-pot
writes them. No dates: the same sources give the same bytes.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from storefront_adapters.woocommerce.package import PLUGIN_DIR

DOMAIN = "voltbridge-woocommerce"
POT_PATH = PLUGIN_DIR / "languages" / f"{DOMAIN}.pot"
_CALL = re.compile(r"\b(?:__|_e|esc_html__|esc_html_e|esc_attr__|esc_attr_e)\(\s*'((?:[^'\\]|\\.)*)'\s*,\s*'"
                   + re.escape(DOMAIN) + r"'\s*\)")
_TRANSLATORS = re.compile(r"/\*\s*translators:\s*(.*?)\s*\*/", re.S)
_FORMAT = re.compile(r"%(?:\d+\$)?[sd]")
_VERSION = re.compile(r"^[ \t/*#@]*Version:\s*(\S+)", re.M)


@dataclass
class Entry:
    msgid: str
    places: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


def _unescape(text: str) -> str:
    """A single-quoted PHP/JS string's value: only \\' and \\\\ are escapes."""
    return re.sub(r"\\([\\'])", r"\1", text)


def _po(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def entries(root: Path = PLUGIN_DIR) -> list[Entry]:
    """Every translatable string, in source order (files sorted), places merged."""
    found: dict[str, Entry] = {}
    for path in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix()):
        if path.suffix not in (".php", ".js"):
            continue
        source = path.read_text()
        for match in _CALL.finditer(source):
            msgid = _unescape(match.group(1))
            line = source.count("\n", 0, match.start()) + 1
            entry = found.setdefault(msgid, Entry(msgid))
            entry.places.append(f"{path.relative_to(root).as_posix()}:{line}")
            before = source[:match.start()].rsplit("\n", 3)  # a translators: comment on the lines just above
            comment = _TRANSLATORS.search("\n".join(before[1:]) if len(before) > 1 else before[0])
            if comment and comment.group(1) not in entry.comments:
                entry.comments.append(comment.group(1))
    return list(found.values())


def build_pot(root: Path = PLUGIN_DIR) -> str:
    """The .pot text for the plugin under `root`."""
    version_match = _VERSION.search((root / f"{DOMAIN}.php").read_text())
    version = version_match.group(1) if version_match else ""
    lines = [
        "# Copyright (C) voltbridge",
        "# This file is distributed under the GPL-2.0-or-later.",
        'msgid ""',
        'msgstr ""',
        _po(f"Project-Id-Version: Voltbridge Crypto Payments for WooCommerce {version}\n"),
        _po("Report-Msgid-Bugs-To: https://github.com/voltbridge/voltbridge/issues\n"),
        _po("MIME-Version: 1.0\n"),
        _po("Content-Type: text/plain; charset=UTF-8\n"),
        _po("Content-Transfer-Encoding: 8bit\n"),
        _po("Language: \n"),
        _po("Plural-Forms: nplurals=INTEGER; plural=EXPRESSION;\n"),
        _po(f"X-Domain: {DOMAIN}\n"),
        "",
    ]
    for entry in entries(root):
        lines += [f"#. translators: {c}" for c in entry.comments]
        lines.append("#: " + " ".join(entry.places))
        if _FORMAT.search(entry.msgid):
            lines.append("#, php-format")
        lines += [f"msgid {_po(entry.msgid)}", 'msgstr ""', ""]
    return "\n".join(lines)


def main() -> None:
    POT_PATH.parent.mkdir(parents=True, exist_ok=True)
    POT_PATH.write_text(build_pot())
    sys.stdout.write(f"wrote {POT_PATH} ({len(entries())} strings)\n")


if __name__ == "__main__":
    main()
