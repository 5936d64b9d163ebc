import keras
import numpy as np
import pytest

from keras_s11.callbacks import StepHistory
from tests.helpers import tiny_dataset, tiny_model


def test_records_each_batch_own_loss_and_accuracy_not_the_running_mean():
    # With LR 0 the weights never change, so each batch's own loss is that of
    # the fixed model on it; the batches' losses differ widely (helper).
    model = tiny_model(lr=0.0)
    dataset, x, y = tiny_dataset(batches=6, batch_size=8)
    steps = StepHistory()
    model.fit(dataset, epochs=2, callbacks=[steps], verbose=0, shuffle=False)
    probabilities = model.predict(x, verbose=0)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    own_loss = [float(loss_fn(y[i : i + 8], probabilities[i : i + 8])) for i in range(0, 48, 8)]
    own_accuracy = [float(np.mean(np.argmax(probabilities[i : i + 8], 1) == y[i : i + 8])) for i in range(0, 48, 8)]
    np.testing.assert_allclose(steps.history["loss"], own_loss * 2, rtol=1e-4)
    np.testing.assert_allclose(steps.history["accuracy"], own_accuracy * 2, atol=1e-5)
    # What Keras reported were the running means of each epoch.
    np.testing.assert_allclose(steps.running_means["loss"][:6], np.cumsum(own_loss) / np.arange(1, 7), rtol=1e-4)
    assert not np.allclose(steps.running_means["loss"], steps.history["loss"], rtol=1e-2)


def test_refuses_steps_per_execution_above_one():
    model = tiny_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", steps_per_execution=2)
    dataset, _, _ = tiny_dataset()
    with pytest.raises(ValueError, match="steps_per_execution"):
        model.fit(dataset, epochs=1, callbacks=[StepHistory()], verbose=0)
