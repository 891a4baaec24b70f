// Classification metrics against values computed by hand (scikit-learn's definitions with
// zero_division=0; macro-F1 over the classes present in the truth or the predictions).
#include <gtest/gtest.h>

#include "harnet/lib/metrics.h"
#include "test_util.h"

namespace harnet {
namespace {

using testing::expect_error;

TEST(Metrics, HandComputedThreeClassesAndAnAbsentFourth) {
  // true 0 0 0 1 1 2, predicted 0 0 1 1 2 2:
  //   class 0: TP 2, predicted 2, support 3 -> P 1,   R 2/3, F1 0.8
  //   class 1: TP 1, predicted 2, support 2 -> P 1/2, R 1/2, F1 0.5
  //   class 2: TP 1, predicted 2, support 1 -> P 1/2, R 1,   F1 2/3
  //   class 3: never seen, never predicted -> not averaged
  const ClassificationMetrics m = classification_metrics({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 2, 2}, 4);
  const std::vector<std::vector<int64_t>> confusion{{2, 1, 0, 0}, {0, 1, 1, 0}, {0, 0, 1, 0}, {0, 0, 0, 0}};
  EXPECT_EQ(m.confusion, confusion);
  EXPECT_EQ(m.samples, 6);
  EXPECT_EQ(m.correct, 4);
  EXPECT_DOUBLE_EQ(m.accuracy, 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(m.per_class[0].precision, 1.0);
  EXPECT_DOUBLE_EQ(m.per_class[0].recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.per_class[0].f1, 0.8);
  EXPECT_DOUBLE_EQ(m.per_class[1].precision, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[1].recall, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[1].f1, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[2].precision, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[2].recall, 1.0);
  EXPECT_DOUBLE_EQ(m.per_class[2].f1, 2.0 / 3.0);
  EXPECT_EQ(m.per_class[0].support, 3);
  EXPECT_EQ(m.per_class[1].predicted, 2);
  EXPECT_EQ(m.per_class[3].support, 0);
  EXPECT_EQ(m.scored_classes, 3);
  EXPECT_DOUBLE_EQ(m.macro_f1, (0.8 + 0.5 + 2.0 / 3.0) / 3.0);
  EXPECT_DOUBLE_EQ(m.macro_precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.macro_recall, (2.0 / 3.0 + 0.5 + 1.0) / 3.0);
}

TEST(Metrics, ClassNeverPredictedHasPrecisionZero) {
  // true 0 1 1, predicted 0 0 0: class 1 is never predicted -> P 0, R 0, F1 0;
  // class 0: P 1/3, R 1, F1 0.5; macro 0.25.
  const ClassificationMetrics m = classification_metrics({0, 1, 1}, {0, 0, 0}, 2);
  EXPECT_DOUBLE_EQ(m.per_class[1].precision, 0.0);
  EXPECT_DOUBLE_EQ(m.per_class[1].recall, 0.0);
  EXPECT_DOUBLE_EQ(m.per_class[1].f1, 0.0);
  EXPECT_DOUBLE_EQ(m.per_class[0].precision, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.per_class[0].f1, 0.5);
  EXPECT_DOUBLE_EQ(m.macro_f1, 0.25);
  EXPECT_DOUBLE_EQ(m.accuracy, 1.0 / 3.0);
}

TEST(Metrics, ClassOnlyPredictedCountsInTheMacroAverage) {
  // true 0 0, predicted 0 1: class 1 never occurs but is predicted once -> P 0, R 0 (zero
  // division), F1 0, and it is averaged; class 2 is absent from both and is not.
  const ClassificationMetrics m = classification_metrics({0, 0}, {0, 1}, 3);
  EXPECT_DOUBLE_EQ(m.per_class[0].f1, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.per_class[1].precision, 0.0);
  EXPECT_EQ(m.scored_classes, 2);
  EXPECT_DOUBLE_EQ(m.macro_f1, 1.0 / 3.0);
}

TEST(Metrics, PerfectAndEmpty) {
  const ClassificationMetrics perfect = classification_metrics({2, 0, 1}, {2, 0, 1}, 3);
  EXPECT_DOUBLE_EQ(perfect.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(perfect.macro_f1, 1.0);
  const ClassificationMetrics empty = classification_metrics({}, {}, 3);
  EXPECT_EQ(empty.samples, 0);
  EXPECT_DOUBLE_EQ(empty.accuracy, 0.0);
  EXPECT_DOUBLE_EQ(empty.macro_f1, 0.0);
}

TEST(Metrics, RefusesBadInput) {
  expect_error([] { classification_metrics({0, 1}, {0}, 2); }, "2 true labels but 1 predictions");
  expect_error([] { classification_metrics({0, 2}, {0, 1}, 2); }, "sample 1 has true class 2");
  expect_error([] { classification_metrics({0, 1}, {-1, 1}, 2); }, "sample 0 has predicted class -1");
  expect_error([] { classification_metrics({}, {}, 0); }, "classes must be >= 1");
}

}  // namespace
}  // namespace harnet
