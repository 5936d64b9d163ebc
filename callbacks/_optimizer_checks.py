"""Checks shared by the callbacks that drive the optimizer step by step."""

import keras


def check_step_callback(model, name):
    """Raises `ValueError` unless `model` lets a callback set its LR every step.

    That needs a float learning rate (an optimizer built with a
    `LearningRateSchedule` refuses assignment) and `steps_per_execution=1`
    (otherwise batch hooks run only every few steps).
    """
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)  # unwrap loss scaling
    if isinstance(getattr(optimizer, "_learning_rate", None), keras.optimizers.schedules.LearningRateSchedule):
        raise ValueError(
            f"{name} sets the learning rate at every step, so the optimizer must be built "
            "with a float learning rate, not a LearningRateSchedule."
        )
    steps_per_execution = getattr(model, "steps_per_execution", 1)
    if steps_per_execution != 1:
        raise ValueError(
            f"{name} acts at every step: compile the model with steps_per_execution=1. "
            f"Received: steps_per_execution={steps_per_execution}"
        )
