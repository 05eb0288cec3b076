// Issue 17's spike, the io_uring option: can one io_uring replace the
// flusher's threads for a log's appends + fdatasync?
//
//   apt-get install liburing-dev   (not needed by runnel itself)
//   cc -O2 -o /tmp/io_uring_probe bench/io_uring_probe.c -luring -lpthread
//   /tmp/io_uring_probe DIR [FILES=16] [WRITE_KIB=1024] [SECONDS=6]
//
// No broker. FILES files, each appended WRITE_KIB at a time and made durable
// after every write, for SECONDS, two ways:
//   threads: one thread per file, pwrite + fdatasync (runnel's flusher: a
//            thread blocks in each fdatasync);
//   uring:   one thread and one ring; per file a linked write + fdatasync,
//            resubmitted as soon as its fdatasync completes (io_uring runs
//            the blocking fdatasync in its own worker threads).
// Prints MB/s, the process's CPU per MB (user + system, its io_uring workers
// included) and its context switches per write+sync. Not in `make bench`.
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char* dir;
static int files = 16;
static size_t write_bytes = 1 << 20;
static double seconds = 6;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int open_file(const char* mode, int i) {
  char path[4096];
  snprintf(path, sizeof path, "%s/uring-probe-%d-%s-%d", dir, getpid(), mode, i);
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0) perror("open"), exit(1);
  unlink(path);  // gone when closed
  return fd;
}

struct usage {
  double cpu_s;
  long switches;
};

static struct usage usage_now(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  struct usage u = {r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6,
                    r.ru_nvcsw + r.ru_nivcsw};
  return u;
}

struct worker {
  int fd;
  char* buf;
  double stop_at;
  long writes;
};

static void* thread_loop(void* arg) {
  struct worker* w = arg;
  off_t pos = 0;
  while (now() < w->stop_at) {
    if (pwrite(w->fd, w->buf, write_bytes, pos) != (ssize_t)write_bytes) perror("pwrite"), exit(1);
    if (fdatasync(w->fd) != 0) perror("fdatasync"), exit(1);
    pos += write_bytes;
    w->writes++;
  }
  return NULL;
}

static long run_threads(char* buf) {
  pthread_t t[files];
  struct worker w[files];
  double stop_at = now() + seconds;
  for (int i = 0; i < files; i++) {
    w[i] = (struct worker){open_file("t", i), buf, stop_at, 0};
    pthread_create(&t[i], NULL, thread_loop, &w[i]);
  }
  long writes = 0;
  for (int i = 0; i < files; i++) {
    pthread_join(t[i], NULL);
    writes += w[i].writes;
    close(w[i].fd);
  }
  return writes;
}

static void submit_pair(struct io_uring* ring, int fd, int i, char* buf, off_t pos) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(ring);
  io_uring_prep_write(sqe, fd, buf, write_bytes, pos);
  sqe->flags |= IOSQE_IO_LINK;
  io_uring_sqe_set_data64(sqe, 0);  // the write: nothing to do on completion
  sqe = io_uring_get_sqe(ring);
  io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
  io_uring_sqe_set_data64(sqe, (uint64_t)i + 1);
}

static long run_uring(char* buf) {
  struct io_uring ring;
  if (io_uring_queue_init(2 * files + 8, &ring, 0) != 0) perror("io_uring_queue_init"), exit(1);
  int fd[files];
  off_t pos[files];
  for (int i = 0; i < files; i++) {
    fd[i] = open_file("u", i);
    pos[i] = 0;
    submit_pair(&ring, fd[i], i, buf, 0);
  }
  io_uring_submit(&ring);
  double stop_at = now() + seconds;
  long writes = 0;
  int in_flight = files;
  while (in_flight > 0) {
    struct io_uring_cqe* cqe;
    if (io_uring_wait_cqe(&ring, &cqe) != 0) perror("io_uring_wait_cqe"), exit(1);
    uint64_t tag = io_uring_cqe_get_data64(cqe);
    if (cqe->res < 0) fprintf(stderr, "io_uring: %s\n", strerror(-cqe->res)), exit(1);
    io_uring_cqe_seen(&ring, cqe);
    if (tag == 0) continue;  // a write; its fdatasync follows
    int i = (int)tag - 1;
    writes++;
    pos[i] += write_bytes;
    if (now() < stop_at) {
      submit_pair(&ring, fd[i], i, buf, pos[i]);
      io_uring_submit(&ring);
    } else {
      in_flight--;
    }
  }
  for (int i = 0; i < files; i++) close(fd[i]);
  io_uring_queue_exit(&ring);
  return writes;
}

int main(int argc, char** argv) {
  if (argc < 2) return fprintf(stderr, "usage: %s DIR [FILES] [WRITE_KIB] [SECONDS]\n", argv[0]), 2;
  dir = argv[1];
  if (argc > 2) files = atoi(argv[2]);
  if (argc > 3) write_bytes = (size_t)atoi(argv[3]) * 1024;
  if (argc > 4) seconds = atof(argv[4]);
  char* buf = aligned_alloc(4096, write_bytes);
  memset(buf, 'x', write_bytes);
  for (int round = 1; round <= 2; round++) {
    for (int m = 0; m < 2; m++) {
      struct usage u0 = usage_now();
      double t0 = now();
      long writes = m == 0 ? run_threads(buf) : run_uring(buf);
      double elapsed = now() - t0;
      struct usage u1 = usage_now();
      double mb = writes * (double)write_bytes / 1e6;
      printf("round %d  %-8s %2d files x %5zu KiB  %7.0f MB/s  %6.0f writes/s  cpu %6.0f us/MB  %5.2f switches/write\n",
             round, m == 0 ? "threads" : "uring", files, write_bytes / 1024, mb / elapsed, writes / elapsed,
             (u1.cpu_s - u0.cpu_s) * 1e6 / mb, (double)(u1.switches - u0.switches) / writes);
      fflush(stdout);
    }
  }
  return 0;
}
