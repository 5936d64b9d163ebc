"""Test accuracy against epochs: the table and figure of docs/RESULTS.md, read off docs/runs/.

    python experiments/accuracy_against_epochs.py                # table to stdout, figure to docs/figures/

Every full-width run on `test/` of each recipe and length in `RUNS` is read
from its run folder's `config.json`, `metrics.json` and `train.log`: the
test accuracy of the model as saved (and with flip and multi-crop TTA where
the run measured them), the minutes of the range test plus the training, and
the seconds per training epoch, which show how busy the shared host was that
day: times compare only between runs of like seconds per epoch. A row gives
the median, min and max over the seeds found; a recipe or length with no
runs yet is left out.
"""

import argparse
import glob
import json
import os
import re
import statistics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS_DIR = os.path.join(ROOT, "docs", "runs")
FIGURE = os.path.join(ROOT, "docs", "figures", "accuracy_against_epochs.png")

# (recipe, epochs) > the run folders of its seeds, each checked against its config.json.
RUNS = {
    ("default", 24): "full-24ep-ls0.1-s*",
    ("default", 16): "full-16ep-default-s*",
    ("default", 12): "full-12ep-default-s*",
    ("fast", 12): "full-12ep-whiten-s*",  # --recipe fast: --epochs 12 --peak-epoch 2.5 --prep-init whiten
}
RANGE_TEST_SECONDS = re.compile(r"^LR range test took (\d+(?:\.\d+)?) s$", re.MULTILINE)


def read_run(folder, epochs):
    """One run's numbers: test accuracies in % and minutes (range test + training)."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    if config["epochs"] != epochs or config["holdout"] is not None or config["width"] != 64:
        raise ValueError(f"{folder} is not a full-width {epochs}-epoch run on test/")
    with open(os.path.join(folder, "metrics.json")) as f:
        metrics = json.load(f)
    log = os.path.join(folder, "train.log")
    with open(log) as f:
        range_test = RANGE_TEST_SECONDS.search(f.read())
    if range_test is None:
        raise ValueError(f"{log} does not say how long the range test took")
    seconds = metrics["train_seconds"] + float(range_test.group(1))
    accuracy = {
        name: 100 * metrics[key]
        for name, key in (
            ("test", "test_accuracy"),
            ("flip TTA", "test_accuracy_flip_tta"),
            ("multi-crop TTA", "test_accuracy_multicrop_tta"),
        )
        if key in metrics
    }
    epoch_seconds = metrics["train_seconds"] / epochs
    day = config["started"][:10]
    return dict(seed=config["seed"], minutes=seconds / 60, epoch_seconds=epoch_seconds, day=day, **accuracy)


def collect(runs_dir=RUNS_DIR):
    """`{(recipe, epochs): [run, ...]}` for each entry of `RUNS` with at least one finished run."""
    found = {}
    for (recipe, epochs), pattern in RUNS.items():
        folders = sorted(glob.glob(os.path.join(runs_dir, pattern)))
        runs = [read_run(folder, epochs) for folder in folders if os.path.isfile(os.path.join(folder, "metrics.json"))]
        if runs:
            found[recipe, epochs] = runs
    return found


def spread(values, digits=2):
    """`median (min-max)`, or `-` when there are no values."""
    if not values:
        return "-"
    median = statistics.median(values)
    return f"{median:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def table(found):
    """The Markdown table: a row per recipe and length."""
    columns = ("test", "flip TTA", "multi-crop TTA")
    lines = [
        "| recipe | epochs | seeds | "
        + " | ".join(columns)
        + " | minutes (range test + training) | s per epoch | run on |",
        "|---|---:|---|" + "---:|" * (len(columns) + 2) + "---|",
    ]
    for (recipe, epochs), runs in sorted(found.items(), key=lambda item: (item[0][0] != "default", -item[0][1])):
        seeds = ", ".join(str(run["seed"]) for run in runs)
        cells = [spread([run[c] for run in runs if c in run]) for c in columns]
        minutes = spread([run["minutes"] for run in runs], digits=1)
        epoch_seconds = spread([run["epoch_seconds"] for run in runs], digits=0)
        days = ", ".join(sorted({run["day"] for run in runs}))
        lines.append(
            f"| {recipe} | {epochs} | {seeds} | " + " | ".join(cells) + f" | {minutes} | {epoch_seconds} | {days} |"
        )
    return "\n".join(lines)


def draw(found, path=FIGURE):
    """Test accuracy (each seed, and the median) against epochs, one line per recipe."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for recipe in dict.fromkeys(recipe for recipe, _ in found):
        lengths = sorted(epochs for name, epochs in found if name == recipe)
        medians = [statistics.median(run["test"] for run in found[recipe, e]) for e in lengths]
        (line,) = axes.plot(lengths, medians, marker="o", label=f"{recipe} (median)")
        for epochs in lengths:
            seeds = [run["test"] for run in found[recipe, epochs]]
            axes.scatter([epochs] * len(seeds), seeds, color=line.get_color(), alpha=0.4, s=14)
    axes.axhline(90.0, color="grey", linestyle="--", linewidth=1)
    axes.set(xlabel="epochs (one cycle)", ylabel="test accuracy (%)", title="CIFAR-10 test accuracy, full width")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-dir", default=RUNS_DIR, help="folder of the run folders (default: docs/runs)")
    parser.add_argument("--figure", default=FIGURE, help="where to write the figure (default: %(default)s)")
    args = parser.parse_args(argv)
    found = collect(args.runs_dir)
    print(table(found))
    draw(found, args.figure)
    print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
