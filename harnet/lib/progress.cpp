#include "harnet/lib/progress.h"

#include <algorithm>
#include <cmath>

#include "autograd/error.h"

namespace harnet {

std::string format_duration(double seconds) {
  const auto total = static_cast<int64_t>(std::max(0.0, std::round(seconds)));
  const int64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
  char buffer[32];
  if (h > 0)
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", static_cast<long long>(h), static_cast<long long>(m),
                  static_cast<long long>(s));
  else
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld", static_cast<long long>(m), static_cast<long long>(s));
  return buffer;
}

std::string epoch_log_line(const EpochRecord& r, int64_t epochs, bool best) {
  const int width = static_cast<int>(std::to_string(epochs).size());
  char buffer[256];
  std::snprintf(buffer, sizeof buffer,
                "epoch %*lld/%lld  lr %.2e  train loss %.4f acc %5.1f%%  val loss %.4f acc %5.1f%% F1 %.4f  %.1f s  "
                "%.0f samples/s%s",
                width, static_cast<long long>(r.epoch), static_cast<long long>(epochs), r.lr, r.train_loss,
                100.0 * r.train_acc, r.val_loss, 100.0 * r.val_acc, r.val_macro_f1, r.seconds, r.samples_per_s,
                best ? "  *" : "");
  return buffer;
}

EpochProgress::EpochProgress(std::FILE* out, bool bar, int64_t epoch, int64_t epochs, int64_t batches,
                             int64_t first_batch)
    : out_(out),
      bar_(bar),
      epoch_(epoch),
      epochs_(epochs),
      batches_(batches),
      first_batch_(first_batch),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void EpochProgress::update(int64_t batches_done, double mean_loss, double accuracy, int64_t samples_since_start) {
  if (!bar_) return;
  const auto now = std::chrono::steady_clock::now();
  // Redraw at most 10 times a second, and always at the end.
  if (drawn_ && batches_done < batches_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const int64_t done_here = batches_done - first_batch_;
  const double per_batch = done_here > 0 ? elapsed / static_cast<double>(done_here) : 0.0;
  const double eta = per_batch * static_cast<double>(batches_ - batches_done);
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(kWidth * batches_done / std::max<int64_t>(batches_, 1));
  std::fprintf(out_, "\r\033[Kepoch %lld/%lld [%s%s] %lld/%lld  loss %.4f  acc %5.1f%%  %.0f samples/s  ETA %s",
               static_cast<long long>(epoch_), static_cast<long long>(epochs_),
               std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(kWidth - filled), '.').c_str(), static_cast<long long>(batches_done),
               static_cast<long long>(batches_), mean_loss, 100.0 * accuracy,
               elapsed > 0 ? static_cast<double>(samples_since_start) / elapsed : 0.0, format_duration(eta).c_str());
  std::fflush(out_);
}

void EpochProgress::clear() {
  if (!bar_ || !drawn_) return;
  std::fprintf(out_, "\r\033[K");
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace harnet
