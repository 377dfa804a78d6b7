// Package retainedtest writes, for tests, a namespace's audit log to a
// directory archive as the operator archives it, with a signed checkpoint
// for each batch, and archives incidents whole as retention does.
package retainedtest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"k8s.io/utils/clock"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/archive"
	"github.com/incidentops/incident-operator/internal/translog"
)

// Incident is an incident to archive whole: its object as the cluster
// held it, its evidence, and when retention archived it.
type Incident struct {
	Object   *securityv1alpha1.Incident
	Evidence []securityv1alpha1.Evidence
	Archived time.Time
}

// Archive is what Write wrote.
type Archive struct {
	Dir   string
	Log   string
	Store *archive.Dir
	// Verifier is the public key of the log's checkpoints, as audit key
	// prints it.
	Verifier string
	// Records are the incidents as archived, by UID.
	Records map[string]archive.Retained
}

// Write writes the log named log, of batches, to a directory archive in
// dir, and archives each incident with its entries of the log, its status
// counting them as the operator's does.
func Write(t testing.TB, dir, log string, batches [][]translog.Entry, incidents ...Incident) Archive {
	t.Helper()
	ctx := context.Background()
	skey, vkey, err := note.GenerateKey(rand.Reader, "incident-operator-audit-log")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	store, err := archive.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := Archive{Dir: dir, Log: log, Store: store, Verifier: vkey, Records: map[string]archive.Retained{}}
	writer := archive.NewWriter(store, 0, clock.RealClock{})
	l := translog.NewLog(log, &translog.MemoryHashes{})
	entries := map[string][]archive.RetainedEntry{}
	for _, batch := range batches {
		b, err := l.Next(batch, signer)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
		if err := writer.Append(ctx, log, b); err != nil {
			t.Fatal(err)
		}
		lines, err := b.Lines()
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range lines {
			e, err := translog.ParseEntry(line)
			if err != nil {
				t.Fatal(err)
			}
			entries[e.UID] = append(entries[e.UID], archive.RetainedEntry{Index: b.First + int64(i), Leaf: line})
		}
	}
	for _, inc := range incidents {
		uid := string(inc.Object.UID)
		own := entries[uid]
		if len(own) == 0 {
			t.Fatalf("the log holds no entry of incident %s (uid %s)", inc.Object.Name, uid)
		}
		object := inc.Object.DeepCopy()
		object.Status.Audit = &securityv1alpha1.AuditStatus{Log: &securityv1alpha1.AuditLogPosition{Entries: int64(len(own)), Last: own[len(own)-1].Index}}
		r := archive.Retained{Namespace: object.Namespace, Name: object.Name, UID: uid, Archived: inc.Archived, Incident: marshal(t, object), Entries: own}
		for i := range inc.Evidence {
			r.Evidence = append(r.Evidence, marshal(t, &inc.Evidence[i]))
		}
		if _, err := writer.Retain(ctx, log, r); err != nil {
			t.Fatal(err)
		}
		a.Records[uid] = r
	}
	return a
}

// Tamper rewrites the archived incident uid as change leaves it, as
// someone who can write the archive's files would.
func (a Archive) Tamper(t testing.TB, uid string, change func(r *archive.Retained)) {
	t.Helper()
	r := a.Records[uid]
	r.Entries = slices.Clone(r.Entries)
	change(&r)
	file := filepath.Join(a.Dir, filepath.FromSlash(archive.RetainedKey(a.Log, r.Name, r.UID)))
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, marshal(t, r), 0o600); err != nil {
		t.Fatal(err)
	}
}

func marshal(t testing.TB, v any) json.RawMessage {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
