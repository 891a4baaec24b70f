// Splits: cross-subject lists, odd/even, random (plain and stratified, seeded),
// leave-one-subject-out, validation carved by subject; partitions are disjoint and complete
// where they should be, and every refusal names what is wrong.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "autograd/error.h"
#include "data/split.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

// Only labels and subjects matter to the splits. Sequence i: label i % classes,
// subject subjects[i % subjects.size()].
SkeletonDataset labelled(int64_t sequences, int32_t classes, const std::vector<int32_t>& subjects) {
  SkeletonDataset data;
  for (int32_t c = 0; c < classes; ++c) data.class_names.push_back(str_cat("c", c));
  for (int64_t i = 0; i < sequences; ++i) {
    data.labels.push_back(static_cast<int32_t>(i % classes));
    data.subjects.push_back(subjects[static_cast<size_t>(i) % subjects.size()]);
  }
  return data;
}

void expect_partition(const std::vector<int64_t>& a, const std::vector<int64_t>& b, int64_t n) {
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  std::vector<int64_t> all = a;
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expected(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) expected[static_cast<size_t>(i)] = i;
  EXPECT_EQ(all, expected);
}

std::set<int32_t> subjects_of(const SkeletonDataset& data, const std::vector<int64_t>& indices) {
  std::set<int32_t> s;
  for (int64_t i : indices) s.insert(data.subjects[static_cast<size_t>(i)]);
  return s;
}

TEST(Split, BySubjectLists) {
  const SkeletonDataset data = labelled(12, 3, {1, 2, 3, 4});
  EXPECT_EQ(dataset_subjects(data), (std::vector<int32_t>{1, 2, 3, 4}));
  const Split split = split_by_subjects(data, {1, 3}, {2, 4});
  expect_partition(split.train, split.test, 12);
  EXPECT_EQ(split.train, (std::vector<int64_t>{0, 2, 4, 6, 8, 10}));
  // Subjects in neither list are left out.
  const Split partial = split_by_subjects(data, {1}, {4});
  EXPECT_EQ(partial.train, (std::vector<int64_t>{0, 4, 8}));
  EXPECT_EQ(partial.test, (std::vector<int64_t>{3, 7, 11}));
}

TEST(Split, BySubjectRefusals) {
  const SkeletonDataset data = labelled(12, 3, {1, 2, 3, 4});
  expect_error(
      [&] {
        split_by_subjects(data, {1, 42, 43}, {2});
      },
      "split_by_subjects: unknown train subjects 42, 43 (the dataset's subjects are 1, 2, 3, 4)");
  expect_error([&] { split_by_subjects(data, {1}, {9}); }, "unknown test subjects 9");
  expect_error([&] { split_by_subjects(data, {1, 2}, {2, 3}); }, "subjects 2 are in both the train and the test list");
  expect_error([&] { split_by_subjects(data, {}, {2}); }, "split_by_subjects: the train split is empty");
  expect_error([&] { split_by_subjects(data, {1}, {}); }, "split_by_subjects: the test split is empty");
  expect_error([&] { split_by_subjects(SkeletonDataset{}, {1}, {2}); },
               "split_by_subjects: the dataset has no sequences");
}

TEST(Split, OddEvenSubjects) {
  const SkeletonDataset data = labelled(10, 2, {1, 2, 3, 4, 5});
  const Split split = split_odd_even_subjects(data);
  expect_partition(split.train, split.test, 10);
  EXPECT_EQ(subjects_of(data, split.train), (std::set<int32_t>{1, 3, 5}));
  EXPECT_EQ(subjects_of(data, split.test), (std::set<int32_t>{2, 4}));
  const Split reversed = split_odd_even_subjects(data, false);
  EXPECT_EQ(reversed.train, split.test);
  EXPECT_EQ(reversed.test, split.train);
  expect_error(
      [] {
        split_odd_even_subjects(labelled(4, 2, {2, 4}));
      },
      "split_odd_even_subjects: the train split is empty (odd subjects train; the dataset's subjects are 2, 4)");
}

TEST(Split, RandomIsSeededAndSized) {
  const SkeletonDataset data = labelled(100, 4, {1, 2});
  const Split a = split_random(data, 0.9, 7);
  expect_partition(a.train, a.test, 100);
  EXPECT_EQ(a.train.size(), 90u);
  const Split b = split_random(data, 0.9, 7);
  EXPECT_EQ(a.train, b.train);
  const Split c = split_random(data, 0.9, 8);
  EXPECT_NE(a.test, c.test);
}

TEST(Split, RandomStratifiedKeepsClassProportions) {
  const SkeletonDataset data = labelled(120, 3, {1});  // 40 per class
  const Split split = split_random(data, 0.75, 3, true);
  expect_partition(split.train, split.test, 120);
  std::map<int32_t, int> train_count;
  for (int64_t i : split.train) ++train_count[data.labels[static_cast<size_t>(i)]];
  for (int32_t c = 0; c < 3; ++c) EXPECT_EQ(train_count[c], 30) << "class " << c;
}

TEST(Split, RandomRefusals) {
  const SkeletonDataset data = labelled(10, 2, {1});
  expect_error([&] { split_random(data, 1.0, 0); }, "split_random: train_fraction must be in (0, 1), got 1");
  expect_error([&] { split_random(data, 0.0, 0); }, "got 0");
  expect_error([&] { split_random(data, 0.99, 0); },
               "split_random: the test split is empty (10 sequences, train_fraction 0.99)");
  expect_error([&] { split_random(data, 0.01, 0); }, "split_random: the train split is empty");
  SkeletonDataset bad = data;
  bad.labels[4] = 7;
  expect_error([&] { split_random(bad, 0.5, 0, true); },
               "split_random: label 7 of sequence 4 is out of range for 2 classes");
}

TEST(Split, LeaveOneSubjectOut) {
  const SkeletonDataset data = labelled(9, 3, {5, 7, 9});
  const std::vector<Split> folds = leave_one_subject_out(data);
  ASSERT_EQ(folds.size(), 3u);
  const std::vector<int32_t> subjects = dataset_subjects(data);
  for (size_t f = 0; f < folds.size(); ++f) {
    expect_partition(folds[f].train, folds[f].test, 9);
    EXPECT_EQ(subjects_of(data, folds[f].test), (std::set<int32_t>{subjects[f]}));
    EXPECT_EQ(subjects_of(data, folds[f].train).count(subjects[f]), 0u);
  }
  expect_error([] { leave_one_subject_out(labelled(3, 1, {4})); },
               "leave_one_subject_out: needs at least 2 subjects, the dataset has only subject 4");
}

TEST(Split, ValidationCarvedBySubject) {
  const SkeletonDataset data = labelled(60, 3, {1, 2, 3, 4, 5, 6});
  const Split outer = split_by_subjects(data, {1, 2, 3, 4, 5}, {6});
  const ValidationSplit v = carve_validation_by_subject(data, outer.train, 0.4, 11);
  EXPECT_EQ(v.train.size() + v.validation.size(), outer.train.size());
  const std::set<int32_t> train_subjects = subjects_of(data, v.train),
                          validation_subjects = subjects_of(data, v.validation);
  EXPECT_EQ(validation_subjects.size(), 2u);  // round(0.4 * 5)
  EXPECT_EQ(train_subjects.size(), 3u);
  for (int32_t s : validation_subjects) EXPECT_EQ(train_subjects.count(s), 0u);
  EXPECT_EQ(validation_subjects.count(6), 0u);
  // Seeded: same seed same subjects; some other seed picks others.
  EXPECT_EQ(carve_validation_by_subject(data, outer.train, 0.4, 11).validation, v.validation);
  bool differs = false;
  for (uint64_t seed = 12; seed < 20 && !differs; ++seed) {
    differs = carve_validation_by_subject(data, outer.train, 0.4, seed).validation != v.validation;
  }
  EXPECT_TRUE(differs);
  // A tiny fraction still takes one subject; a large one leaves one for training.
  EXPECT_EQ(subjects_of(data, carve_validation_by_subject(data, outer.train, 0.01, 1).validation).size(), 1u);
  EXPECT_EQ(subjects_of(data, carve_validation_by_subject(data, outer.train, 0.99, 1).train).size(), 1u);
}

TEST(Split, ValidationRefusals) {
  const SkeletonDataset data = labelled(12, 3, {1, 2});
  expect_error(
      [&] {
        carve_validation_by_subject(data, {0, 2, 4}, 0.2, 0);
      },
      "carve_validation_by_subject: the training sequences need at least 2 subjects to carve a validation "
      "split by subject, they have 1 (subjects [1])");
  expect_error(
      [&] {
        carve_validation_by_subject(data, {0, 12}, 0.2, 0);
      },
      "carve_validation_by_subject: train index 12 is out of range for 12 sequences");
  expect_error(
      [&] {
        carve_validation_by_subject(data, {0, 1}, 1.0, 0);
      },
      "carve_validation_by_subject: validation_fraction must be in (0, 1), got 1");
}

}  // namespace
}  // namespace harnet
