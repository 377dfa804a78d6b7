package validation_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/translog"
)

// batchKey signs the checkpoints of the sweep's audit batches, as the
// operator's log key signs its own.
var batchKey = func() struct {
	signer   note.Signer
	verifier note.Verifier
} {
	skey, vkey, err := note.GenerateKey(rand.Reader, "sweep")
	if err != nil {
		panic(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		panic(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		panic(err)
	}
	return struct {
		signer   note.Signer
		verifier note.Verifier
	}{s, v}
}()

// batchOrigin names the sweep's log.
const batchOrigin = "sweep.incidentops.io/validation"

// auditBatchBase is the first batch of a log, of two entries of
// trailSubject, written and signed as the operator writes one.
func auditBatchBase(t *testing.T) map[string]any {
	log := translog.NewLog(batchOrigin, &translog.MemoryHashes{})
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	b, err := log.Next([]translog.Entry{
		{Namespace: "sweep", Incident: trailSubject.Name, UID: trailSubject.UID, Action: "Reported", Actor: "jo", Groups: []string{"system:authenticated"}, Time: at},
		{Namespace: "sweep", Incident: trailSubject.Name, UID: trailSubject.UID, Action: "Routed", Operator: true, Time: at.Add(time.Minute), Details: map[string]string{"policies": "it-service-desk"}},
	}, batchKey.signer)
	if err != nil {
		t.Fatal(err)
	}
	batch := &securityv1alpha1.AuditBatch{Spec: securityv1alpha1.AuditBatchSpec{
		First: b.First, Entries: string(b.Payload), Checkpoint: string(b.Checkpoint),
		Previous: encodeHash(b.Previous), Root: encodeHash(b.Root),
	}}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(batch)
	if err != nil {
		t.Fatal(err)
	}
	obj["metadata"] = map[string]any{"name": b.Name()}
	return obj
}

// judgeBatch decides a stored batch case by verifying the batch as the
// first of its log, as `kubectl incident audit verify` would: reading it
// must fail naming the field, or verifying it must fail at a check of
// that field.
func judgeBatch(ctx context.Context, k *kind, o *outcome, ns string) {
	stored := object(k, nil, ns, o.name)
	batch := &securityv1alpha1.AuditBatch{}
	err := k8sClient.Get(ctx, client.ObjectKeyFromObject(stored), stored)
	if err == nil {
		err = runtime.DefaultUnstructuredConverter.FromUnstructured(stored.Object, batch)
	}
	if err != nil {
		o.verdict, o.answer = failed, "stored, then: "+err.Error()
		return
	}
	var problems []problem
	b, err := translog.ParseStored(batch.Spec.First, batch.Spec.Entries, batch.Spec.Previous, batch.Spec.Root, batch.Spec.Checkpoint)
	if err != nil {
		field, _, _ := strings.Cut(err.Error(), ":")
		problems = []problem{{field: "spec." + field, message: err.Error()}}
		o.answer = "audit verify: " + err.Error()
	} else {
		_, err = translog.Verify([]translog.Batch{b}, translog.VerifyOptions{Origin: batchOrigin, Verifier: batchKey.verifier})
		var broken *translog.BrokenError
		if !errors.As(err, &broken) {
			o.verdict, o.answer = silent, fmt.Sprintf("stored; the batch verifies: %v", err)
			return
		}
		for _, p := range broken.Problems {
			for _, field := range batchFieldsChecked[p.Check()] {
				problems = append(problems, problem{field: field, message: p.String()})
			}
		}
		o.answer = "audit verify: " + err.Error()
	}
	o.verdict = reportedOther
	for _, p := range problems {
		if p.field == o.c.field || below(o.c.field, p.field) {
			o.verdict = reported
		}
	}
}

// batchFieldsChecked are the fields of a batch each check of the verifier
// reads.
var batchFieldsChecked = map[string][]string{
	"form":        {"spec.entries"},
	"indexes":     {"spec.first", "spec.entries"},
	"links":       {"spec.previous"},
	"roots":       {"spec.root", "spec.entries"},
	"signatures":  {"spec.checkpoint"},
	"checkpoints": {"spec.checkpoint", "spec.root"},
}

// encodeHash is a hash as a batch stores it.
func encodeHash(h [32]byte) string { return base64.StdEncoding.EncodeToString(h[:]) }

// The batch the sweep starts from verifies, so that a case the verifier
// breaks is broken by its own value.
func TestAuditBatchBaseVerifies(t *testing.T) {
	base := auditBatchBase(t)
	batch := &securityv1alpha1.AuditBatch{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(base, batch); err != nil {
		t.Fatal(err)
	}
	b, err := translog.ParseStored(batch.Spec.First, batch.Spec.Entries, batch.Spec.Previous, batch.Spec.Root, batch.Spec.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := translog.Verify([]translog.Batch{b}, translog.VerifyOptions{Origin: batchOrigin, Verifier: batchKey.verifier}); err != nil {
		t.Fatal(err)
	}
	b.Root[0] ^= 1
	if _, err := translog.Verify([]translog.Batch{b}, translog.VerifyOptions{Origin: batchOrigin, Verifier: batchKey.verifier}); err == nil {
		t.Fatal("a batch with another root verifies")
	}
}
