//go:build tools

// Package plakarbuild pins the Plakar release the tests run against: `go build
// github.com/PlakarKorp/plakar` in this module builds exactly the versions go.sum names.
package plakarbuild

import _ "github.com/PlakarKorp/plakar"
