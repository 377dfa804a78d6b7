package main

import (
	"fmt"

	"github.com/spf13/cobra"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"

	"github.com/incidentops/incident-operator/internal/plugin/timeline"
	"github.com/incidentops/incident-operator/internal/printable"
)

func newTimelineCommand(o *options) *cobra.Command {
	var zone, output string
	cmd := &cobra.Command{
		Use:   "timeline NAME [--tz Europe/London]",
		Short: "An incident's audit trail, deliveries and condition changes in time order",
		Long: `An incident's life in time order: the entries of its audit trail (who did
what, as the API server authenticated them, and what the operator did), the
outcome of each notification, and each change of a condition, with times in
your time zone (--tz names another). Deliveries and conditions are stored
to the second, so within a second they follow the trail's entries. The
trail is shown as stored; run kubectl incident audit verify NAME to check
that it is whole. A deleted incident's timeline is its trail.`,
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
			events := timeline.Merge(entries, status.Notifications, status.Conditions)
			if output != "" {
				return printData(o, output, events)
			}
			return timeline.Write(o.streams.Out, events, loc)
		},
	}
	cmd.Flags().StringVar(&zone, "tz", "", "time zone to show times in, such as Europe/London (default: your local zone)")
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
