#pragma once
// A thread of its own that runs one task every interval until stopped: the
// loop the broker's background checks share (TLS certificate reloads,
// giving freed memory back). stop() wakes the thread at once rather than
// waiting out the interval.
//
// Thread-safety: start() and stop() from one owning thread; the task runs
// on the periodic thread only.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "base/thread_name.h"

namespace runnel {

class PeriodicThread {
 public:
  PeriodicThread() = default;
  ~PeriodicThread() { stop(); }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // Calls `task` every `interval`, the first time one interval from now, on
  // a thread named `name` (base/thread_name.h). Nothing when already running.
  void start(std::string name, std::chrono::milliseconds interval, std::function<void()> task) {
    if (thread_.joinable()) return;
    {
      std::lock_guard lock(mu_);
      stopping_ = false;
    }
    thread_ = std::thread([this, name = std::move(name), interval, task = std::move(task)] {
      name_this_thread(name);
      std::unique_lock lock(mu_);
      while (!wake_.wait_for(lock, interval, [this] { return stopping_; })) {
        lock.unlock();
        task();
        lock.lock();
      }
    });
  }

  // Returns once a task under way has finished; idempotent.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // under mu_
  std::thread thread_;
};

}  // namespace runnel
