package main

import (
	"fmt"

	"github.com/spf13/cobra"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"

	"github.com/incidentops/incident-operator/internal/plugin/timeline"
	"github.com/incidentops/incident-operator/internal/printable"
)

func newTimelineCommand(o *options) *cobra.Command {
	var zone, output, uid string
	var archived archiveFlags
	cmd := &cobra.Command{
		Use:   "timeline NAME [--tz Europe/London] [--archive DIR [--uid UID]]",
		Short: "An incident's audit trail, deliveries and condition changes in time order",
		Long: `An incident's life in time order: the entries of its audit trail (who did
what, as the API server authenticated them, and what the operator did), the
outcome of each notification, and each change of a condition, with times in
your time zone (--tz names another). Deliveries and conditions are stored
to the second, so within a second they follow the trail's entries. The
trail is shown as stored; run kubectl incident audit verify NAME to check
that it is whole. A deleted incident's timeline is its trail.

With --archive DIR or s3://bucket/prefix, an incident the cluster no longer
holds because its retention ended is read from the operator's archive:
the newest archived of that name, or the one --uid names. Its entries are
checked against the archived log first, and it is not shown when they do
not check; a line on stderr says it was read from the archive, and when it
was archived.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			loc, err := location(zone)
			if err != nil {
				return err
			}
			c, ns, err := o.connect()
			if err != nil {
				return err
			}
			show := func(events []timeline.Event) error {
				if output != "" {
					return printData(o, output, events)
				}
				return timeline.Write(o.streams.Out, events, loc)
			}
			if archived.location != "" {
				a, err := archived.archivedIncident(cmd.Context(), c, ns, args[0], uid)
				if err != nil {
					return err
				}
				if a != nil {
					archived.noteArchived(o.streams.ErrOut, a, loc)
					status := a.Incident.Status
					return show(timeline.Merge(a.Entries, status.Notifications, status.Conditions))
				}
			} else if uid != "" {
				return fmt.Errorf("--uid picks an incident in the archive: give --archive")
			}
			trails, _, err := findTrails(cmd.Context(), c, ns, args[0], nil)
			if err != nil {
				return err
			}
			t, entries, err := latestTrail(trails)
			if err != nil {
				return fmt.Errorf("the audit trail of %s cannot be read in order: %w (kubectl incident audit verify %s)", args[0], err, args[0])
			}
			var status securityv1alpha1.IncidentStatus
			if t.incident != nil {
				status = t.incident.Status
			} else {
				printable.Fprintf(o.streams.ErrOut, "incident %s (uid %s) is deleted: its audit trail is all that is left of it\n", args[0], t.subject.UID)
			}
			return show(timeline.Merge(entries, status.Notifications, status.Conditions))
		},
	}
	cmd.Flags().StringVar(&zone, "tz", "", "time zone to show times in, such as Europe/London (default: your local zone)")
	archived.bindIncidents(cmd, "when the cluster no longer holds the incident, read it from the archive at DIR or s3://bucket/prefix, where retention archived it")
	cmd.Flags().StringVar(&uid, "uid", "", "with --archive, the UID of the archived incident to show, when incidents of that name came and went (default: the newest archived)")
	addOutput(cmd, &output, "the events")
	return cmd
}

// latestTrail is the trail of the incident that exists, or when it was
// deleted, of the one of that name whose trail was written last, with its
// entries in order.
func latestTrail(trails []trail) (trail, []securityv1alpha1.AuditEntry, error) {
	var best trail
	var bestEntries []securityv1alpha1.AuditEntry
	for _, t := range trails {
		entries, err := t.entries()
		if err != nil {
			return t, nil, err
		}
		if t.incident != nil {
			return t, entries, nil
		}
		if bestEntries == nil || (len(entries) > 0 && entries[len(entries)-1].Time.After(bestEntries[len(bestEntries)-1].Time.Time)) {
			best, bestEntries = t, entries
		}
	}
	return best, bestEntries, nil
}
