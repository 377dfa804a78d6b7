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

	"github.com/incidentops/incident-operator/internal/sink"
	"github.com/incidentops/incident-operator/internal/translog"
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
// --audit-sink-url, one line per entry: each line is the entry as the
// namespace's audit log holds it.
func printAudit(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(r.Body)
	for dec.More() {
		var e translog.Entry
		if err := dec.Decode(&e); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		who := e.Actor
		if e.Operator {
			who = "operator"
		}
		fmt.Printf("audit  %s/%s #%d %s by %s %v\n", e.Namespace, e.Incident, e.Index, e.Action, who, e.Details)
	}
	w.WriteHeader(http.StatusAccepted)
}
