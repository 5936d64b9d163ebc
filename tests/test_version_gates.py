"""Code written for some Keras or TensorFlow versions only: each gate, on whichever versions run the tests.

CI runs the suite on the locked (newest) versions and on a notebook host's
TensorFlow 2.19 / Keras 3.10, so every gate is seen on both of its sides.
"""

import keras
import numpy as np
import pytest

from keras_s11.layers import RENORM_SINCE, FusedBatchNormalization
from keras_s11.versions import keras_version, parse_version, tensorflow_version


def test_versions_parse_as_numbers():
    assert parse_version("3.10.0") == (3, 10, 0) and parse_version("3.9") == (3, 9, 0)
    assert parse_version("2.19.0-rc1") == (2, 19, 0) and parse_version("2.21.0.dev20250101") == (2, 21, 0)
    assert parse_version("2.13.0+cpu") == (2, 13, 0) and parse_version(" 3 ") == (3, 0, 0)
    assert parse_version("3.10.0") > parse_version("3.9.2")  # not string order
    with pytest.raises(ValueError, match=r"Argument `text` must be a version .* Received: text='dev'"):
        parse_version("dev")


def test_the_installed_versions_are_read():
    import tensorflow as tf

    assert keras_version() == parse_version(keras.version()) >= (3, 10, 0)
    assert tensorflow_version() == parse_version(tf.__version__) >= (2, 19, 0)


def test_fused_batchnorm_takes_the_fused_path_on_either_side_of_renorm():
    """Keras 3.14 added batch renormalisation (`renorm`); an older layer has no such attribute."""
    layer = FusedBatchNormalization()
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32")
    layer.build(x.shape)
    if keras_version() < RENORM_SINCE:
        assert not hasattr(layer, "renorm")
    else:
        assert layer.renorm is False
        renorm = FusedBatchNormalization(renorm=True)
        renorm.build(x.shape)
        assert not renorm._fused(keras.ops.convert_to_tensor(x), None)  # Keras's own path does renorm
    assert layer._fused(keras.ops.convert_to_tensor(x), None) == (keras.backend.backend() == "tensorflow")
    np.testing.assert_allclose(layer(x, training=False), x / np.sqrt(1 + layer.epsilon), rtol=1e-5, atol=1e-6)


def test_the_multi_worker_patch_is_gated_on_the_keras_versions_it_was_written_for():
    from keras_s11.distribute import needs_multi_worker_patch

    assert needs_multi_worker_patch("3.10.0") and needs_multi_worker_patch("3.15.1")
    assert not needs_multi_worker_patch("3.9.2") and not needs_multi_worker_patch("3.16.0")
    assert needs_multi_worker_patch()  # every Keras the project is tested with needs it (tests/test_distribute.py)
