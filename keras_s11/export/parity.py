"""Parity checks: an exported artefact must give the Keras model's answers."""

import os

import numpy as np

from keras_s11.export.defaults import DEFAULT_TOLERANCE


class ParityError(ValueError):
    """Raised when an exported artefact disagrees with the Keras model."""


def compare(reference, candidate):
    """How far `candidate` probabilities are from `reference`.

    Args:
        reference: float array `(N, classes)`, the Keras model's output.
        candidate: float array of the same shape, the artefact's output.

    Returns:
        A dict: `images`, `max_abs_diff` (largest absolute difference of any
        probability) and `top1_agreement` (fraction of images whose arg-max
        class is the same).
    """
    reference, candidate = np.asarray(reference, np.float64), np.asarray(candidate, np.float64)
    if reference.shape != candidate.shape:
        raise ValueError(
            f"Arguments `reference` and `candidate` must have the same shape. "
            f"Received: {reference.shape} and {candidate.shape}"
        )
    return {
        "images": int(len(reference)),
        "max_abs_diff": float(np.max(np.abs(reference - candidate))) if reference.size else 0.0,
        "top1_agreement": float(np.mean(reference.argmax(1) == candidate.argmax(1))) if len(reference) else 1.0,
    }


def check(name, result, tolerance=DEFAULT_TOLERANCE):
    """Adds `passed` to a `compare` result; raises if the artefact fails.

    Passing means `max_abs_diff <= tolerance` and 100 % top-1 agreement.

    Raises:
        ParityError: Naming the artefact and both figures.
    """
    passed = result["max_abs_diff"] <= tolerance and result["top1_agreement"] == 1.0
    result = {**result, "tolerance": tolerance, "passed": passed}
    if not passed:
        raise ParityError(
            f"{name} disagrees with the Keras model: max |p - p_keras| = {result['max_abs_diff']:.3g} "
            f"(limit {tolerance:g}), top-1 agreement {100 * result['top1_agreement']:.2f} % "
            f"on {result['images']} images"
        )
    return result


def synthetic_images(count, seed=0):
    """Deterministic image-like uint8 images: random 8x8 colour blocks, upscaled.

    Args:
        count: Number of images.
        seed: NumPy seed.

    Returns:
        uint8 array `(count, 32, 32, 3)`.
    """
    blocks = np.random.default_rng(seed).integers(0, 256, size=(count, 8, 8, 3), dtype=np.uint8)
    return blocks.repeat(4, axis=1).repeat(4, axis=2)


def parity_images(data_dir=None, count=500, seed=0):
    """Images for the parity checks, and a description of where they came from.

    Args:
        data_dir: A CIFAR-10 source (as for `load_cifar10`); its test split
            is sampled. `None`: `synthetic_images`.
        count: Number of images (all test images if fewer).
        seed: Seed of the sample.

    Returns:
        `(images, description)`: uint8 `(N, 32, 32, 3)` and a JSON-able dict.

    Raises:
        keras_s11.data.DataError: If `data_dir` holds no CIFAR-10.
    """
    if data_dir is None:
        return synthetic_images(count, seed), {
            "source": "synthetic",
            "description": f"{count} random 8x8 colour-block images upscaled to 32x32 (seed {seed})",
            "count": count,
        }
    from keras_s11.data.sources import load_cifar10_test

    data_dir = os.fspath(data_dir)
    images, _ = load_cifar10_test(data_dir)  # decodes only the test split where it can
    chosen = np.sort(np.random.default_rng(seed).permutation(len(images))[:count])
    return images[chosen], {
        "source": data_dir,
        "description": f"{len(chosen)} test images sampled at random (seed {seed}) from {len(images)}",
        "count": int(len(chosen)),
    }
