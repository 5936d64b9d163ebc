"""The recipe in PyTorch on the same data: a parity check, and Page's recipe as a reference.

Needs PyTorch (not a dependency of the project). Two uses:

- **Parity**: the assignment's network (`keras_s11.torch_reference.ResNet9`)
  trained on the very batches of the Keras run (`TrainBatches`: same seed,
  same order, same crops, flips and cutouts), with the LRs that run found, its
  label smoothing, weight decay on the kernels, logit scale and weight
  average, then the BatchNorm statistics recomputed. Same held-out slice.
  If PyTorch does better on the same inputs, the Keras training loses
  something; if not, it does not.

      python experiments/torch_reference_recipe.py --data-dir ../shared/datasets/cifar10 \
          --holdout 5000 --width 32 --lr-min 0.011233 --lr-max 0.319927 --out parity.json

- **Page's recipe** (cifar10-fast, 94 % on the original PNG data): his
  layer order (conv > BN > ReLU > pool, FC without bias), the LR from 0 to
  0.4 at epoch 5 and back to 0, weight decay on every weight, no label
  smoothing, no average, the cutout square inside the image:

      python experiments/torch_reference_recipe.py --data-dir ../shared/datasets/cifar10 \
          --page --out page.json

Prints the held-out accuracy every 4 epochs, then a JSON of the held-out and
test accuracies, plain and with flip TTA (and of the weight average, with
one), and writes it to `--out`.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")  # the data modules import Keras: keep TensorFlow out

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from keras_s11.batchnorm import RECALIBRATION_STEPS  # noqa: E402
from keras_s11.data import holdout_split, load_cifar10  # noqa: E402
from keras_s11.data.stats import normalize_array  # noqa: E402
from keras_s11.data.train_batches import TrainBatches  # noqa: E402
from keras_s11.torch_reference import ResNet9  # noqa: E402

BATCH_SIZE = 512
CUTOUT = 8
EVAL_BATCH = 500


def _conv_bn_relu(in_channels, out_channels):
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU()]


class _PageResidual(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(*_conv_bn_relu(channels, channels), *_conv_bn_relu(channels, channels))

    def forward(self, x):
        return x + self.body(x)


def page_resnet9(width=64, num_classes=10):
    """Page's ResNet-9: each layer is conv > BN > ReLU > pool (the assignment pools first); FC without bias."""
    w = width
    return nn.Sequential(
        *_conv_bn_relu(3, w),
        *_conv_bn_relu(w, 2 * w),
        nn.MaxPool2d(2),
        _PageResidual(2 * w),
        *_conv_bn_relu(2 * w, 4 * w),
        nn.MaxPool2d(2),
        *_conv_bn_relu(4 * w, 8 * w),
        nn.MaxPool2d(2),
        _PageResidual(8 * w),
        nn.MaxPool2d(4),
        nn.Flatten(),
        nn.Linear(8 * w, num_classes, bias=False),
    )


def one_cycle_lr(step, steps_per_epoch, start, peak, epochs, peak_epoch):
    """Linear from `start` to `peak` at `peak_epoch`, back to `start` at `epochs`.

    `keras_s11.schedules.one_cycle`'s formula, in Python floats (float64):
    that one computes in float32 on backend tensors, and the recorded runs
    used this one.
    """
    epoch = step / steps_per_epoch
    if epoch < peak_epoch:
        position = min(epoch / peak_epoch, 1.0)
    else:
        position = 1.0 - min((epoch - peak_epoch) / (epochs - peak_epoch), 1.0)
    return start + (peak - start) * position


def to_nchw(images):
    """float32 NHWC NumPy images as a channels-last NCHW tensor."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    return tensor.contiguous(memory_format=torch.channels_last)


def cutout_inside(batch, generator, size=CUTOUT):
    """Page's cutout: a `size` square, wholly inside each (square) image, set to 0 (the mean colour), in place."""
    tops, lefts = generator.integers(0, batch.shape[1] - size + 1, size=(2, len(batch)))
    for image, top, left in zip(batch, tops, lefts):
        image[top : top + size, left : left + size] = 0.0


def accuracy(model, images, labels):
    """`(accuracy, accuracy with flip TTA)` of `model` in eval mode."""
    model.eval()
    correct = correct_tta = 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for start in range(0, len(images), EVAL_BATCH):
            batch = to_nchw(normalize_array(images[start : start + EVAL_BATCH]))
            target = torch.from_numpy(np.asarray(labels[start : start + EVAL_BATCH])).long()
            plain = model(batch).float().softmax(1)
            flipped = model(torch.flip(batch, dims=[3])).float().softmax(1)
            correct += (plain.argmax(1) == target).sum().item()
            correct_tta += ((plain + flipped).argmax(1) == target).sum().item()
    model.train()
    return correct / len(images), correct_tta / len(images)


def make_optimizer(model, lr, weight_decay, decay_all):
    """SGD, Nesterov momentum 0.9, coupled weight decay on the kernels (or on every weight)."""
    decayed, kept = [], []
    for param in model.parameters():
        (decayed if decay_all or param.ndim > 1 else kept).append(param)  # kernels: conv and FC weights
    groups = [dict(params=decayed, weight_decay=weight_decay), dict(params=kept, weight_decay=0.0)]
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)


def recalibrate(model, batches, epoch):
    """Recomputes the BatchNorm statistics on training batches of `epoch` (as keras_s11.batchnorm)."""
    model.train()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for step in range(RECALIBRATION_STEPS):
            model(to_nchw(batches.batch_at(epoch, step % batches.steps_per_epoch)[0]))


def train(args, model, batches, held):
    """Trains `model` in place; returns the weight average's parameters (`None` without one)."""
    optimizer = make_optimizer(model, args.lr_min, args.weight_decay, args.decay_all)
    average = [p.detach().clone() for p in model.parameters()] if args.ema else None
    generator = np.random.default_rng(args.seed)
    steps = batches.steps_per_epoch
    start = args.start_lr if args.start_lr is not None else args.lr_min
    begun = time.time()
    model.train()
    for step in range(args.epochs * steps):
        epoch, index = divmod(step, steps)
        images, labels = batches.batch_at(epoch, index)
        if args.cutout_inside:
            cutout_inside(images, generator)
        lr = one_cycle_lr(step, steps, start, args.lr_max, args.epochs, args.peak_epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(to_nchw(images)).float() * args.logit_scale
        loss = F.cross_entropy(logits, torch.from_numpy(labels).long(), label_smoothing=args.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if average is not None:
            with torch.no_grad():
                for mean, param in zip(average, model.parameters()):
                    mean.mul_(args.ema).add_(param.detach(), alpha=1 - args.ema)
        if index == steps - 1:
            line = f"epoch {epoch + 1} loss {loss.item():.4f} lr {lr:.4f} {time.time() - begun:.0f}s"
            if held is not None and (epoch + 1) % 4 == 0:
                line += " holdout {:.4f} (flip TTA {:.4f})".format(*accuracy(model, *held))
            print(line, flush=True)
    return average, time.time() - begun


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--holdout", type=int, default=0, help="training images held out (0: none)")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--peak-epoch", type=float, default=5.0)
    parser.add_argument("--lr-min", type=float, help="LR at the start and the end")
    parser.add_argument("--lr-max", type=float, help="LR at the peak")
    parser.add_argument("--start-lr", type=float, help="LR at the start and the end, if not LRMIN (0 allowed)")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--decay-all", action="store_true", help="decay BatchNorm and biases too")
    parser.add_argument("--ema", type=float, default=0.99, help="weight-average momentum per step (0: none)")
    parser.add_argument("--logit-scale", type=float, default=0.125)
    parser.add_argument("--arch", choices=("assignment", "page"), default="assignment")
    parser.add_argument("--cutout-inside", action="store_true", help="Page's cutout, wholly inside the image")
    parser.add_argument("--page", action="store_true", help="Page's recipe: sets the five flags above and the LRs")
    parser.add_argument("--out", required=True, help="JSON file of the accuracies")
    args = parser.parse_args(argv)
    if args.page:
        args.arch, args.cutout_inside, args.decay_all = "page", True, True
        args.label_smoothing, args.ema, args.start_lr, args.lr_max = 0.0, 0.0, 0.0, 0.4
    if args.lr_max is None or (args.lr_min is None and args.start_lr is None):
        parser.error("give --lr-max and --lr-min (or --start-lr), or --page")
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(args.seed)
    (x_train, y_train), test = load_cifar10(args.data_dir, seed=args.seed)
    held = None
    if args.holdout:
        (x_train, y_train), held = holdout_split(x_train, y_train, args.holdout, seed=args.seed)
    # Read with `batch_at`, in this thread: the threads of `TrainBatches` never start.
    batches = TrainBatches(x_train, y_train, BATCH_SIZE, seed=args.seed, cutout=0 if args.cutout_inside else CUTOUT)
    print(f"{len(x_train)} training images, {batches.steps_per_epoch} steps an epoch", flush=True)
    model = page_resnet9(args.width) if args.arch == "page" else ResNet9(width=args.width)
    model = model.to(memory_format=torch.channels_last)
    average, seconds = train(args, model, batches, held)
    splits = {"holdout": held, "test": test} if held is not None else {"test": test}
    results = {"train_seconds": round(seconds, 1)}
    results.update({f"{name}_last_step": accuracy(model, *data) for name, data in splits.items()})
    if average is not None:
        with torch.no_grad():
            for param, mean in zip(model.parameters(), average):
                param.copy_(mean)
        recalibrate(model, batches, args.epochs)
        results.update({f"{name}_average": accuracy(model, *data) for name, data in splits.items()})
    results["args"] = vars(args)
    print(json.dumps(results, indent=1), flush=True)
    with open(args.out, "w") as file:
        json.dump(results, file, indent=1)


if __name__ == "__main__":
    main()
