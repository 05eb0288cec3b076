#include "base/quota_rate.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace runnel {

void QuotaRate::purge_expired(int64_t now_ms) {
  for (auto& s : samples_)
    if (now_ms - s.start_ms >= kSamples * kWindowMs) s = Sample{now_ms, 0};
}

int64_t QuotaRate::span_ms(int64_t now_ms) {
  purge_expired(now_ms);
  if (samples_.empty()) samples_.push_back(Sample{now_ms, 0});
  int64_t oldest = samples_.front().start_ms;
  for (const auto& s : samples_) oldest = std::min(oldest, s.start_ms);
  int64_t span = now_ms - oldest;
  const int64_t full_windows = span / kWindowMs;
  if (full_windows < kSamples - 1) span += (kSamples - 1 - full_windows) * kWindowMs;
  return span;
}

double QuotaRate::total() const {
  double total = 0;
  for (const auto& s : samples_) total += s.sum;
  return total;
}

double QuotaRate::rate(int64_t now_ms) {
  const int64_t span = span_ms(now_ms);
  return total() / (static_cast<double>(span) / 1000.0);
}

int64_t QuotaRate::record(int64_t now_ms, double value, double limit) {
  last_record_ms_ = now_ms;
  if (samples_.empty()) samples_.push_back(Sample{now_ms, 0});
  if (now_ms - samples_[current_].start_ms >= kWindowMs) {
    // The current window is over: the next one starts now, reusing the
    // oldest slot once all of them exist.
    current_ = (current_ + 1) % kSamples;
    if (current_ >= samples_.size())
      samples_.push_back(Sample{now_ms, 0});
    else
      samples_[current_] = Sample{now_ms, 0};
  }
  samples_[current_].sum += value;
  if (value <= 0) return 0;
  const int64_t span = span_ms(now_ms);
  const double observed = total() / (static_cast<double>(span) / 1000.0);
  if (observed <= limit) return 0;
  if (limit <= 0) return std::numeric_limits<int32_t>::max();
  const double delay = (observed - limit) / limit * static_cast<double>(span);
  return std::llround(std::min<double>(delay, std::numeric_limits<int32_t>::max()));
}

double QuotaTokenBucket::burst(double limit) {
  return QuotaRate::kSamples * (static_cast<double>(QuotaRate::kWindowMs) / 1000.0) * limit;
}

double QuotaTokenBucket::tokens(int64_t now_ms, double limit) {
  const double burst = QuotaTokenBucket::burst(limit);
  if (!started_) {
    started_ = true;
    tokens_ = burst;
  } else if (now_ms > refilled_ms_) {
    tokens_ = std::min(burst, tokens_ + limit * static_cast<double>(now_ms - refilled_ms_) / 1000.0);
  }
  refilled_ms_ = std::max(refilled_ms_, now_ms);
  return tokens_;
}

void QuotaTokenBucket::take(int64_t now_ms, double value, double limit) {
  last_record_ms_ = now_ms;
  tokens_ = std::min(burst(limit), tokens(now_ms, limit) - value);
}

int64_t ConnectionCreationRate::record(int64_t now_ms, int32_t limit) {
  return std::min(kMaxDelayMs, rate_.record(now_ms, 1, limit));
}

}  // namespace runnel
