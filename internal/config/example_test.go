package config_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kitshop/shop/internal/config"
)

func ExampleParse() {
	dir, err := os.MkdirTemp("", "config-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	envFile := filepath.Join(dir, ".env")
	// Lines without the SHOP_ prefix belong to other programs.
	os.WriteFile(envFile, []byte("EDITOR=vi\nSHOP_EXAMPLE_TTL=90s\nSHOP_EXAMPLE_NAME=from-file\n"), 0o600)

	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	ttl := fs.Duration("example-ttl", time.Minute, "lifetime")
	name := fs.String("example-name", "default", "name")
	// The command line wins over the environment and the .env file.
	if err := config.Parse(fs, []string{"-example-name", "from-flag"}, envFile); err != nil {
		panic(err)
	}
	fmt.Println(*ttl, *name)
	// Output: 1m30s from-flag
}

func ExampleSecret() {
	var key config.Secret
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.Var(&key, "secret-key", "token signing key")
	fs.Parse([]string{"-secret-key", "correct horse battery staple"})

	fmt.Println(fs.Lookup("secret-key").Value)
	fmt.Println(len(key.Value()))
	// Output:
	// [redacted]
	// 28
}
