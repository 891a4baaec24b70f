// MSR Action3D converter: small fixture folders written here (exact values, dropped frames,
// every malformed-file error with its file and line), the joint tree against the README's bone
// list, `harnet convert`, and the real data when available (HARNET_DATA, or ../shared beside
// the repository; skipped with a message otherwise).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "autograd/error.h"
#include "data/dataset_io.h"
#include "data/msr_action3d.h"
#include "harnet/lib/commands.h"
#include "tests/test_util.h"

namespace harnet {
namespace {

namespace fs = std::filesystem;
using harnet::testing::error_of;

using harnet::testing::TempDir;


void expect_contains(const std::string& message, const std::vector<std::string>& parts) {
  for (const std::string& part : parts)
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
}

// The coordinate a fixture file holds for (frame, joint, axis); frames listed in `untracked`
// are all zeros.
float fixture_value(int frame, int joint, int axis) {
  return 0.5f * static_cast<float>(frame) + 0.03125f * static_cast<float>(joint) - 0.25f * static_cast<float>(axis);
}

std::string fixture_text(int frames, const std::set<int>& untracked, bool final_newline = true) {
  std::ostringstream text;
  for (int f = 0; f < frames; ++f)
    for (int j = 0; j < kMsrJoints; ++j) {
      for (int k = 0; k < 3; ++k) text << (untracked.count(f) ? 0.0f : fixture_value(f, j, k)) << ' ';
      text << (untracked.count(f) ? "0.000000" : "1.000000");
      if (f + 1 < frames || j + 1 < kMsrJoints || final_newline) text << '\n';
    }
  return text.str();
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// Three listed sequences (one with an untracked frame, one with no final newline, one with
// only untracked frames) and one unlisted sequence; the list's last line has no newline.
void write_fixture_folder(const TempDir& dir) {
  write_file(dir.file("a01_s01_e01_skeleton3D.txt"), fixture_text(3, {1}));
  write_file(dir.file("a20_s10_e03_skeleton3D.txt"), fixture_text(2, {}, /*final_newline=*/false));
  write_file(dir.file("a05_s02_e01_skeleton3D.txt"), fixture_text(2, {0, 1}));
  write_file(dir.file("a07_s04_e02_skeleton3D.txt"), fixture_text(4, {}));
  write_file(dir.file(kMsrPaperList), "a20_s10_e03\r\na01_s01_e01\na05_s02_e01");
}

TEST(MsrAction3d, ConvertsTheListedFilesInListOrder) {
  TempDir dir;
  write_fixture_folder(dir);
  const ConvertedDataset c = read_msr_action3d(dir.path().string());
  const SkeletonDataset& d = c.dataset;
  EXPECT_NO_THROW(validate(d));
  EXPECT_EQ(d.names, (std::vector<std::string>{"a20_s10_e03", "a01_s01_e01"}));
  EXPECT_EQ(d.labels, (std::vector<int32_t>{19, 0}));
  EXPECT_EQ(d.subjects, (std::vector<int32_t>{10, 1}));
  EXPECT_EQ(d.offsets, (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(c.frames_dropped, 1 + 2);
  EXPECT_EQ(c.sequences_dropped, std::vector<std::string>{"a05_s02_e01"});
  // Sequence 1 is a01_s01_e01 without its frame 1: raw frames 0 and 2.
  const int raw_frames[] = {0, 1, 0, 2};
  ASSERT_EQ(d.skeletons.size(), 4u * kMsrJoints * 3);
  for (int f = 0; f < 4; ++f)
    for (int j = 0; j < kMsrJoints; ++j)
      for (int k = 0; k < 3; ++k)
        EXPECT_EQ(d.skeletons[static_cast<size_t>((f * kMsrJoints + j) * 3 + k)], fixture_value(raw_frames[f], j, k))
            << "frame " << f << " joint " << j;
  EXPECT_EQ(d.fps, 15.0);
  EXPECT_EQ(d.class_names.size(), 20u);
  EXPECT_EQ(d.class_names[0], "high arm wave");
  EXPECT_EQ(d.class_names[19], "pick up & throw");
  EXPECT_EQ(d.joint_names[static_cast<size_t>(d.center_joint)], "HipCenter");
  EXPECT_EQ(d.joint_names[static_cast<size_t>(d.left_shoulder_joint)], "ShoulderLeft");
  EXPECT_EQ(d.joint_names[static_cast<size_t>(d.right_shoulder_joint)], "ShoulderRight");
  EXPECT_EQ(d.joint_names[static_cast<size_t>(d.neck_joint)], "ShoulderCenter");
}

TEST(MsrAction3d, AllFilesTakesEverySequenceFileByName) {
  TempDir dir;
  write_fixture_folder(dir);
  write_file(dir.file("readme.txt"), "not a sequence");
  const ConvertedDataset c = read_msr_action3d(dir.path().string(), {.all_files = true});
  EXPECT_EQ(c.dataset.names, (std::vector<std::string>{"a01_s01_e01", "a07_s04_e02", "a20_s10_e03"}));
  EXPECT_EQ(c.dataset.offsets, (std::vector<int64_t>{0, 2, 6, 8}));
  EXPECT_EQ(c.dataset.labels, (std::vector<int32_t>{0, 6, 19}));
}

TEST(MsrAction3d, JointTreeFollowsTheReadmeBones) {
  // The README's bones, 1-based, undirected.
  const int bones[][2] = {{20, 3}, {1, 3},  {2, 3},   {1, 8},   {8, 10},  {10, 12}, {2, 9},
                          {9, 11}, {11, 13}, {3, 4},  {4, 7},   {7, 5},   {7, 6},   {5, 14},
                          {14, 16}, {16, 18}, {6, 15}, {15, 17}, {17, 19}};
  std::set<std::pair<int, int>> expected;
  for (const auto& b : bones) expected.insert({std::min(b[0], b[1]) - 1, std::max(b[0], b[1]) - 1});
  std::set<std::pair<int, int>> edges;
  const auto& parents = msr_action3d_parents();
  for (int j = 0; j < kMsrJoints; ++j)
    if (parents[static_cast<size_t>(j)] >= 0)
      edges.insert({std::min(j, parents[static_cast<size_t>(j)]), std::max(j, parents[static_cast<size_t>(j)])});
  EXPECT_EQ(edges, expected);
  EXPECT_EQ(parents[6], -1);  // joint 7, the hip centre, is the root
  EXPECT_EQ(std::string(msr_action3d_joint_names()[19]), "Head");
}

// ---- malformed input

void expect_file_error(const std::string& text, const std::vector<std::string>& parts) {
  TempDir dir;
  const std::string path = dir.file("a03_s05_e02_skeleton3D.txt");
  write_file(path, text);
  std::vector<std::string> all = parts;
  all.push_back(path);
  expect_contains(error_of([&] { read_msr_action3d_file(path); }), all);
}

TEST(MsrAction3dMalformed, LineCountNotAMultipleOf20) {
  std::string text = fixture_text(2, {});
  text.erase(text.rfind('\n', text.size() - 2) + 1);  // drop the last line: 39 lines
  expect_file_error(text, {"line 39", "ends inside a frame", "39 joint lines", "multiple of 20"});
}

TEST(MsrAction3dMalformed, NotNumbers) {
  std::string text = fixture_text(1, {});
  const size_t line5 = [&] {
    size_t at = 0;
    for (int i = 0; i < 4; ++i) at = text.find('\n', at) + 1;
    return at;
  }();
  expect_file_error(text.substr(0, line5) + "0.1 abc 0.3 1\n" + text.substr(text.find('\n', line5) + 1),
                    {"line 5", "expected 4 numbers", "'0.1 abc 0.3 1'"});
  expect_file_error("0.1 0.2 0.3\n", {"line 1", "expected 4 numbers", "'0.1 0.2 0.3'"});
  expect_file_error("0.1 0.2 0.3 1 7\n", {"line 1", "expected 4 numbers"});
  expect_file_error("0.1 nan 0.3 1\n", {"line 1", "expected 4 numbers"});
  expect_file_error("0.1 0.2-0.3 1\n", {"line 1", "expected 4 numbers"});
  expect_file_error("", {"no data"});
  std::string gap = fixture_text(2, {});
  gap.insert(text.size(), "\n");  // an empty line between the frames: line 21
  expect_file_error(gap, {"line 21", "empty line"});
}

TEST(MsrAction3dMalformed, TrailingBlankLinesAndCarriageReturnsAreFine) {
  TempDir dir;
  std::string text = fixture_text(1, {});
  std::string crlf;
  for (char ch : text) crlf += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
  write_file(dir.file("f.txt"), crlf + "\n \n");
  EXPECT_EQ(read_msr_action3d_file(dir.file("f.txt")).size(), static_cast<size_t>(kMsrJoints * 3));
}

TEST(MsrAction3dMalformed, ListErrors) {
  TempDir dir;
  write_fixture_folder(dir);
  const std::string list = dir.file(kMsrPaperList);
  write_file(list, "a01_s01_e01\na09_s09_e09\n");
  expect_contains(error_of([&] { read_msr_action3d(dir.path().string()); }),
                  {list, "line 2", "a09_s09_e09_skeleton3D.txt", "does not exist"});
  write_file(list, "a01_s01_e01\n\nnonsense\n");
  expect_contains(error_of([&] { read_msr_action3d(dir.path().string()); }), {list, "line 3", "'nonsense'"});
  fs::remove(list);
  expect_contains(error_of([&] { read_msr_action3d(dir.path().string()); }), {list, "missing", "--all"});
  expect_contains(error_of([&] { read_msr_action3d(dir.file("absent")); }), {dir.file("absent"), "not a directory"});
}

TEST(MsrAction3dMalformed, ErrorsInsideAListedFileNameTheFile) {
  TempDir dir;
  write_fixture_folder(dir);
  write_file(dir.file("a01_s01_e01_skeleton3D.txt"), "1 2 3 x\n");
  expect_contains(error_of([&] { read_msr_action3d(dir.path().string()); }),
                  {dir.file("a01_s01_e01_skeleton3D.txt"), "line 1"});
  write_file(dir.file("a21_s01_e01_skeleton3D.txt"), fixture_text(1, {}));
  write_file(dir.file(kMsrPaperList), "a21_s01_e01");
  expect_contains(error_of([&] { read_msr_action3d(dir.path().string()); }), {"a21_s01_e01_skeleton3D.txt", "action 21"});
}

// ---- harnet convert

TEST(ConvertCommand, WritesAValidFileAndRefusesOptionsOfTheOtherFormat) {
  TempDir dir;
  write_fixture_folder(dir);
  const std::string out = dir.file("out.h5");
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(convert_command({"--format", "msr-action3d", dir.path().string(), "-o", out}), 0);
  const std::string printed = ::testing::internal::GetCapturedStdout();
  expect_contains(printed, {"wrote " + out, "2 sequences, 4 frames, 2 of 20 classes present, 2 subjects",
                            "3 untracked frames dropped", "1 sequence without a tracked frame left out (a05_s02_e01)"});
  EXPECT_EQ(read_dataset(out).names, (std::vector<std::string>{"a20_s10_e03", "a01_s01_e01"}));
  expect_contains(error_of([&] { convert_command({"--format", "msr-action3d", dir.path().string(), "-o", out, "--fps", "5"}); }),
                  {"--fps", "air-act2act"});
  expect_contains(error_of([&] { convert_command({"--format", "air-act2act", dir.path().string(), "-o", out, "--all"}); }),
                  {"--all", "msr-action3d"});
}

// ---- the real data

// The MSR Action3D folder: $HARNET_DATA/msr-action3d (or $HARNET_DATA itself), else the
// project's shared data beside the repository (<repo>/../shared/data/msr-action3d).
std::string real_data_folder() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("HARNET_DATA")) {
    candidates.push_back(fs::path(env) / "msr-action3d");
    candidates.push_back(fs::path(env));
  }
  candidates.push_back(fs::path(HARNET_FIXTURE_DIR) / ".." / ".." / ".." / "shared" / "data" / "msr-action3d");
  for (const fs::path& p : candidates)
    if (fs::exists(p / kMsrPaperList)) return p.lexically_normal().string();
  return "";
}

// index.csv of the data: file stem -> (action, subject, frames, all-zero frames).
struct IndexRow {
  int action, subject, frames, zero_frames;
  bool listed;
};
std::map<std::string, IndexRow> read_index(const std::string& folder) {
  std::ifstream in(folder + "/index.csv");
  std::string line;
  std::getline(in, line);  // header
  std::map<std::string, IndexRow> rows;
  while (std::getline(in, line)) {
    // file,action,"action name",subject,episode,frames,all_zero_frames,in_cvpr12_list
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false;
    for (char ch : line) {
      if (ch == '"') quoted = !quoted;
      else if (ch == ',' && !quoted) fields.push_back(std::exchange(field, ""));
      else if (ch != '\r') field += ch;
    }
    fields.push_back(field);
    if (fields.size() != 8) continue;
    rows[fields[0].substr(0, 11)] = {std::stoi(fields[1]), std::stoi(fields[3]), std::stoi(fields[5]),
                                     std::stoi(fields[6]), fields[7] == "1"};
  }
  return rows;
}

TEST(MsrAction3dRealData, TheStandardListMatchesTheIndex) {
  const std::string folder = real_data_folder();
  if (folder.empty()) GTEST_SKIP() << "MSR Action3D not found: set HARNET_DATA to the folder holding msr-action3d/";
  const ConvertedDataset c = read_msr_action3d(folder);
  const SkeletonDataset& d = c.dataset;
  EXPECT_NO_THROW(validate(d));
  EXPECT_EQ(d.num_sequences(), 557);
  EXPECT_EQ(d.num_subjects(), 10);
  EXPECT_EQ(std::set<int32_t>(d.labels.begin(), d.labels.end()).size(), 20u);
  EXPECT_TRUE(c.sequences_dropped.empty());
  // Every sequence: label, subject and length (frames minus all-zero frames) as index.csv says.
  const std::map<std::string, IndexRow> index = read_index(folder);
  ASSERT_FALSE(index.empty()) << folder << "/index.csv";
  int64_t dropped = 0;
  for (int64_t i = 0; i < d.num_sequences(); ++i) {
    const IndexRow& row = index.at(d.names[static_cast<size_t>(i)]);
    EXPECT_TRUE(row.listed) << d.names[static_cast<size_t>(i)];
    EXPECT_EQ(d.labels[static_cast<size_t>(i)], row.action - 1);
    EXPECT_EQ(d.subjects[static_cast<size_t>(i)], row.subject);
    EXPECT_EQ(d.sequence_length(i), row.frames - row.zero_frames) << d.names[static_cast<size_t>(i)];
    dropped += row.zero_frames;
  }
  EXPECT_EQ(c.frames_dropped, dropped);
  // Kinect v1 geometry in metres: the hip centre 1.5 .. 4.5 m from the camera, the head above it.
  const float* first = d.sequence(0);
  EXPECT_GT(first[6 * 3 + 2], 1.5f);
  EXPECT_LT(first[6 * 3 + 2], 4.5f);
  EXPECT_GT(first[19 * 3 + 1], first[6 * 3 + 1]);
}

TEST(MsrAction3dRealData, AllFilesDropsTheSequenceWithoutTrackedFrames) {
  const std::string folder = real_data_folder();
  if (folder.empty()) GTEST_SKIP() << "MSR Action3D not found: set HARNET_DATA to the folder holding msr-action3d/";
  const ConvertedDataset c = read_msr_action3d(folder, {.all_files = true});
  const std::map<std::string, IndexRow> index = read_index(folder);
  int64_t dropped = 0, empty = 0;
  for (const auto& [name, row] : index) {
    dropped += row.zero_frames;
    empty += row.zero_frames == row.frames;
  }
  EXPECT_EQ(c.dataset.num_sequences() + empty, static_cast<int64_t>(index.size()));
  EXPECT_EQ(static_cast<int64_t>(c.sequences_dropped.size()), empty);
  EXPECT_EQ(c.frames_dropped, dropped);
}

}  // namespace
}  // namespace harnet
