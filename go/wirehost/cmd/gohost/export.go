package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	gexporter "github.com/PlakarKorp/integration-grpc/exporter"
	"github.com/PlakarKorp/kloset/connectors"
	"github.com/PlakarKorp/kloset/objects"
)

// countingReader counts the content bytes the exporter client sends.
type countingReader struct {
	f *os.File
	n *atomic.Int64
}

func (r *countingReader) Read(b []byte) (int, error) {
	n, err := r.f.Read(b)
	r.n.Add(int64(n))
	return n, err
}
func (r *countingReader) Close() error { return r.f.Close() }

// walkRecord is the record for one local entry: a plain walk (name, size,
// mode, mtime; no owners, links or xattrs), content read lazily from disk.
func walkRecord(path, name string, info fs.FileInfo, sent *atomic.Int64) (*connectors.Record, error) {
	fi := objects.FileInfo{Lname: info.Name(), Lsize: info.Size(), Lmode: info.Mode(),
		LmodTime: info.ModTime(), Ldev: 1, Lnlink: 1}
	rec := &connectors.Record{Pathname: name, FileInfo: fi}
	if info.Mode()&fs.ModeSymlink != 0 {
		t, err := os.Readlink(path)
		if err != nil {
			return nil, err
		}
		rec.Target = t
	}
	if info.Mode().IsRegular() {
		rec.Reader = connectors.NewLazyReader(func() (io.ReadCloser, error) {
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			return &countingReader{f: f, n: sent}, nil
		})
	}
	return rec, nil
}

func doExport(fl *flag.FlagSet, args []string) {
	var c common
	c.register(fl)
	from := fl.String("from", "", "local directory to send")
	prefix := fl.String("prefix", "/", "pathname prefix for records")
	_ = fl.Parse(args)
	if *from == "" {
		die("-from is required")
	}

	o := newObserver()
	p := c.spawn(o)
	ctx := context.Background()
	start := time.Now()
	exp, err := gexporter.NewExporter(ctx, p.Conn, options(8, nil), c.proto, c.config())
	if err != nil {
		die("Init: %v", err)
	}
	if err := exp.Ping(ctx); err != nil {
		die("Ping: %v", err)
	}

	records := make(chan *connectors.Record, 16)
	results := make(chan *connectors.Result, 16)
	exportDone := make(chan struct{})
	var exportErr error
	go func() {
		exportErr = exp.Export(ctx, records, results)
		close(exportDone)
	}()

	var collected []*connectors.Result
	resultsDone := make(chan struct{})
	go func() {
		for r := range results {
			collected = append(collected, r)
		}
		close(resultsDone)
	}()

	var sentBytes atomic.Int64
	sent := 0
	errStopped := errors.New("export ended early")
	werr := filepath.Walk(*from, func(path string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(*from, path)
		if err != nil {
			return err
		}
		rec, err := walkRecord(path, filepath.ToSlash(filepath.Join(*prefix, rel)), info, &sentBytes)
		if err != nil {
			return err
		}
		select {
		case records <- rec:
			sent++
			return nil
		case <-exportDone:
			return errStopped
		}
	})
	close(records)
	<-exportDone
	<-resultsDone
	if werr != nil && !errors.Is(werr, errStopped) {
		die("walk %s: %v", *from, werr)
	}
	if exportErr != nil {
		die("Export: %v", exportErr)
	}
	took := time.Since(start)
	if err := exp.Close(ctx); err != nil {
		die("Close: %v", err)
	}
	code, ferr := p.Finish(exitTimeout)
	errs := []string{}
	for _, r := range collected {
		if r.Err != nil {
			errs = append(errs, r.Record.Pathname+": "+r.Err.Error())
		}
	}
	total := sentBytes.Load()
	emit(map[string]any{"ok": ferr == nil && code == 0 && len(collected) == sent && len(errs) == 0,
		"origin": exp.Origin(), "type": exp.Type(), "root": exp.Root(),
		"flags": o.initFlags, "host_flags": uint32(exp.Flags()),
		"sent": sent, "results": len(collected), "result_errors": errs, "bytes": total,
		"seconds": took.Seconds(), "MBps": float64(total) / took.Seconds() / 1e6,
		"exit": code, "exit_error": errString(ferr)})
}
