#!/usr/bin/env bash
# `make dev`: a local control plane with the CRDs and samples, a notification
# sink that prints what it receives, and the operator running against both.
# Ctrl-C stops everything.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCALBIN="${LOCALBIN:-$ROOT/bin}"
KUBECTL="${KUBECTL:-kubectl}"
SINK_ADDR="${SINK_ADDR:-127.0.0.1:18089}"
SMTP_ADDR="${SMTP_ADDR:-127.0.0.1:18025}"
DEV_DIR="$LOCALBIN/dev"
export KUBECONFIG="$DEV_DIR/kubeconfig"
export KUBEBUILDER_ASSETS="${ENVTEST_DIR:-$LOCALBIN/k8s/1.37.0}"

log() { printf '\033[1m[dev]\033[0m %s\n' "$*" >&2; }

mkdir -p "$DEV_DIR"
rm -f "$KUBECONFIG"
pids=()
cleanup() {
  trap - EXIT INT TERM
  log "stopping"
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

( cd "$ROOT" && go build -o "$LOCALBIN/devcluster" ./hack/devcluster )
log "starting etcd and kube-apiserver"
"$LOCALBIN/devcluster" --write-kubeconfig "$KUBECONFIG" &
pids+=($!)
for _ in $(seq 1 120); do
  [[ -s "$KUBECONFIG" ]] && "$KUBECTL" get --raw /readyz >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { log "the control plane did not start"; exit 1; }
  sleep 0.5
done

log "installing the CRDs"
"$KUBECTL" apply --server-side -k "$ROOT/config/crd" >/dev/null
"$KUBECTL" wait --for condition=established --timeout=60s crd --all >/dev/null
log "installing the roles for people who use incidents"
"$KUBECTL" apply --server-side -f "$ROOT/config/rbac/user_roles.yaml" >/dev/null
# The council's people, for trying the regulator's process as each of
# them (kubectl --as NAME): the Data Protection Officer drafts and files,
# the Assistant Chief Executive (Finance) agrees, a responder from the
# service desk may do neither of the latter.
for binding in dpo:incident-responder ace-finance:incident-filing-approver ace-finance:incident-viewer rita:incident-responder; do
  user=${binding%%:*} role=${binding##*:}
  "$KUBECTL" -n default create rolebinding "$user-$role" --clusterrole="$role" --user="$user" --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
done
log "installing the regulatory regimes (config/regimes)"
"$KUBECTL" apply --server-side -k "$ROOT/config/regimes" >/dev/null

log "installing the admission policies"
"$KUBECTL" apply --server-side -k "$ROOT/config/admission" >/dev/null
# A policy acts a moment after it is created; until the one that writes the
# reporter's account acts, creating an incident is refused.
for _ in $(seq 1 60); do
  "$KUBECTL" create --dry-run=server -f "$ROOT/config/samples/security_v1alpha1_incident.yaml" >/dev/null 2>&1 && break
  sleep 0.5
done

log "starting the notification sink on http://$SINK_ADDR and smtp://$SMTP_ADDR"
"$LOCALBIN/notification-sink" --listen "$SINK_ADDR" --smtp-listen "$SMTP_ADDR" &
pids+=($!)

# The operator's own namespace holds its audit log key, which it creates
# and publishes, and the Secrets of the council-wide policy's receivers.
"$KUBECTL" create namespace incident-operator-system --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
# The council's ClusterEscalationPolicy applies to the namespaces labelled
# for the council; the samples' department lives in default.
"$KUBECTL" label namespace default security.incidentops.io/organisation=council --overwrite >/dev/null

log "pointing the sample receivers at the sink and applying the samples"
for secret in internal-audit-webhook:incident-operator-system service-desk-webhook:default line-managers-webhook:default; do
  name=${secret%%:*} namespace=${secret##*:}
  "$KUBECTL" -n "$namespace" create secret generic "$name" --from-literal=url="http://$SINK_ADDR/$name" --dry-run=client -o yaml |
    "$KUBECTL" label --local -f - -o yaml security.incidentops.io/notification-secret=true | "$KUBECTL" apply -f - >/dev/null
done
"$KUBECTL" apply -k "$ROOT/config/samples"

log "installing the operator's ServiceAccount and RBAC as config/default does"
# The operator runs as it is shipped: as its own ServiceAccount, with the
# roles config/rbac grants it, named and placed as config/default names
# and places them (the Deployment itself has no node to run on here).
mkdir -p "$DEV_DIR/rbac"
cat >"$DEV_DIR/rbac/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: incident-operator-system
namePrefix: incident-operator-
resources:
  - $(realpath --relative-to="$DEV_DIR/rbac" "$ROOT/config/rbac")
YAML
"$KUBECTL" apply -k "$DEV_DIR/rbac" >/dev/null
OPERATOR_KUBECONFIG="$DEV_DIR/operator-kubeconfig"
"$KUBECTL" config view --raw --minify --flatten >"$OPERATOR_KUBECONFIG"
KUBECONFIG="$OPERATOR_KUBECONFIG" "$KUBECTL" config set-credentials incident-operator \
  --token="$("$KUBECTL" -n incident-operator-system create token incident-operator-controller-manager --duration=168h)" >/dev/null
KUBECONFIG="$OPERATOR_KUBECONFIG" "$KUBECTL" config set-context --current --user=incident-operator >/dev/null

log "starting the operator"
# The sink listens on loopback, which the operator refuses unless told.
KUBECONFIG="$OPERATOR_KUBECONFIG" "$LOCALBIN/manager" --metrics-bind-address=127.0.0.1:18443 --health-probe-bind-address=127.0.0.1:18081 --allow-loopback-destinations \
  --smtp-address="$SMTP_ADDR" --smtp-from="Incident operator <incidents@example.org>" --smtp-security=none \
  --audit-sink-url="http://$SINK_ADDR/audit" --operator-namespace=incident-operator-system \
  --zap-log-level=info >"$DEV_DIR/operator.log" 2>&1 &
pids+=($!)

# The samples' own cases, run offline by the plugin on the policies just
# applied: a change to config/samples that breaks one of their rules shows
# here. A failing case is reported, not fatal: the cluster stays up to look
# into it. The results are printed in one piece with what follows, so that
# the sink's first notifications do not cut through them.
policy_tests() {
  local out status=0
  out=$(cd "$ROOT" && "$LOCALBIN/kubectl-incident" test "$@" 2>&1) || status=$?
  log "kubectl incident test $*"
  printf '%s\n' "$out" >&2
  ((status == 0)) || log "the cases above failed (exit $status); the operator runs on"
}
tested=$({
  policy_tests -f config/samples -f config/samples/tests/council.yaml
  policy_tests -f config/samples/company
} 2>&1)

cat >&2 <<MSG
$tested

  The operator is running (log: $DEV_DIR/operator.log). In another terminal:

    export KUBECONFIG=$KUBECONFIG PATH=$LOCALBIN:\$PATH
    kubectl get incidents
    kubectl get incidentops -o wide
    kubectl get clusterescalationpolicies

  The kubectl incident plugin (bin/kubectl-incident) is on that PATH:

    kubectl incident list
    kubectl incident why lost-laptop-fin-0142
    kubectl incident timeline lost-laptop-fin-0142
    kubectl incident audit verify --all
    kubectl incident export --since 7d -o markdown
    kubectl incident report --title "Phishing mail asked for payroll logins" \\
      --category Phishing --severity High --it-related

  The samples' policy cases (printed above), offline, from $ROOT, and the
  incidents stored here replayed through policy files (exit 1 when someone
  told before would not be):

    kubectl incident test -f config/samples -f config/samples/tests/council.yaml
    kubectl incident test -f config/samples/company
    kubectl incident test -f config/samples --replay 1d -A

  The same cases run in the cluster as the sample PolicyTest, again
  whenever a policy, asset or department changes:

    kubectl get policytests

  Every audit entry is streamed to the sink and printed below as "audit ...",
  with its index in the namespace's audit log. Watch the log grow as a
  sample incident is acknowledged and resolved:

    kubectl get auditbatches
    kubectl incident audit key
    kubectl patch incident password-on-sticky-note --type merge \\
      -p '{"spec":{"acknowledgement":{"by":"Service desk"}}}'
    kubectl patch incident password-on-sticky-note --type merge \\
      -p '{"spec":{"resolution":{"state":"Resolved","by":"Service desk","summary":"Password changed"}}}'
    kubectl get incident password-on-sticky-note -o jsonpath='{.status.audit}'

  The two personal data breaches await the decision whether to tell the
  ICO (UK GDPR Art. 33), which two people make (README, "Regulators"):

    kubectl incident obligations lost-laptop-fin-0142
    kubectl incident decide lost-laptop-fin-0142 --stage notification --not-required \\
      --rationale "Encrypted disk; recovery key held centrally" --as dpo
    kubectl incident agree lost-laptop-fin-0142 --stage notification --as ace-finance

  Notifications the sink receives are printed below. Ctrl-C stops everything.

MSG
wait -n "${pids[@]}" || true
log "a component stopped (if not by Ctrl-C, see $DEV_DIR/operator.log)"
