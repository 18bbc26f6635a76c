package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	gimporter "github.com/PlakarKorp/integration-grpc/importer"
	"github.com/PlakarKorp/kloset/connectors"
)

// recLine is one record as `import -out` writes it (one JSON object a line).
type recLine struct {
	Path   string `json:"path"`
	Mode   string `json:"mode,omitempty"`
	Size   int64  `json:"size"`
	Mtime  int64  `json:"mtime_ns,omitempty"`
	Target string `json:"target,omitempty"`
	Xattr  string `json:"xattr,omitempty"`
	Sha256 string `json:"sha256,omitempty"`
	Read   int64  `json:"read"`
	Err    string `json:"error,omitempty"`
	OpenEr string `json:"open_error,omitempty"`
	Nlink  uint16 `json:"nlink,omitempty"`
	Uid    uint64 `json:"uid,omitempty"`
	Gid    uint64 `json:"gid,omitempty"`
}

func lineOf(r *connectors.Record) recLine {
	l := recLine{Path: r.Pathname, Target: r.Target}
	if r.Err != nil {
		l.Err = r.Err.Error()
	}
	if r.IsXattr {
		l.Xattr = r.XattrName
		return l
	}
	if r.Err != nil {
		return l
	}
	fi := r.FileInfo
	l.Mode = fi.Lmode.String()
	l.Size = fi.Lsize
	l.Nlink = fi.Lnlink
	l.Uid, l.Gid = fi.Luid, fi.Lgid
	if !fi.LmodTime.IsZero() {
		l.Mtime = fi.LmodTime.UnixNano()
	}
	return l
}

// hasContent is kloset v1.1.3's rule for which records it reads (snapshot
// backup): no error, and an xattr or a regular file. The wire's hasReader
// plays no part in it.
func hasContent(r *connectors.Record) bool {
	return r.Err == nil && (r.IsXattr || r.FileInfo.Lmode.IsRegular())
}

func doImport(fl *flag.FlagSet, args []string) {
	var c common
	c.register(fl)
	var excl multi
	fl.Var(&excl, "exclude", "exclude pattern sent in Init (repeatable)")
	jobs := fl.Int("j", 8, "concurrent record readers (and maxconcurrency sent in Init)")
	out := fl.String("out", "", "write one JSON line per record here")
	noack := fl.Bool("noack", false, "send no acks at all (half-close the ack side at once)")
	_ = fl.Parse(args)
	if *jobs < 1 {
		die("-j must be at least 1")
	}

	o := newObserver()
	p := c.spawn(o)
	ctx := context.Background()
	start := time.Now()
	imp, err := gimporter.NewImporter(ctx, p.Conn, options(*jobs, excl), c.proto, c.config())
	if err != nil {
		die("Init: %v", err)
	}
	if err := imp.Ping(ctx); err != nil {
		die("Ping: %v", err)
	}

	records := make(chan *connectors.Record, *jobs)
	results := make(chan *connectors.Result, *jobs)
	importDone := make(chan error, 1)
	go func() { importDone <- imp.Import(ctx, records, results) }()
	if *noack {
		close(results)
	}

	var (
		mu         sync.Mutex
		lines      []recLine
		total      int64
		files      int
		mismatches = []string{}
		wg         sync.WaitGroup
		sem        = make(chan struct{}, *jobs)
	)
	done := func(l recLine, res *connectors.Result) {
		mu.Lock()
		lines = append(lines, l)
		total += l.Read
		mu.Unlock()
		if *noack {
			_ = res.Record.Close()
		} else {
			results <- res
		}
	}
	for rec := range records {
		l := lineOf(rec)
		wire, seen := o.wireHasReader(recordKey(rec.Pathname, rec.IsXattr, rec.XattrName, int32(rec.XattrType)))
		if !hasContent(rec) {
			if seen && wire {
				mismatches = append(mismatches, l.Path+" "+l.Xattr)
			}
			res := &connectors.Result{Record: *rec}
			done(l, res)
			continue
		}
		if seen && !wire {
			mismatches = append(mismatches, l.Path+" "+l.Xattr)
		}
		files++
		wg.Add(1)
		sem <- struct{}{}
		go func(rec *connectors.Record, l recLine) {
			defer wg.Done()
			defer func() { <-sem }()
			h := sha256.New()
			buf := make([]byte, 1<<20)
			n, err := io.CopyBuffer(h, rec.Reader, buf)
			l.Read = n
			if err != nil {
				l.OpenEr = err.Error()
				done(l, rec.Error(err))
				return
			}
			l.Sha256 = hex.EncodeToString(h.Sum(nil))
			if !rec.IsXattr {
				rec.FileInfo.Lsize = n // as kloset does: the size is what was read
			}
			done(l, rec.Ok())
		}(rec, l)
	}
	wg.Wait()
	if !*noack {
		close(results)
	}
	if err := <-importDone; err != nil {
		end := waitImportEnd(o)
		die("Import: %v (finished messages: %d; the plugin ended the call with: %s)", err, o.finishedCount(), end)
	}
	select {
	case <-o.importEnded:
	case <-time.After(60 * time.Second):
		die("Import: the plugin did not end the Import call within 60 s of the host's half-close")
	}
	if o.importEndErr != nil {
		die("Import end: %v", o.importEndErr)
	}
	took := time.Since(start)
	if err := imp.Close(ctx); err != nil {
		die("Close: %v", err)
	}
	code, ferr := p.Finish(exitTimeout)

	sort.Slice(lines, func(i, j int) bool {
		if lines[i].Path != lines[j].Path {
			return lines[i].Path < lines[j].Path
		}
		return lines[i].Xattr < lines[j].Xattr
	})
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			die("out: %v", err)
		}
		enc := json.NewEncoder(f)
		for _, l := range lines {
			_ = enc.Encode(l)
		}
		if err := f.Close(); err != nil {
			die("out: %v", err)
		}
	}
	errs := 0
	for _, l := range lines {
		if l.Err != "" || l.OpenEr != "" {
			errs++
		}
	}
	finished := o.finished == 1 && o.afterFinished == 0
	if len(mismatches) > 20 {
		mismatches = append(mismatches[:20], "...")
	}
	secs := took.Seconds()
	emit(map[string]any{
		"ok": ferr == nil && code == 0 && finished && len(mismatches) == 0, "finished": finished,
		"finished_messages": o.finished, "records_after_finished": o.afterFinished,
		"origin": imp.Origin(), "type": imp.Type(), "root": imp.Root(),
		"flags": o.initFlags, "host_flags": uint32(imp.Flags()),
		"records": len(lines), "files": files, "bytes": total, "errors": errs,
		"has_reader_mismatches": mismatches, "seconds": secs,
		"MBps": float64(total) / secs / 1e6, "records_per_s": float64(len(lines)) / secs,
		"exit": code, "exit_error": errString(ferr),
	})
}

// waitImportEnd gives the status the plugin ended the Import call with, when
// the host side failed first (a failed Send only says EOF).
func waitImportEnd(o *observer) string {
	select {
	case <-o.importEnded:
		return errString(o.importEndErr)
	case <-time.After(5 * time.Second):
		return "still open"
	}
}
