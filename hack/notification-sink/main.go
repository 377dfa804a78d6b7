// Command notification-sink receives the operator's webhook notifications on
// loopback and prints each one, for `make dev`.
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
	addr := flag.String("listen", "127.0.0.1:18089", "Address to listen on; loopback only.")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("--listen=%s: the sink listens on a loopback address only", *addr)
	}
	fmt.Fprintf(os.Stderr, "notification sink listening on http://%s\n", *addr)
	srv := &http.Server{Addr: *addr, Handler: &sink.Sink{Out: os.Stdout}, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
