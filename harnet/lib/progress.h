// What training prints: on a terminal, a bar redrawn in place during each epoch (loss,
// accuracy, samples/s, ETA), replaced by the epoch's log line when it ends; elsewhere (a
// log file, a pipe) only the log lines, one per epoch.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "harnet/lib/training_log.h"

namespace harnet {

// "epoch   3/100  lr 1.00e-03  train loss 1.2345 acc 45.6%  val loss 1.1000 acc 50.0% F1 0.4500  12.3 s  850/s"
// with " *" appended when the validation loss is the best so far.
std::string epoch_log_line(const EpochRecord& record, int64_t epochs, bool best);

// "1:05:09", "4:05": a duration for the ETA.
std::string format_duration(double seconds);

class EpochProgress {
 public:
  // batches: of the whole epoch; first_batch: where this process starts it (a resumed epoch).
  EpochProgress(std::FILE* out, bool bar, int64_t epoch, int64_t epochs, int64_t batches, int64_t first_batch);

  // After batch `batches_done` (counted from the epoch's start): the epoch's mean training
  // loss and accuracy so far and the samples trained since this object was made.
  void update(int64_t batches_done, double mean_loss, double accuracy, int64_t samples_since_start);
  // Clears the bar (if any) so that the log line takes its place.
  void clear();

 private:
  std::FILE* out_;
  bool bar_;
  int64_t epoch_, epochs_, batches_, first_batch_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
};

}  // namespace harnet
