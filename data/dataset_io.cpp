#include "data/dataset_io.h"

#include <array>
#include <cmath>

#include "autograd/error.h"
#include "data/hdf5_file.h"

namespace harnet {

namespace {

const char* const kJointRoles[] = {"center_joint", "left_shoulder_joint", "right_shoulder_joint", "neck_joint"};

// The joint-role fields, in the order of kJointRoles.
std::array<int32_t*, 4> joint_roles(SkeletonDataset& d) {
  return {&d.center_joint, &d.left_shoulder_joint, &d.right_shoulder_joint, &d.neck_joint};
}
std::array<int32_t, 4> joint_roles(const SkeletonDataset& d) {
  return {d.center_joint, d.left_shoulder_joint, d.right_shoulder_joint, d.neck_joint};
}

// ---- validation

void validate_parents(const SkeletonDataset& d) {
  const int64_t joints = d.num_joints();
  HARNET_CHECK(static_cast<int64_t>(d.parents.size()) == joints, "attribute 'parents': ", d.parents.size(),
               " entries, expected one per joint (", joints, " joint_names)");
  int64_t roots = 0;
  for (int64_t j = 0; j < joints; ++j) {
    const int32_t p = d.parents[static_cast<size_t>(j)];
    HARNET_CHECK(p == -1 || (p >= 0 && p < joints), "attribute 'parents': parent of joint ", j, " is ", p,
                 ", not -1 (root) or a joint index in [0, ", joints, ")");
    roots += p == -1;
  }
  HARNET_CHECK(roots == 1, "attribute 'parents': ", roots, " roots (-1 entries), expected exactly one");
  // A tree: from every joint, following parents reaches the root within J steps (else a cycle).
  for (int64_t j = 0; j < joints; ++j) {
    int64_t at = j, steps = 0;
    while (d.parents[static_cast<size_t>(at)] != -1 && steps <= joints) {
      at = d.parents[static_cast<size_t>(at)];
      ++steps;
    }
    HARNET_CHECK(steps <= joints, "attribute 'parents': joint ", j,
                 " never reaches the root (the parents form a cycle, not a tree)");
  }
}

void validate_offsets(const SkeletonDataset& d, int64_t frames) {
  const int64_t n = d.num_sequences();
  HARNET_CHECK(n >= 1, "dataset '/labels': empty, the dataset holds no sequences");
  HARNET_CHECK(static_cast<int64_t>(d.offsets.size()) == n + 1, "dataset '/offsets': ", d.offsets.size(),
               " entries, expected N+1 = ", n + 1, " for the ", n, " sequences of /labels");
  HARNET_CHECK(d.offsets[0] == 0, "dataset '/offsets': offsets[0] is ", d.offsets[0], ", expected 0");
  for (int64_t i = 0; i < n; ++i)
    HARNET_CHECK(d.offsets[static_cast<size_t>(i + 1)] > d.offsets[static_cast<size_t>(i)],
                 "dataset '/offsets': not increasing at sequence ", i, " (offsets[", i, "] = ",
                 d.offsets[static_cast<size_t>(i)], ", offsets[", i + 1, "] = ", d.offsets[static_cast<size_t>(i + 1)],
                 "); every sequence needs at least one frame");
  HARNET_CHECK(d.offsets.back() == frames, "dataset '/offsets': the last offset is ", d.offsets.back(),
               ", expected the ", frames, " frames of /skeletons");
}

}  // namespace

void validate(const SkeletonDataset& d) {
  const int64_t joints = d.num_joints(), classes = d.num_classes(), n = d.num_sequences();
  HARNET_CHECK(joints >= 1, "attribute 'joint_names': empty, the skeleton needs at least one joint");
  HARNET_CHECK(classes >= 1, "attribute 'class_names': empty, the dataset needs at least one class");
  HARNET_CHECK(std::isfinite(d.fps) && d.fps > 0, "attribute 'fps': ", d.fps, ", expected a positive frame rate");
  for (int i = 0; i < 4; ++i) {
    const int32_t role = joint_roles(d)[static_cast<size_t>(i)];
    HARNET_CHECK(role >= 0 && role < joints, "attribute '", kJointRoles[i], "': ", role,
                 " is not a joint index in [0, ", joints, ")");
  }
  validate_parents(d);

  const int64_t frame_values = joints * 3;
  HARNET_CHECK(static_cast<int64_t>(d.skeletons.size()) % frame_values == 0, "dataset '/skeletons': ",
               d.skeletons.size(), " values are not a whole number of frames of ", joints, " joints x 3");
  const int64_t frames = static_cast<int64_t>(d.skeletons.size()) / frame_values;
  validate_offsets(d, frames);
  HARNET_CHECK(static_cast<int64_t>(d.subjects.size()) == n, "dataset '/subjects': ", d.subjects.size(),
               " entries, expected one per sequence (", n, ")");
  HARNET_CHECK(d.names.empty() || static_cast<int64_t>(d.names.size()) == n, "dataset '/names': ", d.names.size(),
               " entries, expected one per sequence (", n, ")");
  for (int64_t i = 0; i < n; ++i) {
    const int32_t label = d.labels[static_cast<size_t>(i)];
    HARNET_CHECK(label >= 0 && label < classes, "dataset '/labels': label ", label, " of sequence ", i,
                 " is outside the ", classes, " classes of attribute 'class_names'");
  }
  for (size_t k = 0; k < d.skeletons.size(); ++k)
    HARNET_CHECK(std::isfinite(d.skeletons[k]), "dataset '/skeletons': non-finite coordinate ", d.skeletons[k],
                 " at frame ", static_cast<int64_t>(k) / frame_values, ", joint ",
                 (static_cast<int64_t>(k) % frame_values) / 3, ", axis ", "xyz"[k % 3]);
}

// ---- reading

namespace {

std::string attribute_where(const hdf5::File& file, const std::string& name) {
  return str_cat("HDF5 file '", file.path(), "', attribute '", name, "'");
}
std::string dataset_where(const hdf5::File& file, const std::string& name) {
  return str_cat("HDF5 file '", file.path(), "', dataset '", name, "'");
}

void require_single_value(const hdf5::File& file, const std::string& name) {
  const hdf5::ObjectInfo info = file.attribute_info(name);
  HARNET_CHECK(info.num_elements() == 1 && info.shape.size() <= 1, attribute_where(file, name), ": shape ",
               info.shape, ", expected a single value");
}

std::string read_string_value(const hdf5::File& file, const std::string& name) {
  require_single_value(file, name);
  return file.read_string_attribute(name).front();
}

std::vector<std::string> read_string_list(const hdf5::File& file, const std::string& name) {
  const hdf5::ObjectInfo info = file.attribute_info(name);
  HARNET_CHECK(info.shape.size() == 1, attribute_where(file, name), ": shape ", info.shape,
               ", expected a 1-D array of strings");
  return file.read_string_attribute(name);
}

int32_t read_int_value(const hdf5::File& file, const std::string& name) {
  require_single_value(file, name);
  return file.read_attribute<int32_t>(name).front();
}

// The shape of a dataset, checked to have `rank` dimensions.
std::vector<int64_t> dataset_shape(const hdf5::File& file, const std::string& name, size_t rank,
                                   const char* expected) {
  const hdf5::ObjectInfo info = file.dataset_info(name);
  HARNET_CHECK(info.shape.size() == rank, dataset_where(file, name), ": shape ", info.shape, " has rank ",
               info.shape.size(), ", expected ", expected);
  return info.shape;
}

SkeletonDataset read_contract(const hdf5::File& file) {
  SkeletonDataset d;
  // The format first: a file of another kind is refused before its details are judged.
  const std::string format = read_string_value(file, "format");
  HARNET_CHECK(format == kSkeletonFormat, attribute_where(file, "format"), ": '", format, "', expected '",
               kSkeletonFormat, "'");
  d.joint_names = read_string_list(file, "joint_names");
  d.class_names = read_string_list(file, "class_names");
  HARNET_CHECK(file.attribute_info("parents").shape.size() == 1, attribute_where(file, "parents"), ": shape ",
               file.attribute_info("parents").shape, ", expected a 1-D array of J integers");
  d.parents = file.read_attribute<int32_t>("parents");
  require_single_value(file, "fps");
  d.fps = file.read_attribute<double>("fps").front();
  d.source = read_string_value(file, "source");
  for (int i = 0; i < 4; ++i) *joint_roles(d)[static_cast<size_t>(i)] = read_int_value(file, kJointRoles[i]);

  const int64_t joints = static_cast<int64_t>(d.joint_names.size());
  const std::vector<int64_t> shape = dataset_shape(file, "/skeletons", 3, "3 ([F, J, 3])");
  HARNET_CHECK(shape[1] == joints && shape[2] == 3, dataset_where(file, "/skeletons"), ": shape ", shape,
               ", expected [F, ", joints, ", 3] (", joints, " joints in attribute 'joint_names', x y z)");
  const int64_t n = dataset_shape(file, "/labels", 1, "1 ([N])")[0];
  const int64_t offsets = dataset_shape(file, "/offsets", 1, "1 ([N+1])")[0];
  HARNET_CHECK(offsets == n + 1, dataset_where(file, "/offsets"), ": ", offsets, " entries, expected N+1 = ", n + 1,
               " for the ", n, " sequences of /labels");
  const int64_t subjects = dataset_shape(file, "/subjects", 1, "1 ([N])")[0];
  HARNET_CHECK(subjects == n, dataset_where(file, "/subjects"), ": ", subjects, " entries, expected one per sequence (",
               n, " in /labels)");
  if (file.has_dataset("/names")) {
    const int64_t names = dataset_shape(file, "/names", 1, "1 ([N])")[0];
    HARNET_CHECK(names == n, dataset_where(file, "/names"), ": ", names, " entries, expected one per sequence (", n,
                 " in /labels)");
    d.names = file.read_string_dataset("/names");
  }
  d.skeletons = file.read_dataset<float>("/skeletons");
  d.offsets = file.read_dataset<int64_t>("/offsets");
  d.labels = file.read_dataset<int32_t>("/labels");
  d.subjects = file.read_dataset<int32_t>("/subjects");
  return d;
}

}  // namespace

SkeletonDataset read_dataset(const std::string& path) {
  hdf5::File file = hdf5::File::open(path);
  SkeletonDataset dataset = read_contract(file);
  try {
    validate(dataset);
  } catch (const Error& e) {
    throw Error(str_cat("HDF5 file '", path, "', ", e.what()));
  }
  return dataset;
}

// ---- writing

namespace {

void write_contract(hdf5::File& file, const SkeletonDataset& d, const DatasetWriteOptions& options) {
  const int64_t n = d.num_sequences(), joints = d.num_joints();
  file.write_string_attribute("format", std::string(kSkeletonFormat));
  file.write_string_attribute("class_names", d.class_names);
  file.write_string_attribute("joint_names", d.joint_names);
  file.write_attribute("parents", d.parents, {joints});
  file.write_scalar_attribute("fps", d.fps);
  file.write_string_attribute("source", d.source);
  for (int i = 0; i < 4; ++i) file.write_scalar_attribute(kJointRoles[i], joint_roles(d)[static_cast<size_t>(i)]);

  file.write_dataset("/skeletons", d.skeletons, {d.num_frames(), joints, 3}, hdf5::DatasetLayout{options.compress});
  file.write_dataset("/offsets", d.offsets, {n + 1});
  file.write_dataset("/labels", d.labels, {n});
  file.write_dataset("/subjects", d.subjects, {n});
  if (!d.names.empty()) file.write_string_dataset("/names", d.names);
}

}  // namespace

void write_dataset(const std::string& path, const SkeletonDataset& dataset, const DatasetWriteOptions& options) {
  const std::string where = str_cat("write_dataset '", path, "'");
  try {
    validate(dataset);
  } catch (const Error& e) {
    throw Error(str_cat(where, ": refusing to write a dataset that breaks the contract: ", e.what()));
  }
  hdf5::write_file_atomically(path, where, [&](hdf5::File& file) { write_contract(file, dataset, options); });
}

}  // namespace harnet
