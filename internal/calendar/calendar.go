// Package calendar counts business hours: the working days and opening
// hours of a team in its own time zone, without its holidays. Opening and
// closing times are wall-clock times, so deadlines stay right across
// daylight-saving changes.
package calendar

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Calendar is when a team works.
type Calendar struct {
	loc      *time.Location
	days     [7]bool
	opens    int // minutes after local midnight
	closes   int
	holidays map[string]bool
}

// Spec is a calendar as people write it.
type Spec struct {
	TimeZone string   // IANA name; empty is UTC
	Days     []string // English weekday names; empty is Monday to Friday
	Opens    string   // HH:MM; empty is 09:00
	Closes   string   // HH:MM; empty is 17:00
	Holidays []string // YYYY-MM-DD
}

// maxDays bounds the search for working time, so that a calendar with
// almost none cannot loop for ever.
const maxDays = 3 * 366

// New checks a spec and builds its calendar. Errors name the field.
func New(s Spec) (*Calendar, error) {
	c := &Calendar{holidays: map[string]bool{}}
	var err error
	if c.loc, err = Zone(s.TimeZone); err != nil {
		return nil, err
	}
	days := s.Days
	if len(days) == 0 {
		days = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}
	}
	for _, d := range days {
		wd, ok := weekdays[strings.ToLower(d)]
		if !ok {
			return nil, fmt.Errorf("days: %q is not a weekday", d)
		}
		c.days[wd] = true
	}
	if c.opens, err = clockMinutes(orDefault(s.Opens, "09:00")); err != nil {
		return nil, fmt.Errorf("opens: %w", err)
	}
	if c.closes, err = clockMinutes(orDefault(s.Closes, "17:00")); err != nil {
		return nil, fmt.Errorf("closes: %w", err)
	}
	if c.closes <= c.opens {
		return nil, fmt.Errorf("closes %s is not after opens %s", orDefault(s.Closes, "17:00"), orDefault(s.Opens, "09:00"))
	}
	for _, h := range s.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			return nil, fmt.Errorf("holidays: %q is not a date (YYYY-MM-DD)", h)
		}
		c.holidays[h] = true
	}
	return c, nil
}

// hostZones are the names under which the time zone database, or Go,
// answers with whatever zone the operator's host is in, or with none.
var hostZones = map[string]bool{"Local": true, "localtime": true, "posixrules": true, "Factory": true}

// canonicalZone matches the canonical names of the IANA time zone
// database: Area/Location (Europe/London, America/Argentina/Buenos_Aires),
// UTC, and the fixed offsets of Etc. The CRDs' timeZone rule holds the same
// expression. Aliases such as GB, US/Eastern or Etc/Zulu are left out:
// their zone is named by the name they link to.
var canonicalZone = regexp.MustCompile(`^(UTC|Etc/(UTC|GMT|GMT[+-]([1-9]|1[0-2])|GMT-1[34])|(Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific)/[A-Z][A-Za-z0-9_+-]*(/[A-Z][A-Za-z0-9_+-]*)?)$`)

// Zone loads the time zone name, UTC when name is empty. It refuses the
// names of the host's zone, which would make a deadline depend on where
// the operator runs, and names that are not canonical. The error names
// the field, timeZone.
func Zone(name string) (*time.Location, error) {
	switch {
	case name == "":
		return time.UTC, nil
	case hostZones[name]:
		return nil, fmt.Errorf("timeZone %q: name an IANA zone such as Europe/London; %s would be whatever zone the operator's host is in", name, name)
	case !canonicalZone.MatchString(name):
		return nil, fmt.Errorf("timeZone %q: name a canonical IANA zone, an Area/Location such as Europe/London, or UTC or Etc/GMT-2; an alias such as GB or US/Eastern is named by the zone it links to", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("timeZone %q is not in the time zone database: %w", name, err)
	}
	return loc, nil
}

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func clockMinutes(s string) (int, error) {
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	}
	return h*60 + m, nil
}

// hours returns the opening and closing instants of the day that starts at
// local midnight day, and whether the team works that day.
func (c *Calendar) hours(day time.Time) (open, close time.Time, working bool) {
	y, m, d := day.Date()
	if !c.days[day.Weekday()] || c.holidays[day.Format(time.DateOnly)] {
		return time.Time{}, time.Time{}, false
	}
	open = time.Date(y, m, d, c.opens/60, c.opens%60, 0, 0, c.loc)
	close = time.Date(y, m, d, c.closes/60, c.closes%60, 0, 0, c.loc)
	return open, close, true
}

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// Add returns the instant d of working time after start. Work that would
// start outside opening hours starts when the team next opens.
func (c *Calendar) Add(start time.Time, d time.Duration) (time.Time, error) {
	t := start.In(c.loc)
	day := midnight(t)
	for range maxDays {
		if open, close, working := c.hours(day); working {
			if t.Before(open) {
				t = open
			}
			if t.Before(close) {
				if left := close.Sub(t); d <= left {
					return t.Add(d), nil
				} else {
					d -= left
				}
			}
		}
		y, m, dd := day.Date()
		day = time.Date(y, m, dd+1, 0, 0, 0, 0, c.loc)
		t = day
	}
	return time.Time{}, fmt.Errorf("no working time within %d days of %s", maxDays, start.Format(time.RFC3339))
}

// Subtract returns the instant d of working time before end.
func (c *Calendar) Subtract(end time.Time, d time.Duration) (time.Time, error) {
	t := end.In(c.loc)
	day := midnight(t)
	for range maxDays {
		if open, close, working := c.hours(day); working {
			if t.After(close) {
				t = close
			}
			if t.After(open) {
				if avail := t.Sub(open); d <= avail {
					return t.Add(-d), nil
				} else {
					d -= avail
				}
			}
		}
		y, m, dd := day.Date()
		t = day // the end of the previous day
		day = time.Date(y, m, dd-1, 0, 0, 0, 0, c.loc)
	}
	return time.Time{}, fmt.Errorf("no working time within %d days before %s", maxDays, end.Format(time.RFC3339))
}
