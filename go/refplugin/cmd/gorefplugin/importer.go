package main

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/PlakarKorp/kloset/connectors"
	"github.com/PlakarKorp/kloset/connectors/importer"
	"github.com/PlakarKorp/kloset/location"
	"github.com/PlakarKorp/kloset/objects"
)

// dirImporter walks one local directory: one record per entry (pathname
// absolute), content opened lazily when the host asks for it.
type dirImporter struct {
	root string
}

func newImporter(_ context.Context, _ *connectors.Options, _ string, config map[string]string) (importer.Importer, error) {
	return &dirImporter{root: strings.TrimPrefix(config["location"], "fs://")}, nil
}

func (d *dirImporter) Origin() string        { return "localhost" }
func (d *dirImporter) Type() string          { return "fs" }
func (d *dirImporter) Root() string          { return d.root }
func (d *dirImporter) Flags() location.Flags { return 0 }

func (d *dirImporter) Ping(context.Context) error {
	_, err := os.Stat(d.root)
	return err
}

func (d *dirImporter) Close(context.Context) error { return nil }

// Import sends the records and closes the channel; without NEEDACK the SDK
// hands it no results (it uses the acks only to release readers).
func (d *dirImporter) Import(ctx context.Context, records chan<- *connectors.Record, _ <-chan *connectors.Result) error {
	defer close(records)
	return filepath.Walk(d.root, func(p string, info fs.FileInfo, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			records <- connectors.NewError(p, err)
			return nil
		}
		target := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			target, _ = os.Readlink(p)
		}
		var open func() (io.ReadCloser, error)
		if info.Mode().IsRegular() {
			open = func() (io.ReadCloser, error) { return os.Open(p) }
		} else {
			open = func() (io.ReadCloser, error) { return nil, fs.ErrInvalid }
		}
		records <- connectors.NewRecord(p, target, objects.FileInfoFromStat(info), nil, open)
		return nil
	})
}
