package access_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// Shorthands for the roles' names in the rows.
var (
	rep, resp, padm, imp, rev, nsadm, op, root = reporter.name, responder.name, policyAdmin.name, importer.name,
		reviewer.name, namespaceAdm.name, operatorRole.name, clusterAdmin.name
)

// whoMayReport are the roles allowed to create incidents.
func whoMayReport(o outcome) outcomes {
	return everyone(denied, outcomes{rep: o, padm: o, imp: o, nsadm: o, root: o})
}

// whoMayChange are the roles allowed to update and patch incidents.
func whoMayChange(o outcome) outcomes {
	return everyone(denied, outcomes{resp: o, padm: o, nsadm: o, op: o, root: o})
}

// operatorOnlyPatches: the operator patches incidents (its finalizer) and
// never updates them, so its role has no update.
func operatorOnlyPatches(want outcomes) outcomes {
	want[op] = denied
	return want
}

// whoMayRecordEvidence are the roles allowed to create and change evidence.
func whoMayRecordEvidence(o outcome) outcomes {
	return everyone(denied, outcomes{resp: o, nsadm: o, root: o})
}

// whoMayRecordFilings are the roles allowed to record the steps of a
// regulator filing; agreeing needs more (incident-filing-approver).
func whoMayRecordFilings(o outcome) outcomes {
	return everyone(denied, outcomes{resp: o, nsadm: o, root: o})
}

// breachContent is what a UK GDPR Art. 33 notification carries.
const breachContent = `{"nature":"A letter sent to the wrong address","dataSubjectCategories":"Residents","dataSubjectCount":"1",` +
	`"recordCategories":"Council tax","recordCount":"1","contact":"DPO","consequences":"Disclosure","measures":"Retrieved"}`

// notificationFiling is the Filing the operator opens for an incident's
// UK GDPR notification.
func notificationFiling(ns string) *securityv1alpha1.Filing {
	return &securityv1alpha1.Filing{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: securityv1alpha1.FilingName("subject", "uk-gdpr", "notification")},
		Spec: securityv1alpha1.FilingSpec{Incident: "subject", Regime: "uk-gdpr", Stage: "notification", Citation: "UK GDPR Art. 33(1)",
			Recipient: securityv1alpha1.RecipientSupervisoryAuthority, AgreementsRequired: 1,
			RequiredContent: []string{"nature", "dataSubjectCategories", "dataSubjectCount", "recordCategories", "recordCount", "contact", "consequences", "measures"}},
	}
}

// withFiling prepares an incident and its notification's Filing, opened
// by the administrator, and drafted by them when drafted.
func withFiling(drafted bool) func(t *testing.T, ns string) fixture {
	return func(t *testing.T, ns string) fixture {
		f := withIncident(nil)(t, ns)
		f.filing = notificationFiling(ns)
		createObject(t, f.filing)
		if drafted {
			if err := filingPatch(`{"spec":{"draft":{"content":`+breachContent+`}}}`)(context.Background(), admin, f); err != nil {
				t.Fatalf("preparing a draft: %v", err)
			}
		}
		return f
	}
}

func filingPatch(body string) func(context.Context, client.Client, fixture) error {
	return func(ctx context.Context, c client.Client, f fixture) error {
		return c.Patch(ctx, f.filing.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(body)))
	}
}

func storedFiling(t *testing.T, f fixture) *securityv1alpha1.Filing {
	t.Helper()
	filing := &securityv1alpha1.Filing{}
	if err := admin.Get(context.Background(), client.ObjectKeyFromObject(f.filing), filing); err != nil {
		t.Fatal(err)
	}
	return filing
}

func onlyRoot(o outcome) outcomes { return everyone(denied, outcomes{root: o}) }

func creating(shape func(*securityv1alpha1.Incident)) func(context.Context, client.Client, fixture) error {
	return func(ctx context.Context, c client.Client, f fixture) error {
		inc := plainIncident(f.ns, "reported")
		shape(inc)
		return c.Create(ctx, inc)
	}
}

func nothing(t *testing.T, ns string) fixture { return fixture{ns: ns} }

// merging changes the fixture's incident with a merge patch.
func merging(change func(*securityv1alpha1.Incident)) func(context.Context, client.Client, fixture) error {
	return func(ctx context.Context, c client.Client, f fixture) error {
		inc := f.incident.DeepCopy()
		if err := admin.Get(ctx, client.ObjectKeyFromObject(inc), inc); err != nil {
			return err
		}
		before := inc.DeepCopy()
		change(inc)
		return c.Patch(ctx, inc, client.MergeFrom(before))
	}
}

func raw(patchType types.PatchType, body string) func(context.Context, client.Client, fixture) error {
	return func(ctx context.Context, c client.Client, f fixture) error {
		opts := []client.PatchOption{}
		if patchType == types.ApplyPatchType {
			opts = append(opts, client.FieldOwner("access-test"), client.ForceOwnership)
		}
		return c.Patch(ctx, f.incident.DeepCopy(), client.RawPatch(patchType, []byte(body)), opts...)
	}
}

// lastChange checks that spec.changes ends with r's change of the fields,
// each with its old and new value.
func lastChange(fields ...string) func(t *testing.T, f fixture, r role) {
	return func(t *testing.T, f fixture, r role) {
		inc := stored(t, f)
		if len(inc.Spec.Changes) == 0 {
			t.Errorf("as %s: spec.changes is empty", r.name)
			return
		}
		last := inc.Spec.Changes[len(inc.Spec.Changes)-1]
		attestedAs(t, "spec.changes[-1].by", &last.By, r)
		var named []string
		for _, fc := range last.Fields {
			named = append(named, fc.Field)
			if fc.From == fc.To {
				t.Errorf("as %s: field %s changed from %q to the same", r.name, fc.Field, fc.From)
			}
		}
		if !slices.Equal(named, fields) {
			t.Errorf("as %s: the change names %v; want %v (%+v)", r.name, named, fields, last.Fields)
		}
		if last.Generation != inc.Generation {
			t.Errorf("as %s: the change is of generation %d; the incident is at %d", r.name, last.Generation, inc.Generation)
		}
	}
}

func attempts() []attempt {
	return []attempt{
		{kind: "Incident", path: "create", what: "a report",
			prepare: nothing, do: creating(func(*securityv1alpha1.Incident) {}), want: whoMayReport(allowed),
			check: func(t *testing.T, f fixture, r role) {
				inc := stored(t, fixture{ns: f.ns, incident: plainIncident(f.ns, "reported")})
				attestedAs(t, "spec.reportedBy", inc.Spec.ReportedBy, r)
				if !slices.Contains(inc.Finalizers, "security.incidentops.io/audit-trail") {
					t.Errorf("as %s: no audit finalizer: %v", r.name, inc.Finalizers)
				}
			}},
		{kind: "Incident", path: "create", what: "forged reportedBy, changes and imported",
			prepare: nothing, do: creating(func(i *securityv1alpha1.Incident) {
				i.Spec.ReportedBy = forged()
				i.Spec.Changes = []securityv1alpha1.SpecChange{{Generation: 1, By: *forged(), Fields: []securityv1alpha1.FieldChange{{Field: "title", From: "x", To: "y"}}}}
				i.Spec.Imported = &securityv1alpha1.Import{By: forged(), Records: []string{"resolution"}}
			}), want: whoMayReport(allowed),
			check: func(t *testing.T, f fixture, r role) {
				inc := stored(t, fixture{ns: f.ns, incident: plainIncident(f.ns, "reported")})
				attestedAs(t, "spec.reportedBy", inc.Spec.ReportedBy, r)
				if len(inc.Spec.Changes) != 0 || inc.Spec.Imported != nil {
					t.Errorf("as %s: forged changes %v or imported %v kept", r.name, inc.Spec.Changes, inc.Spec.Imported)
				}
			}},
		{kind: "Incident", path: "create", what: "already acknowledged and resolved FalsePositive",
			prepare: nothing, do: creating(func(i *securityv1alpha1.Incident) {
				i.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "Desk", AttestedBy: forged()}
				i.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionFalsePositive, By: "Desk"}
			}), want: whoMayReport(refused("spec.acknowledgement: an incident is created as a report")).with(imp, allowed).with(root, allowed),
			check: func(t *testing.T, f fixture, r role) {
				inc := stored(t, fixture{ns: f.ns, incident: plainIncident(f.ns, "reported")})
				attestedAs(t, "spec.acknowledgement.attestedBy", inc.Spec.Acknowledgement.AttestedBy, r)
				if inc.Spec.Imported == nil || !slices.Equal(inc.Spec.Imported.Records, []string{"acknowledgement", "resolution"}) {
					t.Errorf("as %s: spec.imported = %+v; want the acknowledgement and resolution", r.name, inc.Spec.Imported)
					return
				}
				attestedAs(t, "spec.imported.by", inc.Spec.Imported.By, r)
			}},
		{kind: "Incident", path: "create", what: "with a report to the authority (ICO-FAKE)",
			prepare: nothing, do: creating(func(i *securityv1alpha1.Incident) {
				i.Spec.AuthorityNotification = &securityv1alpha1.AuthorityNotification{NotifiedAt: metav1.NewTime(time.Now().Add(-time.Hour)), Reference: "ICO-FAKE"}
			}), want: whoMayReport(refused("spec.authorityNotification: an incident is created as a report")).with(imp, allowed).with(root, allowed)},
		{kind: "Incident", path: "create", what: "under a legal hold",
			prepare: nothing, do: creating(held),
			want: whoMayReport(refused("spec.legalHold")).with(root, allowed)},
		{kind: "Incident", path: "create", what: "an OSC 8 link and a newline in the title",
			prepare: nothing, do: creating(func(i *securityv1alpha1.Incident) {
				i.Spec.Title = "\x1b]8;;http://evil\x07click\x1b]8;;\x07\nsecond line"
			}),
			want: whoMayReport(refused("spec.title"))},
		{kind: "Incident", path: "create", what: "a bidirectional override in the reporter's name",
			prepare: nothing, do: creating(func(i *securityv1alpha1.Incident) { i.Spec.Reporter.Name = "Sam \u202eseonJ" }),
			want: whoMayReport(refused("spec.reporter.name"))},
		{kind: "Incident", path: "create", what: "reported in 1969",
			prepare: nothing, do: creating(func(i *securityv1alpha1.Incident) {
				i.Spec.ReportedAt = &metav1.Time{Time: time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC)}
			}), want: whoMayReport(refused("spec.reportedAt"))},
		{kind: "Incident", path: "create", what: "reported in year 1",
			// Year 1 is Go's zero time, which a typed client would leave
			// out: sent as kubectl sends it, from YAML.
			prepare: nothing, do: func(ctx context.Context, c client.Client, f fixture) error {
				obj := &unstructured.Unstructured{Object: map[string]any{
					"apiVersion": "security.incidentops.io/v1alpha1", "kind": "Incident",
					"metadata": map[string]any{"namespace": f.ns, "name": "reported"},
					"spec": map[string]any{"title": "Laptop left on a train", "category": "Loss", "severity": "High",
						"reporter": map[string]any{"name": "Sam Jones"}, "reportedAt": "0001-01-01T00:00:00Z", "awareAt": "0001-01-01T00:00:00Z"},
				}}
				return c.Create(ctx, obj)
			},
			want: whoMayReport(refused("spec.reportedAt"))},
		{kind: "Incident", path: "merge patch", what: "description and the line manager's address",
			prepare: withIncident(nil), do: merging(func(i *securityv1alpha1.Incident) {
				i.Spec.Description = "It was a tablet."
				i.Spec.Reporter.LineManager.Email = "attacker@example.net"
			}), want: whoMayChange(allowed),
			check: func(t *testing.T, f fixture, r role) {
				lastChange("description", "reporter.lineManager.email")(t, f, r)
				inc := stored(t, f)
				fields := inc.Spec.Changes[len(inc.Spec.Changes)-1].Fields
				if fields[1].From != "lee@example.org" || fields[1].To != "attacker@example.net" || fields[0].From != "Left on the 08:12 to Leeds." {
					t.Errorf("as %s: the old and new values are not both kept: %+v", r.name, fields)
				}
			}},
		{kind: "Incident", path: "json patch", what: "title",
			prepare: withIncident(nil), do: raw(types.JSONPatchType, `[{"op":"replace","path":"/spec/title","value":"Tablet left on a train"}]`),
			want: whoMayChange(allowed), check: lastChange("title")},
		{kind: "Incident", path: "update", what: "title",
			prepare: withIncident(nil), do: func(ctx context.Context, c client.Client, f fixture) error {
				inc := f.incident.DeepCopy()
				if err := admin.Get(ctx, client.ObjectKeyFromObject(inc), inc); err != nil {
					return err
				}
				inc.Spec.Title = "Tablet left on a train"
				return c.Update(ctx, inc)
			}, want: operatorOnlyPatches(whoMayChange(allowed)), check: lastChange("title")},
		{kind: "Incident", path: "server-side apply", what: "severity and a forged change",
			prepare: withIncident(nil), do: raw(types.ApplyPatchType, `{"apiVersion":"security.incidentops.io/v1alpha1","kind":"Incident","metadata":{"name":"subject"},`+
				`"spec":{"severity":"Critical","changes":[{"generation":9,"by":{"username":"dpo@example.org"},"fields":[{"field":"title"}]}]}}`),
			// Changing the severity needs the verb classify.
			want:  whoMayChange(refused("spec.severity")).with(padm, allowed).with(nsadm, allowed).with(root, allowed),
			check: lastChange("severity")},
		{kind: "Incident", path: "merge patch", what: "spec.changes alone, forged",
			prepare: withIncident(nil), do: merging(func(i *securityv1alpha1.Incident) {
				i.Spec.Changes = []securityv1alpha1.SpecChange{{Generation: 2, By: *forged(), Fields: []securityv1alpha1.FieldChange{{Field: "title", From: "a", To: "b"}}}}
			}), want: whoMayChange(allowed),
			check: func(t *testing.T, f fixture, r role) {
				if inc := stored(t, f); len(inc.Spec.Changes) != 0 || inc.Generation != 1 {
					t.Errorf("as %s: forged spec.changes kept: %+v (generation %d)", r.name, inc.Spec.Changes, inc.Generation)
				}
			}},
		{kind: "Incident", path: "merge patch", what: "title after resolution",
			prepare: withIncident(resolved), do: merging(func(i *securityv1alpha1.Incident) { i.Spec.Title = "Nothing happened" }),
			want: whoMayChange(refused("spec.title: incident subject is resolved"))},
		{kind: "Incident", path: "merge patch", what: "the authority report after resolution",
			prepare: withIncident(resolved), do: merging(func(i *securityv1alpha1.Incident) {
				i.Spec.AuthorityNotification = &securityv1alpha1.AuthorityNotification{NotifiedAt: metav1.NewTime(time.Now()), Reference: "ICO-1"}
			}), want: whoMayChange(allowed),
			check: func(t *testing.T, f fixture, r role) {
				attestedAs(t, "spec.authorityNotification.recordedBy", stored(t, f).Spec.AuthorityNotification.RecordedBy, r)
			}},
		{kind: "Incident", path: "merge patch", what: "acknowledge with a forged attestation",
			prepare: withIncident(nil), do: merging(func(i *securityv1alpha1.Incident) {
				i.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "Rita", AttestedBy: forged()}
			}), want: whoMayChange(allowed),
			check: func(t *testing.T, f fixture, r role) {
				attestedAs(t, "spec.acknowledgement.attestedBy", stored(t, f).Spec.Acknowledgement.AttestedBy, r)
				lastChange("acknowledgement")(t, f, r)
			}},
		{kind: "Incident", path: "merge patch", what: "remove the audit finalizer",
			prepare: withIncident(nil), do: merging(func(i *securityv1alpha1.Incident) { i.Finalizers = nil }),
			want: whoMayChange(refused("metadata.finalizers")).with(op, allowed).with(root, allowed)},
		{kind: "Incident", path: "json patch", what: "remove the audit finalizer",
			prepare: withIncident(nil), do: raw(types.JSONPatchType, `[{"op":"remove","path":"/metadata/finalizers/0"}]`),
			want: whoMayChange(refused("metadata.finalizers")).with(op, allowed).with(root, allowed)},
		{kind: "Incident", path: "merge patch", what: "place a legal hold",
			prepare: withIncident(nil), do: merging(held),
			want: whoMayChange(refused("spec.legalHold")).with(padm, allowed).with(nsadm, allowed).with(root, allowed),
			check: func(t *testing.T, f fixture, r role) {
				inc := stored(t, f)
				attestedAs(t, "spec.legalHold.placedBy", inc.Spec.LegalHold.PlacedBy, r)
				if inc.Labels["security.incidentops.io/legal-hold"] != "true" {
					t.Errorf("as %s: the held incident is not labelled: %v", r.name, inc.Labels)
				}
			}},
		{kind: "Incident", path: "merge patch", what: "remove the legal-hold label",
			prepare: withIncident(held), do: merging(func(i *securityv1alpha1.Incident) { i.Labels = nil }),
			want: whoMayChange(allowed),
			check: func(t *testing.T, f fixture, r role) {
				if inc := stored(t, f); inc.Labels["security.incidentops.io/legal-hold"] != "true" {
					t.Errorf("as %s: the label of a held incident was removed: %v", r.name, inc.Labels)
				}
			}},
		{kind: "Incident", path: "status", what: "write the phase",
			prepare: withIncident(nil), do: func(ctx context.Context, c client.Client, f fixture) error {
				inc := f.incident.DeepCopy()
				return c.Status().Patch(ctx, inc, client.RawPatch(types.MergePatchType, []byte(`{"status":{"phase":"Resolved"}}`)))
			}, want: everyone(denied, outcomes{op: allowed, root: allowed})},
		// The operator deletes an incident whose retention ended, once it
		// is archived; nothing lets it past a legal hold.
		{kind: "Incident", path: "delete", what: "an open incident",
			prepare: withIncident(nil), do: func(ctx context.Context, c client.Client, f fixture) error {
				return c.Delete(ctx, f.incident.DeepCopy())
			},
			want: everyone(denied, outcomes{op: allowed, root: allowed})},
		{kind: "Incident", path: "delete", what: "an incident under legal hold",
			prepare: withIncident(held), do: func(ctx context.Context, c client.Client, f fixture) error {
				return c.Delete(ctx, f.incident.DeepCopy())
			},
			want: everyone(denied, outcomes{op: refused("under legal hold"), root: refused("under legal hold")})},
		{kind: "Incident", path: "deletecollection", what: "every incident, one held",
			prepare: withIncident(held), do: func(ctx context.Context, c client.Client, f fixture) error {
				return c.DeleteAllOf(ctx, &securityv1alpha1.Incident{}, client.InNamespace(f.ns))
			}, want: onlyRoot(refused("under legal hold"))},

		{kind: "Evidence", path: "create", what: "forged collectedBy",
			prepare: withIncident(nil), do: func(ctx context.Context, c client.Client, f fixture) error {
				ev := evidence(f.ns, "laptop")
				ev.Spec.CollectedBy = forged()
				return c.Create(ctx, ev)
			}, want: whoMayRecordEvidence(allowed),
			check: func(t *testing.T, f fixture, r role) {
				ev := &securityv1alpha1.Evidence{}
				if err := admin.Get(context.Background(), types.NamespacedName{Namespace: f.ns, Name: "laptop"}, ev); err != nil {
					t.Fatal(err)
				}
				attestedAs(t, "spec.collectedBy", ev.Spec.CollectedBy, r)
			}},
		{kind: "Evidence", path: "create", what: "collected in 1970",
			prepare: withIncident(nil), do: func(ctx context.Context, c client.Client, f fixture) error {
				ev := evidence(f.ns, "laptop")
				ev.Spec.CollectedAt = metav1.NewTime(time.Unix(0, 0))
				return c.Create(ctx, ev)
			}, want: whoMayRecordEvidence(refused("spec.collectedAt"))},
		{kind: "Evidence", path: "merge patch", what: "description",
			prepare: withRecord(nil), do: evidencePatch(`{"spec":{"description":"A different laptop"}}`),
			want: whoMayRecordEvidence(refused("spec.description"))},
		{kind: "Evidence", path: "merge patch", what: "storage location without a transfer",
			prepare: withRecord(nil), do: evidencePatch(`{"spec":{"storageLocation":"Home"}}`),
			want: whoMayRecordEvidence(refused("spec.storageLocation"))},
		{kind: "Evidence", path: "merge patch", what: "storage location with its transfer",
			prepare: withRecord(nil), do: evidencePatch(`{"spec":{"storageLocation":"Lab 2","custody":[` + transfer(0, "Lab 2") + `]}}`),
			want: whoMayRecordEvidence(allowed), check: transferAttested(0)},
		{kind: "Evidence", path: "json patch", what: "a transfer put first, forged",
			prepare: withTransfer, do: evidenceJSONPatch(`[{"op":"add","path":"/spec/custody/0","value":` + transfer(1, "") + `}]`),
			want: whoMayRecordEvidence(allowed), check: transferAttested(1)},
		{kind: "Evidence", path: "merge patch", what: "two transfers at once",
			prepare: withRecord(nil), do: evidencePatch(`{"spec":{"custody":[` + transfer(0, "") + `,` + transfer(1, "") + `]}}`),
			want: whoMayRecordEvidence(refused("spec.custody"))},
		{kind: "Evidence", path: "delete", what: "right after a hold is placed",
			prepare: withRecord(held), do: func(ctx context.Context, c client.Client, f fixture) error {
				return c.Delete(ctx, f.evidence.DeepCopy())
			},
			want: everyone(denied, outcomes{op: refused("under legal hold"), root: refused("under legal hold")})},
		{kind: "Evidence", path: "status + delete", what: "clear status.legalHold, then delete",
			prepare: withRecord(held), do: func(ctx context.Context, c client.Client, f fixture) error {
				if err := c.Status().Patch(ctx, f.evidence.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"status":{"legalHold":false}}`))); err != nil {
					return err
				}
				return c.Delete(ctx, f.evidence.DeepCopy())
			}, want: everyone(denied, outcomes{op: refused("under legal hold"), root: refused("under legal hold")})},
		{kind: "Evidence", path: "delete", what: "no hold",
			prepare: withRecord(nil), do: func(ctx context.Context, c client.Client, f fixture) error {
				return c.Delete(ctx, f.evidence.DeepCopy())
			},
			want: everyone(denied, outcomes{op: allowed, root: allowed})},

		{kind: "AuditTrail", path: "create", what: "a segment",
			prepare: withIncident(nil), do: func(ctx context.Context, c client.Client, f fixture) error {
				return c.Create(ctx, &securityv1alpha1.AuditTrail{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "forged-0"},
					Spec: securityv1alpha1.AuditTrailSpec{Subject: securityv1alpha1.AuditSubject{Kind: "Incident", Name: "subject", UID: "u"}}})
			}, want: everyone(denied, outcomes{root: allowed})},
		{kind: "AuditTrail", path: "status + delete", what: "clear status.legalHold, then delete",
			prepare: withRecord(held), do: func(ctx context.Context, c client.Client, f fixture) error {
				if err := c.Status().Patch(ctx, f.trail.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"status":{"legalHold":false}}`))); err != nil {
					return err
				}
				return c.Delete(ctx, f.trail.DeepCopy())
			}, want: everyone(denied, outcomes{root: refused("under legal hold"), op: denied})},
		{kind: "AuditTrail", path: "delete", what: "no hold",
			prepare: withRecord(nil), do: func(ctx context.Context, c client.Client, f fixture) error { return c.Delete(ctx, f.trail.DeepCopy()) },
			want: onlyRoot(allowed)},

		{kind: "AuditBatch", path: "create", what: "a batch of the log",
			prepare: withIncident(nil), do: func(ctx context.Context, c client.Client, f fixture) error {
				return c.Create(ctx, recordBatch(f.incident))
			}, want: everyone(denied, outcomes{op: allowed, root: allowed})},
		{kind: "AuditBatch", path: "merge patch", what: "a label on a batch",
			prepare: withRecord(nil), do: func(ctx context.Context, c client.Client, f fixture) error {
				return c.Patch(ctx, f.batch.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"edited":"yes"}}}`)))
			}, want: everyone(denied, outcomes{root: refused("cannot be changed once written")})},
		{kind: "AuditBatch", path: "delete", what: "holding an entry of an incident under hold",
			prepare: withRecord(held), do: func(ctx context.Context, c client.Client, f fixture) error { return c.Delete(ctx, f.batch.DeepCopy()) },
			want: everyone(denied, outcomes{root: refused("under legal hold")})},
		{kind: "AuditBatch", path: "delete", what: "no hold",
			prepare: withRecord(nil), do: func(ctx context.Context, c client.Client, f fixture) error { return c.Delete(ctx, f.batch.DeepCopy()) },
			want: onlyRoot(allowed)},

		{kind: "Filing", path: "create", what: "opened by a person",
			prepare: withIncident(nil), do: func(ctx context.Context, c client.Client, f fixture) error {
				return c.Create(ctx, notificationFiling(f.ns))
			}, want: everyone(denied, outcomes{op: allowed, root: allowed})},
		{kind: "Filing", path: "merge patch", what: "a draft, forged drafter",
			prepare: withFiling(false), do: filingPatch(`{"spec":{"draft":{"content":` + breachContent + `,"draftedBy":{"username":"dpo@example.org","groups":["` + forgedGroup + `"]}}}}`),
			want: whoMayRecordFilings(allowed),
			check: func(t *testing.T, f fixture, r role) {
				attestedAs(t, "spec.draft.draftedBy", storedFiling(t, f).Spec.Draft.DraftedBy, r)
			}},
		{kind: "Filing", path: "merge patch", what: "agree to another's draft, forged",
			prepare: withFiling(true), do: filingPatch(`{"spec":{"agreements":[{"sequence":0,"by":{"username":"dpo@example.org","groups":["` + forgedGroup + `"]}}]}}`),
			want: everyone(denied, outcomes{resp: refused("spec.agreements"), nsadm: allowed, root: allowed}),
			check: func(t *testing.T, f fixture, r role) {
				attestedAs(t, "spec.agreements[0].by", storedFiling(t, f).Spec.Agreements[0].By, r)
			}},
		{kind: "Filing", path: "json patch", what: "two agreements at once",
			prepare: withFiling(true), do: func(ctx context.Context, c client.Client, f fixture) error {
				return c.Patch(ctx, f.filing.DeepCopy(), client.RawPatch(types.JSONPatchType, []byte(
					`[{"op":"add","path":"/spec/agreements","value":[{"sequence":0},{"sequence":1}]}]`)))
			}, want: everyone(denied, outcomes{resp: refused("spec"), nsadm: refused("spec"), root: refused("spec")})},
		{kind: "Filing", path: "merge patch", what: "filed before agreement",
			prepare: withFiling(true), do: filingPatch(`{"spec":{"filed":{"at":"2026-03-02T09:00:00Z","reference":"ICO-1"}}}`),
			want: whoMayRecordFilings(refused("spec.filed"))},
		{kind: "Filing", path: "merge patch", what: "rewrite the draft",
			prepare: withFiling(true), do: filingPatch(`{"spec":{"draft":{"content":{"nature":"nothing happened"}}}}`),
			want: whoMayRecordFilings(refused("spec.draft"))},
		{kind: "Filing", path: "merge patch", what: "change what the stage asks",
			prepare: withFiling(false), do: filingPatch(`{"spec":{"agreementsRequired":1,"citation":"none"}}`),
			want: whoMayRecordFilings(refused("spec.citation"))},
		{kind: "Filing", path: "delete", what: "an opened filing",
			prepare: withFiling(false), do: func(ctx context.Context, c client.Client, f fixture) error { return c.Delete(ctx, f.filing.DeepCopy()) },
			want: onlyRoot(allowed)},
		{kind: "RegulatoryRegime", path: "create", what: "the sample", prepare: nothing, do: sample("RegulatoryRegime"),
			want: onlyRoot(allowed)},

		{kind: "EscalationPolicy", path: "create", what: "the sample", prepare: nothing, do: sample("EscalationPolicy"),
			want: everyone(denied, outcomes{padm: allowed, nsadm: allowed, root: allowed})},
		{kind: "ClusterEscalationPolicy", path: "create", what: "the sample", prepare: nothing, do: sample("ClusterEscalationPolicy"),
			want: onlyRoot(allowed)},
		{kind: "Asset", path: "create", what: "the sample", prepare: nothing, do: sample("Asset"),
			want: everyone(denied, outcomes{padm: allowed, nsadm: allowed, root: allowed})},
		{kind: "Department", path: "create", what: "the sample", prepare: nothing, do: sample("Department"),
			want: everyone(denied, outcomes{padm: allowed, nsadm: allowed, root: allowed})},
		// A PolicyTest is the policy authors' own, as their policies are.
		{kind: "PolicyTest", path: "create", what: "the sample", prepare: nothing, do: sample("PolicyTest"),
			want: everyone(denied, outcomes{padm: allowed, nsadm: allowed, root: allowed})},
		{kind: "IncidentReport", path: "create", what: "the sample", prepare: nothing, do: sample("IncidentReport"),
			want: everyone(denied, outcomes{padm: allowed, nsadm: allowed, root: allowed})},
		{kind: "IncidentReport", path: "merge patch", what: "sign a run off, forged",
			prepare: withRun, do: func(ctx context.Context, c client.Client, f fixture) error {
				return c.Patch(ctx, f.report.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(
					`{"spec":{"signOffs":[{"run":"2026-03-02T09:00:00Z","by":{"username":"dpo@example.org","groups":["`+forgedGroup+`"]}}]}}`)))
			}, want: everyone(denied, outcomes{padm: allowed, rev: allowed, nsadm: allowed, root: allowed}),
			check: func(t *testing.T, f fixture, r role) {
				report := &securityv1alpha1.IncidentReport{}
				if err := admin.Get(context.Background(), client.ObjectKeyFromObject(f.report), report); err != nil {
					t.Fatal(err)
				}
				attestedAs(t, "spec.signOffs[0].by", report.Spec.SignOffs[0].By, r)
			}},
	}
}

// with returns want with role's outcome replaced.
func (w outcomes) with(role string, o outcome) outcomes {
	w[role] = o
	return w
}

// outcomes are a row's outcomes by role.
type outcomes map[string]outcome

func evidence(ns, name string) *securityv1alpha1.Evidence {
	return &securityv1alpha1.Evidence{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: securityv1alpha1.EvidenceSpec{Incident: "subject", Kind: securityv1alpha1.EvidenceDevice,
			Description: "Dell Latitude, serial 9Q2", StorageLocation: "Safe 3", CollectedAt: metav1.NewTime(time.Now().Add(-time.Hour))},
	}
}

func transfer(sequence int, location string) string {
	loc := ""
	if location != "" {
		loc = fmt.Sprintf(`,"storageLocation":%q`, location)
	}
	return fmt.Sprintf(`{"sequence":%d,"from":"Rita","to":"Lab","at":%q,"reason":"Imaging"%s,"attestedBy":{"username":"dpo@example.org","groups":[%q]}}`,
		sequence, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), loc, forgedGroup)
}

func evidencePatch(body string) func(context.Context, client.Client, fixture) error {
	return func(ctx context.Context, c client.Client, f fixture) error {
		return c.Patch(ctx, f.evidence.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(body)))
	}
}

func evidenceJSONPatch(body string) func(context.Context, client.Client, fixture) error {
	return func(ctx context.Context, c client.Client, f fixture) error {
		return c.Patch(ctx, f.evidence.DeepCopy(), client.RawPatch(types.JSONPatchType, []byte(body)))
	}
}

// withTransfer prepares evidence that has changed hands once.
func withTransfer(t *testing.T, ns string) fixture {
	f := withRecord(nil)(t, ns)
	if err := evidencePatch(`{"spec":{"custody":[`+transfer(0, "")+`]}}`)(context.Background(), admin, f); err != nil {
		t.Fatalf("preparing a transfer: %v", err)
	}
	return f
}

// transferAttested checks that transfer sequence is attested to r.
func transferAttested(sequence int32) func(t *testing.T, f fixture, r role) {
	return func(t *testing.T, f fixture, r role) {
		ev := &securityv1alpha1.Evidence{}
		if err := admin.Get(context.Background(), client.ObjectKeyFromObject(f.evidence), ev); err != nil {
			t.Fatal(err)
		}
		for _, tr := range ev.Spec.Custody {
			if tr.Sequence == sequence {
				attestedAs(t, fmt.Sprintf("spec.custody[sequence=%d].attestedBy", sequence), tr.AttestedBy, r)
				return
			}
		}
		t.Errorf("as %s: no transfer %d in %+v", r.name, sequence, ev.Spec.Custody)
	}
}

// sample creates the first object of kind in config/samples, in the
// fixture's namespace (or, cluster-scoped, named after it).
func sample(kind string) func(context.Context, client.Client, fixture) error {
	return func(ctx context.Context, c client.Client, f fixture) error {
		files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "samples", "*.yaml"))
		if err != nil {
			return err
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			decoder := yaml.NewYAMLOrJSONDecoder(strings.NewReader(string(data)), 4096)
			for {
				obj := &unstructured.Unstructured{}
				if err := decoder.Decode(&obj.Object); err != nil {
					break
				}
				if obj.GetKind() != kind {
					continue
				}
				if kind == "ClusterEscalationPolicy" || kind == "RegulatoryRegime" {
					obj.SetName(f.ns)
				} else {
					obj.SetNamespace(f.ns)
				}
				return c.Create(ctx, obj)
			}
		}
		return fmt.Errorf("no %s in config/samples", kind)
	}
}

// withRun prepares the sample report with one run made, to sign off.
func withRun(t *testing.T, ns string) fixture {
	f := fixture{ns: ns}
	if err := sample("IncidentReport")(context.Background(), admin, f); err != nil {
		t.Fatal(err)
	}
	var list securityv1alpha1.IncidentReportList
	if err := admin.List(context.Background(), &list, client.InNamespace(ns)); err != nil || len(list.Items) != 1 {
		t.Fatalf("reading the sample report: %v (%d)", err, len(list.Items))
	}
	f.report = &list.Items[0]
	run := `{"status":{"runs":[{"id":"2026-03-02T09:00:00Z","from":"2026-02-23T09:00:00Z","to":"2026-03-02T09:00:00Z","incidents":0}]}}`
	if err := admin.Status().Patch(context.Background(), f.report, client.RawPatch(types.MergePatchType, []byte(run))); err != nil {
		t.Fatalf("recording a run: %v", err)
	}
	return f
}
