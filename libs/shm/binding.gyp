{
  "targets": [
    {
      "target_name": "asyncdiff_shm",
      "sources": ["native/shm.c"],
      "cflags": ["-O2", "-Wall"],
      "libraries": ["-lrt"]
    }
  ]
}
