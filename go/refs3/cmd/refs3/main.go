// refs3 is a benchmark reference only: a Go S3 storage on go-kloset-sdk v1.1.0 and
// minio-go, written for scripts/bench_plakar.py. It stands in for Plakar's official s3
// plugin, which cannot be fetched on the machines this project builds on; it is not that
// plugin and does not share its code.
//
// Plakar starts it with no argument and talks gRPC over stdin/stdout; logs go to stderr.
package main

import (
	"os"

	sdk "github.com/PlakarKorp/go-kloset-sdk"
)

func main() {
	sdk.EntrypointStorage(os.Args, newStore)
}
