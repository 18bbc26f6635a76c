# Sourced by the build scripts: picks a Go toolchain by its version, not by its name.
#   go_select   sets GO to a `go` command that builds modules needing Go >= 1.25, or fails.
# Debian's golang-go (1.19 on bookworm) may shadow a newer Go on PATH and cannot build Plakar
# or grpc-go's current releases, so every candidate is asked for its version. A Go of 1.21 or
# newer but older than 1.25 is still used: GOTOOLCHAIN makes it fetch a newer toolchain
# through the Go module proxy.

GO_MIN_MINOR=25
GO_FALLBACK_TOOLCHAIN=go1.25.7

_go_minor() { # prints the minor version of the go command $1 (go1.X...), or nothing
  local v
  v=$(GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null) || return 0
  v=${v#go1.}
  echo "${v%%[^0-9]*}"
}

go_select() {
  local cand minor best="" bootstrap=""
  for cand in "${GO:-}" "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go \
      "$HOME/go/bin/go" /usr/lib/go/bin/go /usr/lib/go-1.*/bin/go; do
    [ -n "$cand" ] && [ -x "$cand" ] || continue
    minor=$(_go_minor "$cand")
    [ -n "$minor" ] || continue
    if [ "$minor" -ge "$GO_MIN_MINOR" ]; then best=$cand; break; fi
    if [ "$minor" -ge 21 ] && [ -z "$bootstrap" ]; then bootstrap=$cand; fi
  done
  if [ -n "$best" ]; then
    GO=$best
    export GOTOOLCHAIN=local
  elif [ -n "$bootstrap" ]; then
    echo "setup: $bootstrap is older than go1.$GO_MIN_MINOR; using GOTOOLCHAIN=$GO_FALLBACK_TOOLCHAIN (fetched through the Go module proxy)" >&2
    GO=$bootstrap
    export GOTOOLCHAIN=$GO_FALLBACK_TOOLCHAIN
  else
    echo "setup: error: no Go toolchain of version 1.21 or newer found (tried PATH, /usr/local/go, /usr/lib/go*)." >&2
    echo "setup: Plakar v1.1.4 and the project's Go wire host need Go >= 1.$GO_MIN_MINOR; install it from go.dev or your distribution, or set GO=/path/to/go." >&2
    return 1
  fi
  export GO CGO_ENABLED=0 GOFLAGS=${GOFLAGS:--buildvcs=false}
  echo "setup: using $GO ($(GOTOOLCHAIN=$GOTOOLCHAIN "$GO" env GOVERSION))" >&2
}
