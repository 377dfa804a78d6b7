package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// DepartmentReconciler says whether a Department can be used: an absence
// that ends before it starts, which the schema refuses but an object stored
// before may hold, is ignored and reported naming the field.
type DepartmentReconciler struct {
	client.Client
	Clock clock.Clock
}

// +kubebuilder:rbac:groups=security.incidentops.io,resources=departments/status,verbs=patch

func (r *DepartmentReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	dept := &securityv1alpha1.Department{}
	if err := r.Get(ctx, req.NamespacedName, dept); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := dept.DeepCopy()
	defer func() {
		if retErr == nil {
			dept.Status.ObservedGeneration = dept.Generation
		}
		retErr = errors.Join(retErr, patchStatus(ctx, r.Client, dept, before, departmentStatus))
	}()
	var problems []string
	for i, a := range dept.Spec.Absences {
		if !a.Until.After(a.From.Time) {
			problems = append(problems, fmt.Sprintf("spec.absences[%d].until: must be after from; the absence of %s is ignored", i, a.Email))
		}
	}
	now := r.Clock.Now()
	if len(problems) > 0 {
		markStalled(&dept.Status.Conditions, dept.Generation, now, securityv1alpha1.ReasonInconsistent, truncateBytes(strings.Join(problems, "; "), maxConditionMessage))
		return ctrl.Result{}, nil
	}
	markReady(&dept.Status.Conditions, dept.Generation, now, fmt.Sprintf("%d managers, %d deputies, %d absences", len(dept.Spec.Managers), len(dept.Spec.Deputies), len(dept.Spec.Absences)))
	return ctrl.Result{}, nil
}

func departmentStatus(d *securityv1alpha1.Department) any { return d.Status }

// SetupWithManager registers the controller.
func (r *DepartmentReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&securityv1alpha1.Department{}).Named("department").Complete(r)
}
