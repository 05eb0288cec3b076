#pragma once
// The broker-wide budget for request bytes read and not yet answered:
// Kafka's queued.max.request.bytes, the memory pool its network threads
// allocate each request's buffer from. A connection asks for a lease of a
// request's size once it has read the size prefix, and reads the request
// only when one is granted; the lease goes back when the request has been
// answered (or its connection closed). Without a budget (the default, -1, as
// Kafka's) a connection is bounded only by its own in-flight limits
// (server/connection.h), and one librdkafka producer over TLS, whose default
// is 1,000,000 requests in flight, can make the broker hold 64 MiB.
//
// Like Kafka's network pool the budget is not strict: a lease is granted
// whenever any byte is free, so a request larger than what is free (up to
// socket.request.max.bytes, which the budget must not be smaller than) is
// read once anything is free, and the bytes in use exceed the budget by less
// than one request.
//
// Thread-safety: every method may be called from any thread; one atomic
// compare-and-swap per lease taken and one add per lease returned, and only
// when a budget is set.
#include <atomic>
#include <cstdint>

namespace runnel {

class RequestMemoryPool {
 public:
  // `capacity` bytes; <= 0: no budget (try_acquire always grants, nothing
  // is counted).
  explicit RequestMemoryPool(int64_t capacity);
  RequestMemoryPool(const RequestMemoryPool&) = delete;
  RequestMemoryPool& operator=(const RequestMemoryPool&) = delete;

  // Bytes taken from a pool; returned when destroyed or reset. Move-only.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept : pool_(other.pool_), bytes_(other.bytes_) { other.pool_ = nullptr; }
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { reset(); }
    void reset();

   private:
    friend class RequestMemoryPool;
    Lease(RequestMemoryPool* pool, int64_t bytes) : pool_(pool), bytes_(bytes) {}
    RequestMemoryPool* pool_ = nullptr;
    int64_t bytes_ = 0;
  };

  bool bounded() const { return capacity_ > 0; }
  int64_t capacity() const { return capacity_; }
  // A lease of `bytes`, or false (`*lease` untouched) when nothing is free.
  [[nodiscard]] bool try_acquire(int64_t bytes, Lease* lease);
  // Bytes leased now (0 without a budget).
  int64_t used() const { return bounded() ? capacity_ - available_.load(std::memory_order_relaxed) : 0; }
  // A connection found the pool exhausted and waits (counted for /metrics:
  // runnel_request_memory_pool_waits_total).
  void note_wait() { waits_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t waits() const { return waits_.load(std::memory_order_relaxed); }

 private:
  const int64_t capacity_;
  std::atomic<int64_t> available_;
  std::atomic<uint64_t> waits_{0};
};

}  // namespace runnel
