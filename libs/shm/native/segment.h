#ifndef ASYNCDIFF_SHM_SEGMENT_H
#define ASYNCDIFF_SHM_SEGMENT_H
#include "util.h"
/* Adds shmCreate, shmOpen, shmClose, shmUnlink to exports. */
void segment_register(napi_env env, napi_value exports);
#endif
