// Package retained reads back, as the API's objects, the incidents that
// retention archived whole and removed from the cluster (archive.Retained):
// the Incident, its Evidence and its entries of the namespace's log.
//
// Nothing reads an archived incident before it checks: its entries must
// be the archived log's leaves at their indexes, with none of the
// incident's left out (archive.CheckRetained), and its object and entries
// must be of the incident it was archived as. The operator's reports and
// the plugin's timeline, export, summary and audit verify read archived
// incidents through this package alone, so they agree on what is read
// and what is refused.
//
// It reads the archive's store and nothing else: no cluster, no clock.
package retained

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/archive"
	"github.com/incidentops/incident-operator/internal/record"
	"github.com/incidentops/incident-operator/internal/translog"
)

// Incident is an incident read back from the archive.
type Incident struct {
	Incident securityv1alpha1.Incident
	Evidence []securityv1alpha1.Evidence
	// Entries are its entries of the log in the log's order, as the
	// timeline reads them (record.FromLog).
	Entries []securityv1alpha1.AuditEntry
	// Archived is when retention archived it.
	Archived time.Time
	// First and Last are the indexes in the log of its first and last
	// entries.
	First, Last int64
}

// Decode reads the objects and entries of r, refusing a record whose
// object, evidence or entries are of another incident than the one it was
// archived as, or whose entries are fewer than its object's status counts.
// It does not check r against the log: Read does.
func Decode(r archive.Retained) (Incident, error) {
	out := Incident{Archived: r.Archived}
	who := fmt.Sprintf("archived incident %s/%s (uid %s)", r.Namespace, r.Name, r.UID)
	if err := json.Unmarshal(r.Incident, &out.Incident); err != nil {
		return out, fmt.Errorf("%s: its Incident object does not decode: %w", who, err)
	}
	if inc := &out.Incident; inc.Namespace != r.Namespace || inc.Name != r.Name || string(inc.UID) != r.UID {
		return out, fmt.Errorf("%s: its object is incident %s/%s (uid %s)", who, inc.Namespace, inc.Name, inc.UID)
	}
	for i, raw := range r.Evidence {
		var ev securityv1alpha1.Evidence
		if err := json.Unmarshal(raw, &ev); err != nil {
			return out, fmt.Errorf("%s: its evidence record %d does not decode: %w", who, i, err)
		}
		if ev.Namespace != r.Namespace || ev.Spec.Incident != r.Name {
			return out, fmt.Errorf("%s: its evidence %s/%s is of incident %s", who, ev.Namespace, ev.Name, ev.Spec.Incident)
		}
		out.Evidence = append(out.Evidence, ev)
	}
	entries := slices.SortedFunc(slices.Values(r.Entries), func(a, b archive.RetainedEntry) int { return cmp.Compare(a.Index, b.Index) })
	for i, e := range entries {
		if i > 0 && entries[i-1].Index == e.Index {
			return out, fmt.Errorf("%s: holds its entry %d twice", who, e.Index)
		}
		entry, err := translog.ParseEntry(e.Leaf)
		if err != nil {
			return out, fmt.Errorf("%s: its entry %d does not decode: %w", who, e.Index, err)
		}
		if entry.UID != r.UID {
			return out, fmt.Errorf("%s: its entry %d is of incident %s (uid %s)", who, e.Index, entry.Incident, entry.UID)
		}
		out.Entries = append(out.Entries, record.FromLog(entry, int64(i)))
	}
	if len(entries) > 0 {
		out.First, out.Last = entries[0].Index, entries[len(entries)-1].Index
	}
	if err := holdsCounted(out.Incident.Status.Audit, entries); err != nil {
		return out, fmt.Errorf("%s: %w", who, err)
	}
	return out, nil
}

// holdsCounted checks that the entries hold those the incident's status
// counts: as many up to the last it names, that one included. The log
// checks entries up to the last archived (archive.CheckRetained); this
// finds entries cut off after it. Entries after the status's last (one
// written before the status caught up) are the log's to check.
func holdsCounted(status *securityv1alpha1.AuditStatus, entries []archive.RetainedEntry) error {
	if status == nil || status.Log == nil {
		return nil
	}
	counted := status.Log
	var upTo int64
	last := false
	for _, e := range entries {
		if e.Index <= counted.Last {
			upTo++
		}
		last = last || e.Index == counted.Last
	}
	if upTo != counted.Entries || !last {
		return fmt.Errorf("its status counts %d entries of the log up to index %d, but the archive holds %d of them (cut short?)", counted.Entries, counted.Last, upTo)
	}
	return nil
}

// Read checks r against the archived log, then decodes it.
func Read(ctx context.Context, store archive.Store, log string, r archive.Retained) (Incident, error) {
	if err := archive.CheckRetained(ctx, store, log, r); err != nil {
		return Incident{}, fmt.Errorf("incident %s/%s (uid %s), archived %s, does not check against the archived log %s: %w",
			r.Namespace, r.Name, r.UID, r.Archived.UTC().Format(time.RFC3339), log, err)
	}
	return Decode(r)
}

// Reader reads the archived incidents of the namespaces' logs in Store.
type Reader struct {
	Store archive.Store
	// Origin prefixes every namespace's log name: the operator's
	// --audit-log-origin.
	Origin string
}

// Log is the name of namespace's log.
func (r *Reader) Log(namespace string) string { return r.Origin + "/" + namespace }

// Newest is the incident name of namespace archived last or, when uid is
// not "", the one of that UID, checked; found is false when the archive
// holds no such incident.
func (r *Reader) Newest(ctx context.Context, namespace, name, uid string) (inc Incident, found bool, err error) {
	log := r.Log(namespace)
	all, err := archive.ReadRetained(ctx, r.Store, log, name)
	if err != nil {
		return inc, false, fmt.Errorf("reading the archived incidents named %s of %s: %w", name, log, err)
	}
	for i := len(all) - 1; i >= 0; i-- {
		if uid == "" || all[i].UID == uid {
			inc, err = Read(ctx, r.Store, log, all[i])
			return inc, true, err
		}
	}
	return inc, false, nil
}

// InPeriod are the archived incidents of namespace whose time in the
// cluster overlaps the period [from, to), each checked, oldest archived
// first. An incident's time runs from when it was reported (or the
// organisation became aware of it, if earlier) to when it was archived. A
// zero from or to leaves the period open at that end.
func (r *Reader) InPeriod(ctx context.Context, namespace string, from, to time.Time) ([]Incident, error) {
	log := r.Log(namespace)
	all, err := archive.ListRetained(ctx, r.Store, log)
	if err != nil {
		return nil, fmt.Errorf("reading the archived incidents of %s: %w", log, err)
	}
	store := newReadOnce(r.Store)
	var out []Incident
	for _, rec := range all {
		// An incident that does not decode is refused by Read, which
		// says first whether it checks against the log.
		if decoded, err := Decode(rec); err == nil && !Overlaps(decoded, from, to) {
			continue
		}
		checked, err := Read(ctx, store, log, rec)
		if err != nil {
			return nil, err
		}
		out = append(out, checked)
	}
	return out, nil
}

// Check reads the archived incidents of namespace that selected picks,
// each checked, and returns how many it read and the error of each that
// does not check; err is an error reading the archive's list of them.
func (r *Reader) Check(ctx context.Context, namespace string, selected func(archive.Retained) bool) (read int, problems []error, err error) {
	log := r.Log(namespace)
	all, err := archive.ListRetained(ctx, r.Store, log)
	if err != nil {
		return 0, nil, fmt.Errorf("reading the archived incidents of %s: %w", log, err)
	}
	store := newReadOnce(r.Store)
	for _, rec := range all {
		if !selected(rec) {
			continue
		}
		read++
		if _, err := Read(ctx, store, log, rec); err != nil {
			problems = append(problems, err)
		}
	}
	return read, problems, nil
}

// RetainedIncidents are the Incident objects of InPeriod, as the report
// controller reads them.
func (r *Reader) RetainedIncidents(ctx context.Context, namespace string, from, to time.Time) ([]securityv1alpha1.Incident, error) {
	read, err := r.InPeriod(ctx, namespace, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]securityv1alpha1.Incident, len(read))
	for i := range read {
		out[i] = read[i].Incident
	}
	return out, nil
}

// Overlaps is true when the archived incident's time in the cluster
// overlaps [from, to), a zero from or to being open.
func Overlaps(a Incident, from, to time.Time) bool {
	start := a.Incident.ReportedAt()
	if aware := a.Incident.AwareAt(); aware.Before(start) {
		start = aware
	}
	return (to.IsZero() || start.Before(to)) && (from.IsZero() || !a.Archived.Before(from))
}
