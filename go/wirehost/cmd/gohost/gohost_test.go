package main

// Each test runs the real gohost binary against a deliberately faulty
// importer: this test binary re-executed with FAKE_IMPORTER=<fault>, serving
// integration-grpc's Importer service on its own stdin/stdout. A host whose
// checks never fire would pass all of these faults; each must make it fail.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gconn "github.com/PlakarKorp/integration-grpc"
	gimporter "github.com/PlakarKorp/integration-grpc/importer"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var gohostBin string

func TestMain(m *testing.M) {
	if fault := os.Getenv("FAKE_IMPORTER"); fault != "" {
		serveFake(fault)
		return
	}
	dir, err := os.MkdirTemp("", "gohost-test")
	if err != nil {
		panic(err)
	}
	gohostBin = filepath.Join(dir, "gohost")
	if out, err := exec.Command("go", "build", "-o", gohostBin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// ---- the fake plugin

// stdio is the fake plugin's one connection: fd 0 in, fd 1 out. gRPC closes
// it when stdin reaches EOF, which ends Serve.
type stdio struct {
	once sync.Once
	done chan struct{}
}

func (c *stdio) Read(b []byte) (int, error)       { return os.Stdin.Read(b) }
func (c *stdio) Write(b []byte) (int, error)      { return os.Stdout.Write(b) }
func (c *stdio) Close() error                     { c.once.Do(func() { close(c.done) }); return nil }
func (c *stdio) LocalAddr() net.Addr              { return &net.UnixAddr{Name: "stdio", Net: "unix"} }
func (c *stdio) RemoteAddr() net.Addr             { return c.LocalAddr() }
func (c *stdio) SetDeadline(time.Time) error      { return nil }
func (c *stdio) SetReadDeadline(time.Time) error  { return nil }
func (c *stdio) SetWriteDeadline(time.Time) error { return nil }

// oneConn is a listener that accepts the stdio connection once.
type oneConn struct {
	c    *stdio
	used bool
}

func (l *oneConn) Addr() net.Addr { return l.c.LocalAddr() }
func (l *oneConn) Close() error   { return nil }
func (l *oneConn) Accept() (net.Conn, error) {
	if !l.used {
		l.used = true
		return l.c, nil
	}
	<-l.c.done
	return nil, io.EOF
}

type fake struct {
	gimporter.UnimplementedImporterServer
	fault string
}

func (f *fake) Init(context.Context, *gimporter.InitRequest) (*gimporter.InitResponse, error) {
	return &gimporter.InitResponse{Origin: "fake", Type: "fake", Root: "/"}, nil
}
func (f *fake) Ping(context.Context, *gimporter.PingRequest) (*gimporter.PingResponse, error) {
	return &gimporter.PingResponse{}, nil
}
func (f *fake) Close(context.Context, *gimporter.CloseRequest) (*gimporter.CloseResponse, error) {
	return &gimporter.CloseResponse{}, nil
}

const content = "hello, host"

func (f *fake) Import(st grpc.BidiStreamingServer[gimporter.ImportRequest, gimporter.ImportResponse]) error {
	now := timestamppb.Now()
	dir := &gconn.Record{Pathname: "/", FileInfo: &gconn.FileInfo{Name: "/", Mode: uint32(1<<31 | 0o755), ModTime: now}}
	file := &gconn.Record{Pathname: "/f", HasReader: f.fault != "badreader",
		FileInfo: &gconn.FileInfo{Name: "f", Size: int64(len(content)), Mode: 0o644, ModTime: now}}
	for _, r := range []*gconn.Record{dir, file} {
		if err := st.Send(&gimporter.ImportResponse{Record: r}); err != nil {
			return err
		}
	}
	if f.fault == "nofinish" {
		return nil
	}
	if err := st.Send(&gimporter.ImportResponse{Finished: true}); err != nil {
		return err
	}
	if f.fault == "extra" {
		if err := st.Send(&gimporter.ImportResponse{Record: dir}); err != nil {
			return err
		}
	}
	for {
		if _, err := st.Recv(); err != nil {
			break
		}
	}
	if f.fault == "failend" {
		return errors.New("fake: failed after finished")
	}
	return nil
}

func (f *fake) Open(r *gimporter.OpenRequest, st grpc.ServerStreamingServer[gimporter.OpenResponse]) error {
	if r.Record.Pathname != "/f" {
		return errors.New("no such reader")
	}
	return st.Send(&gimporter.OpenResponse{Chunk: []byte(content)})
}

func serveFake(fault string) {
	srv := grpc.NewServer()
	gimporter.RegisterImporterServer(srv, &fake{fault: fault})
	_ = srv.Serve(&oneConn{c: &stdio{done: make(chan struct{})}})
	if fault == "noexit" {
		time.Sleep(30 * time.Second) // ignores stdin EOF: the host must give up after 10 s
	}
	os.Exit(0)
}

// ---- the tests

func runImport(t *testing.T, fault string) map[string]any {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gohostBin, "import", "-exe", self, "-proto", "fake", "-c", "location=fake://x", "-j", "4")
	cmd.Env = append(os.Environ(), "FAKE_IMPORTER="+fault)
	out, _ := cmd.Output()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("no JSON summary: %q", out)
	}
	return res
}

func TestGoodImporterPasses(t *testing.T) {
	res := runImport(t, "none")
	if res["ok"] != true || res["files"] != 1.0 || res["bytes"] != float64(len(content)) {
		t.Fatalf("a conforming importer failed: %v", res)
	}
}

func TestFaultsAreDetected(t *testing.T) {
	for fault, want := range map[string]string{
		"nofinish":  "finished messages: 0",
		"badreader": `"has_reader_mismatches":["/f "]`,
		"extra":     `"records_after_finished":1`,
		"failend":   "Import end: rpc error",
		"noexit":    "did not exit within 10s",
	} {
		t.Run(fault, func(t *testing.T) {
			res := runImport(t, fault)
			b, _ := json.Marshal(res)
			if res["ok"] != false || !strings.Contains(string(b), want) {
				t.Fatalf("fault %s not reported as %s: %s", fault, want, b)
			}
		})
	}
}
