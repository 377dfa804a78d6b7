package controllers_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/controllers"
	"github.com/incidentops/incident-operator/internal/archive"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/translog"
	"github.com/incidentops/incident-operator/internal/witness"
)

// logKeySetup is where the shipped RBAC lets the operator keep the log key.
var logKeySetup = controllers.LogKeySetup{
	Secret:    types.NamespacedName{Namespace: operatorNamespace, Name: "incident-operator-audit-log-key"},
	ConfigMap: types.NamespacedName{Namespace: operatorNamespace, Name: "incident-operator-audit-log-key"},
	Origin:    "test.incidentops.io",
}

// operatorClient acts as the operator's ServiceAccount, with the shipped RBAC.
func operatorClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(operator.account, client.Options{Scheme: k8sClient.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readLog reads a namespace's batches as an auditor would, in order.
func readLog(t *testing.T, ns string) []translog.Batch {
	t.Helper()
	var list securityv1alpha1.AuditBatchList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var batches []translog.Batch
	for _, obj := range list.Items {
		b, err := controllers.BatchOf(&obj)
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, b)
	}
	return batches
}

func logSubject(t *testing.T, ns, name string) controllers.LogSubject {
	t.Helper()
	namespace := &corev1.Namespace{}
	if err := k8sClient.Get(context.Background(), types.NamespacedName{Name: ns}, namespace); err != nil {
		t.Fatal(err)
	}
	return controllers.LogSubject{Namespace: ns, Name: name, UID: types.UID("uid-" + name), NamespaceUID: namespace.UID}
}

// The log key is created once, on a first install, and published; a key
// lost once the log exists is never replaced. Entries appended at once by
// many incidents share batches (group commit), every batch is created once
// by the operator's account, and the log verifies with only the published
// public key, each incident's entries counted where its position says.
func TestAuditLogGroupCommitsAndVerifies(t *testing.T) {
	ctx := context.Background()
	c := operatorClient(t)
	// The suite's first start, as the operator's account, created the
	// Secret while no log existed; a start reads it again.
	stored := &corev1.Secret{}
	if err := k8sClient.Get(ctx, logKeySetup.Secret, stored); err != nil {
		t.Fatalf("the first start made no log key Secret: %v", err)
	}
	key, err := controllers.LoadLogKey(ctx, c, logKeySetup)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := key.Signer(); err != nil {
		t.Fatalf("no signing key: %v", err)
	}
	published := &corev1.ConfigMap{}
	if err := k8sClient.Get(ctx, logKeySetup.ConfigMap, published); err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(published.Data[controllers.LogVerifierKey])
	if err != nil {
		t.Fatalf("published key %q: %v", published.Data[controllers.LogVerifierKey], err)
	}
	if verifier.KeyHash() != key.Verifier().KeyHash() {
		t.Error("the published key is not the signing key's public half")
	}
	// A published key someone changed is put right at the next start.
	published.Data[controllers.LogVerifierKey] = "forged+00000000+AQ=="
	if err := k8sClient.Update(ctx, published); err != nil {
		t.Fatal(err)
	}
	again, err := controllers.LoadLogKey(ctx, c, logKeySetup)
	if err != nil {
		t.Fatal(err)
	}
	if again.Verifier().KeyHash() != verifier.KeyHash() {
		t.Error("a restart made a new log key")
	}
	if err := k8sClient.Get(ctx, logKeySetup.ConfigMap, published); err != nil {
		t.Fatal(err)
	}
	if restored, err := note.NewVerifier(published.Data[controllers.LogVerifierKey]); err != nil || restored.KeyHash() != verifier.KeyHash() {
		t.Errorf("the published key was not put right: %q (%v)", published.Data[controllers.LogVerifierKey], err)
	}

	ns := newNamespace(t)
	writer := &controllers.AuditLog{Client: c, Reader: c, Key: key, Clock: operatorClock, Origin: logKeySetup.Origin}
	const incidents, each = 40, 3
	positions := make([]controllers.LogPosition, incidents)
	var wg sync.WaitGroup
	errs := make(chan error, incidents)
	for i := range incidents {
		wg.Go(func() {
			subject := logSubject(t, ns, fmt.Sprintf("incident-%02d", i))
			for step := range each {
				pos, err := writer.Append(ctx, subject, []controllers.LogEntry{{Action: "Routed", Operator: true, Details: map[string]string{"step": fmt.Sprint(step)}}})
				if err != nil {
					errs <- err
					return
				}
				positions[i] = pos
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	batches := readLog(t, ns)
	if len(batches) >= incidents*each/2 {
		t.Errorf("%d entries took %d batches: appends made at once were not committed together", incidents*each, len(batches))
	}
	t.Logf("%d entries of %d incidents in %d batches", incidents*each, incidents, len(batches))
	opts := translog.VerifyOptions{Origin: logKeySetup.Origin + "/" + ns, Verifier: verifier}
	for i, pos := range positions {
		if pos.Entries != each {
			t.Errorf("incident %d: position counts %d entries, want %d", i, pos.Entries, each)
		}
		opts.Expect = append(opts.Expect, translog.Expected{Namespace: ns, Incident: fmt.Sprintf("incident-%02d", i), UID: fmt.Sprintf("uid-incident-%02d", i), Entries: pos.Entries, Last: pos.Last})
	}
	newest, err := translog.Verify(batches, opts)
	if err != nil {
		t.Fatal(err)
	}
	if newest.Size != incidents*each {
		t.Errorf("newest checkpoint at size %d, want %d", newest.Size, incidents*each)
	}

	// What an append stored before its status write failed is found.
	subject := logSubject(t, ns, "incident-07")
	after, err := writer.Stored(ctx, subject, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != each-1 || after[0].Details["step"] != "1" || after[0].UID != "uid-incident-07" {
		t.Errorf("entries stored after the first: %+v", after)
	}

	// A second writer, holding the log as it was, collides instead of
	// forking it, and appends once it has read the log anew.
	other := &controllers.AuditLog{Client: c, Reader: c, Key: key, Clock: operatorClock, Origin: logKeySetup.Origin}
	if _, err := other.Position(ctx, subject); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Append(ctx, subject, []controllers.LogEntry{{Action: "Acknowledged", Actor: "rita"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Append(ctx, subject, []controllers.LogEntry{{Action: "Resolved", Actor: "rita"}}); err == nil || !strings.Contains(err.Error(), "another writer appended") {
		t.Fatalf("a writer behind the log appended: %v", err)
	}
	pos, err := other.Append(ctx, subject, []controllers.LogEntry{{Action: "Resolved", Actor: "rita"}})
	if err != nil {
		t.Fatal(err)
	}
	if pos.Entries != each+2 {
		t.Errorf("after two more entries the position counts %d, want %d", pos.Entries, each+2)
	}
	opts.Expect = []translog.Expected{{Namespace: ns, Incident: "incident-07", UID: "uid-incident-07", Entries: pos.Entries, Last: pos.Last}}
	if _, err := translog.Verify(readLog(t, ns), opts); err != nil {
		t.Fatal(err)
	}

	// Nobody changes a batch, not even the administrator; only the
	// operator's account creates one.
	first := &securityv1alpha1.AuditBatch{}
	if err := k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: translog.BatchName(0)}, first); err != nil {
		t.Fatal(err)
	}
	patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"edited":"yes"}}}`))
	if err := k8sClient.Patch(ctx, first.DeepCopy(), patch); err == nil || !strings.Contains(err.Error(), "cannot be changed once written") {
		t.Errorf("the administrator changed a batch: %v", err)
	}
	forged := first.DeepCopy()
	forged.ObjectMeta = metav1.ObjectMeta{Namespace: ns, Name: translog.BatchName(1 << 40)}
	// RBAC lets mallory create batches; the admission policy does not.
	mallory := clientAs(t, ns, "mallory", []rbacv1.PolicyRule{{
		APIGroups: []string{securityv1alpha1.GroupVersion.Group}, Resources: []string{"auditbatches"}, Verbs: []string{"get", "create"},
	}})
	if err := mallory.Create(ctx, forged); err == nil || !strings.Contains(err.Error(), "only the operator appends to it") {
		t.Errorf("a user allowed to create batches wrote one to the audit log: %v", err)
	}

	// A log broken in one namespace stops appends to it, saying where,
	// and to no other namespace.
	if err := k8sClient.Delete(ctx, first); err != nil {
		t.Fatal(err)
	}
	fresh := &controllers.AuditLog{Client: c, Reader: c, Key: key, Clock: operatorClock, Origin: logKeySetup.Origin}
	if _, err := fresh.Append(ctx, subject, []controllers.LogEntry{{Action: "Resolved", Actor: "rita"}}); err == nil || !strings.Contains(err.Error(), "does not continue at") {
		t.Errorf("appended to a log whose first batch was removed: %v", err)
	}
	elsewhere := newNamespace(t)
	if _, err := fresh.Append(ctx, logSubject(t, elsewhere, "incident-01"), []controllers.LogEntry{{Action: "Reported", Actor: "jo"}}); err != nil {
		t.Errorf("a broken log in %s stopped the log of %s: %v", ns, elsewhere, err)
	}

	// The key lost once a log exists is never replaced: signing stops.
	if err := k8sClient.Delete(ctx, stored.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: stored.Namespace, Name: stored.Name}, Data: stored.Data}); err != nil {
			t.Errorf("restoring the log key Secret: %v", err)
		}
	})
	lost, err := controllers.LoadLogKey(ctx, c, logKeySetup)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lost.Signer(); err == nil || !strings.Contains(err.Error(), "restore the Secret") {
		t.Errorf("a lost log key was replaced: %v", err)
	}
	secret := &corev1.Secret{}
	if err := k8sClient.Get(ctx, logKeySetup.Secret, secret); !apierrors.IsNotFound(err) {
		t.Errorf("the operator made a new log key Secret: %v", err)
	}
}

// The operator copies every batch it writes to the write-once archive, in
// the background; what it wrote before it archived (here, before a
// restart with an archive) is archived when it starts; the archive then
// verifies with only the public key and holds every entry of the log.
func TestAuditLogIsArchived(t *testing.T) {
	ns := newNamespace(t)
	receiver := newSink(t)
	webhookSecret(t, ns, "hook", receiver.URL+"/desk")
	create(t, webhookPolicy(ns, "desk", 10, "hook", securityv1alpha1.PolicyMatch{}))
	create(t, newIncident(ns, "before", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityHigh))
	waitForTrail(t, ns, "before", "Reported by admin", "Routed by operator", "Notified by operator")

	store, err := archive.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	operator.stop()
	t.Cleanup(func() {
		if err := operator.start(); err != nil {
			t.Error(err)
		}
	})
	startScopedOperator(t, ns, controllers.Options{LogKey: logKey, LogOrigin: logKeySetup.Origin, Archive: archive.NewWriter(store, 0, clock.RealClock{}),
		Egress: notify.Egress{AllowLoopback: true}, CheckDestination: allowLoopbackPorts})
	for i := range 3 {
		create(t, newIncident(ns, fmt.Sprintf("after-%d", i), securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityHigh))
	}
	for i := range 3 {
		waitForTrail(t, ns, fmt.Sprintf("after-%d", i), "Reported by admin", "Routed by operator", "Notified by operator")
	}
	origin := logKeySetup.Origin + "/" + ns
	eventually(t, 20*time.Second, func() error {
		var size int64
		for _, b := range readLog(t, ns) {
			size = b.End()
		}
		res, err := archive.Verify(t.Context(), store, origin, translog.VerifyOptions{Origin: origin, Verifier: logKey.Verifier()}, time.Time{}, operatorClock.Now().Add(time.Hour))
		if err != nil {
			return err
		}
		if res.Size != size || res.First != 0 || res.End != size {
			return fmt.Errorf("the archive verified entries %d-%d of %d; the log holds %d", res.First, res.End, res.Size, size)
		}
		return nil
	})
}

// The operator submits each namespace's newest checkpoint to the witness
// on a schedule; the witness cosigns it, the archive keeps the cosigned
// checkpoint, and the metric says when the last cosignature came.
func TestAuditLogIsWitnessed(t *testing.T) {
	ns := newNamespace(t)
	wskey, wvkey, err := witness.GenerateKey(rand.Reader, "witness.example.org/security")
	if err != nil {
		t.Fatal(err)
	}
	cosigner, err := witness.NewCosigner(wskey, clock.RealClock{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.New(witness.Config{Cosigner: cosigner, StateDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Logs: []witness.Log{{Origin: logKeySetup.Origin + "/*", Verifiers: []note.Verifier{logKey.Verifier()}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	witnessKey, err := witness.NewVerifier(wvkey)
	if err != nil {
		t.Fatal(err)
	}
	store, err := archive.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	operator.stop()
	t.Cleanup(func() {
		if err := operator.start(); err != nil {
			t.Error(err)
		}
	})
	before := gaugeValue(t, "incidentops_audit_witness_cosigned_timestamp_seconds")
	startScopedOperator(t, ns, controllers.Options{LogKey: logKey, LogOrigin: logKeySetup.Origin, Archive: archive.NewWriter(store, 0, clock.RealClock{}),
		Witness: &controllers.WitnessOptions{URL: srv.URL, Verifier: witnessKey, Interval: 100 * time.Millisecond},
		Egress:  notify.Egress{AllowLoopback: true}, CheckDestination: allowLoopbackPorts})
	create(t, newIncident(ns, "witnessed", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityHigh))
	waitForTrail(t, ns, "witnessed", "Reported by admin")
	origin := logKeySetup.Origin + "/" + ns
	eventually(t, 20*time.Second, func() error {
		inc := getIncident(t, ns, "witnessed")
		if inc.Status.Audit == nil || inc.Status.Audit.Log == nil {
			return errors.New("no position in the audit log yet")
		}
		cosigned, err := archive.Cosigned(t.Context(), store, origin)
		if err != nil || cosigned == nil {
			return fmt.Errorf("no cosigned checkpoint archived yet (%v)", err)
		}
		c, err := witness.VerifyCosigned(cosigned, origin, logKey.Verifier(), []note.Verifier{witnessKey}, 1)
		if err != nil {
			return err
		}
		if c.Size < inc.Status.Audit.Log.Last+1 {
			return fmt.Errorf("cosigned at size %d, the incident's last entry is %d", c.Size, inc.Status.Audit.Log.Last)
		}
		if v := gaugeValue(t, "incidentops_audit_witness_cosigned_timestamp_seconds"); v <= before {
			return fmt.Errorf("incidentops_audit_witness_cosigned_timestamp_seconds is %v", v)
		}
		return nil
	})
}
