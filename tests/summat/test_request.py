"""Request blocks, inside a real Flask request context (the only summat test
module that imports Flask)."""

import flask
import pytest

from owt import summat as s
from owt.summat.core import PipeError

app = flask.Flask(__name__)


def test_path_gives_the_segments():
    with app.test_request_context("/one/two/three"):
        assert s.path()() == ["one", "two", "three"]
        assert s.path().last()() == "three"
    with app.test_request_context("/"):
        assert s.path()() == []
    with app.test_request_context("/a%20b//c/"):
        assert s.path()() == ["a b", "c"]


def test_query_gives_parameters_without_owts_own_fields():
    url = "/?code_b64=eA&kwargs_b64=e30&fn_name=run&q=cats&n=2&n=3"
    with app.test_request_context(url):
        assert s.query()() == {"q": "cats", "n": "2"}
        assert s.query(multi=True)() == {"q": ["cats"], "n": ["2", "3"]}


def test_json_gives_the_post_body_without_owts_own_fields():
    body = {"code_b64": "eA", "use_cache": True, "prompt": "hi", "n": [1]}
    with app.test_request_context("/", method="POST", json=body):
        assert s.pipe().json()() == {"prompt": "hi", "n": [1]}
    with app.test_request_context("/", method="POST", json=[1, 2]):
        assert s.pipe().json()() == [1, 2]
    with app.test_request_context("/", method="POST", data="not json"):
        assert s.pipe().json()() is None


def test_names_survive_a_request_block():
    with app.test_request_context("/x"):
        assert s.pipe().path().f(lambda p, k: p + [k])(k="y") == ["x", "y"]


def test_outside_a_request_the_block_fails_with_a_pipe_error():
    with pytest.raises(
        PipeError, match=r"step 1 \(path\(\)\): RuntimeError: Working outside"
    ):
        s.path()()
