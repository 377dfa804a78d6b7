// Command pause is the sandbox process of the Pods `make test-node` runs:
// it holds the Pod's namespaces open and does nothing until it is told to
// stop. The tests pack it into the sandbox image themselves, since no
// registry is reachable to pull one.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
