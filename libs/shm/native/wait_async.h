#ifndef ASYNCDIFF_SHM_WAIT_ASYNC_H
#define ASYNCDIFF_SHM_WAIT_ASYNC_H
#include "util.h"
/* Adds futexWaitAsync and futexWaitAsyncCancel to exports. */
void wait_async_register(napi_env env, napi_value exports);
#endif
