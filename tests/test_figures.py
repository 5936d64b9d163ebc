import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure

from keras_s11.figures import (
    plot_classwise_accuracy,
    plot_confusion_matrix,
    plot_cyclic_lr,
    plot_gradcam,
    plot_lr_per_step,
    plot_lr_range_test,
    plot_misclassified,
    plot_train_vs_test_accuracy,
    plot_training_curves,
    save_figure,
)


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


def range_result(**changes):
    from keras_s11.lr_finder import LRRangeResult

    lrs = list(np.geomspace(1e-3, 1, 20))
    losses = list(np.linspace(2.5, 1.5, 20))
    fields = dict(lrs=lrs, losses=losses, smoothed_losses=losses, accuracies=[0.1] * 20, lr_min=0.01, lr_max=0.1)
    return LRRangeResult(**{**fields, "diverged": False, **changes})


def drawn(figure):
    """What a range-test figure shows: per axis its title and lines, and the legend labels of the loss axis."""
    lines = [[(tuple(line.get_xdata()), tuple(line.get_ydata())) for line in ax.get_lines()] for ax in figure.axes]
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    return [ax.get_title() for ax in figure.axes], lines, labels


def test_range_test_figure_takes_the_result_in_one_piece():
    result = range_result()
    expected = drawn(
        plot_lr_range_test(result.lrs, result.losses, result.smoothed_losses, result.accuracies, 0.01, 0.1)
    )
    for figure in (
        plot_lr_range_test(result),
        result.plot(),
        plot_lr_range_test(result.to_dict()),
        plot_lr_range_test(**result.to_dict()),
    ):
        assert drawn(figure) == expected
        assert "Rule: LRMAX = the LR at the lowest" in figure.get_supxlabel()
    assert "diverged" in plot_lr_range_test(range_result(diverged=True)).axes[0].get_title()


def test_range_test_figure_shades_the_bands_of_a_result():
    result = range_result()
    result.lr_min_band, result.lr_max_band = (0.008, 0.012), (0.07, 0.2)
    labels = plot_lr_range_test(result).axes[0].get_legend_handles_labels()[1]
    assert "LRMIN band 0.008-0.012" in labels and "LRMAX band 0.07-0.2" in labels
    bare = plot_lr_range_test(result.lrs, result.losses, result.smoothed_losses, lr_min=0.01, lr_max=0.1)
    assert not any("band" in label for label in bare.axes[0].get_legend_handles_labels()[1])


def test_range_test_figure_takes_the_callback_and_refuses_mixed_arguments():
    from keras_s11.callbacks import LRRangeTest

    test = LRRangeTest(1e-3, 1.0, num_steps=3)
    test.lrs, test.losses, test.smoothed_losses, test.accuracies = [0.001, 0.03, 1.0], [2, 1, 3], [2, 1.5, 2], [0.1] * 3
    title, lines, labels = drawn(plot_lr_range_test(test))
    assert lines[0][1] == ((0.001, 0.03, 1.0), (2, 1.5, 2)) and labels == ["loss of each step", "smoothed loss"]
    with pytest.raises(ValueError, match="not both"):
        plot_lr_range_test(range_result(), [1.0] * 20, [1.0] * 20)
    with pytest.raises(ValueError, match="without losses, smoothed_losses"):
        plot_lr_range_test({"lrs": [0.1]})
    with pytest.raises(ValueError, match="same length. Received lengths: 2, 1, 2"):
        plot_lr_range_test([0.1, 0.2], [1.0], [1.0, 0.9])


def test_range_test_figure_says_so_in_its_title_when_lrmax_is_the_first_lr():
    # The warning is the reading's (`suggest_lr_range`); drawing the result warns of nothing again.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = plot_lr_range_test(range_result(lr_min=1e-3, lr_max=1e-3))
        assert "LRMAX at the first LR" in figure.axes[0].get_title()
        assert "LRMAX at the first LR" not in plot_lr_range_test(range_result()).axes[0].get_title()


HISTORY = {
    "loss": [2.0, 1.5, 1.2],
    "accuracy": [0.4, 0.6, 0.7],
    "val_loss": [1.8, 1.4, 1.3],
    "val_accuracy": [0.5, 0.62, 0.66],
}
NAMES = ["cat", "dog", "ship"]


def test_cyclic_lr_figure_draws_the_given_values_and_bounds():
    lrs = np.array([0.1, 0.55, 1.0, 0.55, 0.1])
    figure = plot_cyclic_lr(lrs, step_size=2, mode="triangular", base_lr=0.1, max_lr=1.0)
    (ax,) = figure.axes
    assert isinstance(figure, Figure)
    assert "triangular" in ax.get_title() and ax.get_ylabel() == "learning rate"
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), lrs)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "max_lr = 1" in labels and "base_lr = 0.1" in labels


def test_lr_per_step_figure_puts_epochs_on_the_x_axis():
    figure = plot_lr_per_step([0.1, 0.2, 0.3, 0.2, 0.1, 0.1], steps_per_epoch=2, lr_min=0.1, lr_max=0.3)
    (ax,) = figure.axes
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "learning rate"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [0, 0.5, 1, 1.5, 2, 2.5])
    assert "6 steps, 2 per epoch" in ax.get_title()
    with pytest.raises(ValueError, match="steps_per_epoch"):
        plot_lr_per_step([0.1], steps_per_epoch=0)


def test_training_curves_per_step_when_recorded():
    steps = {"loss": [2.2, 1.8, 1.6, 1.4, 1.3, 1.1], "accuracy": [0.3, 0.5, 0.6, 0.6, 0.7, 0.7]}
    figure = plot_training_curves(HISTORY, steps, steps_per_epoch=2)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == [
        "Training loss per step",
        "Training accuracy per step",
        "Test loss per epoch",
        "Test accuracy per epoch",
    ]
    train_loss, train_acc, test_loss, test_acc = figure.axes
    np.testing.assert_allclose(train_loss.get_lines()[0].get_xdata(), [0.5, 1, 1.5, 2, 2.5, 3])
    np.testing.assert_allclose(train_acc.get_lines()[0].get_ydata(), [30, 50, 60, 60, 70, 70])
    np.testing.assert_allclose(test_acc.get_lines()[0].get_ydata(), [50, 62, 66])
    assert test_loss.get_xlabel() == "epoch" and test_acc.get_ylabel() == "accuracy (%)"


def test_training_curves_of_an_epoch_only_run_say_so():
    figure = plot_training_curves(HISTORY)
    train_loss, train_acc = figure.axes[:2]
    assert train_loss.get_title() == "Training loss per epoch"
    assert train_loss.get_legend() is None and train_acc.get_legend() is None  # one line each, named by the title
    np.testing.assert_allclose(train_loss.get_lines()[0].get_ydata(), HISTORY["loss"])
    with pytest.raises(ValueError, match="val_accuracy"):
        plot_training_curves({"loss": [1.0], "accuracy": [0.5], "val_loss": [1.0]})


def test_loss_axes_say_the_loss_includes_label_smoothing_and_l2():
    from keras_s11.figures import describe_loss

    assert describe_loss() == "loss (cross-entropy with\nlabel smoothing + L2 penalty)"
    assert describe_loss(0.2, 5e-4) == "loss (cross-entropy with\nlabel smoothing 0.2 + L2 0.0005)"
    assert describe_loss(0.2, 0) == "loss (cross-entropy with\nlabel smoothing 0.2)"
    assert describe_loss(0, 5e-4) == "loss (cross-entropy\n+ L2 0.0005)"
    assert describe_loss(0.0, 0) == "loss (cross-entropy)"
    figure = plot_training_curves(HISTORY)
    train_loss, _, test_loss, test_acc = figure.axes
    assert train_loss.get_ylabel() == test_loss.get_ylabel() == describe_loss()
    assert test_acc.get_ylabel() == "accuracy (%)"
    labelled = plot_training_curves(HISTORY, loss_label=describe_loss(0.2, 5e-4))
    assert labelled.axes[0].get_ylabel().endswith("label smoothing 0.2 + L2 0.0005)")


def test_train_vs_test_accuracy_on_one_axis():
    figure = plot_train_vs_test_accuracy(HISTORY)
    (ax,) = figure.axes
    train, test = ax.get_lines()
    np.testing.assert_allclose(train.get_ydata(), [40, 60, 70])
    np.testing.assert_allclose(test.get_ydata(), [50, 62, 66])
    assert ax.get_xlabel() == "epoch" and ax.get_title() == "Training vs test accuracy"


def test_misclassified_grid_titles_name_true_and_predicted_classes():
    images = np.zeros((7, 32, 32, 3), dtype=np.uint8)
    figure = plot_misclassified(images, [0] * 7, [1] * 7, NAMES, confidences=[0.5] * 7, columns=4)
    assert len(figure.axes) == 8  # 2 rows of 4; the last one empty
    assert figure.axes[0].get_title() == "true: cat\npredicted: dog (50 %)"
    assert figure.axes[7].get_title() == "" and len(figure.axes[7].get_images()) == 0
    with pytest.raises(ValueError, match="same length"):
        plot_misclassified(images, [0] * 6, [1] * 7, NAMES)


def test_gradcam_figure_has_image_then_predicted_then_actual_columns():
    images = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    maps = {"layer1": np.zeros((2, 32, 32)), "layer3": np.ones((2, 32, 32))}
    figure = plot_gradcam(images, [0, 2], [1, 0], NAMES, maps, maps)
    image_axes = [ax for ax in figure.axes if ax.get_title()]
    assert len(image_axes) == 2 * 5
    assert [ax.get_title() for ax in image_axes[:5]] == [
        "true: cat\npredicted: dog",
        "layer1\npredicted: dog",
        "layer3\npredicted: dog",
        "layer1\nactual: cat",
        "layer3\nactual: cat",
    ]
    assert len(image_axes[1].get_images()) == 2  # the image and its heatmap on top
    with pytest.raises(ValueError, match="same layers"):
        plot_gradcam(images, [0, 2], [1, 0], NAMES, maps, {"layer1": maps["layer1"]})


def test_classwise_accuracy_bars_in_percent():
    figure = plot_classwise_accuracy([0.5, 0.75, 1.0], NAMES, overall=0.75)
    (ax,) = figure.axes
    assert [patch.get_width() for patch in ax.patches] == [50, 75, 100]
    assert [label.get_text() for label in ax.get_yticklabels()] == NAMES
    assert ax.get_xlabel() == "accuracy (%)" and "75.00 %" in ax.get_title()


def test_confusion_matrix_annotates_every_cell():
    confusion = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 4]])
    figure = plot_confusion_matrix(confusion, NAMES)
    ax = figure.axes[0]
    assert [text.get_text() for text in ax.texts] == [str(c) for c in confusion.ravel()]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert "15 test images" in ax.get_title()
    with pytest.raises(ValueError, match="shape"):
        plot_confusion_matrix(confusion[:2], NAMES)


@pytest.mark.parametrize("name, magic", [("f.png", b"\x89PNG"), ("f.svg", b"<?xml")])
def test_save_figure_by_extension_leaves_no_temporary_file(tmp_path, name, magic):
    save_figure(plot_train_vs_test_accuracy(HISTORY), tmp_path / name)
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    with pytest.raises(ValueError, match=".png, .svg or .pdf"):
        save_figure(plot_train_vs_test_accuracy(HISTORY), tmp_path / "f.jpg")
