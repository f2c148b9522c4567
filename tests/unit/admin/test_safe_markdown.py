"""The news renderer: Markdown formatting, and nothing from the source ever unescaped (W24)."""
import pytest

from vidjil_pyramid.admin.safe_markdown import render_markdown


def test_common_markdown():
    html = render_markdown("# Downtime\n\nThe server is **down** on *Sunday*,\nback on `Monday`.\n\n- one\n- two\n\n1. first")
    assert html == ("<h1>Downtime</h1>\n<p>The server is <strong>down</strong> on <em>Sunday</em>,<br />\n"
                    "back on <code>Monday</code>.</p>\n<ul><li>one</li><li>two</li></ul>\n<ol><li>first</li></ol>")


def test_links_only_to_web_and_mail_addresses():
    html = render_markdown("[doc](https://vidjil.org/doc?a=1&b=2) [x](javascript:alert(1)) <https://a.org/b>")
    assert '<a href="https://vidjil.org/doc?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">doc</a>' in html
    assert "javascript:alert(1)" in html and 'href="javascript' not in html
    assert '<a href="https://a.org/b"' in html


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '[x](https://a.org/"onmouseover="alert(1))',
    "`<b>`", "**<i>x</i>**", "<a href='javascript:alert(1)'>x</a>",
])
def test_no_markup_from_the_source_survives(source):
    html = str(render_markdown(source))
    for dangerous in ("<script", "<img", "<i>", "<b>", "onmouseover=\"", "<a href='"):
        assert dangerous not in html


def test_emphasis_markers_inside_code_and_links_are_left_alone():
    html = render_markdown("`a_b_c` [l](https://a.org/_x_/) snake_case_name")
    assert "<code>a_b_c</code>" in html and 'href="https://a.org/_x_/"' in html and "<em>" not in html


def test_empty_source():
    assert render_markdown(None) == "" and render_markdown("\n\n") == ""
