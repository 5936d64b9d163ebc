"""Figures. Functions return a `matplotlib.figure.Figure`; they never show it.

`save_figure` writes one atomically (PNG, SVG or PDF by the file extension).
"""

from keras_s11.figures.curves import describe_loss, plot_train_vs_test_accuracy, plot_training_curves
from keras_s11.figures.images import plot_gradcam, plot_misclassified
from keras_s11.figures.lr import plot_cyclic_lr, plot_lr_per_step, plot_lr_range_test
from keras_s11.figures.per_class import plot_classwise_accuracy, plot_confusion_matrix
from keras_s11.figures.saving import FIGURE_FORMATS, save_figure

__all__ = [
    "FIGURE_FORMATS",
    "describe_loss",
    "plot_classwise_accuracy",
    "plot_confusion_matrix",
    "plot_cyclic_lr",
    "plot_gradcam",
    "plot_lr_per_step",
    "plot_lr_range_test",
    "plot_misclassified",
    "plot_train_vs_test_accuracy",
    "plot_training_curves",
    "save_figure",
]
