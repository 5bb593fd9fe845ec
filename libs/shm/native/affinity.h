#ifndef ASYNCDIFF_SHM_AFFINITY_H
#define ASYNCDIFF_SHM_AFFINITY_H
#include "util.h"
/* Adds setProcessAffinity and getAffinity to exports. */
void affinity_register(napi_env env, napi_value exports);
#endif
