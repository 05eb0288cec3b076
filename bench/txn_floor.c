// txn_floor: what this disk and kernel allow transactions of 100 records,
// against plain acks=all batches of the same 100 records, for a perfect
// broker (issue 12). No network, no protocol, no broker: threads that append
// to files and wait for group-committed fdatasyncs, nothing else.
//
// A perfect broker here keeps one log per partition; a thread that needs its
// append durable either finds a sync in flight and waits for the next one, or
// runs the fdatasync itself (group commit with no hand-off to another thread,
// the fewest thread switches a sync can cost), and every sync covers all that
// was appended before it began.
//
//   plain  WINDOW threads, each appending one batch (BATCH bytes) to the data
//          log and waiting for it to be durable, again and again: a producer
//          with WINDOW requests in flight (runnel-bench blast --window).
//   txn    PRODUCERS threads, each a transactional producer whose id maps to
//          one of TXNLOG_PARTITIONS logs (Java's String.hashCode of
//          "txn-floor-<pid>-<i>", as Kafka maps a transactional id), running
//          what a transaction must make durable, in order: its Ongoing
//          record (AddPartitionsToTxn), its batch on the data log (Produce),
//          its PrepareCommit (EndTxn), its marker on the data log (before
//          the next AddPartitionsToTxn), then the CompleteCommit appended
//          without a wait.
//
// TXN_FLOOR_SKIP=ongoing,marker drops those waits (see g_wait_ongoing);
// TXN_FLOOR_HANDOFF=1 syncs on a thread per file instead (see g_handoff);
// TXN_FLOOR_NET=1 adds the requests a Kafka client must send (see g_net).
// Build and run (`make bench` builds it so and runs it at 16 and 64 producers,
// without and with TXN_FLOOR_NET=1):
//   cc -O2 -Wall -o /tmp/txn_floor bench/txn_floor.c -lpthread
//   /tmp/txn_floor DIR [SECONDS=8] [PRODUCERS=16] [TXNLOG_PARTITIONS=50] [WINDOW=8] [BATCH=10961] [JSON_FILE]
// BATCH 10961: a v2 batch of 100 records of 100 B with no key (61 + 100 × 109).
// Prints each mode's rate, fdatasyncs per unit and CPU per unit, then the
// ratio issue 12 asks about (transactions × 100 records / plain records).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "floor_util.h"

typedef struct {
  int fd;
  pthread_mutex_t mu;
  pthread_cond_t cv;    // a sync completed
  pthread_cond_t work;  // hand-off mode: something waits for the syncer
  uint64_t appended;    // bytes written
  uint64_t durable;     // bytes covered by a completed fdatasync
  int syncing;
  uint64_t syncs;
} Log;

static char g_buf[1 << 20];
static atomic_int g_stop;
static atomic_ullong g_units;

static double cpu_s(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
         (double)u.ru_stime.tv_usec / 1e6;
}

static void log_open(Log* log, const char* dir, const char* name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  log->fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (log->fd < 0) die(path);
  unlink(path);  // gone at exit, whatever happens
  pthread_mutex_init(&log->mu, NULL);
  pthread_cond_init(&log->cv, NULL);
  pthread_cond_init(&log->work, NULL);
  log->appended = log->durable = 0;
  log->syncing = 0;
  log->syncs = 0;
}

// Appends `bytes` and returns the offset that must be durable to cover it.
static uint64_t log_append(Log* log, size_t bytes) {
  pthread_mutex_lock(&log->mu);
  if (pwrite(log->fd, g_buf, bytes, (off_t)log->appended) != (ssize_t)bytes) die("pwrite");
  log->appended += bytes;
  uint64_t end = log->appended;
  pthread_mutex_unlock(&log->mu);
  return end;
}

// One sync of everything appended so far, called and returning with mu held.
static void log_sync_locked(Log* log) {
  uint64_t target = log->appended;
  pthread_mutex_unlock(&log->mu);
  if (fdatasync(log->fd) != 0) die("fdatasync");
  pthread_mutex_lock(&log->mu);
  log->durable = target;
  log->syncs++;
  pthread_cond_broadcast(&log->cv);
}

// TXN_FLOOR_HANDOFF=1: every log has a syncer thread of its own and a
// waiting thread never syncs (the hand-off a broker with an event loop makes:
// a wake-up to the syncing thread and one back per sync).
static int g_handoff = 0;
static atomic_int g_syncers_stop;

static void* syncer_thread(void* arg) {
  Log* log = arg;
  pthread_mutex_lock(&log->mu);
  while (!atomic_load(&g_syncers_stop)) {
    if (log->durable >= log->appended)
      pthread_cond_wait(&log->work, &log->mu);
    else
      log_sync_locked(log);
  }
  pthread_mutex_unlock(&log->mu);
  return NULL;
}

// Returns once a sync covering `end` has completed, running it if none is
// in flight.
static void log_wait_durable(Log* log, uint64_t end) {
  pthread_mutex_lock(&log->mu);
  if (g_handoff) {
    pthread_cond_signal(&log->work);  // wakes the syncer if it sleeps
    while (log->durable < end) pthread_cond_wait(&log->cv, &log->mu);
    pthread_mutex_unlock(&log->mu);
    return;
  }
  while (log->durable < end) {
    if (log->syncing) {
      pthread_cond_wait(&log->cv, &log->mu);
      continue;
    }
    log->syncing = 1;
    log_sync_locked(log);
    log->syncing = 0;
  }
  pthread_mutex_unlock(&log->mu);
}

static Log g_data;
static Log* g_txnlogs;
static size_t g_batch = 10961;

// TXN_FLOOR_NET=1: the requests too. Each thread below becomes a broker
// thread serving one loopback TCP connection (blocking: no event loop, no
// hand-off), and one client thread drives every connection from an epoll
// loop, as runnel-bench does: plain, a Produce of the batch per request;
// txn, the three requests a Kafka producer sends per transaction
// (AddPartitionsToTxn, Produce, EndTxn), each answered once what it makes
// durable is durable, with Kafka's request and response sizes for one
// partition. What a broker cannot avoid on top of the disk: the client's
// sends and reads and the kernel's TCP work for both sides, on the same
// two cores (client and broker CPU are both counted).
static int g_net = 0;
enum {
  kAddRequest = 84,
  kAddResponse = 33,
  kProduceOverhead = 90,
  kProduceResponse = 62,
  kEndRequest = 64,
  kEndResponse = 14
};

static void send_frame(int fd, size_t bytes) {
  // A size prefix and `bytes` of body, in one send.
  static __thread char* frame;
  if (!frame && !(frame = malloc(sizeof g_buf + 4))) die("malloc");
  frame[0] = (char)(bytes >> 24), frame[1] = (char)(bytes >> 16), frame[2] = (char)(bytes >> 8), frame[3] = (char)bytes;
  memcpy(frame + 4, g_buf, bytes);
  send_all(fd, frame, bytes + 4);
}

static int recv_exact(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r, n -= (size_t)r;
  }
  return 0;
}

// One frame's body length, its body read and dropped; -1 once the peer closed.
static long recv_frame(int fd) {
  static __thread char* body;
  if (!body && !(body = malloc(sizeof g_buf))) die("malloc");
  unsigned char size[4];
  if (recv_exact(fd, (char*)size, 4) != 0) return -1;
  size_t n = (size_t)size[0] << 24 | (size_t)size[1] << 16 | (size_t)size[2] << 8 | size[3];
  if (n > sizeof g_buf || recv_exact(fd, body, n) != 0) return -1;
  return (long)n;
}

// A thread of the floor: with TXN_FLOOR_NET=1 a broker thread serving one
// connection (fd), otherwise a producer that needs no requests (fd -1).
typedef struct {
  int fd;       // the broker's end of the connection, or -1
  Log* txnlog;  // txn: the producer's transaction-log partition
} Worker;

// Whether there is a request to serve: with a connection, the next one the
// client sent (none once it closed the connection); without, one at once,
// except at the start of a unit once the run is over.
static int take_request(const Worker* w, int starts_unit) {
  if (w->fd < 0) return !starts_unit || !atomic_load(&g_stop);
  return recv_frame(w->fd) >= 0;
}

// Answers the request (nothing to answer without a connection).
static void answer(const Worker* w, size_t bytes) {
  if (w->fd >= 0) send_frame(w->fd, bytes);
}

// A batch or transaction done: counted here without a client to count it.
static void completed(const Worker* w) {
  if (w->fd < 0) atomic_fetch_add(&g_units, 1);
}

static void* plain_thread(void* arg) {
  const Worker* w = arg;
  while (take_request(w, 1)) {  // Produce
    log_wait_durable(&g_data, log_append(&g_data, g_batch));
    answer(w, kProduceResponse);
    completed(w);
  }
  return NULL;
}

// Set from TXN_FLOOR_SKIP ("ongoing", "marker" or both): a design that would
// not wait for that record to be durable (each needs a recovery rule runnel
// does not have: a transaction whose Ongoing record was lost would hang on
// its partitions; a marker lost behind a durable CompleteCommit would too).
static int g_wait_ongoing = 1, g_wait_marker = 1;

static void* txn_thread(void* arg) {
  const Worker* w = arg;
  Log* txnlog = w->txnlog;
  while (take_request(w, 1)) {                   // AddPartitionsToTxn
    uint64_t ongoing = log_append(txnlog, 120);  // Ongoing
    if (g_wait_ongoing) log_wait_durable(txnlog, ongoing);
    answer(w, kAddResponse);
    if (!take_request(w, 0)) break;                           // Produce
    log_wait_durable(&g_data, log_append(&g_data, g_batch));  // the batch
    answer(w, kProduceResponse);
    if (!take_request(w, 0)) break;                     // EndTxn
    log_wait_durable(txnlog, log_append(txnlog, 120));  // PrepareCommit
    answer(w, kEndResponse);
    uint64_t marker = log_append(&g_data, 78);  // the marker, before the next AddPartitionsToTxn
    if (g_wait_marker) log_wait_durable(&g_data, marker);
    log_append(txnlog, 120);  // CompleteCommit, no wait
    completed(w);
  }
  return NULL;
}

typedef struct {
  int* fds;  // the client's ends
  int n, txn;
} NetClient;

// Sends each connection's requests in turn until g_stop, then lets the
// exchanges in flight finish and closes every connection.
static void* net_client_thread(void* arg) {
  NetClient* c = arg;
  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  int* step = calloc((size_t)c->n, sizeof(int));
  for (int i = 0; i < c->n; ++i) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fds[i], &ev) != 0) die("epoll_ctl");
    send_frame(c->fds[i], c->txn ? kAddRequest : g_batch + kProduceOverhead);
  }
  int running = c->n;
  struct epoll_event events[64];
  while (running > 0) {
    int n = epoll_wait(ep, events, 64, 1000);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < n; ++e) {
      int i = (int)events[e].data.u32, fd = c->fds[i];
      if (recv_frame(fd) < 0) die("the broker thread closed");
      if (c->txn && step[i] < 2) {
        step[i]++;
        send_frame(fd, step[i] == 1 ? g_batch + kProduceOverhead : kEndRequest);
        continue;
      }
      step[i] = 0;
      atomic_fetch_add(&g_units, 1);
      if (atomic_load(&g_stop)) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
        --running;
        continue;
      }
      send_frame(fd, c->txn ? kAddRequest : g_batch + kProduceOverhead);
    }
  }
  for (int i = 0; i < c->n; ++i) close(c->fds[i]);
  free(step);
  close(ep);
  return NULL;
}

// A connected loopback pair: *client and *broker.
static void tcp_pair(int listener, struct sockaddr_in* at, int* client, int* broker) {
  *client = socket(AF_INET, SOCK_STREAM, 0);
  if (*client < 0 || connect(*client, (struct sockaddr*)at, sizeof *at) != 0) die("connect");
  *broker = accept(listener, NULL, NULL);
  if (*broker < 0) die("accept");
  int one = 1;
  setsockopt(*client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(*broker, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int java_hash_partition(const char* s, int partitions) {
  int32_t h = 0;
  for (const char* p = s; *p; ++p) h = (int32_t)((uint32_t)h * 31u + (uint8_t)*p);
  return (h == INT32_MIN ? 0 : abs(h)) % partitions;  // Kafka's Utils.abs
}

typedef struct {
  double rate, syncs_per_unit, cpu_us_per_unit;
} Result;

static Result run(const char* dir, int txn, int threads, int partitions, double seconds) {
  log_open(&g_data, dir, "txn-floor-data");
  if (txn) {
    g_txnlogs = calloc((size_t)partitions, sizeof(Log));
    for (int p = 0; p < partitions; ++p) {
      char name[64];
      snprintf(name, sizeof name, "txn-floor-state-%d", p);
      log_open(&g_txnlogs[p], dir, name);
    }
  }
  pthread_t* tids = calloc((size_t)threads, sizeof(pthread_t));
  const int logs = 1 + (txn ? partitions : 0);
  pthread_t* syncers = calloc((size_t)logs, sizeof(pthread_t));
  atomic_store(&g_syncers_stop, 0);
  for (int l = 0; g_handoff && l < logs; ++l)
    if (pthread_create(&syncers[l], NULL, syncer_thread, l == 0 ? &g_data : &g_txnlogs[l - 1]) != 0)
      die("pthread_create");
  atomic_store(&g_stop, 0);
  atomic_store(&g_units, 0);
  Worker* workers = calloc((size_t)threads, sizeof(Worker));
  for (int i = 0; i < threads; ++i) workers[i].fd = -1;
  NetClient client = {calloc((size_t)threads, sizeof(int)), threads, txn};
  pthread_t client_tid;
  if (g_net) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof at;
    if (listener < 0 || bind(listener, (struct sockaddr*)&at, sizeof at) != 0 || listen(listener, 1024) != 0 ||
        getsockname(listener, (struct sockaddr*)&at, &len) != 0)
      die("listen");
    for (int i = 0; i < threads; ++i) tcp_pair(listener, &at, &client.fds[i], &workers[i].fd);
    close(listener);
  }
  double cpu0 = cpu_s(), t0 = now_s();
  for (int i = 0; i < threads; ++i) {
    Log* txnlog = NULL;
    if (txn) {
      char id[64];
      snprintf(id, sizeof id, "txn-floor-%d-%d", (int)getpid(), i);
      txnlog = &g_txnlogs[java_hash_partition(id, partitions)];
    }
    workers[i].txnlog = txnlog;
    if (pthread_create(&tids[i], NULL, txn ? txn_thread : plain_thread, &workers[i]) != 0) die("pthread_create");
  }
  if (g_net && pthread_create(&client_tid, NULL, net_client_thread, &client) != 0) die("pthread_create");
  struct timespec pause = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
  nanosleep(&pause, NULL);
  atomic_store(&g_stop, 1);
  if (g_net) pthread_join(client_tid, NULL);  // closes the connections: the broker threads end
  for (int i = 0; i < threads; ++i) pthread_join(tids[i], NULL);
  for (int i = 0; g_net && i < threads; ++i) close(workers[i].fd);
  free(workers);
  free(client.fds);
  atomic_store(&g_syncers_stop, 1);
  for (int l = 0; g_handoff && l < logs; ++l) {
    Log* log = l == 0 ? &g_data : &g_txnlogs[l - 1];
    pthread_mutex_lock(&log->mu);
    pthread_cond_signal(&log->work);
    pthread_mutex_unlock(&log->mu);
    pthread_join(syncers[l], NULL);
  }
  free(syncers);
  double elapsed = now_s() - t0, cpu = cpu_s() - cpu0;
  uint64_t units = atomic_load(&g_units), syncs = g_data.syncs;
  if (txn) {
    for (int p = 0; p < partitions; ++p) {
      syncs += g_txnlogs[p].syncs;
      close(g_txnlogs[p].fd);
    }
    free(g_txnlogs);
  }
  close(g_data.fd);
  free(tids);
  Result r = {(double)units / elapsed, units ? (double)syncs / (double)units : 0,
              units ? cpu * 1e6 / (double)units : 0};
  return r;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr,
            "usage: txn_floor DIR [SECONDS=8] [PRODUCERS=16] [TXNLOG_PARTITIONS=50] [WINDOW=8] [BATCH=10961] "
            "[JSON_FILE]\n");
    return 2;
  }
  const char* dir = argv[1];
  double seconds = argc > 2 ? atof(argv[2]) : 8;
  int producers = argc > 3 ? atoi(argv[3]) : 16;
  int partitions = argc > 4 ? atoi(argv[4]) : 50;
  int window = argc > 5 ? atoi(argv[5]) : 8;
  if (argc > 6) g_batch = (size_t)atol(argv[6]);
  if (seconds <= 0 || producers < 1 || partitions < 1 || window < 1 || g_batch < 1 || g_batch > sizeof g_buf) {
    fprintf(stderr, "txn_floor: bad arguments\n");
    return 2;
  }
  memset(g_buf, 'r', sizeof g_buf);
  const char* skip = getenv("TXN_FLOOR_SKIP");
  if (skip && strstr(skip, "ongoing")) g_wait_ongoing = 0;
  if (skip && strstr(skip, "marker")) g_wait_marker = 0;
  const char* handoff = getenv("TXN_FLOOR_HANDOFF");
  g_handoff = handoff && strcmp(handoff, "1") == 0;
  const char* net = getenv("TXN_FLOOR_NET");
  g_net = net && strcmp(net, "1") == 0;
  Result plain = run(dir, 0, window, partitions, seconds);
  printf("plain%s%s: %d in flight, %zu B batches: %.0f batches/s, %.2f fdatasyncs and %.1f us CPU per batch\n",
         g_handoff ? " (hand-off)" : "", g_net ? " (with requests)" : "", window, g_batch, plain.rate,
         plain.syncs_per_unit, plain.cpu_us_per_unit);
  Result txn = run(dir, 1, producers, partitions, seconds);
  printf(
      "txn%s: %d producers, %d txn-log partitions%s%s: %.0f transactions/s, %.2f fdatasyncs and %.1f us CPU per "
      "transaction\n",
      g_net ? " (with requests)" : "", producers, partitions, g_wait_ongoing ? "" : ", Ongoing not waited for",
      g_wait_marker ? "" : ", marker not waited for", txn.rate, txn.syncs_per_unit, txn.cpu_us_per_unit);
  const double share = plain.rate > 0 ? txn.rate / plain.rate : 0;
  printf("ratio (transactions/s over plain batches/s): %.2f\n", share);
  if (argc > 7) {
    FILE* f = fopen(argv[7], "w");
    if (!f) die(argv[7]);
    fprintf(f,
            "{\"producers\": %d, \"txnlog_partitions\": %d, \"window\": %d, \"batch_bytes\": %zu, "
            "\"wait_ongoing\": %s, \"wait_marker\": %s, \"handoff\": %s, \"requests\": %s, \"seconds\": %g, "
            "\"plain_batches_per_s\": %.1f, \"plain_fdatasyncs_per_batch\": %.3f, \"plain_cpu_us_per_batch\": %.1f, "
            "\"transactions_per_s\": %.1f, \"txn_fdatasyncs_per_txn\": %.3f, \"txn_cpu_us_per_txn\": %.1f, "
            "\"ratio\": %.3f}\n",
            producers, partitions, window, g_batch, g_wait_ongoing ? "true" : "false", g_wait_marker ? "true" : "false",
            g_handoff ? "true" : "false", g_net ? "true" : "false", seconds, plain.rate, plain.syncs_per_unit,
            plain.cpu_us_per_unit, txn.rate, txn.syncs_per_unit, txn.cpu_us_per_unit, share);
    if (fclose(f) != 0) die(argv[7]);
  }
  return 0;
}
