"""owt.request: reading an owt call out of an HTTP request, in process."""

from __future__ import annotations

import base64
import json

import flask
import pytest

from owt import codec
from owt.errors import BadRequest
from owt.errors import MissingCode
from owt.request import Call
from owt.request import read_call

APP = flask.Flask(__name__)
SOURCE = "def run(name='owt'):\n    return name\n"
CODE_B64 = base64.b64encode(SOURCE.encode()).decode()


def decode(
    path: str = "/x", *, max_code_bytes: int = 1024 * 1024, **request: object
) -> Call:
    """The call a request to ``path`` asks for; ``request`` as Flask's
    ``test_request_context`` takes it (method, query_string, json, data...)."""
    with APP.test_request_context(path, **request):
        return read_call(
            flask.request._get_current_object(),
            max_code_bytes=max_code_bytes,
            evaluate_kwargs=False,
        )


def refusal(error_type: type[BadRequest] = BadRequest, **request: object) -> BadRequest:
    """The error a request is refused with; always a 400."""
    with pytest.raises(error_type) as caught:
        decode(**request)
    assert caught.value.status == 400
    return caught.value


# --- where fields come from -------------------------------------------------------


def test_fields_from_the_query_string():
    call = decode(
        query_string={
            "code_b64": CODE_B64,
            "kwargs_b64": codec.encode_kwargs({"name": "q"}),
            "fn_name": "go",
        }
    )
    assert (call.source, call.arguments, call.fn_name) == (SOURCE, {"name": "q"}, "go")


def test_fields_from_a_json_body():
    call = decode(
        method="POST",
        json={"code": SOURCE, "kwargs": {"name": "j", "n": [1, 2]}, "fn_name": "go"},
    )
    assert (call.source, call.arguments, call.fn_name) == (
        SOURCE,
        {"name": "j", "n": [1, 2]},
        "go",
    )


def test_fields_from_a_structured_json_content_type():
    call = decode(
        method="POST",
        data=json.dumps({"code_b64": CODE_B64}),
        content_type="application/vnd.owt+json",
    )
    assert call.source == SOURCE


def test_fields_from_a_form_body():
    call = decode(
        method="POST",
        data={"code": SOURCE, "kwargs": '{"name": "f"}', "use_cache": "1"},
    )
    assert (call.source, call.arguments, call.use_cache) == (
        SOURCE,
        {"name": "f"},
        True,
    )


def test_query_and_body_fields_are_merged():
    call = decode(method="POST", query_string={"fn_name": "go"}, json={"code": SOURCE})
    assert (call.source, call.fn_name) == (SOURCE, "go")


def test_a_field_sent_twice_with_the_same_value_is_fine():
    call = decode(method="POST", query_string={"code": SOURCE}, json={"code": SOURCE})
    assert call.source == SOURCE


def test_a_field_in_query_and_body_with_different_values_is_refused_by_name():
    error = refusal(
        method="POST",
        query_string={"code": SOURCE, "fn_name": "a"},
        json={"code": SOURCE, "fn_name": "b"},
    )
    assert error.kind == "bad_request"
    assert error.message == (
        "fn_name was sent both in the query string and in the body with "
        "different values; send it once."
    )


def test_kwargs_text_in_the_query_is_read_like_kwargs_b64():
    call = decode(query_string={"code": SOURCE, "kwargs": "{'name': 'py'}"})
    assert call.arguments == {"name": "py"}


def test_a_kwargs_expression_is_left_for_the_worker():
    call = decode(query_string={"code": SOURCE, "kwargs": "{'n': 2 ** 10}"})
    assert call.arguments == codec.KwargsExpression("{'n': 2 ** 10}", "kwargs")


def test_kwargs_that_are_not_an_object_are_refused():
    error = refusal(
        codec.KwargsNotAMapping, method="POST", json={"code": SOURCE, "kwargs": [1]}
    )
    assert error.kind == "kwargs_not_an_object"


def test_both_kwargs_and_kwargs_b64_are_refused():
    error = refusal(query_string={"code": SOURCE, "kwargs": "{}", "kwargs_b64": "e30="})
    assert error.message == "Send either kwargs_b64 or kwargs, not both."


def test_kwargs_b64_must_be_a_string():
    error = refusal(method="POST", json={"code": SOURCE, "kwargs_b64": {"a": 1}})
    assert error.message == "kwargs_b64 must be a string, not dict."


# --- the code -------------------------------------------------------------------


def test_code_and_code_b64_together_are_refused():
    error = refusal(query_string={"code": SOURCE, "code_b64": CODE_B64})
    assert error.message == "Send either code_b64 or code, not both."


def test_no_code_is_a_missing_code_error_saying_what_to_send():
    error = refusal(MissingCode, query_string={"kwargs": "{}"})
    assert error.kind == "missing_code"
    assert "send code_b64" in error.message
    assert "Content-Type" not in error.message


def test_no_code_in_a_text_plain_post_hints_at_the_content_type():
    error = refusal(
        MissingCode,
        method="POST",
        data=json.dumps({"code": SOURCE}),
        content_type="text/plain",
    )
    assert "The body's Content-Type is 'text/plain'" in error.message
    assert "application/json" in error.message


def test_no_code_in_a_post_without_content_type_says_it_is_missing():
    error = refusal(MissingCode, method="POST", data=b"code=x")
    assert "The body's Content-Type is 'missing'" in error.message


def test_no_code_in_a_structured_json_body_gives_no_content_type_hint():
    error = refusal(
        MissingCode,
        method="POST",
        data=json.dumps({"kwargs": {}}),
        content_type="application/merge-patch+json",
    )
    assert "Content-Type" not in error.message


def test_a_body_is_not_read_for_get():
    refusal(MissingCode, method="GET", json={"code": SOURCE})


@pytest.mark.parametrize("field", ["code", "code_b64"])
def test_empty_code_is_a_missing_code_error(field):
    blank = "  \n" if field == "code" else codec.encode_code("  \n")
    error = refusal(MissingCode, query_string={field: blank})
    assert "is empty" in error.message


@pytest.mark.parametrize("field", ["code", "code_b64"])
def test_code_must_be_a_string(field):
    error = refusal(method="POST", json={field: ["def run(): pass"]})
    assert error.message == f"{field} must be a string, not list."


def test_bad_code_b64_is_refused_naming_the_field():
    error = refusal(query_string={"code_b64": "*"})
    assert error.kind == "bad_encoding"
    assert error.message.startswith("code_b64 is not valid base64")


@pytest.mark.parametrize("field", ["code", "code_b64"])
def test_code_over_the_limit_is_refused_naming_the_option(field):
    source = "x" * 1025
    value = source if field == "code" else codec.encode_code(source)
    error = refusal(query_string={field: value}, max_code_bytes=1024)
    assert error.message == "The adaptor code is over the 1 KB limit (--max-code-kb)."


def test_the_limit_counts_utf8_bytes_not_characters():
    source = "é" * 513  # 1,026 bytes
    refusal(query_string={"code": source}, max_code_bytes=1024)
    assert decode(query_string={"code": "é" * 512}, max_code_bytes=1024).source


def test_code_at_the_limit_is_accepted():
    source = "x" * 1024
    assert decode(query_string={"code": source}, max_code_bytes=1024).source == source


def test_code_b64_at_the_limit_is_accepted():
    source = "x" * 1024  # 1024 % 3 == 1: its base64 ends in "=="
    call = decode(
        query_string={"code_b64": codec.encode_code(source)}, max_code_bytes=1024
    )
    assert call.source == source


# --- fn_name ------------------------------------------------------------------------


@pytest.mark.parametrize("fn_name", ["not-an-id", "1run", "run()", 5])
def test_fn_name_must_be_an_identifier(fn_name):
    error = refusal(method="POST", json={"code": SOURCE, "fn_name": fn_name})
    assert error.message == f"fn_name must be a Python identifier, not {fn_name!r}."


@pytest.mark.parametrize("fn_name", ["", None])
def test_an_empty_fn_name_means_run(fn_name):
    assert (
        decode(method="POST", json={"code": SOURCE, "fn_name": fn_name}).fn_name
        == "run"
    )


# --- flags -------------------------------------------------------------------------


def test_flags_default_to_false():
    call = decode(query_string={"code": SOURCE})
    assert (call.use_cache, call.cache_kwargs, call.pin) == (False, False, False)
    assert (call.cache_key_override, call.timeout) == (None, None)


@pytest.mark.parametrize("flag", ["use_cache", "cache_kwargs", "pin"])
def test_flags_from_query_strings(flag):
    assert getattr(decode(query_string={"code": SOURCE, flag: "true"}), flag) is True
    assert getattr(decode(query_string={"code": SOURCE, flag: "0"}), flag) is False


@pytest.mark.parametrize("flag", ["use_cache", "cache_kwargs", "pin"])
def test_flags_from_json_booleans(flag):
    assert (
        getattr(decode(method="POST", json={"code": SOURCE, flag: True}), flag) is True
    )
    assert (
        getattr(decode(method="POST", json={"code": SOURCE, flag: None}), flag) is False
    )


def test_a_flag_that_is_not_a_boolean_is_refused_by_name():
    error = refusal(query_string={"code": SOURCE, "pin": "sometimes"})
    assert error.message == "pin must be true or false, not 'sometimes'."


# --- cache_key_override ---------------------------------------------------------------


def test_cache_key_override_string_is_kept():
    call = decode(query_string={"code": SOURCE, "cache_key_override": "k1"})
    assert call.cache_key_override == "k1"


def test_cache_key_override_that_is_not_a_string_is_json_dumped_sorted():
    call = decode(
        method="POST",
        json={"code": SOURCE, "cache_key_override": {"b": 1, "a": [2]}},
    )
    assert call.cache_key_override == '{"a": [2], "b": 1}'
    number = decode(method="POST", json={"code": SOURCE, "cache_key_override": 0})
    assert number.cache_key_override == "0"


def test_an_empty_cache_key_override_is_none():
    assert (
        decode(
            query_string={"code": SOURCE, "cache_key_override": ""}
        ).cache_key_override
        is None
    )


# --- timeout ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [("2.5", 2.5), (3, 3.0), ("", None)])
def test_timeout_is_read_as_seconds(value, seconds):
    assert (
        decode(method="POST", json={"code": SOURCE, "timeout": value}).timeout
        == seconds
    )


@pytest.mark.parametrize("value", ["soon", [1]])
def test_a_timeout_that_is_not_a_number_is_refused(value):
    error = refusal(method="POST", json={"code": SOURCE, "timeout": value})
    assert error.message == f"timeout must be a number of seconds, not {value!r}."


@pytest.mark.parametrize("value", ["0", -1, "nan"])
def test_a_timeout_that_is_not_positive_is_refused(value):
    error = refusal(method="POST", json={"code": SOURCE, "timeout": value})
    assert error.message == f"timeout must be positive, not {value!r}."


# --- the JSON body ----------------------------------------------------------------------


@pytest.mark.parametrize(("body", "kind"), [([1], "list"), ("code", "str"), (3, "int")])
def test_a_json_body_that_is_not_an_object_is_refused(body, kind):
    error = refusal(method="POST", json=body)
    assert error.message == (
        "The JSON body must be an object of owt fields (code_b64, kwargs_b64...), "
        f"not {kind}."
    )


@pytest.mark.parametrize("body", ['{"code": ', b'{"code": "\xff"}'])
def test_an_invalid_json_body_is_refused(body):
    error = refusal(method="POST", data=body, content_type="application/json")
    assert error.message.startswith("The request body is not valid JSON: ")


def test_an_empty_json_body_has_no_fields():
    refusal(MissingCode, method="POST", data=b" ", content_type="application/json")


def test_a_deeply_nested_json_body_is_refused():
    error = refusal(method="POST", data="[" * 100_000, content_type="application/json")
    assert error.message == "The JSON body is nested too deeply."
