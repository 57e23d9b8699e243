"""Images, arrays and files returned by ``run``, through a real ``owt serve``.

Each test runs against the default (inline) executor and ``--executor
process``, whose workers rebuild the request (its ``Accept`` included) in
another process and send the response back over a pipe.
"""

from __future__ import annotations

import io
import time

import numpy
import psutil
import pytest
import requests
from PIL import Image

from tests.owtserver import running_owt

NPY = {"Accept": "application/x-npy"}

IMAGE = """\
from PIL import Image

def run(width: int, height: int):
    image = Image.new("RGB", (width, height))
    image.putdata([(x * 7 % 256, y * 11 % 256, (x + y) % 256)
                   for y in range(height) for x in range(width)])
    return image
"""

ARRAY = """\
import numpy as np

def run(dtype: str = "float32"):
    return np.arange(24, dtype=dtype).reshape(2, 3, 4) / 4
"""

PATH = """\
from pathlib import Path

def run(path: str):
    return Path(path)
"""


def expected_image(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height))
    image.putdata(
        [
            (x * 7 % 256, y * 11 % 256, (x + y) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    return image


def expected_array(dtype: str = "float32") -> numpy.ndarray:
    return numpy.arange(24, dtype=dtype).reshape(2, 3, 4) / 4


@pytest.fixture(scope="module")
def process_server():
    with running_owt("--executor", "process", "--workers", "1") as server:
        yield server


@pytest.fixture(params=["inline", "process"])
def server(request, owt_server):
    """The shared inline server, then one with worker processes."""
    if request.param == "inline":
        return owt_server
    return request.getfixturevalue("process_server")


# --- images ------------------------------------------------------------------------------


def test_an_image_is_a_png_of_the_same_size_and_pixels(server):
    r = server.post(IMAGE, {"width": 33, "height": 17})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(r.content)) as image:
        assert (image.format, image.mode, image.size) == ("PNG", "RGB", (33, 17))
        assert image.tobytes() == expected_image(33, 17).tobytes()


def test_an_image_in_a_tuple_keeps_its_status_and_headers(server):
    code = IMAGE + "\ndef tupled():\n    return run(2, 2), 201, {'X-Kind': 'grid'}\n"
    r = server.post(code, {}, fn_name="tupled")
    assert (r.status_code, r.headers["Content-Type"]) == (201, "image/png")
    assert r.headers["X-Kind"] == "grid"
    assert Image.open(io.BytesIO(r.content)).size == (2, 2)


def test_an_image_png_cannot_hold_is_a_clear_500(server):
    code = "from PIL import Image\ndef run():\n    return Image.new('CMYK', (2, 2))\n"
    r = server.post(code)
    assert r.status_code == 500
    body = r.json()
    assert body["error"] == "bad_adaptor_result"
    assert "CMYK image" in body["message"]
    assert "image.convert('RGB')" in body["message"]


def test_a_cached_image_is_a_hit_with_the_same_bytes(server):
    code = IMAGE + "\n# cached image, unique to this test\n"
    first = server.post(code, {"width": 20, "height": 10}, use_cache=True)
    second = server.post(code, {"width": 20, "height": 10}, use_cache=True)
    assert first.headers["X-Owt-Cache"] == "miss"
    assert second.headers["X-Owt-Cache"] == "hit"
    assert second.headers["Content-Type"] == "image/png"
    assert second.content == first.content
    assert Image.open(io.BytesIO(second.content)).size == (20, 10)


# --- arrays ------------------------------------------------------------------------------


def test_an_array_is_json_by_default(server):
    r = server.post(ARRAY)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Vary"] == "Accept"
    assert r.json() == expected_array().tolist()


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_an_array_is_npy_when_asked_keeping_dtype_and_shape(server, dtype):
    r = server.post(ARRAY, {"dtype": dtype}, headers=NPY)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/x-npy"
    assert r.headers["Vary"] == "Accept"
    array = numpy.load(io.BytesIO(r.content), allow_pickle=False)
    expected = expected_array(dtype)
    assert (array.dtype, array.shape) == (expected.dtype, (2, 3, 4))
    assert numpy.array_equal(array, expected)


def test_accept_is_read_with_its_qualities_also_by_get(server):
    preferring = {"Accept": "application/json;q=0.5, application/x-npy"}
    r = server.get(ARRAY, headers=preferring)
    assert r.headers["Content-Type"] == "application/x-npy"
    for accept in ("*/*", "application/json", "text/html, */*;q=0.8"):
        r = server.get(ARRAY, headers={"Accept": accept})
        assert r.headers["Content-Type"] == "application/json", accept


def test_the_cache_keeps_json_and_npy_apart(server):
    code = ARRAY + "\n# cached array, unique to this test\n"

    def call(headers=None):
        r = server.post(code, use_cache=True, headers=headers)
        assert r.status_code == 200, r.text
        return r.headers["X-Owt-Cache"], r.headers["Content-Type"], r.content

    as_json = call()
    assert as_json[:2] == ("miss", "application/json")
    as_npy = call(NPY)
    assert as_npy[:2] == ("miss", "application/x-npy")
    assert call(NPY) == ("hit", *as_npy[1:])
    assert call() == ("hit", *as_json[1:])
    assert call({"Accept": "*/*"}) == ("hit", *as_json[1:])


# --- files -------------------------------------------------------------------------------


def test_a_path_to_a_text_file_is_sent_with_its_type_and_name(server, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("first line\nsecond: é\n", encoding="utf-8")
    r = server.post(PATH, {"path": str(path)})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.headers["Content-Disposition"] == 'inline; filename="notes.txt"'
    assert r.headers["Content-Length"] == str(path.stat().st_size)
    assert r.text == "first line\nsecond: é\n"


def test_a_path_to_a_png_is_that_png(server, tmp_path):
    path = tmp_path / "grid é.png"
    expected_image(9, 4).save(path)
    r = server.post(PATH, {"path": str(path)})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "image/png"
    assert r.headers["Content-Disposition"] == (
        "inline; filename=\"grid e.png\"; filename*=UTF-8''grid%20%C3%A9.png"
    )
    assert r.content == path.read_bytes()


def test_a_path_to_a_missing_file_is_a_500_naming_it(server, tmp_path):
    missing = tmp_path / "gone.png"
    r = server.post(PATH, {"path": str(missing)})
    assert r.status_code == 500
    body = r.json()
    assert body["error"] == "bad_adaptor_result"
    assert body["message"] == (
        f"The adaptor returned the path {str(missing)!r}, which owt can't send: "
        "it does not exist."
    )


def test_a_path_to_a_directory_is_a_500_naming_it(server, tmp_path):
    r = server.post(PATH, {"path": str(tmp_path)})
    assert r.status_code == 500
    assert r.json()["message"] == (
        f"The adaptor returned the path {str(tmp_path)!r}, which owt can't send: "
        "it is a directory."
    )


def test_a_cached_path_is_a_hit_with_the_same_bytes(server, tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 1000)
    first = server.post(PATH, {"path": str(path)}, use_cache=True, cache_kwargs=True)
    second = server.post(PATH, {"path": str(path)}, use_cache=True, cache_kwargs=True)
    assert (first.headers["X-Owt-Cache"], second.headers["X-Owt-Cache"]) == (
        "miss",
        "hit",
    )
    assert second.content == first.content == path.read_bytes()
    assert second.headers["Content-Disposition"] == 'inline; filename="data.bin"'


def tree_rss(pid: int) -> int:
    """Resident bytes of process ``pid`` and all its descendants."""
    top = psutil.Process(pid)
    total = 0
    for proc in [top, *top.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


@pytest.mark.slow
def test_a_big_file_is_streamed_not_held_in_memory(server, tmp_path):
    size = 40 * 1024 * 1024
    path = tmp_path / "big.bin"
    with path.open("wb") as out:
        block = bytes(range(256)) * 4096  # 1 MiB
        for _ in range(size // len(block)):
            out.write(block)
    server.post(PATH, {"path": str(path)}).close()  # warm: code loaded
    before = tree_rss(server.proc.pid)
    peak = before
    received = 0
    with server.post(PATH, {"path": str(path)}, stream=True) as r:
        assert r.headers["Content-Length"] == str(size)
        for chunk in r.iter_content(1024 * 1024):
            received += len(chunk)
            if received % (4 * 1024 * 1024) == 0:
                time.sleep(0.05)  # a slow reader: the server must not read ahead
                peak = max(peak, tree_rss(server.proc.pid))
    assert received == size
    assert peak - before < size // 2, (before, peak)


# --- a long body that declares its length ------------------------------------------------

DECLARED = """\
def run(size: int, declared: int):
    def chunks():
        left = size
        while left:
            n = min(left, 300_000)
            left -= n
            yield b"x" * n
    return chunks(), {"Content-Type": "application/octet-stream",
                      "Content-Length": str(declared)}
"""


@pytest.mark.parametrize("size", [10, 3_000_000])
def test_a_body_as_long_as_it_declares_is_sent_whole(server, size):
    r = server.post(DECLARED, {"size": size, "declared": size})
    assert r.status_code == 200
    assert r.headers["Content-Length"] == str(size)
    assert r.content == b"x" * size


def test_a_short_body_says_its_true_length(server):
    r = server.post(DECLARED, {"size": 10, "declared": 99})
    assert (r.headers["Content-Length"], r.content) == ("10", b"x" * 10)


def test_a_long_body_that_ends_short_is_cut_off_not_framed_wrong(server):
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        server.post(DECLARED, {"size": 2_000_000, "declared": 3_000_000})
    assert server.post("def run():\n    return 'still here'\n").text == "still here"


def test_a_long_body_never_sends_more_than_it_declares(server):
    try:
        r = server.post(DECLARED, {"size": 3_000_000, "declared": 2_000_000})
        assert len(r.content) <= 2_000_000
    except requests.exceptions.ChunkedEncodingError:
        pass  # cut off: also never framed wrong
    assert server.post("def run():\n    return 'still here'\n").text == "still here"


def test_head_of_a_big_pinned_response_says_its_length(server, request):
    path = f"/big-pin-{request.node.callspec.id}"
    code = "def run():\n    return b'x' * 3_000_000\n"
    assert server.post(code, path=path, pin=True).status_code == 200
    head = requests.head(server.url + path, timeout=10)
    assert (head.status_code, head.headers["Content-Length"]) == (200, "3000000")
    assert head.content == b""
    got = requests.get(server.url + path, timeout=10)
    assert (got.headers["Content-Length"], len(got.content)) == ("3000000", 3_000_000)
    requests.delete(server.url + "/_owt/cache", params={"path": path}, timeout=10)
