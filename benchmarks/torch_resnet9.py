"""The assignment's network in PyTorch, as the reference for the benchmark.

The module and parameter names follow the original PyTorch assignment
(`prep`, `layer1.conv`, `layer1.res.conv1`, ..., `fc`).
"""

import torch
from torch import nn


class ConvBNReLU(nn.Module):
    """Conv3x3 (no bias) [> MaxPool2] > BN > ReLU with named parts."""

    def __init__(self, in_channels, out_channels, pool=False):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return torch.relu(self.bn(self.pool(self.conv(x))))


class Residual(nn.Module):
    """Conv-BN-ReLU-Conv-BN-ReLU, added to its input by the caller."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(x)))


class ResidualLayer(nn.Module):
    """X = Conv > MaxPool > BN > ReLU; returns X + Residual(X)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.bn = nn.BatchNorm2d(out_channels)
        self.res = Residual(out_channels)

    def forward(self, x):
        x = torch.relu(self.bn(self.pool(self.conv(x))))
        return x + self.res(x)


class ResNet9(nn.Module):
    """PrepLayer > Layer1 (+R1) > Layer2 > Layer3 (+R2) > MaxPool(4) > FC; returns logits."""

    def __init__(self, num_classes=10, width=64):
        super().__init__()
        self.prep = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.layer1 = ResidualLayer(width, 2 * width)
        self.layer2 = nn.Sequential(
            nn.Conv2d(2 * width, 4 * width, 3, padding=1, bias=False),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(4 * width),
            nn.ReLU(),
        )
        self.layer3 = ResidualLayer(4 * width, 8 * width)
        self.pool = nn.MaxPool2d(4)
        self.fc = nn.Linear(8 * width, num_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.prep(x))))
        return self.fc(torch.flatten(self.pool(x), 1))
