"""Reading image files: the one place where Pillow opens them (NumPy and Pillow only).

Images come from class folders and from users of `scripts/predict.py`, so
they are treated as hostile: a file that claims billions of pixels (a
"decompression bomb"), a truncated or malformed file, a folder or a FIFO
with an image's name all end in one `ImageError` that names the file.
"""

import os
import stat
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from keras_s11.cli import first_line

IMAGE_SIZE = 32


class ImageError(ValueError):
    """Raised when an image file cannot be read or has the wrong size."""


def _check_regular_file(path):
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ImageError(f"image {path} does not exist") from None
    except OSError as error:
        raise ImageError(f"cannot read image {path}: {error.strerror or first_line(error)}") from None
    if stat.S_ISDIR(mode):
        raise ImageError(f"{path} is a folder, not an image file")
    if not stat.S_ISREG(mode):
        raise ImageError(f"{path} is not a regular file (a device, FIFO or socket), not an image file")


def _read(path, resize, convert, hint):
    """One image as uint8 `(32, 32, 3)`; see `read_images`."""
    from PIL import Image

    path = os.fspath(path)
    _check_regular_file(path)
    try:
        with Image.open(path) as image:  # reads the header only; Pillow checks the pixel count here
            size, mode = image.size, image.mode
            wrong_size = size != (IMAGE_SIZE, IMAGE_SIZE)
            if (wrong_size and not resize) or (mode != "RGB" and not (convert or resize)):
                raise ImageError(f"image {path} is {size[0]}x{size[1]} {mode}, expected 32x32 RGB{hint}")
            if mode != "RGB":
                image = image.convert("RGB")
            if wrong_size:
                image = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
            array = np.asarray(image, dtype=np.uint8)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(f"image {path} is refused as a possible decompression bomb: {first_line(error)}") from None
    except Exception as error:  # noqa: BLE001 - decoders raise OSError, SyntaxError, ValueError, struct.error...
        raise ImageError(f"cannot decode image {path}: {first_line(error)}") from None
    if array.shape != (IMAGE_SIZE, IMAGE_SIZE, 3):  # e.g. a multi-band mode Pillow converts oddly
        raise ImageError(f"image {path} decodes to shape {array.shape}, expected (32, 32, 3)")
    return array


def read_images(paths, resize=False, convert=False, hint="", workers=None):
    """Reads image files as one uint8 array, decoding them in threads.

    An image that claims more pixels than Pillow's `Image.MAX_IMAGE_PIXELS`
    is refused from its header, before anything is decoded (Pillow's
    `DecompressionBombWarning` is an error here, only for these reads); so is
    an image of the wrong size unless `resize`.

    Args:
        paths: Image file paths (any format Pillow reads).
        resize: Convert to RGB and resize (bicubic) images that are not
            32x32 RGB, instead of refusing them.
        convert: Convert 32x32 images of another mode (grey, RGBA, palette)
            to RGB instead of refusing them.
        hint: Text appended to the message for an image of the wrong size
            or mode (e.g. `"; pass --resize to ..."`).
        workers: Decoding threads (default: one per CPU).

    Returns:
        uint8 array `(N, 32, 32, 3)`, in the order of `paths`.

    Raises:
        ImageError: For the first path (in order) that is missing, not a
            regular file, undecodable, a decompression bomb, or of the wrong
            size or mode; one line naming the file.

    Example:

    >>> images = read_images(["cat.png", "dog.jpg"], resize=True)
    """
    from PIL import Image

    paths = [os.fspath(path) for path in paths]
    workers = workers or os.cpu_count() or 1
    # Set once here, in the calling thread, for all decoding threads: a filter per thread would race.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        if workers == 1 or len(paths) <= 1:
            images = [_read(path, resize, convert, hint) for path in paths]
        else:
            pool = ThreadPoolExecutor(max_workers=workers)
            try:
                images = list(pool.map(lambda path: _read(path, resize, convert, hint), paths))
            finally:
                pool.shutdown(wait=True, cancel_futures=True)  # after an error, decode no more
    if not images:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    return np.stack(images)


def read_image(path, resize=False, convert=False, hint=""):
    """Reads one image file as a uint8 `(32, 32, 3)` RGB array; see `read_images`.

    Raises:
        ImageError: As in `read_images`.
    """
    return read_images([path], resize=resize, convert=convert, hint=hint)[0]
