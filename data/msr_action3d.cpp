#include "data/msr_action3d.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string_view>

#include "autograd/error.h"

namespace harnet {

namespace {

namespace fs = std::filesystem;

const char* const kFileSuffix = "_skeleton3D.txt";

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HARNET_CHECK(in.good(), path, ": cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  HARNET_CHECK(!in.bad(), path, ": cannot read the file");
  return text.str();
}

// The line without its end-of-line characters, shortened for a message.
std::string quoted_excerpt(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  return line.size() > 60 ? str_cat("'", line.substr(0, 60), "...'") : str_cat("'", line, "'");
}

bool is_blank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

// Parses "x y z c" (whitespace separated, finite numbers, nothing else) into xyz; c is ignored.
bool parse_joint_line(std::string_view line, float* xyz) {
  const char* p = line.data();
  const char* end = line.data() + line.size();
  auto skip_space = [&] {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
  };
  for (int k = 0; k < 4; ++k) {
    skip_space();
    if (k > 0 && p < end && p[-1] != ' ' && p[-1] != '\t') return false;  // numbers must be separated
    double value = 0.0;
    auto [next, ec] = std::from_chars(p, end, value);
    if (ec != std::errc() || next == p || !std::isfinite(value)) return false;
    if (k < 3) xyz[k] = static_cast<float>(value);
    p = next;
  }
  skip_space();
  return p == end;
}

struct SequenceId {
  int action = 0, subject = 0, episode = 0;
  std::string name;  // "aAA_sSS_eEE"
};

// "aAA_sSS_eEE" (a list entry) or "aAA_sSS_eEE_skeleton3D.txt" (a file name).
bool parse_sequence_id(const std::string& text, SequenceId& id) {
  static const std::regex pattern(R"(a(\d\d)_s(\d\d)_e(\d\d)(_skeleton3D\.txt)?)");
  std::smatch m;
  if (!std::regex_match(text, m, pattern)) return false;
  id.action = std::stoi(m[1]);
  id.subject = std::stoi(m[2]);
  id.episode = std::stoi(m[3]);
  id.name = text.substr(0, 11);
  return true;
}

// The sequences of the paper list, in its order; refuses bad entries and missing files.
std::vector<SequenceId> listed_sequences(const fs::path& directory) {
  const std::string list_path = (directory / kMsrPaperList).string();
  HARNET_CHECK(fs::exists(list_path), list_path, ": missing (the list of the 557 sequences of the standard protocol;",
               " use --all to convert every sequence file)");
  const std::string text = read_text_file(list_path);
  std::vector<SequenceId> ids;
  std::istringstream lines(text);
  std::string line;
  for (int64_t number = 1; std::getline(lines, line); ++number) {
    const size_t first = line.find_first_not_of(" \t\r"), last = line.find_last_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const std::string entry = line.substr(first, last - first + 1);
    SequenceId id;
    HARNET_CHECK(parse_sequence_id(entry, id) && entry.size() == 11, list_path, " line ", number, ": ",
                 quoted_excerpt(entry), " is not a sequence name aAA_sSS_eEE");
    const fs::path file = directory / (id.name + kFileSuffix);
    HARNET_CHECK(fs::exists(file), list_path, " line ", number, ": the listed file ", file.string(), " does not exist");
    ids.push_back(id);
  }
  HARNET_CHECK(!ids.empty(), list_path, ": lists no sequence");
  return ids;
}

// Every sequence file of the directory, sorted by name.
std::vector<SequenceId> all_sequences(const fs::path& directory) {
  std::vector<SequenceId> ids;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory)) {
    SequenceId id;
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && parse_sequence_id(name, id) && name.size() > 11) ids.push_back(id);
  }
  HARNET_CHECK(!ids.empty(), directory.string(), ": no aAA_sSS_eEE_skeleton3D.txt files");
  std::sort(ids.begin(), ids.end(), [](const SequenceId& a, const SequenceId& b) { return a.name < b.name; });
  return ids;
}

bool all_zero(const float* frame) {
  return std::all_of(frame, frame + kMsrJoints * 3, [](float v) { return v == 0.0f; });
}

}  // namespace

const std::array<const char*, 20>& msr_action3d_class_names() {
  static const std::array<const char*, 20> names = {
      "high arm wave", "horizontal arm wave", "hammer",      "hand catch",    "forward punch",
      "high throw",    "draw x",              "draw tick",   "draw circle",   "hand clap",
      "two hand wave", "side-boxing",         "bend",        "forward kick",  "side kick",
      "jogging",       "tennis swing",        "tennis serve", "golf swing",   "pick up & throw"};
  return names;
}

const std::array<const char*, kMsrJoints>& msr_action3d_joint_names() {
  // The README's order: 1 L shoulder, 2 R shoulder, 3 neck (shoulder center), 4 spine, 5 L hip,
  // 6 R hip, 7 hip center, 8 L elbow, 9 R elbow, 10 L wrist, 11 R wrist, 12 L hand, 13 R hand,
  // 14 L knee, 15 R knee, 16 L ankle, 17 R ankle, 18 L foot, 19 R foot, 20 head.
  static const std::array<const char*, kMsrJoints> names = {
      "ShoulderLeft", "ShoulderRight", "ShoulderCenter", "Spine",     "HipLeft",   "HipRight",  "HipCenter",
      "ElbowLeft",    "ElbowRight",    "WristLeft",      "WristRight", "HandLeft", "HandRight", "KneeLeft",
      "KneeRight",    "AnkleLeft",     "AnkleRight",     "FootLeft",  "FootRight", "Head"};
  return names;
}

const std::array<int32_t, kMsrJoints>& msr_action3d_parents() {
  // The README's bones (1-based) 20-3 1-3 2-3 1-8 8-10 10-12 2-9 9-11 11-13 3-4 4-7 7-5 7-6
  // 5-14 14-16 16-18 6-15 15-17 17-19, directed away from the hip centre (7), 0-based.
  static const std::array<int32_t, kMsrJoints> parents = {
      2,  // ShoulderLeft   <- ShoulderCenter
      2,  // ShoulderRight  <- ShoulderCenter
      3,  // ShoulderCenter <- Spine
      6,  // Spine          <- HipCenter
      6,  // HipLeft        <- HipCenter
      6,  // HipRight       <- HipCenter
      -1,  // HipCenter: the root
      0,  // ElbowLeft      <- ShoulderLeft
      1,  // ElbowRight     <- ShoulderRight
      7,  // WristLeft      <- ElbowLeft
      8,  // WristRight     <- ElbowRight
      9,  // HandLeft       <- WristLeft
      10,  // HandRight     <- WristRight
      4,  // KneeLeft       <- HipLeft
      5,  // KneeRight      <- HipRight
      13,  // AnkleLeft     <- KneeLeft
      14,  // AnkleRight    <- KneeRight
      15,  // FootLeft      <- AnkleLeft
      16,  // FootRight     <- AnkleRight
      2,  // Head           <- ShoulderCenter
  };
  return parents;
}

std::vector<float> read_msr_action3d_file(const std::string& path) {
  const std::string text = read_text_file(path);
  std::vector<float> frames;
  int64_t joint_lines = 0, number = 0;
  int64_t first_blank = 0;  // a blank line is only allowed at the end of the file
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();  // the last line may lack its newline
    const std::string_view line(text.data() + begin, end - begin);
    begin = end + 1;
    ++number;
    if (is_blank(line)) {
      if (first_blank == 0) first_blank = number;
      continue;
    }
    HARNET_CHECK(first_blank == 0, path, " line ", first_blank, ": empty line inside the data");
    float xyz[3];
    HARNET_CHECK(parse_joint_line(line, xyz), path, " line ", number, ": expected 4 numbers 'x y z c', got ",
                 quoted_excerpt(line));
    frames.insert(frames.end(), xyz, xyz + 3);
    ++joint_lines;
  }
  HARNET_CHECK(joint_lines > 0, path, ": no data (empty file)");
  HARNET_CHECK(joint_lines % kMsrJoints == 0, path, " line ", number, ": the file ends inside a frame (",
               joint_lines, " joint lines are not a multiple of ", kMsrJoints, ")");
  return frames;
}

ConvertedDataset read_msr_action3d(const std::string& directory, const MsrAction3dOptions& options,
                                   const ConversionProgress& progress) {
  const fs::path dir(directory);
  HARNET_CHECK(fs::is_directory(dir), directory, ": not a directory (expected the MSR Action3D folder)");
  const std::vector<SequenceId> ids = options.all_files ? all_sequences(dir) : listed_sequences(dir);

  ConvertedDataset result;
  SkeletonDataset& d = result.dataset;
  const auto& classes = msr_action3d_class_names();
  d.class_names.assign(classes.begin(), classes.end());
  const auto& joints = msr_action3d_joint_names();
  d.joint_names.assign(joints.begin(), joints.end());
  const auto& parents = msr_action3d_parents();
  d.parents.assign(parents.begin(), parents.end());
  d.fps = kMsrFps;
  d.source = options.all_files
                 ? str_cat("MSR Action3D (Li, Zhang, Liu, CVPR Workshops 2010): all ", ids.size(), " sequence files")
                 : str_cat("MSR Action3D (Li, Zhang, Liu, CVPR Workshops 2010): the ", ids.size(),
                           " sequences of ", kMsrPaperList);
  d.center_joint = 6;          // HipCenter
  d.left_shoulder_joint = 0;   // ShoulderLeft
  d.right_shoulder_joint = 1;  // ShoulderRight
  d.neck_joint = 2;            // ShoulderCenter
  d.offsets.push_back(0);

  const int64_t frame_values = kMsrJoints * 3;
  for (size_t i = 0; i < ids.size(); ++i) {
    const SequenceId& id = ids[i];
    const std::string path = (dir / (id.name + kFileSuffix)).string();
    HARNET_CHECK(id.action >= 1 && id.action <= static_cast<int>(classes.size()), path, ": action ", id.action,
                 " is not one of a01 .. a20");
    const std::vector<float> frames = read_msr_action3d_file(path);
    const int64_t before = d.num_frames();
    for (size_t f = 0; f < frames.size(); f += frame_values) {
      if (all_zero(frames.data() + f)) {
        ++result.frames_dropped;
        continue;
      }
      d.skeletons.insert(d.skeletons.end(), frames.begin() + static_cast<int64_t>(f),
                         frames.begin() + static_cast<int64_t>(f) + frame_values);
    }
    const int64_t after = static_cast<int64_t>(d.skeletons.size()) / frame_values;
    if (after == before) {
      result.sequences_dropped.push_back(id.name);
    } else {
      d.offsets.push_back(after);
      d.labels.push_back(id.action - 1);
      d.subjects.push_back(id.subject);
      d.names.push_back(id.name);
    }
    if (progress) progress(static_cast<int64_t>(i + 1), static_cast<int64_t>(ids.size()));
  }
  HARNET_CHECK(d.num_sequences() > 0, directory, ": no sequence has a tracked frame");
  return result;
}

}  // namespace harnet
