package calendar

import (
	"strings"
	"testing"
	"time"
)

// FuzzCalendar builds calendars from arbitrary spec strings and adds and
// subtracts arbitrary amounts of working time from arbitrary instants.
// Nothing may panic; a deadline is never before its start; more working time
// never gives an earlier deadline; and subtracting mirrors both.
func FuzzCalendar(f *testing.F) {
	// The arguments: time zone, days and holidays (comma-separated), opening
	// and closing times, the start in Unix seconds, a duration and a further
	// duration to add to it.
	for _, seed := range []struct {
		zone, days, opens, closes, holidays string
		start                               int64
		d, more                             time.Duration
	}{
		{"Europe/London", "", "08:00", "17:30", "2026-04-03,2026-04-06,2026-12-25", time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).Unix(), 4 * time.Hour, time.Hour},
		{"Europe/London", "", "08:00", "17:30", "", time.Date(2026, 3, 27, 16, 30, 0, 0, time.UTC).Unix(), 2 * time.Hour, 30 * time.Minute},
		{"Europe/London", "", "00:30", "02:30", "", time.Date(2026, 10, 24, 23, 0, 0, 0, time.UTC).Unix(), 90 * time.Minute, time.Hour},
		{"America/New_York", "Saturday,Sunday", "01:30", "03:30", "", time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC).Unix(), time.Hour, time.Hour},
		{"America/Sao_Paulo", "monday,TUESDAY", "00:00", "24:00", "", time.Date(2018, 11, 3, 12, 0, 0, 0, time.UTC).Unix(), 30 * time.Hour, 0},
		{"Australia/Lord_Howe", "Sunday", "01:45", "02:15", "", time.Date(2026, 4, 4, 0, 0, 0, 0, time.UTC).Unix(), 20 * time.Minute, 20 * time.Minute},
		{"Pacific/Apia", "Friday", "09:00", "17:00", "2011-12-30", time.Date(2011, 12, 28, 0, 0, 0, 0, time.UTC).Unix(), 8 * time.Hour, time.Minute},
		{"", "Monday", "09:00", "09:01", "", 0, 10000 * time.Hour, 0},
		{"UTC", "Funday", "9am", "25:00", "25/12/2026", -1, -time.Hour, -time.Hour},
	} {
		f.Add(seed.zone, seed.days, seed.opens, seed.closes, seed.holidays, seed.start, int64(seed.d), int64(seed.more))
	}
	f.Fuzz(func(t *testing.T, zone, days, opens, closes, holidays string, start, d, more int64) {
		spec := Spec{TimeZone: zone, Opens: opens, Closes: closes, Days: list(days), Holidays: list(holidays)}
		cal, err := New(spec)
		if err != nil {
			return
		}
		// Instants between the years 1900 and 2200; durations from none to
		// a little over the three years Add searches.
		from := time.Unix(-2208988800+mod(start, 300*365*24*3600), 0)
		first := time.Duration(mod(d, int64(4*366*24*time.Hour)))
		second := first + time.Duration(mod(more, int64(366*24*time.Hour)))

		check := func(name string, op func(time.Time, time.Duration) (time.Time, error), forward bool) {
			// behind says whether x lies behind y in the direction op goes.
			behind := func(x, y time.Time) bool {
				if forward {
					return x.Before(y)
				}
				return x.After(y)
			}
			near, errNear := op(from, first)
			far, errFar := op(from, second)
			switch {
			case errNear != nil && errFar == nil:
				t.Fatalf("%+v: %s(%s, %s) failed (%v) but %s with %s more succeeded", spec, name, from, first, errNear, name, second-first)
			case errNear == nil && behind(near, from):
				t.Fatalf("%+v: %s(%s, %s) = %s, on the wrong side of where it began", spec, name, from, first, near)
			case errNear == nil && errFar == nil && behind(far, near):
				t.Fatalf("%+v: %s(%s, %s) = %s, short of %s(%s, %s) = %s", spec, name, from, second, far, name, from, first, near)
			}
		}
		check("Add", cal.Add, true)
		check("Subtract", cal.Subtract, false)
	})
}

// list splits a comma-separated fuzz string; the empty string is no list.
func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// mod is n modulo m, never negative.
func mod(n, m int64) int64 {
	return ((n % m) + m) % m
}
