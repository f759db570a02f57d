#!/usr/bin/env bash
# Installs torch and onnx for infra/export into a git-ignored virtual environment, from PyPI only.
#   infra/export/setup.sh            -> <repo>/.venv/torch
#   FIBERSCOPE_TORCH_VENV=DIR infra/export/setup.sh
# Idempotent: an environment that already imports every package is left as it is.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${FIBERSCOPE_TORCH_VENV:-$repo/.venv/torch}"
check='import torch, torchvision, timm, diffusers, transformers, onnx, onnxscript, numpy'
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" 2>/dev/null; then
  echo "torch environment ready: $venv"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --upgrade --index-url https://pypi.org/simple pip
"$venv/bin/python" -m pip install --index-url https://pypi.org/simple -r "$here/requirements.txt"
"$venv/bin/python" -c "$check"
echo "torch environment ready: $venv"
