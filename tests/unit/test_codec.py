"""owt.codec: the wire encoding of code and arguments, in process."""

from __future__ import annotations

import base64

import pytest

from owt import codec
from owt.errors import BadRequest
from owt.errors import UrlTooLong
from owt.limits import KwargsTooDeep

SOURCE = "def run(name):\n    return f'héllo {name} ✓'\n"


# --- code_b64 -----------------------------------------------------------------


def test_code_round_trips_including_non_ascii():
    encoded = codec.encode_code(SOURCE)
    assert encoded == base64.b64encode(SOURCE.encode("utf-8")).decode("ascii")
    assert codec.decode_code(encoded) == SOURCE


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: s.rstrip("="), id="padding-lost"),
        pytest.param(lambda s: s.replace("+", "-").replace("/", "_"), id="url-safe"),
        pytest.param(
            lambda s: "\n".join(s[i : i + 8] for i in range(0, len(s), 8)),
            id="line-breaks",
        ),
        pytest.param(lambda s: s.replace("+", " "), id="plus-became-space"),
        pytest.param(lambda s: f"  {s}\n", id="surrounding-whitespace"),
    ],
)
def test_decode_code_tolerates_base64_in_the_wild(mangle):
    # "??>" encodes to "Pz8+" and "???" to "Pz8/": both alphabets' extra
    # characters and padding appear in this source's base64.
    source = "??>???\n" + SOURCE + "#"
    encoded = codec.encode_code(source)
    assert "+" in encoded and "/" in encoded and encoded.endswith("=")
    assert codec.decode_code(mangle(encoded)) == source


def test_bad_base64_is_a_400_naming_the_field():
    with pytest.raises(codec.CodecError) as caught:
        codec.decode_code("not*base64!")
    error = caught.value
    assert isinstance(error, BadRequest)
    assert (error.status, error.kind) == (400, "bad_encoding")
    assert error.message.startswith("code_b64 is not valid base64")
    assert "owt encode" in error.message


def test_bad_base64_names_the_field_it_came_from():
    with pytest.raises(codec.CodecError, match=r"^kwargs_b64 is not valid base64"):
        codec.decode_kwargs("a")  # one character can't be base64


def test_code_that_is_not_utf8_names_the_field_and_the_byte():
    encoded = base64.b64encode(b"ok\xffno").decode()
    with pytest.raises(codec.CodecError) as caught:
        codec.decode_code(encoded)
    assert caught.value.message == (
        "code_b64 decodes to bytes that are not UTF-8 text (byte 2: b'\\xff')."
    )


def test_kwargs_that_are_not_utf8_name_the_field():
    with pytest.raises(
        codec.CodecError, match=r"^kwargs_b64 decodes to bytes that are not UTF-8"
    ):
        codec.decode_kwargs(base64.b64encode(b"\xfe\xff").decode())


# --- kwargs_b64 -----------------------------------------------------------------


def test_kwargs_round_trip_as_json():
    kwargs = {"name": "owt ✓", "n": [1, 2.5, None, True]}
    encoded = codec.encode_kwargs(kwargs)
    assert base64.b64decode(encoded).decode("utf-8").startswith('{"name": "owt ✓"')
    assert codec.decode_kwargs(encoded) == kwargs


def test_kwargs_b64_may_be_a_python_literal():
    encoded = codec.b64encode_text("{'name': 'owt', 'flag': True, 'pair': (1, 2)}")
    expected = {"name": "owt", "flag": True, "pair": (1, 2)}
    assert codec.decode_kwargs(encoded) == expected
    # A literal needs no evaluation, so it is read even when evaluation is off.
    assert codec.decode_kwargs(encoded, evaluate=False) == expected


def test_kwargs_b64_may_be_a_python_expression():
    encoded = codec.b64encode_text("{'n': 2 ** 10, 's': 'ab' * 2}")
    assert codec.decode_kwargs(encoded) == {"n": 1024, "s": "abab"}


def test_an_expression_is_left_unevaluated_when_evaluate_is_false():
    encoded = codec.b64encode_text("{'n': 2 ** 10}")
    value = codec.decode_kwargs(encoded, evaluate=False)
    assert value == codec.KwargsExpression("{'n': 2 ** 10}", "kwargs_b64")
    assert value.evaluate() == {"n": 1024}


def test_kwargs_b64_sent_as_a_plain_dict_is_read_as_it_is():
    # The spec's client-free curl example sends the dict without base64.
    assert codec.decode_kwargs(' {"name": "owt"} ') == {"name": "owt"}
    assert codec.decode_kwargs("[1, 2]") == [1, 2]


def test_empty_kwargs_are_no_arguments():
    assert codec.decode_kwargs("") == {}
    assert codec.parse_kwargs_text("  \n") == {}


def test_kwargs_neither_json_nor_python_names_the_field_and_shows_the_text():
    with pytest.raises(codec.CodecError) as caught:
        codec.decode_kwargs(codec.b64encode_text("{name: "))
    assert caught.value.kind == "bad_encoding"
    assert caught.value.message.startswith(
        "kwargs_b64 is neither JSON nor a Python expression"
    )
    assert "'{name:'" in caught.value.message


# --- parse_kwargs_text / resolve_kwargs -------------------------------------------


def test_parse_kwargs_text_prefers_json():
    # JSON true/null would be NameErrors as Python: JSON must be tried first.
    assert codec.parse_kwargs_text('{"a": true, "b": null}') == {"a": True, "b": None}


def test_parse_kwargs_text_evaluates_python_when_asked():
    assert codec.parse_kwargs_text("dict(a=sorted([3, 1, 2]))") == {"a": [1, 2, 3]}
    unevaluated = codec.parse_kwargs_text("dict(a=1)", evaluate=False)
    assert isinstance(unevaluated, codec.KwargsExpression)
    assert unevaluated.field == "kwargs"


def test_an_expression_that_raises_is_a_400_naming_the_error():
    with pytest.raises(codec.CodecError) as caught:
        codec.parse_kwargs_text("{'a': 1 / 0}", "kwargs")
    assert caught.value.status == 400
    assert caught.value.message == (
        "evaluating kwargs raised ZeroDivisionError: division by zero"
    )


def test_an_expression_calling_exit_does_not_escape():
    with pytest.raises(codec.CodecError, match=r"^evaluating kwargs raised SystemExit"):
        codec.parse_kwargs_text("exit(3)")


def test_each_evaluation_gets_fresh_objects():
    first = codec.parse_kwargs_text("{'items': [x for x in range(2)]}")
    first["items"].append("mutated")
    assert codec.parse_kwargs_text("{'items': [x for x in range(2)]}") == {
        "items": [0, 1]
    }


def test_resolve_kwargs_evaluates_an_expression():
    expression = codec.parse_kwargs_text("{'n': 2 ** 3}", evaluate=False)
    assert codec.resolve_kwargs(expression, max_depth=64) == {"n": 8}


def test_resolve_kwargs_passes_a_mapping_through():
    arguments = {"a": 1}
    assert codec.resolve_kwargs(arguments, max_depth=64) is arguments


def test_resolve_kwargs_refuses_an_expression_that_is_not_a_mapping():
    expression = codec.parse_kwargs_text("[2 ** 3]", evaluate=False)
    with pytest.raises(codec.KwargsNotAMapping, match=r"got list \[8\]"):
        codec.resolve_kwargs(expression, max_depth=64)


def test_resolve_kwargs_refuses_an_expression_nested_too_deeply():
    expression = codec.parse_kwargs_text("{'a': [[[1 + 1]]]}", evaluate=False)
    assert codec.resolve_kwargs(expression, max_depth=3) == {"a": [[[2]]]}
    with pytest.raises(KwargsTooDeep) as caught:
        codec.resolve_kwargs(expression, max_depth=2)
    assert caught.value.kind == "kwargs_too_deep"
    assert "--max-kwargs-depth" in caught.value.message


# --- check_kwargs_mapping -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "described"),
    [
        ([1, 2], "list [1, 2]"),
        (5, "int 5"),
        ("owt", "str 'owt'"),
        (None, "NoneType None"),
    ],
)
def test_arguments_that_are_not_a_mapping_are_a_400_saying_what_they_are(
    value, described
):
    with pytest.raises(codec.KwargsNotAMapping) as caught:
        codec.check_kwargs_mapping(value)
    error = caught.value
    assert (error.status, error.kind) == (400, "kwargs_not_an_object")
    assert error.message.startswith(
        "kwargs must be an object of argument names and values"
    )
    assert error.message.endswith(f"got {described}.")


def test_a_long_non_mapping_is_shortened_in_the_message():
    with pytest.raises(codec.KwargsNotAMapping) as caught:
        codec.check_kwargs_mapping(list(range(1000)))
    assert len(caught.value.message) < 200
    assert caught.value.message.endswith("...")  # the preview is cut


def test_a_mapping_is_returned_as_it_is():
    arguments = {"name": "owt"}
    assert codec.check_kwargs_mapping(arguments) is arguments


# --- parse_bool -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("true", True),
        ("TRUE", True),
        (" 1 ", True),
        ("false", False),
        ("0", False),
        ("", False),
    ],
)
def test_parse_bool_reads_protocol_booleans(value, expected):
    assert codec.parse_bool(value, "use_cache") is expected


@pytest.mark.parametrize("value", ["maybe", 2, 1.0, None, []])
def test_parse_bool_refuses_anything_else_naming_the_field(value):
    with pytest.raises(codec.CodecError) as caught:
        codec.parse_bool(value, "pin")
    assert caught.value.status == 400
    assert caught.value.message == f"pin must be true or false, not {value!r}."


# --- check_url_length -----------------------------------------------------------------


def test_a_url_at_the_limit_is_accepted():
    url = "/" + "a" * (codec.MAX_REQUEST_TARGET - 1)
    assert codec.check_url_length(url) == url
    # Scheme, host and fragment don't go on the request line.
    full = "http://example.com:9876" + url + "#fragment"
    assert codec.check_url_length(full) == full


def test_a_url_over_the_limit_is_refused_with_a_414_suggesting_post():
    path = "/x?code_b64=" + "A" * (codec.MAX_REQUEST_TARGET - len("/x?code_b64=") + 1)
    with pytest.raises(UrlTooLong) as caught:
        codec.check_url_length("http://127.0.0.1:9876" + path)
    error = caught.value
    assert (error.status, error.kind) == (414, "url_too_long")
    assert f"{codec.MAX_REQUEST_TARGET + 1:,} bytes" in error.message
    assert "POST" in error.message


def test_url_length_counts_percent_encoding():
    # "é" goes on the wire as "%C3%A9": six bytes, not one character.
    url = "/" + "é" * (codec.MAX_REQUEST_TARGET // 6 + 1)
    assert len(url) < codec.MAX_REQUEST_TARGET
    with pytest.raises(UrlTooLong):
        codec.check_url_length(url)
