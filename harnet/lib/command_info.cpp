// `harnet info FILE`: reads a dataset file (which validates it against the contract) and prints
// what it holds: classes with their sequence counts, subjects, sequence lengths. An invalid file
// is one error line and exit code 1 (through run_command).
#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>

#include <CLI/CLI.hpp>

#include "autograd/error.h"
#include "data/dataset_io.h"
#include "harnet/lib/command_line.h"
#include "harnet/lib/commands.h"

namespace harnet {

namespace {

// "1 frame", "2 frames"; "1 class", "2 classes"
std::string count_of(int64_t n, const std::string& noun) {
  return str_cat(n, " ", noun, n == 1 ? "" : noun.back() == 's' ? "es" : "s");
}

}  // namespace

std::string dataset_summary(const SkeletonDataset& d) {
  std::vector<bool> present(static_cast<size_t>(d.num_classes()), false);
  for (int32_t label : d.labels) present[static_cast<size_t>(label)] = true;
  const int64_t used = std::count(present.begin(), present.end(), true);
  const std::string classes = used == d.num_classes()
                                  ? count_of(used, "class")
                                  : str_cat(used, " of ", count_of(d.num_classes(), "class"), " present");
  return str_cat(count_of(d.num_sequences(), "sequence"), ", ", count_of(d.num_frames(), "frame"), ", ", classes, ", ",
                 count_of(d.num_subjects(), "subject"));
}

namespace {

void print_info(const std::string& path, const SkeletonDataset& d) {
  std::vector<int64_t> lengths;
  for (int64_t i = 0; i < d.num_sequences(); ++i) lengths.push_back(d.sequence_length(i));
  std::sort(lengths.begin(), lengths.end());
  const size_t n = lengths.size();
  const double median = n % 2 ? static_cast<double>(lengths[n / 2])
                              : 0.5 * static_cast<double>(lengths[n / 2 - 1] + lengths[n / 2]);
  const double mean = static_cast<double>(d.num_frames()) / static_cast<double>(n);
  auto joint = [&](int32_t j) { return d.joint_names[static_cast<size_t>(j)].c_str(); };

  std::printf("%s: valid %s dataset\n", path.c_str(), kSkeletonFormat);
  std::printf("  source     %s\n", d.source.c_str());
  std::printf("  contents   %s\n", dataset_summary(d).c_str());
  std::printf("  skeleton   %lld joints; centre %s, shoulders %s / %s, neck %s\n",
              static_cast<long long>(d.num_joints()), joint(d.center_joint), joint(d.left_shoulder_joint),
              joint(d.right_shoulder_joint), joint(d.neck_joint));
  std::printf("  frames     %lld at %g fps (%.1f s)\n", static_cast<long long>(d.num_frames()), d.fps,
              static_cast<double>(d.num_frames()) / d.fps);
  std::printf("  length     min %lld, median %g, mean %.1f, max %lld frames\n", static_cast<long long>(lengths.front()),
              median, mean, static_cast<long long>(lengths.back()));

  std::map<int32_t, int64_t> per_subject;
  for (int32_t s : d.subjects) ++per_subject[s];
  std::string subjects;
  for (const auto& [id, count] : per_subject) subjects += str_cat(subjects.empty() ? "" : ", ", id, " (", count, ")");
  std::printf("  subjects   %zu: %s\n", per_subject.size(), subjects.c_str());

  std::vector<int64_t> per_class(static_cast<size_t>(d.num_classes()), 0);
  for (int32_t label : d.labels) ++per_class[static_cast<size_t>(label)];
  std::printf("  classes    %lld (sequences each)\n", static_cast<long long>(d.num_classes()));
  for (size_t c = 0; c < per_class.size(); ++c)
    std::printf("    %3zu  %-36s %6lld\n", c, d.class_names[c].c_str(), static_cast<long long>(per_class[c]));
}

}  // namespace

int info_command(const std::vector<std::string>& args) {
  CLI::App app{"Summarises a skeleton dataset file and checks it against the harnet-skeleton-v1 contract.", "info"};
  std::string path;
  app.add_option("file", path, "The HDF5 dataset file")->required();
  int exit_code = 0;
  if (!parse_command_line(app, args, exit_code)) return exit_code;
  print_info(path, read_dataset(path));
  return 0;
}

}  // namespace harnet
