// Package schedule is the calendar of a report that runs on a schedule:
// which cron slots have passed, which one is next, and the window of time
// each run covers. It is pure: times go in, times come out; nothing here
// reads a clock.
//
// A schedule is a five-field cron expression read as Kubernetes' CronJob
// reads it (robfig/cron's standard parser), in an IANA time zone: "0 9 * *
// 1" in Europe/London is every Monday at 09:00 London time, whatever the
// clocks did in between. On the day the clocks go forward, a slot in the
// skipped hour does not happen; on the day they go back, a slot in the
// repeated hour happens twice, once in each offset. CronJob does the same.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/incidentops/incident-operator/internal/calendar"
)

// Schedule is a parsed cron expression in a time zone.
type Schedule struct {
	spec cron.Schedule
	loc  *time.Location
}

// FieldError is a schedule or time zone that cannot be used, naming the
// spec field at fault.
type FieldError struct {
	// Field is "schedule" or "timeZone".
	Field string
	// Message says what is wrong, in words.
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Parse reads a five-field cron expression (minute hour day-of-month month
// day-of-week, or a descriptor such as @weekly) in the IANA time zone zone
// ("" is UTC). The time zone is a field of its own, as CronJob's
// timeZone is: a TZ= or CRON_TZ= prefix is refused, and so is @every,
// whose slots would depend on when it was read rather than on the
// calendar. A schedule that matches no date (0 0 30 2 *) is refused too.
func Parse(expr, zone string) (Schedule, error) {
	loc, err := Location(zone)
	if err != nil {
		return Schedule{}, err
	}
	expr = strings.TrimSpace(expr)
	switch {
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return Schedule{}, &FieldError{"schedule", fmt.Sprintf("%q names a time zone: set timeZone instead", expr)}
	case strings.HasPrefix(expr, "@every"):
		return Schedule{}, &FieldError{"schedule", fmt.Sprintf("%q is an interval, not a time on the calendar: write the minute, hour, day of month, month and day of week", expr)}
	}
	spec, err := cron.ParseStandard(expr)
	if err != nil {
		return Schedule{}, &FieldError{"schedule", fmt.Sprintf("%q is not a cron schedule such as \"0 9 * * 1\" (minute hour day-of-month month day-of-week): %v", expr, err)}
	}
	if s, ok := spec.(*cron.SpecSchedule); ok {
		s.Location = loc
	}
	s := Schedule{spec: spec, loc: loc}
	// robfig/cron looks five years ahead, which always spans a leap day:
	// a schedule with no slot in them never runs.
	if s.Next(time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return Schedule{}, &FieldError{"schedule", fmt.Sprintf("%q matches no date, so the report would never run", expr)}
	}
	return s, nil
}

// Location is the IANA time zone called zone, UTC when zone is empty.
// Local is refused: it would be whatever zone the operator's host is in.
func Location(zone string) (*time.Location, error) {
	// The calendar's rule: the host's zones (Local, localtime, posixrules,
	// Factory) and aliases are refused, so a report stored before the
	// schema refused them does not silently run in the host's zone.
	loc, err := calendar.Zone(zone)
	if err != nil {
		return nil, &FieldError{"timeZone", strings.TrimPrefix(err.Error(), fmt.Sprintf("timeZone %q", zone)+": ")}
	}
	return loc, nil
}

// Location is the schedule's time zone.
func (s Schedule) Location() *time.Location { return s.loc }

// Next is the first slot after t, or the zero time when there is none.
func (s Schedule) Next(t time.Time) time.Time {
	if s.spec == nil {
		return time.Time{}
	}
	return s.spec.Next(t)
}

// maxCounted bounds how many missed slots Due counts, as CronJob stops
// counting at 100: past that the number only tells that many were missed.
const maxCounted = 100

// Slots is where a schedule stands at a moment.
type Slots struct {
	// Latest is the latest slot after the last run and at or before now:
	// the one run owed. Zero when none is owed.
	Latest time.Time
	// Missed is how many slots passed in that span, Latest included, up to
	// maxCounted: more than one means the operator was not running (or
	// the report was suspended) when the others came, and they are not
	// run, as CronJob does not run them.
	Missed int
	// Next is the first slot after now.
	Next time.Time
}

// MissedCapped is true when more slots were missed than Missed counts.
func (s Slots) MissedCapped() bool { return s.Missed >= maxCounted }

// Due says which slot, if any, is owed a run at now, when the last run was
// for the slot at after (or, before any run, the report was created at
// after): the latest slot in (after, now]. Only that one is run, once,
// however many passed; the rest are counted.
func (s Schedule) Due(after, now time.Time) Slots {
	slots := Slots{Next: s.Next(now)}
	if !after.Before(now) {
		return slots
	}
	slots.Latest = s.latest(after, now)
	if slots.Latest.IsZero() {
		return slots
	}
	for t := s.Next(after); !t.IsZero() && !t.After(now) && slots.Missed < maxCounted; t = s.Next(t) {
		slots.Missed++
	}
	return slots
}

// latest is the latest slot in (after, now], or zero. It looks back from
// now over a doubling span, so that a report whose operator was away for
// years does not step through every minute it missed.
func (s Schedule) latest(after, now time.Time) time.Time {
	for span := time.Minute; ; span *= 2 {
		start := now.Add(-span)
		if !start.After(after) {
			start = after
		}
		t := s.Next(start)
		if !t.IsZero() && !t.After(now) {
			for {
				n := s.Next(t)
				if n.IsZero() || n.After(now) {
					return t
				}
				t = n
			}
		}
		if start.Equal(after) {
			return time.Time{}
		}
	}
}

// Window is the span a run for the slot at covers: period long, ending at
// the slot. A period of whole days counts days on the calendar of the
// schedule's time zone, so that a weekly report covers Monday 09:00 to
// Monday 09:00 local time even across a change of the clocks (167 or 169
// hours then), and consecutive runs neither overlap nor leave a gap.
func (s Schedule) Window(at time.Time, period time.Duration) (from, to time.Time) {
	if period <= 0 {
		return at, at
	}
	if period%(24*time.Hour) == 0 {
		days := int(period / (24 * time.Hour))
		return at.In(s.loc).AddDate(0, 0, -days).In(at.Location()), at
	}
	return at.Add(-period), at
}

// RunID names the run for the slot at: the slot's time in RFC 3339, UTC.
// Sign-offs name runs by it.
func RunID(at time.Time) string { return at.UTC().Format(time.RFC3339) }

// ParseRunID is the slot a run ID names.
func ParseRunID(id string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, id)
	if err != nil {
		return time.Time{}, errors.New("a run is named by its scheduled time in RFC 3339, such as 2026-03-02T09:00:00Z")
	}
	return t, nil
}
