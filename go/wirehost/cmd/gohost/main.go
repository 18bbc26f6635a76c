// gohost drives a Kloset plugin through the client packages Plakar v1.1.4
// links (integration-grpc v1.1.0 on kloset v1.1.3): it spawns the plugin with
// two pipes as Plakar does, builds kloset's Importer, Exporter or Store on the
// connection, runs one protocol against it and checks what comes back.
//
//	gohost import -exe PLUGIN [-arg A]... -proto P [-c k=v]... [-exclude PAT]... [-j N] [-out FILE] [-noack]
//	gohost export -exe PLUGIN [-arg A]... -proto P [-c k=v]... -from DIR [-prefix /]
//	gohost store  -exe PLUGIN [-arg A]... -proto P [-c k=v]... [-n N] [-size BYTES] [-create=true]
//
// It prints one JSON object on stdout; "ok": true means the run conformed.
// docs/WIRE.md describes every check.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/PlakarKorp/kloset/connectors"

	"kloset-connectors/wirehost/pluginconn"
)

// exitTimeout is how long a plugin may take to exit after its stdin closes.
const exitTimeout = 10 * time.Second

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

// common are the flags every mode takes: which plugin, which protocol, which config.
type common struct {
	exe   string
	args  multi
	cfg   multi
	proto string
}

func (c *common) register(fl *flag.FlagSet) {
	fl.StringVar(&c.exe, "exe", "", "plugin executable")
	fl.Var(&c.args, "arg", "plugin argument (repeatable)")
	fl.Var(&c.cfg, "c", "config key=value (repeatable)")
	fl.StringVar(&c.proto, "proto", "fs", "protocol name sent in Init")
}

func (c *common) config() map[string]string {
	m := map[string]string{}
	for _, s := range c.cfg {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return m
}

// running is the plugin of this run, killed by die so no child outlives gohost.
var running *pluginconn.Plugin

func (c *common) spawn(o *observer) *pluginconn.Plugin {
	if c.exe == "" {
		die("-exe is required")
	}
	p, err := pluginconn.Spawn(c.exe, c.args, o.dialOptions()...)
	if err != nil {
		die("spawn: %v", err)
	}
	running = p
	return p
}

// options are the connector options Plakar fills from its app context.
func options(concurrency int, excludes []string) *connectors.Options {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	cwd, _ := os.Getwd()
	return &connectors.Options{
		Hostname:        host,
		OperatingSystem: runtime.GOOS,
		Architecture:    runtime.GOARCH,
		CWD:             cwd,
		MaxConcurrency:  concurrency,
		Excludes:        excludes,
	}
}

func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"ok":false,"error":%q}`, err.Error()))
	}
	fmt.Println(string(b))
}

func die(format string, a ...any) {
	emit(map[string]any{"ok": false, "error": fmt.Sprintf(format, a...)})
	if running != nil {
		running.Kill()
	}
	os.Exit(1)
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gohost import|export|store [flags]   (gohost MODE -h lists the flags)")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fl := flag.NewFlagSet("gohost "+os.Args[1], flag.ExitOnError)
	switch os.Args[1] {
	case "import":
		doImport(fl, os.Args[2:])
	case "export":
		doExport(fl, os.Args[2:])
	case "store":
		doStore(fl, os.Args[2:])
	default:
		usage()
	}
}
