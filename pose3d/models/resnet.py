"""ResNet backbones and the deconvolution heatmap head of Xiao et al.'s simple baseline.

Parameter and buffer names equal torchvision's ``resnet18/34/50/101/152`` state dicts (``conv1``,
``bn1``, ``layer{1..4}.{i}.conv1/bn1/...``, ``layer{k}.0.downsample.{0,1}``, ``fc``), and the head
keeps learnable-triangulation's ``pose_resnet`` names (``deconv_layers``, ``final_layer``) at the top
level, so ImageNet and pose checkpoints load by name through :mod:`pose3d.training.init_from`.
Written here because torchvision's wheels do not match the pinned torch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _downsample(inplanes: int, outplanes: int, stride: int) -> nn.Sequential | None:
    """1x1 strided projection of the shortcut when a block changes resolution or width."""
    if stride == 1 and inplanes == outplanes:
        return None
    return nn.Sequential(nn.Conv2d(inplanes, outplanes, 1, stride, bias=False), nn.BatchNorm2d(outplanes))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or projected) shortcut: ResNet-18/34."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _downsample(inplanes, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided, torchvision's v1.5) -> 1x1 x4 with a shortcut: ResNet-50/101/152."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = _downsample(inplanes, planes * 4, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        out = self.bn3(self.conv3(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


#: depth -> (block, blocks per stage)
DEPTHS = {18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)), 50: (Bottleneck, (3, 4, 6, 3)),
          101: (Bottleneck, (3, 4, 23, 3)), 152: (Bottleneck, (3, 8, 36, 3))}


class ResNet(nn.Module):
    """ResNet-``resnet``; with ``num_classes`` a classifier (logits), without one the layer4 map.

    ``out_channels``: channels of the map ``forward`` returns without a classifier (512 for 18/34,
    2048 for deeper nets); ``feature_channels`` keeps that number when a head redefines it.
    """

    def __init__(self, resnet: int = 18, num_classes: int | None = None):
        super().__init__()
        if resnet not in DEPTHS:
            raise ValueError(f"resnet must be one of {sorted(DEPTHS)}, got {resnet!r}")
        block, counts = DEPTHS[resnet]
        self.resnet, self.num_classes = resnet, num_classes
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), counts)):
            blocks = []
            for i in range(n):
                blocks.append(block(inplanes, planes, 2 if stage > 0 and i == 0 else 1))
                inplanes = planes * block.expansion
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.out_channels = self.feature_channels = inplanes
        if num_classes is not None:
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(inplanes, num_classes)
        for m in self.modules():  # torchvision's init; fc keeps nn.Linear's default
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> the layer4 map (B, feature_channels, H/32, W/32)."""
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        return f if self.num_classes is None else self.fc(torch.flatten(self.avgpool(f), 1))


class PoseResNet(ResNet):
    """Simple baseline (Xiao et al. 2018) as learnable-triangulation builds it: ResNet without fc,
    ``head_layers`` x [ConvTranspose2d(4, stride 2, pad 1, no bias), BN, ReLU], then a 1x1 conv.

    Output (B, out_channels, H/32 * 2**head_layers, W/32 * 2**head_layers).
    """

    def __init__(self, resnet: int = 18, head_filters: int = 256, head_layers: int = 3, out_channels: int = 17):
        super().__init__(resnet, num_classes=None)
        layers, width = [], self.feature_channels
        for _ in range(head_layers):
            layers += [nn.ConvTranspose2d(width, head_filters, 4, 2, 1, output_padding=0, bias=False),
                       nn.BatchNorm2d(head_filters), nn.ReLU(inplace=True)]
            width = head_filters
        self.deconv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(width, out_channels, 1, bias=True)
        self.head_filters, self.head_layers, self.out_channels = head_filters, head_layers, out_channels
        for m in (*self.deconv_layers, self.final_layer):  # the seed's head init: small weights, zero bias
            if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d)):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.deconv_layers(self.features(x)))
