/* Cross-process futex wait/wake on an int32 inside a MAP_SHARED mapping.
 *
 * The ops deliberately omit FUTEX_PRIVATE_FLAG: private futexes are keyed by (mm, address) and
 * would never match a waiter in another process; shared ones are keyed by (inode, offset). */
#include "futex.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield" ::: "memory")
#else
#define CPU_RELAX() __asm__ __volatile__("" ::: "memory")
#endif

void futex_deadline(double ms, struct timespec* out) {
  clock_gettime(CLOCK_MONOTONIC, out);
  if (!(ms >= 0) || !isfinite(ms) || ms > 1e12) ms = 365.0 * 24 * 3600 * 1000; /* a year */
  long long add_ns = (long long)(ms * 1e6);
  long long ns = out->tv_nsec + add_ns % 1000000000LL;
  out->tv_sec += (time_t)(add_ns / 1000000000LL + ns / 1000000000LL);
  out->tv_nsec = (long)(ns % 1000000000LL);
}

static int deadline_passed(const struct timespec* deadline) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec > deadline->tv_sec ||
         (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

int futex_wait_until(int32_t* addr, int32_t expected, const struct timespec* deadline) {
  long rc = syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, expected, deadline, NULL,
                    FUTEX_BITSET_MATCH_ANY);
  if (rc == 0) return FUTEX_RESULT_OK;
  switch (errno) {
    case EAGAIN: return FUTEX_RESULT_NOT_EQUAL;
    case ETIMEDOUT: return FUTEX_RESULT_TIMED_OUT;
    case EINTR: return FUTEX_RESULT_INTERRUPTED;
    default: return -errno;
  }
}

long futex_wake_addr(int32_t* addr, int count) {
  long rc = syscall(SYS_futex, addr, FUTEX_WAKE, count, NULL, NULL, 0);
  return rc < 0 ? -errno : rc;
}

/* Spins (reading the word, CPU_RELAX between reads) for up to spin_ns. Returns 1 if the word
 * stopped holding `expected`. */
static int spin_until_changed(int32_t* addr, int32_t expected, double spin_ns) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    for (int i = 0; i < 64; i++) {
      if (__atomic_load_n(addr, __ATOMIC_ACQUIRE) != expected) return 1;
      CPU_RELAX();
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    double elapsed = (double)(now.tv_sec - start.tv_sec) * 1e9 + (double)(now.tv_nsec - start.tv_nsec);
    if (elapsed >= spin_ns) return 0;
  }
}

/* futexWait(buffer, byteOffset, expected, timeoutMs, spinUs): 0 ok | 1 not-equal | 2 timed-out
 * | 3 interrupted. Blocks the calling JS thread: for stage processes whose loop does nothing else. */
static napi_value futex_wait_js(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    util_throw_arg(env, "futexWait(buffer, byteOffset, expected, timeoutMs, spinUs?) needs 4 arguments");
    return NULL;
  }
  int32_t* addr = util_get_int32_ptr(env, argv[0], argv[1]);
  if (!addr) return NULL;
  int64_t expected;
  double timeout_ms, spin_us = 0;
  if (util_get_int64(env, argv[2], &expected, "expected") != 0) return NULL;
  if (util_get_double(env, argv[3], &timeout_ms, "timeoutMs") != 0) return NULL;
  if (argc >= 5 && util_get_double(env, argv[4], &spin_us, "spinUs") != 0) return NULL;
  int32_t want = (int32_t)expected;

  struct timespec deadline;
  futex_deadline(timeout_ms, &deadline);
  if (__atomic_load_n(addr, __ATOMIC_ACQUIRE) != want) return util_make_int(env, FUTEX_RESULT_NOT_EQUAL);
  if (spin_us > 0) {
    double spin_ns = spin_us * 1e3;
    if (timeout_ms >= 0 && isfinite(timeout_ms) && spin_ns > timeout_ms * 1e6) spin_ns = timeout_ms * 1e6;
    if (spin_until_changed(addr, want, spin_ns)) return util_make_int(env, FUTEX_RESULT_OK);
    if (deadline_passed(&deadline)) return util_make_int(env, FUTEX_RESULT_TIMED_OUT);
  }
  int rc = futex_wait_until(addr, want, &deadline);
  if (rc < 0) {
    util_throw_errno(env, -rc, "futex(FUTEX_WAIT_BITSET)", NULL);
    return NULL;
  }
  return util_make_int(env, rc);
}

/* futexWake(buffer, byteOffset, count): number of waiters woken (all processes). */
static napi_value futex_wake_js(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    util_throw_arg(env, "futexWake(buffer, byteOffset, count?) needs 2 arguments");
    return NULL;
  }
  int32_t* addr = util_get_int32_ptr(env, argv[0], argv[1]);
  if (!addr) return NULL;
  int64_t count = INT_MAX;
  if (argc >= 3) {
    napi_valuetype t;
    NAPI_CALL(env, napi_typeof(env, argv[2], &t));
    if (t != napi_undefined && util_get_int64(env, argv[2], &count, "count") != 0) return NULL;
  }
  if (count < 1) count = 1;
  if (count > INT_MAX) count = INT_MAX;
  long rc = futex_wake_addr(addr, (int)count);
  if (rc < 0) {
    util_throw_errno(env, (int)-rc, "futex(FUTEX_WAKE)", NULL);
    return NULL;
  }
  return util_make_int(env, rc);
}

void futex_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"futexWait", NULL, futex_wait_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"futexWake", NULL, futex_wake_js, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
