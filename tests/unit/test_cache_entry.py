"""owt/cache/entry.py and the outcome encoding of the Redis store: what a
shared store holds is plain bytes that decode to the same response, and
never anything that could run code."""

from __future__ import annotations

import pytest

from owt.cache.entry import CachedResponse
from owt.cache.entry import decode_entry
from owt.cache.entry import encode_entry
from owt.cache.redis_store import _decode_outcome
from owt.cache.redis_store import _encode_outcome
from owt.errors import AdaptorError
from owt.errors import error_class

HEADERS = (("Content-Type", "text/plain; charset=utf-8"), ("X-Mine", "é"))


def test_a_whole_body_survives_the_round_trip():
    entry = CachedResponse(201, HEADERS, b"\x00binary\nbody")
    assert decode_entry(encode_entry(entry)) == entry


def test_a_stream_keeps_its_chunks_and_whether_it_completed():
    chunks = (b"one\n", b"", b"three\n\n")
    for complete in (True, False):
        entry = CachedResponse(200, HEADERS, chunks=chunks, complete=complete)
        back = decode_entry(encode_entry(entry))
        assert back.chunks == chunks and back.complete is complete


def test_the_encoding_is_a_json_line_and_the_body_not_a_pickle():
    data = encode_entry(CachedResponse(200, HEADERS, b"body"))
    first, meta, body = data.split(b"\n", 2)
    assert first == b"owt-entry-1" and meta.startswith(b"{") and body == b"body"


@pytest.mark.parametrize("data", [b"", b"\x80\x04pickle", b"owt-entry-1\n{}\n"])
def test_bytes_owt_did_not_write_are_refused(data):
    with pytest.raises((ValueError, KeyError)):
        decode_entry(data)


def test_chunks_that_do_not_add_up_are_refused():
    data = encode_entry(CachedResponse(200, (), chunks=(b"ab", b"c")))
    with pytest.raises(ValueError, match="don't add up"):
        decode_entry(data[:-1])


def test_an_error_outcome_comes_back_as_the_same_error():
    error = AdaptorError("boom", type="ValueError", traceback="Traceback...")
    back = _decode_outcome(_encode_outcome(error))
    assert type(back) is AdaptorError
    assert (back.status, back.kind, back.message) == (500, "adaptor_error", "boom")
    assert back.details == {"type": "ValueError", "traceback": "Traceback..."}


def test_an_error_owt_has_no_class_for_keeps_its_status_and_kind():
    error = error_class(418, "teapot")("short and stout")
    back = _decode_outcome(_encode_outcome(error))
    assert (back.status, back.kind, back.message) == (418, "teapot", "short and stout")


def test_an_entry_outcome_comes_back_as_the_entry():
    entry = CachedResponse(200, HEADERS, chunks=(b"a", b"b"), complete=False)
    assert _decode_outcome(_encode_outcome(entry)) == entry
