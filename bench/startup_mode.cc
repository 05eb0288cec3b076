// runnel-bench startup: time from exec to the first accepted TCP connection.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "common.h"

namespace runnel::bench {

int mode_startup(const Options& o) {
  if (o.command.empty()) die("startup: give the command after --");
  // How long one start may take before it counts as failed: --duration, else 10 s.
  const uint64_t cap_ns = uint64_t((o.duration > 0 ? o.duration : 10.0) * 1e9);
  std::vector<double> ms;
  for (int run = 0; run < o.repeat; ++run) {
    uint64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      std::vector<char*> argv;
      for (auto& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    double took = -1;
    while (now_ns() - t0 < cap_ns) {
      int st;
      if (waitpid(pid, &st, WNOHANG) == pid) die(fmt::format("startup: {} exited before accepting", o.command[0]));
      int fd = connect_tcp(o.bootstrap, true);
      if (fd >= 0) {
        took = double(now_ns() - t0) / 1e6;
        close(fd);
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    kill(pid, SIGTERM);
    int st;
    uint64_t k0 = now_ns();
    while (waitpid(pid, &st, WNOHANG) != pid) {
      if (now_ns() - k0 > 10'000'000'000ull) kill(pid, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (took < 0) die(fmt::format("startup: no connection accepted within {:.0f} s", double(cap_ns) / 1e9));
    progress(o, "startup", 0, fmt::format("run {}: {:.2f} ms", run + 1, took));
    ms.push_back(took);
  }
  double first = ms.front();
  std::sort(ms.begin(), ms.end());
  Result r;
  r.str("mode", o.mode);
  r.str("label", o.label);
  r.num("runs", double(ms.size()));
  r.num("first_ms", first);
  r.num("median_ms", ms[ms.size() / 2]);
  r.num("min_ms", ms.front());
  r.num("max_ms", ms.back());
  r.emit(o);
  return 0;
}

}  // namespace runnel::bench
