"""example/image: a picture in as a multipart file, a PNG thumbnail out."""

from __future__ import annotations

import io
import json
import os

import pytest
import requests
from PIL import Image

from tests.examples.conftest import run_bash
from tests.owtserver import REPO
from tests.owtserver import b64
from tests.owtserver import running_owt

EXAMPLE = REPO / "example" / "image"
ADAPTOR = (EXAMPLE / "thumbnail.py").read_text()
PICTURE = EXAMPLE / "sunrise.png"


def test_the_curl_script_writes_a_grey_thumbnail(base_url, tmp_path):
    script = EXAMPLE / "thumbnail_curl.sh"
    assert os.access(script, os.X_OK)
    out = tmp_path / "thumb.png"
    done = run_bash(f"./example/image/thumbnail_curl.sh {base_url} {PICTURE} {out} 64")
    assert done.returncode == 0, done.stderr
    with Image.open(out) as thumb:
        assert thumb.format == "PNG"
        assert thumb.size == (64, 40)  # 320x200 kept in proportion
        assert thumb.mode == "L"


def upload(url: str, kwargs: dict, picture: bytes) -> requests.Response:
    return requests.post(
        url + "/thumbnail",
        data={"code_b64": b64(ADAPTOR), "kwargs_b64": b64(json.dumps(kwargs))},
        files={"image": ("sunrise.png", picture, "image/png")},
        timeout=30,
    )


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_typed_arguments_and_a_colour_thumbnail(executor):
    with running_owt("--executor", executor) as server:
        r = upload(server.url, {"size": 100, "grey": False}, PICTURE.read_bytes())
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == "image/png"
        with Image.open(io.BytesIO(r.content)) as thumb:
            assert thumb.size == (100, 63)
            assert thumb.mode == "RGB"
            # The sun in the middle stays yellow.
            red, green, blue = thumb.getpixel((50, 31))
            assert red > 200 and green > 180 and blue < 100


def test_a_file_that_is_not_a_picture_is_the_adaptors_error(base_url):
    r = upload(base_url, {}, b"not a picture")
    assert r.status_code == 500
    body = r.json()
    assert body["type"].endswith("UnidentifiedImageError")
    assert "Image.open" in body["traceback"]
    assert requests.get(base_url + "/_owt/health", timeout=10).ok
