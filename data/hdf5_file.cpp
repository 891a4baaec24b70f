#include "data/hdf5_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <type_traits>

#include "autograd/error.h"

namespace harnet::hdf5 {

namespace {

// Switches HDF5's automatic error-stack printing off for one scope and restores whatever was
// installed before, so the library's global setting is unchanged outside our calls.
class QuietErrors {
 public:
  QuietErrors() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// The most specific description on HDF5's error stack (e.g. "truncated file: eof = 96, ..."),
// or "" when the stack is empty; clears the stack. Some descriptions span lines (a failed
// write's "file write failed: time = ...\n, filename = ..."): they are joined into one.
std::string hdf5_reason() {
  std::string reason;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned, const H5E_error2_t* e, void* out) -> herr_t {
        auto* text = static_cast<std::string*>(out);
        if (text->empty() && e->desc != nullptr && e->desc[0] != '\0') *text = e->desc;
        return 0;
      },
      &reason);
  H5Eclear2(H5E_DEFAULT);
  std::replace(reason.begin(), reason.end(), '\n', ' ');
  return reason;
}

std::string file_label(const std::string& path) { return str_cat("HDF5 file '", path, "'"); }
std::string dataset_label(const std::string& path, const std::string& name) {
  return str_cat(file_label(path), ", dataset '", name, "'");
}
std::string group_label(const std::string& path, const std::string& name) {
  return str_cat(file_label(path), ", group '", name, "'");
}
// Root attributes are named alone ("attribute 'fps'"), others with their object
// ("attribute 'lr' of '/optimizer/param_groups/0'").
std::string attribute_label(const std::string& path, const std::string& object, const std::string& name) {
  if (object == "/") return str_cat(file_label(path), ", attribute '", name, "'");
  return str_cat(file_label(path), ", attribute '", name, "' of '", object, "'");
}

// Throws "<where>: <what>[: <HDF5 reason>]".
[[noreturn]] void fail(const std::string& where, const std::string& what) {
  const std::string reason = hdf5_reason();
  throw Error(reason.empty() ? str_cat(where, ": ", what) : str_cat(where, ": ", what, ": ", reason));
}

hid_t check_id(hid_t id, const std::string& where, const std::string& what) {
  if (id < 0) fail(where, what);
  return id;
}
void check_status(herr_t status, const std::string& where, const std::string& what) {
  if (status < 0) fail(where, what);
}

// The in-memory (native) and on-disk (little-endian standard) HDF5 types of a C++ type.
template <class T>
struct TypeOf;
#define HARNET_HDF5_TYPE(CppType, Native, Stored)   \
  template <>                                       \
  struct TypeOf<CppType> {                          \
    static hid_t native() { return Native; }        \
    static hid_t stored() { return Stored; }        \
  };
HARNET_HDF5_TYPE(float, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE)
HARNET_HDF5_TYPE(double, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE)
HARNET_HDF5_TYPE(int8_t, H5T_NATIVE_INT8, H5T_STD_I8LE)
HARNET_HDF5_TYPE(int16_t, H5T_NATIVE_INT16, H5T_STD_I16LE)
HARNET_HDF5_TYPE(int32_t, H5T_NATIVE_INT32, H5T_STD_I32LE)
HARNET_HDF5_TYPE(int64_t, H5T_NATIVE_INT64, H5T_STD_I64LE)
HARNET_HDF5_TYPE(uint8_t, H5T_NATIVE_UINT8, H5T_STD_U8LE)
HARNET_HDF5_TYPE(uint16_t, H5T_NATIVE_UINT16, H5T_STD_U16LE)
HARNET_HDF5_TYPE(uint32_t, H5T_NATIVE_UINT32, H5T_STD_U32LE)
HARNET_HDF5_TYPE(uint64_t, H5T_NATIVE_UINT64, H5T_STD_U64LE)
#undef HARNET_HDF5_TYPE

// A stored object (dataset or attribute) seen through the calls that differ between the two.
struct Stored {
  hid_t id;
  bool is_attribute;
  std::string label;  // for messages

  Handle type() const {
    return Handle(check_id(is_attribute ? H5Aget_type(id) : H5Dget_type(id), label, "cannot read the element type"),
                  H5Tclose);
  }
  Handle space() const {
    return Handle(check_id(is_attribute ? H5Aget_space(id) : H5Dget_space(id), label, "cannot read the shape"),
                  H5Sclose);
  }
  void read(hid_t memory_type, void* buffer) const {
    const herr_t status = is_attribute ? H5Aread(id, memory_type, buffer)
                                       : H5Dread(id, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
    check_status(status, label, "cannot read the values");
  }
};

std::string type_name(hid_t type) {
  const size_t bits = H5Tget_size(type) * 8;
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return str_cat(H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int", bits);
    case H5T_FLOAT:
      return str_cat("float", bits);
    case H5T_STRING:
      return H5Tis_variable_str(type) > 0 ? "variable-length string"
                                          : str_cat("fixed-length string (", H5Tget_size(type), " bytes)");
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length sequence";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    case H5T_REFERENCE: return "reference";
    default: return "unknown type";
  }
}

ObjectInfo describe(const Stored& object) {
  ObjectInfo info;
  Handle type = object.type();
  switch (H5Tget_class(type.get())) {
    case H5T_INTEGER: info.type_class = TypeClass::Integer; break;
    case H5T_FLOAT: info.type_class = TypeClass::Float; break;
    case H5T_STRING: info.type_class = TypeClass::String; break;
    default: info.type_class = TypeClass::Other; break;
  }
  info.type_name = type_name(type.get());
  Handle space = object.space();
  switch (H5Sget_simple_extent_type(space.get())) {
    case H5S_SCALAR: break;
    case H5S_SIMPLE: {
      const int rank = H5Sget_simple_extent_ndims(space.get());
      std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
      check_status(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), object.label, "cannot read the shape");
      for (hsize_t d : dims) info.shape.push_back(static_cast<int64_t>(d));
      break;
    }
    default:  // a null dataspace holds no elements
      info.shape = {0};
      break;
  }
  return info;
}

template <class T>
std::vector<T> read_numeric(const Stored& object) {
  const ObjectInfo info = describe(object);
  const bool accepted = info.type_class == TypeClass::Integer ||
                        (std::is_floating_point_v<T> && info.type_class == TypeClass::Float);
  if (!accepted)
    throw Error(str_cat(object.label, ": holds ", info.type_name, " values, expected ",
                        std::is_floating_point_v<T> ? "numbers" : "integers"));
  std::vector<T> values(static_cast<size_t>(info.num_elements()));
  if (!values.empty()) object.read(TypeOf<T>::native(), values.data());
  return values;
}

std::vector<std::string> read_strings(const Stored& object) {
  const ObjectInfo info = describe(object);
  if (info.type_class != TypeClass::String)
    throw Error(str_cat(object.label, ": holds ", info.type_name, " values, expected strings"));
  const size_t count = static_cast<size_t>(info.num_elements());
  std::vector<std::string> strings(count);
  if (count == 0) return strings;
  Handle stored = object.type();
  Handle memory(check_id(H5Tcopy(H5T_C_S1), object.label, "cannot make a string type"), H5Tclose);
  // The character set must match the stored one: HDF5 does not convert between ASCII and UTF-8.
  check_status(H5Tset_cset(memory.get(), H5Tget_cset(stored.get())), object.label, "cannot make a string type");
  if (H5Tis_variable_str(stored.get()) > 0) {
    check_status(H5Tset_size(memory.get(), H5T_VARIABLE), object.label, "cannot make a string type");
    std::vector<char*> pointers(count, nullptr);
    object.read(memory.get(), pointers.data());
    for (size_t i = 0; i < count; ++i)
      if (pointers[i] != nullptr) strings[i] = pointers[i];
    Handle space = object.space();
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(memory.get(), space.get(), H5P_DEFAULT, pointers.data());
#else
    H5Dvlen_reclaim(memory.get(), space.get(), H5P_DEFAULT, pointers.data());
#endif
  } else {
    const size_t width = H5Tget_size(stored.get());
    check_status(H5Tset_size(memory.get(), width), object.label, "cannot make a string type");
    check_status(H5Tset_strpad(memory.get(), H5T_STR_NULLPAD), object.label, "cannot make a string type");
    std::vector<char> buffer(count * width);
    object.read(memory.get(), buffer.data());
    const bool space_padded = H5Tget_strpad(stored.get()) == H5T_STR_SPACEPAD;
    for (size_t i = 0; i < count; ++i) {
      const char* begin = buffer.data() + i * width;
      std::string text(begin, std::find(begin, begin + width, '\0'));
      if (space_padded) text.erase(text.find_last_not_of(' ') + 1);
      strings[i] = std::move(text);
    }
  }
  return strings;
}

Handle make_space(const std::vector<int64_t>& shape, const std::string& where) {
  if (shape.empty()) return Handle(check_id(H5Screate(H5S_SCALAR), where, "cannot make a dataspace"), H5Sclose);
  std::vector<hsize_t> dims;
  for (int64_t d : shape) {
    HARNET_CHECK(d >= 0, where, ": negative dimension in shape ", shape);
    dims.push_back(static_cast<hsize_t>(d));
  }
  return Handle(check_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), where,
                         "cannot make a dataspace"),
                H5Sclose);
}

void check_count(size_t count, const std::vector<int64_t>& shape, const std::string& where) {
  int64_t expected = 1;
  for (int64_t d : shape) expected *= d;
  HARNET_CHECK(static_cast<int64_t>(count) == expected, where, ": ", count, " values do not fill shape ", shape);
}

Handle variable_utf8_string_type(const std::string& where) {
  Handle type(check_id(H5Tcopy(H5T_C_S1), where, "cannot make a string type"), H5Tclose);
  check_status(H5Tset_size(type.get(), H5T_VARIABLE), where, "cannot make a string type");
  check_status(H5Tset_cset(type.get(), H5T_CSET_UTF8), where, "cannot make a string type");
  return type;
}

std::vector<const char*> c_strings(const std::vector<std::string>& values) {
  std::vector<const char*> pointers;
  for (const std::string& s : values) pointers.push_back(s.c_str());
  return pointers;
}

// An object creation property list without modification times, so that the same content
// gives the same bytes.
Handle untimed_plist(hid_t plist_class, const std::string& where) {
  Handle plist(check_id(H5Pcreate(plist_class), where, "cannot make a property list"), H5Pclose);
  check_status(H5Pset_obj_track_times(plist.get(), false), where, "cannot switch off modification times");
  return plist;
}

// Chunks of about 256 KiB along the first dimension, whole along the others.
Handle compressed_layout(const std::vector<int64_t>& shape, size_t element_size, const std::string& where) {
  Handle plist = untimed_plist(H5P_DATASET_CREATE, where);
  const bool chunkable = !shape.empty() && std::all_of(shape.begin(), shape.end(), [](int64_t d) { return d > 0; });
  if (!chunkable) return plist;
  std::vector<hsize_t> chunk(shape.begin(), shape.end());
  size_t row_bytes = element_size;
  for (size_t i = 1; i < shape.size(); ++i) row_bytes *= static_cast<size_t>(shape[i]);
  chunk[0] = std::clamp<hsize_t>((256 * 1024) / std::max<size_t>(row_bytes, 1), 1, chunk[0]);
  check_status(H5Pset_chunk(plist.get(), static_cast<int>(chunk.size()), chunk.data()), where, "cannot set chunking");
  if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
    check_status(H5Pset_shuffle(plist.get()), where, "cannot set the shuffle filter");
    check_status(H5Pset_deflate(plist.get(), 4), where, "cannot set compression");
  }
  return plist;
}

// ---- paths, groups and listing order

// True when every component of the absolute path exists (H5Lexists itself fails, rather than
// answering false, when an intermediate group is missing).
bool path_exists(hid_t file, const std::string& path) {
  if (path == "/") return true;
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (slash == std::string::npos) return true;
  }
}

// The kind of object at an existing path (H5I_GROUP, H5I_DATASET, ...), H5I_BADID if none.
H5I_type_t object_type(hid_t file, const std::string& path) {
  if (!path_exists(file, path)) return H5I_BADID;
  Handle object(H5Oopen(file, path.c_str(), H5P_DEFAULT), H5Oclose);
  H5Eclear2(H5E_DEFAULT);
  return object.valid() ? H5Iget_type(object.get()) : H5I_BADID;
}

void check_absolute_path(const std::string& path, const std::string& where) {
  HARNET_CHECK(!path.empty() && path[0] == '/', where, ": not an absolute path (it must start with '/')");
  for (size_t begin = 1; begin <= path.size();) {
    const size_t end = std::min(path.find('/', begin), path.size());
    const std::string component = path.substr(begin, end - begin);
    HARNET_CHECK(!component.empty() || path == "/", where, ": empty name in the path");
    HARNET_CHECK(component != ".", where, ": '.' cannot name an object");
    begin = end + 1;
  }
}

// A group creation property list that tracks (and indexes) the creation order of links and
// attributes; it also serves as the file creation property list, for the root group.
Handle order_tracking_plist(hid_t plist_class, const std::string& where) {
  Handle plist = untimed_plist(plist_class, where);
  const unsigned flags = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;
  check_status(H5Pset_link_creation_order(plist.get(), flags), where, "cannot track the creation order");
  check_status(H5Pset_attr_creation_order(plist.get(), flags), where, "cannot track the creation order");
  return plist;
}

// Creates every group along the absolute path that does not exist yet.
void create_missing_groups(hid_t file, const std::string& path, const std::string& where) {
  check_absolute_path(path, where);
  if (path == "/") return;
  Handle plist = order_tracking_plist(H5P_GROUP_CREATE, where);
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    const H5I_type_t type = object_type(file, prefix);
    if (type == H5I_BADID)
      Handle(check_id(H5Gcreate2(file, prefix.c_str(), H5P_DEFAULT, plist.get(), H5P_DEFAULT), where,
                      str_cat("cannot create the group '", prefix, "'")),
             H5Gclose);
    else
      HARNET_CHECK(type == H5I_GROUP, where, ": '", prefix, "' exists and is not a group");
    if (slash == std::string::npos) return;
  }
}

// The parent groups of a dataset about to be written: created when missing.
void create_parent_groups(hid_t file, const std::string& name, const std::string& where) {
  const size_t slash = name.rfind('/');
  if (slash == std::string::npos || slash == 0) return;
  create_missing_groups(file, name.substr(0, slash), where);
}

// Creation order where the object's creation property list says it is indexed, else by name.
H5_index_t listing_order(hid_t object, bool attributes) {
  const H5I_type_t type = H5Iget_type(object);
  const hid_t plist_id = type == H5I_GROUP ? H5Gget_create_plist(object)
                         : type == H5I_DATASET ? H5Dget_create_plist(object)
                                               : H5I_INVALID_HID;
  if (plist_id < 0) {
    H5Eclear2(H5E_DEFAULT);
    return H5_INDEX_NAME;
  }
  Handle plist(plist_id, H5Pclose);
  unsigned flags = 0;
  const herr_t status = attributes ? H5Pget_attr_creation_order(plist.get(), &flags)
                                   : H5Pget_link_creation_order(plist.get(), &flags);
  H5Eclear2(H5E_DEFAULT);
  return status >= 0 && (flags & H5P_CRT_ORDER_INDEXED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
}

// ---- atomic writing

// The permission bits a newly created file gets: 0666 minus the process's umask, read from
// /proc (calling umask() to query it would briefly change it for every thread).
mode_t new_file_mode() {
  mode_t mask = 022;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Umask:", 0) == 0) mask = static_cast<mode_t>(std::strtoul(line.c_str() + 6, nullptr, 8));
  return 0666 & ~mask;
}

std::string errno_text() { return std::strerror(errno); }

// A uniquely named temporary file beside the destination, removed unless committed.
class TemporaryFile {
 public:
  TemporaryFile(const std::filesystem::path& directory, const std::string& final_name, mode_t mode,
                const std::string& where) {
    std::string pattern = (directory / ("." + final_name + ".tmp-XXXXXX")).string();
    const int fd = mkstemp(pattern.data());
    HARNET_CHECK(fd >= 0, where, ": cannot create a file in directory '", directory.string(), "': ", errno_text());
    path_ = pattern;
    const bool mode_set = fchmod(fd, mode) == 0;
    const std::string reason = mode_set ? "" : errno_text();
    ::close(fd);
    if (!mode_set) {
      std::remove(path_.c_str());
      throw Error(str_cat(where, ": cannot set the permissions of '", path_, "': ", reason));
    }
  }
  ~TemporaryFile() {
    if (!committed_) std::remove(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  const std::string& path() const { return path_; }
  void commit() { committed_ = true; }

 private:
  std::string path_;
  bool committed_ = false;
};

void fsync_path(const std::string& path, int flags, const std::string& where, bool required) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    HARNET_CHECK(!required, where, ": cannot open '", path, "' to sync it: ", errno_text());
    return;
  }
  const bool synced = ::fsync(fd) == 0 || (!required && (errno == EINVAL || errno == EROFS));
  const std::string reason = synced ? "" : errno_text();
  ::close(fd);
  HARNET_CHECK(synced, where, ": cannot sync '", path, "' to disk: ", reason);
}

// Removes the temporary files of earlier writes of `final_name` that were killed before their
// rename (".<name>.tmp-" and mkstemp's 6 characters). Only files untouched for 10 minutes go:
// a younger one may belong to a writer that is still at work. Best effort: errors are ignored.
void remove_stale_temporaries(const std::filesystem::path& directory, const std::string& final_name) {
  namespace fs = std::filesystem;
  const std::string prefix = "." + final_name + ".tmp-";
  const auto cutoff = fs::file_time_type::clock::now() - std::chrono::minutes(10);
  std::error_code ec;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() != prefix.size() + 6 || name.rfind(prefix, 0) != 0) continue;
    std::error_code item_ec;
    if (!it->is_regular_file(item_ec) || item_ec) continue;
    const auto written = fs::last_write_time(it->path(), item_ec);
    if (!item_ec && written < cutoff) fs::remove(it->path(), item_ec);
  }
}

}  // namespace

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    close_ = other.close_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

bool Handle::reset() {
  if (id_ < 0) return true;
  QuietErrors quiet;
  const herr_t status = close_(id_);
  id_ = H5I_INVALID_HID;
  H5Eclear2(H5E_DEFAULT);
  return status >= 0;
}

int64_t ObjectInfo::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

File File::open(const std::string& path, bool writable) {
  QuietErrors quiet;
  const std::string where = file_label(path);
  std::error_code ec;
  HARNET_CHECK(std::filesystem::exists(path, ec), where, ": no such file");
  HARNET_CHECK(std::filesystem::is_regular_file(path, ec), where, ": not a regular file");
#if H5_VERSION_GE(1, 12, 0)
  const htri_t is_hdf5 = H5Fis_accessible(path.c_str(), H5P_DEFAULT);
#else
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
#endif
  if (is_hdf5 == 0) {
    H5Eclear2(H5E_DEFAULT);
    throw Error(str_cat(where, ": not an HDF5 file (no HDF5 signature; empty, truncated or another format)"));
  }
  if (is_hdf5 < 0) fail(where, "cannot read the file");
  const hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) fail(where, "cannot open");
  return File(path, Handle(id, H5Fclose));
}

File File::create(const std::string& path) {
  QuietErrors quiet;
  const std::string where = file_label(path);
  // The HDF5 1.8 object format: readable by every HDF5 since 2008 (h5py included), and it
  // lifts the 64 KiB limit on attributes of the oldest format.
  Handle access(check_id(H5Pcreate(H5P_FILE_ACCESS), where, "cannot make a property list"), H5Pclose);
  check_status(H5Pset_libver_bounds(access.get(), H5F_LIBVER_V18, H5F_LIBVER_V18), where,
               "cannot select the file format version");
  Handle creation = order_tracking_plist(H5P_FILE_CREATE, where);
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, creation.get(), access.get());
  if (id < 0) fail(where, "cannot create");
  return File(path, Handle(id, H5Fclose));
}

void File::close() {
  if (!file_.valid()) return;
  {
    QuietErrors quiet;
    if (H5Fflush(file_.get(), H5F_SCOPE_GLOBAL) < 0) {
      const std::string reason = hdf5_reason();
      file_.reset();
      throw Error(str_cat(file_label(path_), ": cannot write to disk: ", reason));
    }
  }
  HARNET_CHECK(file_.reset(), file_label(path_), ": cannot close");
}

bool File::has_dataset(const std::string& name) const {
  QuietErrors quiet;
  return file_.valid() && object_type(file_.get(), name) == H5I_DATASET;
}

bool File::has_group(const std::string& path) const {
  QuietErrors quiet;
  return file_.valid() && object_type(file_.get(), path) == H5I_GROUP;
}

bool File::has_attribute(const std::string& object, const std::string& name) const {
  QuietErrors quiet;
  if (!file_.valid() || !path_exists(file_.get(), object)) return false;
  const htri_t exists = H5Aexists_by_name(file_.get(), object.c_str(), name.c_str(), H5P_DEFAULT);
  H5Eclear2(H5E_DEFAULT);
  return exists > 0;
}

Handle File::open_dataset(const std::string& name) const {
  const std::string where = dataset_label(path_, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  HARNET_CHECK(path_exists(file_.get(), name), where, ": missing");
  Handle object(check_id(H5Oopen(file_.get(), name.c_str(), H5P_DEFAULT), where, "cannot open"), H5Oclose);
  HARNET_CHECK(H5Iget_type(object.get()) == H5I_DATASET, where, ": not a dataset (a group or another object)");
  return object;
}

Handle File::open_group(const std::string& path) const {
  const std::string where = group_label(path_, path);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  HARNET_CHECK(path_exists(file_.get(), path), where, ": missing");
  Handle object(check_id(H5Oopen(file_.get(), path.c_str(), H5P_DEFAULT), where, "cannot open"), H5Oclose);
  HARNET_CHECK(H5Iget_type(object.get()) == H5I_GROUP, where, ": not a group (a dataset or another object)");
  return object;
}

Handle File::open_attribute(const std::string& object, const std::string& name) const {
  const std::string where = attribute_label(path_, object, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  HARNET_CHECK(path_exists(file_.get(), object), where, ": no object '", object, "'");
  if (H5Aexists_by_name(file_.get(), object.c_str(), name.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw Error(str_cat(where, ": missing"));
  }
  return Handle(check_id(H5Aopen_by_name(file_.get(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), where,
                         "cannot open"),
                H5Aclose);
}

void File::create_group(const std::string& path) {
  QuietErrors quiet;
  const std::string where = group_label(path_, path);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  HARNET_CHECK(!path_exists(file_.get(), path), where, ": already exists");
  create_missing_groups(file_.get(), path, where);
}

std::vector<std::string> File::member_names(const std::string& path) const {
  QuietErrors quiet;
  Handle group = open_group(path);
  std::vector<std::string> names;
  check_status(H5Literate(
                   group.get(), listing_order(group.get(), /*attributes=*/false), H5_ITER_INC, nullptr,
                   [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
                     static_cast<std::vector<std::string>*>(out)->push_back(name);
                     return 0;
                   },
                   &names),
               group_label(path_, path), "cannot list the members");
  return names;
}

std::vector<std::string> File::attribute_names(const std::string& object) const {
  QuietErrors quiet;
  const std::string where = str_cat(file_label(path_), ", object '", object, "'");
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  HARNET_CHECK(path_exists(file_.get(), object), where, ": missing");
  Handle opened(check_id(H5Oopen(file_.get(), object.c_str(), H5P_DEFAULT), where, "cannot open"), H5Oclose);
  std::vector<std::string> names;
  check_status(H5Aiterate2(
                   opened.get(), listing_order(opened.get(), /*attributes=*/true), H5_ITER_INC, nullptr,
                   [](hid_t, const char* name, const H5A_info_t*, void* out) -> herr_t {
                     static_cast<std::vector<std::string>*>(out)->push_back(name);
                     return 0;
                   },
                   &names),
               where, "cannot list the attributes");
  return names;
}

ObjectInfo File::dataset_info(const std::string& name) const {
  QuietErrors quiet;
  Handle object = open_dataset(name);
  return describe({object.get(), false, dataset_label(path_, name)});
}

ObjectInfo File::attribute_info(const std::string& object, const std::string& name) const {
  QuietErrors quiet;
  Handle attribute = open_attribute(object, name);
  return describe({attribute.get(), true, attribute_label(path_, object, name)});
}

template <class T>
std::vector<T> File::read_dataset(const std::string& name) const {
  QuietErrors quiet;
  Handle object = open_dataset(name);
  return read_numeric<T>({object.get(), false, dataset_label(path_, name)});
}

template <class T>
std::vector<T> File::read_attribute(const std::string& object, const std::string& name) const {
  QuietErrors quiet;
  Handle attribute = open_attribute(object, name);
  return read_numeric<T>({attribute.get(), true, attribute_label(path_, object, name)});
}

std::vector<std::string> File::read_string_dataset(const std::string& name) const {
  QuietErrors quiet;
  Handle object = open_dataset(name);
  return read_strings({object.get(), false, dataset_label(path_, name)});
}

std::vector<std::string> File::read_string_attribute(const std::string& object, const std::string& name) const {
  QuietErrors quiet;
  Handle attribute = open_attribute(object, name);
  return read_strings({attribute.get(), true, attribute_label(path_, object, name)});
}

template <class T>
void File::write_dataset(const std::string& name, const std::vector<T>& values, const std::vector<int64_t>& shape,
                         const DatasetLayout& layout) {
  QuietErrors quiet;
  const std::string where = dataset_label(path_, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  check_count(values.size(), shape, where);
  if (path_exists(file_.get(), name)) remove_dataset(name);
  create_parent_groups(file_.get(), name, where);
  Handle space = make_space(shape, where);
  Handle plist =
      layout.compress ? compressed_layout(shape, sizeof(T), where) : untimed_plist(H5P_DATASET_CREATE, where);
  Handle dataset(check_id(H5Dcreate2(file_.get(), name.c_str(), TypeOf<T>::stored(), space.get(), H5P_DEFAULT,
                                     plist.get(), H5P_DEFAULT),
                          where, "cannot create"),
                 H5Dclose);
  if (!values.empty())
    check_status(H5Dwrite(dataset.get(), TypeOf<T>::native(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), where,
                 "cannot write");
}

void File::write_string_dataset(const std::string& name, const std::vector<std::string>& values) {
  QuietErrors quiet;
  const std::string where = dataset_label(path_, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  if (path_exists(file_.get(), name)) remove_dataset(name);
  create_parent_groups(file_.get(), name, where);
  Handle type = variable_utf8_string_type(where);
  Handle space = make_space({static_cast<int64_t>(values.size())}, where);
  Handle plist = untimed_plist(H5P_DATASET_CREATE, where);
  Handle dataset(check_id(H5Dcreate2(file_.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, plist.get(),
                                     H5P_DEFAULT),
                          where, "cannot create"),
                 H5Dclose);
  std::vector<const char*> pointers = c_strings(values);
  if (!pointers.empty())
    check_status(H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), where,
                 "cannot write");
}

namespace {

// Creates (replacing) an attribute of `object` of the given stored type and shape and writes `data`.
void write_object_attribute(hid_t file, const std::string& where, const std::string& object, const std::string& name,
                            hid_t stored_type, hid_t memory_type, const std::vector<int64_t>& shape, const void* data,
                            size_t count) {
  HARNET_CHECK(path_exists(file, object), where, ": no object '", object, "' to attach it to");
  HARNET_CHECK(!name.empty(), where, ": an attribute needs a name");
  if (H5Aexists_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT) > 0)
    check_status(H5Adelete_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT), where,
                 "cannot replace the existing attribute");
  H5Eclear2(H5E_DEFAULT);
  Handle space = make_space(shape, where);
  Handle attribute(check_id(H5Acreate_by_name(file, object.c_str(), name.c_str(), stored_type, space.get(), H5P_DEFAULT,
                                              H5P_DEFAULT, H5P_DEFAULT),
                            where, "cannot create"),
                   H5Aclose);
  if (count > 0) check_status(H5Awrite(attribute.get(), memory_type, data), where, "cannot write");
}

}  // namespace

template <class T>
void File::write_attribute(const std::string& object, const std::string& name, const std::vector<T>& values,
                           const std::vector<int64_t>& shape) {
  QuietErrors quiet;
  const std::string where = attribute_label(path_, object, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  check_count(values.size(), shape, where);
  write_object_attribute(file_.get(), where, object, name, TypeOf<T>::stored(), TypeOf<T>::native(), shape,
                         values.data(), values.size());
}

void File::write_string_attribute(const std::string& object, const std::string& name, const std::string& value) {
  QuietErrors quiet;
  const std::string where = attribute_label(path_, object, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  Handle type = variable_utf8_string_type(where);
  const char* pointer = value.c_str();
  write_object_attribute(file_.get(), where, object, name, type.get(), type.get(), {}, &pointer, 1);
}

void File::write_string_attribute(const std::string& object, const std::string& name,
                                  const std::vector<std::string>& values) {
  QuietErrors quiet;
  const std::string where = attribute_label(path_, object, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  Handle type = variable_utf8_string_type(where);
  std::vector<const char*> pointers = c_strings(values);
  write_object_attribute(file_.get(), where, object, name, type.get(), type.get(),
                         {static_cast<int64_t>(values.size())}, pointers.data(), pointers.size());
}

void File::remove_link(const std::string& name, const std::string& where) {
  QuietErrors quiet;
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  check_status(H5Ldelete(file_.get(), name.c_str(), H5P_DEFAULT), where, "cannot remove");
}

void File::remove_dataset(const std::string& name) { remove_link(name, dataset_label(path_, name)); }
void File::remove_group(const std::string& path) { remove_link(path, group_label(path_, path)); }

void File::remove_attribute(const std::string& object, const std::string& name) {
  QuietErrors quiet;
  const std::string where = attribute_label(path_, object, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  check_status(H5Adelete_by_name(file_.get(), object.c_str(), name.c_str(), H5P_DEFAULT), where, "cannot remove");
}

void write_file_atomically(const std::string& path, const std::string& where, const std::function<void(File&)>& fill) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  HARNET_CHECK(target.has_filename(), where, ": the path names a directory, not a file");
  const fs::path directory = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::error_code ec;
  HARNET_CHECK(fs::exists(directory, ec), where, ": directory '", directory.string(), "' does not exist");
  HARNET_CHECK(fs::is_directory(directory, ec), where, ": '", directory.string(), "' is not a directory");

  struct stat existing {};
  const mode_t mode = ::stat(path.c_str(), &existing) == 0 && S_ISREG(existing.st_mode) ? (existing.st_mode & 07777)
                                                                                          : new_file_mode();
  TemporaryFile temporary(directory, target.filename().string(), mode, where);
  try {
    File file = File::create(temporary.path());
    fill(file);
    file.close();
  } catch (const Error& e) {
    throw Error(str_cat(where, ": ", e.what()));
  }
  fsync_path(temporary.path(), O_RDONLY, where, /*required=*/true);
  HARNET_CHECK(std::rename(temporary.path().c_str(), path.c_str()) == 0, where, ": cannot move the finished file '",
               temporary.path(), "' into place: ", errno_text());
  temporary.commit();
  // Make the rename itself durable; some file systems cannot sync directories, which is harmless.
  fsync_path(directory.string(), O_RDONLY | O_DIRECTORY, where, /*required=*/false);
  remove_stale_temporaries(directory, target.filename().string());
}

#define HARNET_HDF5_INSTANTIATE(T)                                                                          \
  template std::vector<T> File::read_dataset<T>(const std::string&) const;                                \
  template std::vector<T> File::read_attribute<T>(const std::string&, const std::string&) const;          \
  template void File::write_dataset<T>(const std::string&, const std::vector<T>&, const std::vector<int64_t>&, \
                                       const DatasetLayout&);                                             \
  template void File::write_attribute<T>(const std::string&, const std::string&, const std::vector<T>&,   \
                                         const std::vector<int64_t>&);
HARNET_HDF5_INSTANTIATE(float)
HARNET_HDF5_INSTANTIATE(double)
HARNET_HDF5_INSTANTIATE(int8_t)
HARNET_HDF5_INSTANTIATE(int16_t)
HARNET_HDF5_INSTANTIATE(int32_t)
HARNET_HDF5_INSTANTIATE(int64_t)
HARNET_HDF5_INSTANTIATE(uint8_t)
HARNET_HDF5_INSTANTIATE(uint16_t)
HARNET_HDF5_INSTANTIATE(uint32_t)
HARNET_HDF5_INSTANTIATE(uint64_t)
#undef HARNET_HDF5_INSTANTIATE

}  // namespace harnet::hdf5
