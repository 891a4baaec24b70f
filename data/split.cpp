#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <string>

#include "autograd/error.h"
#include "autograd/generator.h"

namespace harnet {

namespace {

template <class T>
std::string list_str(const std::vector<T>& values, size_t limit = 20) {
  std::ostringstream os;
  for (size_t i = 0; i < values.size() && i < limit; ++i) os << (i ? ", " : "") << values[i];
  if (values.size() > limit) os << ", ... (" << values.size() << " in all)";
  return os.str();
}

void check_subjects_present(const SkeletonDataset& dataset, const char* op) {
  HARNET_CHECK(dataset.num_sequences() >= 1, op, ": the dataset has no sequences");
  HARNET_CHECK(dataset.subjects.size() == dataset.labels.size(), op, ": the dataset has ", dataset.subjects.size(),
               " subjects for ", dataset.labels.size(), " sequences");
}

// Fisher-Yates with gen: the same seed gives the same permutation on every platform.
template <class T>
void shuffle_in_place(std::vector<T>& values, Generator& gen) {
  for (int64_t i = static_cast<int64_t>(values.size()) - 1; i > 0; --i) {
    std::swap(values[static_cast<size_t>(i)], values[static_cast<size_t>(gen.integer(0, i + 1))]);
  }
}

void check_sides(const Split& split, const char* op, const std::string& context) {
  HARNET_CHECK(!split.train.empty(), op, ": the train split is empty (", context, ")");
  HARNET_CHECK(!split.test.empty(), op, ": the test split is empty (", context, ")");
}

}  // namespace

std::vector<int32_t> dataset_subjects(const SkeletonDataset& dataset) {
  std::set<int32_t> subjects(dataset.subjects.begin(), dataset.subjects.end());
  return {subjects.begin(), subjects.end()};
}

Split split_by_subjects(const SkeletonDataset& dataset, const std::vector<int32_t>& train_subjects,
                        const std::vector<int32_t>& test_subjects) {
  const char* op = "split_by_subjects";
  check_subjects_present(dataset, op);
  const std::vector<int32_t> known = dataset_subjects(dataset);
  const std::set<int32_t> known_set(known.begin(), known.end());
  auto check_known = [&](const std::vector<int32_t>& subjects, const char* side) {
    std::vector<int32_t> unknown;
    for (int32_t s : subjects) {
      if (!known_set.count(s)) unknown.push_back(s);
    }
    HARNET_CHECK(unknown.empty(), op, ": unknown ", side, " subjects ", list_str(unknown),
                 " (the dataset's subjects are ", list_str(known), ")");
  };
  check_known(train_subjects, "train");
  check_known(test_subjects, "test");
  const std::set<int32_t> train_set(train_subjects.begin(), train_subjects.end());
  const std::set<int32_t> test_set(test_subjects.begin(), test_subjects.end());
  std::vector<int32_t> both;
  std::set_intersection(train_set.begin(), train_set.end(), test_set.begin(), test_set.end(), std::back_inserter(both));
  HARNET_CHECK(both.empty(), op, ": subjects ", list_str(both), " are in both the train and the test list");

  Split split;
  for (int64_t i = 0; i < dataset.num_sequences(); ++i) {
    const int32_t s = dataset.subjects[static_cast<size_t>(i)];
    if (train_set.count(s)) split.train.push_back(i);
    if (test_set.count(s)) split.test.push_back(i);
  }
  check_sides(
      split, op,
      str_cat("train subjects [", list_str(train_subjects), "], test subjects [", list_str(test_subjects), "]"));
  return split;
}

Split split_odd_even_subjects(const SkeletonDataset& dataset, bool odd_train) {
  const char* op = "split_odd_even_subjects";
  check_subjects_present(dataset, op);
  Split split;
  for (int64_t i = 0; i < dataset.num_sequences(); ++i) {
    const bool odd = dataset.subjects[static_cast<size_t>(i)] % 2 != 0;
    (odd == odd_train ? split.train : split.test).push_back(i);
  }
  check_sides(split, op,
              str_cat(odd_train ? "odd" : "even", " subjects train; the dataset's subjects are ",
                      list_str(dataset_subjects(dataset))));
  return split;
}

Split split_random(const SkeletonDataset& dataset, double train_fraction, uint64_t seed, bool stratified) {
  const char* op = "split_random";
  HARNET_CHECK(train_fraction > 0.0 && train_fraction < 1.0, op, ": train_fraction must be in (0, 1), got ",
               train_fraction);
  HARNET_CHECK(dataset.num_sequences() >= 1, op, ": the dataset has no sequences");
  // Groups shuffled separately: one group of everything, or one per class (in class order).
  std::vector<std::vector<int64_t>> groups(stratified ? static_cast<size_t>(dataset.num_classes()) : 1);
  for (int64_t i = 0; i < dataset.num_sequences(); ++i) {
    const int32_t label = dataset.labels[static_cast<size_t>(i)];
    HARNET_CHECK(!stratified || (label >= 0 && label < dataset.num_classes()), op, ": label ", label, " of sequence ",
                 i, " is out of range for ", dataset.num_classes(), " classes");
    groups[stratified ? static_cast<size_t>(label) : 0].push_back(i);
  }
  Generator gen(seed);
  Split split;
  for (std::vector<int64_t>& group : groups) {
    shuffle_in_place(group, gen);
    const auto train_count = static_cast<size_t>(std::llround(train_fraction * static_cast<double>(group.size())));
    split.train.insert(split.train.end(), group.begin(), group.begin() + static_cast<std::ptrdiff_t>(train_count));
    split.test.insert(split.test.end(), group.begin() + static_cast<std::ptrdiff_t>(train_count), group.end());
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.test.begin(), split.test.end());
  check_sides(split, op, str_cat(dataset.num_sequences(), " sequences, train_fraction ", train_fraction));
  return split;
}

std::vector<Split> leave_one_subject_out(const SkeletonDataset& dataset) {
  const char* op = "leave_one_subject_out";
  check_subjects_present(dataset, op);
  const std::vector<int32_t> subjects = dataset_subjects(dataset);
  HARNET_CHECK(subjects.size() >= 2, op, ": needs at least 2 subjects, the dataset has only subject ",
               list_str(subjects));
  std::vector<Split> folds;
  for (int32_t held_out : subjects) {
    Split split;
    for (int64_t i = 0; i < dataset.num_sequences(); ++i) {
      (dataset.subjects[static_cast<size_t>(i)] == held_out ? split.test : split.train).push_back(i);
    }
    folds.push_back(std::move(split));
  }
  return folds;
}

ValidationSplit carve_validation_by_subject(const SkeletonDataset& dataset, const std::vector<int64_t>& train,
                                            double validation_fraction, uint64_t seed) {
  const char* op = "carve_validation_by_subject";
  check_subjects_present(dataset, op);
  HARNET_CHECK(validation_fraction > 0.0 && validation_fraction < 1.0, op,
               ": validation_fraction must be in (0, 1), got ", validation_fraction);
  std::set<int32_t> subject_set;
  for (int64_t i : train) {
    HARNET_CHECK(i >= 0 && i < dataset.num_sequences(), op, ": train index ", i, " is out of range for ",
                 dataset.num_sequences(), " sequences");
    subject_set.insert(dataset.subjects[static_cast<size_t>(i)]);
  }
  std::vector<int32_t> subjects(subject_set.begin(), subject_set.end());
  HARNET_CHECK(subjects.size() >= 2, op, ": the training sequences need at least 2 subjects to carve a validation ",
               "split by subject, they have ", subjects.size(), " (subjects [", list_str(subjects), "])");
  int64_t count = std::llround(validation_fraction * static_cast<double>(subjects.size()));
  count = std::clamp<int64_t>(count, 1, static_cast<int64_t>(subjects.size()) - 1);
  Generator gen(seed);
  shuffle_in_place(subjects, gen);
  const std::set<int32_t> validation_subjects(subjects.begin(), subjects.begin() + count);

  ValidationSplit split;
  for (int64_t i : train) {
    (validation_subjects.count(dataset.subjects[static_cast<size_t>(i)]) ? split.validation : split.train).push_back(i);
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.validation.begin(), split.validation.end());
  return split;
}

}  // namespace harnet
