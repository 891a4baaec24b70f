// The per-epoch record of a training run and its file, metrics.csv in the run directory:
//   epoch,lr,train_loss,train_acc,val_loss,val_acc,val_macro_f1,seconds,samples_per_s
// one row per finished epoch (accuracies as fractions in [0, 1]; the losses and accuracies
// are the model's output's, for an ensemble its mean probabilities, training's with dropout
// and augmentation; lr is the rate the epoch trained with; seconds the epoch's wall time including validation; samples_per_s the
// training throughput). Values are written with 9 significant digits, so two runs that
// compute the same float values write the same text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harnet/lib/svg.h"

namespace harnet {

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double lr = 0.0;
  double train_loss = 0.0;
  double train_acc = 0.0;
  double val_loss = 0.0;
  double val_acc = 0.0;
  double val_macro_f1 = 0.0;
  double seconds = 0.0;
  double samples_per_s = 0.0;
};

inline constexpr const char* kMetricsCsvHeader =
    "epoch,lr,train_loss,train_acc,val_loss,val_acc,val_macro_f1,seconds,samples_per_s";

// One row, without the newline.
std::string metrics_csv_row(const EpochRecord& record);

// The rows of a metrics.csv; throws naming the file and line when the header or a row is
// malformed, or the epochs do not count 1, 2, 3, ...
std::vector<EpochRecord> read_metrics_csv(const std::string& path);

// Writes the header and the rows (replacing the file atomically).
void write_metrics_csv(const std::string& path, const std::vector<EpochRecord>& records);

// Appends one row to an existing file (header included) and flushes it to disk.
void append_metrics_csv(const std::string& path, const EpochRecord& record);

// The training curves: loss and accuracy (train and validation) per epoch.
std::vector<LineChart> training_curves(const std::vector<EpochRecord>& records);

// Writes `content` to `path` atomically (a temporary file in the same folder, renamed over
// `path`); throws naming the path when it cannot.
void write_text_file(const std::string& path, const std::string& content);
// Creates directory (and its parents) unless it exists; throws "cannot create <what> <dir>: ...".
void create_output_directory(const std::string& directory, const std::string& what);
// The whole file; throws naming the path when it cannot be read.
std::string read_text_file(const std::string& path);

}  // namespace harnet
