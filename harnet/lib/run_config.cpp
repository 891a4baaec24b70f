#include "harnet/lib/run_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <type_traits>

#include "autograd/error.h"
#include "data/split.h"
#include "harnet/lib/training_log.h"

namespace harnet {

namespace {

using nlohmann::json;

// Reads the keys of one JSON object into settings, remembering which it consumed so that
// finish() can refuse the unknown ones. Errors name the dotted key ("optimizer.lr").
class JsonReader {
 public:
  JsonReader(const json& object, std::string prefix) : object_(object), prefix_(std::move(prefix)) {
    HARNET_CHECK(object_.is_object(), "config: ", prefix_.empty() ? "the top level" : "'" + prefix_ + "'",
                 " must be a JSON object");
  }

  template <class T>
  void read(const std::string& key, T& value) {
    const json* item = find(key);
    if (!item) return;
    HARNET_CHECK(has_type(*item, value), "config: '", name(key), "' must be ", type_word(value), ", got ",
                 item->type_name());
    try {
      value = item->get<T>();
    } catch (const json::exception&) {
      throw Error(str_cat("config: '", name(key), "' must be ", type_word(value)));
    }
  }
  // A nested object, read by fn(JsonReader&).
  template <class Fn>
  void read_object(const std::string& key, Fn&& fn) {
    if (const json* item = find(key)) {
      JsonReader child(*item, name(key));
      fn(child);
      child.finish();
    }
  }
  const json* find(const std::string& key) {
    const auto it = object_.find(key);
    if (it == object_.end()) return nullptr;
    consumed_.insert(key);
    return &*it;
  }
  void finish() const {
    for (const auto& [key, item] : object_.items())
      HARNET_CHECK(consumed_.count(key), "config: unknown key '", name(key), "'");
  }
  std::string name(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "." + key; }

 private:
  static bool has_type(const json& j, const bool&) { return j.is_boolean(); }
  static bool has_type(const json& j, const double&) { return j.is_number(); }
  static bool has_type(const json& j, const std::string&) { return j.is_string(); }
  template <class I>
  requires std::is_integral_v<I>
  static bool has_type(const json& j, const I&) {
    return std::is_signed_v<I> ? j.is_number_integer() : j.is_number_unsigned();
  }
  template <class T>
  static bool has_type(const json& j, const std::vector<T>&) {
    return j.is_array();
  }

  static const char* type_word(const bool&) { return "true or false"; }
  static const char* type_word(const double&) { return "a number"; }
  static const char* type_word(const std::string&) { return "a string"; }
  template <class I>
  requires std::is_integral_v<I>
  static const char* type_word(const I&) { return std::is_signed_v<I> ? "an integer" : "a non-negative integer"; }
  static const char* type_word(const std::vector<std::string>&) { return "an array of strings"; }
  static const char* type_word(const std::vector<int32_t>&) { return "an array of integers"; }

  const json& object_;
  std::string prefix_;
  std::set<std::string> consumed_;
};

json augment_json(const AugmentOptions& a) {
  return {{"rotate", a.rotate},
          {"max_rotation_degrees", a.max_rotation_degrees},
          {"scale", a.scale},
          {"min_scale", a.min_scale},
          {"max_scale", a.max_scale},
          {"jitter", a.jitter},
          {"jitter_sigma", a.jitter_sigma},
          {"temporal_crop", a.temporal_crop},
          {"min_crop_fraction", a.min_crop_fraction},
          {"bone_scale", a.bone_scale},
          {"bone_scale_range", a.bone_scale_range},
          {"motion_scale", a.motion_scale},
          {"motion_scale_range", a.motion_scale_range},
          {"mirror", a.mirror},
          {"mirror_probability", a.mirror_probability},
          {"tilt", a.tilt},
          {"max_tilt_degrees", a.max_tilt_degrees},
          {"shear", a.shear},
          {"max_shear", a.max_shear}};
}

void read_augment(JsonReader& r, AugmentOptions& a) {
  r.read("rotate", a.rotate);
  r.read("max_rotation_degrees", a.max_rotation_degrees);
  r.read("scale", a.scale);
  r.read("min_scale", a.min_scale);
  r.read("max_scale", a.max_scale);
  r.read("jitter", a.jitter);
  r.read("jitter_sigma", a.jitter_sigma);
  r.read("temporal_crop", a.temporal_crop);
  r.read("min_crop_fraction", a.min_crop_fraction);
  // Absent from an augment object written before these two existed: off, as they were then.
  a.bone_scale = a.motion_scale = false;
  r.read("bone_scale", a.bone_scale);
  r.read("bone_scale_range", a.bone_scale_range);
  r.read("motion_scale", a.motion_scale);
  r.read("motion_scale_range", a.motion_scale_range);
  // Absent from an augment object written before mirroring existed: off, as it was then.
  a.mirror = false;
  r.read("mirror", a.mirror);
  r.read("mirror_probability", a.mirror_probability);
  // Absent from an augment object written before the tilt existed: off, as it was then.
  a.tilt = false;
  r.read("tilt", a.tilt);
  r.read("max_tilt_degrees", a.max_tilt_degrees);
  // Absent from an augment object written before the shear existed: off, as it was then.
  a.shear = false;
  r.read("shear", a.shear);
  r.read("max_shear", a.max_shear);
}

// The part after "name:" of a split text, or "" when it does not start with it.
bool has_prefix(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

std::vector<int32_t> parse_subject_list(const std::string& list, const std::string& option) {
  std::vector<int32_t> subjects;
  std::stringstream stream(list);
  std::string item;
  while (std::getline(stream, item, ',')) {
    size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    HARNET_CHECK(used == item.size() && !item.empty(), option, ": '", item, "' is not a subject id in '", list, "'");
    subjects.push_back(value);
  }
  HARNET_CHECK(!subjects.empty() && list.back() != ',', option, ": expected subject ids like subjects:1,3,5, got '",
               list, "'");
  return subjects;
}

double parse_fraction(const std::string& text, const std::string& option) {
  size_t used = 0;
  double value = NAN;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  HARNET_CHECK(used == text.size() && value > 0.0 && value < 1.0, option,
               ": the training share must be a number in (0, 1) like random:0.8, got '", text, "'");
  return value;
}

int64_t parse_carve_count(const std::string& validation) {
  const std::string count = validation.substr(6);
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(count, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  HARNET_CHECK(used == count.size() && !count.empty() && value >= 1, "--validation: expected carve:K with K >= 1 ",
               "training subjects, got '", validation, "'");
  return value;
}

// The split as train and test (held-out) sequences.
Split split_of(const SkeletonDataset& dataset, const std::string& split, uint64_t seed) {
  if (split == "odd-even") return split_odd_even_subjects(dataset, true);
  if (has_prefix(split, "subjects:")) {
    const std::vector<int32_t> train = parse_subject_list(split.substr(9), "--split");
    std::vector<int32_t> test;
    for (const int32_t s : dataset_subjects(dataset))
      if (std::find(train.begin(), train.end(), s) == train.end()) test.push_back(s);
    return split_by_subjects(dataset, train, test);
  }
  if (has_prefix(split, "random:"))
    return split_random(dataset, parse_fraction(split.substr(7), "--split"), seed, true);
  throw Error(str_cat("--split: unknown split '", split, "'"));
}

}  // namespace

void check_split_spec(const std::string& split, bool allow_all) {
  if (split == "odd-even" || (allow_all && split == "all")) return;
  if (has_prefix(split, "subjects:")) {
    parse_subject_list(split.substr(9), "--split");
    return;
  }
  if (has_prefix(split, "random:")) {
    parse_fraction(split.substr(7), "--split");
    return;
  }
  throw Error(str_cat("--split: expected odd-even, subjects:1,3,5 or random:0.8", allow_all ? " or all" : "", ", got '",
                      split, "'"));
}

void check_validation_spec(const std::string& validation) {
  if (validation == "held-out") return;
  HARNET_CHECK(has_prefix(validation, "carve:"), "--validation: expected held-out or carve:K, got '", validation, "'");
  parse_carve_count(validation);
}

RunSplit make_run_split(const SkeletonDataset& dataset, const RunConfig& config) {
  const Split split = split_of(dataset, config.split, config.seed);
  RunSplit out;
  out.held_out = split.test;
  if (config.validation == "held-out") {
    out.train = split.train;
    out.validation = split.test;
    return out;
  }
  const int64_t carve = parse_carve_count(config.validation);
  std::set<int32_t> subjects;
  for (const int64_t i : split.train) subjects.insert(dataset.subjects[static_cast<size_t>(i)]);
  const auto count = static_cast<int64_t>(subjects.size());
  HARNET_CHECK(carve < count, "--validation: carve:", carve, " needs more than ", carve,
               " training subjects, the split has ", count);
  // carve_validation_by_subject takes round(fraction * count) subjects: carve exactly.
  const ValidationSplit v = carve_validation_by_subject(
      dataset, split.train, static_cast<double>(carve) / static_cast<double>(count), config.seed);
  out.train = v.train;
  out.validation = v.validation;
  out.carved = true;
  return out;
}

std::vector<int64_t> held_out_sequences(const SkeletonDataset& dataset, const std::string& split, uint64_t seed) {
  if (split == "all") {
    std::vector<int64_t> all(static_cast<size_t>(dataset.num_sequences()));
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    return all;
  }
  return split_of(dataset, split, seed).test;
}

std::string describe_split(const std::string& split) {
  if (split == "odd-even") return "cross-subject: odd subjects train, even subjects held out";
  if (split == "all") return "every sequence";
  if (has_prefix(split, "subjects:"))
    return str_cat("cross-subject: subjects ", split.substr(9), " train, the others held out");
  if (has_prefix(split, "random:"))
    return str_cat("random, class-stratified: ", split.substr(7), " of the sequences train, the rest held out");
  return split;
}

int64_t RunConfig::averaged_epochs() const {
  if (average_last <= 0.0) return 0;
  const double share = average_last * static_cast<double>(epochs);
  return std::min(epochs, static_cast<int64_t>(std::ceil(share - 1e-9)));
}

void RunConfig::validate() const {
  check_split_spec(split, false);
  check_validation_spec(validation);
  HARNET_CHECK(frames >= 1, "--frames must be >= 1, got ", frames);
  HARNET_CHECK(epochs >= 1, "--epochs must be >= 1, got ", epochs);
  HARNET_CHECK(batch >= 1, "--batch must be >= 1, got ", batch);
  static const std::set<std::string> optimizers{"adam", "adamw", "sgd", "rmsprop"};
  HARNET_CHECK(optimizers.count(optimizer.name), "--optimizer: expected adam, adamw, sgd or rmsprop, got '",
               optimizer.name, "'");
  HARNET_CHECK(std::isfinite(optimizer.lr) && optimizer.lr > 0.0, "--lr must be a positive number, got ", optimizer.lr);
  HARNET_CHECK(std::isfinite(optimizer.weight_decay) && optimizer.weight_decay >= 0.0,
               "--weight-decay must be >= 0, got ", optimizer.weight_decay);
  HARNET_CHECK(optimizer.momentum >= 0.0 && optimizer.momentum < 1.0, "--momentum must be in [0, 1), got ",
               optimizer.momentum);
  static const std::set<std::string> schedules{"cosine", "plateau", "step", "none"};
  HARNET_CHECK(schedules.count(schedule.name), "--schedule: expected cosine, plateau, step or none, got '",
               schedule.name, "'");
  HARNET_CHECK(schedule.warmup >= 0, "--warmup must be >= 0, got ", schedule.warmup);
  HARNET_CHECK(schedule.warmup == 0 || schedule.name != "plateau",
               "--warmup does not combine with --schedule plateau (add --warmup 0)");
  HARNET_CHECK(schedule.step_size >= 1, "--step-size must be >= 1, got ", schedule.step_size);
  HARNET_CHECK(schedule.gamma > 0.0 && schedule.gamma <= 1.0, "--gamma must be in (0, 1], got ", schedule.gamma);
  HARNET_CHECK(schedule.plateau_patience >= 0, "--plateau-patience must be >= 0, got ", schedule.plateau_patience);
  HARNET_CHECK(schedule.plateau_factor > 0.0 && schedule.plateau_factor < 1.0,
               "--plateau-factor must be in (0, 1), got ", schedule.plateau_factor);
  HARNET_CHECK(std::isfinite(schedule.min_lr) && schedule.min_lr >= 0.0 && schedule.min_lr < optimizer.lr,
               "--min-lr must be in [0, --lr), got ", schedule.min_lr);
  HARNET_CHECK(std::isfinite(clip) && clip >= 0.0, "--clip must be >= 0 (0: no clipping), got ", clip);
  HARNET_CHECK(label_smoothing >= 0.0 && label_smoothing < 1.0, "--label-smoothing must be in [0, 1), got ",
               label_smoothing);
  HARNET_CHECK(early_stopping >= 0, "--early-stopping must be >= 0 (0: off), got ", early_stopping);
  HARNET_CHECK(mixup >= 0.0 && std::isfinite(mixup), "--mixup must be >= 0 (Beta(alpha, alpha); 0: off), got ",
               mixup);
  HARNET_CHECK(average_last >= 0.0 && average_last <= 1.0, "--average-last must be a share of the epochs in [0, 1] "
               "(0: off), got ", average_last);
  HARNET_CHECK(tta >= 1, "--tta must be >= 1 (1: no test-time augmentation), got ", tta);
  HARNET_CHECK(threads >= 0, "--threads must be >= 1, got ", threads);
  parse_joint_walk(joint_walk, "--joint-walk");
  HARNET_CHECK(smooth.window == 0 || (smooth.window >= 3 && smooth.window % 2 == 1),
               "--smooth-window must be an odd number of frames >= 3 (0: off), got ", smooth.window);
  HARNET_CHECK(smooth.window == 0 || (smooth.order >= 0 && smooth.order < smooth.window),
               "--smooth-order must be in [0, --smooth-window) = [0, ", smooth.window, "), got ", smooth.order);
  validate_augment_options(augment);
  model.validate();
  HARNET_CHECK(joint_order.empty() || model.joints == static_cast<int64_t>(joint_order.size()), "model: joints is ",
               model.joints, " but the joint order has ", joint_order.size(), " positions");
  HARNET_CHECK(model.in_channels == input_channels(), "model: in_channels is ", model.in_channels,
               " but the features (", velocities ? "velocities " : "", bones ? "bones " : "", "positions) give ",
               input_channels());
}

std::string RunConfig::to_json() const {
  json j;
  j["format"] = kRunConfigFormat;
  j["data"] = data;
  j["split"] = split;
  j["validation"] = validation;
  j["seed"] = seed;
  j["threads"] = threads;
  j["input"] = {
      {"frames", frames},
      {"velocities", velocities},
      {"bones", bones},
      {"joint_walk", joint_walk},
      {"smoothing", {{"window", smooth.window}, {"order", smooth.order}}},
      {"normalize",
       {{"translate", normalize.translate},
        {"upright", normalize.upright},
        {"rotate", normalize.rotate},
        {"scale", normalize.scale}}},
      {"joint_order", joint_order}};
  j["augment"] = augment_json(augment);
  j["model"] = json::parse(model.to_json());
  j["training"] = {{"epochs", epochs},
                   {"batch", batch},
                   {"clip", clip},
                   {"label_smoothing", label_smoothing},
                   {"mixup", mixup},
                   {"early_stopping", early_stopping},
                   {"average_last", average_last}};
  j["evaluation"] = {{"tta", tta}};
  j["optimizer"] = {{"name", optimizer.name},
                    {"lr", optimizer.lr},
                    {"weight_decay", optimizer.weight_decay},
                    {"momentum", optimizer.momentum}};
  j["schedule"] = {{"name", schedule.name},
                   {"warmup", schedule.warmup},
                   {"step_size", schedule.step_size},
                   {"gamma", schedule.gamma},
                   {"plateau_patience", schedule.plateau_patience},
                   {"plateau_factor", schedule.plateau_factor},
                   {"min_lr", schedule.min_lr}};
  j["dataset"] = {{"class_names", class_names}, {"joint_names", joint_names}};
  return j.dump(2) + "\n";
}

RunConfig RunConfig::from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(str_cat("config: not valid JSON (", e.what(), ")"));
  }
  RunConfig c;
  JsonReader r(j, "");
  std::string format;
  r.read("format", format);
  HARNET_CHECK(format == kRunConfigFormat, "config: format is '", format, "', expected '", kRunConfigFormat, "'");
  r.read("data", c.data);
  r.read("split", c.split);
  r.read("validation", c.validation);
  r.read("seed", c.seed);
  r.read("threads", c.threads);
  r.read_object("input", [&](JsonReader& in) {
    in.read("frames", c.frames);
    in.read("velocities", c.velocities);
    in.read("bones", c.bones);
    in.read("joint_walk", c.joint_walk);
    // Written before smoothing existed: those runs did not smooth.
    c.smooth.window = 0;
    in.read_object("smoothing", [&](JsonReader& s) {
      s.read("window", c.smooth.window);
      s.read("order", c.smooth.order);
    });
    in.read_object("normalize", [&](JsonReader& n) {
      n.read("translate", c.normalize.translate);
      // Written before the upright step existed: those runs did not stand the spine upright.
      c.normalize.upright = false;
      n.read("upright", c.normalize.upright);
      n.read("rotate", c.normalize.rotate);
      n.read("scale", c.normalize.scale);
    });
    in.read("joint_order", c.joint_order);
  });
  r.read_object("augment", [&](JsonReader& a) { read_augment(a, c.augment); });
  if (const json* model = r.find("model")) {
    try {
      c.model = HARNetConfig::from_json(model->dump());
    } catch (const Error& e) {
      throw Error(str_cat("config: model: ", e.what()));
    }
  }
  r.read_object("training", [&](JsonReader& t) {
    t.read("epochs", c.epochs);
    t.read("batch", c.batch);
    t.read("clip", c.clip);
    t.read("label_smoothing", c.label_smoothing);
    // Written before mixup existed: those runs trained without it.
    c.mixup = 0.0;
    t.read("mixup", c.mixup);
    t.read("early_stopping", c.early_stopping);
    // Written before weight averaging existed: those runs ended with the last epoch's weights.
    c.average_last = 0.0;
    t.read("average_last", c.average_last);
  });
  // Written before the evaluation settings existed: those runs reported the plain view.
  if (r.find("training") && !r.find("evaluation")) c.tta = 1;
  r.read_object("evaluation", [&](JsonReader& e) { e.read("tta", c.tta); });
  r.read_object("optimizer", [&](JsonReader& o) {
    o.read("name", c.optimizer.name);
    o.read("lr", c.optimizer.lr);
    o.read("weight_decay", c.optimizer.weight_decay);
    o.read("momentum", c.optimizer.momentum);
  });
  r.read_object("schedule", [&](JsonReader& s) {
    s.read("name", c.schedule.name);
    s.read("warmup", c.schedule.warmup);
    s.read("step_size", c.schedule.step_size);
    s.read("gamma", c.schedule.gamma);
    s.read("plateau_patience", c.schedule.plateau_patience);
    s.read("plateau_factor", c.schedule.plateau_factor);
    s.read("min_lr", c.schedule.min_lr);
  });
  r.read_object("dataset", [&](JsonReader& d) {
    d.read("class_names", c.class_names);
    d.read("joint_names", c.joint_names);
  });
  r.finish();
  return c;
}

RunConfig RunConfig::load(const std::string& path) {
  HARNET_CHECK(std::filesystem::is_regular_file(path), "config file ", path, " does not exist");
  try {
    return from_json(read_text_file(path));
  } catch (const Error& e) {
    throw Error(str_cat(path, ": ", e.what()));
  }
}

void RunConfig::adopt_dataset(const SkeletonDataset& dataset) {
  class_names = dataset.class_names;
  joint_names = dataset.joint_names;
  PreprocessOptions preprocess;
  preprocess.walk = parse_joint_walk(joint_walk, "--joint-walk");
  joint_order = pipeline_joint_order(preprocess, dataset.parents);
  model.joints = static_cast<int64_t>(joint_order.size());
  model.classes = dataset.num_classes();
  model.in_channels = input_channels();
  validate();
}

void RunConfig::check_dataset(const SkeletonDataset& dataset, const std::string& what) const {
  auto list = [](const std::vector<std::string>& names) {
    std::string out;
    for (size_t i = 0; i < names.size() && i < 4; ++i) out += str_cat(i ? ", " : "", names[i]);
    return out + (names.size() > 4 ? ", ..." : "");
  };
  HARNET_CHECK(dataset.joint_names == joint_names, what, " has ", dataset.num_joints(), " joints (",
               list(dataset.joint_names), ") but the model was trained on ", joint_names.size(), " (",
               list(joint_names), ")");
  HARNET_CHECK(dataset.num_classes() == model.classes && dataset.class_names == class_names, what, " has ",
               dataset.num_classes(), " classes (", list(dataset.class_names), ") but the model was trained on ",
               model.classes, " (", list(class_names), ")");
}

int64_t RunConfig::warmup_epochs() const { return std::min(schedule.warmup, std::max<int64_t>(epochs - 1, 0)); }

LoaderOptions RunConfig::loader_options(bool training) const {
  LoaderOptions options;
  options.preprocess.smooth = smooth;
  options.preprocess.normalize = normalize;
  options.preprocess.temporal.frames = frames;
  options.preprocess.features = FeatureOptions{velocities, bones};
  options.preprocess.joint_order = joint_order;
  if (training) options.augment = augment;
  options.batch_size = batch;
  options.shuffle = training;
  options.seed = seed;
  return options;
}

}  // namespace harnet
