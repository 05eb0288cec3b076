// net_floor: the paced acks=all floor with the requests (issue 17). What a
// perfect broker behind a TCP socket gets for `make bench`'s paced row on
// this VM: requests of BYTES arrive at RATE per second over loopback TCP, are
// written to one file and fdatasynced, and each is answered with one byte at
// the end of the sync that covered it. No protocol, no CRC, no offsets:
// bench/disk_floor.py --request-bytes is the same without the socket.
//
//   serial   one thread reads what has arrived, writes it, and when a
//            request is whole fdatasyncs and answers; nothing is read while
//            a sync runs (the fewest wake-ups a request can cost).
//   handoff  a reader thread writes each request as it arrives and wakes a
//            sync thread (condition variable), which fdatasyncs what was
//            written before it began and wakes the reader back (eventfd in
//            its epoll set), which answers: the shape of runnel's shard
//            thread and flusher thread.
//
// The client is a forked process: a sender thread sends request i at
// start + i / RATE (at most WINDOW unanswered, as runnel-bench blast
// --window) and a reader thread times each answer from that scheduled send.
// Build and run (`make bench` does, after its paced row):
//   cc -O2 -Wall -o /tmp/net_floor bench/net_floor.c -lpthread
//   /tmp/net_floor DIR SECONDS RATE BYTES WINDOW serial|handoff [JSON_FILE]
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "floor_util.h"

static double g_seconds, g_rate;
static size_t g_bytes;
static int g_window;

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double pick(const double* v, long n, double q) {
  long i = (long)(n * q);
  return n == 0 ? 0 : v[i >= n ? n - 1 : i];
}

// ------------------------------------------------------------------ client

typedef struct {
  int fd;
  long count;
  double start;
  double* sent_at;  // scheduled send time per request
  double* latency;  // per request, seconds
  pthread_mutex_t mu;
  pthread_cond_t cv;
  long sent, answered;
} Client;

static void* client_reader(void* arg) {
  Client* c = arg;
  char buf[4096];
  while (c->answered < c->count) {
    ssize_t r = recv(c->fd, buf, sizeof buf, 0);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      break;
    }
    double end = now_s();
    pthread_mutex_lock(&c->mu);
    for (ssize_t i = 0; i < r && c->answered < c->count; i++, c->answered++)
      c->latency[c->answered] = end - c->sent_at[c->answered];
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
  }
  return NULL;
}

static void run_client(int port, const char* mode, const char* json) {
  Client c = {.count = (long)(g_seconds * g_rate)};
  c.fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(c.fd, (struct sockaddr*)&a, sizeof a) != 0) die("connect");
  int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c.sent_at = calloc(c.count, sizeof(double));
  c.latency = calloc(c.count, sizeof(double));
  char* payload = malloc(g_bytes);
  memset(payload, 'r', g_bytes);
  pthread_mutex_init(&c.mu, NULL);
  pthread_cond_init(&c.cv, NULL);
  pthread_t reader;
  pthread_create(&reader, NULL, client_reader, &c);
  c.start = now_s() + 0.05;
  for (long i = 0; i < c.count; i++) {
    double due = c.start + (double)i / g_rate;
    struct timespec t = {(time_t)due, (long)((due - (time_t)due) * 1e9)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {
    }
    pthread_mutex_lock(&c.mu);
    while (i - c.answered >= g_window) pthread_cond_wait(&c.cv, &c.mu);
    c.sent_at[i] = due;
    pthread_mutex_unlock(&c.mu);
    send_all(c.fd, payload, g_bytes);
  }
  pthread_join(reader, NULL);
  close(c.fd);
  long n = c.answered;
  qsort(c.latency, n, sizeof(double), cmp_double);
  double p50 = 1e3 * pick(c.latency, n, 0.5), p99 = 1e3 * pick(c.latency, n, 0.99),
         p999 = 1e3 * pick(c.latency, n, 0.999), max = n ? 1e3 * c.latency[n - 1] : 0;
  printf(
      "net floor (%s): %ld requests of %zu bytes at %.0f/s over loopback TCP; scheduled send -> answer "
      "p50 %.3f, p99 %.3f, p99.9 %.3f, max %.1f ms\n",
      mode, n, g_bytes, g_rate, p50, p99, p999, max);
  if (json) {
    FILE* f = fopen(json, "w");
    if (!f) die("open json");
    fprintf(f,
            "{\"mode\": \"%s\", \"requests\": %ld, \"request_bytes\": %zu, \"rate\": %.1f, \"window\": %d, "
            "\"floor_p50_ms\": %.3f, \"floor_p99_ms\": %.3f, \"floor_p999_ms\": %.3f, \"floor_max_ms\": %.3f}\n",
            mode, n, g_bytes, g_rate, g_window, p50, p99, p999, max);
    fclose(f);
  }
}

// ------------------------------------------------------------------ server

static int g_file;
static double* g_sync_s;
static long g_syncs, g_sync_cap;

static void timed_fdatasync(void) {
  double t = now_s();
  if (fdatasync(g_file) != 0) die("fdatasync");
  if (g_syncs < g_sync_cap) g_sync_s[g_syncs] = now_s() - t;
  g_syncs++;
}

static void write_all(const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(g_file, p, n);
    if (w < 0) die("write");
    p += w;
    n -= (size_t)w;
  }
}

static char g_rbuf[1 << 20];
static char g_answers[1 << 16];

static void serve_serial(int conn) {
  size_t received = 0;
  long answered = 0;
  for (;;) {
    ssize_t r = recv(conn, g_rbuf, sizeof g_rbuf, 0);
    if (r == 0) return;
    if (r < 0) {
      if (errno == EINTR) continue;
      die("recv");
    }
    write_all(g_rbuf, (size_t)r);
    received += (size_t)r;
    long whole = (long)(received / g_bytes);
    if (whole > answered) {
      timed_fdatasync();
      send_all(conn, g_answers, (size_t)(whole - answered));
      answered = whole;
    }
  }
}

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  long written, durable;  // whole requests
  int done, wake;
} Handoff;

static void* syncer(void* arg) {
  Handoff* h = arg;
  pthread_mutex_lock(&h->mu);
  for (;;) {
    while (h->written == h->durable && !h->done) pthread_cond_wait(&h->cv, &h->mu);
    if (h->done) break;
    long target = h->written;
    pthread_mutex_unlock(&h->mu);
    timed_fdatasync();
    pthread_mutex_lock(&h->mu);
    h->durable = target;
    uint64_t one = 1;
    if (write(h->wake, &one, sizeof one) != sizeof one) die("eventfd write");
  }
  pthread_mutex_unlock(&h->mu);
  return NULL;
}

static void serve_handoff(int conn) {
  Handoff h = {.wake = eventfd(0, EFD_NONBLOCK)};
  pthread_mutex_init(&h.mu, NULL);
  pthread_cond_init(&h.cv, NULL);
  int ep = epoll_create1(0);
  struct epoll_event e = {.events = EPOLLIN, .data.fd = conn};
  epoll_ctl(ep, EPOLL_CTL_ADD, conn, &e);
  e.data.fd = h.wake;
  epoll_ctl(ep, EPOLL_CTL_ADD, h.wake, &e);
  pthread_t t;
  pthread_create(&t, NULL, syncer, &h);
  size_t received = 0;
  long answered = 0;
  int open = 1;
  while (open) {
    struct epoll_event ev[2];
    int n = epoll_wait(ep, ev, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      if (ev[i].data.fd == h.wake) {
        uint64_t v;
        if (read(h.wake, &v, sizeof v) < 0 && errno != EAGAIN) die("eventfd read");
        pthread_mutex_lock(&h.mu);
        long durable = h.durable;
        pthread_mutex_unlock(&h.mu);
        if (durable > answered) {
          send_all(conn, g_answers, (size_t)(durable - answered));
          answered = durable;
        }
      } else {
        ssize_t r = recv(conn, g_rbuf, sizeof g_rbuf, 0);
        if (r == 0) {
          open = 0;
          break;
        }
        if (r < 0) {
          if (errno == EINTR) continue;
          die("recv");
        }
        write_all(g_rbuf, (size_t)r);
        received += (size_t)r;
        pthread_mutex_lock(&h.mu);
        if ((long)(received / g_bytes) > h.written) {
          h.written = (long)(received / g_bytes);
          pthread_cond_signal(&h.cv);
        }
        pthread_mutex_unlock(&h.mu);
      }
    }
  }
  pthread_mutex_lock(&h.mu);
  h.done = 1;
  pthread_cond_signal(&h.cv);
  pthread_mutex_unlock(&h.mu);
  pthread_join(t, NULL);
  close(ep);
  close(h.wake);
}

int main(int argc, char** argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: net_floor DIR SECONDS RATE BYTES WINDOW serial|handoff [JSON_FILE]\n");
    return 2;
  }
  g_seconds = atof(argv[2]);
  g_rate = atof(argv[3]);
  g_bytes = (size_t)atol(argv[4]);
  g_window = atoi(argv[5]);
  const char* mode = argv[6];
  int handoff = strcmp(mode, "handoff") == 0;
  if (!handoff && strcmp(mode, "serial") != 0) return 2;
  if (g_seconds <= 0 || g_rate <= 0 || g_bytes == 0 || g_window <= 0) return 2;
  memset(g_answers, 'a', sizeof g_answers);

  char path[4096];
  snprintf(path, sizeof path, "%s/runnel-net-floor-%d", argv[1], (int)getpid());
  g_file = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (g_file < 0) die("open");
  g_sync_cap = (long)(g_seconds * g_rate) + 16;
  g_sync_s = calloc(g_sync_cap, sizeof(double));

  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (bind(lfd, (struct sockaddr*)&a, sizeof a) != 0 || listen(lfd, 1) != 0) die("listen");
  getsockname(lfd, (struct sockaddr*)&a, &len);
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(lfd);
    run_client(ntohs(a.sin_port), mode, argc > 7 ? argv[7] : NULL);
    fflush(stdout);
    _exit(0);
  }
  int conn = accept(lfd, NULL, NULL);
  if (conn < 0) die("accept");
  int one = 1;
  setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (handoff)
    serve_handoff(conn);
  else
    serve_serial(conn);
  close(conn);
  close(lfd);
  int status = 0;
  waitpid(child, &status, 0);
  close(g_file);
  unlink(path);
  long n = g_syncs < g_sync_cap ? g_syncs : g_sync_cap;
  qsort(g_sync_s, n, sizeof(double), cmp_double);
  printf("net floor (%s): %ld fdatasyncs, p50 %.3f, p99 %.3f ms\n", mode, g_syncs, 1e3 * pick(g_sync_s, n, 0.5),
         1e3 * pick(g_sync_s, n, 0.99));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
