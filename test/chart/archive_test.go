package chart

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// archiveDir is where the chart mounts the archive's claim.
const archiveDir = "/var/lib/incident-operator/archive"

// A verifier key of the form `witness keygen` prints (name+hash+key).
const witnessVerifierKey = "witness.example.org/security+3d4f9a1c+AWm1/Xo2+rkq8dHf0b6r8dPFtmTs0C8y4WUqLtZUMq0="

// auditArchive.persistence gives a claim kept on uninstall, mounted
// read-write where --audit-archive points: with the root filesystem
// read-only, the mount is what lets the operator write the record.
func TestAuditArchiveOnAVolume(t *testing.T) {
	objects := byKindAndName(render(t, "auditArchive.persistence.enabled=true", "replicaCount=1", "auditArchive.persistence.storageClass=worm"))
	claimName := release + "-audit-archive"
	claim := objects[key("PersistentVolumeClaim", claimName)]
	if claim == nil {
		t.Fatalf("auditArchive.persistence.enabled=true renders no PersistentVolumeClaim %s", claimName)
	}
	if keep := claim.GetAnnotations()["helm.sh/resource-policy"]; keep != "keep" {
		t.Errorf("the archive's claim: helm.sh/resource-policy = %q, want keep, so that helm uninstall leaves the record", keep)
	}
	spec, _, _ := unstructured.NestedMap(claim.Object, "spec")
	if size, _, _ := unstructured.NestedString(spec, "resources", "requests", "storage"); size != "10Gi" {
		t.Errorf("the archive's claim requests %q, want the default 10Gi", size)
	}
	if modes, _, _ := unstructured.NestedStringSlice(spec, "accessModes"); !slices.Equal(modes, []string{"ReadWriteOnce"}) {
		t.Errorf("the archive's claim: accessModes %v, want [ReadWriteOnce]", modes)
	}
	if class, _, _ := unstructured.NestedString(spec, "storageClassName"); class != "worm" {
		t.Errorf("the archive's claim: storageClassName %q, want worm", class)
	}

	deployment := objects[key("Deployment", release+"-controller-manager")]
	if !slices.Contains(containerArgs(t, deployment), "--audit-archive="+archiveDir) {
		t.Errorf("the operator's args lack --audit-archive=%s:\n%s", archiveDir, strings.Join(containerArgs(t, deployment), "\n"))
	}
	volume := podVolume(t, deployment, "audit-archive")
	if got, _, _ := unstructured.NestedString(volume, "persistentVolumeClaim", "claimName"); got != claimName {
		t.Errorf("the pod's volume audit-archive is %v, want the claim %s", volume, claimName)
	}
	mount := volumeMount(t, deployment, "audit-archive")
	if mount["mountPath"] != archiveDir || mount["readOnly"] == true {
		t.Errorf("the archive is mounted as %v, want read-write at %s", mount, archiveDir)
	}
	if readOnly, _, _ := unstructured.NestedBool(managerContainer(t, deployment), "securityContext", "readOnlyRootFilesystem"); !readOnly {
		t.Error("the root filesystem is writable: only the archive's mount and /tmp should be")
	}
	// A volume of the cluster's storage is owned by root: the pod's group
	// must own it, or the operator (65532) cannot write the record.
	if fsGroup, _, _ := unstructured.NestedFieldNoCopy(deployment.Object, "spec", "template", "spec", "securityContext", "fsGroup"); normalise(fsGroup) != 65532.0 {
		t.Errorf("the pod's fsGroup is %d, want 65532, the operator's group", fsGroup)
	}
	// One replica on a ReadWriteOnce volume: a surge pod on another node
	// would wait for the volume the old pod holds, and the rollout with it.
	if strategy, _, _ := unstructured.NestedString(deployment.Object, "spec", "strategy", "type"); strategy != "Recreate" {
		t.Errorf("the Deployment's strategy is %q on a ReadWriteOnce archive, want Recreate", strategy)
	}

	// On a volume every node can mount, two replicas roll as usual.
	shared := byKindAndName(render(t, "auditArchive.persistence.enabled=true", "auditArchive.persistence.accessModes={ReadWriteMany}", "auditArchive.persistence.storageClass=-"))
	deployment = shared[key("Deployment", release+"-controller-manager")]
	if strategy, _, _ := unstructured.NestedString(deployment.Object, "spec", "strategy", "type"); strategy == "Recreate" {
		t.Error("two replicas on a ReadWriteMany archive are recreated, not rolled")
	}
	if class, found, _ := unstructured.NestedString(shared[key("PersistentVolumeClaim", claimName)].Object, "spec", "storageClassName"); !found || class != "" {
		t.Errorf("storageClass - gives storageClassName %q (set: %v), want \"\", no class", class, found)
	}

	// Off by default: no claim, no flag, no volume.
	objects = byKindAndName(render(t))
	if countKind(objects, "PersistentVolumeClaim") != 0 {
		t.Error("the chart renders a PersistentVolumeClaim by default")
	}
	for _, arg := range containerArgs(t, objects[key("Deployment", release+"-controller-manager")]) {
		if strings.HasPrefix(arg, "--audit-archive") || strings.HasPrefix(arg, "--audit-witness") {
			t.Errorf("the operator's args hold %s by default", arg)
		}
	}
}

// auditArchive.s3 gives the flags, and the credentials as environment
// variables from the Secret, which is the only place the operator reads
// them.
func TestAuditArchiveInS3(t *testing.T) {
	deployment := byKindAndName(render(t,
		"auditArchive.s3.url=s3://records/prod", "auditArchive.s3.endpoint=https://minio.example.org",
		"auditArchive.s3.region=eu-west-2", "auditArchive.s3.pathStyle=true", "auditArchive.s3.retention=61320h",
		"auditArchive.s3.credentialsSecret=archive-s3"))[key("Deployment", release+"-controller-manager")]
	args := containerArgs(t, deployment)
	for _, want := range []string{
		"--audit-archive=s3://records/prod",
		"--audit-archive-s3-endpoint=https://minio.example.org",
		"--audit-archive-s3-region=eu-west-2",
		"--audit-archive-s3-path-style",
		"--audit-archive-retention=61320h",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("the operator's args lack %s:\n%s", want, strings.Join(args, "\n"))
		}
	}
	env := map[string]any{}
	list, _, _ := unstructured.NestedSlice(managerContainer(t, deployment), "env")
	for _, e := range list {
		e := e.(map[string]any)
		env[e["name"].(string)] = e["valueFrom"]
	}
	for variable, optional := range map[string]bool{"AWS_ACCESS_KEY_ID": false, "AWS_SECRET_ACCESS_KEY": false, "AWS_SESSION_TOKEN": true} {
		want := map[string]any{"secretKeyRef": map[string]any{"name": "archive-s3", "key": variable}}
		if optional {
			want["secretKeyRef"].(map[string]any)["optional"] = true
		}
		if !reflect.DeepEqual(env[variable], want) {
			t.Errorf("env %s comes from %v, want %v", variable, env[variable], want)
		}
	}
	for _, v := range podVolumes(t, deployment) {
		if v.(map[string]any)["name"] == "audit-archive" {
			t.Error("an S3 archive mounts a volume")
		}
	}
}

// auditWitness gives the three flags of the witness.
func TestAuditWitnessValuesBecomeOperatorFlags(t *testing.T) {
	deployment := byKindAndName(render(t,
		"auditWitness.url=http://incident-witness.incident-witness.svc:8448",
		"auditWitness.verifierKey="+witnessVerifierKey, "auditWitness.interval=30s",
		"auditArchive.persistence.enabled=true", "replicaCount=1"))[key("Deployment", release+"-controller-manager")]
	args := containerArgs(t, deployment)
	for _, want := range []string{
		"--audit-witness-url=http://incident-witness.incident-witness.svc:8448",
		"--audit-witness-key=" + witnessVerifierKey,
		"--audit-witness-interval=30s",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("the operator's args lack %s:\n%s", want, strings.Join(args, "\n"))
		}
	}
	s3 := containerArgs(t, byKindAndName(render(t, "auditArchive.s3.url=s3://records/prod", "auditArchive.s3.endpoint=https://minio.example.org",
		"auditArchive.s3.region=eu-west-2", "auditArchive.s3.pathStyle=true", "auditArchive.s3.retention=1h",
		"auditArchive.s3.credentialsSecret=archive-s3"))[key("Deployment", release+"-controller-manager")])
	known := operatorFlags(t)
	for _, arg := range append(args, s3...) {
		if name := flagName(arg); !known[name] {
			t.Errorf("the chart passes %s, which the operator does not know", arg)
		}
	}
}

// The archive and witness values that cannot work are refused before
// anything reaches the cluster, naming the values to change: by the
// schema, and by the templates when the schema is skipped.
func TestAuditArchiveAndWitnessValuesRefused(t *testing.T) {
	tests := map[string]struct {
		set    []string
		schema []string // what the schema's refusal names
		// what the templates' refusal says with --skip-schema-validation;
		// empty for values only the schema knows to be wrong.
		template string
	}{
		"a volume and a bucket": {
			[]string{"auditArchive.persistence.enabled=true", "replicaCount=1", "auditArchive.s3.url=s3://records/prod", "auditArchive.s3.credentialsSecret=archive-s3"},
			[]string{"/auditArchive/persistence/enabled", "/auditArchive/s3/url"},
			"set auditArchive.persistence.enabled or auditArchive.s3.url, not both",
		},
		"a bucket without credentials": {
			[]string{"auditArchive.s3.url=s3://records/prod"},
			[]string{"/auditArchive/s3/credentialsSecret"},
			"auditArchive.s3.credentialsSecret is required with auditArchive.s3.url",
		},
		"two replicas on a ReadWriteOnce volume": {
			[]string{"auditArchive.persistence.enabled=true"},
			[]string{"/replicaCount", "/auditArchive/persistence/accessModes"},
			"auditArchive.persistence with replicaCount > 1 needs accessModes [ReadWriteMany]",
		},
		"a witness without its key": {
			[]string{"auditWitness.url=http://incident-witness.incident-witness.svc:8448"},
			[]string{"/auditWitness/verifierKey"},
			"auditWitness.verifierKey is required with auditWitness.url",
		},
		"a bucket that is no s3 URL":      {[]string{"auditArchive.s3.url=https://records.s3.amazonaws.com", "auditArchive.s3.credentialsSecret=archive-s3"}, []string{"/auditArchive/s3/url"}, ""},
		"a witness key that is no key":    {[]string{"auditWitness.url=http://witness:8448", "auditWitness.verifierKey=witness.pub"}, []string{"/auditWitness/verifierKey"}, ""},
		"a read-only archive":             {[]string{"auditArchive.persistence.enabled=true", "replicaCount=1", "auditArchive.persistence.accessModes={ReadOnlyMany}"}, []string{"/auditArchive/persistence/accessModes/0"}, ""},
		"retention in words":              {[]string{"auditArchive.s3.retention=7 years"}, []string{"/auditArchive/s3/retention"}, ""},
		"a misspelt archive key":          {[]string{"auditArchive.persistence.sise=1Gi"}, []string{"additional properties 'sise' not allowed"}, ""},
		"a size that is no quantity":      {[]string{"auditArchive.persistence.size=ten"}, []string{"/auditArchive/persistence/size"}, ""},
		"a witness interval that is none": {[]string{"auditWitness.interval=often"}, []string{"/auditWitness/interval"}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := renderErr(tc.set...)
			if err == nil {
				t.Fatalf("helm template --set %v succeeded, want the schema to refuse it", tc.set)
			}
			if !strings.Contains(out, "values don't meet the specifications of the schema") {
				t.Errorf("helm template --set %v was not refused by the schema:\n%s", tc.set, out)
			}
			for _, want := range tc.schema {
				if !strings.Contains(out, want) {
					t.Errorf("helm template --set %v failed without naming %s:\n%s", tc.set, want, out)
				}
			}
			if tc.template == "" {
				return
			}
			out, err = template(release, namespace, chartDir, append([]string{"--skip-schema-validation"}, setFlags(tc.set)...)...)
			if err == nil || !strings.Contains(out, tc.template) {
				t.Errorf("helm template --skip-schema-validation --set %v: %v, want it refused with %q:\n%s", tc.set, err, tc.template, out)
			}
		})
	}
}

// managerContainer is the Deployment's first container: the operator's, or
// the witness's.
func managerContainer(t *testing.T, deployment *unstructured.Unstructured) map[string]any {
	t.Helper()
	if deployment == nil {
		t.Fatal("no Deployment")
	}
	containers, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	return containers[0].(map[string]any)
}

func podVolumes(t *testing.T, deployment *unstructured.Unstructured) []any {
	t.Helper()
	volumes, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "volumes")
	return volumes
}

// podVolume is the pod's volume of that name.
func podVolume(t *testing.T, deployment *unstructured.Unstructured, name string) map[string]any {
	t.Helper()
	for _, v := range podVolumes(t, deployment) {
		if v := v.(map[string]any); v["name"] == name {
			return v
		}
	}
	t.Fatalf("the pod has no volume %s: %v", name, podVolumes(t, deployment))
	return nil
}

// volumeMount is the first container's mount of the volume of that name.
func volumeMount(t *testing.T, deployment *unstructured.Unstructured, name string) map[string]any {
	t.Helper()
	mounts, _, _ := unstructured.NestedSlice(managerContainer(t, deployment), "volumeMounts")
	for _, m := range mounts {
		if m := m.(map[string]any); m["name"] == name {
			return m
		}
	}
	t.Fatalf("the container does not mount %s: %v", name, mounts)
	return nil
}
