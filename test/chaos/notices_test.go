package chaos_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/delivery"
)

// TestAcknowledgementNoticesSurviveKills acknowledges incidents moments
// after they are reported, while the operator is killed with SIGKILL again
// and again and a receiver refuses one request in three: an
// acknowledgement lands before the incident is routed, while its alerts
// are being sent or retried, or after. Every receiver alerted about an
// incident must be told of its acknowledgement, under the notice's key,
// and only after it accepted the alert.
func TestAcknowledgementNoticesSurviveKills(t *testing.T) {
	const (
		incidents = 60
		receivers = 3
		minKills  = 20
	)
	ns := newNamespace(t, "notices")
	s, url := newSink(t)
	var mu sync.Mutex
	refused := map[int]bool{} // the sink's requests answered 503, from 1
	s.Fail = func(n int) int {
		time.Sleep(40 * time.Millisecond) // a kill lands between accepting and recording
		if n%3 == 0 {
			mu.Lock()
			refused[n] = true
			mu.Unlock()
			return http.StatusServiceUnavailable
		}
		return 0
	}
	webhookPolicy(t, ns, "internal-audit", 100, true, 0, map[string]string{"audit": url + "/audit", "dpo": url + "/dpo"})
	webhookPolicy(t, ns, "service-desk", 50, false, 0, map[string]string{"desk": url + "/desk"})
	op := startOperator(t, ns)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	seed := uint64(time.Now().UnixNano())
	acked := make(chan error, 1)
	go func() {
		rnd := rand.New(rand.NewPCG(seed, 1))
		var wg sync.WaitGroup
		errs := make(chan error, incidents)
		for i := range incidents {
			name := fmt.Sprintf("ack-%03d", i)
			if err := createRetrying(ctx, newIncident(ns, name)); err != nil {
				acked <- err
				return
			}
			wg.Add(1)
			go func(after time.Duration) {
				defer wg.Done()
				time.Sleep(after)
				errs <- acknowledgeRetrying(ctx, ns, name)
			}(time.Duration(rnd.IntN(1500)) * time.Millisecond)
			time.Sleep(150 * time.Millisecond)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				acked <- err
				return
			}
		}
		acked <- nil
	}()

	rnd := rand.New(rand.NewPCG(seed, 2))
	kills := 0
	for done := false; !done || kills < minKills; {
		select {
		case err := <-acked:
			if err != nil {
				t.Fatalf("reporting and acknowledging: %v", err)
			}
			done = true
		case <-time.After(time.Duration(300+rnd.IntN(900)) * time.Millisecond):
			if err := op.Kill(); err != nil {
				t.Fatalf("kill %d: %v", kills+1, err)
			}
			if err := op.Start(); err != nil {
				t.Fatalf("restart %d: %v", kills+1, err)
			}
			kills++
		}
	}

	all := waitAllSettled(t, ns, incidents, 3*time.Minute)
	checkAuditLog(t, ns, all)
	got := s.Deliveries()
	mu.Lock()
	defer mu.Unlock()
	type story struct{ alertAt, noticeAt int } // index of the first accepted copy, from 1; 0 for none
	told := map[string]*story{}                // noticeKey → its recipient's story
	owed, sent, unsent := 0, 0, 0
	alertKey := map[string]string{} // noticeKey → the alert's key
	for _, inc := range all {
		if inc.Status.Phase != securityv1alpha1.PhaseAcknowledged {
			t.Errorf("%s is %s, want Acknowledged", inc.Name, inc.Status.Phase)
		}
		alerts := map[string]string{} // receiver → alert key
		for _, rec := range inc.Status.Notifications {
			if rec.Notice == "" {
				alerts[rec.Policy+"/"+rec.Receiver] = rec.Key
			}
		}
		if len(alerts) != receivers {
			t.Errorf("%s alerted %d receivers, want %d", inc.Name, len(alerts), receivers)
		}
		notices := map[string]string{}
		for _, rec := range inc.Status.Notifications {
			if rec.Notice == delivery.NoticeAcknowledged {
				notices[rec.Policy+"/"+rec.Receiver] = rec.Key
			}
		}
		for who, key := range alerts {
			owed++
			notice, ok := notices[who]
			if !ok {
				unsent++
				t.Errorf("%s: %s was alerted and is owed no acknowledgement notice", inc.Name, who)
				continue
			}
			told[notice], alertKey[notice] = &story{}, key
		}
	}
	byKey := map[string]*story{}
	for notice, st := range told {
		byKey[alertKey[notice]] = st
	}
	requests := map[string]int{} // by key
	for i, d := range got {
		n := i + 1
		requests[d.Key]++
		if refused[n] {
			continue
		}
		if st := byKey[d.Key]; st != nil && st.alertAt == 0 {
			st.alertAt = n
		}
		if st := told[d.Key]; st != nil && st.noticeAt == 0 {
			st.noticeAt = n
			sent++
		}
	}
	for notice, st := range told {
		switch {
		case st.noticeAt == 0:
			unsent++
			t.Errorf("acknowledgement notice %s never reached its receiver", notice)
		case st.alertAt == 0 || st.alertAt > st.noticeAt:
			t.Errorf("acknowledgement notice %s reached its receiver (request %d) before the alert it closes (request %d)", notice, st.noticeAt, st.alertAt)
		}
	}
	again := 0
	for _, n := range requests {
		again += n - 1
	}
	t.Logf("%d kills, %d incidents: %d acknowledgement notices owed, %d sent, %d unsent; the receivers got %d requests (%d refused with 503, %d more than one under a key)",
		kills, incidents, owed, sent, unsent, len(got), len(refused), again)
}

// acknowledgeRetrying records the incident's acknowledgement, retrying
// while the API server is unreachable.
func acknowledgeRetrying(ctx context.Context, ns, name string) error {
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"acknowledgement":{"by":"Jo Bloggs"}}}`))
	for {
		inc := &securityv1alpha1.Incident{}
		inc.Namespace, inc.Name = ns, name
		err := k8sClient.Patch(ctx, inc, patch)
		if err == nil || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAllSettled waits until all want incidents in ns are acknowledged and
// every delivery they record is settled, and returns them.
func waitAllSettled(t *testing.T, ns string, want int, timeout time.Duration) []securityv1alpha1.Incident {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var list securityv1alpha1.IncidentList
		err := k8sClient.List(context.Background(), &list, client.InNamespace(ns))
		settled := 0
		for _, inc := range list.Items {
			done := inc.Status.AcknowledgedAt != nil && len(inc.Status.Notifications) > 0
			for _, rec := range inc.Status.Notifications {
				done = done && (rec.State == securityv1alpha1.DeliveryDelivered || rec.State == securityv1alpha1.DeliveryAbandoned)
			}
			if done {
				settled++
			}
		}
		if err == nil && len(list.Items) == want && settled == want {
			return list.Items
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %d of %d incidents acknowledged with every delivery settled (list error: %v)", timeout, settled, want, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
