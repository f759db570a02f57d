#!/usr/bin/env bash
# The GPU benchmark, one command (about 8 minutes at most): which execution providers load, then
# bench/vs-pytorch.ts (input gradients of the five networks and the NDTM sampler) on the best of
# them next to PyTorch on CUDA, printing the ratios.
#
#   FIBERSCOPE_TORCH_VENV=/path/to/venv bench/gpu.sh [extra vs-pytorch flags]
#
# Needs: infra/gpu/install-cuda.sh run once (it writes infra/gpu/env.sh), a CUDA build of torch in
# FIBERSCOPE_TORCH_VENV with torchvision, timm, diffusers and onnx, and the exports of
# bench/pytorch/vs_pytorch.py (made on first use, or carried in FIBERSCOPE_BENCH_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ -f infra/gpu/env.sh ]; then
  # shellcheck disable=SC1091
  . infra/gpu/env.sh
else
  echo "gpu: infra/gpu/env.sh is missing: run infra/gpu/install-cuda.sh first (cuda will not load)" >&2
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "gpu: no nvidia-smi"
venv="${FIBERSCOPE_TORCH_VENV:-}"
if [ -z "$venv" ] || [ ! -x "$venv/bin/python" ]; then
  echo "gpu: set FIBERSCOPE_TORCH_VENV to a virtual environment with a CUDA build of torch" >&2
  exit 2
fi
"$venv/bin/python" -c 'import torch; print("gpu: torch", torch.__version__, "cuda", torch.cuda.is_available())'

providers="$(timeout 120 node --import tsx bench/providers.ts 2>/dev/null)"
echo "$providers"
best="$(echo "$providers" | sed -n 's/^best //p')"
if [ "$best" = cpu ] || [ -z "$best" ]; then
  echo "gpu: no GPU provider loads; nothing to compare on the GPU" >&2
  exit 1
fi
# A GPU has threads to spare: the gradient runs get more repeats, the sampler the chexpert preset's 20 steps.
timeout 420 node --import tsx bench/vs-pytorch.ts --provider "$best" --runs 20 --warmup 5 "$@"
