// Classification metrics from predicted and true class indices: the confusion matrix,
// accuracy, per-class precision / recall / F1 and their macro average.
//
// Semantics are scikit-learn's (precision_recall_fscore_support, f1_score(average="macro"))
// with zero_division=0:
//   precision_c = TP_c / (TP_c + FP_c), 0 when class c is never predicted;
//   recall_c    = TP_c / (TP_c + FN_c), 0 when class c never occurs;
//   F1_c        = 2 P R / (P + R), 0 when P + R = 0;
//   macro-F1    = the mean of F1_c over the classes that occur in the truth or in the
//                 predictions (scikit-learn's default `labels`); a class absent from both
//                 is excluded, as it has no errors and no hits to score.
#pragma once

#include <cstdint>
#include <vector>

namespace harnet {

struct ClassScores {
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  int64_t support = 0;    // true samples of the class (TP + FN)
  int64_t predicted = 0;  // samples predicted as the class (TP + FP)
};

struct ClassificationMetrics {
  // counts[t][p]: samples of true class t predicted as p. [C][C]
  std::vector<std::vector<int64_t>> confusion;
  std::vector<ClassScores> per_class;  // [C]
  int64_t samples = 0;
  int64_t correct = 0;
  double accuracy = 0.0;         // correct / samples (0 without samples)
  double macro_f1 = 0.0;         // see the file comment; 0 without samples
  double macro_precision = 0.0;  // the same average of the precisions and of the recalls
  double macro_recall = 0.0;
  int64_t scored_classes = 0;  // the classes macro_f1 averages over

  int64_t num_classes() const { return static_cast<int64_t>(confusion.size()); }
};

// truth and predicted: one class index per sample, each in [0, classes). Throws naming the
// sample whose index is out of range or when the lengths differ.
ClassificationMetrics classification_metrics(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                                             int64_t classes);

}  // namespace harnet
