# owt/playground/examples/thumbnail.py: shrink a picture you pick, in grey if asked.
#
# The adaptor of example/image/thumbnail.py (it needs Pillow where owt runs).
# Pick the picture in the Files row "image": it goes as that multipart file
# part, and owt hands it to run as a werkzeug FileStorage. Returning a PIL
# Image answers with a PNG.

from PIL import Image
from PIL import ImageOps
from werkzeug.datastructures import FileStorage


def run(image: FileStorage, size: int = 128, grey: bool = False) -> Image.Image:
    """A copy of the picture at most SIZE pixels wide and high."""
    picture: Image.Image = Image.open(image.stream)
    picture = ImageOps.exif_transpose(picture)
    picture.thumbnail((int(size), int(size)))
    if str(grey).lower() in ("true", "1", "yes"):
        picture = ImageOps.grayscale(picture)
    return picture
