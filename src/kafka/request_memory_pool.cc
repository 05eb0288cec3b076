#include "kafka/request_memory_pool.h"

namespace runnel {

RequestMemoryPool::RequestMemoryPool(int64_t capacity) : capacity_(capacity), available_(capacity) {}

RequestMemoryPool::Lease& RequestMemoryPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    reset();
    pool_ = other.pool_;
    bytes_ = other.bytes_;
    other.pool_ = nullptr;
  }
  return *this;
}

void RequestMemoryPool::Lease::reset() {
  if (pool_) pool_->available_.fetch_add(bytes_, std::memory_order_relaxed);
  pool_ = nullptr;
}

bool RequestMemoryPool::try_acquire(int64_t bytes, Lease* lease) {
  if (!bounded()) return true;
  int64_t available = available_.load(std::memory_order_relaxed);
  // Not strict (as Kafka's network pool): any free byte admits a request.
  while (available > 0)
    if (available_.compare_exchange_weak(available, available - bytes, std::memory_order_relaxed)) {
      *lease = Lease(this, bytes);
      return true;
    }
  return false;
}

}  // namespace runnel
