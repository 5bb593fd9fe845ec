/* POSIX shared-memory segments exposed as external ArrayBuffers.
 *
 * Every mapping is tracked in a small process-wide list so that an explicit close (which detaches
 * the ArrayBuffer, leaving old views at length 0 instead of pointing at unmapped memory) and the
 * GC finalizer never munmap twice. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_CAP 256

typedef struct mapping {
  void* addr;
  size_t len;
  int unmapped;
  struct mapping* next;
} mapping;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static mapping* g_maps = NULL;

static void finalize_mapping(napi_env env, void* data, void* hint) {
  (void)env;
  (void)data;
  mapping* m = (mapping*)hint;
  pthread_mutex_lock(&g_mu);
  for (mapping** p = &g_maps; *p; p = &(*p)->next) {
    if (*p == m) {
      *p = m->next;
      break;
    }
  }
  if (!m->unmapped) munmap(m->addr, m->len);
  pthread_mutex_unlock(&g_mu);
  free(m);
}

/* Maps fd (size len) and wraps it; closes fd in every case. */
static napi_value map_fd(napi_env env, int fd, size_t len, const char* name) {
  void* addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  int err = errno;
  close(fd);
  if (addr == MAP_FAILED) {
    util_throw_errno(env, err, "mmap", name);
    return NULL;
  }
  mapping* m = calloc(1, sizeof *m);
  if (!m) {
    munmap(addr, len);
    util_throw_errno(env, ENOMEM, "calloc", name);
    return NULL;
  }
  m->addr = addr;
  m->len = len;
  napi_value ab;
  if (napi_create_external_arraybuffer(env, addr, len, finalize_mapping, m, &ab) != napi_ok) {
    munmap(addr, len);
    free(m);
    util_throw_last(env, "napi_create_external_arraybuffer");
    return NULL;
  }
  pthread_mutex_lock(&g_mu);
  m->next = g_maps;
  g_maps = m;
  pthread_mutex_unlock(&g_mu);
  return ab;
}

/* shmCreate(name: string, byteLength: number): ArrayBuffer
 * Fails with EEXIST if the name is taken; backs every page (fallocate) so a full /dev/shm is an
 * ENOSPC error here rather than a SIGBUS on first write. */
static napi_value shm_create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[NAME_CAP];
  int64_t len = 0;
  if (argc < 2 || util_get_string(env, argv[0], name, sizeof name, "name") != 0) {
    if (argc < 2) util_throw_arg(env, "shmCreate(name, byteLength) needs two arguments");
    return NULL;
  }
  if (util_get_int64(env, argv[1], &len, "byteLength") != 0) return NULL;
  if (len <= 0) {
    util_throw_arg(env, "byteLength must be positive");
    return NULL;
  }
  int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    util_throw_errno(env, errno, "shm_open", name);
    return NULL;
  }
  int rc = posix_fallocate(fd, 0, (off_t)len);
  if (rc == EOPNOTSUPP || rc == EINVAL) rc = ftruncate(fd, (off_t)len) == 0 ? 0 : errno;
  if (rc != 0) {
    close(fd);
    shm_unlink(name);
    util_throw_errno(env, rc, "posix_fallocate", name);
    return NULL;
  }
  napi_value ab = map_fd(env, fd, (size_t)len, name);
  if (!ab) shm_unlink(name);
  return ab;
}

/* shmOpen(name: string): ArrayBuffer — maps the whole segment; ENODATA if it is still empty. */
static napi_value shm_open_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[NAME_CAP];
  if (argc < 1) {
    util_throw_arg(env, "shmOpen(name) needs a name");
    return NULL;
  }
  if (util_get_string(env, argv[0], name, sizeof name, "name") != 0) return NULL;
  int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    util_throw_errno(env, errno, "shm_open", name);
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    util_throw_errno(env, err, "fstat", name);
    return NULL;
  }
  if (st.st_size <= 0) {
    close(fd);
    util_throw_errno(env, ENODATA, "shm_open", name);
    return NULL;
  }
  return map_fd(env, fd, (size_t)st.st_size, name);
}

/* shmClose(buffer: ArrayBuffer): boolean — detaches the buffer and unmaps it now. Returns false
 * when the buffer was not (or no longer) one of our mappings. */
static napi_value shm_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_ab = false;
  if (argc < 1 || napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab) {
    util_throw_arg(env, "shmClose(buffer) needs an ArrayBuffer");
    return NULL;
  }
  void* data = NULL;
  size_t len = 0;
  NAPI_CALL(env, napi_get_arraybuffer_info(env, argv[0], &data, &len));
  mapping* found = NULL;
  pthread_mutex_lock(&g_mu);
  for (mapping* m = g_maps; m; m = m->next) {
    if (m->addr == data && !m->unmapped && data != NULL) {
      found = m;
      break;
    }
  }
  if (found) {
    /* Detach first: JS can no longer reach the pages once they are gone. */
    if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) {
      pthread_mutex_unlock(&g_mu);
      util_throw_last(env, "napi_detach_arraybuffer");
      return NULL;
    }
    munmap(found->addr, found->len);
    found->unmapped = 1;
  }
  pthread_mutex_unlock(&g_mu);
  napi_value result;
  NAPI_CALL(env, napi_get_boolean(env, found != NULL, &result));
  return result;
}

/* shmUnlink(name: string): boolean — false if the name did not exist. */
static napi_value shm_unlink_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[NAME_CAP];
  if (argc < 1) {
    util_throw_arg(env, "shmUnlink(name) needs a name");
    return NULL;
  }
  if (util_get_string(env, argv[0], name, sizeof name, "name") != 0) return NULL;
  if (shm_unlink(name) != 0) {
    if (errno == ENOENT) {
      napi_value f;
      NAPI_CALL(env, napi_get_boolean(env, false, &f));
      return f;
    }
    util_throw_errno(env, errno, "shm_unlink", name);
    return NULL;
  }
  napi_value t;
  NAPI_CALL(env, napi_get_boolean(env, true, &t));
  return t;
}

void segment_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"shmCreate", NULL, shm_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"shmOpen", NULL, shm_open_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"shmClose", NULL, shm_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"shmUnlink", NULL, shm_unlink_js, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
