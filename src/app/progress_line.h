#pragma once
// A one-line progress report for a long command ("produced 12,345 records,
// 1.2 MiB, 8,100 records/s"), redrawn in place at most five times a second
// and erased when the command is done, so that what the command prints stays
// as it was. Only for a person watching: the command enables it when stderr
// is a terminal and its own output does not go to that terminal record by
// record (progress_line_wanted); scripts and pipes never see it.
// Not thread-safe: one command's loop owns it.
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace runnel::app {

// Whether a command whose output goes to stdout should show a progress line:
// stderr is a terminal and stdout is not (or prints nothing per record).
bool progress_line_wanted(bool prints_per_record);

class ProgressLine {
 public:
  // `verb` names what is counted ("produced", "consumed").
  ProgressLine(std::ostream& err, std::string verb, bool enabled);
  ~ProgressLine() { finish(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Counts records and their bytes; redraws when the last draw is old enough.
  void add(uint64_t records, uint64_t bytes);
  // Erases the line (once; later calls do nothing).
  void finish();

  // The text of the line for these totals after `seconds` (for tests).
  static std::string text(const std::string& verb, uint64_t records, uint64_t bytes, double seconds);

 private:
  using Clock = std::chrono::steady_clock;
  std::ostream& err_;
  std::string verb_;
  bool enabled_;
  bool drawn_ = false;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_ = start_;
};

}  // namespace runnel::app
