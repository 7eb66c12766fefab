/* fileio.c - atomic writes, whole-file reads, FNV-1a (see netrun/fileio.h). */
#include "netrun/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t nr_fnv1a(uint64_t hash, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        hash ^= p[i];
        hash *= UINT64_C(0x100000001b3);
    }
    return hash;
}

int nr_dir_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int empty = 1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    closedir(d);
    return empty;
}

char *nr_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *path = malloc(a + b + 2);
    if (!path)
        return NULL;
    memcpy(path, dir, a);
    size_t at = a;
    if (a && dir[a - 1] != '/')
        path[at++] = '/';
    memcpy(path + at, name, b + 1);
    return path;
}

/* ".NAME.tmp-XXXXXX" beside PATH */
static char *temp_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp)
        return NULL;
    memcpy(tmp, path, dirlen);
    snprintf(tmp + dirlen, len + 16 - dirlen, ".%s.tmp-XXXXXX", path + dirlen);
    return tmp;
}

int nr_atomic_open(nr_atomic_file *file, const char *path, nr_error *err)
{
    memset(file, 0, sizeof *file);
    file->path = strdup(path);
    file->tmp_path = temp_name(path);
    if (!file->path || !file->tmp_path) {
        nr_atomic_abort(file);
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    }
    int fd = mkstemp(file->tmp_path);
    if (fd < 0) {
        int e = errno;
        free(file->tmp_path);
        file->tmp_path = NULL;
        nr_atomic_abort(file);
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot write: %s", path, strerror(e));
    }
    fchmod(fd, 0644);
    file->fp = fdopen(fd, "w");
    if (!file->fp) {
        close(fd);
        nr_atomic_abort(file);
        return nr_fail(err, NR_EXIT_INTERNAL, "%s: error: fdopen failed", path);
    }
    return 0;
}

void nr_atomic_abort(nr_atomic_file *file)
{
    if (file->fp)
        fclose(file->fp);
    if (file->tmp_path)
        unlink(file->tmp_path);
    free(file->tmp_path);
    free(file->path);
    memset(file, 0, sizeof *file);
}

int nr_atomic_commit(nr_atomic_file *file, nr_error *err)
{
    int failed = fflush(file->fp) != 0 || ferror(file->fp) || fsync(fileno(file->fp)) != 0;
    int e = errno;
    failed |= fclose(file->fp) != 0;
    file->fp = NULL;
    if (!failed && rename(file->tmp_path, file->path) != 0) {
        failed = 1;
        e = errno;
    }
    if (failed) {
        nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot write: %s", file->path,
                strerror(e ? e : EIO));
        nr_atomic_abort(file);
        return -1;
    }
    free(file->tmp_path);
    free(file->path);
    memset(file, 0, sizeof *file);
    return 0;
}

int nr_write_file_atomic(const char *path, const void *data, size_t len, nr_error *err)
{
    nr_atomic_file file;
    if (nr_atomic_open(&file, path, err) != 0)
        return -1;
    if (len && fwrite(data, 1, len, file.fp) != len) {
        int e = errno;
        nr_atomic_abort(&file);
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot write: %s", path, strerror(e));
    }
    return nr_atomic_commit(&file, err);
}

int nr_read_file(const char *path, size_t max_bytes, char **data, size_t *len, nr_error *err)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot read: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: not a regular file", path);
    }
    if ((size_t)st.st_size > max_bytes) {
        close(fd);
        return nr_fail(err, NR_EXIT_INPUT, "%s: error: file is %lld bytes, more than %zu",
                       path, (long long)st.st_size, max_bytes);
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot read: %s", path, strerror(e));
        }
        got += (size_t)r;
    }
    close(fd);
    buf[size] = '\0';
    *data = buf;
    *len = size;
    return 0;
}
