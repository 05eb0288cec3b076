#include "app/crash_report.h"

#include <execinfo.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstring>

#ifdef RUNNEL_HAVE_LIBBACKTRACE
#include <backtrace.h>
#endif

namespace runnel::app {
namespace {

// Only async-signal-safe calls below: write(2), no malloc, no stdio.
void put(const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void put_number(uint64_t v, int base) {
  char buf[24];
  int i = sizeof buf - 1;
  buf[i] = '\0';
  do {
    buf[--i] = "0123456789abcdef"[v % static_cast<uint64_t>(base)];
    v /= static_cast<uint64_t>(base);
  } while (v != 0 && i > 0);
  if (base == 16) put("0x");
  put(buf + i);
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGABRT:
      return "SIGABRT";
    default:
      return "signal";
  }
}

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
constexpr int kMaxFrames = 64;

#ifdef RUNNEL_HAVE_LIBBACKTRACE
backtrace_state* g_state = nullptr;

int on_frame(void* data, uintptr_t pc, const char* file, int line, const char* function) {
  int& frames = *static_cast<int*>(data);
  put("  #");
  put_number(static_cast<uint64_t>(frames), 10);
  put(" ");
  put_number(pc, 16);
  put(" ");
  put(function ? function : "??");
  if (file) {
    put(" at ");
    put(file);
    put(":");
    put_number(static_cast<uint64_t>(line), 10);
  }
  put("\n");
  return ++frames >= kMaxFrames ? 1 : 0;
}

void on_error(void*, const char* message, int errnum) {
  put("  (stack: ");
  put(message);
  if (errnum > 0) {
    put(": ");
    put_number(static_cast<uint64_t>(errnum), 10);
  }
  put(")\n");
}

void on_create_error(void*, const char*, int) {}  // then the raw addresses are printed instead
#endif

void report(int sig, siginfo_t* info, void*) {
  put("\nrunnel: fatal ");
  put(signal_name(sig));
  put(" (signal ");
  put_number(static_cast<uint64_t>(sig), 10);
  put(")");
  if (sig != SIGABRT) {
    put(" at address ");
    put_number(reinterpret_cast<uintptr_t>(info->si_addr), 16);
  }
  put(" in thread ");
  put_number(static_cast<uint64_t>(::syscall(SYS_gettid)), 10);
  put("; stack:\n");
  bool done = false;
#ifdef RUNNEL_HAVE_LIBBACKTRACE
  if (g_state) {
    int frames = 0;
    backtrace_full(g_state, 1, on_frame, on_error, &frames);
    done = frames > 0;
  }
#endif
  if (!done) {
    void* frames[kMaxFrames];
    int n = ::backtrace(frames, kMaxFrames);
    ::backtrace_symbols_fd(frames, n, STDERR_FILENO);
  }
  put("runnel: end of the crash report\n");
  // SA_RESETHAND put the default action back: raise the signal again, so
  // that the process dies of it (once this returns, if it is blocked here)
  // even when it was sent rather than caused by a fault.
  ::raise(sig);
}

}  // namespace

void install_crash_report() {
  // backtrace() loads libgcc's unwinder on its first call, which allocates:
  // do that now, not in the handler.
  void* warm[2];
  (void)::backtrace(warm, 2);
#ifdef RUNNEL_HAVE_LIBBACKTRACE
  // Reads nothing yet: the debug info is read on the first backtrace.
  g_state = backtrace_create_state(nullptr, 1, on_create_error, nullptr);
#endif
  struct sigaction action {};
  action.sa_sigaction = report;
  action.sa_flags = SA_SIGINFO | SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  for (int sig : kSignals) sigaction(sig, &action, nullptr);
}

}  // namespace runnel::app
