/* asyncdiff_shm: the native half of @asyncdiff/shm (POSIX shm, cross-process futexes, CPU
 * pinning, instance lock files). Each file registers its own functions; src/native.ts declares
 * their JS types. */
#include "affinity.h"
#include "futex.h"
#include "lockfile.h"
#include "segment.h"
#include "wait_async.h"

static napi_value Init(napi_env env, napi_value exports) {
  segment_register(env, exports);
  futex_register(env, exports);
  wait_async_register(env, exports);
  affinity_register(env, exports);
  lockfile_register(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
