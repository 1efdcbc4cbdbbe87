package deploy

import (
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// manifestDir holds the Kubernetes manifests.
const manifestDir = "kubernetes"

// manifests are the objects of every manifest under manifestDir, by kind
// and name.
type manifests struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	claims      map[string]*corev1.PersistentVolumeClaim
	secrets     map[string]*corev1.Secret
}

// documentSeparator splits a YAML stream into its documents.
var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeStrict decodes one YAML document into the API type of its kind,
// refusing fields the type does not have (and duplicate fields).
func decodeStrict(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		obj = &appsv1.Deployment{}
	case "v1 Service":
		obj = &corev1.Service{}
	case "v1 PersistentVolumeClaim":
		obj = &corev1.PersistentVolumeClaim{}
	case "v1 Secret":
		obj = &corev1.Secret{}
	default:
		return nil, fmt.Errorf("unexpected object %s %s", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// readManifests decodes every .yaml file under manifestDir.
func readManifests(t *testing.T) manifests {
	t.Helper()
	m := manifests{
		deployments: map[string]*appsv1.Deployment{},
		services:    map[string]*corev1.Service{},
		claims:      map[string]*corev1.PersistentVolumeClaim{},
		secrets:     map[string]*corev1.Secret{},
	}
	files := 0
	err := filepath.WalkDir(manifestDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(path); ext != ".yaml" {
			return fmt.Errorf("%s: want .yaml files only in %s", path, manifestDir)
		}
		files++
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, doc := range documentSeparator.Split(string(text), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			obj, err := decodeStrict([]byte(doc))
			if err != nil {
				return fmt.Errorf("%s, document %d: %w", path, i+1, err)
			}
			var name string
			var dup bool
			switch o := obj.(type) {
			case *appsv1.Deployment:
				name, dup = o.Name, m.deployments[o.Name] != nil
				m.deployments[o.Name] = o
			case *corev1.Service:
				name, dup = o.Name, m.services[o.Name] != nil
				m.services[o.Name] = o
			case *corev1.PersistentVolumeClaim:
				name, dup = o.Name, m.claims[o.Name] != nil
				m.claims[o.Name] = o
			case *corev1.Secret:
				name, dup = o.Name, m.secrets[o.Name] != nil
				m.secrets[o.Name] = o
			}
			if name == "" || dup {
				return fmt.Errorf("%s, document %d: no name, or a name another object of its kind has (%q)", path, i+1, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no manifests in %s", manifestDir)
	}
	return m
}

// stripComments drops the comment lines of a YAML document.
func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// The decoder refuses what the API types do not have, so a misspelt field
// cannot pass unnoticed.
func TestManifestDecoderIsStrict(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replica: 1}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {selector: {a: b}, selector: {a: c}}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
	} {
		if _, err := decodeStrict([]byte(doc)); err == nil {
			t.Errorf("decoded without an error:\n%s", doc)
		}
	}
}

func TestKubernetesManifests(t *testing.T) {
	m := readManifests(t)
	if got, want := slices.Sorted(maps.Keys(m.deployments)), slices.Sorted(maps.Keys(services)); !slices.Equal(got, want) {
		t.Errorf("Deployments %q, want %q", got, want)
	}
	if got, want := slices.Sorted(maps.Keys(m.services)), slices.Sorted(maps.Keys(services)); !slices.Equal(got, want) {
		t.Errorf("Services %q, want %q", got, want)
	}
	if len(m.secrets) != 1 {
		t.Fatalf("%d Secrets, want 1, the signing key's", len(m.secrets))
	}

	claimedBy := map[string]string{}
	for name, d := range m.deployments {
		t.Run("Deployment "+name, func(t *testing.T) { checkDeployment(t, m, d, claimedBy) })
	}
	for name, s := range m.services {
		t.Run("Service "+name, func(t *testing.T) { checkService(t, m, s) })
	}
	for name := range m.claims {
		if claimedBy[name] == "" {
			t.Errorf("PersistentVolumeClaim %s is mounted by no Deployment", name)
		}
	}
	for name, s := range m.secrets {
		// The shipped key is a placeholder the services refuse (shorter than
		// 32 characters): a usable one would be a key everybody knows.
		if key, ok := s.StringData["secret-key"]; !ok || len(key) == 0 || len(key) >= 32 {
			t.Errorf("Secret %s: secret-key %q, want a placeholder shorter than the 32 characters a key needs", name, key)
		}
	}
}

// secretKeys returns the keys a Secret holds.
func secretKeys(s *corev1.Secret) []string {
	keys := slices.Collect(maps.Keys(s.StringData))
	for k := range s.Data {
		keys = append(keys, k)
	}
	return keys
}

// containerPort resolves a probe's or a Service's target port to the
// container's port number, or 0 when the container declares no such port.
func containerPort(c corev1.Container, port intstr.IntOrString) int32 {
	for _, p := range c.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return p.ContainerPort
		}
	}
	return 0
}

func checkDeployment(t *testing.T, m manifests, d *appsv1.Deployment, claimedBy map[string]string) {
	name := d.Name
	spec := d.Spec.Template.Spec
	if d.Spec.Selector == nil {
		t.Fatal("no selector")
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("selector %v does not select the pod template's labels %v (%v)", d.Spec.Selector, d.Spec.Template.Labels, err)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	bin := imageBinary(c.Image)
	if bin != services[name] {
		t.Fatalf("image %s, want kitshop/%s (the image compose.yaml builds)", c.Image, services[name])
	}
	port := int32(binaries[bin].port)
	if containerPort(c, intstr.FromInt32(port)) == 0 {
		t.Errorf("container ports %+v, want %d, the port of %s", c.Ports, port, bin)
	}

	// Probes: ready on /readyz, live on /healthz, on the container's port.
	for _, p := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no %s with httpGet", p.kind)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s asks %s, want %s", p.kind, p.probe.HTTPGet.Path, p.path)
		}
		if containerPort(c, p.probe.HTTPGet.Port) != port {
			t.Errorf("%s asks port %s, want the container's port %d", p.kind, p.probe.HTTPGet.Port.String(), port)
		}
	}

	// Resources: requests and limits of CPU and memory, requests within limits.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := c.Resources.Requests[r]
		lim, hasLim := c.Resources.Limits[r]
		switch {
		case !hasReq || req.IsZero():
			t.Errorf("no %s request", r)
		case !hasLim || lim.IsZero():
			t.Errorf("no %s limit", r)
		case req.Cmp(lim) > 0:
			t.Errorf("%s request %s above its limit %s", r, req.String(), lim.String())
		}
	}

	// Not root, nothing written outside the volumes, no service links (a
	// Service named shop would inject SHOP_SERVICE_HOST, which every binary
	// refuses as an unknown setting).
	nonRoot := spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot
	if sc := c.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
		nonRoot = *sc.RunAsNonRoot
	}
	if !nonRoot {
		t.Error("runAsNonRoot is not true")
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if sc := c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
		t.Error("enableServiceLinks is not false")
	}

	// The environment: settings the binary knows, the signing key from the
	// Secret, peers at the Services' DNS names and ports, events over HTTP.
	env := map[string]string{}
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "SHOP_") && !knows(bin, e.Name) {
			t.Errorf("env %s: %s does not know it and would refuse to start", e.Name, bin)
		}
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s is set twice", e.Name)
		}
		env[e.Name] = e.Value
		if e.ValueFrom == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if ref == nil {
			t.Errorf("env %s: only secretKeyRef is expected", e.Name)
			continue
		}
		s := m.secrets[ref.Name]
		optional := ref.Optional != nil && *ref.Optional
		switch {
		case s == nil:
			t.Errorf("env %s refers to Secret %s, which no manifest declares", e.Name, ref.Name)
		case !optional && !slices.Contains(secretKeys(s), ref.Key):
			t.Errorf("env %s refers to key %s, which Secret %s does not hold", e.Name, ref.Key, ref.Name)
		}
	}
	var key *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "SHOP_SECRET_KEY" {
			key = &c.Env[i]
		}
	}
	if key == nil || key.Value != "" || key.ValueFrom == nil || key.ValueFrom.SecretKeyRef == nil ||
		(key.ValueFrom.SecretKeyRef.Optional != nil && *key.ValueFrom.SecretKeyRef.Optional) {
		t.Error("SHOP_SECRET_KEY is not taken from the Secret (a secretKeyRef, not optional)")
	}
	if got, want := env["SHOP_ADDR"], "0.0.0.0:"+strconv.Itoa(int(port)); got != want {
		t.Errorf("SHOP_ADDR %q, want %s", got, want)
	}
	for _, n := range []string{"SHOP_AMQP_URL", "SHOP_CONSUL_ADDR"} {
		if _, ok := env[n]; ok {
			t.Errorf("%s is set; these manifests find the services through their Services and send events over HTTP", n)
		}
	}
	for n, v := range env {
		if !strings.HasSuffix(n, "_URL") {
			continue
		}
		for _, inst := range strings.Split(v, ",") {
			host, p, err := net.SplitHostPort(inst)
			svc := m.services[host]
			if err != nil || svc == nil || !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return strconv.Itoa(int(sp.Port)) == p }) {
				t.Errorf("%s=%s is not a Service's name and port", n, v)
			}
		}
	}
	for _, want := range peers[bin] {
		if env[want] == "" {
			t.Errorf("%s is not set; %s would call 127.0.0.1", want, bin)
		}
	}

	// State: one SQLite writer per file, on its PersistentVolumeClaim at /data.
	if !slices.Contains(stateful, name) {
		if d.Spec.Replicas == nil || *d.Spec.Replicas < 1 {
			t.Error("replicas not set")
		}
		return
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Error("replicas is not 1: SQLite has one writer per file")
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q, want Recreate: a rolling update would run two writers on one file", d.Spec.Strategy.Type)
	}
	if env["SHOP_DATA_DIR"] != "/data" {
		t.Errorf("SHOP_DATA_DIR %q, want /data", env["SHOP_DATA_DIR"])
	}
	var dataVolume string
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == "/data" && !vm.ReadOnly {
			dataVolume = vm.Name
		}
	}
	var claim string
	for _, v := range spec.Volumes {
		if v.Name == dataVolume && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim == "" {
		t.Fatal("no PersistentVolumeClaim mounted at /data")
	}
	pvc := m.claims[claim]
	if pvc == nil {
		t.Fatalf("mounts the PersistentVolumeClaim %s, which no manifest declares", claim)
	}
	if other := claimedBy[claim]; other != "" {
		t.Errorf("the PersistentVolumeClaim %s is mounted by %s too", claim, other)
	}
	claimedBy[claim] = name
	if _, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		t.Errorf("PersistentVolumeClaim %s requests no storage", claim)
	}
	if !slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
		t.Errorf("PersistentVolumeClaim %s access modes %v, want ReadWriteOnce", claim, pvc.Spec.AccessModes)
	}
	if spec.SecurityContext == nil || spec.SecurityContext.FSGroup == nil {
		t.Error("no fsGroup: the volume would not be writable by the non-root user")
	}
}

// peers are the settings each binary needs in a cluster: without them it
// calls the others on 127.0.0.1.
var peers = map[string][]string{
	"catalogsvc":   {"SHOP_USERS_URL"},
	"inventorysvc": {"SHOP_USERS_URL", "SHOP_CATALOG_URL"},
	"ordersvc":     {"SHOP_USERS_URL", "SHOP_CATALOG_URL", "SHOP_INVENTORY_URL"},
	"gateway":      {"SHOP_USER_URL", "SHOP_CATALOG_URL", "SHOP_INVENTORY_URL", "SHOP_ORDER_URL"},
}

func checkService(t *testing.T, m manifests, s *corev1.Service) {
	if len(s.Spec.Selector) == 0 {
		t.Fatal("no selector")
	}
	var selected []*appsv1.Deployment
	for _, d := range m.deployments {
		if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			selected = append(selected, d)
		}
	}
	if len(selected) != 1 {
		t.Fatalf("selector %v selects the pods of %d Deployments, want 1", s.Spec.Selector, len(selected))
	}
	d := selected[0]
	if d.Name != s.Name {
		t.Errorf("selects the pods of %s, want those of the Deployment of its name", d.Name)
	}
	if len(s.Spec.Ports) == 0 {
		t.Fatal("no ports")
	}
	c := d.Spec.Template.Spec.Containers[0]
	for _, p := range s.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port) // targetPort defaults to port
		}
		if containerPort(c, target) == 0 {
			t.Errorf("port %d targets %s, which %s's container does not declare", p.Port, target.String(), d.Name)
		}
		if want := int32(binaries[services[s.Name]].port); p.Port != want {
			t.Errorf("port %d, want %d, the port the others and the docs use", p.Port, want)
		}
	}
}
