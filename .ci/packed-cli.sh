#!/usr/bin/env bash
# The CLI as a user installs it: `npm pack`, a production-only install of the tarball into a temporary
# prefix outside the checkout, then `--version`, `--help`, `demo` and the control worker's workflow
# bundle, each run from there. Exits non-zero on the first that fails.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fiberscope-packed.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

(cd "$repo" && npm pack --pack-destination "$tmp" --silent >/dev/null)
tarball=$(echo "$tmp"/fiberscope-*.tgz)
printf 'tarball: %s, %s bytes, %s files\n' "${tarball##*/}" "$(stat -c %s "$tarball")" "$(tar tzf "$tarball" | grep -vc '/$')"

start=$SECONDS
ONNXRUNTIME_NODE_INSTALL=skip "$repo/infra/deploy/install-packed.sh" "$tarball" "$tmp/prefix"
printf 'production-only install: %s s\n' "$((SECONDS - start))"

cd "$tmp"
fiberscope="$tmp/prefix/bin/fiberscope"
"$fiberscope" --version
"$fiberscope" --help >/dev/null
demo_start=$SECONDS
"$fiberscope" demo --out "$tmp/demo"
printf 'demo: %s s; install plus demo: %s s\n' "$((SECONDS - demo_start))" "$((SECONDS - start))"

# The control worker bundles workflows/ from the installed sources before it polls: bundle them
# here, without a server, with the installed package's own dependencies.
(cd "$tmp/prefix/lib/node_modules/fiberscope" && node --import tsx --input-type=module -e "
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { workflowBundlerOptions, workflowsPath } = await import('./workers/workflow-bundle.ts');
  const { code } = await bundleWorkflowCode({ workflowsPath: workflowsPath(), ...workflowBundlerOptions() });
  console.log('workflow bundle of the installed package: ' + code.length + ' bytes');
")
