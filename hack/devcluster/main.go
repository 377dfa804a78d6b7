// Command devcluster runs the local control plane (etcd and kube-apiserver
// from bin/k8s) for `make dev`, writes an admin kubeconfig, and stops the
// control plane cleanly on SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/incidentops/incident-operator/internal/testenv"
)

func main() {
	kubeconfig := flag.String("write-kubeconfig", "bin/dev/kubeconfig", "Where to write the admin kubeconfig.")
	flag.Parse()

	env, err := testenv.New(false)
	if err != nil {
		fail(err)
	}
	if _, err := env.Start(); err != nil {
		fail(fmt.Errorf("starting the control plane: %w", err))
	}
	stop := func() {
		_ = os.Remove(*kubeconfig)
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
	}
	if err := testenv.WriteAdminKubeconfig(env, *kubeconfig); err != nil {
		stop()
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "control plane up: kube-apiserver at %s, kubeconfig %s\n", env.Config.Host, *kubeconfig)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
	stop()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
