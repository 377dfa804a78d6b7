// Command notification-sink receives the operator's notifications on
// loopback, webhooks over HTTP and e-mail over SMTP, and prints each one, for
// `make dev`.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

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
	srv := &http.Server{Addr: *addr, Handler: &sink.Sink{Out: os.Stdout}, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
