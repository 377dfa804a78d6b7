package delivery

import (
	"math/rand/v2"
	"time"
)

// Backoff is the retry schedule of a failing delivery: exponential from
// Initial, capped at Max, with up to Jitter (a fraction) added at random so
// that receivers coming back up are not hit by every retry at once.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	Jitter  float64
}

// DefaultBackoff retries after about 1s, 2s, 4s ... and then every 5 minutes.
var DefaultBackoff = Backoff{Initial: time.Second, Max: 5 * time.Minute, Jitter: 0.2}

// Delay is how long to wait after the given number of failed attempts (1 or more).
func (b Backoff) Delay(attempts int32, rnd *rand.Rand) time.Duration {
	d := b.Initial
	for i := int32(1); i < attempts && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if b.Jitter > 0 {
		var f float64
		if rnd != nil {
			f = rnd.Float64()
		} else {
			f = rand.Float64()
		}
		d += time.Duration(f * b.Jitter * float64(d))
	}
	return d
}
