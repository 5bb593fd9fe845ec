#ifndef ASYNCDIFF_SHM_LOCKFILE_H
#define ASYNCDIFF_SHM_LOCKFILE_H
#include "util.h"
/* Adds lockAcquire, lockTryTake and lockRelease to exports. */
void lockfile_register(napi_env env, napi_value exports);
#endif
