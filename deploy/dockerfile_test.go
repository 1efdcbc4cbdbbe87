package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction: its keyword in upper case and
// the rest of its (joined) lines.
type instruction struct {
	cmd  string
	args string
	line int
}

// stage is a FROM and the instructions after it.
type stage struct {
	from  string // the base image
	name  string // the AS name, if any
	instr []instruction
}

// find returns the stage's instructions of keyword cmd.
func (s stage) find(cmd string) []instruction {
	var found []instruction
	for _, in := range s.instr {
		if in.cmd == cmd {
			found = append(found, in)
		}
	}
	return found
}

// env returns the variables the stage's ENV instructions set (the
// KEY=VALUE form, values without spaces).
func (s stage) env() map[string]string {
	env := map[string]string{}
	for _, in := range s.find("ENV") {
		for _, kv := range strings.Fields(in.args) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	return env
}

// parseDockerfile splits a Dockerfile into stages: comments and parser
// directives dropped, continuation lines joined.
func parseDockerfile(text string) ([]stage, error) {
	var instrs []instruction
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		} else if strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continued instruction
		}
		if body, more := strings.CutSuffix(trimmed, `\`); more {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		instrs = append(instrs, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start})
		cur.Reset()
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("line %d: a continued instruction never ends", start)
	}
	var stages []stage
	for _, in := range instrs {
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if in.cmd == "ARG" {
				continue // an ARG before the first FROM
			}
			return nil, fmt.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
		}
		stages[len(stages)-1].instr = append(stages[len(stages)-1].instr, in)
	}
	return stages, nil
}

// shellWords splits a shell command into words the way sh does for the
// simple commands of a Dockerfile: single and double quotes group, a
// backslash escapes inside double quotes and outside quotes.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				w.WriteByte(s[i])
			}
			if i == len(s) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// dockerBuild is the image's build of the binary: the go build arguments of
// the Dockerfile's RUN (after "go build"), with the output path and the
// package as they stand there, and the build stage's environment.
type dockerBuild struct {
	args []string
	out  string // the -o path
	pkg  string // the package, "./examples/${BIN}"
	env  map[string]string
}

// argsFor returns the go build arguments for bin, writing to out: the
// Dockerfile's, with its -o path and ${BIN} replaced.
func (b dockerBuild) argsFor(bin, out string) []string {
	args := slices.Clone(b.args)
	for i, a := range args {
		switch {
		case i > 0 && args[i-1] == "-o":
			args[i] = out
		case a == b.pkg:
			args[i] = strings.ReplaceAll(a, "${BIN}", bin)
		}
	}
	return args
}

// readDockerfile parses the repository's Dockerfile.
func readDockerfile(t *testing.T) []stage {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages, err := parseDockerfile(string(text))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return stages
}

// goBuild finds the go build command of the Dockerfile's first stage.
func goBuild(t *testing.T, stages []stage) dockerBuild {
	t.Helper()
	var found []dockerBuild
	for _, in := range stages[0].find("RUN") {
		cmd := in.args
		for strings.HasPrefix(cmd, "--") { // RUN options such as --mount=...
			_, cmd, _ = strings.Cut(cmd, " ")
			cmd = strings.TrimSpace(cmd)
		}
		words, err := shellWords(cmd)
		if err != nil {
			t.Fatalf("Dockerfile line %d: %v", in.line, err)
		}
		if len(words) < 2 || words[0] != "go" || words[1] != "build" {
			continue
		}
		if slices.ContainsFunc(words, func(w string) bool { return strings.ContainsAny(w, "&|;") }) {
			t.Fatalf("Dockerfile line %d: the go build RUN should be that one command, got %q", in.line, cmd)
		}
		b := dockerBuild{args: words[2:], env: stages[0].env()}
		for i, w := range b.args {
			if w == "-o" && i+1 < len(b.args) {
				b.out = b.args[i+1]
			}
			if strings.HasPrefix(w, "./examples/") {
				b.pkg = w
			}
		}
		found = append(found, b)
	}
	if len(found) != 1 {
		t.Fatalf("the build stage has %d RUN go build commands, want 1", len(found))
	}
	return found[0]
}

func TestDockerfile(t *testing.T) {
	stages := readDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a multi-stage build (a Go build stage and a final one)", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	// The build stage: Go 1.26, CGO_ENABLED=0, -trimpath, BIN picks ./examples/BIN.
	if !strings.HasPrefix(build.from, "golang:1.26") {
		t.Errorf("build stage FROM %s, want a golang:1.26 image", build.from)
	}
	if build.name == "" {
		t.Error("the build stage has no name (FROM ... AS build) for the final stage to copy from")
	}
	if !slices.ContainsFunc(build.find("ARG"), func(in instruction) bool { return strings.HasPrefix(in.args, "BIN") }) {
		t.Error("the build stage has no ARG BIN")
	}
	b := goBuild(t, stages)
	if b.env["CGO_ENABLED"] != "0" {
		t.Errorf("the build stage's ENV CGO_ENABLED is %q, want 0", b.env["CGO_ENABLED"])
	}
	if !slices.Contains(b.args, "-trimpath") {
		t.Errorf("go build %q lacks -trimpath", b.args)
	}
	if b.pkg != "./examples/${BIN}" {
		t.Errorf("go build builds %q, want ./examples/${BIN}", b.pkg)
	}
	if b.out == "" {
		t.Fatalf("go build %q has no -o", b.args)
	}

	// The final stage: distroless static or scratch, a non-root user, the
	// binary, the data dir as a volume, SHOP_ADDR on a wildcard host.
	if final.from != "gcr.io/distroless/static-debian12:nonroot" && final.from != "scratch" {
		t.Errorf("final stage FROM %s, want gcr.io/distroless/static-debian12:nonroot or scratch", final.from)
	}
	var binPath string
	for _, in := range final.find("COPY") {
		f := strings.Fields(in.args)
		if slices.Contains(f, "--from="+build.name) && slices.Contains(f, filepath.ToSlash(b.out)) {
			binPath = f[len(f)-1]
		}
	}
	if binPath == "" {
		t.Fatalf("the final stage copies no %s from the build stage", b.out)
	}
	users := final.find("USER")
	if len(users) == 0 {
		t.Error("the final stage sets no USER")
	} else if u, _, _ := strings.Cut(users[len(users)-1].args, ":"); u == "" || u == "0" || u == "root" {
		t.Errorf("USER %s, want a non-root user", users[len(users)-1].args)
	}
	if !slices.ContainsFunc(final.find("ARG"), func(in instruction) bool { return strings.HasPrefix(in.args, "PORT") }) {
		t.Error("the final stage has no ARG PORT")
	}
	env := final.env()
	if env["SHOP_DATA_DIR"] != "/data" {
		t.Errorf("ENV SHOP_DATA_DIR=%q, want /data", env["SHOP_DATA_DIR"])
	}
	if env["SHOP_ADDR"] != "0.0.0.0:${PORT}" {
		t.Errorf("ENV SHOP_ADDR=%q, want 0.0.0.0:${PORT}", env["SHOP_ADDR"])
	}
	for name := range env {
		for bin := range binaries {
			if strings.HasPrefix(name, "SHOP_") && !knows(bin, name) {
				t.Errorf("ENV %s: %s does not know it and would refuse to start", name, bin)
			}
		}
	}
	if v := final.find("VOLUME"); len(v) != 1 || (v[0].args != "/data" && v[0].args != `["/data"]`) {
		t.Errorf("VOLUME instructions %v, want one: VOLUME /data", v)
	}
	if e := final.find("EXPOSE"); len(e) != 1 || e[0].args != "${PORT}" {
		t.Errorf("EXPOSE instructions %v, want one: EXPOSE ${PORT}", e)
	}
	checks := final.find("HEALTHCHECK")
	if len(checks) != 1 {
		t.Fatalf("%d HEALTHCHECK instructions, want 1", len(checks))
	}
	_, exec, ok := strings.Cut(checks[0].args, "CMD ")
	var argv []string
	if !ok || json.Unmarshal([]byte(exec), &argv) != nil {
		t.Fatalf("HEALTHCHECK %s: want the exec form, CMD [\"%s\", \"healthcheck\"] (no shell in the image)", checks[0].args, binPath)
	}
	if !slices.Equal(argv, []string{binPath, "healthcheck"}) {
		t.Errorf("HEALTHCHECK CMD %q, want [%s healthcheck]", argv, binPath)
	}
	entry := final.find("ENTRYPOINT")
	if len(entry) != 1 || json.Unmarshal([]byte(entry[0].args), &argv) != nil || !slices.Equal(argv, []string{binPath}) {
		t.Errorf("ENTRYPOINT %v, want the exec form [%q]", entry, binPath)
	}
	if len(final.find("SHELL"))+len(final.find("RUN")) > 0 {
		t.Error("the final stage runs commands, but its image has no shell")
	}
}

func TestDockerignore(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(text), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	want := []string{".git", "**/data", "**/*.db", "**/secret.key", "**/.env"}
	for bin := range binaries {
		want = append(want, "/"+bin)
	}
	for _, w := range want {
		if !slices.Contains(patterns, w) {
			t.Errorf(".dockerignore does not keep %s out of the build context", w)
		}
	}
	for _, p := range patterns {
		if p == "go.mod" || p == "go.sum" || p == "examples" || strings.HasPrefix(p, "!") {
			t.Errorf(".dockerignore pattern %q: the build needs the module and its examples", p)
		}
	}
}

func TestShellWords(t *testing.T) {
	got, err := shellWords(`go build -trimpath -ldflags="-s -w" -o '/out/a b' ./examples/${BIN}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", "/out/a b", "./examples/${BIN}"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := shellWords(`go build -ldflags="-s`); err == nil {
		t.Error("an unterminated quote: no error")
	}
}
