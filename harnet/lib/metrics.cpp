#include "harnet/lib/metrics.h"

#include "autograd/error.h"

namespace harnet {

namespace {

double ratio_or_zero(int64_t numerator, int64_t denominator) {
  return denominator == 0 ? 0.0 : static_cast<double>(numerator) / static_cast<double>(denominator);
}

}  // namespace

ClassificationMetrics classification_metrics(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                                             int64_t classes) {
  HARNET_CHECK(classes >= 1, "classification_metrics: classes must be >= 1, got ", classes);
  HARNET_CHECK(truth.size() == predicted.size(), "classification_metrics: ", truth.size(), " true labels but ",
               predicted.size(), " predictions");
  ClassificationMetrics m;
  const auto c_size = static_cast<size_t>(classes);
  m.confusion.assign(c_size, std::vector<int64_t>(c_size, 0));
  for (size_t i = 0; i < truth.size(); ++i) {
    HARNET_CHECK(truth[i] >= 0 && truth[i] < classes, "classification_metrics: sample ", i, " has true class ",
                 truth[i], ", outside [0, ", classes, ")");
    HARNET_CHECK(predicted[i] >= 0 && predicted[i] < classes, "classification_metrics: sample ", i,
                 " has predicted class ", predicted[i], ", outside [0, ", classes, ")");
    ++m.confusion[static_cast<size_t>(truth[i])][static_cast<size_t>(predicted[i])];
  }
  m.samples = static_cast<int64_t>(truth.size());
  m.per_class.resize(c_size);
  double f1_sum = 0.0, precision_sum = 0.0, recall_sum = 0.0;
  for (size_t c = 0; c < c_size; ++c) {
    ClassScores& s = m.per_class[c];
    const int64_t hits = m.confusion[c][c];
    for (size_t other = 0; other < c_size; ++other) {
      s.support += m.confusion[c][other];
      s.predicted += m.confusion[other][c];
    }
    m.correct += hits;
    s.precision = ratio_or_zero(hits, s.predicted);
    s.recall = ratio_or_zero(hits, s.support);
    s.f1 = s.precision + s.recall > 0.0 ? 2.0 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
    if (s.support > 0 || s.predicted > 0) {
      f1_sum += s.f1;
      precision_sum += s.precision;
      recall_sum += s.recall;
      ++m.scored_classes;
    }
  }
  m.accuracy = ratio_or_zero(m.correct, m.samples);
  if (m.scored_classes > 0) {
    const auto scored = static_cast<double>(m.scored_classes);
    m.macro_f1 = f1_sum / scored;
    m.macro_precision = precision_sum / scored;
    m.macro_recall = recall_sum / scored;
  }
  return m;
}

}  // namespace harnet
