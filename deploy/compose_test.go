package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeEnv are the variables compose.yaml needs, as a user sets them.
var composeEnv = []string{
	"SHOP_SECRET_KEY=" + strings.Repeat("k", 64),
	"RABBITMQ_PASSWORD=0123456789abcdef",
}

// loadCompose loads the compose file at path the way docker compose does,
// strictly (the file checked against the Compose specification's schema,
// which refuses unknown keys, then for consistency), interpolating only env:
// neither this process's environment nor a .env file is read.
func loadCompose(t *testing.T, path string, env []string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{path},
		cli.WithWorkingDirectory(filepath.Dir(path)),
		cli.WithEnv(env),
		cli.WithConsistency(true),
		cli.WithInterpolation(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func TestCompose(t *testing.T) {
	p, err := loadCompose(t, filepath.Join(repoRoot, "compose.yaml"), composeEnv)
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	want := []string{"consul", "rabbitmq"}
	for svc := range services {
		want = append(want, svc)
	}
	slices.Sort(want)
	if got := p.ServiceNames(); !slices.Equal(got, want) {
		t.Fatalf("services %q, want %q", got, want)
	}

	if img := p.Services["consul"].Image; img != "hashicorp/consul:1.14.11" {
		t.Errorf("consul image %s, want hashicorp/consul:1.14.11", img)
	}
	if cmd := p.Services["consul"].Command; !slices.Equal(cmd, types.ShellCommand{"agent", "-dev", "-client", "0.0.0.0"}) {
		t.Errorf("consul command %q, want agent -dev -client 0.0.0.0", cmd)
	}

	volumeUsers := map[string]string{}
	for name, s := range p.Services {
		// Only the gateway is published, on 8080.
		if name == "gateway" {
			if len(s.Ports) != 1 || s.Ports[0].Published != "8080" || s.Ports[0].Target != 8080 {
				t.Errorf("gateway ports %+v, want 8080:8080 only", s.Ports)
			}
		} else if len(s.Ports) > 0 {
			t.Errorf("%s publishes ports %+v; only the gateway may", name, s.Ports)
		}

		// A health check everywhere, and start-up gated on health.
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) < 2 || s.HealthCheck.Test[0] == "NONE" {
			t.Errorf("%s has no health check", name)
		}
		for dep, d := range s.DependsOn {
			if d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s depends on %s with condition %q, want %s", name, dep, d.Condition, types.ServiceConditionHealthy)
			}
		}

		// Named volumes only, none shared.
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeVolume || v.Source == "" {
				t.Errorf("%s mounts %s (%s %q); want named volumes only", name, v.Target, v.Type, v.Source)
				continue
			}
			if _, ok := p.Volumes[v.Source]; !ok {
				t.Errorf("%s mounts volume %s, which the top-level volumes do not declare", name, v.Source)
			}
			if other, ok := volumeUsers[v.Source]; ok {
				t.Errorf("volume %s is mounted by %s and %s", v.Source, other, name)
			}
			volumeUsers[v.Source] = name
		}
	}
	for _, name := range append([]string{"rabbitmq"}, stateful...) {
		if n := len(p.Services[name].Volumes); n != 1 {
			t.Errorf("%s mounts %d volumes, want its one named volume", name, n)
		}
	}

	secret := ""
	for svc, bin := range services {
		s := p.Services[svc]
		t.Run(svc, func(t *testing.T) { checkComposeService(t, p, svc, bin, s, &secret) })
	}
}

// checkComposeService checks the service svc of the split shop, which runs
// the binary bin; secret is the signing key the services before it had.
func checkComposeService(t *testing.T, p *types.Project, svc, bin string, s types.ServiceConfig, secret *string) {
	port := strconv.Itoa(binaries[bin].port)
	if s.Build == nil || s.Build.Context != filepath.Clean(mustAbs(t, repoRoot)) {
		t.Fatalf("build %+v, want the repository's Dockerfile", s.Build)
	}
	if s.Build.Dockerfile != "Dockerfile" {
		t.Errorf("built from %q, want Dockerfile", s.Build.Dockerfile)
	}
	if got := arg(s.Build.Args, "BIN"); got != bin {
		t.Errorf("build arg BIN %q, want %s", got, bin)
	}
	if got := arg(s.Build.Args, "PORT"); got != port {
		t.Errorf("build arg PORT %q, want %s (the binary's port)", got, port)
	}
	if s.Image != "kitshop/"+bin+":latest" {
		t.Errorf("image %s, want kitshop/%s:latest (the name the Kubernetes manifests use)", s.Image, bin)
	}
	if s.PullPolicy != types.PullPolicyBuild {
		t.Errorf("pull_policy %q, want build: a kitshop image is built here, never pulled", s.PullPolicy)
	}
	if hc := s.HealthCheck; hc != nil && (len(hc.Test) < 3 || hc.Test[0] != "CMD" || hc.Test[1] != "/kitshop" || hc.Test[2] != "healthcheck") {
		t.Errorf("health check %q, want the binary's own: CMD /kitshop healthcheck (the image has no shell)", hc.Test)
	}
	if !s.ReadOnly {
		t.Error("the root file system is writable; want read_only")
	}

	env := map[string]string{}
	for k, v := range s.Environment {
		if v == nil {
			t.Errorf("environment %s has no value", k)
			continue
		}
		env[k] = *v
		if strings.HasPrefix(k, "SHOP_") && !knows(bin, k) {
			t.Errorf("environment %s: %s does not know it and would refuse to start", k, bin)
		}
	}
	key := env["SHOP_SECRET_KEY"]
	if len(key) < 32 {
		t.Errorf("SHOP_SECRET_KEY %q, want the key of the SHOP_SECRET_KEY variable", key)
	}
	if *secret != "" && key != *secret {
		t.Error("the services have different SHOP_SECRET_KEYs; tokens would not verify")
	}
	*secret = key
	if env["SHOP_CONSUL_ADDR"] != "consul:8500" {
		t.Errorf("SHOP_CONSUL_ADDR %q, want consul:8500", env["SHOP_CONSUL_ADDR"])
	}
	if _, ok := s.DependsOn["consul"]; !ok {
		t.Error("does not wait for consul")
	}
	if svc == "gateway" {
		for _, up := range stateful {
			if _, ok := s.DependsOn[up]; !ok {
				t.Errorf("the gateway does not wait for %s", up)
			}
		}
		return
	}
	if got, want := env["SHOP_ADVERTISE_ADDR"], svc+":"+port; got != want {
		t.Errorf("SHOP_ADVERTISE_ADDR %q, want %s (its compose name, which Consul's check and the others call)", got, want)
	}
	if got, want := env["SHOP_AMQP_URL"], "amqp://kitshop:0123456789abcdef@rabbitmq:5672/"; got != want {
		t.Errorf("SHOP_AMQP_URL %q, want %s", got, want)
	}
	if _, ok := s.DependsOn["rabbitmq"]; !ok {
		t.Error("does not wait for rabbitmq")
	}
	rabbit := p.Services["rabbitmq"].Environment
	if u, pw := rabbit["RABBITMQ_DEFAULT_USER"], rabbit["RABBITMQ_DEFAULT_PASS"]; u == nil || pw == nil || !strings.HasPrefix(env["SHOP_AMQP_URL"], "amqp://"+*u+":"+*pw+"@") {
		t.Error("SHOP_AMQP_URL does not carry the broker's user and password")
	}
}

// arg returns the build argument name, or "".
func arg(args types.MappingWithEquals, name string) string {
	if v := args[name]; v != nil {
		return *v
	}
	return ""
}

func mustAbs(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// The file refuses to load without the signing key or the broker's
// password, naming the variable, rather than starting with an empty one.
func TestComposeNeedsItsSecrets(t *testing.T) {
	for _, missing := range []string{"SHOP_SECRET_KEY", "RABBITMQ_PASSWORD"} {
		var env []string
		for _, kv := range composeEnv {
			if !strings.HasPrefix(kv, missing+"=") {
				env = append(env, kv)
			}
		}
		_, err := loadCompose(t, filepath.Join(repoRoot, "compose.yaml"), env)
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("without %s: %v, want an error naming it", missing, err)
		}
	}
}

// The loader the tests use is strict: a key the specification does not
// know fails the load.
func TestComposeLoaderIsStrict(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(repoRoot, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	typo := strings.Replace(string(text), "    healthcheck:\n", "    healthchek:\n", 1)
	if typo == string(text) {
		t.Fatal("compose.yaml has no healthcheck to misspell")
	}
	path := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(path, []byte(typo), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCompose(t, path, composeEnv); err == nil || !strings.Contains(err.Error(), "healthchek") {
		t.Errorf("a misspelt key: %v, want an error naming it", err)
	}
}
