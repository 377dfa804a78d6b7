// Command notification-sink receives the operator's notifications on
// loopback, webhooks over HTTP and e-mail over SMTP, and prints each one, for
// `make dev`.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/incidentops/incident-operator/internal/audit"
	"github.com/incidentops/incident-operator/internal/sink"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:18089", "Address for webhooks; loopback only.")
	smtpAddr := flag.String("smtp-listen", "127.0.0.1:18025", "Address for SMTP; loopback only.")
	flag.Parse()
	for _, a := range []string{*addr, *smtpAddr} {
		host, _, err := net.SplitHostPort(a)
		if err != nil || !net.ParseIP(host).IsLoopback() {
			log.Fatalf("%s: the sink listens on loopback addresses only", a)
		}
	}

	l, err := net.Listen("tcp", *smtpAddr)
	if err != nil {
		log.Fatal(err)
	}
	go func() { log.Fatal((&sink.Mailbox{Out: os.Stdout}).Serve(l)) }()

	fmt.Fprintf(os.Stderr, "notification sink listening on http://%s and smtp://%s\n", *addr, *smtpAddr)
	mux := http.NewServeMux()
	mux.Handle("/", &sink.Sink{Out: os.Stdout})
	mux.HandleFunc("/audit", printAudit)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// printAudit prints the audit entries the operator streams to
// --audit-sink-url, one
// line per entry.
func printAudit(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(r.Body)
	for dec.More() {
		var rec audit.Record
		if err := dec.Decode(&rec); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		e := rec.Entry
		who := e.Actor.Username
		if e.Actor.Operator {
			who = "operator"
		}
		fmt.Printf("audit  %s/%s #%d %s by %s %v\n", rec.Namespace, rec.Subject.Name, e.Sequence, e.Action, who, e.Details)
	}
	w.WriteHeader(http.StatusAccepted)
}
