"""The report.md of a report folder."""

import json


def _percent(value):
    return "n/a" if value is None else f"{100 * value:.2f} %"


def _number(value):
    return "n/a" if value is None else f"{value:.4f}"


def _figure(figure):
    name, title, caption = figure
    return f"### {title}\n\n![{title}]({name})\n\n{caption}\n"


def _results(metrics):
    lines = [
        "| | |",
        "|---|---|",
        f"| test accuracy | **{_percent(metrics['accuracy'])}** |",
        f"| misclassified | {metrics['num_misclassified']:,} of {metrics['num_images']:,} images |",
        f"| loss, as in training (label smoothing and L2 penalty included) | {_number(metrics['loss'])} |",
        f"| cross-entropy (no label smoothing) | {_number(metrics['cross_entropy'])} |",
        "",
        "| class | accuracy |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {_percent(acc)} |" for name, acc in metrics["classwise_accuracy"].items()]
    return "\n".join(lines) + "\n"


def _run(run):
    lines = [f"Run folder: `{run.folder}`.", ""]
    found = run.found_lrs
    if found is not None:
        how = "found by the LR range test" if run.range_test else "given on the command line"
        lines += [f"**LRMIN = {found[0]:.4g}, LRMAX = {found[1]:.4g}** ({how}).", ""]
        test = run.range_test or {}
        bands = [
            f"{name} {test[key][0]:.4g} to {test[key][1]:.4g}"
            for name, key in (("LRMIN", "lr_min_band"), ("LRMAX", "lr_max_band"))
            if test.get(key)
        ]
        if bands:
            lines += [f"Bands (the LRs each pick could as well have been): {'; '.join(bands)}.", ""]
        if run.range_test and run.range_test.get("rule"):
            lines += [f"Rule: {run.range_test['rule']}.", ""]
    if run.metrics:
        lines += ["Metrics recorded by the training run (`metrics.json`):", "", "| | |", "|---|---|"]
        lines += [
            f"| {key} | {value:.6g} |" if isinstance(value, float) else f"| {key} | {value} |"
            for key, value in run.metrics.items()
        ]
        lines.append("")
    if run.config:
        lines += ["<details><summary>Configuration (<code>config.json</code>)</summary>", "", "```json"]
        lines += [json.dumps(run.config, indent=2), "```", "", "</details>", ""]
    return "\n".join(lines)


def render_report(metrics, details, evaluation_figures, run=None, run_figures=()):
    """The text of report.md.

    Args:
        metrics: The dict of `keras_s11.report.summary.summarize`.
        details: Ordered dict of facts shown at the top (model, data, date,
            command ...).
        evaluation_figures: `(file name, title, caption)` of each figure of
            the evaluation, in order.
        run: The `RunRecord` of the model's run folder, if any.
        run_figures: `(file name, title, caption)` of each figure drawn from
            the run's files.

    Returns:
        The Markdown text.
    """
    parts = ["# Evaluation report\n", "\n".join(f"- {key}: {value}" for key, value in details.items()) + "\n"]
    parts += ["## Results\n", _results(metrics)]
    parts += [_figure(figure) for figure in evaluation_figures]
    if run is not None:
        parts += ["## Training run\n", _run(run)]
        parts += [_figure(figure) for figure in run_figures]
    return "\n".join(parts)
