#ifndef ASYNCDIFF_SHM_FUTEX_H
#define ASYNCDIFF_SHM_FUTEX_H
#include <time.h>

#include "util.h"

/* Results shared with the TypeScript side (keep in sync with src/native.ts). */
enum {
  FUTEX_RESULT_OK = 0,          /* woken (or the word changed while spinning) */
  FUTEX_RESULT_NOT_EQUAL = 1,   /* the word did not hold `expected` when the wait began */
  FUTEX_RESULT_TIMED_OUT = 2,
  FUTEX_RESULT_INTERRUPTED = 3, /* a signal arrived: return to the event loop so JS handlers run */
  FUTEX_RESULT_CANCELED = 4     /* async waits only */
};

/* Absolute CLOCK_MONOTONIC deadline `ms` from now; ms < 0 or non-finite means "far future"
 * (a finite deadline keeps the kernel from transparently restarting the wait after a signal). */
void futex_deadline(double ms, struct timespec* out);

/* One shared (cross-process) FUTEX_WAIT_BITSET until `deadline`; EINTR -> INTERRUPTED. */
int futex_wait_until(int32_t* addr, int32_t expected, const struct timespec* deadline);

/* Shared FUTEX_WAKE; returns the number of waiters woken or -errno. */
long futex_wake_addr(int32_t* addr, int count);

void futex_register(napi_env env, napi_value exports);
#endif
