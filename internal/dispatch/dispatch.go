// Package dispatch runs sends off the reconcile path, each under limits of
// its own. A send names the lanes it travels in (its namespace, its
// destination, its incident) and starts only when every one of them has a
// free slot, so a destination that hangs holds only its own slots, and a
// namespace never more than its own: another namespace's sends start at
// once. A send in flight is never started twice under the same key. Its
// outcome goes to the batch that waits for it or, once that batch has
// stopped waiting, is held until claimed and announced, so that the caller
// can come back for it. It reads no API and knows nothing of incidents.
package dispatch

import (
	"context"
	"sync"
	"time"
)

// heldFor is how long an outcome nobody claims is kept: its owner may be
// gone. It matches how long the operator remembers an unrecorded delivery.
const heldFor = time.Hour

// Lane is a limit that a send counts against, such as its namespace's.
type Lane struct {
	Key   string
	Limit int
}

// Job is one send.
type Job struct {
	// Key identifies the send: one with the same key is not started while
	// this one is queued, running, or its outcome held.
	Key   string
	Lanes []Lane
	Send  func(ctx context.Context) error
	// Announce is called when the outcome is held because nobody was
	// waiting for it any more; it should bring the caller back to claim it.
	Announce func()
}

// Outcome is how a send ended, and when.
type Outcome struct {
	Key string
	Err error
	At  time.Time
}

// Dispatcher runs jobs within their lanes' limits.
type Dispatcher struct {
	// ctx is what sends run under: they end with it.
	ctx context.Context
	now func() time.Time

	mu     sync.Mutex
	lanes  map[string]*lane
	queued map[string]*job // queued or running, by key
	held   map[string]Outcome
	pruned time.Time
}

type lane struct {
	key            string
	running, limit int
	// stalled counts the jobs in flight that their batch stopped waiting for.
	stalled int
	// waiting jobs, oldest first; a job started through another lane stays
	// here until this lane is next scanned.
	waiting []*job
}

type job struct {
	Job
	lanes   []*lane
	started bool
	batch   *Batch
	// stalled is true once its batch stopped waiting for it.
	stalled bool
}

// New is a dispatcher whose sends run under ctx, and whose outcomes are
// stamped with now.
func New(ctx context.Context, now func() time.Time) *Dispatcher {
	return &Dispatcher{ctx: ctx, now: now, lanes: map[string]*lane{}, queued: map[string]*job{}, held: map[string]Outcome{}}
}

// Batch collects the outcomes of the jobs submitted through it, for as long
// as its caller waits.
type Batch struct {
	d        *Dispatcher
	results  chan Outcome
	jobs     []*job
	detached bool
}

// Batch starts a batch of at most n jobs.
func (d *Dispatcher) Batch(n int) *Batch {
	return &Batch{d: d, results: make(chan Outcome, n)}
}

// Busy is true while a job with key is queued or running, or its outcome is
// held.
func (d *Dispatcher) Busy(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, inFlight := d.queued[key]
	_, held := d.held[key]
	return inFlight || held
}

// Claim takes the held outcome of the job with key, if there is one.
func (d *Dispatcher) Claim(key string) (Outcome, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.held[key]
	delete(d.held, key)
	return o, ok
}

// Stalled is true while the lane with key has jobs in flight that their
// batch stopped waiting for: a destination that hangs, say, which the
// next batch need not wait for either.
func (d *Dispatcher) Stalled(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.lanes[key]
	return l != nil && l.stalled > 0
}

// Running is how many jobs are running in the lane with key.
func (d *Dispatcher) Running(key string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if l := d.lanes[key]; l != nil {
		return l.running
	}
	return 0
}

// Submit queues job, and starts it if its lanes have room. It is false,
// and nothing is queued, when a job with the same key is in flight or its
// outcome held.
func (b *Batch) Submit(j Job) bool {
	d := b.d
	d.mu.Lock()
	d.prune()
	_, inFlight := d.queued[j.Key]
	_, held := d.held[j.Key]
	if inFlight || held || b.detached || len(b.jobs) == cap(b.results) {
		d.mu.Unlock()
		return false
	}
	queued := &job{Job: j, batch: b}
	for _, spec := range j.Lanes {
		l := d.lanes[spec.Key]
		if l == nil {
			l = &lane{key: spec.Key}
			d.lanes[spec.Key] = l
		}
		l.limit = max(spec.Limit, 1)
		queued.lanes = append(queued.lanes, l)
	}
	d.queued[j.Key] = queued
	b.jobs = append(b.jobs, queued)
	start := d.fits(queued)
	if start {
		d.acquire(queued)
	} else {
		for _, l := range queued.lanes {
			l.waiting = append(l.waiting, queued)
		}
	}
	d.mu.Unlock()
	if start {
		go d.run(queued)
	}
	return true
}

// Wait returns the outcomes of the batch's jobs that end within timeout.
// The rest go on; their outcomes are held and announced. The jobs still
// out after a wait stall their lanes; a batch that does not wait (timeout
// zero) stalls none: its jobs have outlived no wait, and counting them
// would keep a lane stalled for as long as sends keep coming, long after
// the one that was slow has ended.
func (b *Batch) Wait(ctx context.Context, timeout time.Duration) []Outcome {
	var out []Outcome
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for len(out) < len(b.jobs) {
		select {
		case o := <-b.results:
			out = append(out, o)
		case <-timer.C:
			return b.detach(out, timeout > 0)
		case <-ctx.Done():
			return b.detach(out, timeout > 0)
		}
	}
	return out
}

// detach stops the batch from taking outcomes, keeping those that came
// before it did. The jobs still out stall their lanes when the batch
// waited for them.
func (b *Batch) detach(out []Outcome, waited bool) []Outcome {
	b.d.mu.Lock()
	defer b.d.mu.Unlock()
	b.detached = true
	for _, j := range b.jobs {
		if waited && b.d.queued[j.Key] == j {
			j.stalled = true
			for _, l := range j.lanes {
				l.stalled++
			}
		}
	}
	for {
		select {
		case o := <-b.results:
			out = append(out, o)
		default:
			return out
		}
	}
}

// run sends, then hands the outcome over and starts the jobs the freed
// slots let through.
func (d *Dispatcher) run(j *job) {
	err := j.Send(d.ctx)
	o := Outcome{Key: j.Key, Err: err, At: d.now()}

	d.mu.Lock()
	delete(d.queued, j.Key)
	announce := false
	if !j.batch.detached {
		j.batch.results <- o
	} else {
		d.held[j.Key] = o
		announce = j.Announce != nil
	}
	var next []*job
	for _, l := range j.lanes {
		l.running--
		if j.stalled {
			l.stalled--
		}
	}
	for _, l := range j.lanes {
		next = append(next, d.admit(l)...)
	}
	for _, l := range j.lanes {
		d.drop(l)
	}
	d.mu.Unlock()

	for _, n := range next {
		go d.run(n)
	}
	if announce {
		j.Announce()
	}
}

// admit starts, oldest first, the lane's waiting jobs that now fit.
func (d *Dispatcher) admit(l *lane) []*job {
	var started []*job
	waiting := l.waiting[:0]
	for _, w := range l.waiting {
		switch {
		case w.started:
		case d.fits(w):
			d.acquire(w)
			started = append(started, w)
		default:
			waiting = append(waiting, w)
		}
	}
	clear(l.waiting[len(waiting):])
	l.waiting = waiting
	return started
}

// drop forgets a lane nobody uses, so that a lane per incident does not
// outlive its sends.
func (d *Dispatcher) drop(l *lane) {
	if l.running == 0 && len(l.waiting) == 0 && d.lanes[l.key] == l {
		delete(d.lanes, l.key)
	}
}

func (d *Dispatcher) fits(j *job) bool {
	for _, l := range j.lanes {
		if l.running >= l.limit {
			return false
		}
	}
	return true
}

func (d *Dispatcher) acquire(j *job) {
	j.started = true
	for _, l := range j.lanes {
		l.running++
	}
}

// prune forgets held outcomes nobody claimed, at most once a minute.
func (d *Dispatcher) prune() {
	now := d.now()
	if now.Sub(d.pruned) < time.Minute {
		return
	}
	d.pruned = now
	for key, o := range d.held {
		if now.Sub(o.At) > heldFor {
			delete(d.held, key)
		}
	}
}
