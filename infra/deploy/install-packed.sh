#!/usr/bin/env bash
# Installs a packed fiberscope (the tarball of `npm pack`) with its production dependencies only into
# PREFIX, giving PREFIX/bin/fiberscope. CI's packed-CLI check and the worker image both install it
# with this script, so what CI runs is what the image holds.
#
#   infra/deploy/install-packed.sh TARBALL PREFIX
set -euo pipefail
tarball=${1:?usage: install-packed.sh TARBALL PREFIX}
prefix=${2:?usage: install-packed.sh TARBALL PREFIX}
[[ -f $tarball ]] || { printf 'install-packed: %s: no such tarball (make one with npm pack)\n' "$tarball" >&2; exit 2; }

# skip: onnxruntime-node's install script would otherwise download CUDA files (its CPU provider is
# bundled). A CUDA image sets cuda12 (see Containerfile).
ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL:-skip} npm install --global --prefix "$prefix" --omit=dev --prefer-offline \
  --no-audit --no-fund --loglevel=error "$tarball"
