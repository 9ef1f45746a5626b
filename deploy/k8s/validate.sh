#!/usr/bin/env bash
# Offline validation of the Kubernetes manifests against the Kubernetes schemas (no cluster, no network once
# installed). The validator (validate.mjs) needs two npm packages, installed into <repo>/.cache/k8s-validate:
#
#   deploy/k8s/validate.sh --install                      install them if missing (idempotent; scripts/test.sh runs it)
#   deploy/k8s/validate.sh deploy/k8s/overlays/dev        render with `kubectl kustomize` and validate
#   kubectl kustomize deploy/k8s/base | deploy/k8s/validate.sh      validate rendered YAML from stdin
#
# Any other arguments after the directory (or alone, e.g. --json) are passed to validate.mjs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${CODEXLB_K8S_VALIDATE_DIR:-$root/.cache/k8s-validate}
export CODEXLB_K8S_VALIDATE_DIR=$cache

kubernetes_models_version=5.1.0
yaml_version=2.9.1

installed_version() { # package name -> installed version, or nothing
  local file="$cache/node_modules/$1/package.json"
  [ -f "$file" ] && node -p "require(process.argv[1]).version" "$file" 2>/dev/null || true
}

install() {
  if [ "$(installed_version kubernetes-models)" = "$kubernetes_models_version" ] && [ "$(installed_version yaml)" = "$yaml_version" ]; then
    return 0
  fi
  command -v npm >/dev/null 2>&1 || { echo "validate.sh: npm is required to install the validator" >&2; return 1; }
  echo "installing kubernetes-models@$kubernetes_models_version yaml@$yaml_version into $cache" >&2
  mkdir -p "$cache"
  [ -f "$cache/package.json" ] || echo '{ "name": "codexlb-k8s-validate", "private": true }' > "$cache/package.json"
  (cd "$cache" && npm install --no-audit --no-fund --loglevel=error --save-exact \
    "kubernetes-models@$kubernetes_models_version" "yaml@$yaml_version" >&2)
}

if [ "${1:-}" = "--install" ]; then
  install
  exit $?
fi

command -v node >/dev/null 2>&1 || { echo "validate.sh: node is required" >&2; exit 1; }
install

if [ $# -gt 0 ] && [ -d "$1" ]; then
  dir=$1; shift
  command -v kubectl >/dev/null 2>&1 || { echo "validate.sh: kubectl (with kustomize) is required to render $dir" >&2; exit 1; }
  rendered=$(kubectl kustomize "$dir")
  printf '%s\n' "$rendered" | node "$here/validate.mjs" "$@"
else
  node "$here/validate.mjs" "$@"
fi
