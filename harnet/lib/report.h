// The evaluation report of a model on a set of sequences, as Markdown (report.md): a summary
// (what was evaluated, accuracy, macro-F1), precision / recall / F1 / support per class with
// the class names, and the confusion matrix as a table; written beside it, confusion.svg
// (heat map) and, for a training run, curves.svg (loss and accuracy per epoch).
#pragma once

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "harnet/lib/metrics.h"
#include "harnet/lib/training_log.h"

namespace harnet {

struct EvaluationReport {
  std::string title;  // the heading: "HARNet on msr.h5, held-out part"
  // Rows of the summary table above accuracy and macro-F1: ("data", "msr.h5"), ("model", ...).
  std::vector<std::pair<std::string, std::string>> facts;
  ClassificationMetrics metrics;
  std::vector<std::string> class_names;  // [C]
  double loss = std::nan("");            // mean cross-entropy; NaN: not shown
};

// The Markdown text; links curves.svg and confusion.svg when they are written beside it.
std::string report_markdown(const EvaluationReport& report, bool with_curves, bool with_confusion_svg);

// Writes report.md and confusion.svg into directory, and curves.svg when history is not
// empty; returns the Markdown.
std::string write_report_files(const std::string& directory, const EvaluationReport& report,
                               const std::vector<EpochRecord>& history);

// A Markdown table cell: '|' escaped, line breaks as spaces.
std::string markdown_cell(const std::string& text);

}  // namespace harnet
