#!/usr/bin/env bash
# Builds the control-plane binaries the tests and `make dev` run against:
# kube-apiserver from k8s.io/kubernetes and etcd from go.etcd.io/etcd/server/v3.
# Both come from the Go module proxy only, each built in a throwaway module.
# WITH_NODE=1 adds what `make test-node` runs a real node with: the kubelet,
# kube-proxy (Services, the API server's own among them, from the Pods),
# kube-controller-manager (Deployments, ReplicaSets, ServiceAccount tokens'
# cleanup, the node lifecycle) and kube-scheduler, built together from the
# same module.
# Idempotent: a binary that is already built is skipped, except a
# kube-apiserver or kubectl that does not report v$KUBE_VERSION (built before
# the version was stamped, or for another version), which is rebuilt.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-1.37.0}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ENVTEST_DIR:-$ROOT/bin/k8s/$KUBE_VERSION}"
GO="${GO:-go}"

staging_version() { echo "0.${KUBE_VERSION#1.}"; }

# kube_ldflags stamps the version the way Kubernetes' own build does
# (hack/lib/version.sh); without it the binaries report
# v0.0.0-master+$Format:%H$, which kubectl cannot parse. The module proxy
# serves source without git metadata, as a release tarball does: the tree
# state is "archive", the commit unknown, the build date the release's.
kube_ldflags() {
  local build_date major minor flags="-s -w" pkg key
  build_date="$("$GO" mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/.*"Time": "\(.*\)",*/\1/p')"
  major="${KUBE_VERSION%%.*}"
  minor="${KUBE_VERSION#*.}"
  minor="${minor%%.*}"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    for key in "gitVersion=v$KUBE_VERSION" "gitMajor=$major" "gitMinor=$minor" \
      "gitTreeState=archive" "gitCommit=" "buildDate=$build_date"; do
      flags+=" -X $pkg.$key"
    done
  done
  echo "$flags"
}

# stamped is true when the binary reports the version it should.
stamped() {
  local bin="$1" want="$2"
  [[ -x "$bin" ]] && [[ "$("$bin" "${@:3}" 2>/dev/null)" == *"$want"* ]]
}

log() { printf '[control-plane] %s\n' "$*" >&2; }

mkdir -p "$OUT"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# prepare_kubernetes_module makes a throwaway module that requires
# k8s.io/kubernetes with its staging modules pinned to the published release.
prepare_kubernetes_module() {
  local dir="$work/kube-apiserver" staging gomod
  staging="v$(staging_version)"
  mkdir -p "$dir"
  (
    cd "$dir"
    "$GO" mod init local/build-kubernetes >/dev/null 2>&1
    # k8s.io/kubernetes points its staging modules at ./staging; pin each one
    # to the published release instead, using the list from its own go.mod.
    gomod="$("$GO" mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
    {
      echo "replace ("
      sed -n 's#^\s*\(k8s\.io/[a-z0-9.-]*\) => \./staging/.*#\t\1 => \1 '"$staging"'#p' "$gomod"
      echo ")"
    } >>go.mod
  )
}

build_kube_apiserver() {
  if apiserver_ready; then
    log "kube-apiserver v$KUBE_VERSION already built in $OUT"
    return
  fi
  log "building kube-apiserver v$KUBE_VERSION (takes about 5 to 9 minutes on 2 cores the first time)"
  (
    cd "$work/kube-apiserver"
    "$GO" get "k8s.io/kubernetes/cmd/kube-apiserver@v$KUBE_VERSION" >/dev/null 2>&1 || "$GO" get "k8s.io/kubernetes/cmd/kube-apiserver@v$KUBE_VERSION"
    CGO_ENABLED=0 "$GO" build -trimpath -ldflags="$(kube_ldflags)" -o "$OUT/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
    mv "$OUT/kube-apiserver.tmp" "$OUT/kube-apiserver"
  )
  log "kube-apiserver ready: $OUT/kube-apiserver"
}

build_etcd() {
  if [[ -x "$OUT/etcd" ]]; then
    log "etcd v$ETCD_VERSION already built in $OUT"
    return
  fi
  log "building etcd v$ETCD_VERSION (about 30 seconds)"
  local dir="$work/etcd"
  mkdir -p "$dir"
  (
    cd "$dir"
    "$GO" mod init local/build-etcd >/dev/null 2>&1
    cat >>go.mod <<MOD
replace (
	go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 v$ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 v$ETCD_VERSION
	go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 v$ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 v$ETCD_VERSION
	go.etcd.io/etcd/server/v3 => go.etcd.io/etcd/server/v3 v$ETCD_VERSION
)
MOD
    "$GO" get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >/dev/null 2>&1 || "$GO" get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
    CGO_ENABLED=0 "$GO" build -trimpath -ldflags='-s -w' -o "$OUT/etcd.tmp" go.etcd.io/etcd/server/v3
    mv "$OUT/etcd.tmp" "$OUT/etcd"
  )
  log "etcd ready: $OUT/etcd"
}

# kubectl is usually a system package; build it only when asked to.
build_kubectl() {
  if kubectl_ready; then
    log "kubectl v$KUBE_VERSION already built in $OUT"
    return
  fi
  log "building kubectl v$KUBE_VERSION (a few minutes)"
  local dir="$work/kube-apiserver"
  (
    cd "$dir"
    "$GO" get "k8s.io/kubernetes/cmd/kubectl@v$KUBE_VERSION" >/dev/null 2>&1 || "$GO" get "k8s.io/kubernetes/cmd/kubectl@v$KUBE_VERSION"
    CGO_ENABLED=0 "$GO" build -trimpath -ldflags="$(kube_ldflags)" -o "$OUT/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl
    mv "$OUT/kubectl.tmp" "$OUT/kubectl"
  )
  log "kubectl ready: $OUT/kubectl"
}

# build_node builds them in one go build, so that they share its work;
# the kubelet alone takes about 20 minutes on 2 cores the first time.
build_node() {
  if node_ready; then
    log "$NODE_COMMANDS v$KUBE_VERSION already built in $OUT"
    return
  fi
  log "building $NODE_COMMANDS v$KUBE_VERSION (about 20 minutes on 2 cores the first time)"
  local dir="$work/kube-apiserver" cmd pkgs=()
  (
    cd "$dir"
    for cmd in $NODE_COMMANDS; do
      "$GO" get "k8s.io/kubernetes/cmd/$cmd@v$KUBE_VERSION" >/dev/null 2>&1 || "$GO" get "k8s.io/kubernetes/cmd/$cmd@v$KUBE_VERSION"
      pkgs+=("k8s.io/kubernetes/cmd/$cmd")
    done
    mkdir -p "$work/node-bin"
    CGO_ENABLED=0 "$GO" build -trimpath -ldflags="$(kube_ldflags)" -o "$work/node-bin/" "${pkgs[@]}"
    for cmd in $NODE_COMMANDS; do
      mv "$work/node-bin/$cmd" "$OUT/$cmd"
    done
  )
  log "node binaries ready in $OUT: $NODE_COMMANDS"
}

NODE_COMMANDS="kubelet kube-controller-manager kube-scheduler kube-proxy"

node_ready() {
  local cmd
  for cmd in $NODE_COMMANDS; do
    stamped "$OUT/$cmd" "Kubernetes v$KUBE_VERSION" --version || return 1
  done
}

apiserver_ready() { stamped "$OUT/kube-apiserver" "Kubernetes v$KUBE_VERSION" --version; }
kubectl_ready() { stamped "$OUT/kubectl" "\"gitVersion\": \"v$KUBE_VERSION\"" version --client --output=json; }

build_etcd
if ! apiserver_ready; then
  prepare_kubernetes_module
elif [[ "${WITH_KUBECTL:-}" == 1 ]] && ! kubectl_ready; then
  prepare_kubernetes_module
elif [[ "${WITH_NODE:-}" == 1 ]] && ! node_ready; then
  prepare_kubernetes_module
fi
build_kube_apiserver
if [[ "${WITH_KUBECTL:-}" == 1 ]]; then
  build_kubectl
fi
if [[ "${WITH_NODE:-}" == 1 ]]; then
  build_node
fi
echo "$OUT"
