#!/usr/bin/python3
"""Builds small random-weight ONNX models with the graph signatures (input and output names and
shapes) of well-known public facial-expression models, for the tests of `cer models install`'s
recognition (test/models/recognise.test.ts). The real files cannot be downloaded in the test
environment; these have the same architecture where Debian's python3-torchvision has it
(EfficientNet-B0/B2 for HSEmotion) and a small stand-in elsewhere, exported with the exact tensor
names and shapes the real ones have (see src/models/recognise.ts for where those come from):

  hsemotion-b0-8.onnx   EfficientNet-B0, 8 classes: input [batch_size,3,224,224] -> output [batch_size,8]
  hsemotion-b2-8.onnx   EfficientNet-B2, 8 classes: input [batch_size,3,260,260] -> output [batch_size,8]
  opencv-fer.onnx       MobileFaceNet-like: data [1,3,112,112] -> label [1,7]
  opencv-fer-int8.onnx  the same, int8 matrix products (tools/export/quantize.py)
  ferplus.onnx          small CNN: Input3 [1,1,64,64] -> Plus692_Output_0 [1,8]
  unknown.onnx          a graph no family has: pixels [N,3,48,48] -> probs [N,5]

  python3 make_fer_lookalikes.py OUT_DIR [name ...]
"""
import os
import sys
import warnings

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "export"))


def export(model: nn.Module, shape, path: str, input_name: str, output_name: str, dynamic: bool, opset: int = 13) -> None:
    model.eval()
    example = torch.rand(*shape)
    axes = {input_name: {0: "batch_size"}, output_name: {0: "batch_size"}} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), path, input_names=[input_name], output_names=[output_name], dynamic_axes=axes, opset_version=opset, do_constant_folding=True)


def efficientnet(variant: str) -> nn.Module:
    import torchvision

    build = torchvision.models.efficientnet_b0 if variant == "b0" else torchvision.models.efficientnet_b2
    return build(weights=None, num_classes=8)


SAMPLES = [os.path.join(HERE, "..", "..", "docs", "samples", name) for name in ("astronaut.png", "grace_hopper.jpg")]


def pictures(size: int, kind: str):
    """Eight crops of the sample pictures at size x size, preprocessed as the model's family does."""
    from torchvision.io import ImageReadMode, read_image
    from torchvision.transforms.functional import resize

    crops = []
    for file in SAMPLES:
        image = read_image(file, ImageReadMode.RGB).float()
        h, w = image.shape[1:]
        for k in range(4):
            side = min(h, w) * (0.4 + 0.15 * k)
            y, x = int((h - side) * 0.3), int((w - side) * 0.5)
            crops.append(resize(image[:, y:y + int(side), x:x + int(side)], [size, size], antialias=True))
    batch = torch.stack(crops)
    if kind == "imagenet":
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        return (batch / 255 - mean) / std
    if kind == "half":
        return (batch / 255 - 0.5) / 0.5
    return (batch * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)  # grey, 0-255


def calibrate(model: nn.Module, size: int, kind: str) -> nn.Module:
    """Sets the BatchNorm statistics from the sample pictures, so that a random network's
    activations neither vanish nor explode and its classes differ (a wrong class order or
    preprocessing then shows in the tests)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    pictures_ = pictures(size, kind)
    model.train()
    with torch.no_grad():
        model(pictures_)
        model.eval()
        # The last linear layer scaled so that the logits spread over a few units.
        head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        spread = float(model(pictures_).std())
        head.weight /= spread / 2
        head.bias /= spread / 2
    return model


def dw_block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.PReLU(cin),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.PReLU(cout),
    )


class MobileFaceNetLike(nn.Module):
    """A few MobileFaceNet-style depthwise-separable blocks and a linear head: 112x112 -> 7."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, 2, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64),
            dw_block(64, 64, 1), dw_block(64, 128, 2), dw_block(128, 128, 2), dw_block(128, 128, 2),
            nn.Conv2d(128, 128, 7, 1, 0, groups=128, bias=False), nn.BatchNorm2d(128),
        )
        self.head = nn.Sequential(nn.Linear(128, 512), nn.PReLU(), nn.Linear(512, 7))

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


class SmallCnn(nn.Module):
    def __init__(self, channels: int, classes: int, size: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Linear(32 * (size // 4) ** 2, classes)

    def forward(self, x):
        return self.head(torch.flatten(self.body(x), 1))


class Scaled(nn.Module):
    """Scales the input first: FER+ takes raw 0-255 pixels, so its stand-in keeps them in range."""

    def __init__(self, inner: nn.Module, factor: float) -> None:
        super().__init__()
        self.inner = inner
        self.factor = factor

    def forward(self, x):
        return self.inner(x * self.factor)


def build(name: str, out: str) -> None:
    path = os.path.join(out, f"{name}.onnx")
    if name == "hsemotion-b0-8":
        export(calibrate(efficientnet("b0"), 224, "imagenet"), (1, 3, 224, 224), path, "input", "output", dynamic=True, opset=11)
    elif name == "hsemotion-b2-8":
        export(calibrate(efficientnet("b2"), 260, "imagenet"), (1, 3, 260, 260), path, "input", "output", dynamic=True, opset=11)
    elif name == "opencv-fer":
        export(calibrate(MobileFaceNetLike(), 112, "half"), (1, 3, 112, 112), path, "data", "label", dynamic=False)
    elif name == "opencv-fer-int8":
        import quantize

        fp32 = os.path.join(out, ".opencv-fer-fp32.onnx")
        export(calibrate(MobileFaceNetLike(), 112, "half"), (1, 3, 112, 112), fp32, "data", "label", dynamic=False)
        quantize.quantize_file(fp32, path)
        os.unlink(fp32)
    elif name == "ferplus":
        export(calibrate(Scaled(SmallCnn(1, 8, 64), 1 / 255), 64, "grey"), (1, 1, 64, 64), path, "Input3", "Plus692_Output_0", dynamic=False, opset=8)
    elif name == "unknown":
        export(nn.Sequential(SmallCnn(3, 5, 48), nn.Softmax(dim=1)), (1, 3, 48, 48), path, "pixels", "probs", dynamic=True)
    else:
        raise SystemExit(f"make_fer_lookalikes.py: unknown model {name}")


ALL = ["hsemotion-b0-8", "hsemotion-b2-8", "opencv-fer", "opencv-fer-int8", "ferplus", "unknown"]


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(7)
    for name in sys.argv[2:] or ALL:
        build(name, out)
        print(name)


if __name__ == "__main__":
    main()
