/* Shared helpers for the asyncdiff shm addon: argument parsing and errno -> JS error mapping. */
#ifndef ASYNCDIFF_SHM_UTIL_H
#define ASYNCDIFF_SHM_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* Bail out of a napi callback (returning NULL) when a napi call fails; a pending JS exception,
 * if any, propagates to the caller. */
#define NAPI_CALL(env, call)                                        \
  do {                                                              \
    if ((call) != napi_ok) {                                        \
      util_throw_last(env, #call);                                  \
      return NULL;                                                  \
    }                                                               \
  } while (0)

/* Throws a JS Error with `code` = errno name (e.g. "ENOENT"), `errno` and `syscall` set. */
void util_throw_errno(napi_env env, int err, const char* syscall_name, const char* detail);
/* Throws a TypeError / RangeError with a stable `code` ("ERR_INVALID_ARG"). */
void util_throw_arg(napi_env env, const char* message);
/* Throws the last napi error if no exception is pending yet. */
void util_throw_last(napi_env env, const char* what);

/* Reads a JS string argument into buf (NUL-terminated). Returns 0 on success; on failure a
 * JS exception is pending. */
int util_get_string(napi_env env, napi_value v, char* buf, size_t cap, const char* arg_name);
int util_get_int64(napi_env env, napi_value v, int64_t* out, const char* arg_name);
int util_get_double(napi_env env, napi_value v, double* out, const char* arg_name);

/* Resolves (arraybuffer, byteOffset) to an aligned int32 pointer inside the buffer. Returns
 * NULL with a pending exception when out of bounds, misaligned or detached. */
int32_t* util_get_int32_ptr(napi_env env, napi_value ab, napi_value offset);

napi_value util_make_int(napi_env env, int64_t value);

#endif
