#!/usr/bin/env bash
# Builds the worker image from the packed CLI.
#
#   infra/deploy/build-image.sh [TAG [BUILD OPTIONS...]]   default tag fiberscope-worker:<package version>
#   infra/deploy/build-image.sh --context DIR              only assemble the build context in DIR
#
# The build context holds only the Containerfile, install-packed.sh and the tarball of `npm pack`
# (as fiberscope.tgz). CONTAINER_ENGINE names the engine (default: docker, else podman).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

assemble() {
  local dir=$1 name
  mkdir -p "$dir"
  cp "$here/Containerfile" "$here/install-packed.sh" "$dir/"
  name=$(cd "$repo" && npm pack --pack-destination "$dir" --silent | tail -n 1)
  mv "$dir/$name" "$dir/fiberscope.tgz"
}

if [[ ${1:-} == --context ]]; then
  assemble "${2:?usage: build-image.sh --context DIR}"
  exit 0
fi

tag=${1:-fiberscope-worker:$(node -p 'require(process.argv[1]).version' "$repo/package.json")}
(($# > 0)) && shift
engine=${CONTAINER_ENGINE:-$(command -v docker || command -v podman || true)}
[[ -n $engine ]] || { echo 'build-image: no container engine found (docker or podman); set CONTAINER_ENGINE' >&2; exit 2; }
context=$(mktemp -d "${TMPDIR:-/tmp}/fiberscope-image.XXXXXX")
trap 'rm -rf "$context"' EXIT
assemble "$context"
"$engine" build -f "$context/Containerfile" -t "$tag" "$@" "$context"
