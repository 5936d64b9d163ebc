"""SGD whose momentum can change during training."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_s11")
class VariableMomentumSGD(keras.optimizers.SGD):
    """SGD with (Nesterov) momentum held in a variable.

    Keras's `SGD` reads `momentum` as a Python float when the train step is
    traced, so changing it later has no effect. Here the momentum lives in
    `momentum_variable` (optimizer state, saved with it), which callbacks such
    as `OneCycle(momentum_range=...)` assign during training. The update rule
    is Keras's: `v = m * v - lr * g`, then `w += v` or, with Nesterov,
    `w += m * v - lr * g`.

    Args:
        learning_rate: Float or `LearningRateSchedule`.
        momentum: Initial momentum, in (0, 1).
        nesterov: Whether to use Nesterov momentum.
        **kwargs: Further `keras.optimizers.SGD` arguments.
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, nesterov=False, **kwargs):
        if not isinstance(momentum, float) or not 0 < momentum < 1:
            raise ValueError(f"Argument `momentum` must be a float in (0, 1). Received: momentum={momentum!r}")
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, **kwargs)

    def build(self, variables):
        if self.built:
            return
        self.momentum_variable = self.add_variable(
            shape=(),
            initializer=keras.initializers.Constant(self.momentum),
            dtype="float32",
            name="momentum",
            aggregation="none",
        )
        super().build(variables)

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        momentum = ops.cast(self.momentum_variable, variable.dtype)
        velocity = self.momentums[self._get_variable_index(variable)]
        step = ops.subtract(ops.multiply(velocity, momentum), ops.multiply(gradient, learning_rate))
        self.assign(velocity, step)
        if self.nesterov:
            self.assign_add(variable, ops.subtract(ops.multiply(step, momentum), ops.multiply(gradient, learning_rate)))
        else:
            self.assign_add(variable, step)
