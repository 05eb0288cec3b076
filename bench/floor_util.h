// Helpers the perfect-broker tools share (bench/txn_floor.c, bench/net_floor.c):
// each is one C file built alone with `cc`, so they are static and header-only.
// Single-threaded use or thread-safe as noted; die() ends the process.
#ifndef RUNNEL_BENCH_FLOOR_UTIL_H
#define RUNNEL_BENCH_FLOOR_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

// Seconds on the monotonic clock.
static inline double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

// Prints "PROGRAM: WHAT: strerror(errno)" and exits 1.
static inline void die(const char* what) {
  extern char* program_invocation_short_name;
  fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, strerror(errno));
  exit(1);
}

// Sends all `n` bytes (retrying after EINTR and short sends), or dies.
static inline void send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("send");
    }
    p += w;
    n -= (size_t)w;
  }
}

#endif
