"""Draws Smith's cyclical learning rate (CLR) to a PNG or SVG file.

    python scripts/draw_clr.py --lr-min 0.0242 --lr-max 0.242 --step-size 500 --cycles 3 --out clr.png

The values come from keras_s11.clr.cyclic_lr; the format follows the
extension of --out (.png, .svg or .pdf). The file is written under a
temporary name and renamed when complete; an existing file is kept unless
--overwrite is given.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_s11.cli import ArgumentParser, fail, int_in_range, positive_float, positive_int, quiet_tensorflow, run_script  # noqa: E402

MAX_STEPS = 10_000_000  # points drawn; more only makes the figure slow, not different


def parse_args(argv=None):
    from keras_s11.clr import CLR_MODES

    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--lr-min", type=positive_float, default=0.001, help="lower bound (base LR)")
    parser.add_argument("--lr-max", type=positive_float, default=0.006, help="upper bound (max LR)")
    parser.add_argument("--step-size", type=positive_int, default=2000, help="iterations in half a cycle")
    parser.add_argument("--cycles", type=positive_int, default=3, help="number of full cycles drawn")
    parser.add_argument("--mode", choices=CLR_MODES, default="triangular", help="Smith's policy")
    parser.add_argument("--gamma", type=positive_float, default=0.99994, help="decay per iteration of exp_range")
    parser.add_argument("--out", default="clr.png", help="output file, .png, .svg or .pdf")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    parser.add_argument("--dpi", type=int_in_range(10, 1200), default=110, help="10..1200 (default: 110)")
    args = parser.parse_args(argv)
    if args.lr_min >= args.lr_max:
        fail(f"--lr-min must be < --lr-max (got {args.lr_min} and {args.lr_max})")
    if args.gamma > 1:
        fail(f"--gamma must be in (0, 1] (got {args.gamma})")
    if 2 * args.step_size * args.cycles > MAX_STEPS:
        fail(
            f"--step-size {args.step_size} x --cycles {args.cycles} draws {2 * args.step_size * args.cycles:,} steps; "
            f"at most {MAX_STEPS:,}"
        )
    return args


def main(argv=None):
    quiet_tensorflow()  # before anything imports TensorFlow
    args = parse_args(argv)
    from keras_s11.figures.saving import figure_format

    try:
        figure_format(args.out)
    except ValueError as error:
        fail(str(error))
    if os.path.exists(args.out) and not args.overwrite:
        fail(f"{args.out} already exists; pass --overwrite or choose another --out")
    folder = os.path.dirname(args.out) or "."
    if not os.path.isdir(folder):
        fail(f"output folder {folder} does not exist")

    import numpy as np

    from keras_s11.clr import cyclic_lr
    from keras_s11.figures import plot_cyclic_lr, save_figure

    steps = np.arange(2 * args.step_size * args.cycles + 1)
    lrs = cyclic_lr(steps, args.lr_min, args.lr_max, args.step_size, args.mode, args.gamma)
    figure = plot_cyclic_lr(lrs, args.step_size, args.mode, args.lr_min, args.lr_max)
    save_figure(figure, args.out, dpi=args.dpi)
    print(f"{args.mode} CLR, {args.lr_min:g} to {args.lr_max:g}, {args.cycles} cycles of {2 * args.step_size} steps")
    print(f"Figure: {args.out}")


if __name__ == "__main__":
    run_script(main)
