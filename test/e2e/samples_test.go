package e2e

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/incidentops/incident-operator/internal/testenv"
)

func TestSamplesAreRoutedAndNotified(t *testing.T) {
	const ns = "council"
	// The council's cluster policy applies to the namespaces labelled for
	// the council, and reads its receivers' Secrets from the operator's
	// namespace.
	mustKubectl(t, "create", "namespace", ns)
	mustKubectl(t, "label", "namespace", ns, "security.incidentops.io/organisation=council")
	const operatorNS = "incident-operator-system"
	if _, err := kubectl("get", "namespace", operatorNS); err != nil {
		mustKubectl(t, "create", "namespace", operatorNS)
	}
	secrets := map[string]string{"internal-audit-webhook": operatorNS, "service-desk-webhook": ns, "line-managers-webhook": ns}
	for secret, in := range secrets {
		mustKubectl(t, "-n", in, "create", "secret", "generic", secret, "--from-literal=url="+sinkURL+"/"+secret)
		mustKubectl(t, "-n", in, "label", "secret", secret, "security.incidentops.io/notification-secret=true")
	}
	mustKubectl(t, "-n", ns, "apply", "-k", filepath.Join(testenv.RepoRoot(), "config", "samples"))
	mustKubectl(t, "-n", ns, "wait", "--for=condition=Ready", "--timeout=60s", "incidents", "--all")
	mustKubectl(t, "-n", ns, "wait", "--for=condition=Ready", "--timeout=60s", "escalationpolicies", "--all")
	mustKubectl(t, "wait", "--for=condition=Ready", "--timeout=60s", "clusterescalationpolicy/personal-data-breach")
	_, cluster := table(t, mustKubectl(t, "get", "clusterescalationpolicies"))
	if row := cluster["personal-data-breach"]; len(row) < 5 || !slices.Equal(row[1:5], []string{"100", "true", "true", "True"}) {
		t.Errorf("kubectl get clusterescalationpolicies: personal-data-breach = %v, want priority 100, continue, protected, Ready", row)
	}
	mustKubectl(t, "-n", ns, "wait", "--for=condition=Ready", "--timeout=60s", "assets", "--all")
	// The council's PolicyTest runs its cases and invariants against the
	// samples as the cluster holds them, and they pass.
	mustKubectl(t, "-n", ns, "wait", "--for=condition=Ready", "--timeout=60s", "policytests", "--all")
	if got := mustKubectl(t, "-n", ns, "get", "policytest", "council-routing", "-o", "jsonpath={.status.passed}/{.status.results[?(@.passed==false)].name}"); got != "4/" {
		t.Errorf("PolicyTest council-routing passed/failing = %s, want 4/ and none failing", got)
	}

	header, rows := table(t, mustKubectl(t, "-n", ns, "get", "incidents"))
	if want := []string{"NAME", "CATEGORY", "SEVERITY", "PHASE", "POLICY", "LEVEL", "READY", "AGE"}; !slices.Equal(header, want) {
		t.Errorf("kubectl get incidents columns = %v, want %v", header, want)
	}
	want := map[string][]string{
		"lost-laptop-fin-0142":    {"Loss", "High", "Open", "personal-data-breach"},
		"letter-wrong-recipient":  {"UnauthorisedDisclosure", "Medium", "Open", "social-care-disclosures"},
		"password-on-sticky-note": {"PasswordExposure", "Low", "Open", "line-managers"},
	}
	for name, cols := range want {
		row, ok := rows[name]
		if !ok {
			t.Errorf("kubectl get incidents has no row %s", name)
			continue
		}
		if got := row[1:5]; !slices.Equal(got, cols) {
			t.Errorf("%s: columns %v, want %v", name, got, cols)
		}
		// Level 0 is shown as 0, not left empty.
		if got := row[5:7]; !slices.Equal(got, []string{"0", "True"}) {
			t.Errorf("%s: LEVEL and READY = %v, want [0 True]", name, got)
		}
	}

	wide := mustKubectl(t, "-n", ns, "get", "incidents", "-o", "wide")
	for _, column := range []string{"TITLE", "REPORTER", "TYPE", "NOTIFIED", "PERSONAL-DATA"} {
		if !strings.Contains(strings.SplitN(wide, "\n", 2)[0], column) {
			t.Errorf("kubectl get incidents -o wide lacks column %s:\n%s", column, wide)
		}
	}
	if !strings.Contains(wide, "Finance laptop left on a train") {
		t.Errorf("-o wide does not show the title:\n%s", wide)
	}

	// Which policies routed each incident, with continue honoured.
	routed := mustKubectl(t, "-n", ns, "get", "incident", "lost-laptop-fin-0142", "-o", "jsonpath={.status.policies[*].name}")
	if routed != "personal-data-breach lost-equipment it-service-desk" {
		t.Errorf("lost laptop routed to %q, want personal-data-breach, lost-equipment, then it-service-desk", routed)
	}
	if kind := mustKubectl(t, "-n", ns, "get", "incident", "lost-laptop-fin-0142", "-o", `jsonpath={.status.policies[?(@.name=="personal-data-breach")].kind}`); kind != "ClusterEscalationPolicy" {
		t.Errorf("personal-data-breach is referenced as kind %q", kind)
	}
	// Adult Social Care's override stops routing, but not the council's
	// protected policy.
	routed = mustKubectl(t, "-n", ns, "get", "incident", "letter-wrong-recipient", "-o", "jsonpath={.status.policies[*].name}")
	if routed != "social-care-disclosures personal-data-breach" {
		t.Errorf("letter routed to %q, want social-care-disclosures, then the protected personal-data-breach only", routed)
	}

	// Four deliveries: two for the laptop, one for the letter, one for the note.
	deadline := time.Now().Add(30 * time.Second)
	for len(notification.Deliveries()) < 4 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	byPath := map[string]int{}
	for _, d := range notification.Deliveries() {
		byPath[d.Path]++
	}
	if want := map[string]int{"/internal-audit-webhook": 2, "/service-desk-webhook": 1, "/line-managers-webhook": 1}; !mapsEqual(byPath, want) {
		t.Errorf("deliveries by receiver = %v, want %v", byPath, want)
	}

	// The data protection officer is mailed about the two personal-data incidents.
	for len(mailbox.Mails()) < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	var subjects []string
	for _, m := range mailbox.Mails() {
		if slices.Equal(m.To, []string{"dpo@example.org"}) {
			subjects = append(subjects, m.Header.Get("Subject"))
		}
	}
	slices.Sort(subjects)
	if want := []string{"Personal data breach: Care plan letter sent to the wrong address", "Personal data breach: Finance laptop left on a train"}; !slices.Equal(subjects, want) {
		t.Errorf("mails to the DPO = %q, want %q", subjects, want)
	}

	// The lost laptop's supplier is reached through its named contact, and
	// its owner and the reporter's line manager are mailed by role.
	for to, about := range map[string]string{
		"mi-manager@example.org": "Finance laptop left on a train", "priya.shah@example.org": "Finance laptop left on a train",
		"tom.okafor@example.org": "Finance laptop left on a train", "caldicott.guardian@example.org": "Care plan letter sent to the wrong address",
	} {
		found := false
		for time.Now().Before(deadline) && !found {
			for _, m := range mailbox.Mails() {
				found = found || (slices.Equal(m.To, []string{to}) && strings.Contains(m.Header.Get("Subject"), about))
			}
			if !found {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if !found {
			t.Errorf("no mail to %s about %q", to, about)
		}
	}

	// One category lists all three kinds; the short names work.
	all := mustKubectl(t, "-n", ns, "get", "incidentops")
	for _, kind := range []string{"asset.security.incidentops.io/laptop-fin-0142", "escalationpolicy.security.incidentops.io/it-service-desk", "incident.security.incidentops.io/lost-laptop-fin-0142"} {
		if !strings.Contains(all, kind) {
			t.Errorf("kubectl get incidentops lacks %s:\n%s", kind, all)
		}
	}
	for _, short := range []string{"inc", "escpol", "ast"} {
		mustKubectl(t, "-n", ns, "get", short)
	}
	// The owner column holds spaces, so read the asset's columns by name.
	_, assets := table(t, mustKubectl(t, "-n", ns, "get", "assets", "-o", "custom-columns=NAME:.metadata.name,STATE:.status.state,OPEN:.status.openIncidents"))
	if row := assets["laptop-fin-0142"]; !slices.Equal(row, []string{"laptop-fin-0142", "Lost", "1"}) {
		t.Errorf("laptop = %v, want Lost with 1 open incident", row)
	}
	if header := strings.Fields(strings.SplitN(mustKubectl(t, "-n", ns, "get", "assets"), "\n", 2)[0]); !slices.Equal(header, []string{"NAME", "TYPE", "OWNER", "STATE", "OPEN", "READY", "AGE"}) {
		t.Errorf("kubectl get assets columns = %v", header)
	}

	// Events are there for people to read.
	events := mustKubectl(t, "-n", ns, "events", "--for", "incident/lost-laptop-fin-0142")
	for _, reason := range []string{"Routed", "notified internal-audit (webhook, level 0 of personal-data-breach)"} {
		if !strings.Contains(events, reason) {
			t.Errorf("kubectl events lacks %s:\n%s", reason, events)
		}
	}
}

func TestKubectlApplyOfAnInvalidIncidentNamesTheField(t *testing.T) {
	bad := `apiVersion: security.incidentops.io/v1alpha1
kind: Incident
metadata:
  name: bad
  namespace: default
spec:
  title: Sticky note
  category: PasswordExposure
  severity: Urgent
  reporter:
    name: Alex Byrne
`
	out, err := kubectlStdin(bad, "apply", "-f", "-")
	if err == nil {
		t.Fatalf("kubectl apply accepted an invalid incident:\n%s", out)
	}
	for _, want := range []string{"spec.severity", `"Urgent"`, `"Low", "Medium", "High", "Critical"`} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl said %q; want it to contain %s", out, want)
		}
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
