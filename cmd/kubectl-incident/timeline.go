package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/incidentops/incident-operator/internal/audit"
	"github.com/incidentops/incident-operator/internal/plugin/timeline"
)

func newTimelineCommand(o *options) *cobra.Command {
	var zone, output string
	cmd := &cobra.Command{
		Use:   "timeline NAME [--tz Europe/London]",
		Short: "An incident's audit trail, deliveries and condition changes in time order",
		Long: `An incident's life in time order: the entries of its audit trail (who did
what, as the API server authenticated them, and what the operator did), the
outcome of each notification, and each change of a condition, with times in
your time zone (--tz names another). The trail is shown as stored; run
kubectl incident audit verify NAME to check that it is whole.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			loc := time.Local
			if zone != "" {
				var err error
				if loc, err = time.LoadLocation(zone); err != nil {
					return fmt.Errorf("--tz %q is not a time zone: use an IANA name such as Europe/London or UTC", zone)
				}
			}
			c, inc, err := o.incident(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			t, err := readTrail(cmd.Context(), c, inc)
			if err != nil {
				return err
			}
			entries, err := audit.Entries(t.segments)
			if err != nil {
				return fmt.Errorf("the audit trail of %s cannot be read in order: %w (kubectl incident audit verify %s)", inc.Name, err, inc.Name)
			}
			events := timeline.Merge(entries, inc.Status.Notifications, inc.Status.Conditions)
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
