/* Entry of a frozen Plakar package (scripts/freeze.py compiles it once per build).
 *
 * Plakar execs the file a manifest lists. Every connector of a package shares one frozen
 * program, lib/kloset-connector, which picks the connector from its argv[0]: this wrapper
 * execs it with argv[0] set to the wrapper's own path (e.g. .../s3Importer). No shell, no
 * copy of the 12 MB program per connector, no symlink (pkg create packs regular files).
 *
 * The frozen program runs only on a glibc at least as new as the build machine's
 * (GLIBC_FLOOR_MAJOR.GLIBC_FLOOR_MINOR, set by freeze.py): on an older one this says so in
 * one line, instead of the loader's complaint about a missing symbol version.
 */
#include <errno.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef GLIBC_FLOOR_MAJOR
#error "compile with -DGLIBC_FLOOR_MAJOR=N -DGLIBC_FLOOR_MINOR=M (scripts/freeze.py does)"
#endif

static int glibc_too_old(const char *have) {
    char *end;
    long major = strtol(have, &end, 10);
    long minor = *end == '.' ? strtol(end + 1, NULL, 10) : 0;
    return major < GLIBC_FLOOR_MAJOR || (major == GLIBC_FLOOR_MAJOR && minor < GLIBC_FLOOR_MINOR);
}

int main(int argc, char **argv) {
    static char self[PATH_MAX], target[PATH_MAX + 32];
    const char *have = gnu_get_libc_version();
    if (glibc_too_old(have)) {
        fprintf(stderr,
                "kloset connector: this self-contained package needs glibc %d.%d or newer;"
                " this system has glibc %s: install the launcher package instead (glibc 2.17+"
                " and python3 3.10+)\n",
                GLIBC_FLOOR_MAJOR, GLIBC_FLOOR_MINOR, have);
        return 1;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "kloset connector: cannot read /proc/self/exe: %s\n", strerror(errno));
        return 127;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    int dir_len = slash ? (int)(slash - self) : 0;
    snprintf(target, sizeof target, "%.*s/lib/kloset-connector", dir_len, self);
    (void)argc;
    argv[0] = self;
    execv(target, argv);
    fprintf(stderr, "kloset connector: cannot run %s: %s\n", target, strerror(errno));
    return 127;
}
