# owt/playground/examples/image.py: a gradient as PNG bytes, standard library only

import struct
import zlib


def run(width: int = 320, height: int = 200) -> tuple[bytes, dict[str, str]]:
    if not (1 <= width <= 2000 and 1 <= height <= 2000):
        raise ValueError("width and height must be 1 to 2000 pixels")
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # each row starts with its filter type: none
        green = 255 * y // max(height - 1, 1)
        for x in range(width):
            rows += bytes((255 * x // max(width - 1, 1), green, 160))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    png = b"\x89PNG\r\n\x1a\n" + b"".join(
        chunk(kind, data)
        for kind, data in (
            (b"IHDR", header),
            (b"IDAT", zlib.compress(bytes(rows))),
            (b"IEND", b""),
        )
    )
    return png, {"Content-Type": "image/png"}


def chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
