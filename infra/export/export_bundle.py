"""PyTorch models into fiberscope bundles (a folder with fiberscope.json and the ONNX files it names).

Extractors (timm, torchvision, Hugging Face transformers), with the preprocessing read from the
model's own data config:
    python infra/export/export_bundle.py extractor --source timm --model convnext_tiny --out bundles/convnext
    python infra/export/export_bundle.py extractor --source torchvision --model resnet50 --feature logits --out ...
    python infra/export/export_bundle.py extractor --source hf --model ./dinov2-small/ --feature cls --out ...
Priors (diffusers UNet or DiT, with the VAE decoder and encoder for latent priors), with prediction
type, learned variance and noise schedule read from the scheduler config:
    python infra/export/export_bundle.py prior --pipeline ./ddpm-folder/ --out bundles/prior

Nothing is downloaded: weights come from --checkpoint (a state dict), from weight files in a local
folder, or are random (BatchNorm statistics then calibrated on a few random batches).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_export import EXPORTERS, calibrate_batchnorm, export, load_checkpoint  # noqa: E402

FEATURES = ("pooled", "logits", "cls", "tokens")


def fail(flag: str, message: str) -> None:
    print(f"export_bundle: {flag}: {message}", file=sys.stderr)
    sys.exit(2)


class Features(nn.Module):
    """A classifier or encoder cut at the chosen feature output."""

    def __init__(self, net: nn.Module, source: str, feature: str):
        super().__init__()
        self.net, self.source, self.feature = net, source, feature

    def forward(self, pixels):
        if self.source == "timm":
            if self.feature == "logits":
                return self.net(pixels)
            tokens = self.net.forward_features(pixels)
            if self.feature == "pooled":
                return self.net.forward_head(tokens, pre_logits=True)
            return tokens[:, 0] if self.feature == "cls" else tokens
        if self.source == "torchvision":
            # pooled: the classifier head was replaced by the identity (build_torchvision).
            return self.net(pixels)
        out = self.net(pixel_values=pixels)
        if self.feature == "logits":
            return out.logits
        if self.feature == "pooled":
            return out.pooler_output
        hidden = out.last_hidden_state
        return hidden[:, 0] if self.feature == "cls" else hidden


def resize_steps(size: tuple[int, int], crop_pct: float, interpolation: str) -> list[dict]:
    """The eval transform of square priors: resize to size/crop_pct, centre-crop to size."""
    mode = "bicubic" if interpolation == "bicubic" else "bilinear"
    if interpolation not in ("bicubic", "bilinear"):
        print(f"export_bundle: interpolation '{interpolation}' has no bundle step; using bilinear", file=sys.stderr)
    scaled = [int(s / crop_pct) for s in size]
    steps = [{"op": "resize", "size": scaled, "mode": mode}]
    if scaled != list(size):
        steps.append({"op": "center_crop", "size": list(size)})
    return steps


def build_timm(name: str, feature: str):
    import timm
    from timm.data import resolve_data_config

    net = timm.create_model(name, pretrained=False)
    cfg = resolve_data_config({}, model=net)
    _, h, w = cfg["input_size"]
    pre = resize_steps((h, w), cfg.get("crop_pct", 1.0), cfg.get("interpolation", "bilinear"))
    return net, pre, list(cfg["mean"]), list(cfg["std"]), (h, w)


def build_torchvision(name: str, feature: str):
    import torchvision
    from torchvision.transforms import InterpolationMode

    net = torchvision.models.get_model(name, weights=None)
    if feature == "pooled":
        for attr in ("fc", "classifier", "head", "heads"):
            if hasattr(net, attr):
                setattr(net, attr, nn.Identity())
                break
    # The transform the model's published weights document (metadata only, nothing is fetched).
    t = torchvision.models.get_model_weights(name).DEFAULT.transforms()
    crop = t.crop_size[0]
    resize = t.resize_size[0]
    mode = "bicubic" if t.interpolation == InterpolationMode.BICUBIC else "bilinear"
    pre = [{"op": "resize", "size": [resize, resize], "mode": mode}]
    if resize != crop:
        pre.append({"op": "center_crop", "size": [crop, crop]})
    return net, pre, list(t.mean), list(t.std), (crop, crop)


def build_hf(model: str, feature: str):
    import transformers as tf

    if os.path.isdir(model):
        config = tf.AutoConfig.from_pretrained(model)
        processor_file = os.path.join(model, "preprocessor_config.json")
        processor = tf.AutoImageProcessor.from_pretrained(model) if os.path.exists(processor_file) else None
    else:
        config = tf.AutoConfig.for_model(model)
        processor = None
    if getattr(config, "vision_config", None) is not None and config.model_type in ("clip", "siglip"):
        config = config.vision_config
    cls = tf.AutoModelForImageClassification if feature == "logits" else tf.AutoModel
    if config.model_type == "clip_vision_model":
        cls = tf.CLIPVisionModel
    net = cls.from_config(config)
    if processor is None:
        print("export_bundle: no preprocessor_config.json; using the image processor class's defaults", file=sys.stderr)
        processor = processor_for(config.model_type)
    size = processor.crop_size if getattr(processor, "do_center_crop", False) else processor.size
    crop = (size.get("height", size.get("shortest_edge")), size.get("width", size.get("shortest_edge")))
    resize = processor.size
    edge = resize.get("shortest_edge") or resize.get("height")
    mode = "bicubic" if int(getattr(processor, "resample", 2)) == 3 else "bilinear"
    pre = [{"op": "resize", "size": [edge, edge], "mode": mode}]
    if getattr(processor, "do_center_crop", False) and edge != crop[0]:
        pre.append({"op": "center_crop", "size": list(crop)})
    return net, pre, list(processor.image_mean), list(processor.image_std), crop


def processor_for(model_type: str):
    """The image processor class's own defaults, when no preprocessor_config.json is given."""
    import transformers as tf

    name = tf.models.auto.image_processing_auto.IMAGE_PROCESSOR_MAPPING_NAMES.get(model_type.replace("_vision_model", ""))
    if not name:
        fail("--model", f"no image processor known for model type '{model_type}'; pass a folder with preprocessor_config.json")
    cls_name = name[0] if isinstance(name, (tuple, list)) else name
    return getattr(tf, cls_name)()


def extractor(a) -> None:
    if a.source == "torchvision" and a.feature not in ("logits", "pooled"):
        fail("--feature", "torchvision models offer logits or pooled")
    builders = {"timm": build_timm, "torchvision": build_torchvision, "hf": build_hf}
    net, pre, mean, std, (h, w) = builders[a.source](a.model, a.feature)
    if a.checkpoint:
        load_checkpoint(net, a.checkpoint)
    model = Features(net, a.source, a.feature).eval()
    if not a.checkpoint:
        calibrate_batchnorm(model, lambda: (torch.randn(4, 3, h, w),))
    os.makedirs(a.out, exist_ok=True)
    x = torch.randn(2, 3, h, w)
    export(model, (x,), os.path.join(a.out, "phi.onnx"), a.exporter, ["pixels"], ["features"], {"pixels": {0: "N"}})
    steps = [{"op": "rescale", "from": [-1, 1], "to": [0, 1]}, *pre, {"op": "normalize", "mean": mean, "std": std}]
    manifest = {
        "version": 1,
        "kind": "extractor",
        "name": a.name or f"{a.source}-{os.path.basename(os.path.normpath(a.model))}-{a.feature}",
        "model": {"file": "phi.onnx", "input": "pixels", "output": "features"},
        "preprocess": steps,
        "loss": a.loss,
        "metric": a.metric,
    }
    write_manifest(a.out, manifest)


SCHEDULES = {"linear": "linear", "scaled_linear": "scaled_linear", "squaredcos_cap_v2": "cosine"}
PREDICTIONS = {"epsilon": "epsilon", "v_prediction": "v", "sample": "x0"}


class Denoiser(nn.Module):
    """ε/v/x₀ prediction of a diffusers UNet or DiT at (x, t); a class-conditional DiT sees its null class."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.null_class = getattr(net.config, "num_embeds_ada_norm", None)

    def forward(self, x, t):
        if self.null_class is not None:
            labels = torch.full_like(t, self.null_class)
            return self.net(x, t, class_labels=labels).sample
        return self.net(x, t).sample


class Encoder(nn.Module):
    """Image → latent mean (the per-timestep target encodes the query); the bundle multiplies by the scale."""

    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae

    def forward(self, image):
        return self.vae.encode(image).latent_dist.mean


class Decoder(nn.Module):
    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae

    def forward(self, z):
        return self.vae.decode(z).sample


def load_diffusers(cls, folder: str, checkpoint: str | None):
    """From the folder's weights when it has them, else random from its config.json."""
    has_weights = any(f.startswith("diffusion_pytorch_model") for f in os.listdir(folder))
    net = cls.from_pretrained(folder) if has_weights else cls.from_config(cls.load_config(folder))
    if checkpoint:
        load_checkpoint(net, checkpoint)
    return net.eval()


def prior(a) -> None:
    import diffusers

    root = a.pipeline
    sched_dir = os.path.join(root, "scheduler")
    if not os.path.isdir(sched_dir):
        fail("--pipeline", f"expected {sched_dir}/scheduler_config.json (a diffusers pipeline folder)")
    with open(os.path.join(sched_dir, "scheduler_config.json")) as f:
        sched = json.load(f)
    kind = "unet" if os.path.isdir(os.path.join(root, "unet")) else "transformer"
    if not os.path.isdir(os.path.join(root, kind)):
        fail("--pipeline", "expected a unet/ or transformer/ folder with config.json")
    cls = diffusers.UNet2DModel if kind == "unet" else diffusers.DiTTransformer2DModel
    net = load_diffusers(cls, os.path.join(root, kind), a.checkpoint)
    beta = sched.get("beta_schedule", "linear")
    if beta not in SCHEDULES:
        fail("scheduler_config.json#beta_schedule", f"expected one of {', '.join(SCHEDULES)}, got {beta!r}")
    prediction = sched.get("prediction_type", "epsilon")
    if prediction not in PREDICTIONS:
        fail("scheduler_config.json#prediction_type", f"expected one of {', '.join(PREDICTIONS)}, got {prediction!r}")
    learned = sched.get("variance_type") in ("learned", "learned_range")
    cfg = net.config
    channels = cfg.in_channels
    size = cfg.sample_size if isinstance(cfg.sample_size, int) else cfg.sample_size[0]
    if learned and cfg.out_channels != 2 * channels:
        fail("variance_type", f"learned variance needs {2 * channels} output channels, the model has {cfg.out_channels}")
    os.makedirs(a.out, exist_ok=True)
    x = torch.randn(2, channels, size, size)
    t = torch.full((2,), 500, dtype=torch.int64)
    export(Denoiser(net), (x, t), os.path.join(a.out, "denoiser.onnx"), a.exporter, ["x", "t"], ["eps"],
           {"x": {0: "N"}, "t": {0: "N"}})
    manifest = {
        "version": 1,
        "kind": "prior",
        "type": "diffusion",
        "name": a.name or os.path.basename(os.path.normpath(root)),
        "denoiser": {"file": "denoiser.onnx", "input": "x", "timestep": "t", "output": "eps",
                     "prediction": PREDICTIONS[prediction], "varianceChannels": learned},
        "schedule": {"type": SCHEDULES[beta], "betaStart": sched.get("beta_start", 0.0001),
                     "betaEnd": sched.get("beta_end", 0.02), "timesteps": sched.get("num_train_timesteps", 1000)},
        "image": {"channels": channels, "height": size, "width": size, "range": [-1, 1]},
    }
    vae_dir = os.path.join(root, "vae")
    if os.path.isdir(vae_dir):
        vae = load_diffusers(diffusers.AutoencoderKL, vae_dir, None)
        factor = 2 ** (len(vae.config.block_out_channels) - 1)
        z = torch.randn(2, vae.config.latent_channels, size, size)
        export(Decoder(vae), (z,), os.path.join(a.out, "vae_decoder.onnx"), a.exporter, ["z"], ["image"],
               {"z": {0: "N"}})
        image = torch.randn(2, vae.config.in_channels, size * factor, size * factor)
        export(Encoder(vae), (image,), os.path.join(a.out, "vae_encoder.onnx"), a.exporter, ["image"], ["z"],
               {"image": {0: "N"}})
        manifest["image"] = {"channels": vae.config.out_channels, "height": size * factor, "width": size * factor,
                             "range": [-1, 1]}
        manifest["latent"] = {"decoder": {"file": "vae_decoder.onnx", "input": "z", "output": "image"},
                              "encoder": {"file": "vae_encoder.onnx", "input": "image", "output": "z"},
                              "scale": vae.config.scaling_factor, "shape": [channels, size, size]}
    write_manifest(a.out, manifest)


def write_manifest(out: str, manifest: dict) -> None:
    with open(os.path.join(out, "fiberscope.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {out}/fiberscope.json ({manifest['kind']} '{manifest['name']}'); check it with: fiberscope models inspect {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="kind", required=True)
    e = sub.add_parser("extractor", help="a timm, torchvision or Hugging Face model as an extractor bundle")
    e.add_argument("--source", choices=("timm", "torchvision", "hf"), required=True)
    e.add_argument("--model", required=True, help="timm/torchvision name, or HF model type or local folder")
    e.add_argument("--feature", choices=FEATURES, default="pooled", help="feature output (default pooled)")
    e.add_argument("--loss", default="l2")
    e.add_argument("--metric", default="squared_l2")
    r = sub.add_parser("prior", help="a diffusers pipeline folder (unet/ or transformer/, scheduler/, vae/)")
    r.add_argument("--pipeline", required=True)
    for q in (e, r):
        q.add_argument("--out", required=True, help="bundle folder to write")
        q.add_argument("--exporter", choices=EXPORTERS, default="dynamo")
        q.add_argument("--checkpoint", help="a state dict of your weights (default: random weights)")
        q.add_argument("--name")
    a = p.parse_args()
    torch.manual_seed(0)
    extractor(a) if a.kind == "extractor" else prior(a)


if __name__ == "__main__":
    main()
