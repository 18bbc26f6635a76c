package main

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/PlakarKorp/kloset/connectors/storage"
	"github.com/PlakarKorp/kloset/location"
	"github.com/PlakarKorp/kloset/objects"
)

// dirStore keeps CONFIG and one file per object, <root>/<resource>/<hex MAC>,
// each written to a temporary name and renamed at EOF.
type dirStore struct {
	root string
}

func newStore(_ context.Context, _ string, config map[string]string) (storage.Store, error) {
	return &dirStore{root: strings.TrimPrefix(config["location"], "fs://")}, nil
}

func (s *dirStore) Origin() string        { return "localhost" }
func (s *dirStore) Type() string          { return "fs" }
func (s *dirStore) Root() string          { return s.root }
func (s *dirStore) Flags() location.Flags { return 0 }

func (s *dirStore) path(res storage.StorageResource, mac objects.MAC) string {
	return filepath.Join(s.root, res.String(), hex.EncodeToString(mac[:]))
}

func (s *dirStore) Create(_ context.Context, config []byte) error {
	cfg := filepath.Join(s.root, "CONFIG")
	if _, err := os.Stat(cfg); err == nil {
		return errors.New("a repository already exists at " + s.root)
	}
	if err := os.MkdirAll(s.root, 0o700); err != nil {
		return err
	}
	return os.WriteFile(cfg, config, 0o600)
}

func (s *dirStore) Open(context.Context) ([]byte, error) {
	return os.ReadFile(filepath.Join(s.root, "CONFIG"))
}

func (s *dirStore) Ping(context.Context) error {
	_, err := os.Stat(s.root)
	return err
}

func (s *dirStore) Mode(context.Context) (storage.Mode, error) {
	return storage.ModeRead | storage.ModeWrite, nil
}

func (s *dirStore) Size(context.Context) (int64, error) {
	var n int64
	err := filepath.Walk(s.root, func(_ string, info fs.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return err
	})
	return n, err
}

func (s *dirStore) List(_ context.Context, res storage.StorageResource) ([]objects.MAC, error) {
	ents, err := os.ReadDir(filepath.Join(s.root, res.String()))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var macs []objects.MAC
	for _, e := range ents {
		b, err := hex.DecodeString(e.Name())
		if err != nil || len(b) != len(objects.MAC{}) {
			continue // temporary files
		}
		macs = append(macs, objects.MAC(b))
	}
	return macs, nil
}

func (s *dirStore) Put(_ context.Context, res storage.StorageResource, mac objects.MAC, rd io.Reader) (int64, error) {
	p := s.path(res, mac)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, rd)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return n, err
	}
	return n, nil
}

// sectionCloser is a ranged view of an open file that closes the file.
type sectionCloser struct {
	*io.SectionReader
	f *os.File
}

func (s sectionCloser) Close() error { return s.f.Close() }

func (s *dirStore) Get(_ context.Context, res storage.StorageResource, mac objects.MAC, rg *storage.Range) (io.ReadCloser, error) {
	f, err := os.Open(s.path(res, mac))
	if err != nil {
		return nil, err
	}
	if rg == nil {
		return f, nil
	}
	return sectionCloser{io.NewSectionReader(f, int64(rg.Offset), int64(rg.Length)), f}, nil
}

func (s *dirStore) Delete(_ context.Context, res storage.StorageResource, mac objects.MAC) error {
	return os.Remove(s.path(res, mac))
}

func (s *dirStore) Close(context.Context) error { return nil }
