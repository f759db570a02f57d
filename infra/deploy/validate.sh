#!/usr/bin/env bash
# Offline validation of the deployment material: `helm lint` and `helm template` of the chart with its
# default values and each file in examples/, every rendered object checked strictly (unknown fields
# refused) against the Kubernetes OpenAPI schemas of the oldest and newest supported versions with
# kubernetes-validate, and renders that must be refused checked to be. No cluster is needed.
#
# Tools are installed once into the tools folder shared with infra/services.sh
# (FIBERSCOPE_TOOLS_DIR, default ${XDG_CACHE_HOME:-~/.cache}/fiberscope/tools): helm built from its Go
# module (Apache-2.0; needs Go 1.26+, several minutes the first time) and kubernetes-validate from
# PyPI in a venv. FIBERSCOPE_HELM_BIN uses another helm binary.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS=${FIBERSCOPE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fiberscope/tools}
HELM_MODULE=helm.sh/helm/v3
HELM_VERSION=v3.22.0
KUBERNETES_VALIDATE_VERSION=1.37.0
# The chart's kubeVersion floor and the newest schemas kubernetes-validate ships.
KUBERNETES_VERSIONS=(1.25.0 1.37.0)

say() { printf 'deploy: %s\n' "$*"; }
die() { printf 'deploy: error: %s\n' "$*" >&2; exit 1; }

install_helm() {
  local dir="$TOOLS/helm-$HELM_VERSION"
  [[ -f $dir/.complete ]] && return
  command -v go >/dev/null || die "Go is missing: helm is built from its Go module ($HELM_MODULE/cmd/helm@$HELM_VERSION). Install Go 1.26 or newer, or set FIBERSCOPE_HELM_BIN."
  rm -rf "$dir" && mkdir -p "$dir"
  say "building helm $HELM_VERSION from its Go module into $dir (several minutes the first time)"
  GOBIN="$dir" go install -trimpath -ldflags='-s -w' "$HELM_MODULE/cmd/helm@$HELM_VERSION" || die "building helm failed (output above)"
  touch "$dir/.complete"
}

install_validator() {
  local dir="$TOOLS/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
  [[ -f $dir/.complete ]] && return
  rm -rf "$dir"
  say "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION (PyPI) into $dir"
  python3 -m venv "$dir/venv" &&
    "$dir/venv/bin/python" -m pip install --disable-pip-version-check -q "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" ||
    die "installing kubernetes-validate failed (output above)"
  touch "$dir/.complete"
}

mkdir -p "$TOOLS"
exec 9>"$TOOLS/.deploy-lock"
flock 9
if [[ -z ${FIBERSCOPE_HELM_BIN:-} ]]; then install_helm; fi
install_validator
flock -u 9
helm=${FIBERSCOPE_HELM_BIN:-$TOOLS/helm-$HELM_VERSION/helm}
validate="$TOOLS/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION/venv/bin/kubernetes-validate"

out=$(mktemp -d "${TMPDIR:-/tmp}/fiberscope-deploy.XXXXXX")
trap 'rm -rf "$out"' EXIT
# helm keeps its own caches and settings under these; nothing outside $out is touched.
export HELM_CACHE_HOME="$out/helm/cache" HELM_CONFIG_HOME="$out/helm/config" HELM_DATA_HOME="$out/helm/data"
chart="$here/chart"

value_sets=(default)
for f in "$here"/examples/*.yaml; do value_sets+=("$f"); done

for set in "${value_sets[@]}"; do
  name=${set##*/}
  args=()
  [[ $set != default ]] && args=(-f "$set")
  "$helm" lint --strict --quiet "$chart" "${args[@]}" >"$out/lint.log" 2>&1 || { cat "$out/lint.log" >&2; die "helm lint refused the chart with $name"; }
  for version in "${KUBERNETES_VERSIONS[@]}"; do
    rendered="$out/${name%.yaml}-$version.yaml"
    "$helm" template audits "$chart" --namespace fiberscope --kube-version "$version" "${args[@]}" >"$rendered" ||
      die "helm template failed with $name for Kubernetes $version"
    "$validate" --strict --quiet -k "$version" "$rendered" || die "$name: rendered objects do not match the Kubernetes $version schemas"
  done
  kinds=$(grep -c '^kind:' "$rendered")
  say "$name: $kinds objects valid against Kubernetes ${KUBERNETES_VERSIONS[*]} (strict)"
done

# Renders the chart must refuse, each with the reason it names.
refuse() {
  local reason=$1
  shift
  if "$helm" template audits "$chart" --kube-version "${KUBERNETES_VERSIONS[-1]}" "$@" >/dev/null 2>"$out/refused.log"; then die "helm template accepted $*: expected a refusal ($reason)"; fi
  grep -q "$reason" "$out/refused.log" || { cat "$out/refused.log" >&2; die "helm template refused $* for another reason than '$reason'"; }
  say "refused as expected: $*"
}
refuse 'must exceed worker.shutdownGraceSeconds' --set worker.shutdownGraceSeconds=200
refuse 'must be a DNS label' --set 'sampling.pools[0].name=GPU_pool'
