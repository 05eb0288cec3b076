#include "app/progress_line.h"

#include <fmt/format.h>
#include <unistd.h>

namespace runnel::app {
namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(200);
// Carriage return, then erase to the end of the line (ANSI EL).
constexpr const char* kEraseLine = "\r\033[K";

std::string with_commas(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string human_bytes(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  if (bytes < 1024 * 1024) return fmt::format("{:.1f} KiB", bytes / 1024.0);
  if (bytes < 1024ull * 1024 * 1024) return fmt::format("{:.1f} MiB", bytes / (1024.0 * 1024));
  return fmt::format("{:.2f} GiB", bytes / (1024.0 * 1024 * 1024));
}

}  // namespace

bool progress_line_wanted(bool prints_per_record) {
  return ::isatty(STDERR_FILENO) && (!prints_per_record || !::isatty(STDOUT_FILENO));
}

ProgressLine::ProgressLine(std::ostream& err, std::string verb, bool enabled)
    : err_(err), verb_(std::move(verb)), enabled_(enabled) {}

std::string ProgressLine::text(const std::string& verb, uint64_t records, uint64_t bytes, double seconds) {
  auto rate = seconds > 0 ? static_cast<uint64_t>(records / seconds) : 0;
  return fmt::format("{} {} records, {}, {} records/s", verb, with_commas(records), human_bytes(bytes),
                     with_commas(rate));
}

void ProgressLine::add(uint64_t records, uint64_t bytes) {
  records_ += records;
  bytes_ += bytes;
  if (!enabled_) return;
  auto now = Clock::now();
  if (now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  double seconds = std::chrono::duration<double>(now - start_).count();
  err_ << kEraseLine << text(verb_, records_, bytes_, seconds) << std::flush;
  drawn_ = true;
}

void ProgressLine::finish() {
  if (drawn_) err_ << kEraseLine << std::flush;
  drawn_ = false;
  enabled_ = false;
}

}  // namespace runnel::app
