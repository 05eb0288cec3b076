#pragma once
// Names the calling thread, as `top -H`, `ps -L`, perf (--sort comm), gdb's
// "info threads" and /proc/PID/task/*/comm show it. Without names every
// thread of the broker reads "runnel", and a profile or a busy thread in top
// cannot be told apart from the others (a shard from a flusher, say).
//
// Linux keeps at most 15 bytes of a name; longer ones are cut. A thread
// starts with the name of the thread that created it, so a library's pool
// created on a named thread (the admin server's HTTP workers) carries that
// thread's name.
//
// Thread-safety: names only the calling thread.
#include <pthread.h>

#include <string>
#include <string_view>

namespace runnel {

inline void name_this_thread(std::string_view name) {
  constexpr size_t kMaxLength = 15;  // TASK_COMM_LEN less the terminating NUL
  std::string cut(name.substr(0, kMaxLength));
  // Advisory: a thread without its name still works.
  (void)pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace runnel
