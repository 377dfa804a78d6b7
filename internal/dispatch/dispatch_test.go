package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// gate is a send that blocks until released, counting who is inside.
type gate struct {
	mu      sync.Mutex
	inside  map[string]int
	entered chan string
	release chan struct{}
}

func newGate() *gate {
	return &gate{inside: map[string]int{}, entered: make(chan string, 100), release: make(chan struct{})}
}

func (g *gate) send(name string) func(context.Context) error {
	return func(ctx context.Context) error {
		g.mu.Lock()
		g.inside[name]++
		g.mu.Unlock()
		g.entered <- name
		select {
		case <-g.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func quick(err error) func(context.Context) error {
	return func(context.Context) error { return err }
}

func TestLanesBoundTheirOwnSendsOnly(t *testing.T) {
	tests := map[string]struct {
		// hanging are sends in namespace a to destination slow, which never
		// answer; then one send per entry of others is made.
		hanging int
		limits  map[string]int
		others  []Job
		// wantStarted is how many of the others start while the hanging
		// sends hang.
		wantStarted int
	}{
		"another namespace starts at once": {
			hanging: 10, limits: map[string]int{"ns/a": 4, "dest/slow": 2},
			others:      []Job{{Key: "b1", Lanes: []Lane{{"ns/b", 4}, {"dest/fast", 2}}}, {Key: "b2", Lanes: []Lane{{"ns/b", 4}, {"dest/fast", 2}}}},
			wantStarted: 2,
		},
		"the same namespace, another destination, starts while the namespace has room": {
			hanging: 10, limits: map[string]int{"ns/a": 4, "dest/slow": 2},
			others:      []Job{{Key: "a1", Lanes: []Lane{{"ns/a", 4}, {"dest/fast", 2}}}, {Key: "a2", Lanes: []Lane{{"ns/a", 4}, {"dest/fast", 2}}}, {Key: "a3", Lanes: []Lane{{"ns/a", 4}, {"dest/fast", 2}}}},
			wantStarted: 3,
		},
		"a namespace full of hanging sends holds its own": {
			hanging: 10, limits: map[string]int{"ns/a": 2, "dest/slow": 8},
			others:      []Job{{Key: "a1", Lanes: []Lane{{"ns/a", 2}, {"dest/fast", 2}}}, {Key: "b1", Lanes: []Lane{{"ns/b", 2}, {"dest/fast", 2}}}},
			wantStarted: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			d := New(ctx, time.Now)
			g := newGate()
			defer close(g.release)
			b := d.Batch(tc.hanging + len(tc.others))
			for i := range tc.hanging {
				b.Submit(Job{Key: fmt.Sprint("hang", i), Lanes: []Lane{{"ns/a", tc.limits["ns/a"]}, {"dest/slow", tc.limits["dest/slow"]}}, Send: g.send("slow")})
			}
			wantHanging := min(tc.hanging, tc.limits["ns/a"], tc.limits["dest/slow"])
			for range wantHanging {
				<-g.entered
			}
			done := make(chan string, len(tc.others))
			for _, o := range tc.others {
				o.Send = func(context.Context) error { done <- o.Key; return nil }
				if !b.Submit(o) {
					t.Fatalf("%s was refused", o.Key)
				}
			}
			started := 0
			timeout := time.After(500 * time.Millisecond)
		wait:
			for started < len(tc.others) {
				select {
				case <-done:
					started++
				case <-timeout:
					break wait
				}
			}
			if started != tc.wantStarted {
				t.Errorf("%d of the other sends started while the hanging ones hung, want %d", started, tc.wantStarted)
			}
			if got := d.Running("dest/slow"); got != wantHanging {
				t.Errorf("%d hanging sends running, want %d", got, wantHanging)
			}
		})
	}
}

func TestAKeyInFlightIsNotStartedTwice(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := New(ctx, time.Now)
	g := newGate()
	first := d.Batch(1)
	if !first.Submit(Job{Key: "k", Lanes: []Lane{{"ns/a", 1}}, Send: g.send("k")}) {
		t.Fatal("the first submit was refused")
	}
	<-g.entered
	if d.Batch(1).Submit(Job{Key: "k", Lanes: []Lane{{"ns/a", 1}}, Send: g.send("k")}) {
		t.Error("a second submit of a key in flight was accepted")
	}
	if got := first.Wait(ctx, 10*time.Millisecond); len(got) != 0 {
		t.Fatalf("outcomes %v before the send ended", got)
	}
	if !d.Busy("k") {
		t.Error("a running send is not busy")
	}
	close(g.release)
	waitFor(t, func() bool { d.mu.Lock(); defer d.mu.Unlock(); _, ok := d.held["k"]; return ok })
	if d.Batch(1).Submit(Job{Key: "k", Lanes: []Lane{{"ns/a", 1}}, Send: quick(nil)}) {
		t.Error("a key whose outcome is held was sent again before it was claimed")
	}
	if o, ok := d.Claim("k"); !ok || o.Err != nil {
		t.Errorf("claimed %v, %t; want the held success", o, ok)
	}
	if d.Busy("k") {
		t.Error("a claimed key is still busy")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inside["k"] != 1 {
		t.Errorf("k was sent %d times", g.inside["k"])
	}
}

func TestOutcomes(t *testing.T) {
	failed := errors.New("503")
	tests := map[string]struct {
		send func(g *gate) func(context.Context) error
		// waitFirst is how long the batch waits.
		wait time.Duration
		// wantWaited is whether the batch gets the outcome; otherwise it is
		// held and announced.
		wantWaited bool
		wantErr    error
	}{
		"a quick success goes to the batch": {send: func(*gate) func(context.Context) error { return quick(nil) }, wait: time.Second, wantWaited: true},
		"a quick failure goes to the batch": {send: func(*gate) func(context.Context) error { return quick(failed) }, wait: time.Second, wantWaited: true, wantErr: failed},
		"a slow send is held and announced": {send: func(g *gate) func(context.Context) error { return g.send("slow") }, wait: 20 * time.Millisecond},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			d := New(ctx, time.Now)
			g := newGate()
			announced := make(chan struct{}, 1)
			b := d.Batch(1)
			b.Submit(Job{Key: "k", Lanes: []Lane{{"ns", 1}}, Send: tc.send(g), Announce: func() { announced <- struct{}{} }})
			got := b.Wait(ctx, tc.wait)
			if tc.wantWaited {
				if len(got) != 1 || !errors.Is(got[0].Err, tc.wantErr) {
					t.Fatalf("batch got %v, want one outcome with %v", got, tc.wantErr)
				}
				select {
				case <-announced:
					t.Error("an outcome the batch took was announced too")
				case <-time.After(50 * time.Millisecond):
				}
				if d.Busy("k") {
					t.Error("the key is busy after its outcome went to the batch")
				}
				return
			}
			if len(got) != 0 {
				t.Fatalf("batch got %v from a send still running", got)
			}
			close(g.release)
			select {
			case <-announced:
			case <-time.After(5 * time.Second):
				t.Fatal("the held outcome was not announced")
			}
			if o, ok := d.Claim("k"); !ok || o.Err != nil {
				t.Errorf("claimed %v, %t", o, ok)
			}
		})
	}
}

// A waiting send starts, oldest first, as soon as a slot of its lane frees,
// and lanes nobody uses are forgotten.
func TestWaitingSendsStartInTurn(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := New(ctx, time.Now)
	var mu sync.Mutex
	var order []string
	release := map[string]chan struct{}{}
	for _, k := range []string{"1", "2", "3", "4"} {
		release[k] = make(chan struct{})
	}
	b := d.Batch(4)
	for _, k := range []string{"1", "2", "3", "4"} {
		b.Submit(Job{Key: k, Lanes: []Lane{{"dest", 1}, {"incident/" + k, 1}}, Send: func(context.Context) error {
			mu.Lock()
			order = append(order, k)
			mu.Unlock()
			<-release[k]
			return nil
		}})
	}
	for _, k := range []string{"1", "2", "3", "4"} {
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(order) > 0 && order[len(order)-1] == k })
		if n := d.Running("dest"); n != 1 {
			t.Fatalf("%d sends running in a lane of one", n)
		}
		close(release[k])
	}
	if got := b.Wait(ctx, 5*time.Second); len(got) != 4 {
		t.Fatalf("%d outcomes, want 4", len(got))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.lanes) != 0 || len(d.queued) != 0 {
		t.Errorf("%d lanes and %d jobs remain after every send ended", len(d.lanes), len(d.queued))
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// A lane whose send outlived its batch's wait is stalled until the send
// ends, so that later batches need not wait for that destination.
func TestALaneIsStalledWhileASendOutlivesItsWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := New(ctx, time.Now)
	g := newGate()
	b := d.Batch(1)
	b.Submit(Job{Key: "k", Lanes: []Lane{{"ns", 4}, {"dest", 4}}, Send: g.send("k")})
	<-g.entered
	if d.Stalled("dest") {
		t.Error("a lane is stalled while its batch still waits")
	}
	b.Wait(ctx, 10*time.Millisecond)
	if !d.Stalled("dest") || !d.Stalled("ns") {
		t.Error("the lanes of a send that outlived its wait are not stalled")
	}
	if d.Stalled("other") {
		t.Error("a lane without sends is stalled")
	}
	close(g.release)
	waitFor(t, func() bool { return !d.Stalled("dest") })
}

// Sends that nobody waited for do not stall their lane: once the send that
// outlived its wait has ended, a destination that keeps getting sends is
// waited for again.
func TestSendsNobodyWaitedForStallNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := New(ctx, time.Now)
	g := newGate()
	b := d.Batch(1)
	b.Submit(Job{Key: "slow", Lanes: []Lane{{"dest", 16}}, Send: g.send("slow")})
	<-g.entered
	b.Wait(ctx, 10*time.Millisecond)
	if !d.Stalled("dest") {
		t.Fatal("the lane of a send that outlived its wait is not stalled")
	}
	// A steady stream of sends that nobody waits for, each still running
	// when the next starts, outlasts the slow send.
	release := make(chan struct{})
	defer close(release)
	for i := range 3 {
		u := d.Batch(1)
		u.Submit(Job{Key: fmt.Sprint("unwaited-", i), Lanes: []Lane{{"dest", 16}}, Send: func(ctx context.Context) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}})
		if got := u.Wait(ctx, 0); len(got) != 0 {
			t.Fatalf("a batch that did not wait got %v", got)
		}
	}
	close(g.release)
	waitFor(t, func() bool { return !d.Stalled("dest") })
	if n := d.Running("dest"); n != 3 {
		t.Errorf("%d sends running, want the 3 nobody waited for", n)
	}
}
