// Training a HARNet into a run directory, resumable and reproducible.
//
//   RUN_DIR/config.json   the full resolved RunConfig (train --config it to repeat the run)
//   RUN_DIR/metrics.csv   one row per finished epoch (harnet/lib/training_log.h)
//   RUN_DIR/last.h5       checkpoint after the latest epoch (or the step a Ctrl-C stopped at)
//   RUN_DIR/best.h5       checkpoint of the epoch with the lowest validation loss
//   RUN_DIR/averaged.h5   with weight averaging (--average-last, RunConfig::average_last): the
//                         averaged weights, BatchNorm statistics recomputed (weights only); the
//                         report's model
//   RUN_DIR/report.md, curves.svg, confusion.svg   the final report (harnet/lib/report.h)
//
// Each epoch trains on the train part (shuffled and augmented from (seed, epoch)), then
// validates (loss, accuracy, macro-F1), steps the schedule, appends the metrics row and
// saves last.h5 (and best.h5). Checkpoints hold the model, the optimizer, the scheduler,
// the dropout generators and the counters (epoch, batch within the epoch, step, best, the
// partial epoch's sums), so a resumed run computes exactly what the uninterrupted one would
// have (same thread count), even when it was stopped in the middle of an epoch.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "harnet/lib/metrics.h"
#include "harnet/lib/run_config.h"

namespace harnet {

struct TrainOptions {
  std::FILE* out = stdout;
  bool progress_bar = false;  // redraw a bar during each epoch (for a terminal)
  // Polled after every optimizer step: true saves last.h5 and stops (Ctrl-C).
  std::function<bool()> stop_requested;
};

enum class TrainOutcome { Completed, EarlyStopped, Interrupted };

struct TrainResult {
  TrainOutcome outcome = TrainOutcome::Completed;
  int64_t epochs_done = 0;         // finished epochs in the run (all sessions)
  std::string report;              // the final report's Markdown (empty when interrupted)
  ClassificationMetrics held_out;  // the final report's metrics
};

// A new run: creates run_dir (refusing one that already holds a run), reads the dataset,
// completes the configuration from it (RunConfig::adopt_dataset), writes config.json and
// trains.
TrainResult train_new_run(RunConfig config, const std::string& run_dir, const TrainOptions& options = {});

// Continues the run in run_dir from last.h5 and config.json; metrics.csv rows after the
// checkpoint's epoch are dropped. threads > 0 replaces the configured thread count (results
// then match an uninterrupted run only if it is the same).
TrainResult resume_run(const std::string& run_dir, int threads = 0, const TrainOptions& options = {});

}  // namespace harnet
