/* fileio.c - atomic writes, whole-file reads, FNV-1a (see netrun/fileio.h). */
#include "netrun/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t nr_fnv1a(uint64_t hash, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        hash ^= p[i];
        hash *= NR_FNV_PRIME;
    }
    return hash;
}

uint64_t nr_fnv1a_u64(uint64_t hash, uint64_t value)
{
    unsigned char bytes[8];
    for (int i = 0; i < 8; i++)
        bytes[i] = (unsigned char)(value >> (8 * i));
    return nr_fnv1a(hash, bytes, sizeof bytes);
}

int nr_dir_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int empty = 1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            strcmp(e->d_name, NR_LOCK_NAME) != 0)
            empty = 0;
    closedir(d);
    return empty;
}

/* The holder's "pid N since HH:MM:SS": it writes it right after taking the
 * lock, so a loser arriving in between waits a moment for it. */
static void read_holder(int fd, char *buf, size_t size)
{
    for (int tries = 0; tries < 50; tries++) {
        ssize_t got = pread(fd, buf, size - 1, 0);
        buf[got > 0 ? got : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (strncmp(buf, "pid ", 4) == 0 && strstr(buf, " since "))
            return;
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    snprintf(buf, size, "pid unknown");
}

int nr_folder_lock(const char *dir, nr_dir_lock *lock, nr_error *err)
{
    memset(lock, 0, sizeof *lock);
    lock->fd = -1;
    char *path = nr_path_join(dir, NR_LOCK_NAME);
    if (!path)
        return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            int e = errno;
            free(path);
            nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot lock the folder: %s", dir,
                    strerror(e));
            errno = e;
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            if (e == EWOULDBLOCK || e == EAGAIN) {
                char holder[128];
                read_holder(fd, holder, sizeof holder);
                close(fd);
                free(path);
                /* "pid N since T" -> "(pid N) since T" */
                char *since = strstr(holder, " since ");
                if (since)
                    *since = '\0';
                return nr_fail(err, NR_EXIT_INPUT, "%s: error: in use by another netrun (%s)%s%s",
                               dir, holder, since ? " since " : "", since ? since + 7 : "");
            }
            close(fd);
            free(path);
            return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot lock the folder: %s", dir,
                           strerror(e));
        }
        /* the holder before may have removed the file as it let go: then
         * this lock is on a file nobody else will see; take the new one */
        struct stat held, named;
        if (fstat(fd, &held) != 0 || stat(path, &named) != 0 || held.st_dev != named.st_dev ||
            held.st_ino != named.st_ino) {
            close(fd);
            continue;
        }
        char text[64];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        int len = snprintf(text, sizeof text, "pid %ld since %02d:%02d:%02d\n", (long)getpid(),
                           tm.tm_hour, tm.tm_min, tm.tm_sec);
        if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
            int e = errno;
            close(fd);
            free(path);
            return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot write: %s", dir, strerror(e));
        }
        lock->fd = fd;
        lock->path = path;
        lock->dir = strdup(dir);
        if (!lock->dir) {
            nr_folder_unlock(lock, 0);
            return nr_fail(err, NR_EXIT_INTERNAL, "out of memory");
        }
        return 0;
    }
    free(path);
    return nr_fail(err, NR_EXIT_INPUT, "%s: error: cannot lock the folder: it keeps changing",
                   dir);
}

int nr_folder_has_lock_file(const char *dir)
{
    char *path = nr_path_join(dir, NR_LOCK_NAME);
    struct stat st;
    int there = path && lstat(path, &st) == 0;
    free(path);
    return there;
}

void nr_folder_unlock(nr_dir_lock *lock, int remove_dir)
{
    if (!lock->path)  /* not held (a zeroed nr_dir_lock is not held either) */
        return;
    /* removed while still held: whoever opened it meanwhile sees that it is
     * gone once it gets the lock, and takes a new one */
    unlink(lock->path);
    if (remove_dir && lock->dir)
        rmdir(lock->dir);
    close(lock->fd);
    free(lock->path);
    free(lock->dir);
    memset(lock, 0, sizeof *lock);
    lock->fd = -1;
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

static int commit(nr_atomic_file *file, bool sync, nr_error *err)
{
    int failed = fflush(file->fp) != 0 || ferror(file->fp) ||
                 (sync && fsync(fileno(file->fp)) != 0);
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

int nr_atomic_commit(nr_atomic_file *file, nr_error *err)
{
    return commit(file, true, err);
}

int nr_atomic_commit_unsynced(nr_atomic_file *file, nr_error *err)
{
    return commit(file, false, err);
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
