package plugin

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// whyMatched is the policies `kubectl incident why` judges as routing the
// incident, in routing order.
var whyMatched = regexp.MustCompile(`(?m)^  (?:ClusterEscalationPolicy )?(\S+) \(priority -?\d+[^)]*\): matched`)

// why gives the operator's verdict on every sample incident: the policies
// it judges matched are those the operator routed each to, in order,
// cluster policy included, and a policy that matches on the incident's
// assets is judged as the operator routes it, on the same asset. why runs
// as someone who may read everything the operator reads (cluster
// policies, the namespace's labels, departments); what a namespace's
// responder cannot read, why says it cannot (TestWhyWithoutTheNamespacesLabels).
func TestWhyAgreesWithTheOperatorOnTheSamples(t *testing.T) {
	const ns = "samples-why"
	mustKubectl(t, "create", "namespace", ns)
	mustKubectl(t, "label", "namespace", ns, "security.incidentops.io/organisation=council")
	// A policy that matches on the assets: suppliers reached only through
	// a named contact (STW 3.1), which the finance laptop's is.
	applyYAML(t, ns, `
apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: named-contact-suppliers}
spec:
  priority: 80
  continue: true
  match: {assets: {contactVia: NamedContact}}
  escalation: {levels: [{notify: [{role: Supplier}]}]}
`)
	samples := filepath.Join(testenv.RepoRoot(), "config", "samples")
	mustKubectl(t, "-n", ns, "apply", "-k", samples)
	t.Cleanup(func() {
		_, _ = kubectl("delete", "clusterescalationpolicy", "personal-data-breach", "--ignore-not-found")
		_, _ = kubectl("delete", "regulatoryregime", "sector-regulator", "--ignore-not-found")
	})
	incidents := strings.Fields(mustKubectl(t, "-n", ns, "get", "incidents", "-o", "jsonpath={.items[*].metadata.name}"))
	if len(incidents) < 3 {
		t.Fatalf("the samples hold %d incidents: %v", len(incidents), incidents)
	}
	for _, name := range incidents {
		// A policy applied with the incidents may join their routing a
		// moment later: the two must come to agree, and stay agreed.
		var out string
		eventually(t, 60*time.Second, func() error {
			routed := strings.Fields(jsonpath(t, ns, "incident/"+name, ".status.policies[*].name"))
			out = succeeds(t, "", "why", name, "-n", ns)
			var judged []string
			for _, m := range whyMatched.FindAllStringSubmatch(out, -1) {
				judged = append(judged, m[1])
			}
			if len(routed) == 0 || !slices.Equal(judged, routed) {
				return fmt.Errorf("%s: why judges %v matched, the operator routed it to %v:\n%s", name, judged, routed, out)
			}
			return nil
		})
		asset := jsonpath(t, ns, "incident/"+name, `.status.policies[?(@.name=="named-contact-suppliers")].matchedAsset`)
		switch {
		case asset != "" && !strings.Contains(out, "named-contact-suppliers (priority 80, continue): matched (on asset "+asset+")"):
			t.Errorf("%s: the operator matched named-contact-suppliers on asset %s; why says:\n%s", name, asset, out)
		case asset == "" && strings.Contains(out, "named-contact-suppliers (priority 80, continue): matched"):
			t.Errorf("%s: why matches named-contact-suppliers, the operator did not:\n%s", name, out)
		}
	}
	// The lost laptop's supplier is reached through a named contact: the
	// asset policy routes it, and why names the clause that held.
	out := succeeds(t, "", "why", "lost-laptop-fin-0142", "-n", ns)
	if !strings.Contains(out, "held      assets: wants an asset with supplier contacted via NamedContact; the incident names laptop-fin-0142") {
		t.Errorf("why does not explain the assets clause:\n%s", out)
	}
}
