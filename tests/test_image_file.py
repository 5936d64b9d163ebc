"""keras_s11.image_file: the one place images are opened refuses hostile files, in every thread."""

import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from keras_s11.image_file import ImageError, read_image, read_images


def png_claiming(path, width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + data)
    return path


def test_a_bomb_among_many_images_is_refused_in_the_decoding_threads_and_the_filters_are_restored(tmp_path):
    image = np.arange(32 * 32 * 3, dtype=np.int64).astype(np.uint8).reshape(32, 32, 3)
    Image.fromarray(image).save(tmp_path / "ok.png")
    bomb = png_claiming(tmp_path / "big.png", 10000, 10000)  # Pillow only warns about this size
    before = list(warnings.filters)
    paths = [tmp_path / "ok.png"] * 40 + [bomb] + [tmp_path / "ok.png"] * 40
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        message = r"big.png is refused as a possible decompression bomb: Image size \(100000000 pixels\)"
        with pytest.raises(ImageError, match=message):
            read_images(paths, workers=4)
        assert not caught  # refused, not warned about
    assert warnings.filters == before
    np.testing.assert_array_equal(read_images([tmp_path / "ok.png"] * 5, workers=4), np.stack([image] * 5))


def test_modes_and_sizes(tmp_path):
    Image.new("L", (32, 32), 7).save(tmp_path / "grey.png")
    Image.new("RGB", (64, 48), (1, 2, 3)).save(tmp_path / "big.png")
    with pytest.raises(ImageError, match=r"grey.png is 32x32 L, expected 32x32 RGB; hint$"):
        read_image(tmp_path / "grey.png", hint="; hint")
    assert read_image(tmp_path / "grey.png", convert=True)[0, 0].tolist() == [7, 7, 7]
    with pytest.raises(ImageError, match="big.png is 64x48 RGB, expected 32x32 RGB"):
        read_image(tmp_path / "big.png", convert=True)  # convert changes modes, never sizes
    assert read_image(tmp_path / "big.png", resize=True)[5, 5].tolist() == [1, 2, 3]
    assert read_images([]).shape == (0, 32, 32, 3)
