"""A small Markdown renderer for news that cannot emit markup of its own.

News are written by admins but shown to every user, so the text is HTML-escaped
*before* any formatting is applied: whatever the source holds, the only tags in
the output are the ones produced here (paragraphs, headings, lists, emphasis,
code, and links to http/https/mailto addresses). No third-party sanitiser is
needed because nothing unescaped ever reaches the output (W24).
"""
from __future__ import annotations

import re

from markupsafe import Markup, escape

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,9}[.)]\s+(.*)$")
_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?://|mailto:)[^\s)]+)\)")
_AUTOLINK = re.compile(r"&lt;((?:https?://)[^\s&]+(?:&amp;[^\s&]+)*)&gt;")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")


def _emphasis(text: str) -> str:
    return _EMPHASIS.sub(r"<em>\2</em>", _STRONG.sub(r"<strong>\2</strong>", text))


def _inline(escaped: str) -> str:
    """Inline formatting of a line that is already HTML-escaped.

    Code spans and links are set aside first, so that emphasis markers inside
    them (``snake_case``, URLs) are left alone.
    """
    kept: list[str] = []

    def keep(html: str) -> str:
        kept.append(html)
        return f"\x00{len(kept) - 1}\x00"

    def link(href: str, label: str) -> str:
        return keep(f'<a href="{href}" target="_blank" rel="noopener noreferrer">{label}</a>')

    text = escaped.replace("\x00", "")
    text = _CODE.sub(lambda m: keep(f"<code>{m.group(1)}</code>"), text)
    text = _LINK.sub(lambda m: link(m.group(2), _emphasis(m.group(1))), text)
    text = _AUTOLINK.sub(lambda m: link(m.group(1), m.group(1)), text)
    text = _emphasis(text)
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], text)


def render_markdown(source: str | None) -> Markup:
    """Markdown (a common subset) to HTML that holds no markup from the source."""
    blocks: list[str] = []
    paragraph: list[str] = []
    list_tag: str | None = None
    items: list[str] = []

    def close_paragraph() -> None:
        if paragraph:
            blocks.append("<p>" + "<br />\n".join(paragraph) + "</p>")
            paragraph.clear()

    def close_list() -> None:
        nonlocal list_tag
        if list_tag:
            blocks.append(f"<{list_tag}>" + "".join(f"<li>{item}</li>" for item in items) + f"</{list_tag}>")
            items.clear()
            list_tag = None

    for raw_line in (source or "").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = str(escape(raw_line.rstrip()))
        if not line.strip():
            close_paragraph()
            close_list()
            continue
        heading = _HEADING.match(line)
        bullet = _BULLET.match(line)
        numbered = _NUMBERED.match(line)
        if heading:
            close_paragraph()
            close_list()
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif bullet or numbered:
            close_paragraph()
            wanted = "ul" if bullet else "ol"
            if list_tag != wanted:
                close_list()
                list_tag = wanted
            items.append(_inline((bullet or numbered).group(1)))
        else:
            close_list()
            paragraph.append(_inline(line.strip()))
    close_paragraph()
    close_list()
    return Markup("\n".join(blocks))
