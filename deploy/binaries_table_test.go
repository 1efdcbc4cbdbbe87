package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository's root, the parent of this module.
const repoRoot = ".."

// binary is an example binary the image can hold: the port it listens on
// (its default, and SHOP_ADDR's port in a container) and the environment
// variables it reads, which its -h output must list. A binary refuses to
// start on a SHOP_ variable it does not know, so every variable the compose
// file or a manifest gives it must be one of these.
type binary struct {
	port int
	env  []string
}

// Settings every binary takes.
var commonEnv = []string{
	"SHOP_ADDR", "SHOP_DATA_DIR", "SHOP_SECRET_KEY", "SHOP_QUIET", "SHOP_LOG_FORMAT",
	"SHOP_CONSUL_ADDR", "SHOP_DEBUG_ADDR", "SHOP_SHUTDOWN_TIMEOUT", "SHOP_SHUTDOWN_DELAY", "SHOP_OTEL",
}

// Settings every single-service binary takes on top of commonEnv.
var serviceEnv = []string{"SHOP_AMQP_URL", "SHOP_AMQP_PREFIX", "SHOP_ADVERTISE_ADDR"}

// binaries are the directories of ./examples the Dockerfile's BIN may name.
var binaries = map[string]binary{
	"shop": {port: 8080, env: join(commonEnv, []string{
		"SHOP_ADMIN_EMAIL", "SHOP_ADMIN_PASSWORD", "SHOP_TOKEN_TTL", "SHOP_BCRYPT_COST",
		"SHOP_ORDER_TTL", "SHOP_SAMPLE_DATA", "SHOP_TOPOLOGY", "SHOP_AMQP_URL", "SHOP_AMQP_PREFIX",
		"SHOP_SERVICE_PORT", "SHOP_GATEWAY_LIMITS",
	})},
	"usersvc": {port: 5001, env: join(commonEnv, serviceEnv, []string{
		"SHOP_ADMIN_EMAIL", "SHOP_ADMIN_PASSWORD", "SHOP_TOKEN_TTL", "SHOP_BCRYPT_COST",
	})},
	"catalogsvc":   {port: 5002, env: join(commonEnv, serviceEnv, []string{"SHOP_USERS_URL"})},
	"ordersvc":     {port: 5003, env: join(commonEnv, serviceEnv, []string{"SHOP_USERS_URL", "SHOP_CATALOG_URL", "SHOP_INVENTORY_URL", "SHOP_ORDER_TTL"})},
	"inventorysvc": {port: 5004, env: join(commonEnv, serviceEnv, []string{"SHOP_USERS_URL", "SHOP_CATALOG_URL"})},
	"gateway": {port: 8080, env: join(commonEnv, []string{
		"SHOP_USER_URL", "SHOP_CATALOG_URL", "SHOP_INVENTORY_URL", "SHOP_ORDER_URL", "SHOP_CORS_ORIGINS",
		"SHOP_IP_RATE", "SHOP_IP_BURST", "SHOP_USER_RATE", "SHOP_USER_BURST", "SHOP_AUTH_RATE", "SHOP_AUTH_BURST",
	})},
}

// services are the parts of the split shop, by their name in the compose
// file, in Consul and in Kubernetes, with the binary that runs each.
var services = map[string]string{
	"user":      "usersvc",
	"catalog":   "catalogsvc",
	"inventory": "inventorysvc",
	"order":     "ordersvc",
	"gateway":   "gateway",
}

// stateful are the services that keep a SQLite file under /data.
var stateful = []string{"user", "catalog", "inventory", "order"}

func join(lists ...[]string) []string {
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// knows says whether the binary bin reads the environment variable name.
func knows(bin, name string) bool {
	return slices.Contains(binaries[bin].env, name)
}

// imageBinary returns the binary of an image named kitshop/BIN:TAG, or ""
// for any other image.
func imageBinary(image string) string {
	rest, ok := strings.CutPrefix(image, "kitshop/")
	if !ok {
		return ""
	}
	bin, _, _ := strings.Cut(rest, ":")
	if _, known := binaries[bin]; !known {
		return ""
	}
	return bin
}

func TestBinariesTableNamesExamples(t *testing.T) {
	for bin := range binaries {
		if _, err := os.Stat(filepath.Join(repoRoot, "examples", bin, "main.go")); err != nil {
			t.Errorf("binary %s: %v", bin, err)
		}
	}
	for svc, bin := range services {
		if _, ok := binaries[bin]; !ok {
			t.Errorf("service %s runs %s, which is not in the binaries table", svc, bin)
		}
	}
}
