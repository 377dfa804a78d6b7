package main

// Incidents that retention archived and removed from the cluster, read
// back from the archive by timeline, export, summary and audit verify
// --archive. What is read, and what is refused, is internal/retained's:
// an archived incident is read only once its entries check against the
// archived log.

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/archive"
	"github.com/incidentops/incident-operator/internal/printable"
	"github.com/incidentops/incident-operator/internal/retained"
)

// reader opens the archive to read the incidents retention archived.
func (f *archiveFlags) reader(ctx context.Context) (*retained.Reader, error) {
	store, err := f.store(ctx)
	if err != nil {
		return nil, fmt.Errorf("--archive %s: %w", f.location, err)
	}
	return &retained.Reader{Store: store, Origin: f.origin}, nil
}

// archivedIncident is the incident name of namespace ns as the archive
// holds it, checked, when the cluster holds no incident of that name (or
// none of uid): the newest archived, or the one of uid. It is nil when the
// cluster holds the incident, or when the archive holds none of that name
// and no uid is asked for.
func (f *archiveFlags) archivedIncident(ctx context.Context, c client.Client, ns, name, uid string) (*retained.Incident, error) {
	live := &securityv1alpha1.Incident{}
	err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, live)
	switch {
	case err == nil && (uid == "" || string(live.UID) == uid):
		return nil, nil
	case err != nil && !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading incident %s: %w", name, err)
	}
	reader, err := f.reader(ctx)
	if err != nil {
		return nil, err
	}
	a, found, err := reader.Newest(ctx, ns, name, uid)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w; it is not shown (kubectl incident audit verify --archive checks the whole archive)", err)
	case !found && uid != "":
		return nil, fmt.Errorf("there is no incident %q of uid %s in namespace %q, and the archive %s holds none in %s", name, uid, ns, f.location, reader.Log(ns))
	case !found:
		return nil, nil
	}
	return &a, nil
}

// noteArchived says on one line that the incident was read from the
// archive, and when it was archived.
func (f *archiveFlags) noteArchived(w io.Writer, a *retained.Incident, loc *time.Location) {
	printable.Fprintf(w, "incident %s/%s (uid %s) is not in the cluster: read from the archive %s, where retention archived it on %s; its %d entries check against the archived log\n",
		a.Incident.Namespace, a.Incident.Name, a.Incident.UID, f.location, a.Archived.In(loc).Format(time.RFC3339), len(a.Entries))
}

// namedArchived is how many of the archived incidents a document takes
// are named on the line that says so.
const namedArchived = 10

// incidentsInPeriod are the incidents of namespace ns ("" for every
// namespace the archive holds a log of) that retention archived, whose
// time in the cluster overlaps [from, to) (a zero time is open), each
// checked. It says on w, in one line, which were read.
func (f *archiveFlags) incidentsInPeriod(ctx context.Context, w io.Writer, ns string, from, to time.Time, loc *time.Location) ([]securityv1alpha1.Incident, error) {
	reader, err := f.reader(ctx)
	if err != nil {
		return nil, err
	}
	namespaces := []string{ns}
	if ns == "" {
		if namespaces, err = archivedNamespaces(ctx, reader.Store, reader.Origin); err != nil {
			return nil, err
		}
	}
	var incidents []securityv1alpha1.Incident
	var read []string
	for _, n := range namespaces {
		archived, err := reader.InPeriod(ctx, n, from, to)
		if err != nil {
			return nil, fmt.Errorf("%w; no document is made (kubectl incident audit verify --archive checks the whole archive)", err)
		}
		for _, a := range archived {
			incidents = append(incidents, a.Incident)
			read = append(read, fmt.Sprintf("%s/%s (archived %s)", n, a.Incident.Name, a.Archived.In(loc).Format(time.DateOnly)))
		}
	}
	switch {
	case len(read) == 0:
		printable.Fprintf(w, "the archive %s holds no incident of the period that the cluster no longer holds\n", f.location)
	case len(read) > namedArchived:
		printable.Fprintf(w, "%d incidents read from the archive %s, each checked against the archived log: %s and %d more\n",
			len(read), f.location, strings.Join(read[:namedArchived], ", "), len(read)-namedArchived)
	default:
		printable.Fprintf(w, "%d incident(s) read from the archive %s, each checked against the archived log: %s\n", len(read), f.location, strings.Join(read, ", "))
	}
	return incidents, nil
}

// checkArchivedIncidents checks the incidents of namespace ns's log that
// retention archived: those with an entry in [first, end), or every one
// when all. It returns how many it checked, and a problem naming the
// incident and its UID for each that does not check.
func checkArchivedIncidents(ctx context.Context, reader *retained.Reader, ns string, all bool, first, end int64) (int, []string) {
	checked, errs, err := reader.Check(ctx, ns, func(r archive.Retained) bool { return all || entryIn(r, first, end) })
	if err != nil {
		return 0, []string{err.Error()}
	}
	problems := make([]string, len(errs))
	for i, err := range errs {
		problems[i] = err.Error()
	}
	return checked, problems
}

// entryIn is true when an entry of r has its index in [first, end).
func entryIn(r archive.Retained, first, end int64) bool {
	for _, e := range r.Entries {
		if e.Index >= first && e.Index < end {
			return true
		}
	}
	return false
}
