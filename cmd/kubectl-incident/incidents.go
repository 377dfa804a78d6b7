package main

// Reading incidents and the user, shared by the commands.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/printable"
)

// getIncident reads one incident of the namespace, saying how to find the
// right name when there is none.
func getIncident(ctx context.Context, c client.Client, namespace, name string) (*securityv1alpha1.Incident, error) {
	inc := &securityv1alpha1.Incident{}
	err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, inc)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("there is no incident %q in namespace %q: `kubectl incident list` shows the incidents there (-n names another namespace)", name, namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("reading incident %s: %w", name, err)
	}
	return inc, nil
}

// whoAmI is the account the API server authenticates for these flags
// (with --as, the impersonated one).
func whoAmI(ctx context.Context, c client.Client) (string, error) {
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return "", fmt.Errorf("asking the API server who you are (SelfSubjectReview): %w", err)
	}
	return review.Status.UserInfo.Username, nil
}

// account is the attested account of a record, or a note that the API
// server wrote none (its admission policies are not installed).
func account(a *securityv1alpha1.Attestation) string {
	if a == nil || a.Username == "" {
		return "none recorded (are the admission policies of config/admission installed?)"
	}
	return a.Username
}

// recipient names who a notification went to: a receiver, or a person
// found by role with their address.
func recipient(n securityv1alpha1.NotificationRecord) string {
	if n.Role != "" {
		return fmt.Sprintf("%s <%s>", n.Role, n.Recipient)
	}
	return n.Receiver
}

// completeIncidents completes a NAME argument with the incidents of the
// namespace, each described by its title.
func completeIncidents(o *options) cobra.CompletionFunc {
	return completeNames(o, func(ctx context.Context, c client.Client, ns string) (map[string]string, error) {
		var list securityv1alpha1.IncidentList
		err := c.List(ctx, &list, client.InNamespace(ns))
		names := map[string]string{}
		for _, inc := range list.Items {
			names[inc.Name] = inc.Spec.Title
		}
		return names, err
	})
}

// completeEvidence completes an EVIDENCE argument.
func completeEvidence(o *options) cobra.CompletionFunc {
	return completeNames(o, func(ctx context.Context, c client.Client, ns string) (map[string]string, error) {
		var list securityv1alpha1.EvidenceList
		err := c.List(ctx, &list, client.InNamespace(ns))
		names := map[string]string{}
		for _, ev := range list.Items {
			names[ev.Name] = fmt.Sprintf("%s of %s", ev.Spec.Kind, ev.Spec.Incident)
		}
		return names, err
	})
}

// completeNames completes the first argument with the names list finds in
// the namespace, each with its description.
func completeNames(o *options, list func(context.Context, client.Client, string) (map[string]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, ns, err := o.connect()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		names, err := list(cmd.Context(), c, ns)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, name := range slices.Sorted(maps.Keys(names)) {
			if strings.HasPrefix(name, toComplete) {
				// A description is shown by the shell: a title's line
				// break would end the completion, its escapes act there.
				out = append(out, cobra.CompletionWithDesc(name, printable.Text(names[name])))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
