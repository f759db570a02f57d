#!/usr/bin/env bash
# Installs ONNX Runtime's CUDA execution provider for onnxruntime-node from PyPI, offline from any
# other host: the onnxruntime-gpu wheel of exactly the installed onnxruntime-node version carries
# libonnxruntime_providers_{shared,cuda}.so, and NVIDIA's cu13 wheels carry the CUDA runtime,
# cuBLAS, cuRAND, cuFFT, NVRTC and cuDNN. The provider libraries are copied next to
# onnxruntime-node's own library; the NVIDIA libraries stay in PREFIX, and `infra/gpu/env.sh`
# (written here) puts them on LD_LIBRARY_PATH:
#
#   infra/gpu/install-cuda.sh            # then, in every shell that runs fiberscope on the GPU:
#   source infra/gpu/env.sh && fiberscope audit ... --provider cuda
#
# Settings (environment):
#   FIBERSCOPE_CUDA_PREFIX   where the wheels are unpacked (default: infra/gpu/.cuda in the repository)
#   FIBERSCOPE_ORT_NODE_DIR  onnxruntime-node's folder (default: node_modules/onnxruntime-node)
#   PYTHON                   a Python 3.11+ with pip (default python3); only its pip is used
#   FIBERSCOPE_CUDA_DOWNLOAD_ONLY=1  fetch and unpack, copy nothing (to check the wheels on a machine without a GPU)
# The host needs an NVIDIA driver for CUDA 13 (libcuda.so.1 comes with the driver, not from PyPI).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
prefix="${FIBERSCOPE_CUDA_PREFIX:-$root/infra/gpu/.cuda}"
ort_dir="${FIBERSCOPE_ORT_NODE_DIR:-$root/node_modules/onnxruntime-node}"
python="${PYTHON:-python3}"

[ -f "$ort_dir/package.json" ] || { echo "install-cuda: no onnxruntime-node at $ort_dir (run npm ci first)" >&2; exit 2; }
version="$(sed -n 's/^ *"version": *"\([0-9.]*\)".*/\1/p' "$ort_dir/package.json" | head -1)"
[ -n "$version" ] || { echo "install-cuda: cannot read the version of $ort_dir/package.json" >&2; exit 2; }
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) bin="$ort_dir/bin/napi-v6/linux/x64" ;;
  Linux-aarch64) bin="$ort_dir/bin/napi-v6/linux/arm64" ;;
  *) echo "install-cuda: the CUDA provider wheels exist for Linux x86_64 and aarch64 only, not $(uname -sm)" >&2; exit 2 ;;
esac
[ -f "$bin/libonnxruntime.so.1" ] || { echo "install-cuda: $bin/libonnxruntime.so.1 is missing" >&2; exit 2; }
"$python" -m pip --version >/dev/null 2>&1 || { echo "install-cuda: $python has no pip" >&2; exit 2; }

# Exact version pins on onnxruntime-gpu; the NVIDIA wheels within the major versions its
# metadata asks for (extras cuda and cudnn), plus cuBLAS which the provider links against.
wheels=(
  "onnxruntime-gpu==$version"
  "nvidia-cuda-runtime~=13.0"
  "nvidia-cuda-nvrtc~=13.0"
  "nvidia-cublas~=13.0"
  "nvidia-curand~=10.0"
  "nvidia-cufft~=12.0"
  "nvidia-cudnn-cu13~=9.0"
)
echo "install-cuda: onnxruntime-node $version; unpacking ${wheels[*]} into $prefix"
mkdir -p "$prefix"
# --no-deps: only these wheels (no numpy or protobuf); --target: nothing touches a Python installation.
"$python" -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: --upgrade \
  --target "$prefix/site" "${wheels[@]}"

capi="$prefix/site/onnxruntime/capi"
for lib in libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so; do
  [ -f "$capi/$lib" ] || { echo "install-cuda: the onnxruntime-gpu $version wheel has no $lib" >&2; exit 1; }
done
libdirs="$(find "$prefix/site/nvidia" -type d -name lib | sort | tr '\n' ':')"
libdirs="${libdirs%:}"
[ -n "$libdirs" ] || { echo "install-cuda: no NVIDIA libraries under $prefix/site/nvidia" >&2; exit 1; }
for so in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcudnn.so.9; do
  find "$prefix/site/nvidia" -name "$so" | grep -q . || { echo "install-cuda: $so not found in the NVIDIA wheels" >&2; exit 1; }
done

cat > "$root/infra/gpu/env.sh" <<ENV
# Written by infra/gpu/install-cuda.sh: the CUDA libraries of the onnxruntime-gpu $version provider.
export LD_LIBRARY_PATH="$libdirs\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
ENV

if [ "${FIBERSCOPE_CUDA_DOWNLOAD_ONLY:-0}" = 1 ]; then
  echo "install-cuda: download only: wheels unpacked in $prefix, env in infra/gpu/env.sh; nothing copied to $bin"
  exit 0
fi
# Copies, never links: node_modules may be hard-linked between checkouts, so the files are replaced, not written through.
for lib in libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so; do
  rm -f "$bin/$lib"
  cp "$capi/$lib" "$bin/$lib"
done
echo "install-cuda: copied the provider libraries to $bin"

if command -v nvidia-smi >/dev/null 2>&1; then
  # shellcheck disable=SC1091
  . "$root/infra/gpu/env.sh"
  (cd "$root" && node --input-type=module -e "
    import * as ort from 'onnxruntime-node';
    // The smallest model: one Identity node, run on the CUDA provider.
    const m = Buffer.from('CAgSCmZpYmVyc2NvcGUaADo9ChYKAXgSAXkaAmlkIghJZGVudGl0eToAEgFnWg8KAXgSCgoICAESBAoCCAFiDwoBeRIKCggIARIECgIIAUIECgAQEQ==', 'base64');
    const s = await ort.InferenceSession.create(m, { executionProviders: ['cuda'] });
    const r = await s.run({ x: new ort.Tensor('float32', new Float32Array([1]), [1]) });
    console.log('install-cuda: CUDA provider runs (identity ->', r.y.data[0] + ')');
  ") || { echo "install-cuda: the provider is installed but a CUDA session did not start (driver? source infra/gpu/env.sh?)" >&2; exit 1; }
else
  echo "install-cuda: no nvidia-smi here; installed, not tried. On the GPU host: source infra/gpu/env.sh"
fi
