package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/incidentops/incident-operator/internal/installation"
)

// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=list

// InstallGuard keeps one installation of the operator per cluster: it reads
// the leader-election Leases of every namespace and stops the operator,
// naming the other installation, when another holds one that this one must
// give way to (installation.Other). It checks before the operator starts
// and every Interval after, so that of two installations started together
// one stops.
type InstallGuard struct {
	// Reader lists Leases in every namespace, uncached.
	Reader client.Reader
	// LeaseName is the leader-election Lease's name, LeaseNamespace this
	// installation's.
	LeaseName, LeaseNamespace string
	Interval                  time.Duration
	Clock                     clock.Clock
}

// ErrAnotherInstallation is what the guard stops the operator with.
var ErrAnotherInstallation = errors.New("another installation of the operator runs in this cluster")

// Check returns ErrAnotherInstallation, naming it, when this installation
// must give way to another.
func (g *InstallGuard) Check(ctx context.Context) error {
	var leases coordinationv1.LeaseList
	if err := g.Reader.List(ctx, &leases, client.MatchingFields{"metadata.name": g.LeaseName}); err != nil {
		return fmt.Errorf("listing the operator's leader-election Leases in every namespace, to find another installation: %w", err)
	}
	if other := installation.Other(leases.Items, g.LeaseNamespace, g.Clock.Now()); other != nil {
		return fmt.Errorf("%w: %s", ErrAnotherInstallation, installation.Describe(other))
	}
	return nil
}

// Start checks every Interval until ctx ends, and returns the error that
// stops the manager when another installation is found. A failure to read
// the Leases is logged and retried: it is no proof of another installation.
func (g *InstallGuard) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("install-guard")
	ticker := time.NewTicker(g.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		err := g.Check(ctx)
		switch {
		case errors.Is(err, ErrAnotherInstallation):
			return err
		case err != nil && ctx.Err() == nil:
			log.Error(err, "Checking for another installation")
		}
	}
}

// NeedLeaderElection is false: every replica checks, the leader included.
func (g *InstallGuard) NeedLeaderElection() bool { return false }
