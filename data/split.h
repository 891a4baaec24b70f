// Train/test splits of a SkeletonDataset as lists of sequence indices (ascending): by
// subject (explicit lists, odd/even, leave one subject out), at random (optionally
// stratified by class), and a validation split carved from training subjects. A split that
// would leave a side empty, or names a subject the dataset does not have, is refused with
// a message naming the subjects.
#pragma once

#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace harnet {

struct Split {
  std::vector<int64_t> train;
  std::vector<int64_t> test;
};

struct ValidationSplit {
  std::vector<int64_t> train;
  std::vector<int64_t> validation;
};

// The distinct subject ids of the dataset, ascending.
std::vector<int32_t> dataset_subjects(const SkeletonDataset& dataset);

// Cross-subject: sequences of train_subjects train, of test_subjects test; subjects in
// neither list are left out. A subject in both lists is an error.
Split split_by_subjects(const SkeletonDataset& dataset, const std::vector<int32_t>& train_subjects,
                        const std::vector<int32_t>& test_subjects);

// Odd subject ids train and even ids test (the reverse when odd_train is false).
Split split_odd_even_subjects(const SkeletonDataset& dataset, bool odd_train = true);

// round(train_fraction * N) random sequences train, the rest test (seeded). Stratified:
// the same within each class, so both sides keep the class proportions.
Split split_random(const SkeletonDataset& dataset, double train_fraction, uint64_t seed, bool stratified = false);

// One fold per subject (in dataset_subjects order): that subject tests, all others train.
std::vector<Split> leave_one_subject_out(const SkeletonDataset& dataset);

// Moves all sequences of round(validation_fraction * S) of the S subjects in `train` (at
// least 1, at most S - 1; chosen at random, seeded) into a validation split.
ValidationSplit carve_validation_by_subject(const SkeletonDataset& dataset, const std::vector<int64_t>& train,
                                            double validation_fraction, uint64_t seed);

}  // namespace harnet
