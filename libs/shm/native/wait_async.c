/* Futex waits that resolve a Promise instead of blocking the JS thread.
 *
 * libuv's threadpool is the wrong home for waits that may last seconds (four threads shared with
 * fs and dns), so each pending wait gets a dedicated helper thread from a small pool owned by this
 * addon; idle helpers park on a condition variable and are reused. A helper wakes the JS thread
 * through one threadsafe function (uv_async under the hood). Helpers block every signal, so
 * signals keep landing on the JS thread, and they wait in bounded slices so that cancellation and
 * shutdown never hang on a futex whose mapping is already gone. */
#include "wait_async.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "futex.h"

#define MAX_HELPERS 256
#define SLICE_MS 200.0

typedef struct wait_req {
  int32_t* addr;
  int32_t expected;
  struct timespec deadline;
  napi_deferred deferred;
  int result;
  int canceled; /* atomic */
  uint32_t id;
  struct wait_req* qnext;                /* queue of not-yet-started waits */
  struct wait_req *all_next, *all_prev;  /* every outstanding wait, for cancel / shutdown */
} wait_req;

typedef struct pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  wait_req *qhead, *qtail;
  int qlen; /* waits queued but not yet picked up by a helper */
  wait_req* all;
  int nthreads, idle, shutdown;
  pthread_t threads[MAX_HELPERS];
  napi_threadsafe_function tsfn;
  int pending; /* JS thread only */
  uint32_t next_id;
} pool;

static void all_remove(pool* p, wait_req* r) {
  if (r->all_prev) r->all_prev->all_next = r->all_next; else if (p->all == r) p->all = r->all_next;
  if (r->all_next) r->all_next->all_prev = r->all_prev;
  r->all_next = r->all_prev = NULL;
}

static int past(const struct timespec* t) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static int run_wait(wait_req* r) {
  for (;;) {
    if (__atomic_load_n(&r->canceled, __ATOMIC_ACQUIRE)) return FUTEX_RESULT_CANCELED;
    struct timespec slice;
    futex_deadline(SLICE_MS, &slice);
    int last_slice = 0;
    if (r->deadline.tv_sec < slice.tv_sec ||
        (r->deadline.tv_sec == slice.tv_sec && r->deadline.tv_nsec <= slice.tv_nsec)) {
      slice = r->deadline;
      last_slice = 1;
    }
    int rc = futex_wait_until(r->addr, r->expected, &slice);
    if (__atomic_load_n(&r->canceled, __ATOMIC_ACQUIRE)) return FUTEX_RESULT_CANCELED;
    if (rc == FUTEX_RESULT_INTERRUPTED) continue;
    if (rc == FUTEX_RESULT_TIMED_OUT) {
      if (last_slice || past(&r->deadline)) return FUTEX_RESULT_TIMED_OUT;
      continue;
    }
    return rc; /* ok, not-equal or -errno */
  }
}

static void* helper_main(void* arg) {
  pool* p = (pool*)arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->shutdown && !p->qhead) {
      p->idle++;
      pthread_cond_wait(&p->cv, &p->mu);
      p->idle--;
    }
    if (p->shutdown && !p->qhead) break;
    wait_req* r = p->qhead;
    p->qhead = r->qnext;
    if (!p->qhead) p->qtail = NULL;
    p->qlen--;
    pthread_mutex_unlock(&p->mu);

    r->result = run_wait(r);
    if (napi_call_threadsafe_function(p->tsfn, r, napi_tsfn_nonblocking) != napi_ok) {
      /* Torn down: nobody will resolve this promise any more. */
      pthread_mutex_lock(&p->mu);
      all_remove(p, r);
      pthread_mutex_unlock(&p->mu);
      free(r);
    }
    pthread_mutex_lock(&p->mu);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

static napi_value make_error(napi_env env, int err) {
  napi_value code, msg, error = NULL;
  const char* name = strerrorname_np(err);
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  return error;
}

/* Runs on the JS thread (env != NULL), or at teardown with env == NULL just to free. */
static void deliver(napi_env env, napi_value js_cb, void* context, void* data) {
  (void)js_cb;
  pool* p = (pool*)context;
  wait_req* r = (wait_req*)data;
  pthread_mutex_lock(&p->mu);
  all_remove(p, r);
  pthread_mutex_unlock(&p->mu);
  if (env != NULL) {
    if (r->result >= 0) {
      napi_resolve_deferred(env, r->deferred, util_make_int(env, r->result));
    } else {
      napi_reject_deferred(env, r->deferred, make_error(env, -r->result));
    }
    if (--p->pending == 0) napi_unref_threadsafe_function(env, p->tsfn);
  }
  free(r);
}

/* Called when the environment is torn down (process exit, worker termination): stop helpers
 * before the threadsafe function is deleted under them. */
static void pool_finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  pool* p = (pool*)data;
  pthread_mutex_lock(&p->mu);
  p->shutdown = 1;
  for (wait_req* r = p->all; r; r = r->all_next) {
    __atomic_store_n(&r->canceled, 1, __ATOMIC_RELEASE);
    futex_wake_addr(r->addr, INT32_MAX);
  }
  pthread_cond_broadcast(&p->cv);
  int n = p->nthreads;
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < n; i++) pthread_join(p->threads[i], NULL);
}

static pool* get_pool(napi_env env) {
  pool* p = NULL;
  if (napi_get_instance_data(env, (void**)&p) == napi_ok && p) return p;
  p = calloc(1, sizeof *p);
  if (!p) return NULL;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  napi_value name;
  napi_create_string_utf8(env, "asyncdiff-shm-futex-wait", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, p, pool_finalize, p, deliver,
                                      &p->tsfn) != napi_ok) {
    free(p);
    return NULL;
  }
  napi_unref_threadsafe_function(env, p->tsfn);
  napi_set_instance_data(env, p, NULL, NULL);
  return p;
}

/* Caller holds p->mu. */
static int spawn_helper(pool* p) {
  if (p->nthreads >= MAX_HELPERS) return EAGAIN;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&p->threads[p->nthreads], &attr, helper_main, p);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc == 0) p->nthreads++;
  return rc;
}

/* futexWaitAsync(buffer, byteOffset, expected, timeoutMs): { id, promise } — the promise
 * resolves to 0 ok | 1 not-equal | 2 timed-out | 4 canceled. */
static napi_value wait_async_js(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    util_throw_arg(env, "futexWaitAsync(buffer, byteOffset, expected, timeoutMs) needs 4 arguments");
    return NULL;
  }
  int32_t* addr = util_get_int32_ptr(env, argv[0], argv[1]);
  if (!addr) return NULL;
  int64_t expected;
  double timeout_ms;
  if (util_get_int64(env, argv[2], &expected, "expected") != 0) return NULL;
  if (util_get_double(env, argv[3], &timeout_ms, "timeoutMs") != 0) return NULL;
  pool* p = get_pool(env);
  if (!p) {
    util_throw_errno(env, ENOMEM, "futexWaitAsync", "helper pool");
    return NULL;
  }
  napi_value promise, result, id_v;
  napi_deferred deferred;
  NAPI_CALL(env, napi_create_promise(env, &deferred, &promise));
  uint32_t id = ++p->next_id;
  if (__atomic_load_n(addr, __ATOMIC_ACQUIRE) != (int32_t)expected) {
    napi_resolve_deferred(env, deferred, util_make_int(env, FUTEX_RESULT_NOT_EQUAL));
  } else {
    wait_req* r = calloc(1, sizeof *r);
    if (!r) {
      util_throw_errno(env, ENOMEM, "futexWaitAsync", NULL);
      return NULL;
    }
    r->addr = addr;
    r->expected = (int32_t)expected;
    r->deferred = deferred;
    r->id = id;
    futex_deadline(timeout_ms, &r->deadline);
    pthread_mutex_lock(&p->mu);
    /* Every queued wait needs its own helper: a parked one, or a new one. */
    if (p->idle <= p->qlen) {
      int rc = spawn_helper(p);
      if (rc != 0) {
        pthread_mutex_unlock(&p->mu);
        free(r);
        util_throw_errno(env, rc, "pthread_create", "futexWaitAsync helper (too many pending waits?)");
        return NULL;
      }
    }
    if (p->qtail) p->qtail->qnext = r; else p->qhead = r;
    p->qtail = r;
    p->qlen++;
    r->all_next = p->all;
    if (p->all) p->all->all_prev = r;
    p->all = r;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (p->pending++ == 0) napi_ref_threadsafe_function(env, p->tsfn);
  }
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_create_uint32(env, id, &id_v));
  NAPI_CALL(env, napi_set_named_property(env, result, "id", id_v));
  NAPI_CALL(env, napi_set_named_property(env, result, "promise", promise));
  return result;
}

/* futexWaitAsyncCancel(id): boolean — resolves that wait with 4 (canceled) soon. Wakes every
 * waiter on the same word (other processes see a spurious wake-up, which callers tolerate). */
static napi_value wait_async_cancel_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t id;
  if (argc < 1 || util_get_int64(env, argv[0], &id, "id") != 0) {
    if (argc < 1) util_throw_arg(env, "futexWaitAsyncCancel(id) needs an id");
    return NULL;
  }
  pool* p = NULL;
  bool found = false;
  if (napi_get_instance_data(env, (void**)&p) == napi_ok && p) {
    pthread_mutex_lock(&p->mu);
    for (wait_req* r = p->all; r; r = r->all_next) {
      if (r->id == (uint32_t)id) {
        __atomic_store_n(&r->canceled, 1, __ATOMIC_RELEASE);
        futex_wake_addr(r->addr, INT32_MAX);
        found = true;
        break;
      }
    }
    pthread_mutex_unlock(&p->mu);
  }
  napi_value v;
  NAPI_CALL(env, napi_get_boolean(env, found, &v));
  return v;
}

void wait_async_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"futexWaitAsync", NULL, wait_async_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"futexWaitAsyncCancel", NULL, wait_async_cancel_js, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
