// gorefplugin is the benchmark reference "how fast is a Go plugin": a minimal
// importer and storage written on Plakar's Go SDK (go-kloset-sdk v1.1.0), which
// serves them over stdin/stdout with 1 MiB chunks.
//
//	gorefplugin importer   walks config["location"] and serves file contents
//	gorefplugin storage    keeps objects as files under config["location"]
//
// The SDK's Entrypoint* functions refuse any argument, so this calls its
// Run* functions directly after reading the mode from argv[1].
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	sdk "github.com/PlakarKorp/go-kloset-sdk"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gorefplugin importer|storage")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "importer":
		err = sdk.RunImporter(newImporter)
	case "storage":
		err = sdk.RunStorage(newStore)
	default:
		fmt.Fprintln(os.Stderr, "usage: gorefplugin importer|storage")
		os.Exit(2)
	}
	// The SDK's server returns io.EOF once stdin closes: the normal end.
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(os.Stderr, "gorefplugin %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
