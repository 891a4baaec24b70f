// The HDF5 wrapper's groups, nested paths, listings in creation order, attributes of groups and
// datasets, and write_file_atomically (the root-level calls are covered with the dataset
// contract in tests/test_dataset_io.cpp).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "data/hdf5_file.h"
#include "tests/test_util.h"

namespace harnet {
namespace {

using harnet::testing::error_of;
using harnet::testing::expect_message_has;
using harnet::testing::TempDir;

using Names = std::vector<std::string>;

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Hdf5Groups, NestedGroupsAndDatasetsListInCreationOrder) {
  TempDir dir;
  const std::string path = dir.file("g.h5");
  {
    hdf5::File file = hdf5::File::create(path);
    file.create_group("/a/b/c");  // the parents too
    file.write_dataset("/a/zeta", std::vector<float>{1, 2}, {2});
    file.write_dataset("/a/alpha.0.weight", std::vector<int64_t>{7}, {});  // a scalar; dots are plain characters
    file.write_dataset("/x/y/deep", std::vector<double>{0.5, 1.5, 2.5, 3.5}, {2, 2});  // parents created
    file.close();
  }
  hdf5::File file = hdf5::File::open(path);
  EXPECT_TRUE(file.has_group("/a"));
  EXPECT_TRUE(file.has_group("/a/b/c"));
  EXPECT_TRUE(file.has_group("/x/y"));
  EXPECT_FALSE(file.has_group("/a/zeta"));  // a dataset
  EXPECT_FALSE(file.has_group("/nope/deeper"));
  EXPECT_TRUE(file.has_dataset("/x/y/deep"));
  EXPECT_FALSE(file.has_dataset("/a/b"));  // a group
  EXPECT_FALSE(file.has_dataset("/nope/deeper"));
  EXPECT_EQ(file.member_names("/"), (Names{"a", "x"}));
  EXPECT_EQ(file.member_names("/a"), (Names{"b", "zeta", "alpha.0.weight"}));
  EXPECT_TRUE(file.member_names("/a/b/c").empty());
  EXPECT_EQ(file.read_dataset<int64_t>("/a/alpha.0.weight"), std::vector<int64_t>{7});
  EXPECT_TRUE(file.dataset_info("/a/alpha.0.weight").shape.empty());
  EXPECT_EQ(file.read_dataset<double>("/x/y/deep"), (std::vector<double>{0.5, 1.5, 2.5, 3.5}));
}

TEST(Hdf5Groups, FilesOfOtherToolsListByName) {
  // Written by h5py without creation-order tracking: the members come sorted by name.
  hdf5::File file = hdf5::File::open(std::string(HARNET_FIXTURE_DIR) + "/h5py_contract.h5");
  const Names members = file.member_names("/");
  EXPECT_TRUE(std::is_sorted(members.begin(), members.end()));
  EXPECT_NE(std::find(members.begin(), members.end(), "skeletons"), members.end());
  Names attributes = file.attribute_names("/");
  EXPECT_TRUE(std::is_sorted(attributes.begin(), attributes.end()));
  EXPECT_NE(std::find(attributes.begin(), attributes.end(), "fps"), attributes.end());
}

TEST(Hdf5Attributes, OfGroupsAndDatasetsInCreationOrder) {
  TempDir dir;
  const std::string path = dir.file("attrs.h5");
  {
    hdf5::File file = hdf5::File::create(path);
    file.create_group("/opt/0");
    file.write_scalar_attribute("/opt/0", "lr", 0.25);
    file.write_attribute("/opt/0", "params", std::vector<int64_t>{0, 1, 2}, {3});
    file.write_string_attribute("/opt/0", "kind", "Adam");
    file.write_string_attribute("/opt/0", "tags", Names{"a", "b"});
    file.write_attribute("/opt/0", "empty", std::vector<double>{}, {0});
    file.write_scalar_attribute("/opt/0", "lr", 0.5);  // replaced, keeps no second copy
    file.write_dataset("/opt/w", std::vector<float>{1}, {1});
    file.write_scalar_attribute("/opt/w", "scale", 3.0f);
    file.write_string_attribute("root_note", "at the root");
    file.close();
  }
  hdf5::File file = hdf5::File::open(path);
  EXPECT_EQ(file.attribute_names("/opt/0"), (Names{"params", "kind", "tags", "empty", "lr"}));
  EXPECT_EQ(file.read_attribute<double>("/opt/0", "lr"), std::vector<double>{0.5});
  EXPECT_EQ(file.read_attribute<int64_t>("/opt/0", "params"), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(file.read_string_attribute("/opt/0", "kind"), Names{"Adam"});
  EXPECT_EQ(file.read_string_attribute("/opt/0", "tags"), (Names{"a", "b"}));
  EXPECT_TRUE(file.read_attribute<double>("/opt/0", "empty").empty());
  EXPECT_EQ(file.attribute_info("/opt/0", "empty").shape, std::vector<int64_t>{0});
  EXPECT_TRUE(file.attribute_info("/opt/0", "lr").shape.empty());
  EXPECT_EQ(file.attribute_names("/opt/w"), Names{"scale"});
  EXPECT_EQ(file.read_attribute<float>("/opt/w", "scale"), std::vector<float>{3.0f});
  EXPECT_TRUE(file.has_attribute("/opt/0", "kind"));
  EXPECT_FALSE(file.has_attribute("/opt/0", "nope"));
  EXPECT_FALSE(file.has_attribute("/no/such", "kind"));
  EXPECT_TRUE(file.has_attribute("root_note"));
  EXPECT_EQ(file.attribute_names("/"), Names{"root_note"});
}

TEST(Hdf5Groups, EditingRemovesGroupsAndAttributes) {
  TempDir dir;
  const std::string path = dir.file("edit.h5");
  {
    hdf5::File file = hdf5::File::create(path);
    file.write_dataset("/g/h/d", std::vector<float>{1}, {1});
    file.write_scalar_attribute("/g", "a", 1.0);
    file.close();
  }
  hdf5::File file = hdf5::File::open(path, /*writable=*/true);
  file.remove_attribute("/g", "a");
  EXPECT_TRUE(file.attribute_names("/g").empty());
  file.remove_group("/g/h");
  EXPECT_TRUE(file.member_names("/g").empty());
  file.remove_group("/g");
  EXPECT_TRUE(file.member_names("/").empty());
}

TEST(Hdf5Groups, ErrorsNameTheFileAndTheObject) {
  TempDir dir;
  const std::string path = dir.file("e.h5");
  hdf5::File file = hdf5::File::create(path);
  file.create_group("/g");
  file.write_dataset("/d", std::vector<float>{1}, {1});
  expect_message_has(error_of([&] { file.create_group("/g"); }), {path, "group '/g'", "already exists"});
  expect_message_has(error_of([&] { file.create_group("/d/inner"); }), {path, "'/d' exists and is not a group"});
  expect_message_has(error_of([&] { file.create_group("relative"); }), {"group 'relative'", "not an absolute path"});
  expect_message_has(error_of([&] { file.create_group("/a//b"); }), {"empty name in the path"});
  expect_message_has(error_of([&] { file.create_group("/a/./b"); }), {"'.' cannot name an object"});
  expect_message_has(error_of([&] { file.write_dataset("/d/x", std::vector<float>{1}, {1}); }),
                     {path, "dataset '/d/x'", "'/d' exists and is not a group"});
  expect_message_has(error_of([&] { file.member_names("/d"); }), {path, "group '/d'", "not a group"});
  expect_message_has(error_of([&] { file.member_names("/none"); }), {path, "group '/none'", "missing"});
  expect_message_has(error_of([&] { file.attribute_names("/none"); }), {path, "object '/none'", "missing"});
  expect_message_has(error_of([&] { file.read_attribute<double>("/g", "lr"); }),
                     {path, "attribute 'lr' of '/g'", "missing"});
  expect_message_has(error_of([&] { file.read_attribute<double>("/none", "lr"); }),
                     {path, "attribute 'lr' of '/none'", "no object '/none'"});
  expect_message_has(error_of([&] { file.write_scalar_attribute("/none", "lr", 1.0); }),
                     {path, "attribute 'lr' of '/none'", "no object '/none'"});
  expect_message_has(error_of([&] { file.write_scalar_attribute("/g", "", 1.0); }), {path, "needs a name"});
  expect_message_has(error_of([&] { file.read_dataset<float>("/g"); }), {path, "dataset '/g'", "not a dataset"});
  file.write_string_attribute("/g", "s", "text");
  expect_message_has(error_of([&] { file.read_attribute<double>("/g", "s"); }),
                     {path, "attribute 's' of '/g'", "expected numbers"});
}

TEST(Hdf5AtomicWrite, ReplacesTheFileAndLeavesNothingElse) {
  TempDir dir;
  const std::string path = dir.file("out.h5");
  hdf5::write_file_atomically(path, "test", [](hdf5::File& f) { f.write_scalar_attribute("n", int64_t{1}); });
  hdf5::write_file_atomically(path, "test", [](hdf5::File& f) { f.write_scalar_attribute("n", int64_t{2}); });
  EXPECT_EQ(hdf5::File::open(path).read_attribute<int64_t>("n"), std::vector<int64_t>{2});
  EXPECT_EQ(dir.entries(), Names{"out.h5"});
}

TEST(Hdf5AtomicWrite, AFailureMidWriteRemovesTheTemporaryFileAndKeepsTheOldOne) {
  TempDir dir;
  const std::string path = dir.file("out.h5");
  hdf5::write_file_atomically(path, "first", [](hdf5::File& f) { f.write_scalar_attribute("n", int64_t{1}); });
  const std::string before = file_bytes(path);
  const std::string message = error_of([&] {
    hdf5::write_file_atomically(path, "write 'out.h5'", [](hdf5::File& f) {
      f.write_dataset("/big", std::vector<double>(1000, 1.0), {1000});
      f.create_group("/big");  // fails: a dataset is there
    });
  });
  expect_message_has(message, {"write 'out.h5'", "group '/big'", "already exists"});
  EXPECT_EQ(file_bytes(path), before);
  EXPECT_EQ(dir.entries(), Names{"out.h5"});
}

}  // namespace
}  // namespace harnet
