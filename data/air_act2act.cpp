#include "data/air_act2act.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "autograd/error.h"
#include "data/kinect_v2.h"

namespace harnet {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kBodySlots = 6;

int parse_camera(const std::string& camera) {
  static const std::regex pattern(R"(C00([123]))");
  std::smatch m;
  HARNET_CHECK(std::regex_match(camera, m, pattern), "air-act2act: camera '", camera,
               "' is not one of C001, C002, C003");
  return std::stoi(m[1]);
}

// The slot of the elderly person in one frame's list of slots, or -1 when it is empty there.
int elderly_slot(const json& slots, int camera) {
  const int count = static_cast<int>(slots.size());
  if (camera == 2) {  // C002 faces the partner (slot 0): the elderly person is another slot
    for (int s = 1; s < count; ++s)
      if (!slots[static_cast<size_t>(s)].is_null()) return s;
    return -1;
  }
  return count > 1 && !slots[1].is_null() ? 1 : -1;  // C001 and C003: slot 1
}

// Appends the 25 joints of one body (x negated to undo the mirror) to `frames`.
void append_body(const json& body, std::vector<float>& frames, const std::string& where) {
  HARNET_CHECK(body.is_object(), where, ": a body must be null or an object, got ", body.type_name());
  const auto joints = body.find("joints");
  HARNET_CHECK(joints != body.end(), where, ": the body has no \"joints\"");
  HARNET_CHECK(joints->is_array() && joints->size() == kKinectV2Joints, where, ": \"joints\" has ",
               joints->is_array() ? joints->size() : 0, " entries, expected ", kKinectV2Joints);
  for (size_t j = 0; j < joints->size(); ++j) {
    const json& joint = (*joints)[j];
    HARNET_CHECK(joint.is_object(), where, ", joint ", j, ": expected an object with \"x\", \"y\", \"z\"");
    for (const char* axis : {"x", "y", "z"}) {
      const auto value = joint.find(axis);
      HARNET_CHECK(value != joint.end() && value->is_number(), where, ", joint ", j, ": \"", axis,
                   "\" is missing or not a number");
      const double v = value->get<double>();
      frames.push_back(static_cast<float>(axis[0] == 'x' ? -v : v));
    }
  }
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HARNET_CHECK(in.good(), path, ": cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  HARNET_CHECK(!in.bad(), path, ": cannot read the file");
  return text.str();
}

}  // namespace

const std::array<const char*, 10>& air_act2act_class_names() {
  static const std::array<const char*, 10> names = {
      "enters through the door",  "stands still",           "calls the robot",          "stares at the robot",
      "lifts arm to shake hands", "covers face and cries",  "lifts arm for a high-five", "threatens to hit",
      "beckons to go away",       "turns back and walks to the door"};
  return names;
}

bool parse_air_act2act_name(const std::string& file_name, AirAct2ActName& name) {
  static const std::regex pattern(R"(C(\d{3})P(\d{3})A(\d{3})S(\d{3})\.joint)");
  std::smatch m;
  if (!std::regex_match(file_name, m, pattern)) return false;
  name.camera = std::stoi(m[1]);
  name.performer = std::stoi(m[2]);
  name.action = std::stoi(m[3]);
  name.setup = std::stoi(m[4]);
  name.stem = file_name.substr(0, 16);
  return true;
}

int air_act2act_frame_step(double fps) {
  HARNET_CHECK(std::isfinite(fps) && fps > 0 && fps <= kAirAct2ActCameraFps, "air-act2act: fps ", fps,
               " is not in (0, 30] (the cameras record 30 fps)");
  const double ratio = kAirAct2ActCameraFps / fps;
  const double step = std::round(ratio);
  HARNET_CHECK(std::abs(ratio - step) < 1e-6, "air-act2act: fps ", fps,
               " does not divide the cameras' 30 fps (keeping every k-th frame gives 30, 15, 10, 7.5, 6, 5, ...)");
  return static_cast<int>(step);
}

AirAct2ActSequence read_air_act2act_file(const std::string& path, int camera, int frame_step) {
  HARNET_CHECK(frame_step >= 1, path, ": frame step ", frame_step, " must be at least 1");
  json document;
  try {
    document = json::parse(read_text_file(path));
  } catch (const json::parse_error& e) {
    throw Error(str_cat(path, ": malformed JSON: ", e.what()));
  }
  HARNET_CHECK(document.is_array(), path, ": expected a JSON list of frames, got ", document.type_name());
  AirAct2ActSequence sequence;
  for (size_t f = 0; f < document.size(); f += static_cast<size_t>(frame_step)) {
    const json& slots = document[f];
    if (slots.is_null()) {  // a frame without any body
      ++sequence.frames_dropped;
      continue;
    }
    HARNET_CHECK(slots.is_array() && slots.size() <= kBodySlots, path, ": frame ", f,
                 ": expected a list of at most ", kBodySlots, " body slots, got ",
                 slots.is_array() ? str_cat(slots.size(), " slots") : std::string(slots.type_name()));
    const int slot = elderly_slot(slots, camera);
    if (slot < 0) {
      ++sequence.frames_dropped;
      continue;
    }
    append_body(slots[static_cast<size_t>(slot)], sequence.frames, str_cat(path, ": frame ", f, ", slot ", slot));
  }
  return sequence;
}

ConvertedDataset read_air_act2act(const std::string& directory, const AirAct2ActOptions& options,
                                  const ConversionProgress& progress) {
  const int camera = parse_camera(options.camera);
  const int frame_step = air_act2act_frame_step(options.fps);
  HARNET_CHECK(fs::is_directory(directory), directory, ": not a directory (expected the AIR-Act2Act .joint files)");

  // The chosen camera's files anywhere below the directory, by name.
  std::map<std::string, std::pair<AirAct2ActName, std::string>> files;  // stem -> (name, path)
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(directory)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".joint") continue;
    AirAct2ActName name;
    const std::string path = entry.path().string();
    HARNET_CHECK(parse_air_act2act_name(entry.path().filename().string(), name), path,
                 ": the name does not follow CcccPpppAaaaSsss.joint");
    if (name.camera != camera) continue;
    const auto [it, inserted] = files.emplace(name.stem, std::make_pair(name, path));
    HARNET_CHECK(inserted, path, ": the same recording as ", it->second.second);
  }
  HARNET_CHECK(!files.empty(), directory, ": no .joint files of camera ", options.camera);

  ConvertedDataset result;
  SkeletonDataset& d = result.dataset;
  const auto& classes = air_act2act_class_names();
  d.class_names.assign(classes.begin(), classes.end());
  const auto& joints = kinect_v2_joint_names();
  d.joint_names.assign(joints.begin(), joints.end());
  const auto& parents = kinect_v2_parents();
  d.parents.assign(parents.begin(), parents.end());
  d.fps = kAirAct2ActCameraFps / frame_step;
  d.source = str_cat("AIR-Act2Act (ETRI), camera ", options.camera, ", the elderly person, 30 fps subsampled to ",
                     d.fps, " fps, x negated to undo the mirror");
  d.center_joint = kinect_v2::SpineBase;
  d.left_shoulder_joint = kinect_v2::ShoulderLeft;
  d.right_shoulder_joint = kinect_v2::ShoulderRight;
  d.neck_joint = kinect_v2::Neck;
  d.offsets.push_back(0);

  int64_t done = 0;
  for (const auto& [stem, entry] : files) {
    const auto& [name, path] = entry;
    HARNET_CHECK(name.action >= 1 && name.action <= static_cast<int>(classes.size()), path, ": scenario A",
                 name.action, " is not one of A001 .. A010");
    AirAct2ActSequence sequence = read_air_act2act_file(path, camera, frame_step);
    result.frames_dropped += sequence.frames_dropped;
    if (sequence.frames.empty()) {
      result.sequences_dropped.push_back(stem);
    } else {
      d.skeletons.insert(d.skeletons.end(), sequence.frames.begin(), sequence.frames.end());
      d.offsets.push_back(static_cast<int64_t>(d.skeletons.size()) / (kKinectV2Joints * 3));
      d.labels.push_back(name.action - 1);
      d.subjects.push_back(name.performer);
      d.names.push_back(stem);
    }
    if (progress) progress(++done, static_cast<int64_t>(files.size()));
  }
  HARNET_CHECK(d.num_sequences() > 0, directory, ": no file of camera ", options.camera,
               " shows the elderly person in any frame");
  return result;
}

}  // namespace harnet
