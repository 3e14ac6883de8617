"""The mailbox frame's style policy: the hash of each inline style the email carries, as the browser hashes it."""

from __future__ import annotations

import base64
import hashlib

from bridge.dashboard.email_styles import style_sources


def _h(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_each_style_attribute_and_block_is_allowed_by_its_hash_and_nothing_inline_else() -> None:
    html = ('<html><head><style>p { margin: 0 }</style></head><body style="color:#111">'
            '<p style="font-family: &quot;Inter&quot;, sans-serif">a</p><p style="color:#111">b</p><br style="x"/>'
            '</body></html>')
    sources = style_sources(html).split()
    assert sources[0] == "'unsafe-hashes'" and "'unsafe-inline'" not in sources
    # Entities decoded (the attribute's value, as the browser hashes it); each value once.
    wanted = {_h("p { margin: 0 }"), _h("color:#111"), _h('font-family: "Inter", sans-serif'), _h("x")}
    assert sorted(sources[1:]) == sorted(wanted)


def test_an_email_without_inline_styles_gets_none_and_a_block_alone_needs_no_unsafe_hashes() -> None:
    assert style_sources("<p>plain</p>") == "'none'"
    assert style_sources("<style>\r\nb{}\r\n</style>") == _h("\nb{}\n")
