// The harnet-skeleton-v1 HDF5 contract: write/read round trips, atomic writing, files of other
// tools (h5py), and one refusal test per broken rule, each checking that the message names the
// file and the dataset or attribute at fault.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "autograd/error.h"
#include "data/dataset_io.h"
#include "data/hdf5_file.h"
#include "harnet/lib/commands.h"
#include "tests/test_util.h"

namespace harnet {
namespace {

namespace fs = std::filesystem;
using harnet::testing::error_of;

using harnet::testing::TempDir;

// 3 joints (a chain), 2 classes, 3 sequences of 2, 1 and 3 frames.
SkeletonDataset small_dataset() {
  SkeletonDataset d;
  d.joint_names = {"root", "middle", "tip"};
  d.parents = {-1, 0, 1};
  d.class_names = {"wave", "kick"};
  d.offsets = {0, 2, 3, 6};
  d.labels = {1, 0, 1};
  d.subjects = {4, 4, 9};
  d.names = {"first", "second", "third \xc3\xa9"};
  for (int k = 0; k < 6 * 3 * 3; ++k) d.skeletons.push_back(0.125f * static_cast<float>(k) - 2.0f);
  d.fps = 15.0;
  d.source = "unit test";
  d.center_joint = 0;
  d.left_shoulder_joint = 1;
  d.right_shoulder_joint = 2;
  d.neck_joint = 1;
  return d;
}

void expect_equal(const SkeletonDataset& a, const SkeletonDataset& b) {
  EXPECT_EQ(a.skeletons, b.skeletons);
  EXPECT_EQ(a.offsets, b.offsets);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.subjects, b.subjects);
  EXPECT_EQ(a.names, b.names);
  EXPECT_EQ(a.class_names, b.class_names);
  EXPECT_EQ(a.joint_names, b.joint_names);
  EXPECT_EQ(a.parents, b.parents);
  EXPECT_EQ(a.fps, b.fps);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.center_joint, b.center_joint);
  EXPECT_EQ(a.left_shoulder_joint, b.left_shoulder_joint);
  EXPECT_EQ(a.right_shoulder_joint, b.right_shoulder_joint);
  EXPECT_EQ(a.neck_joint, b.neck_joint);
}


void expect_contains(const std::string& message, const std::vector<std::string>& parts) {
  for (const std::string& part : parts)
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
}

// Writes a good file, lets `edit` break it through the HDF5 wrapper, and checks that reading
// it is refused with a message naming the file and containing `parts`.
void expect_refused_after(const std::function<void(hdf5::File&)>& edit, const std::vector<std::string>& parts) {
  TempDir dir;
  const std::string path = dir.file("edited.h5");
  write_dataset(path, small_dataset(), {.compress = false});
  {
    hdf5::File file = hdf5::File::open(path, /*writable=*/true);
    edit(file);
    file.close();
  }
  std::vector<std::string> all = parts;
  all.push_back(path);
  expect_contains(error_of([&] { read_dataset(path); }), all);
}

// ---- round trips and writing

TEST(DatasetIo, RoundTripKeepsEveryFieldCompressedOrNot) {
  TempDir dir;
  for (bool compress : {true, false}) {
    const std::string path = dir.file(compress ? "compressed.h5" : "plain.h5");
    write_dataset(path, small_dataset(), {.compress = compress});
    SCOPED_TRACE(path);
    expect_equal(read_dataset(path), small_dataset());
  }
}

TEST(DatasetIo, NamesAreOptional) {
  TempDir dir;
  SkeletonDataset d = small_dataset();
  d.names.clear();
  write_dataset(dir.file("no_names.h5"), d);
  EXPECT_FALSE(hdf5::File::open(dir.file("no_names.h5")).has_dataset("/names"));
  expect_equal(read_dataset(dir.file("no_names.h5")), d);
}

TEST(DatasetIo, WritesTheContractTypesAndShapes) {
  TempDir dir;
  write_dataset(dir.file("d.h5"), small_dataset());
  hdf5::File file = hdf5::File::open(dir.file("d.h5"));
  auto expect = [&](const hdf5::ObjectInfo& info, const std::string& type, const std::vector<int64_t>& shape) {
    EXPECT_EQ(info.type_name, type);
    EXPECT_EQ(info.shape, shape);
  };
  expect(file.dataset_info("/skeletons"), "float32", {6, 3, 3});
  expect(file.dataset_info("/offsets"), "int64", {4});
  expect(file.dataset_info("/labels"), "int32", {3});
  expect(file.dataset_info("/subjects"), "int32", {3});
  expect(file.dataset_info("/names"), "variable-length string", {3});
  expect(file.attribute_info("format"), "variable-length string", {});
  expect(file.attribute_info("class_names"), "variable-length string", {2});
  expect(file.attribute_info("joint_names"), "variable-length string", {3});
  expect(file.attribute_info("parents"), "int32", {3});
  expect(file.attribute_info("fps"), "float64", {});
  expect(file.attribute_info("center_joint"), "int32", {});
  EXPECT_EQ(file.read_string_attribute("format"), std::vector<std::string>{"harnet-skeleton-v1"});
}

TEST(DatasetIo, RewritingReplacesTheFileAndLeavesNoTemporaryFile) {
  TempDir dir;
  const std::string path = dir.file("data.h5");
  write_dataset(path, small_dataset());
  SkeletonDataset second = small_dataset();
  second.labels = {0, 0, 0};
  second.source = "second";
  write_dataset(path, second);
  expect_equal(read_dataset(path), second);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"data.h5"});
}

TEST(DatasetIo, RefusesToWriteAnInvalidDatasetAndKeepsTheGoodFile) {
  TempDir dir;
  const std::string path = dir.file("good.h5");
  write_dataset(path, small_dataset());
  SkeletonDataset bad = small_dataset();
  bad.labels[1] = 7;
  expect_contains(error_of([&] { write_dataset(path, bad); }), {path, "dataset '/labels'", "label 7"});
  expect_equal(read_dataset(path), small_dataset());
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"good.h5"});
}

TEST(DatasetIo, UnwritablePathsAreClearErrors) {
  TempDir dir;
  const std::string missing_dir = dir.file("no/such/dir/out.h5");
  expect_contains(error_of([&] { write_dataset(missing_dir, small_dataset()); }),
                  {missing_dir, "directory", "does not exist"});
  std::ofstream(dir.file("plain_file")) << "x";
  const std::string under_file = dir.file("plain_file/out.h5");
  expect_contains(error_of([&] { write_dataset(under_file, small_dataset()); }), {under_file, "not a directory"});
  // The destination is a directory: the finished temporary file cannot be renamed over it;
  // it must be cleaned up and the directory left alone.
  fs::create_directory(dir.file("taken"));
  expect_contains(error_of([&] { write_dataset(dir.file("taken"), small_dataset()); }),
                  {dir.file("taken"), "cannot move the finished file"});
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"plain_file", "taken"}));
  EXPECT_TRUE(fs::is_empty(dir.file("taken")));
}

TEST(DatasetIo, ReadOnlyDirectoryIsAClearError) {
  if (geteuid() == 0) GTEST_SKIP() << "running as root: permissions do not stop writes";
  TempDir dir;
  fs::create_directory(dir.file("locked"));
  fs::permissions(dir.file("locked"), fs::perms::owner_read | fs::perms::owner_exec);
  const std::string path = dir.file("locked/out.h5");
  expect_contains(error_of([&] { write_dataset(path, small_dataset()); }), {path, "cannot create a file", "ermission"});
  fs::permissions(dir.file("locked"), fs::perms::owner_all);
}

// ---- files of other tools

TEST(DatasetIo, ReadsTheFileWrittenByH5py) {
  // tools/write_contract_with_h5py.py: float64 skeletons, int32 offsets, int16 labels, uint8
  // subjects, fixed-length and variable-length strings, int8..int64 roles, float32 fps.
  const std::string path = std::string(HARNET_FIXTURE_DIR) + "/h5py_contract.h5";
  const SkeletonDataset d = read_dataset(path);
  EXPECT_EQ(d.offsets, (std::vector<int64_t>{0, 2, 5, 6, 8}));
  EXPECT_EQ(d.labels, (std::vector<int32_t>{2, 0, 1, 2}));
  EXPECT_EQ(d.subjects, (std::vector<int32_t>{7, 3, 7, 11}));
  EXPECT_EQ(d.names, (std::vector<std::string>{"s\xc3\xa9q-0", "seq-1", "seq-2", "seq-3"}));
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"wave", "punch", "kick"}));
  EXPECT_EQ(d.joint_names, (std::vector<std::string>{"hip", "spine", "neck", "head"}));
  EXPECT_EQ(d.parents, (std::vector<int32_t>{-1, 0, 1, 2}));
  EXPECT_EQ(d.fps, 7.5);
  EXPECT_EQ(d.source, "written by h5py");
  EXPECT_EQ(d.center_joint, 0);
  EXPECT_EQ(d.left_shoulder_joint, 2);
  EXPECT_EQ(d.right_shoulder_joint, 2);
  EXPECT_EQ(d.neck_joint, 2);
  ASSERT_EQ(d.skeletons.size(), 8u * 4u * 3u);
  for (int f = 0; f < 8; ++f)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 3; ++k)
        EXPECT_EQ(d.skeletons[static_cast<size_t>((f * 4 + j) * 3 + k)], f + j / 4.0f + k / 16.0f);
}

TEST(DatasetIo, AcceptsOtherNumberWidths) {
  TempDir dir;
  const std::string path = dir.file("widths.h5");
  const SkeletonDataset d = small_dataset();
  write_dataset(path, d, {.compress = false});
  {
    hdf5::File file = hdf5::File::open(path, true);
    file.write_dataset("/skeletons", std::vector<double>(d.skeletons.begin(), d.skeletons.end()), {6, 3, 3});
    file.write_dataset("/offsets", std::vector<uint16_t>{0, 2, 3, 6}, {4});
    file.write_dataset("/labels", std::vector<int8_t>{1, 0, 1}, {3});
    file.write_dataset("/subjects", std::vector<int64_t>{4, 4, 9}, {3});
    file.write_attribute("parents", std::vector<int16_t>{-1, 0, 1}, {3});
    file.write_attribute("fps", std::vector<float>{15.0f}, {1});  // a 1-element array for a scalar
    file.write_scalar_attribute("neck_joint", uint64_t{1});
    file.close();
  }
  expect_equal(read_dataset(path), d);
}

// ---- refusals

TEST(DatasetIoRefusal, MissingDatasets) {
  for (const char* name : {"/skeletons", "/offsets", "/labels", "/subjects"})
    expect_refused_after([&](hdf5::File& f) { f.remove_dataset(name); }, {str_cat("dataset '", name, "'"), "missing"});
}

TEST(DatasetIoRefusal, MissingAttributes) {
  for (const char* name : {"format", "class_names", "joint_names", "parents", "fps", "source", "center_joint",
                           "left_shoulder_joint", "right_shoulder_joint", "neck_joint"})
    expect_refused_after([&](hdf5::File& f) { f.remove_attribute(name); },
                         {str_cat("attribute '", name, "'"), "missing"});
}

TEST(DatasetIoRefusal, WrongFormat) {
  expect_refused_after([](hdf5::File& f) { f.write_string_attribute("format", std::string("harnet-skeleton-v2")); },
                       {"attribute 'format'", "'harnet-skeleton-v2'", "expected 'harnet-skeleton-v1'"});
  expect_refused_after([](hdf5::File& f) { f.write_scalar_attribute("format", int32_t{1}); },
                       {"attribute 'format'", "int32", "expected strings"});
}

TEST(DatasetIoRefusal, WrongSkeletonShapes) {
  const std::vector<float> values(6 * 3 * 3, 0.5f);
  expect_refused_after([&](hdf5::File& f) { f.write_dataset("/skeletons", values, {6, 9}); },
                       {"dataset '/skeletons'", "rank 2"});
  expect_refused_after([&](hdf5::File& f) { f.write_dataset("/skeletons", values, {6, 9, 1}); },
                       {"dataset '/skeletons'", "[6, 9, 1]", "expected [F, 3, 3]"});
  expect_refused_after([&](hdf5::File& f) { f.write_dataset("/skeletons", std::vector<float>(5 * 3 * 3), {5, 3, 3}); },
                       {"dataset '/offsets'", "last offset is 6", "5 frames"});
  expect_refused_after([&](hdf5::File& f) { f.write_string_dataset("/skeletons", {"1", "2"}); },
                       {"dataset '/skeletons'", "rank 1"});
}

TEST(DatasetIoRefusal, BadOffsets) {
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/offsets", std::vector<int64_t>{1, 2, 3, 6}, {4}); },
                       {"dataset '/offsets'", "offsets[0] is 1"});
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/offsets", std::vector<int64_t>{0, 3, 2, 6}, {4}); },
                       {"dataset '/offsets'", "not increasing at sequence 1"});
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/offsets", std::vector<int64_t>{0, 2, 2, 6}, {4}); },
                       {"dataset '/offsets'", "not increasing at sequence 1"});
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/offsets", std::vector<int64_t>{0, 2, 3, 5}, {4}); },
                       {"dataset '/offsets'", "last offset is 5", "6 frames"});
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/offsets", std::vector<int64_t>{0, 2, 6}, {3}); },
                       {"dataset '/offsets'", "3 entries, expected N+1 = 4"});
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/offsets", std::vector<double>{0, 2, 3, 6}, {4}); },
                       {"dataset '/offsets'", "float64", "expected integers"});
}

TEST(DatasetIoRefusal, LabelsOutsideTheClassList) {
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/labels", std::vector<int32_t>{1, 2, 0}, {3}); },
                       {"dataset '/labels'", "label 2 of sequence 1", "2 classes of attribute 'class_names'"});
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/labels", std::vector<int32_t>{1, 0, -1}, {3}); },
                       {"dataset '/labels'", "label -1 of sequence 2"});
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/labels", std::vector<float>{1, 0, 1}, {3}); },
                       {"dataset '/labels'", "float32", "expected integers"});
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/labels", std::vector<int32_t>{1, 0, 1}, {3, 1}); },
                       {"dataset '/labels'", "rank 2"});
  expect_refused_after([](hdf5::File& f) { f.write_string_attribute("class_names", std::vector<std::string>{}); },
                       {"attribute 'class_names'", "empty"});
}

TEST(DatasetIoRefusal, PerSequenceDatasetsOfTheWrongLength) {
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/subjects", std::vector<int32_t>{1, 2}, {2}); },
                       {"dataset '/subjects'", "2 entries, expected one per sequence (3"});
  expect_refused_after([](hdf5::File& f) { f.write_string_dataset("/names", {"a", "b", "c", "d"}); },
                       {"dataset '/names'", "4 entries, expected one per sequence (3"});
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/names", std::vector<int32_t>{1, 2, 3}, {3}); },
                       {"dataset '/names'", "expected strings"});
}

TEST(DatasetIoRefusal, NonFiniteCoordinates) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    std::vector<float> values = small_dataset().skeletons;
    values[(4 * 3 + 2) * 3 + 1] = bad;  // frame 4, joint 2, y
    expect_refused_after([&](hdf5::File& f) { f.write_dataset("/skeletons", values, {6, 3, 3}); },
                         {"dataset '/skeletons'", "non-finite", "frame 4, joint 2, axis y"});
  }
}

TEST(DatasetIoRefusal, JointRolesOutOfRange) {
  for (const char* role : {"center_joint", "left_shoulder_joint", "right_shoulder_joint", "neck_joint"}) {
    expect_refused_after([&](hdf5::File& f) { f.write_scalar_attribute(role, int32_t{3}); },
                         {str_cat("attribute '", role, "'"), "3 is not a joint index in [0, 3)"});
    expect_refused_after([&](hdf5::File& f) { f.write_scalar_attribute(role, int64_t{-1}); },
                         {str_cat("attribute '", role, "'"), "-1 is not a joint index"});
  }
  expect_refused_after([](hdf5::File& f) { f.write_attribute("neck_joint", std::vector<int32_t>{1, 2}, {2}); },
                       {"attribute 'neck_joint'", "shape [2], expected a single value"});
  expect_refused_after([](hdf5::File& f) { f.write_scalar_attribute("neck_joint", 1.0); },
                       {"attribute 'neck_joint'", "float64", "expected integers"});
}

TEST(DatasetIoRefusal, ParentsThatAreNotATree) {
  auto parents = [](std::vector<int32_t> p) {
    return [p](hdf5::File& f) { f.write_attribute("parents", p, {static_cast<int64_t>(p.size())}); };
  };
  expect_refused_after(parents({-1, 0, 3}), {"attribute 'parents'", "parent of joint 2 is 3"});
  expect_refused_after(parents({-1, -2, 0}), {"attribute 'parents'", "parent of joint 1 is -2"});
  expect_refused_after(parents({-1, -1, 0}), {"attribute 'parents'", "2 roots"});
  expect_refused_after(parents({1, 2, 0}), {"attribute 'parents'", "0 roots"});
  expect_refused_after(parents({-1, 2, 1}), {"attribute 'parents'", "joint 1 never reaches the root", "cycle"});
  expect_refused_after(parents({-1, 0}), {"attribute 'parents'", "2 entries, expected one per joint (3"});
  expect_refused_after([](hdf5::File& f) { f.write_attribute("parents", std::vector<int32_t>{-1, 0, 1}, {1, 3}); },
                       {"attribute 'parents'", "1-D"});
}

TEST(DatasetIoRefusal, BadFrameRateAndStringAttributes) {
  expect_refused_after([](hdf5::File& f) { f.write_scalar_attribute("fps", 0.0); },
                       {"attribute 'fps'", "expected a positive frame rate"});
  expect_refused_after([](hdf5::File& f) { f.write_scalar_attribute("fps", std::nan("")); },
                       {"attribute 'fps'", "nan"});
  expect_refused_after([](hdf5::File& f) { f.write_string_attribute("fps", std::string("15")); },
                       {"attribute 'fps'", "string", "expected numbers"});
  expect_refused_after([](hdf5::File& f) { f.write_string_attribute("joint_names", std::string("root")); },
                       {"attribute 'joint_names'", "expected a 1-D array of strings"});
  expect_refused_after([](hdf5::File& f) { f.write_attribute("class_names", std::vector<int32_t>{1, 2}, {2}); },
                       {"attribute 'class_names'", "int32", "expected strings"});
}

TEST(DatasetIoRefusal, NotAnHdf5File) {
  TempDir dir;
  const std::string text = dir.file("notes.h5");
  std::ofstream(text) << "just some text, not HDF5\n";
  expect_contains(error_of([&] { read_dataset(text); }), {text, "not an HDF5 file"});
  const std::string empty = dir.file("empty.h5");
  { std::ofstream create(empty); }
  expect_contains(error_of([&] { read_dataset(empty); }), {empty, "not an HDF5 file"});
  expect_contains(error_of([&] { read_dataset(dir.file("absent.h5")); }), {dir.file("absent.h5"), "no such file"});
  expect_contains(error_of([&] { read_dataset(dir.path().string()); }), {"not a regular file"});
}

TEST(DatasetIoRefusal, TruncatedFile) {
  TempDir dir;
  const std::string path = dir.file("cut.h5");
  SkeletonDataset big = small_dataset();
  big.skeletons.assign(6 * 3 * 3, 1.5f);
  write_dataset(path, big, {.compress = false});
  fs::resize_file(path, fs::file_size(path) / 2);
  expect_contains(error_of([&] { read_dataset(path); }), {path, "truncated"});
  fs::resize_file(path, 4);  // even the signature is cut off
  expect_contains(error_of([&] { read_dataset(path); }), {path, "not an HDF5 file"});
}

TEST(DatasetIoRefusal, ValidateNamesTheFieldInMemory) {
  SkeletonDataset d = small_dataset();
  d.skeletons.pop_back();
  expect_contains(error_of([&] { validate(d); }), {"dataset '/skeletons'", "not a whole number of frames"});
  d = small_dataset();
  d.joint_names.clear();
  expect_contains(error_of([&] { validate(d); }), {"attribute 'joint_names'", "empty"});
  d = small_dataset();
  d.labels.clear();
  d.subjects.clear();
  d.names.clear();
  d.offsets = {0};
  d.skeletons.clear();
  expect_contains(error_of([&] { validate(d); }), {"dataset '/labels'", "no sequences"});
  EXPECT_NO_THROW(validate(small_dataset()));
}

// ---- the HDF5 wrapper itself

TEST(Hdf5File, LeavesNoHandleOpenAndRestoresErrorPrinting) {
  H5E_auto2_t print_before = nullptr;
  void* data_before = nullptr;
  H5Eget_auto2(H5E_DEFAULT, &print_before, &data_before);
  const ssize_t open_before = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  TempDir dir;
  write_dataset(dir.file("good.h5"), small_dataset());
  EXPECT_NO_THROW(read_dataset(dir.file("good.h5")));
  expect_refused_after([](hdf5::File& f) { f.write_dataset("/labels", std::vector<int32_t>{1, 0, 5}, {3}); },
                       {"label 5"});
  expect_refused_after([](hdf5::File& f) { f.remove_attribute("fps"); }, {"attribute 'fps'"});
  std::ofstream(dir.file("text.h5")) << "text";
  EXPECT_THROW(read_dataset(dir.file("text.h5")), Error);
  EXPECT_THROW(hdf5::File::open(dir.file("good.h5")).read_dataset<int32_t>("/skeletons"), Error);
  EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), open_before) << "an HDF5 object was left open";
  H5E_auto2_t print_after = nullptr;
  void* data_after = nullptr;
  H5Eget_auto2(H5E_DEFAULT, &print_after, &data_after);
  EXPECT_EQ(print_after, print_before);
  EXPECT_EQ(data_after, data_before);
}

TEST(Hdf5File, ErrorsNameTheFileAndTheObject) {
  TempDir dir;
  write_dataset(dir.file("d.h5"), small_dataset());
  hdf5::File file = hdf5::File::open(dir.file("d.h5"));
  expect_contains(error_of([&] { file.read_dataset<int64_t>("/skeletons"); }),
                  {dir.file("d.h5"), "dataset '/skeletons'", "float32", "expected integers"});
  expect_contains(error_of([&] { file.read_string_attribute("nope"); }),
                  {dir.file("d.h5"), "attribute 'nope'", "missing"});
  expect_contains(error_of([&] { file.write_dataset("/x", std::vector<float>{1}, {1}); }),
                  {dir.file("d.h5"), "dataset '/x'", "cannot create"});  // opened read-only
  write_dataset(dir.file("e.h5"), small_dataset());
  hdf5::File writable = hdf5::File::open(dir.file("e.h5"), /*writable=*/true);
  expect_contains(error_of([&] { writable.write_dataset("/y", std::vector<float>{1, 2}, {3}); }),
                  {dir.file("e.h5"), "dataset '/y'", "2 values do not fill shape [3]"});
  EXPECT_TRUE(file.has_dataset("/labels"));
  EXPECT_FALSE(file.has_dataset("/nope"));
  EXPECT_TRUE(file.has_attribute("fps"));
  EXPECT_FALSE(file.has_attribute("nope"));
}

// ---- harnet info

TEST(InfoCommand, SummarisesAValidFileAndFailsInOneLineOnAnInvalidOne) {
  TempDir dir;
  write_dataset(dir.file("ok.h5"), small_dataset());
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run_command("info", [&] { return info_command({dir.file("ok.h5")}); }), 0);
  const std::string out = ::testing::internal::GetCapturedStdout();
  expect_contains(out.substr(0, out.find('\n')), {"valid harnet-skeleton-v1 dataset"});
  EXPECT_NE(out.find("3 sequences, 6 frames, 2 classes, 2 subjects"), std::string::npos) << out;
  EXPECT_NE(out.find("min 1, median 2, mean 2.0, max 3 frames"), std::string::npos) << out;
  EXPECT_NE(out.find("4 (2), 9 (1)"), std::string::npos) << out;

  std::ofstream(dir.file("bad.h5")) << "not hdf5";
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run_command("info", [&] { return info_command({dir.file("bad.h5")}); }), 1);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  expect_contains(err.substr(0, err.size() - 1), {"harnet info: error:", dir.file("bad.h5"), "not an HDF5 file"});
}

}  // namespace
}  // namespace harnet
