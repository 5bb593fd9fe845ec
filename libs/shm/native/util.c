#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void set_prop_str(napi_env env, napi_value obj, const char* key, const char* value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok) {
    napi_set_named_property(env, obj, key, v);
  }
}

void util_throw_errno(napi_env env, int err, const char* syscall_name, const char* detail) {
  const char* name = strerrorname_np(err);
  char msg[512];
  snprintf(msg, sizeof msg, "%s failed%s%s: %s (%s)", syscall_name, detail ? " for " : "",
           detail ? detail : "", strerror(err), name ? name : "E?");
  napi_value code, message, error, errno_v;
  if (napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code) != napi_ok) return;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok) return;
  if (napi_create_error(env, code, message, &error) != napi_ok) return;
  if (napi_create_int32(env, err, &errno_v) == napi_ok) napi_set_named_property(env, error, "errno", errno_v);
  set_prop_str(env, error, "syscall", syscall_name);
  napi_throw(env, error);
}

void util_throw_arg(napi_env env, const char* message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG", message);
}

void util_throw_last(napi_env env, const char* what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info* info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what,
           info && info->error_message ? info->error_message : "napi call failed");
  napi_throw_error(env, "ERR_NAPI", msg);
}

int util_get_string(napi_env env, napi_value v, char* buf, size_t cap, const char* arg_name) {
  size_t len = 0;
  napi_valuetype t;
  char msg[128];
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    snprintf(msg, sizeof msg, "%s must be a string", arg_name);
    util_throw_arg(env, msg);
    return -1;
  }
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len + 1 > cap) {
    snprintf(msg, sizeof msg, "%s is too long (max %zu bytes)", arg_name, cap - 1);
    util_throw_arg(env, msg);
    return -1;
  }
  napi_get_value_string_utf8(env, v, buf, cap, &len);
  return 0;
}

int util_get_double(napi_env env, napi_value v, double* out, const char* arg_name) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a number", arg_name);
    util_throw_arg(env, msg);
    return -1;
  }
  napi_get_value_double(env, v, out);
  return 0;
}

int util_get_int64(napi_env env, napi_value v, int64_t* out, const char* arg_name) {
  double d;
  if (util_get_double(env, v, &d, arg_name) != 0) return -1;
  if (d != (double)(int64_t)d) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be an integer", arg_name);
    util_throw_arg(env, msg);
    return -1;
  }
  *out = (int64_t)d;
  return 0;
}

int32_t* util_get_int32_ptr(napi_env env, napi_value ab, napi_value offset) {
  bool is_ab = false;
  void* data = NULL;
  size_t len = 0;
  int64_t off = 0;
  if (napi_is_arraybuffer(env, ab, &is_ab) != napi_ok || !is_ab) {
    util_throw_arg(env, "buffer must be an ArrayBuffer");
    return NULL;
  }
  if (util_get_int64(env, offset, &off, "byteOffset") != 0) return NULL;
  if (napi_get_arraybuffer_info(env, ab, &data, &len) != napi_ok) {
    util_throw_last(env, "napi_get_arraybuffer_info");
    return NULL;
  }
  if (data == NULL || len == 0) {
    util_throw_arg(env, "buffer is detached or empty");
    return NULL;
  }
  if (off < 0 || (off & 3) != 0 || (uint64_t)off + 4 > len) {
    util_throw_arg(env, "byteOffset must be a 4-byte aligned offset inside the buffer");
    return NULL;
  }
  return (int32_t*)((char*)data + off);
}

napi_value util_make_int(napi_env env, int64_t value) {
  napi_value v = NULL;
  napi_create_int64(env, value, &v);
  return v;
}
