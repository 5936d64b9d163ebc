"""The names of what a training run writes into its folder: defined here, once (no TensorFlow).

runs/NAME/
    config.json          the settings, the LRs used, when it started
    lr_range_test.json   the range-test curves and the LRs found (.png: the plot)
    history.csv, .json   per-epoch metrics
    lrs.json             the LR (and momentum) of every step
    train_steps.json     each step's own training loss and accuracy
    metrics.json         final test (and holdout) loss and accuracy
    model.keras          the trained model
    tensorboard/         TensorBoard logs: train/, validation/, lr_range_test/
    report/              figures and report.md
"""

CONFIG = "config.json"
RANGE_TEST = "lr_range_test.json"
RANGE_TEST_PLOT = "lr_range_test.png"
HISTORY_CSV = "history.csv"
HISTORY = "history.json"
LRS = "lrs.json"
STEPS = "train_steps.json"
METRICS = "metrics.json"
MODEL = "model.keras"
TENSORBOARD = "tensorboard"
RANGE_TEST_LOGS = "lr_range_test"  # under TENSORBOARD, beside Keras's train/ and validation/
REPORT = "report"
