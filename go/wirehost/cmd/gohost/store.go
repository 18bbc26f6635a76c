package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"time"

	gstorage "github.com/PlakarKorp/integration-grpc/storage"
	"github.com/PlakarKorp/kloset/connectors/storage"
	"github.com/PlakarKorp/kloset/objects"
)

// checks records each named check as "ok" or as what went wrong.
type checks map[string]string

func (c checks) pass(k string) {
	if _, failed := c[k]; !failed {
		c[k] = "ok"
	}
}
func (c checks) fail(k, f string, a ...any) { c[k] = fmt.Sprintf(f, a...) }

func randomMAC() objects.MAC {
	var m objects.MAC
	_, _ = rand.Read(m[:])
	return m
}

func getAll(ctx context.Context, st storage.Store, res storage.StorageResource, mac objects.MAC,
	rg *storage.Range) ([]byte, error) {
	rd, err := st.Get(ctx, res, mac, rg)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rd)
	if cerr := rd.Close(); err == nil {
		err = cerr
	}
	return b, err
}

func macSet(macs []objects.MAC) map[objects.MAC]bool {
	s := map[objects.MAC]bool{}
	for _, m := range macs {
		s[m] = true
	}
	return s
}

func doStore(fl *flag.FlagSet, args []string) {
	var c common
	c.register(fl)
	n := fl.Int("n", 8, "packfiles to put and get")
	size := fl.Int("size", 16<<20, "packfile size in bytes (packfile i is size+i bytes)")
	create := fl.Bool("create", true, "call Create (else only Open an existing store)")
	_ = fl.Parse(args)
	if *n < 1 || *size < 16 {
		die("-n must be at least 1 and -size at least 16")
	}

	o := newObserver()
	p := c.spawn(o)
	ctx := context.Background()
	ck := checks{}
	st, err := gstorage.NewStorage(ctx, p.Conn, c.proto, c.config())
	if err != nil {
		die("Init: %v", err)
	}

	config := make([]byte, 317)
	_, _ = rand.Read(config)
	if *create {
		if err := st.Create(ctx, config); err != nil {
			die("Create: %v", err)
		}
		if err := st.Create(ctx, config); err == nil {
			ck.fail("create_twice_fails", "second Create succeeded")
		} else {
			ck.pass("create_twice_fails")
		}
	}
	got, err := st.Open(ctx)
	if err != nil {
		die("Open: %v", err)
	}
	if *create && !bytes.Equal(got, config) {
		ck.fail("open_returns_config", "config differs (%d vs %d bytes)", len(got), len(config))
	} else {
		ck.pass("open_returns_config")
	}
	if err := st.Ping(ctx); err != nil {
		ck.fail("ping", "%v", err)
	} else {
		ck.pass("ping")
	}
	rw := storage.ModeRead | storage.ModeWrite
	if m, err := st.Mode(ctx); err != nil || m&rw != rw {
		ck.fail("mode_rw", "mode=%d err=%v", m, err)
	} else {
		ck.pass("mode_rw")
	}

	data := make([][]byte, *n)
	macs := make([]objects.MAC, *n)
	for i := range data {
		data[i] = make([]byte, *size+i)
		_, _ = rand.Read(data[i])
		macs[i] = sha256.Sum256(data[i])
	}
	t0 := time.Now()
	var putBytes int64
	for i := range data {
		w, err := st.Put(ctx, storage.StorageResourcePackfile, macs[i], bytes.NewReader(data[i]))
		if err != nil {
			die("Put: %v", err)
		}
		if w != int64(len(data[i])) {
			ck.fail("put_bytes_written", "wrote %d of %d", w, len(data[i]))
		}
		putBytes += int64(len(data[i]))
	}
	putS := time.Since(t0).Seconds()
	ck.pass("put_bytes_written")

	t0 = time.Now()
	for i := range data {
		b, err := getAll(ctx, st, storage.StorageResourcePackfile, macs[i], nil)
		if err != nil {
			die("Get: %v", err)
		}
		if !bytes.Equal(b, data[i]) {
			ck.fail("get_roundtrip", "packfile %d differs (%d vs %d bytes)", i, len(b), len(data[i]))
		}
	}
	getS := time.Since(t0).Seconds()
	ck.pass("get_roundtrip")

	for _, rg := range [][2]int{{0, 1}, {1, 4096}, {*size / 2, 65536}, {*size - 10, 10}} {
		off, ln := rg[0], rg[1]
		if off+ln > len(data[0]) {
			ln = len(data[0]) - off
		}
		b, err := getAll(ctx, st, storage.StorageResourcePackfile, macs[0],
			&storage.Range{Offset: uint64(off), Length: uint32(ln)})
		if err != nil || !bytes.Equal(b, data[0][off:off+ln]) {
			ck.fail("get_range", "offset %d length %d: got %d bytes err=%v", off, ln, len(b), err)
			break
		}
	}
	ck.pass("get_range")

	// List checks the MAC length itself: any entry not 32 bytes fails the call.
	if l, err := st.List(ctx, storage.StorageResourcePackfile); err != nil {
		ck.fail("list", "%v", err)
	} else {
		set := macSet(l)
		okl := len(l) == len(macs)
		for _, m := range macs {
			okl = okl && set[m]
		}
		if okl {
			ck.pass("list")
		} else {
			ck.fail("list", "listed %d, want %d", len(l), len(macs))
		}
	}

	state, lock := randomMAC(), randomMAC()
	if _, err := st.Put(ctx, storage.StorageResourceState, state, bytes.NewReader([]byte("state"))); err != nil {
		ck.fail("state_put", "%v", err)
	}
	if _, err := st.Put(ctx, storage.StorageResourceLock, lock, bytes.NewReader([]byte("lock"))); err != nil {
		ck.fail("lock_put", "%v", err)
	}
	ls, errS := st.List(ctx, storage.StorageResourceState)
	ll, errL := st.List(ctx, storage.StorageResourceLock)
	if errS != nil || errL != nil || len(ls) != 1 || len(ll) != 1 || ls[0] != state || ll[0] != lock {
		ck.fail("resources_separate", "state/lock listings wrong: states=%d (%v) locks=%d (%v)",
			len(ls), errS, len(ll), errL)
	} else {
		ck.pass("resources_separate")
	}
	if b, err := getAll(ctx, st, storage.StorageResourceState, state, nil); err != nil || string(b) != "state" {
		ck.fail("state_get", "%q %v", b, err)
	} else {
		ck.pass("state_get")
	}
	if b, err := getAll(ctx, st, storage.StorageResourceLock, lock, nil); err != nil || string(b) != "lock" {
		ck.fail("lock_get", "%q %v", b, err)
	} else {
		ck.pass("lock_get")
	}
	// An unknown MAC must fail, when the call opens or at the first read, not
	// give an empty object.
	if b, err := getAll(ctx, st, storage.StorageResourcePackfile, randomMAC(), nil); err == nil {
		ck.fail("get_missing_errors", "Get of an unknown MAC succeeded with %d bytes", len(b))
	} else {
		ck.pass("get_missing_errors")
	}
	if sz, err := st.Size(ctx); err != nil || sz < putBytes {
		ck.fail("size", "size=%d err=%v want >= %d", sz, err, putBytes)
	} else {
		ck.pass("size")
	}
	if err := st.Delete(ctx, storage.StorageResourceLock, lock); err != nil {
		ck.fail("delete", "%v", err)
	} else if ll, err := st.List(ctx, storage.StorageResourceLock); err != nil || len(ll) != 0 {
		ck.fail("delete", "lock still listed (%d, err=%v)", len(ll), err)
	} else {
		ck.pass("delete")
	}
	if err := st.Close(ctx); err != nil {
		ck.fail("close", "%v", err)
	} else {
		ck.pass("close")
	}
	code, ferr := p.Finish(exitTimeout)
	ok := ferr == nil && code == 0
	for _, v := range ck {
		ok = ok && v == "ok"
	}
	emit(map[string]any{"ok": ok, "checks": ck,
		"origin": st.Origin(), "type": st.Type(), "root": st.Root(),
		"flags": o.initFlags, "host_flags": uint32(st.Flags()),
		"put_MBps": float64(putBytes) / putS / 1e6, "get_MBps": float64(putBytes) / getS / 1e6,
		"exit": code, "exit_error": errString(ferr)})
}
