// Checkpoint files (layout: docs/checkpoint-format.md):
//   /            attributes format = "harnet-checkpoint", version = 1, config (JSON text)
//   /model       one dataset per state-dict key, in state-dict order
//   /optimizer   param_groups/<g> (attributes: every option, params) and state/<index>/<name>
//   /scheduler   attributes kind, scalars (0-d) and lists (1-d); children/<i> alike
//   /rng         one string attribute per generator state
//   /counters    one float64 attribute per counter
//   /average     (optional) stochastic weight averaging's state, laid out like /model
// Link names are state-dict keys and state names, escaped (escape_name) so that any key can be
// stored; attribute names are stored as they are.
#include "harnet/lib/checkpoint.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <set>

#include "autograd/error.h"
#include "data/hdf5_file.h"
#include "nn/attention.h"
#include "nn/dropout.h"
#include "nn/recurrent.h"

namespace harnet {

namespace {

constexpr const char* kModuleKeyPrefix = "module:";

// ---------------------------------------------------------------- names

// A key as an HDF5 link name: '%' -> "%25", '/' -> "%2F", and the name "." -> "%2E" (HDF5
// reads '/' as a path separator and "." as the current group). Reversible, and the identity
// on every key a harnet or PyTorch model produces.
std::string escape_name(const std::string& key) {
  if (key == ".") return "%2E";
  std::string name;
  for (char c : key) {
    if (c == '%') name += "%25";
    else if (c == '/') name += "%2F";
    else name += c;
  }
  return name;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The inverse of escape_name; `where` names the object for the error on a malformed escape.
std::string unescape_name(const std::string& name, const std::string& where) {
  std::string key;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] != '%') {
      key += name[i];
      continue;
    }
    const int high = i + 2 < name.size() ? hex_digit(name[i + 1]) : -1;
    const int low = i + 2 < name.size() ? hex_digit(name[i + 2]) : -1;
    HARNET_CHECK(high >= 0 && low >= 0, where, ": malformed escape in the name '", name,
                 "' ('%' must start %25, %2F or %2E)");
    key += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return key;
}

std::string child_path(const std::string& group, const std::string& name) {
  return group == "/" ? "/" + name : group + "/" + name;
}

// ---------------------------------------------------------------- writing

// `what` names the tensor in errors ("model key 'fc.weight'").
void write_tensor(hdf5::File& file, const std::string& name, const Tensor& tensor, const std::string& what) {
  HARNET_CHECK(tensor.defined(), what, " is an undefined tensor");
  switch (tensor.dtype()) {
    case DType::Float32: file.write_dataset(name, tensor.to_vector<float>(), tensor.shape()); return;
    case DType::Float64: file.write_dataset(name, tensor.to_vector<double>(), tensor.shape()); return;
    case DType::Int64: file.write_dataset(name, tensor.to_vector<int64_t>(), tensor.shape()); return;
    case DType::Bool: break;
  }
  throw Error(str_cat(what, " is a ", dtype_name(tensor.dtype()),
                      " tensor; checkpoints hold float32, float64 and int64 tensors"));
}

void check_key(const std::string& key, const std::string& what) {
  HARNET_CHECK(!key.empty(), "an empty ", what, " cannot be stored");
}

// A state dict as the group `group` ("/model", "/average"), one dataset per key.
void write_state_dict(hdf5::File& file, const std::string& group, const nn::StateDict& dict) {
  file.create_group(group);
  const std::string what = group.substr(1);
  for (const auto& [key, tensor] : dict) {
    check_key(key, "state-dict key");
    write_tensor(file, child_path(group, escape_name(key)), tensor, str_cat(what, " key '", key, "'"));
  }
}

void write_optimizer(hdf5::File& file, const OptimizerState& optimizer) {
  file.create_group("/optimizer/param_groups");
  for (size_t g = 0; g < optimizer.groups.size(); ++g) {
    const GroupState& group = optimizer.groups[g];
    const std::string path = str_cat("/optimizer/param_groups/", g);
    file.create_group(path);
    for (const auto& [option, value] : group.options) {
      check_key(option, "optimizer option");
      HARNET_CHECK(option != "params", "param group ", g, ": an option named 'params' clashes with the parameter list");
      file.write_scalar_attribute(path, option, value);
    }
    file.write_attribute(path, "params", group.params, {static_cast<int64_t>(group.params.size())});
  }
  file.create_group("/optimizer/state");
  for (const auto& [index, state] : optimizer.state) {
    HARNET_CHECK(index >= 0, "optimizer state: negative parameter index ", index);
    const std::string path = str_cat("/optimizer/state/", index);
    file.create_group(path);
    for (const auto& [name, tensor] : state) {
      check_key(name, "optimizer state name");
      write_tensor(file, child_path(path, escape_name(name)), tensor,
                   str_cat("optimizer state '", name, "' of parameter ", index));
    }
  }
}

void write_scheduler(hdf5::File& file, const std::string& path, const SchedulerState& state) {
  file.create_group(path);
  file.write_string_attribute(path, "kind", state.kind);
  for (const auto& [name, value] : state.scalars) {
    check_key(name, "scheduler value");
    HARNET_CHECK(name != "kind" && !state.lists.count(name), "scheduler ", path, ": the name '", name,
                 "' is used twice (kind, a scalar, a list)");
    file.write_scalar_attribute(path, name, value);
  }
  for (const auto& [name, values] : state.lists) {
    check_key(name, "scheduler list");
    HARNET_CHECK(name != "kind", "scheduler ", path, ": a list named 'kind' clashes with the kind");
    file.write_attribute(path, name, values, {static_cast<int64_t>(values.size())});
  }
  for (size_t i = 0; i < state.children.size(); ++i)
    write_scheduler(file, str_cat(path, "/children/", i), state.children[i]);
}

void write_checkpoint(hdf5::File& file, const Checkpoint& checkpoint) {
  file.write_string_attribute("format", std::string(kCheckpointFormat));
  file.write_scalar_attribute("version", kCheckpointVersion);
  file.write_string_attribute("config", checkpoint.config);
  write_state_dict(file, "/model", checkpoint.model);
  if (checkpoint.average) write_state_dict(file, "/average", *checkpoint.average);
  if (checkpoint.optimizer) write_optimizer(file, *checkpoint.optimizer);
  if (checkpoint.scheduler) write_scheduler(file, "/scheduler", *checkpoint.scheduler);
  file.create_group("/rng");
  for (const auto& [name, state] : checkpoint.rng) {
    check_key(name, "generator name");
    file.write_string_attribute("/rng", name, state);
  }
  file.create_group("/counters");
  for (const auto& [name, value] : checkpoint.counters) {
    check_key(name, "counter name");
    file.write_scalar_attribute("/counters", name, value);
  }
}

// ---------------------------------------------------------------- reading

// Reads one checkpoint file; every check throws "HDF5 file '<path>', <object>: <problem>".
class Reader {
 public:
  explicit Reader(const std::string& path) : file_(hdf5::File::open(path)) {}

  Checkpoint read() {
    check_format();
    Checkpoint checkpoint;
    checkpoint.config = read_config();
    checkpoint.model = read_state_dict("/model", "the model's state dict");
    if (file_.has_group("/average") || file_.has_dataset("/average"))
      checkpoint.average = read_state_dict("/average", "the weight average's state");
    if (file_.has_group("/optimizer") || file_.has_dataset("/optimizer")) checkpoint.optimizer = read_optimizer();
    if (file_.has_group("/scheduler") || file_.has_dataset("/scheduler"))
      checkpoint.scheduler = read_scheduler("/scheduler");
    checkpoint.rng = read_rng();
    checkpoint.counters = read_counters();
    return checkpoint;
  }

 private:
  std::string at(const std::string& object) const { return str_cat("HDF5 file '", file_.path(), "', ", object); }
  std::string group_at(const std::string& path) const { return at(str_cat("group '", path, "'")); }
  std::string attribute_at(const std::string& object, const std::string& name) const {
    return object == "/" ? at(str_cat("attribute '", name, "'"))
                         : at(str_cat("attribute '", name, "' of '", object, "'"));
  }

  // ---- generic pieces

  void check_only(const std::vector<std::string>& names, const std::set<std::string>& allowed,
                  const std::string& where, const char* what) const {
    for (const std::string& name : names)
      HARNET_CHECK(allowed.count(name), where, ": unexpected ", what, " '", name, "'");
  }

  void require_group(const std::string& path, const char* what) const {
    HARNET_CHECK(file_.has_group(path), group_at(path), file_.has_dataset(path) ? ": a dataset, expected a group (" : ": missing (",
                 what, ")");
  }

  // The members of a group that must all be groups (or all datasets).
  std::vector<std::string> members(const std::string& path, bool groups) const {
    std::vector<std::string> names = file_.member_names(path);
    for (const std::string& name : names) {
      const std::string child = child_path(path, name);
      const bool ok = groups ? file_.has_group(child) : file_.has_dataset(child);
      HARNET_CHECK(ok, at(str_cat("'", child, "'")), ": expected a ", groups ? "group" : "dataset", ", found ",
                   groups ? "a dataset or another object" : "a group or another object");
    }
    return names;
  }

  // A non-negative decimal number without leading zeros, as in "/optimizer/state/12".
  int64_t index_of(const std::string& name, const std::string& path) const {
    const bool digits = !name.empty() && name.size() <= 18 &&
                        std::all_of(name.begin(), name.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    HARNET_CHECK(digits && (name == "0" || name[0] != '0'), group_at(path), ": member '", name,
                 "' is not an index (0, 1, 2, ...)");
    return std::stoll(name);
  }

  // The groups path/0, path/1, ... (every index from 0 up, nothing else), in order.
  std::vector<std::string> numbered_groups(const std::string& path) const {
    const std::vector<std::string> names = members(path, /*groups=*/true);
    std::set<int64_t> indices;
    for (const std::string& name : names) indices.insert(index_of(name, path));
    std::vector<std::string> paths;
    for (int64_t i = 0; i < static_cast<int64_t>(names.size()); ++i) {
      HARNET_CHECK(indices.count(i), group_at(path), ": member '", i, "' is missing (expected 0 to ", names.size() - 1,
                   ")");
      paths.push_back(str_cat(path, "/", i));
    }
    return paths;
  }

  Tensor read_tensor(const std::string& name, const std::string& what) const {
    const hdf5::ObjectInfo info = file_.dataset_info(name);
    if (info.type_name == "float32") return from_vector(file_.read_dataset<float>(name), info.shape, kFloat32);
    if (info.type_name == "float64") return from_vector(file_.read_dataset<double>(name), info.shape, kFloat64);
    if (info.type_class == hdf5::TypeClass::Integer)
      return from_vector(file_.read_dataset<int64_t>(name), info.shape, kInt64);
    throw Error(str_cat(at(str_cat("dataset '", name, "'")), ": ", what, " holds ", info.type_name,
                        " values; checkpoint tensors are float32, float64 or integers"));
  }

  // A numeric attribute of the given rank (0: a scalar, 1: a list).
  template <class T>
  std::vector<T> read_numbers(const std::string& object, const std::string& name, size_t rank) const {
    const hdf5::ObjectInfo info = file_.attribute_info(object, name);
    HARNET_CHECK(info.type_class == hdf5::TypeClass::Integer || info.type_class == hdf5::TypeClass::Float,
                 attribute_at(object, name), ": holds ", info.type_name, " values, expected numbers");
    HARNET_CHECK(info.shape.size() == rank, attribute_at(object, name), ": has shape ", info.shape, ", expected ",
                 rank == 0 ? "a single value" : "a list");
    return file_.read_attribute<T>(object, name);
  }

  std::string read_string(const std::string& object, const std::string& name) const {
    const hdf5::ObjectInfo info = file_.attribute_info(object, name);
    HARNET_CHECK(info.type_class == hdf5::TypeClass::String && info.shape.empty(), attribute_at(object, name),
                 ": expected one string, found ", info.type_name, " of shape ", info.shape);
    return file_.read_string_attribute(object, name)[0];
  }

  // ---- sections

  void check_format() const {
    HARNET_CHECK(file_.has_attribute("format"), attribute_at("/", "format"),
                 ": missing (not a harnet checkpoint)");
    const std::string format = read_string("/", "format");
    HARNET_CHECK(format == kCheckpointFormat, attribute_at("/", "format"), ": is '", format, "', expected '",
                 kCheckpointFormat, "' (not a harnet checkpoint)");
    const hdf5::ObjectInfo version_info = file_.attribute_info("version");
    HARNET_CHECK(version_info.type_class == hdf5::TypeClass::Integer && version_info.shape.empty(),
                 attribute_at("/", "version"), ": expected one integer, found ", version_info.type_name, " of shape ",
                 version_info.shape);
    const int64_t version = file_.read_attribute<int64_t>("version")[0];
    HARNET_CHECK(version <= kCheckpointVersion, attribute_at("/", "version"), ": version ", version,
                 " is newer than this program reads (", kCheckpointVersion, ")");
    HARNET_CHECK(version >= 1, attribute_at("/", "version"), ": version ", version, " is not a valid version");
    check_only(file_.attribute_names("/"), {"format", "version", "config"}, group_at("/"), "attribute");
    check_only(file_.member_names("/"), {"model", "optimizer", "scheduler", "rng", "counters", "average"},
               group_at("/"), "member");
  }

  std::string read_config() const {
    const std::string config = read_string("/", "config");
    HARNET_CHECK(config.empty() || nlohmann::json::accept(config), attribute_at("/", "config"),
                 ": not valid JSON text");
    return config;
  }

  nn::StateDict read_state_dict(const std::string& group, const char* what) const {
    require_group(group, what);
    nn::StateDict dict;
    for (const std::string& name : members(group, /*groups=*/false)) {
      const std::string path = child_path(group, name);
      const std::string key = unescape_name(name, at(str_cat("dataset '", path, "'")));
      dict.insert(key, read_tensor(path, str_cat(group.substr(1), " key '", key, "'")));
    }
    return dict;
  }

  OptimizerState read_optimizer() const {
    require_group("/optimizer", "the optimizer's state");
    check_only(file_.member_names("/optimizer"), {"param_groups", "state"}, group_at("/optimizer"), "member");
    require_group("/optimizer/param_groups", "the optimizer's param groups");
    require_group("/optimizer/state", "the optimizer's per-parameter state");
    OptimizerState state;
    for (const std::string& path : numbered_groups("/optimizer/param_groups")) {
      GroupState group;
      HARNET_CHECK(file_.has_attribute(path, "params"), attribute_at(path, "params"),
                   ": missing (the group's parameter indices)");
      const hdf5::ObjectInfo params = file_.attribute_info(path, "params");
      HARNET_CHECK(params.type_class == hdf5::TypeClass::Integer && params.shape.size() == 1,
                   attribute_at(path, "params"), ": expected a list of integers, found ", params.type_name,
                   " of shape ", params.shape);
      group.params = file_.read_attribute<int64_t>(path, "params");
      for (const std::string& option : file_.attribute_names(path))
        if (option != "params") group.options[option] = read_numbers<double>(path, option, 0)[0];
      HARNET_CHECK(file_.member_names(path).empty(), group_at(path), ": unexpected members (a param group holds only attributes)");
      state.groups.push_back(std::move(group));
    }
    for (const std::string& name : members("/optimizer/state", /*groups=*/true)) {
      const std::string path = child_path("/optimizer/state", name);
      ParamState& param_state = state.state[index_of(name, "/optimizer/state")];
      for (const std::string& entry : members(path, /*groups=*/false)) {
        const std::string entry_path = child_path(path, entry);
        const std::string key = unescape_name(entry, at(str_cat("dataset '", entry_path, "'")));
        param_state[key] = read_tensor(entry_path, str_cat("optimizer state '", key, "'"));
      }
    }
    return state;
  }

  SchedulerState read_scheduler(const std::string& path) const {
    require_group(path, "a scheduler's state");
    SchedulerState state;
    HARNET_CHECK(file_.has_attribute(path, "kind"), attribute_at(path, "kind"), ": missing (the scheduler's class)");
    state.kind = read_string(path, "kind");
    for (const std::string& name : file_.attribute_names(path)) {
      if (name == "kind") continue;
      if (file_.attribute_info(path, name).shape.empty())
        state.scalars[name] = read_numbers<double>(path, name, 0)[0];
      else
        state.lists[name] = read_numbers<double>(path, name, 1);
    }
    check_only(file_.member_names(path), {"children"}, group_at(path), "member");
    if (file_.has_group(path + "/children") || file_.has_dataset(path + "/children"))
      for (const std::string& child : numbered_groups(path + "/children")) state.children.push_back(read_scheduler(child));
    return state;
  }

  // The attributes of an optional group that holds nothing else.
  std::vector<std::string> attributes_only(const std::string& path) const {
    if (!file_.has_group(path) && !file_.has_dataset(path)) return {};
    require_group(path, "attributes only");
    HARNET_CHECK(file_.member_names(path).empty(), group_at(path), ": unexpected members (it holds only attributes)");
    return file_.attribute_names(path);
  }

  std::map<std::string, std::string> read_rng() const {
    std::map<std::string, std::string> rng;
    for (const std::string& name : attributes_only("/rng")) rng[name] = read_string("/rng", name);
    return rng;
  }

  std::map<std::string, double> read_counters() const {
    std::map<std::string, double> counters;
    for (const std::string& name : attributes_only("/counters"))
      counters[name] = read_numbers<double>("/counters", name, 0)[0];
    return counters;
  }

  hdf5::File file_;
};

// ---------------------------------------------------------------- generators

// The generator a module owns, if it is one of the kinds that draw at run time.
Generator* owned_generator(nn::Module& module) {
  if (auto* dropout = dynamic_cast<nn::Dropout*>(&module)) return &dropout->generator();
  if (auto* recurrent = dynamic_cast<nn::RecurrentBase*>(&module)) return &recurrent->generator();
  if (auto* attention = dynamic_cast<nn::MultiheadAttention*>(&module)) return &attention->generator();
  return nullptr;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  const std::string where = str_cat("save_checkpoint '", path, "'");
  HARNET_CHECK(checkpoint.config.empty() || nlohmann::json::accept(checkpoint.config), where,
               ": the config is not valid JSON text");
  hdf5::write_file_atomically(path, where, [&](hdf5::File& file) { write_checkpoint(file, checkpoint); });
}

Checkpoint load_checkpoint(const std::string& path) {
  try {
    return Reader(path).read();
  } catch (const Error& e) {
    throw Error(str_cat("load_checkpoint: ", e.what()));
  }
}

nn::LoadReport load_model_weights(nn::Module& model, const std::string& path, bool strict) {
  const Checkpoint checkpoint = load_checkpoint(path);
  try {
    return model.load_state_dict(checkpoint.model, strict);
  } catch (const Error& e) {
    throw Error(str_cat("checkpoint '", path, "': ", e.what()));
  }
}

std::map<std::string, std::string> module_generator_states(nn::Module& model) {
  std::map<std::string, std::string> states;
  for (auto& [name, module] : model.named_modules())
    if (Generator* generator = owned_generator(*module)) states[kModuleKeyPrefix + name] = generator->state();
  return states;
}

void set_module_generator_states(nn::Module& model, const std::map<std::string, std::string>& states) {
  const std::string where = "set_module_generator_states";
  // Every state is parsed into a copy first, so that nothing changes when one is missing or bad.
  std::vector<std::pair<Generator*, Generator>> updates;
  std::set<std::string> used;
  for (auto& [name, module] : model.named_modules()) {
    Generator* generator = owned_generator(*module);
    if (generator == nullptr) continue;
    const std::string key = kModuleKeyPrefix + name;
    auto it = states.find(key);
    HARNET_CHECK(it != states.end(), where, ": no state for the generator of ", module->type_name(), " '", name,
                 "' (key '", key, "')");
    Generator restored = *generator;
    try {
      restored.set_state(it->second);
    } catch (const Error& e) {
      throw Error(str_cat(where, ": key '", key, "': ", e.what()));
    }
    updates.emplace_back(generator, restored);
    used.insert(key);
  }
  for (const auto& [key, state] : states)
    HARNET_CHECK(key.rfind(kModuleKeyPrefix, 0) != 0 || used.count(key), where, ": key '", key,
                 "' names no module with a generator in ", model.type_name());
  for (auto& [generator, restored] : updates) *generator = restored;
}

}  // namespace harnet
