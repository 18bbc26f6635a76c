package main

// The wire observer: gRPC client interceptors that look at (never change) the
// messages integration-grpc exchanges, for the few facts kloset's interfaces
// hide: the flags the plugin itself answered in Init (integration-grpc ORs
// NEEDACK into an importer's), the hasReader bit of each Import record,
// whether the Import stream carried `finished`, and the status the plugin
// ends the Import call with after it (integration-grpc stops reading there).

import (
	"context"
	"errors"
	"io"
	"sync"

	gexporter "github.com/PlakarKorp/integration-grpc/exporter"
	gimporter "github.com/PlakarKorp/integration-grpc/importer"
	gstorage "github.com/PlakarKorp/integration-grpc/storage"
	"google.golang.org/grpc"
)

const importMethod = "/importer.Importer/Import"

type observer struct {
	mu             sync.Mutex
	initFlags      uint32
	hasReader      map[string][]bool // per key, in arrival order
	finished       int               // how many `finished` messages the plugin sent
	afterFinished  int               // records sent after `finished`
	importEnded    chan struct{}
	importEndErr   error
	importEndOnce  sync.Once
	importStreamed bool
}

func newObserver() *observer {
	return &observer{hasReader: map[string][]bool{}, importEnded: make(chan struct{})}
}

func (o *observer) dialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithUnaryInterceptor(o.unary), grpc.WithStreamInterceptor(o.stream)}
}

func (o *observer) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err == nil {
		o.mu.Lock()
		switch r := reply.(type) {
		case *gimporter.InitResponse:
			o.initFlags = r.Flags
		case *gexporter.InitResponse:
			o.initFlags = r.Flags
		case *gstorage.InitResponse:
			o.initFlags = r.Flags
		}
		o.mu.Unlock()
	}
	return err
}

func (o *observer) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
	streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil || method != importMethod {
		return cs, err
	}
	o.mu.Lock()
	o.importStreamed = true
	o.mu.Unlock()
	return &importStream{ClientStream: cs, o: o}, nil
}

// recordKey is the key a plugin files a record's reader under (pathname, or
// xattr:path:name with @ for ADS), the key Open requests carry.
func recordKey(pathname string, isXattr bool, name string, typ int32) string {
	if !isXattr {
		return pathname
	}
	sep := ":"
	if typ == 1 {
		sep = "@"
	}
	return "xattr:" + pathname + sep + name
}

func (o *observer) endImport(err error) {
	o.importEndOnce.Do(func() {
		if errors.Is(err, io.EOF) {
			err = nil
		}
		o.importEndErr = err
		close(o.importEnded)
	})
}

func (o *observer) finishedCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.finished
}

// wireHasReader says what the plugin put in hasReader for the next record
// under that key (records reach the host in the order the observer saw them).
func (o *observer) wireHasReader(key string) (bool, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.hasReader[key]
	if len(q) == 0 {
		return false, false
	}
	if len(q) == 1 {
		delete(o.hasReader, key)
	} else {
		o.hasReader[key] = q[1:]
	}
	return q[0], true
}

type importStream struct {
	grpc.ClientStream
	o        *observer
	draining bool
}

func (s *importStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		s.o.endImport(err) // the stream ended without `finished`
		return err
	}
	r, ok := m.(*gimporter.ImportResponse)
	if !ok {
		return nil
	}
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	if r.Finished {
		s.o.finished++
		if !s.draining {
			// integration-grpc reads no further; read on to learn how the
			// plugin ends the call once the host has half-closed.
			s.draining = true
			go s.drain()
		}
	} else if rec := r.Record; rec != nil {
		key := recordKey(rec.Pathname, rec.IsXattr, rec.XattrName, int32(rec.XattrType))
		s.o.hasReader[key] = append(s.o.hasReader[key], rec.HasReader)
	}
	return nil
}

func (s *importStream) drain() {
	for {
		m := new(gimporter.ImportResponse)
		if err := s.ClientStream.RecvMsg(m); err != nil {
			s.o.endImport(err)
			return
		}
		s.o.mu.Lock()
		if m.Finished {
			s.o.finished++
		} else {
			s.o.afterFinished++
		}
		s.o.mu.Unlock()
	}
}
