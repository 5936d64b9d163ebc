import numpy as np

from keras_s11.figures import plot_lr_range_test


def test_range_test_figure_has_log_axes_and_marks_the_found_lrs():
    lrs = np.geomspace(1e-3, 1, 20)
    losses = np.linspace(2.5, 1.5, 20)
    figure = plot_lr_range_test(lrs, losses, losses, [0.1] * 20, lr_min=0.01, lr_max=0.1)
    loss_ax, accuracy_ax = figure.axes
    assert loss_ax.get_xscale() == accuracy_ax.get_xscale() == "log"
    assert loss_ax.get_xlabel() == "learning rate" and loss_ax.get_ylabel() == "training loss"
    assert "accuracy" in accuracy_ax.get_title()
    labels = [text.get_text() for text in loss_ax.get_legend().get_texts()]
    assert "LRMIN = 0.01" in labels and "LRMAX = 0.1" in labels


def test_range_test_figure_without_accuracy_has_one_axis():
    figure = plot_lr_range_test([0.1, 0.2], [1.0, 0.9], [1.0, 0.95], accuracies=[None, None])
    assert len(figure.axes) == 1
