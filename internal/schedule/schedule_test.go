package schedule

import (
	"errors"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func mustParse(t *testing.T, expr, zone string) Schedule {
	t.Helper()
	s, err := Parse(expr, zone)
	if err != nil {
		t.Fatalf("Parse(%q, %q): %v", expr, zone, err)
	}
	return s
}

func TestParse(t *testing.T) {
	tests := map[string]struct {
		expr, zone string
		// field is the field an error names, "" when the schedule is good.
		field string
	}{
		"weekly, London":              {expr: "0 9 * * 1", zone: "Europe/London"},
		"a descriptor":                {expr: "@weekly"},
		"UTC by default":              {expr: "30 8 1 * *"},
		"a minute past 59":            {expr: "61 * * * *", zone: "UTC", field: "schedule"},
		"four fields":                 {expr: "0 9 * *", field: "schedule"},
		"seconds, six fields":         {expr: "0 0 9 * * 1", field: "schedule"},
		"words":                       {expr: "every monday", field: "schedule"},
		"a zone in the schedule":      {expr: "TZ=Europe/London 0 9 * * 1", field: "schedule"},
		"CronJob's zone prefix":       {expr: "CRON_TZ=UTC 0 9 * * 1", field: "schedule"},
		"an interval":                 {expr: "@every 1h", field: "schedule"},
		"a date that never comes":     {expr: "0 0 30 2 *", field: "schedule"},
		"an unknown zone":             {expr: "0 9 * * 1", zone: "Europe/Atlantis", field: "timeZone"},
		"the operator host's zone":    {expr: "0 9 * * 1", zone: "Local", field: "timeZone"},
		"the host zone, by its file":  {expr: "0 9 * * 1", zone: "localtime", field: "timeZone"},
		"the zoneinfo default rules":  {expr: "0 9 * * 1", zone: "posixrules", field: "timeZone"},
		"an alias":                    {expr: "0 9 * * 1", zone: "GB", field: "timeZone"},
		"the zone is checked first":   {expr: "nonsense", zone: "Mars/Olympus", field: "timeZone"},
		"a leap day comes every four": {expr: "0 0 29 2 *"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.expr, tc.zone)
			var fe *FieldError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.field != "" && !errors.As(err, &fe):
				t.Fatalf("err = %v, want a FieldError naming %s", err, tc.field)
			case tc.field != "" && fe.Field != tc.field:
				t.Fatalf("the error names %s (%v), want %s", fe.Field, err, tc.field)
			}
		})
	}
}

// Slots follow the wall clock of the time zone across both changes of the
// clocks in Europe/London in 2026 (forward on 29 March, back on 25
// October), as CronJob's do.
func TestNextAcrossTheClockChanges(t *testing.T) {
	tests := map[string]struct {
		expr  string
		after time.Time
		want  []time.Time
	}{
		"Monday 09:00 is 09:00 UTC in winter and 08:00 UTC in summer": {
			expr: "0 9 * * 1", after: utc("2026-03-20T00:00:00Z"),
			want: []time.Time{utc("2026-03-23T09:00:00Z"), utc("2026-03-30T08:00:00Z"), utc("2026-04-06T08:00:00Z")},
		},
		"and back to 09:00 UTC in the autumn": {
			expr: "0 9 * * 1", after: utc("2026-10-15T00:00:00Z"),
			want: []time.Time{utc("2026-10-19T08:00:00Z"), utc("2026-10-26T09:00:00Z")},
		},
		"a slot in the hour the clocks skip does not happen that day": {
			expr: "30 1 * * *", after: utc("2026-03-27T12:00:00Z"),
			want: []time.Time{utc("2026-03-28T01:30:00Z"), utc("2026-03-30T00:30:00Z")},
		},
		"a slot in the hour the clocks repeat happens in each offset": {
			expr: "30 1 * * *", after: utc("2026-10-24T12:00:00Z"),
			want: []time.Time{utc("2026-10-25T00:30:00Z"), utc("2026-10-25T01:30:00Z"), utc("2026-10-26T01:30:00Z")},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := mustParse(t, tc.expr, "Europe/London")
			at := tc.after
			for i, want := range tc.want {
				at = s.Next(at)
				if !at.Equal(want) {
					t.Fatalf("slot %d = %s, want %s", i, at.UTC().Format(time.RFC3339), want.Format(time.RFC3339))
				}
			}
		})
	}
}

func TestDue(t *testing.T) {
	weekly := "0 9 * * 1"
	tests := map[string]struct {
		expr       string
		after, now time.Time
		latest     time.Time
		missed     int
		next       time.Time
	}{
		"before the first slot nothing is owed": {
			expr: weekly, after: utc("2026-03-04T10:00:00Z"), now: utc("2026-03-08T23:00:00Z"),
			next: utc("2026-03-09T09:00:00Z"),
		},
		"at the slot itself the run is owed": {
			expr: weekly, after: utc("2026-03-04T10:00:00Z"), now: utc("2026-03-09T09:00:00Z"),
			latest: utc("2026-03-09T09:00:00Z"), missed: 1, next: utc("2026-03-16T09:00:00Z"),
		},
		"after three missed Mondays only the latest is owed": {
			expr: weekly, after: utc("2026-03-04T10:00:00Z"), now: utc("2026-03-24T12:00:00Z"),
			latest: utc("2026-03-23T09:00:00Z"), missed: 3, next: utc("2026-03-30T08:00:00Z"),
		},
		"the slot already run is not owed again": {
			expr: weekly, after: utc("2026-03-23T09:00:00Z"), now: utc("2026-03-24T12:00:00Z"),
			next: utc("2026-03-30T08:00:00Z"),
		},
		"a clock that went back owes nothing": {
			expr: weekly, after: utc("2026-03-23T09:00:00Z"), now: utc("2026-03-23T08:00:00Z"),
			next: utc("2026-03-23T09:00:00Z"),
		},
		"two years of every minute: the last minute, the count capped": {
			expr: "* * * * *", after: utc("2024-03-24T12:00:00Z"), now: utc("2026-03-24T12:00:30Z"),
			latest: utc("2026-03-24T12:00:00Z"), missed: maxCounted, next: utc("2026-03-24T12:01:00Z"),
		},
		"a yearly report missed for three years": {
			expr: "0 0 1 1 *", after: utc("2022-06-01T00:00:00Z"), now: utc("2026-03-24T12:00:00Z"),
			latest: utc("2026-01-01T00:00:00Z"), missed: 4, next: utc("2027-01-01T00:00:00Z"),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := mustParse(t, tc.expr, "Europe/London").Due(tc.after, tc.now)
			if !got.Latest.Equal(tc.latest) || got.Missed != tc.missed || !got.Next.Equal(tc.next) {
				t.Errorf("Due = latest %s, missed %d, next %s; want %s, %d, %s",
					got.Latest.UTC().Format(time.RFC3339), got.Missed, got.Next.UTC().Format(time.RFC3339),
					tc.latest.Format(time.RFC3339), tc.missed, tc.next.Format(time.RFC3339))
			}
			if got.MissedCapped() != (tc.missed == maxCounted) {
				t.Errorf("MissedCapped = %v with %d missed", got.MissedCapped(), got.Missed)
			}
		})
	}
}

// Weekly windows meet end to end across the changes of the clocks, and a
// period that is not whole days is plain hours.
func TestWindow(t *testing.T) {
	s := mustParse(t, "0 9 * * 1", "Europe/London")
	tests := map[string]struct {
		at       time.Time
		period   time.Duration
		from     time.Time
		duration time.Duration
	}{
		"a winter week": {
			at: utc("2026-03-23T09:00:00Z"), period: 168 * time.Hour,
			from: utc("2026-03-16T09:00:00Z"), duration: 168 * time.Hour,
		},
		"the week the clocks go forward is an hour short": {
			at: utc("2026-03-30T08:00:00Z"), period: 168 * time.Hour,
			from: utc("2026-03-23T09:00:00Z"), duration: 167 * time.Hour,
		},
		"the week the clocks go back is an hour long": {
			at: utc("2026-10-26T09:00:00Z"), period: 168 * time.Hour,
			from: utc("2026-10-19T08:00:00Z"), duration: 169 * time.Hour,
		},
		"hours that are not whole days are hours": {
			at: utc("2026-03-30T08:00:00Z"), period: 36 * time.Hour,
			from: utc("2026-03-28T20:00:00Z"), duration: 36 * time.Hour,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			from, to := s.Window(tc.at, tc.period)
			if !from.Equal(tc.from) || !to.Equal(tc.at) || to.Sub(from) != tc.duration {
				t.Errorf("Window = [%s, %s) (%s), want [%s, %s) (%s)", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), to.Sub(from),
					tc.from.Format(time.RFC3339), tc.at.Format(time.RFC3339), tc.duration)
			}
		})
	}
	// Each run's window starts where the one before ended.
	at := utc("2026-03-16T09:00:00Z")
	for range 40 {
		next := s.Next(at)
		if from, _ := s.Window(next, 168*time.Hour); !from.Equal(at) {
			t.Fatalf("the run at %s starts at %s, not where the run at %s ended", next.UTC(), from.UTC(), at.UTC())
		}
		at = next
	}
}

func TestRunID(t *testing.T) {
	at := time.Date(2026, time.March, 30, 9, 0, 0, 0, mustParse(t, "@daily", "Europe/London").Location())
	id := RunID(at)
	if id != "2026-03-30T08:00:00Z" {
		t.Errorf("RunID = %s, want the slot in UTC", id)
	}
	back, err := ParseRunID(id)
	if err != nil || !back.Equal(at) {
		t.Errorf("ParseRunID(%s) = %s, %v", id, back, err)
	}
	if _, err := ParseRunID("last Monday"); err == nil {
		t.Error("a run ID that is not a time was read")
	}
}
