"""Sampler parity fixture: a tiny diffusers UNet prior and a small CNN extractor (random weights) as
fiberscope bundles, a query image, fiberscope's own noise draws for it, and the PyTorch NDTM
reference's result (infra/export/ndtm_reference.py) in float64 for a few sampler settings, step by
step. test/unit/guidance/sampler-parity.test.ts runs fiberscope's sampler on them without torch.

    $FIBERSCOPE_TORCH_VENV/bin/python infra/export/sampler_parity.py [--out test/fixtures/sampler-parity/unet-cnn]

Needs node (the noise is drawn by fiberscope's sampler code, infra/export/sampler-noise.ts).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.normpath(os.path.join(here, "..", ".."))
sys.path.insert(0, here)
from export_bundle import write_manifest  # noqa: E402
from ndtm_reference import Noise, Schedule, ndtm, preprocess  # noqa: E402
from onnx_export import export  # noqa: E402

SIZE = 16
SEED = "7"
IMAGE_ID = "query-0"
SAMPLES = [0, 1, 2]

UNET = dict(
    sample_size=SIZE,
    in_channels=1,
    out_channels=1,
    block_out_channels=(8, 8),
    layers_per_block=1,
    norm_num_groups=4,
    down_block_types=("DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=8,
)
SCHEDULER = {
    "_class_name": "DDPMScheduler",
    "num_train_timesteps": 1000,
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "prediction_type": "epsilon",
    "variance_type": "fixed_small",
}
PREPROCESS = [
    {"op": "rescale", "from": [-1, 1], "to": [0, 1]},
    {"op": "repeat_channels", "channels": 3},
    {"op": "resize", "size": [24, 24], "mode": "bilinear"},
    {"op": "normalize", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
]

# Sampler settings in fiberscope's option names: several Adam steps per guided step and stochastic
# updates; the first two leave their noisiest step unguided and use per-timestep targets.
CASES = {
    "ddim-large-eta": {
        "steps": 8,
        "innerSteps": 4,
        "lr": 0.01,
        "terminalWeight": 1,
        "gamma": [
            {"start": 0, "end": 0, "tStart": 1000, "tEnd": 876},
            {"start": 2, "end": 6, "tStart": 875, "tEnd": 0},
        ],
        "kappa": 0,
        "tau": 0,
        "update": {"kind": "ddim", "variance": "large", "eta": 0.5},
        "variant": "ndtm",
        "output": "state",
    },
    "ancestral-small-kappa-tau": {
        "steps": 6,
        "innerSteps": 3,
        "lr": 0.02,
        "terminalWeight": 1.5,
        "gamma": [
            {"start": 0, "end": 0, "tStart": 1000, "tEnd": 834},
            {"start": 3, "end": 3, "tStart": 833, "tEnd": 400},
            {"start": 1, "end": 4, "tStart": 399, "tEnd": 0},
        ],
        "kappa": 0.01,
        "tau": 0.01,
        "update": {"kind": "ancestral", "variance": "small", "respacing": "exact"},
        "variant": "ndtm",
        "output": "x0",
    },
    "ddim-small-static-target": {
        "steps": 5,
        "innerSteps": 2,
        "lr": 0.02,
        "terminalWeight": 1,
        "gamma": [{"start": 3, "end": 3, "tStart": 1000, "tEnd": 0}],
        "kappa": 0,
        "tau": 0,
        "update": {"kind": "ddim", "variance": "small", "eta": 1},
        "variant": "static-target",
        "output": "x0",
    },
}


class Extractor(nn.Module):
    """A small CNN: two strided conv + ReLU stages, global average pool, a linear head (12 features)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU())
        self.head = nn.Linear(16, 12)

    def forward(self, pixels):
        return self.head(self.body(pixels).mean((2, 3)))


def query_image() -> torch.Tensor:
    """A smooth synthetic image in [−1, 1]: an off-centre disc on a gradient."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, SIZE), torch.linspace(-1, 1, SIZE), indexing="ij")
    disc = ((xx - 0.2) ** 2 + (yy + 0.1) ** 2 < 0.35).float()
    return (0.6 * disc + 0.3 * xx - 0.2).clamp(-1, 1).view(1, 1, SIZE, SIZE)


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(a.double() - b) / torch.linalg.vector_norm(b))


def save(path: str, t: torch.Tensor, dtype) -> None:
    np.save(path, t.detach().cpu().numpy().astype(dtype))


def draw_noise(out: str, steps: int) -> Noise:
    """fiberscope's draws for (SEED, IMAGE_ID, SAMPLES), written by its own sampler code."""
    subprocess.run(
        ["node", "--import", "tsx", os.path.join(here, "sampler-noise.ts"), out, "--seed", SEED, "--image-id", IMAGE_ID,
         "--samples", ",".join(map(str, SAMPLES)), "--shape", f"1,{SIZE},{SIZE}", "--steps", str(steps)],
        cwd=repo, check=True,
    )
    load = lambda name: torch.from_numpy(np.load(os.path.join(out, f"{name}.npy")))  # noqa: E731
    return Noise(load("x_T"), load("target"), load("update"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(repo, "test", "fixtures", "sampler-parity", "unet-cnn"))
    a = p.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    import diffusers
    from diffusers import UNet2DModel

    diffusers.utils.logging.set_verbosity_error()

    os.makedirs(a.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as pipeline:
        # The prior goes through the documented user path: a diffusers pipeline folder into export_bundle.py.
        unet = UNet2DModel(**UNET).eval()
        unet.save_pretrained(os.path.join(pipeline, "unet"))
        os.makedirs(os.path.join(pipeline, "scheduler"))
        with open(os.path.join(pipeline, "scheduler", "scheduler_config.json"), "w") as f:
            json.dump(SCHEDULER, f)
        subprocess.run(
            [sys.executable, os.path.join(here, "export_bundle.py"), "prior", "--pipeline", pipeline,
             "--out", os.path.join(a.out, "prior"), "--exporter", "legacy", "--name", "tiny-unet"],
            check=True,
        )
        unet = UNet2DModel.from_pretrained(os.path.join(pipeline, "unet")).eval()
    with open(os.path.join(a.out, "prior", "fiberscope.json")) as f:
        prior = json.load(f)

    phi_net = Extractor().eval()
    extractor_dir = os.path.join(a.out, "extractor")
    os.makedirs(extractor_dir, exist_ok=True)
    export(phi_net, (torch.randn(2, 3, 24, 24),), os.path.join(extractor_dir, "phi.onnx"), "legacy", ["pixels"],
           ["features"], {"pixels": {0: "N"}})
    extractor = {
        "version": 1,
        "kind": "extractor",
        "name": "small-cnn",
        "model": {"file": "phi.onnx", "input": "pixels", "output": "features"},
        "preprocess": PREPROCESS,
        "loss": "l2",
        "metric": "squared_l2",
    }
    write_manifest(extractor_dir, extractor)
    query = query_image()
    save(os.path.join(a.out, "query.npy"), query[0], np.float32)

    schedule = Schedule(prior["schedule"])
    pre = preprocess(PREPROCESS)
    for name, o in CASES.items():
        folder = os.path.join(a.out, name)
        noise = draw_noise(folder, o["steps"])

        def reference(dtype, settings):
            net, phi = unet.to(dtype), phi_net.to(dtype)
            for q in (*net.parameters(), *phi.parameters()):
                q.requires_grad_(False)

            def network(x, t):
                return net(x, torch.full((x.shape[0],), t, dtype=torch.int64)).sample

            return ndtm(
                network, prior["denoiser"]["prediction"], prior["denoiser"]["varianceChannels"], schedule,
                lambda img: phi(pre(img)), extractor["loss"], query.to(dtype),
                Noise(noise.x_T.to(dtype), noise.target.to(dtype), noise.update.to(dtype)), settings,
                tuple(prior["image"]["range"]),
            )

        def fiber_loss(samples):
            with torch.no_grad():
                phi64 = phi_net.to(torch.float64)
                return (phi64(pre(samples)) - phi64(pre(query.double()))).norm(dim=1).tolist()

        narrow = reference(torch.float32, o)
        unguided = reference(torch.float64, {**o, "variant": "unguided"})
        wide = reference(torch.float64, o)
        save(os.path.join(folder, "states64.npy"), wide["states"], np.float64)
        save(os.path.join(folder, "samples64.npy"), wide["samples"], np.float64)
        case = {
            "torch": torch.__version__,
            "seed": SEED,
            "imageId": IMAGE_ID,
            "sampleIndices": SAMPLES,
            "options": o,
            "torchFloat32RelError": {
                "states": [rel_l2(narrow["states"][i], wide["states"][i]) for i in range(o["steps"])],
                "samples": rel_l2(narrow["samples"], wide["samples"]),
            },
            # ‖φ(sample) − φ(query)‖₂ of the guided run and of the same noise without guidance (context).
            "fiberLoss64": fiber_loss(wide["samples"]),
            "fiberLossUnguided64": fiber_loss(unguided["samples"]),
        }
        with open(os.path.join(folder, "case.json"), "w") as f:
            json.dump(case, f, indent=2)
            f.write("\n")
        errs = case["torchFloat32RelError"]
        print(f"{name}: PyTorch float32 vs float64 rel. L2 per step {' '.join(f'{e:.1e}' for e in errs['states'])}; "
              f"samples {errs['samples']:.1e}; fiber loss {' '.join(f'{v:.3f}' for v in case['fiberLoss64'])} "
              f"(unguided {' '.join(f'{v:.3f}' for v in case['fiberLossUnguided64'])})")


if __name__ == "__main__":
    main()
