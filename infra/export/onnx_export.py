"""Shared pieces of infra/export: ONNX export with either exporter, BatchNorm calibration, weights."""
from __future__ import annotations

import os
import warnings

import onnx
import torch

EXPORTERS = ("legacy", "dynamo")
OPSET = 18


def calibrate_batchnorm(model: torch.nn.Module, make_batch, batches: int = 4) -> None:
    """Running statistics from a few random batches (cumulative average), so that random-weight
    BatchNorm nets see activations of a realistic scale instead of the 0/1 defaults."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(*make_batch())
    model.eval()


def load_checkpoint(model: torch.nn.Module, path: str) -> None:
    """User weights: a state dict (optionally under 'state_dict' or 'model'), loaded strictly."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict):
        for key in ("state_dict", "model", "module"):
            if key in state and isinstance(state[key], dict):
                state = state[key]
                break
    model.load_state_dict(state, strict=True)


def export(
    model: torch.nn.Module,
    args: tuple,
    path: str,
    exporter: str,
    input_names: list[str],
    output_names: list[str],
    dynamic: dict[str, dict[int, str]] | None = None,
) -> None:
    """Writes one self-contained ONNX file (weights inline) with the named inputs and outputs.
    `dynamic` maps an input name to its symbolic axes (e.g. {"pixels": {0: "N"}})."""
    if exporter not in EXPORTERS:
        raise ValueError(f"--exporter: expected one of {', '.join(EXPORTERS)}, got {exporter!r}")
    dynamic = dynamic or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "legacy":
            torch.onnx.export(
                model,
                args,
                path,
                dynamo=False,
                opset_version=OPSET,
                input_names=input_names,
                output_names=output_names,
                dynamic_axes={k: dict(v) for k, v in dynamic.items()} or None,
            )
        else:
            # DYNAMIC rather than named Dims: torch.export then derives the constraints (strides, pools) itself.
            shapes = tuple(
                {axis: torch.export.Dim.DYNAMIC for axis in dynamic.get(name, {})} or None for name in input_names
            )
            program = torch.onnx.export(
                model,
                args,
                dynamo=True,
                opset_version=OPSET,
                input_names=input_names,
                output_names=output_names,
                dynamic_shapes=shapes if any(shapes) else None,
                optimize=True,
            )
            program.save(path, external_data=False)
    # One file with its weights inline: bundles are copied and hashed file by file.
    m = onnx.load(path, load_external_data=True)
    for extra in [f"{path}.data"]:
        if os.path.exists(extra):
            os.remove(extra)
    onnx.save(m, path, save_as_external_data=False)
