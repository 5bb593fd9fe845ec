/* Instance lock files: the liveness record of a process that creates shm segments.
 *
 * The owner holds an exclusive flock(2) on /dev/shm/<prefix>-<instance>.lock for as long as it
 * lives; the kernel drops the lock when the last descriptor closes, which SIGKILL, OOM and native
 * crashes do too. A sweeper that can take the lock knows the owner is gone. flock is keyed by the
 * inode, so it works between containers that share /dev/shm but not a pid namespace (where every
 * main process is pid 1 and pids say nothing), and a reused pid cannot fake it.
 *
 * Both sides check after locking that the path still names the inode they locked: a sweeper
 * unlinks a dead owner's file while holding its lock, so a lock on an unlinked inode proves
 * nothing. */
#include "lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PATH_CAP 512
#define ACQUIRE_TRIES 500

/* 1: the path still names fd's inode; 0: it names another or nothing; -1: stat failed (errno). */
static int same_inode(int fd, const char* path) {
  struct stat a, b;
  if (fstat(fd, &a) != 0) return -1;
  if (stat(path, &b) != 0) return errno == ENOENT ? 0 : -1;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* lockAcquire(path: string): number — creates (or reuses) the file, locks it exclusively and
 * returns the descriptor (O_CLOEXEC: child processes never inherit the lock). Retries while a
 * sweeper briefly holds a stale file of the same name; EWOULDBLOCK if it never frees. */
static napi_value lock_acquire(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[PATH_CAP];
  if (argc < 1) {
    util_throw_arg(env, "lockAcquire(path) needs a path");
    return NULL;
  }
  if (util_get_string(env, argv[0], path, sizeof path, "path") != 0) return NULL;
  for (int attempt = 0; attempt < ACQUIRE_TRIES; attempt++) {
    int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
      util_throw_errno(env, errno, "open", path);
      return NULL;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      close(fd);
      if (err != EWOULDBLOCK && err != EINTR) {
        util_throw_errno(env, err, "flock", path);
        return NULL;
      }
      sleep_ms(2);
      continue;
    }
    int same = same_inode(fd, path);
    if (same == 1) return util_make_int(env, fd);
    int err = errno;
    close(fd);
    if (same < 0) {
      util_throw_errno(env, err, "stat", path);
      return NULL;
    }
  }
  util_throw_errno(env, EWOULDBLOCK, "flock", path);
  return NULL;
}

/* lockTryTake(path: string): number — a descriptor holding the lock if nobody else holds it (the
 * owner is gone), -1 if it is held, -2 if the file does not exist (or was just replaced). Opens
 * read-only, so another user's lock file can be probed. */
static napi_value lock_try_take(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[PATH_CAP];
  if (argc < 1) {
    util_throw_arg(env, "lockTryTake(path) needs a path");
    return NULL;
  }
  if (util_get_string(env, argv[0], path, sizeof path, "path") != 0) return NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return util_make_int(env, -2);
    util_throw_errno(env, errno, "open", path);
    return NULL;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(fd);
    if (err == EWOULDBLOCK || err == EINTR) return util_make_int(env, -1);
    util_throw_errno(env, err, "flock", path);
    return NULL;
  }
  int same = same_inode(fd, path);
  if (same == 1) return util_make_int(env, fd);
  int err = errno;
  close(fd);
  if (same < 0) {
    util_throw_errno(env, err, "stat", path);
    return NULL;
  }
  return util_make_int(env, -2);
}

/* lockRelease(fd: number, unlinkPath?: string): boolean — unlinks the file first when a path is
 * given (only if it still names the locked inode, so a newer owner's file is never removed),
 * then closes the descriptor, which drops the lock. Returns whether the file was unlinked. */
static napi_value lock_release(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t fd = -1;
  if (argc < 1) {
    util_throw_arg(env, "lockRelease(fd, unlinkPath?) needs a descriptor");
    return NULL;
  }
  if (util_get_int64(env, argv[0], &fd, "fd") != 0) return NULL;
  if (fd < 0 || fd > 0x7fffffff) {
    util_throw_arg(env, "fd must be a descriptor from lockAcquire or lockTryTake");
    return NULL;
  }
  char path[PATH_CAP];
  int have_path = 0;
  if (argc > 1) {
    napi_valuetype t;
    NAPI_CALL(env, napi_typeof(env, argv[1], &t));
    if (t != napi_undefined && t != napi_null) {
      if (util_get_string(env, argv[1], path, sizeof path, "unlinkPath") != 0) return NULL;
      have_path = 1;
    }
  }
  int unlinked = 0;
  int err = 0;
  if (have_path && same_inode((int)fd, path) == 1) {
    if (unlink(path) == 0) unlinked = 1;
    else if (errno != ENOENT) err = errno;
  }
  close((int)fd);
  if (err != 0) {
    util_throw_errno(env, err, "unlink", path);
    return NULL;
  }
  napi_value result;
  NAPI_CALL(env, napi_get_boolean(env, unlinked, &result));
  return result;
}

void lockfile_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"lockAcquire", NULL, lock_acquire, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lockTryTake", NULL, lock_try_take, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lockRelease", NULL, lock_release, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
