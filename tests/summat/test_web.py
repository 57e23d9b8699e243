"""sse, render, header, content_type."""

import pytest

from owt import summat as s
from owt.summat.core import PipeError


def test_sse_frames_items_and_closes_with_done():
    body, headers = s.pipe().sse()(__last__=["a", {"n": 1}, b"raw", 2])
    assert headers == {"Content-Type": "text/event-stream"}
    assert list(body) == [
        "data: a\n\n",
        'data: {"n": 1}\n\n',
        "data: raw\n\n",
        "data: 2\n\n",
        "data: [DONE]\n\n",
    ]


def test_sse_multiline_text_is_one_event_of_several_data_lines():
    body, _ = s.pipe().sse(done=None)(__last__=["one\ntwo"])
    assert list(body) == ["data: one\ndata: two\n\n"]


def test_sse_a_single_string_is_one_event():
    body, _ = s.pipe().sse()(__last__="hello")
    assert list(body) == ["data: hello\n\n", "data: [DONE]\n\n"]


def test_sse_is_lazy_so_a_generator_streams():
    pulled = []

    def gen():
        for i in range(3):
            pulled.append(i)
            yield i

    body, _ = s.pipe().sse()(__last__=gen())
    assert pulled == []
    assert next(body) == "data: 0\n\n"
    assert pulled == [0]


def test_render_sees_names_and_last():
    p = (
        s.pipe()
        .kwargs(who="world")
        .render("<p>{{ greeting }}, {{ who }}: {{ last }}</p>")
    )
    assert p(__last__=3, greeting="Hi") == "<p>Hi, world: 3</p>"


def test_render_escapes_html_unless_told_not_to():
    assert s.pipe().render("{{ last }}")(__last__="<b>") == "&lt;b&gt;"
    assert s.pipe().render("{{ last }}", autoescape=False)(__last__="<b>") == "<b>"


def test_render_syntax_error_is_a_pipe_error():
    with pytest.raises(
        PipeError, match=r"step 1 \(render\('\{% if %\}'\)\): TemplateSyntaxError"
    ):
        s.pipe().render("{% if %}")()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("body", ("body", {"X-A": "1"})),
        (("body", {"X-B": "2"}), ("body", {"X-B": "2", "X-A": "1"})),
        (("body", 201), ("body", 201, {"X-A": "1"})),
        (("body", 201, {"X-B": "2"}), ("body", 201, {"X-B": "2", "X-A": "1"})),
        (["a", "b"], (["a", "b"], {"X-A": "1"})),
    ],
)
def test_header_adds_to_the_reply_shape(value, expected):
    assert s.pipe().header("X-A", "1")(__last__=value) == expected


def test_content_type_replaces_one_in_any_letter_case():
    p = s.pipe().content_type("text/plain")
    assert p(__last__=("x", {"content-type": "a/b", "X": "y"})) == (
        "x",
        {"X": "y", "Content-Type": "text/plain"},
    )
    assert s.pipe().sse().content_type("text/plain")(__last__=[])[1] == {
        "Content-Type": "text/plain"
    }
