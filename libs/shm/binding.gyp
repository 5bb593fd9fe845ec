{
  "targets": [
    {
      "target_name": "asyncdiff_shm",
      "sources": [
        "native/shm.c",
        "native/util.c",
        "native/segment.c",
        "native/futex.c",
        "native/wait_async.c",
        "native/affinity.c",
        "native/lockfile.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "libraries": ["-lrt", "-lpthread"]
    }
  ]
}
