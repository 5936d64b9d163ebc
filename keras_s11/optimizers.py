"""SGD whose momentum can change during training, with per-variable LR multipliers."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_s11")
class VariableMomentumSGD(keras.optimizers.SGD):
    """SGD with (Nesterov) momentum held in a variable and per-variable LR multipliers.

    Keras's `SGD` reads `momentum` as a Python float when the train step is
    traced, so changing it later has no effect. Here the momentum lives in
    `momentum_variable` (optimizer state, saved with it), which a callback
    may assign during training. The update rule
    is Keras's: `v = m * v - lr * g`, then `w += v` or, with Nesterov,
    `w += m * v - lr * g`, where `lr` is the learning rate times the
    variable's multiplier (`lr_multipliers`; 1 for the others).

    Args:
        learning_rate: Float or `LearningRateSchedule`.
        momentum: Initial momentum, in (0, 1).
        nesterov: Whether to use Nesterov momentum.
        lr_multipliers: Optional dict mapping a name to a factor > 0: a
            variable whose name contains the name (the convention of
            Keras's `exclude_from_weight_decay(var_names=...)`) steps with
            the learning rate times that factor, e.g. `{"beta": 64.0}` for
            the BatchNorm offsets (airbench's 64x on its BatchNorm biases).
            A variable that two names match is refused when the optimizer
            is built.
        **kwargs: Further `keras.optimizers.SGD` arguments.

    Example:

    >>> optimizer = VariableMomentumSGD(0.1, momentum=0.9, nesterov=True, lr_multipliers={"beta": 64.0})
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, nesterov=False, lr_multipliers=None, **kwargs):
        if not isinstance(momentum, float) or not 0 < momentum < 1:
            raise ValueError(f"Argument `momentum` must be a float in (0, 1). Received: momentum={momentum!r}")
        lr_multipliers = dict(lr_multipliers or {})
        for name, factor in lr_multipliers.items():
            is_number = isinstance(factor, (int, float)) and not isinstance(factor, bool)
            if not isinstance(name, str) or not name or not is_number:
                raise ValueError(
                    "Argument `lr_multipliers` must map non-empty names to numbers. "
                    f"Received: lr_multipliers={lr_multipliers!r}"
                )
            if not 0 < factor < float("inf"):
                raise ValueError(
                    f"Argument `lr_multipliers` needs factors > 0. Received: lr_multipliers={lr_multipliers!r}"
                )
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, **kwargs)
        self.lr_multipliers = {name: float(factor) for name, factor in lr_multipliers.items()}

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
        self._multipliers = [self.lr_multiplier(variable) for variable in variables]
        super().build(variables)

    def lr_multiplier(self, variable):
        """The factor on the learning rate of `variable` (1 when no name of `lr_multipliers` matches)."""
        matches = [name for name in self.lr_multipliers if name in variable.name]
        if len(matches) > 1:
            raise ValueError(
                f"Variable {variable.path!r} matches more than one name of `lr_multipliers`: {matches}. "
                f"Received: lr_multipliers={self.lr_multipliers!r}"
            )
        return self.lr_multipliers[matches[0]] if matches else 1.0

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        learning_rate = ops.cast(learning_rate, variable.dtype)
        if self._multipliers[index] != 1.0:
            learning_rate = ops.multiply(learning_rate, self._multipliers[index])
        gradient = ops.cast(gradient, variable.dtype)
        momentum = ops.cast(self.momentum_variable, variable.dtype)
        velocity = self.momentums[index]
        step = ops.subtract(ops.multiply(velocity, momentum), ops.multiply(gradient, learning_rate))
        self.assign(velocity, step)
        if self.nesterov:
            self.assign_add(variable, ops.subtract(ops.multiply(step, momentum), ops.multiply(gradient, learning_rate)))
        else:
            self.assign_add(variable, step)

    def get_config(self):
        config = super().get_config()
        config["lr_multipliers"] = dict(self.lr_multipliers)
        return config
