package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kitshop/shop/examples/internal/binarytest"
)

// TestStartupErrorsExitWithOneLine runs the built binary with start-up
// mistakes: each must exit 1 with one line on stderr naming the problem,
// without a stack dump and without the password.
func TestStartupErrorsExitWithOneLine(t *testing.T) {
	bin := binarytest.Build(t, ".")
	const key = "0123456789abcdef0123456789abcdef-key"
	secrets := []string{"short12", "admin-password-1", "customer-password", key}

	taken := t.TempDir()
	binarytest.AddCustomer(t, taken, "ada@example.com", "customer-password")
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	badDB := t.TempDir()
	if err := os.Mkdir(filepath.Join(badDB, "user.db"), 0o700); err != nil { // a directory, not a database
		t.Fatal(err)
	}
	readOnly := t.TempDir()
	if err := os.Chmod(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}

	cases := []binarytest.StartupCase{
		{Name: "short admin password", Args: []string{"-admin-email", "admin@example.com", "-admin-password", "short12"}, Env: nil,
			Want: []string{"admin-password", "SHOP_ADMIN_PASSWORD", "8 characters"}, AsRoot: true},
		{Name: "invalid admin email", Args: []string{"-admin-email", "not-an-email"}, Env: []string{"SHOP_ADMIN_PASSWORD=admin-password-1"},
			Want: []string{"admin-email", "SHOP_ADMIN_EMAIL", "plain address"}, AsRoot: true},
		{Name: "admin email of a customer", Args: []string{"-data-dir", taken, "-admin-email", "ada@example.com", "-admin-password", "admin-password-1"}, Env: nil,
			Want: []string{"admin-email", "SHOP_ADMIN_EMAIL", "ada@example.com", "customer"}, AsRoot: true},
		{Name: "data dir is a file", Args: []string{"-data-dir", file}, Env: nil,
			Want: []string{"data-dir", "SHOP_DATA_DIR"}, AsRoot: true},
		{Name: "data dir is a file, key given", Args: []string{"-data-dir", file, "-secret-key", key}, Env: nil,
			Want: []string{"data-dir", "SHOP_DATA_DIR"}, AsRoot: true},
		{Name: "database cannot be opened", Args: []string{"-data-dir", badDB}, Env: nil,
			Want: []string{"data-dir", "SHOP_DATA_DIR", "user.db"}, AsRoot: true},
		{Name: "unwritable data dir", Args: []string{"-data-dir", readOnly}, Env: nil,
			Want: []string{"data-dir", "SHOP_DATA_DIR"}, AsRoot: false},
		{Name: "unwritable data dir, key given", Args: []string{"-data-dir", readOnly, "-secret-key", key}, Env: nil,
			Want: []string{"data-dir", "SHOP_DATA_DIR"}, AsRoot: false},
		{Name: "malformed flag", Args: []string{"-token-ttl", "soon"}, Env: nil,
			Want: []string{"token-ttl", "duration"}, AsRoot: true},
		{Name: "unknown environment setting", Args: nil, Env: []string{"SHOP_TOKEN_TTLL=1h"},
			Want: []string{"SHOP_TOKEN_TTLL", "SHOP_TOKEN_TTL"}, AsRoot: true},
	}
	binarytest.CheckStartupErrors(t, bin, "usersvc", []string{"-addr", "127.0.0.1:0", "-bcrypt-cost", "4"}, secrets, cases)
}
