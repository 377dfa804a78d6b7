package calendar

import (
	"strings"
	"testing"
	"time"
)

// councilDesk is the council's service desk: 08:00 to 17:30, Monday to
// Friday, London time, closed on bank holidays.
var councilDesk = Spec{
	TimeZone: "Europe/London",
	Opens:    "08:00",
	Closes:   "17:30",
	Holidays: []string{"2026-04-03", "2026-04-06", "2026-12-25", "2026-12-28"},
}

func london(t *testing.T, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAdd(t *testing.T) {
	cal, err := New(councilDesk)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		start string
		add   time.Duration
		want  string
	}{
		{"within one day", "2026-03-02 09:00", 4 * time.Hour, "2026-03-02 13:00"},
		{"ending exactly at closing", "2026-03-02 16:30", time.Hour, "2026-03-02 17:30"},
		{"spilling into the next morning", "2026-03-02 16:30", 2 * time.Hour, "2026-03-03 09:00"},
		{"over a weekend", "2026-03-06 16:30", 2 * time.Hour, "2026-03-09 09:00"},
		{"reported on a Saturday", "2026-03-07 11:00", time.Hour, "2026-03-09 09:00"},
		{"reported before opening", "2026-03-02 06:15", 30 * time.Minute, "2026-03-02 08:30"},
		{"reported after closing", "2026-03-02 21:00", 30 * time.Minute, "2026-03-03 08:30"},
		{"zero from outside hours waits for opening", "2026-03-07 11:00", 0, "2026-03-09 08:00"},
		{"a full working day is 9.5 hours", "2026-03-02 08:00", 19 * time.Hour, "2026-03-03 17:30"},
		// Easter 2026: Good Friday 3 April and Easter Monday 6 April.
		{"over the Easter holidays", "2026-04-02 17:00", time.Hour, "2026-04-07 08:30"},
		// Clocks go forward at 01:00 GMT on Sunday 29 March 2026.
		{"over the March clock change", "2026-03-27 16:30", 2 * time.Hour, "2026-03-30 09:00"},
		// Clocks go back at 02:00 BST on Sunday 25 October 2026.
		{"over the October clock change", "2026-10-23 17:00", 90 * time.Minute, "2026-10-26 09:00"},
		{"over Christmas", "2026-12-24 17:00", time.Hour, "2026-12-29 08:30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cal.Add(london(t, tc.start), tc.add)
			if err != nil {
				t.Fatal(err)
			}
			if want := london(t, tc.want); !got.Equal(want) {
				t.Errorf("Add(%s, %s) = %s, want %s", tc.start, tc.add, got.In(want.Location()).Format("2006-01-02 15:04 MST"), want.Format("2006-01-02 15:04 MST"))
			}
		})
	}
}

func TestAddAcrossTheClockChangeIsWallClockTime(t *testing.T) {
	cal, err := New(councilDesk)
	if err != nil {
		t.Fatal(err)
	}
	// 08:00 on the Monday after the March change is 07:00 UTC, not 08:00.
	got, err := cal.Add(london(t, "2026-03-28 12:00"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("opening after the change = %s UTC, want %s", got.UTC(), want)
	}
}

func TestSubtract(t *testing.T) {
	cal, err := New(councilDesk)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		end  string
		sub  time.Duration
		want string
	}{
		{"within one day", "2026-03-02 13:00", 4 * time.Hour, "2026-03-02 09:00"},
		{"back into the previous evening", "2026-03-03 09:00", 2 * time.Hour, "2026-03-02 16:30"},
		{"back over a weekend", "2026-03-09 09:00", 2 * time.Hour, "2026-03-06 16:30"},
		{"from outside hours", "2026-03-07 11:00", 30 * time.Minute, "2026-03-06 17:00"},
		{"back over the March clock change", "2026-03-30 09:00", 2 * time.Hour, "2026-03-27 16:30"},
		{"back over Easter", "2026-04-07 08:30", time.Hour, "2026-04-02 17:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cal.Subtract(london(t, tc.end), tc.sub)
			if err != nil {
				t.Fatal(err)
			}
			if want := london(t, tc.want); !got.Equal(want) {
				t.Errorf("Subtract(%s, %s) = %s, want %s", tc.end, tc.sub, got.In(want.Location()).Format("2006-01-02 15:04 MST"), want.Format("2006-01-02 15:04 MST"))
			}
		})
	}
}

func TestNewNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{TimeZone: "Europe/Lodnon"}, "timeZone"},
		{Spec{Days: []string{"Funday"}}, "days"},
		{Spec{Opens: "8am"}, "opens"},
		{Spec{Closes: "25:00"}, "closes"},
		{Spec{Opens: "17:00", Closes: "09:00"}, "is not after opens"},
		{Spec{Holidays: []string{"25/12/2026"}}, "holidays"},
	} {
		if _, err := New(tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error about %s", tc.spec, err, tc.want)
		}
	}
}

func TestNoWorkingTimeIsAnError(t *testing.T) {
	cal, err := New(Spec{Days: []string{"Monday"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cal.Add(time.Now(), 10000*time.Hour); err == nil {
		t.Error("Add beyond three years of Mondays should fail, not loop")
	}
}

func TestZone(t *testing.T) {
	cases := map[string]struct {
		name string
		want string // part of the error; "" for a zone that loads
	}{
		"unset is UTC":              {name: ""},
		"UTC":                       {name: "UTC"},
		"an area and a location":    {name: "Europe/London"},
		"three parts":               {name: "America/Argentina/Buenos_Aires"},
		"a hyphen":                  {name: "America/Port-au-Prince"},
		"a fixed offset":            {name: "Etc/GMT-14"},
		"Etc/UTC":                   {name: "Etc/UTC"},
		"Go's host zone":            {name: "Local", want: "whatever zone the operator's host is in"},
		"the database's host zone":  {name: "localtime", want: "whatever zone the operator's host is in"},
		"the rules of POSIX names":  {name: "posixrules", want: "whatever zone the operator's host is in"},
		"the zone of no zone":       {name: "Factory", want: "whatever zone the operator's host is in"},
		"an alias of a country":     {name: "GB", want: "canonical"},
		"an alias of a region":      {name: "US/Eastern", want: "canonical"},
		"an alias in Etc":           {name: "Etc/Zulu", want: "canonical"},
		"an offset past the last":   {name: "Etc/GMT+13", want: "canonical"},
		"a rule, not a zone":        {name: "EST5EDT", want: "canonical"},
		"lower case":                {name: "europe/london", want: "canonical"},
		"a climb out of the folder": {name: "Europe/../London", want: "canonical"},
		"a place that is not there": {name: "Europe/Lodnon", want: "not in the time zone database"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			loc, err := Zone(tc.name)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Zone(%q): %v", tc.name, err)
			case tc.want == "" && tc.name != "" && loc.String() != tc.name:
				t.Errorf("Zone(%q) = %s", tc.name, loc)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "timeZone")):
				t.Errorf("Zone(%q) = %v, want an error naming timeZone that says %q", tc.name, err, tc.want)
			}
		})
	}
}
