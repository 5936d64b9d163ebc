"""The assignment's ResNet-9 as a PyTorch module, to load the exported state dict.

Needs PyTorch, which is not a dependency of this project: nothing in the
library imports this module unless `torch` is installed. Its parameter names
are those of the original assignment (`prep.0.weight`, `layer1.res.bn1.*`,
`layer2.2.*`, `fc.weight`, ...), so the state dict written by
`scripts/export.py` loads with `strict=True`. It is short enough to copy.

Example:

>>> model = ResNet9.from_safetensors("export/model.safetensors")  # width and classes from the file
>>> probabilities = model(images_nchw).softmax(dim=1)
"""

from torch import nn


def _conv(in_channels, out_channels):
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)


class ResidualBlock(nn.Module):
    """(Conv-BN-ReLU-Conv-BN-ReLU)(x), without the skip (the caller adds it)."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = _conv(channels, channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = _conv(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(x)))


class ResidualLayer(nn.Module):
    """X = Conv > MaxPool2 > BN > ReLU; returns X + ResidualBlock(X)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = _conv(in_channels, out_channels)
        self.pool = nn.MaxPool2d(2)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.res = ResidualBlock(out_channels)

    def forward(self, x):
        x = self.relu(self.bn(self.pool(self.conv(x))))
        return x + self.res(x)


class ResNet9(nn.Module):
    """PrepLayer > Layer1 (+res) > Layer2 > Layer3 (+res) > MaxPool(4) > FC.

    BatchNorm uses PyTorch's defaults (eps 1e-5, momentum 0.1), which equal
    the Keras model's (epsilon 1e-5, momentum 0.9). `forward` returns logits
    for normalised N x 3 x 32 x 32 images; apply `softmax(dim=1)` for the
    probabilities. The Keras model's logit scale is folded into `fc` by the
    export, so these logits are the Keras model's pre-softmax values.

    Args:
        num_classes: Number of classes.
        width: Channels of the PrepLayer (64 in the assignment).
    """

    @classmethod
    def from_safetensors(cls, path):
        """The module of the width and classes a `scripts/export.py` file records, loaded, in eval mode.

        Reads `width` and `num_classes` from the file's metadata (files
        written before these were recorded: from the weights' shapes), then
        loads the weights with `strict=True`.

        Args:
            path: A `model.safetensors` written by `scripts/export.py`.

        Returns:
            A `ResNet9` in eval mode.
        """
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(path, framework="pt") as file:
            metadata = file.metadata() or {}
        state = load_file(path)
        width = int(metadata.get("width", state["prep.0.weight"].shape[0]))
        num_classes = int(metadata.get("num_classes", state["fc.weight"].shape[0]))
        module = cls(num_classes=num_classes, width=width)
        module.load_state_dict(state, strict=True)
        return module.eval()

    def __init__(self, num_classes=10, width=64):
        super().__init__()
        self.prep = nn.Sequential(_conv(3, width), nn.BatchNorm2d(width), nn.ReLU())
        self.layer1 = ResidualLayer(width, 2 * width)
        self.layer2 = nn.Sequential(_conv(2 * width, 4 * width), nn.MaxPool2d(2), nn.BatchNorm2d(4 * width), nn.ReLU())
        self.layer3 = ResidualLayer(4 * width, 8 * width)
        self.pool = nn.MaxPool2d(4)
        self.fc = nn.Linear(8 * width, num_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.prep(x))))
        return self.fc(self.pool(x).flatten(1))
