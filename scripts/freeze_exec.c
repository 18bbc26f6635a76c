/* Entry of a frozen Plakar package (scripts/freeze.py compiles it once per build).
 *
 * Plakar execs the file a manifest lists. Every connector of a package shares one frozen
 * program, lib/kloset-connector, which picks the connector from its argv[0]: this wrapper
 * execs it with argv[0] set to the wrapper's own path (e.g. .../s3Importer). No shell, no
 * copy of the 12 MB program per connector, no symlink (pkg create packs regular files).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    static char self[PATH_MAX], target[PATH_MAX + 32];
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
