// AIR-Act2Act converter on small .joint fixtures written here in the documented format (no
// real file exists outside ETRI's licence): body-slot choice per camera, null bodies and
// frames, unknown keys, subsampling, the undone mirror, and every malformed-file error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "autograd/error.h"
#include "data/air_act2act.h"
#include "data/dataset_io.h"
#include "data/kinect_v2.h"
#include "harnet/lib/commands.h"
#include "tests/test_util.h"

namespace harnet {
namespace {

namespace fs = std::filesystem;
using harnet::testing::error_of;
using nlohmann::json;

using harnet::testing::TempDir;


void expect_contains(const std::string& message, const std::vector<std::string>& parts) {
  for (const std::string& part : parts)
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
}

// The raw (mirrored) coordinate of a fixture body: `who` tells bodies apart, frame and joint vary.
double raw_value(int who, int frame, int joint, int axis) {
  return who + 0.25 * frame + 0.0078125 * joint + (axis == 0 ? 0.5 : axis == 1 ? -0.25 : 2.0);
}

// A body slot as the Kinect recorder writes it, with the extra keys real files carry.
json body(int who, int frame, int joints = kKinectV2Joints) {
  json list = json::array();
  for (int j = 0; j < joints; ++j)
    list.push_back({{"x", raw_value(who, frame, j, 0)}, {"y", raw_value(who, frame, j, 1)},
                    {"z", raw_value(who, frame, j, 2)}, {"depthX", 250.5}, {"depthY", 180}, {"colorX", 900},
                    {"trackingState", 2}});
  return {{"body", 72057594037900000 + who}, {"type", "refined"}, {"joints", list}, {"leanX", 0.1},
          {"handLeftState", 1}};
}

json empty_slots() { return json::array({nullptr, nullptr, nullptr, nullptr, nullptr, nullptr}); }

void write_json(const std::string& path, const json& document) { std::ofstream(path) << document.dump(); }

// Expects frames [T, 25, 3] to be body `who` at the given raw frames, x negated.
void expect_body_frames(const std::vector<float>& frames, int who, const std::vector<int>& raw_frames) {
  ASSERT_EQ(frames.size(), raw_frames.size() * kKinectV2Joints * 3);
  for (size_t t = 0; t < raw_frames.size(); ++t)
    for (int j = 0; j < kKinectV2Joints; ++j)
      for (int k = 0; k < 3; ++k) {
        const double expected = (k == 0 ? -1 : 1) * raw_value(who, raw_frames[t], j, k);
        EXPECT_EQ(frames[(t * kKinectV2Joints + static_cast<size_t>(j)) * 3 + static_cast<size_t>(k)],
                  static_cast<float>(expected))
            << "frame " << t << " joint " << j << " axis " << k;
      }
}

// 9 raw frames of camera C001: slot 0 empty, the elderly person (who = 1) in slot 1, except
// raw frame 3 (slot 1 null) and raw frame 7 (a null frame).
json c001_recording() {
  json frames = json::array();
  for (int f = 0; f < 9; ++f) {
    if (f == 7) {
      frames.push_back(nullptr);
      continue;
    }
    json slots = empty_slots();
    if (f != 3) slots[1] = body(1, f);
    frames.push_back(slots);
  }
  return frames;
}

TEST(AirAct2Act, ParsesFileNames) {
  AirAct2ActName name;
  ASSERT_TRUE(parse_air_act2act_name("C002P087A010S003.joint", name));
  EXPECT_EQ(name.camera, 2);
  EXPECT_EQ(name.performer, 87);
  EXPECT_EQ(name.action, 10);
  EXPECT_EQ(name.setup, 3);
  EXPECT_EQ(name.stem, "C002P087A010S003");
  EXPECT_FALSE(parse_air_act2act_name("C002P087A010S003.json", name));
  EXPECT_FALSE(parse_air_act2act_name("C02P087A010S003.joint", name));
}

TEST(AirAct2Act, C001TakesSlot1SubsamplesAndUndoesTheMirror) {
  TempDir dir;
  const std::string path = dir.file("C001P001A001S001.joint");
  write_json(path, c001_recording());
  // 10 fps: raw frames 0, 3, 6; frame 3 has no elderly body.
  const AirAct2ActSequence at10 = read_air_act2act_file(path, 1, air_act2act_frame_step(10));
  expect_body_frames(at10.frames, 1, {0, 6});
  EXPECT_EQ(at10.frames_dropped, 1);
  // 30 fps: every frame; 3 (null slot) and 7 (null frame) dropped.
  const AirAct2ActSequence at30 = read_air_act2act_file(path, 1, air_act2act_frame_step(30));
  expect_body_frames(at30.frames, 1, {0, 1, 2, 4, 5, 6, 8});
  EXPECT_EQ(at30.frames_dropped, 2);
}

TEST(AirAct2Act, SlotChoicePerCamera) {
  TempDir dir;
  // C002 faces the partner (slot 0, who = 0); the elderly person (who = 2) shows up in slot 2,
  // and a frame with only the partner is dropped.
  json c002 = json::array();
  for (int f = 0; f < 3; ++f) {
    json slots = empty_slots();
    slots[0] = body(0, f);
    if (f != 1) slots[2] = body(2, f);
    c002.push_back(slots);
  }
  write_json(dir.file("C002P001A001S001.joint"), c002);
  const AirAct2ActSequence s2 = read_air_act2act_file(dir.file("C002P001A001S001.joint"), 2, 1);
  expect_body_frames(s2.frames, 2, {0, 2});
  EXPECT_EQ(s2.frames_dropped, 1);
  // C003 sees both: slot 0 the partner, slot 1 the elderly person; slot lists may be short.
  json c003 = json::array();
  for (int f = 0; f < 2; ++f) c003.push_back(json::array({body(0, f), body(1, f)}));
  c003.push_back(json::array({body(0, 2)}));
  c003.push_back(json::array());
  write_json(dir.file("C003P001A001S001.joint"), c003);
  const AirAct2ActSequence s3 = read_air_act2act_file(dir.file("C003P001A001S001.joint"), 3, 1);
  expect_body_frames(s3.frames, 1, {0, 1});
  EXPECT_EQ(s3.frames_dropped, 2);
}

TEST(AirAct2Act, ConvertsAFolderOfTheChosenCamera) {
  TempDir dir;
  fs::create_directories(dir.file("P001-P010/nested"));
  write_json(dir.file("P001-P010/C001P007A005S002.joint"), c001_recording());
  write_json(dir.file("P001-P010/nested/C001P003A010S001.joint"), c001_recording());
  write_json(dir.file("C002P003A010S001.joint"), json::array({json::array({body(0, 0)})}));  // other camera
  json nobody = json::array({empty_slots(), nullptr});
  write_json(dir.file("C001P004A002S001.joint"), nobody);
  std::ofstream(dir.file("notes.txt")) << "ignored";

  const ConvertedDataset c = read_air_act2act(dir.path().string());
  const SkeletonDataset& d = c.dataset;
  EXPECT_NO_THROW(validate(d));
  EXPECT_EQ(d.names, (std::vector<std::string>{"C001P003A010S001", "C001P007A005S002"}));
  EXPECT_EQ(d.labels, (std::vector<int32_t>{9, 4}));
  EXPECT_EQ(d.subjects, (std::vector<int32_t>{3, 7}));
  EXPECT_EQ(d.offsets, (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(c.sequences_dropped, std::vector<std::string>{"C001P004A002S001"});
  EXPECT_EQ(c.frames_dropped, 1 + 1 + 1);  // one per recording at 10 fps, one in the empty recording
  EXPECT_EQ(d.fps, 10.0);
  EXPECT_EQ(d.class_names.size(), 10u);
  EXPECT_EQ(d.class_names[4], "lifts arm to shake hands");
  EXPECT_EQ(d.joint_names.size(), 25u);
  EXPECT_EQ(d.joint_names[static_cast<size_t>(d.center_joint)], "SpineBase");
  EXPECT_EQ(d.joint_names[static_cast<size_t>(d.left_shoulder_joint)], "ShoulderLeft");
  EXPECT_EQ(d.joint_names[static_cast<size_t>(d.right_shoulder_joint)], "ShoulderRight");
  EXPECT_EQ(d.joint_names[static_cast<size_t>(d.neck_joint)], "Neck");
  EXPECT_EQ(d.parents, (std::vector<int32_t>{-1, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1,
                                             7, 7, 11, 11}));

  // Camera C002's only recording shows just the partner (slot 0): nothing to convert.
  expect_contains(error_of([&] { read_air_act2act(dir.path().string(), {.camera = "C002", .fps = 30}); }),
                  {"no file of camera C002 shows the elderly person"});
}

TEST(AirAct2Act, ConvertCommandWritesTheFile) {
  TempDir dir;
  write_json(dir.file("C003P002A003S001.joint"), json::array({json::array({body(0, 0), body(1, 0)})}));
  const std::string out = dir.file("air.h5");
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(convert_command({"--format", "air-act2act", dir.path().string(), "-o", out, "--camera", "C003", "--fps", "15"}), 0);
  expect_contains(::testing::internal::GetCapturedStdout(),
                  {"1 sequence, 1 frame, 1 of 10 classes present, 1 subject"});
  const SkeletonDataset d = read_dataset(out);
  EXPECT_EQ(d.fps, 15.0);
  EXPECT_EQ(d.labels, std::vector<int32_t>{2});
  expect_body_frames(d.skeletons, 1, {0});
}

// ---- refusals

TEST(AirAct2ActMalformed, BadOptions) {
  TempDir dir;
  for (double fps : {12.0, 0.0, 45.0, -10.0})
    expect_contains(error_of([&] { air_act2act_frame_step(fps); }), {"fps", "30"});
  EXPECT_EQ(air_act2act_frame_step(7.5), 4);
  expect_contains(error_of([&] { read_air_act2act(dir.path().string(), {.camera = "C004"}); }),
                  {"camera 'C004'", "C001, C002, C003"});
  expect_contains(error_of([&] { read_air_act2act(dir.path().string()); }), {dir.path().string(), "no .joint files of camera C001"});
  expect_contains(error_of([&] { read_air_act2act(dir.file("absent")); }), {dir.file("absent"), "not a directory"});
}

void expect_file_error(const std::string& text, const std::vector<std::string>& parts) {
  TempDir dir;
  const std::string path = dir.file("C001P001A001S001.joint");
  std::ofstream(path) << text;
  std::vector<std::string> all = parts;
  all.push_back(path);
  expect_contains(error_of([&] { read_air_act2act_file(path, 1, 1); }), all);
}

TEST(AirAct2ActMalformed, MalformedJson) {
  std::string text = c001_recording().dump();
  text.pop_back();  // cut the closing bracket
  expect_file_error(text, {"malformed JSON", "parse error"});
  expect_file_error("", {"malformed JSON"});
  expect_file_error("{\"frames\": []}", {"expected a JSON list of frames", "object"});
}

TEST(AirAct2ActMalformed, WrongJointCountAndJointFields) {
  json frames = c001_recording();
  frames[2][1] = body(1, 2, 24);
  expect_file_error(frames.dump(), {"frame 2, slot 1", "\"joints\" has 24 entries, expected 25"});
  frames = c001_recording();
  frames[4][1]["joints"][6].erase("y");
  expect_file_error(frames.dump(), {"frame 4, slot 1, joint 6", "\"y\" is missing or not a number"});
  frames = c001_recording();
  frames[4][1]["joints"][6]["z"] = "2.5";
  expect_file_error(frames.dump(), {"frame 4, slot 1, joint 6", "\"z\""});
  frames = c001_recording();
  frames[1][1].erase("joints");
  expect_file_error(frames.dump(), {"frame 1, slot 1", "no \"joints\""});
  frames = c001_recording();
  frames[1][1] = 17;
  expect_file_error(frames.dump(), {"frame 1, slot 1", "null or an object"});
}

TEST(AirAct2ActMalformed, WrongSlotLists) {
  json frames = c001_recording();
  frames[5].push_back(nullptr);  // 7 slots
  expect_file_error(frames.dump(), {"frame 5", "at most 6 body slots", "7 slots"});
  frames = c001_recording();
  frames[5] = "none";
  expect_file_error(frames.dump(), {"frame 5", "at most 6 body slots", "string"});
}

TEST(AirAct2ActMalformed, BadNamesAndScenarios) {
  TempDir dir;
  write_json(dir.file("C001P001A011S001.joint"), c001_recording());
  expect_contains(error_of([&] { read_air_act2act(dir.path().string()); }), {"C001P001A011S001.joint", "scenario A11"});
  fs::remove(dir.file("C001P001A011S001.joint"));
  write_json(dir.file("recording.joint"), c001_recording());
  expect_contains(error_of([&] { read_air_act2act(dir.path().string()); }),
                  {dir.file("recording.joint"), "does not follow CcccPpppAaaaSsss.joint"});
  fs::remove(dir.file("recording.joint"));
  fs::create_directory(dir.file("copy"));
  write_json(dir.file("C001P001A001S001.joint"), c001_recording());
  write_json(dir.file("copy/C001P001A001S001.joint"), c001_recording());
  expect_contains(error_of([&] { read_air_act2act(dir.path().string()); }), {"C001P001A001S001.joint", "the same recording as"});
}

}  // namespace
}  // namespace harnet
