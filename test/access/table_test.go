package access_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// outcome is what the API server does with an attempt.
type outcome string

const (
	allowed = outcome("allowed")
	// denied is RBAC's refusal: the role lacks the verb.
	denied = outcome("denied by RBAC")
)

// refused is an admission policy's or the schema's refusal, naming field.
func refused(field string) outcome { return outcome("refused: " + field) }

// attempt is one row of the table: a write, tried as each role.
type attempt struct {
	kind, path, what string
	// do makes the attempt with c in namespace ns; setup objects are made
	// by the administrator first, in prepare.
	prepare func(t *testing.T, ns string) fixture
	do      func(ctx context.Context, c client.Client, f fixture) error
	// want is the outcome for each role; every role must be listed.
	want outcomes
	// check, for an allowed attempt, says what the record must then hold.
	check func(t *testing.T, f fixture, r role)
}

// fixture is what an attempt acts on.
type fixture struct {
	ns       string
	incident *securityv1alpha1.Incident
	evidence *securityv1alpha1.Evidence
	trail    *securityv1alpha1.AuditTrail
	batch    *securityv1alpha1.AuditBatch
	report   *securityv1alpha1.IncidentReport
	filing   *securityv1alpha1.Filing
}

// everyone gives all roles one outcome, then the exceptions.
func everyone(o outcome, except outcomes) outcomes {
	want := outcomes{}
	for _, r := range roles {
		want[r.name] = o
	}
	for name, e := range except {
		want[name] = e
	}
	return want
}

// TestEveryWritePathAsEveryRole runs the table and prints it.
func TestEveryWritePathAsEveryRole(t *testing.T) {
	rows := attempts()
	var failures, cells int
	var table strings.Builder
	fmt.Fprintf(&table, "%-16s %-17s %-58s", "KIND", "PATH", "ATTEMPT")
	for _, r := range roles {
		fmt.Fprintf(&table, " %-15s", r.name)
	}
	table.WriteString("\n")
	for i, a := range rows {
		fmt.Fprintf(&table, "%-16s %-17s %-58s", a.kind, a.path, a.what)
		for _, r := range roles {
			want, listed := a.want[r.name]
			if !listed {
				t.Errorf("%s %s %q: no outcome listed for %s", a.kind, a.path, a.what, r.name)
				continue
			}
			ns := namespaceFor(t, fmt.Sprintf("row%03d-%s", i, r.name))
			c := as(t, ns, r)
			f := a.prepare(t, ns)
			got := classify(a.do(context.Background(), c, f), want)
			cells++
			mark := "ok"
			if got != want {
				failures++
				mark = "FAIL"
				t.Errorf("%s %s %q as %s: %s; want %s", a.kind, a.path, a.what, r.name, got, want)
			} else if got == allowed && a.check != nil {
				a.check(t, f, r)
			}
			fmt.Fprintf(&table, " %-15s", short(want)+" "+mark)
		}
		table.WriteString("\n")
	}
	t.Logf("write paths × roles: %d rows × %d roles = %d attempts, %d as the table says, %d not\n%s",
		len(rows), len(roles), cells, cells-failures, failures, table.String())
}

func short(o outcome) string {
	switch o {
	case allowed:
		return "yes"
	case denied:
		return "rbac"
	}
	return "adm"
}

// classify names what the API server did, judged against want so that an
// admission refusal is only counted as such when it names want's field.
func classify(err error, want outcome) outcome {
	switch {
	case err == nil:
		return allowed
	case apierrors.IsForbidden(err) && !strings.Contains(err.Error(), "AdmissionPolicy"):
		return denied
	}
	if field, ok := strings.CutPrefix(string(want), "refused: "); ok && strings.Contains(err.Error(), field) {
		return want
	}
	return outcome("refused: " + err.Error())
}

var namespaces = map[string]bool{}

func namespaceFor(t *testing.T, name string) string {
	t.Helper()
	if !namespaces[name] {
		createObject(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
		namespaces[name] = true
	}
	return name
}

// plainIncident is an open incident as a reporter reports it.
func plainIncident(ns, name string) *securityv1alpha1.Incident {
	return &securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: securityv1alpha1.IncidentSpec{
			Title: "Laptop left on a train", Category: securityv1alpha1.CategoryLoss, Severity: securityv1alpha1.SeverityHigh,
			Description: "Left on the 08:12 to Leeds.",
			Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Sam Jones", Email: "sam@example.org"},
				LineManager: &securityv1alpha1.Contact{Name: "Lee Manager", Email: "lee@example.org"}},
			Impact: securityv1alpha1.Impact{PersonalData: true},
		},
	}
}

// withIncident prepares an incident made by the administrator, changed by
// shape first (resolved, held).
func withIncident(shape func(*securityv1alpha1.Incident)) func(t *testing.T, ns string) fixture {
	return func(t *testing.T, ns string) fixture {
		inc := plainIncident(ns, "subject")
		createObject(t, inc)
		if shape != nil {
			update(t, inc, shape)
		}
		return fixture{ns: ns, incident: inc}
	}
}

func resolved(i *securityv1alpha1.Incident) {
	i.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Rita"}
}

func held(i *securityv1alpha1.Incident) {
	i.Spec.LegalHold = &securityv1alpha1.LegalHold{Reason: "Claim 117"}
}

// withRecord prepares an incident with an item of evidence and a trail
// segment, the incident shaped by shape.
func withRecord(shape func(*securityv1alpha1.Incident)) func(t *testing.T, ns string) fixture {
	return func(t *testing.T, ns string) fixture {
		f := withIncident(nil)(t, ns)
		f.evidence = &securityv1alpha1.Evidence{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "disk"},
			Spec: securityv1alpha1.EvidenceSpec{Incident: f.incident.Name, Kind: securityv1alpha1.EvidenceDevice,
				Description: "Dell Latitude, serial 7X1", StorageLocation: "Safe 3", CollectedAt: metav1.NewTime(time.Now().Add(-time.Hour))},
		}
		createObject(t, f.evidence)
		f.trail = &securityv1alpha1.AuditTrail{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "incident-subject-0"},
			Spec:       securityv1alpha1.AuditTrailSpec{Subject: securityv1alpha1.AuditSubject{Kind: "Incident", Name: f.incident.Name, UID: string(f.incident.UID)}},
		}
		createObject(t, f.trail)
		f.batch = recordBatch(f.incident)
		createObject(t, f.batch)
		if shape != nil {
			update(t, f.incident, shape)
		}
		return f
	}
}

// recordBatch is a batch of the namespace's audit log that holds an entry
// of incident, as the operator writes one.
func recordBatch(incident *securityv1alpha1.Incident) *securityv1alpha1.AuditBatch {
	const hash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	return &securityv1alpha1.AuditBatch{
		ObjectMeta: metav1.ObjectMeta{Namespace: incident.Namespace, Name: "log-0000000000000000000"},
		Spec: securityv1alpha1.AuditBatchSpec{
			Entries:  `{"index":0,"namespace":"` + incident.Namespace + `","incident":"` + incident.Name + `","uid":"` + string(incident.UID) + `","action":"Reported","actor":"jo","time":"2026-12-07T14:50:00Z"}` + "\n",
			Previous: hash, Root: hash, Checkpoint: "test\n1\n" + hash + "\n\n— test AAAA\n",
		},
	}
}

func createObject(t *testing.T, obj client.Object) {
	t.Helper()
	if err := admin.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// update changes inc as the administrator.
func update(t *testing.T, inc *securityv1alpha1.Incident, change func(*securityv1alpha1.Incident)) {
	t.Helper()
	before := inc.DeepCopy()
	change(inc)
	if err := admin.Patch(context.Background(), inc, client.MergeFrom(before)); err != nil {
		t.Fatalf("preparing incident %s: %v", inc.Name, err)
	}
}

// stored reads the incident back as the administrator.
func stored(t *testing.T, f fixture) *securityv1alpha1.Incident {
	t.Helper()
	inc := &securityv1alpha1.Incident{}
	if err := admin.Get(context.Background(), types.NamespacedName{Namespace: f.ns, Name: f.incident.Name}, inc); err != nil {
		t.Fatal(err)
	}
	return inc
}

// userOf is the account the API server authenticates for r.
func userOf(r role) string {
	if r.user != "" {
		return r.user
	}
	return r.name
}

// attestedAs fails unless a names r's account and none of the groups
// the attempt forged.
func attestedAs(t *testing.T, what string, a *securityv1alpha1.Attestation, r role) {
	t.Helper()
	switch {
	case a == nil:
		t.Errorf("%s: not attested; want %s", what, userOf(r))
	case a.Username != userOf(r):
		t.Errorf("%s: attested as %q; want %q", what, a.Username, userOf(r))
	case slices.Contains(a.Groups, forgedGroup):
		t.Errorf("%s: carries the forged group %q: %v", what, forgedGroup, a.Groups)
	}
}

// forgedGroup is what a forger claims to belong to.
const forgedGroup = "forged:auditors"

func forged() *securityv1alpha1.Attestation {
	return &securityv1alpha1.Attestation{Username: "dpo@example.org", Groups: []string{forgedGroup}}
}
