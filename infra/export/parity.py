"""Gradient parity fixtures: small-width versions of the architectures users export, each as an
ONNX file plus an input, a cotangent and PyTorch's vector-Jacobian product in float64 (and the
relative L2 error of PyTorch's own float32 product against it). test/unit/autodiff/parity.test.ts
checks fiberscope's gradient graphs against them without torch.

    $FIBERSCOPE_TORCH_VENV/bin/python infra/export/parity.py [--out test/fixtures/parity] [--only NAME]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_export import calibrate_batchnorm, export  # noqa: E402


class Seg(nn.Module):
    """FPN-style segmenter that resizes to sizes computed in the graph: F.interpolate(a, size=b.shape[2:])."""

    def __init__(self, w: int = 4):
        super().__init__()
        self.c1 = nn.Conv2d(3, w, 3, 2, 1)
        self.b1 = nn.BatchNorm2d(w)
        self.c2 = nn.Conv2d(w, 2 * w, 3, 2, 1)
        self.c3 = nn.Conv2d(2 * w, 4 * w, 3, 2, 1)
        self.l3 = nn.Conv2d(4 * w, w, 1)
        self.l2 = nn.Conv2d(2 * w, w, 1)
        self.l1 = nn.Conv2d(w, w, 1)
        self.head = nn.Conv2d(w, 2, 3, 1, 1)

    def forward(self, x):
        f1 = F.relu(self.b1(self.c1(x)))
        f2 = F.relu(self.c2(f1))
        f3 = F.relu(self.c3(f2))
        p2 = self.l2(f2) + F.interpolate(self.l3(f3), size=f2.shape[2:], mode="bilinear", align_corners=False)
        p1 = self.l1(f1) + F.interpolate(p2, size=f1.shape[-2:], mode="nearest")
        return torch.sigmoid(F.interpolate(self.head(p1), size=x.shape[2:], mode="bilinear", align_corners=True))


class UNet(nn.Module):
    """U-Net whose decoder upsamples to the skip connections' runtime sizes, then concatenates."""

    def __init__(self, w: int = 4):
        super().__init__()

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU())

        self.e1, self.e2, self.e3 = block(3, w), block(w, 2 * w), block(2 * w, 4 * w)
        self.d2, self.d1 = block(6 * w, 2 * w), block(3 * w, w)
        self.head = nn.Conv2d(w, 1, 1)

    def forward(self, x):
        a = self.e1(x)
        b = self.e2(F.max_pool2d(a, 2))
        c = self.e3(F.max_pool2d(b, 2))
        d = self.d2(torch.cat([F.interpolate(c, size=b.shape[2:], mode="bilinear"), b], 1))
        d = self.d1(torch.cat([F.interpolate(d, size=a.shape[2:], mode="nearest"), a], 1))
        return self.head(d)


class RuntimeShapes(nn.Module):
    """Shape subgraphs feeding Pad, Slice, Reshape, Expand and ConstantOfShape: pad to a multiple of 8 as
    segmenters do, crop back to the input's size, flatten by runtime dims, expand a token to the batch."""

    def __init__(self, w: int = 4):
        super().__init__()
        self.c1 = nn.Conv2d(3, w, 3, 2, 1)
        self.c2 = nn.ConvTranspose2d(w, w, 2, 2)
        self.token = nn.Parameter(torch.randn(1, 1, w))

    def forward(self, x):
        h, w = x.shape[2], x.shape[3]
        padded = F.pad(x, (0, (8 - w % 8) % 8, 0, (8 - h % 8) % 8), mode="reflect")
        y = self.c2(F.relu(self.c1(padded)))[:, :, :h, :w]
        tokens = y.reshape(y.shape[0], y.shape[1], h * w).transpose(1, 2)
        tokens = torch.cat([self.token.expand(x.shape[0], -1, -1), tokens], 1)
        bias = torch.zeros(tokens.shape[0], 1, tokens.shape[2]) + 0.5
        return torch.tanh(tokens + bias)


class BasicBlock(nn.Module):
    def __init__(self, i, o, stride):
        super().__init__()
        self.c1 = nn.Conv2d(i, o, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(o)
        self.c2 = nn.Conv2d(o, o, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(o)
        self.down = (
            nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False), nn.BatchNorm2d(o)) if stride != 1 or i != o else None
        )

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + (self.down(x) if self.down is not None else x))


class ResNet(nn.Module):
    """torchvision's ResNet layout (7x7 stem, max pool, basic blocks, global pool, fc) at width 8."""

    def __init__(self, w: int = 8, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, w, 7, 2, 3, bias=False), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        self.layers = nn.Sequential(BasicBlock(w, w, 1), BasicBlock(w, 2 * w, 2), BasicBlock(2 * w, 4 * w, 2))
        self.fc = nn.Linear(4 * w, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


def convnext():
    import timm.models.convnext as cx

    return cx.ConvNeXt(depths=(1, 1, 1, 1), dims=(8, 16, 24, 32), num_classes=10)


def vit():
    import timm.models.vision_transformer as vt

    return vt.VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=10)


def deit():
    import timm.models.deit as dt

    return dt.VisionTransformerDistilled(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=10)


class DiffusersUNet(nn.Module):
    """diffusers' UNet2DModel (ResNet blocks, attention, GroupNorm, timestep embedding) at width 8: ε(x, t)."""

    def __init__(self):
        super().__init__()
        from diffusers import UNet2DModel

        self.net = UNet2DModel(
            sample_size=16,
            in_channels=3,
            out_channels=3,
            block_out_channels=(8, 16),
            layers_per_block=1,
            norm_num_groups=4,
            down_block_types=("DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=8,
        )

    def forward(self, x, t):
        return self.net(x, t).sample


class VaeDecoder(nn.Module):
    """diffusers' AutoencoderKL decoder (mid-block attention, GroupNorm, nearest upsampling) at width 8."""

    def __init__(self):
        super().__init__()
        from diffusers import AutoencoderKL

        self.vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
            block_out_channels=(8, 16),
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=4,
            sample_size=16,
        )

    def forward(self, z):
        return self.vae.decode(z).sample


# name -> (builder, input dims, exporter, dynamic axes of x, a timestep input when the model takes one)
CASES = {
    "resize-fpn-legacy": (Seg, [2, 3, 40, 56], "legacy", {0: "N", 2: "H", 3: "W"}, None),
    "resize-fpn-dynamo": (Seg, [2, 3, 40, 56], "dynamo", {0: "N", 2: "H", 3: "W"}, None),
    "resize-unet-legacy": (UNet, [2, 3, 24, 32], "legacy", {0: "N", 2: "H", 3: "W"}, None),
    "resize-unet-dynamo": (UNet, [2, 3, 24, 32], "dynamo", {0: "N", 2: "H", 3: "W"}, None),
    "runtime-shapes-legacy": (RuntimeShapes, [2, 3, 21, 30], "legacy", {0: "N", 2: "H", 3: "W"}, None),
    "runtime-shapes-dynamo": (RuntimeShapes, [2, 3, 21, 30], "dynamo", {0: "N", 2: "H", 3: "W"}, None),
    "resnet-legacy": (ResNet, [2, 3, 32, 32], "legacy", {0: "N"}, None),
    "convnext-dynamo": (convnext, [2, 3, 32, 32], "dynamo", {0: "N"}, None),
    "vit-legacy": (vit, [2, 3, 32, 32], "legacy", {0: "N"}, None),
    "deit-dynamo": (deit, [2, 3, 32, 32], "dynamo", {0: "N"}, None),
    "diffusers-unet-legacy": (DiffusersUNet, [2, 3, 16, 16], "legacy", {0: "N"}, 417),
    "vae-decoder-dynamo": (VaeDecoder, [2, 4, 8, 8], "dynamo", {0: "N"}, None),
}


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


def save_npy(path: str, t: torch.Tensor, dtype) -> None:
    np.save(path, t.detach().cpu().numpy().astype(dtype))


def vjp(model, x, extra, dy):
    x = x.clone().requires_grad_(True)
    y = model(x, *extra)
    (g,) = torch.autograd.grad(y, x, dy)
    return y.detach(), g


def build(name: str, out_dir: str) -> dict:
    make, dims, exporter, axes, timestep = CASES[name]
    torch.manual_seed(0)
    model = make().eval()
    gen = torch.Generator().manual_seed(1)
    extra = (torch.full((dims[0],), timestep, dtype=torch.int64),) if timestep is not None else ()
    calibrate_batchnorm(model, lambda: (torch.randn(8, *dims[1:], generator=gen), *[e[:1].expand(8) for e in extra]))
    x = torch.randn(*dims, generator=gen)
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    inputs = ["x"] + (["t"] if extra else [])
    dynamic = {"x": axes, **({"t": {0: "N"}} if extra else {})}
    export(model, (x, *extra), os.path.join(folder, "model.onnx"), exporter, inputs, ["y"], dynamic)
    with torch.no_grad():
        y = model(x, *extra)
    dy = torch.randn(y.shape, generator=gen)
    _, g32 = vjp(model, x, extra, dy)
    wide = model.double()
    _, g64 = vjp(wide, x.double(), extra, dy.double())
    save_npy(os.path.join(folder, "x.npy"), x, np.float32)
    save_npy(os.path.join(folder, "dy.npy"), dy, np.float32)
    save_npy(os.path.join(folder, "vjp64.npy"), g64, np.float64)
    nodes = len(onnx.load(os.path.join(folder, "model.onnx")).graph.node)
    case = {
        "exporter": exporter,
        "torch": torch.__version__,
        "of": "y",
        "wrt": "x",
        "dims": dims,
        **({"timestep": {"name": "t", "value": timestep}} if extra else {}),
        "nodes": nodes,
        "torchFloat32RelError": rel_l2(g32.double(), g64),
    }
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump(case, f, indent=2)
        f.write("\n")
    return case


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(here, "..", "..", "test", "fixtures", "parity"))
    p.add_argument("--only", action="append", choices=sorted(CASES), help="generate only these cases")
    a = p.parse_args()
    torch.set_num_threads(2)
    for name in a.only or CASES:
        case = build(name, a.out)
        print(f"{name}: {case['nodes']} nodes, PyTorch float32 VJP rel. L2 error {case['torchFloat32RelError']:.2e}")


if __name__ == "__main__":
    main()
