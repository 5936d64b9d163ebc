"""Writes a report folder: figures, metrics.json and report.md for a trained model."""

import datetime
import os

import numpy as np

from keras_s11.backends import keras_backend
from keras_s11.classes import CIFAR10_CLASSES
from keras_s11.evaluation import format_classwise_accuracy, predict_probabilities, spread_sample
from keras_s11.figures import (
    describe_loss,
    plot_classwise_accuracy,
    plot_confusion_matrix,
    plot_gradcam,
    plot_lr_per_step,
    plot_lr_range_test,
    plot_misclassified,
    plot_train_vs_test_accuracy,
    plot_training_curves,
    save_figure,
)
from keras_s11.gradcam import DEFAULT_GRADCAM_LAYERS, check_layer_names, gradcam_heatmaps
from keras_s11.report.markdown import render_report
from keras_s11.report.run_files import ReportError, read_run_folder
from keras_s11.report.summary import model_loss, summarize
from keras_s11.run_folder import RunFolder, write_json
from keras_s11.saving import as_float32


def check_class_count(model, num_classes):
    """Raises `ReportError` unless the model has one output per class of the data."""
    outputs = model.output_shape[-1]
    if outputs != num_classes:
        raise ReportError(
            f"the model has {outputs} outputs but the data has {num_classes} classes; "
            "evaluate it on data with the classes it was trained on"
        )


def check_report_inputs(model, labels, class_names=CIFAR10_CLASSES, layers=DEFAULT_GRADCAM_LAYERS):
    """Checks everything `write_report` needs before anything is computed or written.

    Raises:
        ReportError: If the model's outputs do not match the classes, or a
            label is out of range.
        keras_s11.gradcam.LayerNameError: If a Grad-CAM layer is unknown.
    """
    check_class_count(model, len(class_names))
    check_layer_names(model, list(layers))
    labels = np.asarray(labels)
    if labels.size == 0:
        raise ReportError("there are no test images to evaluate")
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise ReportError(f"labels must lie in [0, {len(class_names)}); found {labels.min()} to {labels.max()}")


def _run_figures(run):
    """`(file name, title, caption, Figure)` for each figure the run's files allow."""
    figures = []
    if run.range_test:
        test = run.range_test
        figures.append(
            (
                "lr_range_test.png",
                "LR range test",
                "Loss and accuracy of each step as the LR grows; LRMIN and LRMAX as found.",
                plot_lr_range_test(test),
            )
        )
    if run.lrs and run.lrs.get("lrs"):
        found = run.found_lrs or (None, None)
        figures.append(
            (
                "lr_per_step.png",
                "Learning rate at every step",
                "The one-cycle policy as the optimizer saw it (`lrs.json`).",
                plot_lr_per_step(run.lrs["lrs"], int(run.lrs["steps_per_epoch"]), *found),
            )
        )
    if run.history and all(k in run.history for k in ("loss", "accuracy", "val_loss", "val_accuracy")):
        steps = run.steps if run.steps and run.steps.get("loss") else None
        config = run.config or {}
        caption = (
            "Training loss and accuracy of each step (own batch values), test loss and accuracy after each epoch."
            if steps
            else "This run recorded training loss and accuracy per epoch only (means over each epoch's "
            "augmented batches); runs made since `train_steps.json` exists show every step."
        )
        figures.append(
            (
                "training_curves.png",
                "Loss and accuracy",
                caption,
                plot_training_curves(
                    run.history,
                    steps,
                    int(steps["steps_per_epoch"]) if steps else None,
                    loss_label=describe_loss(config.get("label_smoothing"), config.get("weight_decay")),
                ),
            )
        )
        figures.append(
            (
                "train_vs_test_accuracy.png",
                "Training vs test accuracy",
                "Per epoch; the training accuracy is measured on augmented batches while the weights change.",
                plot_train_vs_test_accuracy(run.history),
            )
        )
    return figures


def _evaluation_figures(model, images, labels, probabilities, metrics, class_names, layers, n_grid, n_gradcam):
    """`(file name, title, caption, Figure)` for each figure of the evaluation."""
    predicted = np.argmax(probabilities, axis=1)
    confidences = probabilities[np.arange(len(predicted)), predicted]
    figures = [
        (
            "classwise_accuracy.png",
            "Class-wise accuracy",
            "Accuracy on the test images of each class; the dashed line is the overall accuracy.",
            plot_classwise_accuracy(list(metrics["classwise_accuracy"].values()), class_names, metrics["accuracy"]),
        ),
        (
            "confusion_matrix.png",
            "Confusion matrix",
            "Rows: true class; columns: predicted class; off-diagonal cells are the mistakes.",
            plot_confusion_matrix(np.asarray(metrics["confusion_matrix"]), class_names),
        ),
    ]
    wrong = np.flatnonzero(predicted != labels)
    grid, cams = spread_sample(wrong, n_grid), spread_sample(wrong, n_gradcam)
    metrics["misclassified_shown"] = grid.tolist()
    metrics["gradcam"] = {"layers": list(layers), "images": cams.tolist()}
    if len(grid):
        figures.append(
            (
                "misclassified.png",
                "Misclassified test images",
                f"{len(grid)} of the {len(wrong)} mistakes, evenly spaced over the test set (which is ordered "
                "by class); the predicted class's probability in brackets.",
                plot_misclassified(images[grid], labels[grid], predicted[grid], class_names, confidences[grid]),
            )
        )
    if len(cams) and keras_backend() != "tensorflow":
        # tf-keras-vis is TensorFlow code (docs/DECISIONS.md): no Grad-CAM figure on JAX or PyTorch.
        skipped = f"Grad-CAM needs Keras's TensorFlow backend; this report ran on {keras_backend()}"
        metrics["gradcam"]["skipped"] = skipped
    elif len(cams):
        explained = as_float32(model)  # one float32 copy for both
        by_prediction = gradcam_heatmaps(explained, images[cams], predicted[cams], layers)
        by_truth = gradcam_heatmaps(explained, images[cams], labels[cams], layers)
        figures.append(
            (
                "gradcam.png",
                "Grad-CAM of misclassified images",
                f"Where the network looked, at layers {', '.join(layers)}: for the class it predicted (left) "
                "and for the actual class (right). Red: high, blue: low.",
                plot_gradcam(images[cams], labels[cams], predicted[cams], class_names, by_prediction, by_truth),
            )
        )
    return figures


def write_report(
    path,
    model,
    images,
    labels,
    class_names=CIFAR10_CLASSES,
    run=None,
    layers=DEFAULT_GRADCAM_LAYERS,
    misclassified_images=25,
    gradcam_images=8,
    batch_size=512,
    details=None,
    probabilities=None,
):
    """Evaluates `model` once and writes its report folder at `path`.

    The folder appears complete or not at all (`RunFolder`): one PNG per
    figure, `metrics.json` and `report.md` showing them all.

    Args:
        path: Report folder to create; must not exist.
        model: A Functional `keras.Model` (mixed precision allowed).
        images: uint8 test images `(N, 32, 32, 3)`.
        labels: Their classes `(N,)`.
        class_names: Name of each class, in label order.
        run: A `RunRecord` of the model's training run, to add its figures,
            found LRs and configuration.
        layers: Layers to take Grad-CAM at.
        misclassified_images: At most this many misclassified images in the grid.
        gradcam_images: At most this many misclassified images for Grad-CAM.
        batch_size: Prediction batch size.
        details: Facts listed at the top of report.md (model, data, command...).
        probabilities: The model's predictions on `images`, when the caller
            has them already (`None`: predicted here).

    Returns:
        The metrics dict written to `metrics.json`.

    Raises:
        ReportError, keras_s11.gradcam.LayerNameError: On bad inputs, before
            anything is written.
        keras_s11.run_folder.RunFolderExistsError: If `path` exists.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    layers = list(layers)
    check_report_inputs(model, labels, class_names, layers)
    with RunFolder(path) as folder:
        if probabilities is None:
            probabilities = predict_probabilities(model, images, batch_size)
        metrics = summarize(probabilities, labels, class_names, model_loss(model, probabilities, labels))
        figures = _evaluation_figures(
            model, images, labels, probabilities, metrics, class_names, layers, misclassified_images, gradcam_images
        )
        run_figures = _run_figures(run) if run is not None else []
        for name, _, _, figure in figures + run_figures:
            save_figure(figure, folder.file(name), dpi=100)
        details = {"date": datetime.datetime.now().isoformat(timespec="seconds"), **(details or {})}
        metrics["details"] = details
        write_json(folder.file("metrics.json"), metrics)
        text = render_report(metrics, details, [f[:3] for f in figures], run, [f[:3] for f in run_figures])
        with open(folder.file("report.md"), "w") as f:
            f.write(text)
    return metrics


def write_run_report(run_dir, model, images, labels, **kwargs):
    """Writes the report of a finished training run into `run_dir/report`.

    Args:
        run_dir: The run folder written by `scripts/train.py`.
        model: The trained model.
        images, labels: The test set.
        **kwargs: Further `write_report` arguments.

    Returns:
        The metrics dict written to `metrics.json`.
    """
    run = read_run_folder(run_dir)
    return write_report(os.path.join(run_dir, "report"), model, images, labels, run=run, **kwargs)


def classwise_table(metrics):
    """The class-wise accuracy table of `metrics`, one `Accuracy of NAME : NN %` line a class."""
    accuracies = [np.nan if a is None else a for a in metrics["classwise_accuracy"].values()]
    return format_classwise_accuracy(accuracies, list(metrics["classwise_accuracy"]))
