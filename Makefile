# incident-operator

KUBE_VERSION ?= 1.37.0
ETCD_VERSION ?= 3.6.16
CONTROLLER_TOOLS_VERSION ?= v0.23.0
HELM_VERSION ?= v4.3.1
IMG ?= ghcr.io/incidentops/incident-operator:v0.1.0
# What the binary and the image say they are: --version and the OCI labels.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
VERSION_PKG = github.com/incidentops/incident-operator/internal/version
LDFLAGS = -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(COMMIT)

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
HELM ?= $(LOCALBIN)/helm
# promtool runs the alerting rules' tests (config/monitoring); built from
# the Prometheus release whose rule format the rules are written in.
PROMTOOL ?= $(LOCALBIN)/promtool
PROMETHEUS_VERSION ?= v0.316.0
CHART_DIR ?= charts/incident-operator
REGIMES_CHART_DIR ?= charts/incident-operator-regimes
ENVTEST_DIR ?= $(LOCALBIN)/k8s/$(KUBE_VERSION)
# kubectl from the machine when it has one, else the one hack/ builds.
KUBECTL ?= $(shell command -v kubectl 2>/dev/null || echo $(ENVTEST_DIR)/kubectl)
GO ?= go
GOTEST_FLAGS ?= -count=1 -timeout=30m

export KUBEBUILDER_ASSETS := $(ENVTEST_DIR)
export KUBECTL
export HELM
export PROMTOOL

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs and the RBAC ClusterRole from markers, and copy them into the Helm chart.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	$(MAKE) -s chart

# The chart installs what config/ holds, copied here, never edited by hand:
# its templates add the release's names, labels and the CRDs' keep policy.
.PHONY: chart
chart: ## Copy the CRDs, RBAC, admission policies, monitoring and regimes from config/ into the Helm charts.
	rm -rf $(CHART_DIR)/files $(REGIMES_CHART_DIR)/files
	mkdir -p $(REGIMES_CHART_DIR)/files/regimes
	cp $$(ls config/regimes/*.yaml | grep -v '/kustomization.yaml$$') $(REGIMES_CHART_DIR)/files/regimes/
	mkdir -p $(CHART_DIR)/files/crd $(CHART_DIR)/files/rbac $(CHART_DIR)/files/admission $(CHART_DIR)/files/monitoring
	cp config/crd/bases/*.yaml $(CHART_DIR)/files/crd/
	cp $$(ls config/rbac/*.yaml | grep -v '/kustomization.yaml$$') $(CHART_DIR)/files/rbac/
	cp $$(ls config/admission/*.yaml | grep -v '/kustomization.yaml$$') $(CHART_DIR)/files/admission/
	cp config/monitoring/prometheusrule.yaml config/monitoring/grafana-dashboard.json $(CHART_DIR)/files/monitoring/

.PHONY: generate
generate: controller-gen ## Generate the DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

# Everything controller-gen writes; verify-generated fingerprints it before
# and after regenerating, so it judges the generated files, not the git state.
GENERATED_FINGERPRINT = find api config/crd config/rbac $(CHART_DIR)/files $(REGIMES_CHART_DIR)/files -type f | sort | xargs sha256sum | sha256sum

.PHONY: verify-generated
verify-generated: controller-gen ## Fail when generated files are stale.
	@before="$$($(GENERATED_FINGERPRINT))"; \
	$(MAKE) -s manifests generate; \
	if [ "$$before" != "$$($(GENERATED_FINGERPRINT))" ]; then \
		echo "Generated files were stale; 'make manifests generate' changed:"; \
		git status --porcelain -- api config $(CHART_DIR) $(REGIMES_CHART_DIR); exit 1; \
	fi

.PHONY: fmt
fmt: ## Run gofmt.
	$(GO) fmt ./...

.PHONY: vet
vet: ## Run go vet, and fail on files gofmt would change.
	$(GO) vet ./...
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi

# Every test binary that runs the operator, as its ServiceAccount, records
# the grants its requests used here; test-rbac-used then fails on a grant
# of the shipped RBAC that no test used.
export OPERATOR_GRANTS_USED_DIR ?= $(LOCALBIN)/grants-used

.PHONY: test
test: envtest verify-generated vet test-rules grants-used-reset test-unit fuzz test-integration test-e2e test-chart test-image test-deploy test-gitops bench-short test-rbac-used ## Everything a contributor needs before a change lands.

.PHONY: grants-used-reset
grants-used-reset:
	rm -rf $(OPERATOR_GRANTS_USED_DIR)

.PHONY: test-rbac-used
test-rbac-used: ## After the tests that run the operator: fail on a grant of its shipped RBAC that none of them used.
	$(GO) test $(GOTEST_FLAGS) -v -run TestEveryGrantOfTheOperatorIsUsed ./test/rbac/...

.PHONY: test-rules
test-rules: ## The repository's own rules: pure packages import no Kubernetes client, cmd/ never imports controllers/, and make test runs every package that has tests.
	$(GO) test $(GOTEST_FLAGS) ./test/imports/... ./test/packages/...

.PHONY: test-unit
test-unit: $(PROMTOOL) s3server ## Unit tests of the pure packages, the plugin's commands, the Argo CD health checks on stored objects and the alerting rules.
	$(GO) test $(GOTEST_FLAGS) ./api/... ./internal/... ./config/... ./cmd/...

# The S3-compatible server the archive's tests run against, on loopback.
VERSITYGW_VERSION ?= v1.8.0
export VERSITYGW := $(LOCALBIN)/versitygw

.PHONY: s3server
s3server: ## Build the S3-compatible server (Versity S3 Gateway) the archive's tests run against into bin/versitygw.
	VERSITYGW_VERSION=$(VERSITYGW_VERSION) LOCALBIN=$(LOCALBIN) GO=$(GO) hack/build-s3.sh >/dev/null

# Each fuzz target runs briefly past its seed corpus (which test-unit runs).
# Minimising a new input is capped, so that the time goes to executions;
# each target prints how many it ran, and fails if it ran none. Go's fuzzer
# sometimes ends a run with "context deadline exceeded" when a worker is
# mid-input at FUZZTIME, having found nothing: such a run is tried once
# more; a failing input always fails.
FUZZTIME ?= 5s
FUZZMINIMIZETIME ?= 1s
FUZZ_TARGETS ?= ./api/v1alpha1:FuzzDuration ./internal/calendar:FuzzCalendar ./internal/routing:FuzzCompileExpression ./internal/notify:FuzzRender ./internal/audit:FuzzVerify ./internal/audit:FuzzVerifyJSON ./internal/translog:FuzzDecodeBatch ./internal/policycheck:FuzzAllowedDestination

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME beyond its seed corpus, and print its executions.
	@for target in $(FUZZ_TARGETS); do \
		pkg=$${target%%:*}; fn=$${target##*:}; \
		fuzz() { $(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) $$pkg 2>&1; }; \
		out="$$(fuzz)" || { \
			case "$$out" in *"Failing input"*|*"failing input"*) false;; *"context deadline exceeded"*) echo "fuzz $$fn: run ended at its deadline mid-input, trying once more"; out="$$(fuzz)";; *) false;; esac; \
		} || { echo "$$out"; exit 1; }; \
		execs="$$(echo "$$out" | grep -o 'execs: [0-9]*' | tail -1 | grep -o '[0-9]*')"; \
		echo "fuzz $$fn in $$pkg: $${execs:-0} executions in $(FUZZTIME)"; \
		[ "$${execs:-0}" -gt 0 ] || { echo "$$out"; echo "fuzz $$fn ran no executions"; exit 1; }; \
	done

.PHONY: test-integration
test-integration: envtest ## Controller tests against a real kube-apiserver and etcd.
	$(GO) test $(GOTEST_FLAGS) ./controllers/...

.PHONY: test-e2e
test-e2e: envtest $(KUBECTL) ## End-to-end and failure tests that drive kubectl and the operator binary.
	$(GO) test $(GOTEST_FLAGS) ./test/e2e/... ./test/plugin/... ./test/chaos/... ./test/validation/... ./test/access/...

.PHONY: test-chart
test-chart: envtest helm $(KUBECTL) ## helm lint, and the chart against config/ and a real API server enforcing Pod Security restricted.
	$(HELM) lint --strict $(CHART_DIR)
	$(HELM) lint --strict $(REGIMES_CHART_DIR)
	$(GO) test $(GOTEST_FLAGS) ./test/chart/...

.PHONY: test-image
test-image: envtest ## Build the image with make image, unpack it, run its operator in its own root filesystem; the Dockerfile must agree.
	$(GO) test $(GOTEST_FLAGS) ./test/image/...

.PHONY: test-deploy
test-deploy: envtest ## make deploy, undeploy and uninstall against a real API server: incidents survive unless CONFIRM=yes.
	$(GO) test $(GOTEST_FLAGS) ./test/deploy/...

.PHONY: test-gitops
test-gitops: envtest ## The Argo CD health checks and kstatus on what the running operator writes (-update stores it as fixtures).
	$(GO) test $(GOTEST_FLAGS) ./test/gitops/...

.PHONY: bench-short
bench-short: envtest ## The benchmark harness at a small scale, so that it cannot rot.
	$(GO) test $(GOTEST_FLAGS) -short ./test/bench/...

.PHONY: bench
bench: envtest ## The benchmark harness: throughput against the API floor, latency, cost, timers, permanent errors (about 8 minutes).
	BENCH_REPORT=$(LOCALBIN)/bench.txt $(GO) test -count=1 -timeout=90m -v -run 'TestHarness|TestPolicyTestReaction' ./test/bench/...

# A one-node cluster of the real binaries (the kubelet with containerd and
# runc from Debian's packages, kube-proxy, the controller-manager and the
# scheduler) running the chart with the image make image builds. It needs
# root, so it is not part of make test.
.PHONY: test-node
test-node: envtest node helm image $(KUBECTL) ## The chart's two replicas as Pods on a real kubelet: probes, leader election and failover, metrics, helm upgrade, an incident end to end (root; installs containerd, runc and CNI plugins with apt-get when missing).
	hack/node/install-packages.sh
	IMG=$(IMG) IMAGE_ARCHIVE=$(IMAGE_ARCHIVE) $(GO) test $(GOTEST_FLAGS) -v ./test/node/...

##@ Build

.PHONY: build
build: ## Build the operator into bin/manager and the kubectl incident plugin into bin/kubectl-incident.
	$(GO) build -ldflags '$(LDFLAGS)' -o $(LOCALBIN)/manager .
	$(GO) build -o $(LOCALBIN)/kubectl-incident ./cmd/kubectl-incident

# The image is dated at the commit, so that one commit builds the same bytes.
IMAGE_ARCHIVE ?= $(LOCALBIN)/incident-operator-image.tar
IMAGE_CREATED ?= $(shell git log -1 --format=%cI 2>/dev/null || echo 1970-01-01T00:00:00Z)
IMAGE_SOURCE ?= https://github.com/incidentops/incident-operator
IMAGE_ARCH ?= $(shell $(GO) env GOARCH)
CA_CERTIFICATES ?= /etc/ssl/certs/ca-certificates.crt

.PHONY: image
image: ## Build the operator image IMG offline, from an empty base, into bin/incident-operator-image.tar (an OCI layout; docker load reads it too); it holds the witness too.
	mkdir -p $(LOCALBIN)/image
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $(LOCALBIN)/image/manager .
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build -trimpath -ldflags '-s -w' -o $(LOCALBIN)/image/witness ./cmd/witness
	$(GO) run ./hack/image --binary=$(LOCALBIN)/image/manager --witness=$(LOCALBIN)/image/witness --ca-certificates=$(CA_CERTIFICATES) --arch=$(IMAGE_ARCH) \
		--version=$(VERSION) --revision=$(COMMIT) --source=$(IMAGE_SOURCE) --created=$(IMAGE_CREATED) \
		--tag=$(IMG) --out=$(IMAGE_ARCHIVE)

.PHONY: run
run: manifests generate ## Run the operator against the current kubeconfig.
	$(GO) run . --metrics-bind-address=:8080 --health-probe-bind-address=:8081

.PHONY: dev
dev: envtest build ## Start a local control plane, the samples, a notification sink and the operator.
	$(GO) build -o $(LOCALBIN)/notification-sink ./hack/notification-sink
	KUBECTL=$(KUBECTL) ENVTEST_DIR=$(ENVTEST_DIR) LOCALBIN=$(LOCALBIN) hack/dev.sh

##@ Deployment

# The CRDs the project ships, by name: incidents.security.incidentops.io, ...
CRD_PLURALS = $(shell ls config/crd/bases | sed -e 's/^security.incidentops.io_\(.*\).yaml$$/\1.security.incidentops.io/')

.PHONY: install
install: manifests ## Install the CRDs, the admission policies and the regulatory regimes into the current cluster.
	$(KUBECTL) apply --server-side -k config/crd
	$(KUBECTL) wait --for condition=established --timeout=60s \
		$(addprefix crd/,$(CRD_PLURALS))
	$(KUBECTL) apply --server-side -k config/admission
	$(KUBECTL) apply --server-side -k config/regimes

# Deleting a CRD deletes every object of its kind in every namespace, with
# no admission policy asked: the organisation's incidents, evidence and audit
# trails, legal hold or not. Only a target that says so does it.
.PHONY: uninstall-crds-and-delete-all-incidents
uninstall-crds-and-delete-all-incidents: ## DESTROYS every Incident, Evidence, AuditTrail and the rest: removes the CRDs and admission policies. Needs CONFIRM=yes.
	@echo "This deletes the CRDs of incident-operator and with them, in every namespace and whatever their"
	@echo "legal hold, without recording it in any audit trail (the trails go too):"
	@for crd in $(CRD_PLURALS); do \
		printf '  %6s %s\n' "$$($(KUBECTL) get $$crd --all-namespaces --no-headers --ignore-not-found 2>/dev/null | wc -l)" "$$crd"; \
	done
	@if [ "$(CONFIRM)" != yes ]; then \
		echo "Nothing was deleted. Export what you must keep (kubectl get incidents,evidences,audittrails -A -o yaml), then run:"; \
		echo "  make uninstall-crds-and-delete-all-incidents CONFIRM=yes"; \
		exit 1; \
	fi
	$(KUBECTL) delete --ignore-not-found -k config/admission
	$(KUBECTL) delete --ignore-not-found --wait=false -k config/crd
	@# An incident keeps the audit-trail finalizer until the operator records
	@# its deletion in its trail, which cannot be done once the AuditTrail
	@# kind goes with the rest; without this the CRDs would never go.
	$(KUBECTL) get incidents.security.incidentops.io --all-namespaces --ignore-not-found \
		-o jsonpath='{range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}' | \
	while read -r namespace name; do \
		$(KUBECTL) patch incidents.security.incidentops.io -n "$$namespace" "$$name" --type=merge -p '{"metadata":{"finalizers":null}}'; \
	done
	$(KUBECTL) wait --for=delete --timeout=120s $(addprefix crd/,$(CRD_PLURALS))

.PHONY: uninstall
uninstall: uninstall-crds-and-delete-all-incidents ## The same, under its old name: asks for CONFIRM=yes.

# deploy-manifests writes config/default with the image IMG to bin/deploy;
# `make deploy` applies it.
.PHONY: deploy-manifests
deploy-manifests:
	rm -rf $(LOCALBIN)/deploy && mkdir -p $(LOCALBIN)/deploy && cp -r config $(LOCALBIN)/deploy/
	@# Drop the images block (to the next top-level key), keep the rest.
	sed -i '/^images:/,/^[^ -]/{/^images:/d;/^[ -]/d}' $(LOCALBIN)/deploy/config/manager/kustomization.yaml
	hack/kustomize-image.sh '$(IMG)' >>$(LOCALBIN)/deploy/config/manager/kustomization.yaml

.PHONY: deploy
deploy: manifests deploy-manifests ## Deploy the operator with config/default (image IMG, such as registry.local:5000/incident-operator:v1 or name@sha256:...).
	$(KUBECTL) apply --server-side -k $(LOCALBIN)/deploy/config/default
	$(KUBECTL) apply --server-side -k config/admission
	$(KUBECTL) wait --for condition=established --timeout=60s crd/regulatoryregimes.security.incidentops.io
	$(KUBECTL) apply --server-side -k config/regimes

.PHONY: undeploy
undeploy: ## Remove the operator (Deployment, SMTP ConfigMap, RBAC, ServiceAccount); keeps the CRDs, every Incident, the admission policies and the namespace with the audit signing key.
	$(KUBECTL) kustomize config/default | hack/operator-objects.sh | $(KUBECTL) delete --ignore-not-found -f -

##@ Tools

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd (and kubectl where missing) into bin/k8s/.
	KUBE_VERSION=$(KUBE_VERSION) ETCD_VERSION=$(ETCD_VERSION) ENVTEST_DIR=$(ENVTEST_DIR) GO=$(GO) hack/build-control-plane.sh >/dev/null

.PHONY: node
node: ## Build the kubelet, kube-proxy, kube-controller-manager and kube-scheduler into bin/k8s/ (about 20 minutes the first time).
	KUBE_VERSION=$(KUBE_VERSION) ENVTEST_DIR=$(ENVTEST_DIR) GO=$(GO) WITH_NODE=1 hack/build-control-plane.sh >/dev/null

$(ENVTEST_DIR)/kubectl:
	KUBE_VERSION=$(KUBE_VERSION) ENVTEST_DIR=$(ENVTEST_DIR) GO=$(GO) WITH_KUBECTL=1 hack/build-control-plane.sh >/dev/null

.PHONY: helm
helm: $(HELM) ## Build helm into bin/.
$(HELM):
	GOBIN=$(LOCALBIN) $(GO) install -ldflags "-X helm.sh/helm/v4/internal/version.version=$(HELM_VERSION)" helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)

.PHONY: promtool
promtool: $(PROMTOOL) ## Build promtool into bin/ (several minutes the first time).
$(PROMTOOL):
	GOBIN=$(LOCALBIN) $(GO) install github.com/prometheus/prometheus/cmd/promtool@$(PROMETHEUS_VERSION)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
