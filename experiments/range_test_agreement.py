"""How far apart are the LRs read off several range-test curves? Several readings compared.

    python experiments/range_test_agreement.py docs/runs/full-24ep-ema-s0 \
        docs/runs/full-24ep-ema-s1 docs/runs/full-24ep-ema-s2

Reads `lr_range_test.json` of each run folder (the raw loss of every step)
and prints, for each reading of the curve, the LRMIN and LRMAX it picks on
every curve and their spread (largest pick / smallest pick):

- `rule, smoothing S`: `keras_s11.lr_finder.suggest_lr_range` (the library's
  rule) on the raw losses smoothed with weight `S` on the past (0.9 is what
  the range test records);
- `band centre, smoothing S`: LRMAX is the geometric centre of the run of
  LRs around the rule's minimum whose smoothed loss lies within 10 % of the
  fall (first loss to minimum) of that minimum; LRMIN as the rule's;
- `local fit, width W`: the rule on a curve without lag, a local linear fit
  to the raw losses with a Gaussian kernel of W decades of LR around each
  step (wide kernels round a flat, ragged bottom into one bowl);
- `probe, local fit 0.5 (the library's rule)`, on curves that recorded the
  loss of a fixed probe batch after each step: `read_range_test`'s fitted
  reading, the fit of the probe's losses with picks read between steps;
- `probe, lagged`: its lagged reading, those picks moved 9 steps up the
  schedule (the mean lag of the recorded moving average, weight 0.9).

`--spreads` prints only each reading's spreads (for many curves).
`--combine K` asks what K range tests per run, their picks combined
(geometric mean), would give: over every way of splitting the curves into
runs of K curves, each reading's spreads (median, min, max) and how often
both are within 1.15x. Each curve is another seed (another initialisation
and data order), so this models K tests from K fresh initialisations.

No training: the curves are those the runs saved.
"""

import argparse
import itertools
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from keras_s11.lr_finder import (  # noqa: E402
    FIT_WIDTH,
    along_schedule,
    fit_loss_curve,
    moving_average,
    suggest_lr_range,
)

SMOOTHINGS = (0.9, 0.95, 0.98)
BAND = 0.1
KERNEL_WIDTHS = (0.2, 0.3, 0.4, 0.5)  # decades of LR


def smooth(losses, weight):
    """Bias-corrected exponential moving average, as the range test records it."""
    return moving_average(losses, weight)


def band_centre(lrs, smoothed, lr_max, band=BAND):
    """Geometric centre of the LRs around `lr_max` whose loss is within `band` of the fall of its minimum."""
    best = int(np.argmin(np.abs(np.asarray(lrs) - lr_max)))
    limit = smoothed[best] + band * (smoothed[0] - smoothed[best])
    low = high = best
    while low > 0 and smoothed[low - 1] <= limit:
        low -= 1
    while high + 1 < len(smoothed) and smoothed[high + 1] <= limit:
        high += 1
    return float(np.sqrt(lrs[low] * lrs[high]))


def readings(lrs, losses, probe_losses=None):
    """`{reading: (lr_min, lr_max)}` for one curve."""
    picks = {}
    for weight in SMOOTHINGS:
        smoothed = smooth(losses, weight)
        lr_min, lr_max = suggest_lr_range(lrs, smoothed)
        picks[f"rule, smoothing {weight}"] = (lr_min, lr_max)
        picks[f"band centre, smoothing {weight}"] = (lr_min, band_centre(lrs, smoothed, lr_max))
    for width in KERNEL_WIDTHS:
        picks[f"local fit, width {width}"] = suggest_lr_range(lrs, fit_loss_curve(lrs, losses, width))
    if probe_losses:
        fitted = fit_loss_curve(lrs, probe_losses, FIT_WIDTH)
        fitted_picks = suggest_lr_range(lrs, fitted, interpolate=True)
        picks[f"probe, local fit {FIT_WIDTH} (the library's rule)"] = fitted_picks
        lag = SMOOTHINGS[0] / (1 - SMOOTHINGS[0])
        picks["probe, lagged"] = tuple(along_schedule(lrs, lr, lag) for lr in fitted_picks)
    return picks


def groupings(items, size):
    """Every split of `items` into groups of `size` (order of groups and within them ignored)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partners in itertools.combinations(rest, size - 1):
        left = [item for item in rest if item not in partners]
        for grouping in groupings(left, size):
            yield [(first, *partners), *grouping]


def combined_spreads(curves, reading, size):
    """`(LRMIN spreads, LRMAX spreads)` over every split of the curves into runs of `size` combined tests."""
    spreads = []
    for grouping in groupings(list(curves), size):
        picks = np.array(
            [np.exp(np.mean(np.log([curves[name][reading] for name in group]), axis=0)) for group in grouping]
        )
        spreads.append(picks.max(axis=0) / picks.min(axis=0))
    return np.array(spreads).T


def print_combined(curves, size):
    print(f"| reading ({size} tests a run) | splits | LRMIN spread | LRMAX spread | both within 1.15x |")
    print("|---|---:|---:|---:|---:|")
    for reading in next(iter(curves.values())):
        if not all(reading in picks for picks in curves.values()):
            continue
        lr_min_spreads, lr_max_spreads = combined_spreads(curves, reading, size)
        cells = [f"{np.median(v):.2f}x ({v.min():.2f}-{v.max():.2f})" for v in (lr_min_spreads, lr_max_spreads)]
        both = np.mean((lr_min_spreads <= 1.15) & (lr_max_spreads <= 1.15))
        print(f"| {reading} | {lr_min_spreads.size} | {cells[0]} | {cells[1]} | {100 * both:.0f} % |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", help="run folders holding lr_range_test.json")
    parser.add_argument("--spreads", action="store_true", help="print only each reading's spreads")
    parser.add_argument("--combine", type=int, metavar="K", help="spreads with K tests a run, picks combined")
    args = parser.parse_args()
    if args.combine is not None and (args.combine < 1 or len(args.run_dirs) % args.combine):
        parser.error(f"--combine K needs K >= 1 dividing the number of run folders ({len(args.run_dirs)})")
    curves = {}
    for run_dir in args.run_dirs:
        path = os.path.join(run_dir, "lr_range_test.json")
        try:
            with open(path) as f:
                curve = json.load(f)
        except (OSError, ValueError) as error:
            sys.exit(f"error: cannot read {path}: {error}")
        name = os.path.basename(os.path.normpath(run_dir))
        curves[name] = readings(curve["lrs"], curve["losses"], curve.get("probe_losses"))
    if args.combine:
        print_combined(curves, args.combine)
        return
    names = [] if args.spreads else list(curves)
    print("| reading | " + "".join(f"{name} | " for name in names) + "LRMAX spread | LRMIN spread |")
    print("|---|" + "---:|" * (len(names) + 2))
    for reading in next(iter(curves.values())):
        if not all(reading in picks for picks in curves.values()):
            continue  # a probe reading where some curves have no probe
        picks = [curves[name][reading] for name in curves]
        lr_mins, lr_maxs = [p[0] for p in picks], [p[1] for p in picks]
        cells = "".join(f"{curves[name][reading][0]:.4g} / {curves[name][reading][1]:.4g} | " for name in names)
        print(f"| {reading} | {cells}{max(lr_maxs) / min(lr_maxs):.2f}x | {max(lr_mins) / min(lr_mins):.2f}x |")


if __name__ == "__main__":
    main()
