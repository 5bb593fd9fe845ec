/* CPU pinning for every thread of the calling process.
 *
 * sched_setaffinity(0) pins only the calling thread; V8, libuv and ONNX Runtime threads that
 * already exist keep their old mask. So we walk /proc/self/task and pin each tid, repeating until
 * a pass sees no thread it has not pinned (threads created meanwhile inherit from a pinned
 * parent or are caught by the next pass). */
#include "affinity.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/types.h>

#define MAX_TIDS 4096

static int read_cpus(napi_env env, napi_value arr, cpu_set_t* set) {
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, arr, &n) != napi_ok || n == 0) {
    util_throw_arg(env, "cpus must be a non-empty array of CPU indices");
    return -1;
  }
  CPU_ZERO(set);
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    int64_t cpu;
    if (napi_get_element(env, arr, i, &v) != napi_ok) return -1;
    if (util_get_int64(env, v, &cpu, "cpus[i]") != 0) return -1;
    if (cpu < 0 || cpu >= CPU_SETSIZE) {
      util_throw_arg(env, "cpus[i] is out of range");
      return -1;
    }
    CPU_SET((int)cpu, set);
  }
  return 0;
}

static int seen_before(const pid_t* tids, int n, pid_t tid) {
  for (int i = 0; i < n; i++) if (tids[i] == tid) return 1;
  return 0;
}

/* setProcessAffinity(cpus: number[]): number — how many threads were pinned. */
static napi_value set_affinity(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  cpu_set_t set;
  if (argc < 1) {
    util_throw_arg(env, "setProcessAffinity(cpus) needs an array");
    return NULL;
  }
  if (read_cpus(env, argv[0], &set) != 0) return NULL;
  /* The calling thread first, so threads it spawns from now on inherit the mask. */
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    util_throw_errno(env, errno, "sched_setaffinity", "calling thread");
    return NULL;
  }
  pid_t* done = malloc(sizeof(pid_t) * MAX_TIDS);
  if (!done) {
    util_throw_errno(env, ENOMEM, "malloc", NULL);
    return NULL;
  }
  int ndone = 0;
  for (int pass = 0; pass < 8; pass++) {
    DIR* dir = opendir("/proc/self/task");
    if (!dir) {
      int err = errno;
      free(done);
      util_throw_errno(env, err, "opendir", "/proc/self/task");
      return NULL;
    }
    int fresh = 0;
    struct dirent* de;
    while ((de = readdir(dir)) != NULL) {
      if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
      pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);
      if (seen_before(done, ndone, tid)) continue;
      fresh++;
      if (sched_setaffinity(tid, sizeof set, &set) != 0 && errno != ESRCH) {
        int err = errno;
        closedir(dir);
        free(done);
        util_throw_errno(env, err, "sched_setaffinity", de->d_name);
        return NULL;
      }
      if (ndone < MAX_TIDS) done[ndone++] = tid;
    }
    closedir(dir);
    if (fresh == 0) break;
  }
  free(done);
  return util_make_int(env, ndone);
}

/* getAffinity(tid?: number): number[] — the CPUs a thread (default: the calling one) may use. */
static napi_value get_affinity(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t tid = 0;
  if (argc >= 1) {
    napi_valuetype t;
    NAPI_CALL(env, napi_typeof(env, argv[0], &t));
    if (t != napi_undefined && util_get_int64(env, argv[0], &tid, "tid") != 0) return NULL;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity((pid_t)tid, sizeof set, &set) != 0) {
    util_throw_errno(env, errno, "sched_getaffinity", NULL);
    return NULL;
  }
  napi_value arr;
  NAPI_CALL(env, napi_create_array(env, &arr));
  uint32_t k = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (CPU_ISSET(cpu, &set)) NAPI_CALL(env, napi_set_element(env, arr, k++, util_make_int(env, cpu)));
  }
  return arr;
}

void affinity_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"setProcessAffinity", NULL, set_affinity, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getAffinity", NULL, get_affinity, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
