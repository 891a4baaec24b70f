// A small RAII wrapper over the HDF5 C API: one File, its groups, datasets and attributes,
// numeric arrays and strings. Every HDF5 identifier is owned by a Handle and closed on every
// path; HDF5's own error printing is switched off only for the duration of each call and
// restored afterwards (no global state leaks). Failures become harnet::Error messages of the
// form "HDF5 file '<file>', dataset '/labels': <what is wrong>[: <HDF5's innermost reason>]".
//
// Objects are named by absolute paths ("/model/lstm.weight_ih_l0"); a path component is any
// text without '/' other than ".". Groups created here (and the root of files created here)
// remember the order in which their members and attributes were created, and listings follow
// it (h5py does the same); groups written by tools that do not track it list by name.
// write_file_atomically() writes a whole file so that a crash leaves the previous one intact.
//
// Numeric reads convert through HDF5's native types, so a stored int16, uint8 or int64 reads as
// int32_t or int64_t, and a float64 as float (values out of the target's range saturate).
// Reading into an integer type refuses floating-point data; reading into a floating type
// accepts integers too. Strings may be stored variable-length or fixed-length (null- or
// space-padded), ASCII or UTF-8; they are always written variable-length UTF-8.
// The HDF5 library (serial build) is not thread-safe: use it from one thread at a time.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace harnet::hdf5 {

// Owns one HDF5 identifier (file, dataset, attribute, datatype, dataspace or property list)
// and releases it with the matching H5*close call.
class Handle {
 public:
  using CloseFn = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, CloseFn close) : id_(id), close_(close) {}
  Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; returns false when HDF5 reports a failure (e.g. a failed flush on file close).
  bool reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
  CloseFn close_ = nullptr;
};

// What a stored dataset or attribute holds.
enum class TypeClass { Integer, Float, String, Other };

struct ObjectInfo {
  TypeClass type_class = TypeClass::Other;
  std::string type_name;        // "int16", "uint8", "float64", "variable-length string", "fixed-length string", ...
  std::vector<int64_t> shape;   // empty for a scalar
  int64_t num_elements() const;
};

// How write_dataset lays out a numeric dataset.
struct DatasetLayout {
  bool compress = false;  // chunked, shuffle + deflate (level 4) when HDF5 has deflate
};

class File {
 public:
  // Opens an existing HDF5 file; refuses missing files, non-HDF5 files and truncated files.
  static File open(const std::string& path, bool writable = false);
  // Creates a new file, truncating an existing one.
  static File create(const std::string& path);

  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;
  ~File() = default;  // closes quietly; call close() to learn about failures

  const std::string& path() const { return path_; }
  // Flushes to the operating system and closes; throws when HDF5 cannot.
  void close();

  // Dataset names are absolute paths ("/skeletons", "/model/head.0.bias"). Attribute calls
  // without an `object` argument concern the root group; the others the group or dataset at
  // the absolute path `object`.
  bool has_dataset(const std::string& name) const;
  bool has_attribute(const std::string& name) const { return has_attribute("/", name); }
  bool has_attribute(const std::string& object, const std::string& name) const;
  ObjectInfo dataset_info(const std::string& name) const;
  ObjectInfo attribute_info(const std::string& name) const { return attribute_info("/", name); }
  ObjectInfo attribute_info(const std::string& object, const std::string& name) const;

  // ---- groups
  bool has_group(const std::string& path) const;
  // Creates the group and any missing parent groups, each remembering the creation order of
  // its members and attributes; throws if something already exists at `path`.
  void create_group(const std::string& path);
  // The names of a group's members (groups, datasets, ...), in creation order where the
  // group tracks it, otherwise by name. Throws if `path` is not a group.
  std::vector<std::string> member_names(const std::string& path) const;
  // The names of an object's attributes, ordered the same way.
  std::vector<std::string> attribute_names(const std::string& object) const;

  // The whole dataset or attribute, row-major. T: float, double, int8_t .. int64_t, uint8_t .. uint64_t.
  template <class T>
  std::vector<T> read_dataset(const std::string& name) const;
  template <class T>
  std::vector<T> read_attribute(const std::string& name) const {
    return read_attribute<T>("/", name);
  }
  template <class T>
  std::vector<T> read_attribute(const std::string& object, const std::string& name) const;
  std::vector<std::string> read_string_dataset(const std::string& name) const;
  std::vector<std::string> read_string_attribute(const std::string& name) const {
    return read_string_attribute("/", name);
  }
  std::vector<std::string> read_string_attribute(const std::string& object, const std::string& name) const;

  // shape: the dataset's dimensions (empty = scalar); their product must equal values.size().
  // Missing parent groups are created (see create_group); an existing dataset is replaced.
  template <class T>
  void write_dataset(const std::string& name, const std::vector<T>& values, const std::vector<int64_t>& shape,
                     const DatasetLayout& layout = {});
  void write_string_dataset(const std::string& name, const std::vector<std::string>& values);  // 1-D
  // Attributes are created or replaced; `object` must exist.
  template <class T>
  void write_attribute(const std::string& name, const std::vector<T>& values, const std::vector<int64_t>& shape) {
    write_attribute("/", name, values, shape);
  }
  template <class T>
  void write_attribute(const std::string& object, const std::string& name, const std::vector<T>& values,
                       const std::vector<int64_t>& shape);
  template <class T>
  void write_scalar_attribute(const std::string& name, T value) { write_attribute("/", name, std::vector<T>{value}, {}); }
  template <class T>
  void write_scalar_attribute(const std::string& object, const std::string& name, T value) {
    write_attribute(object, name, std::vector<T>{value}, {});
  }
  void write_string_attribute(const std::string& name, const std::string& value) {  // scalar
    write_string_attribute("/", name, value);
  }
  void write_string_attribute(const std::string& name, const std::vector<std::string>& values) {  // 1-D
    write_string_attribute("/", name, values);
  }
  void write_string_attribute(const std::string& object, const std::string& name, const std::string& value);
  void write_string_attribute(const std::string& object, const std::string& name,
                              const std::vector<std::string>& values);

  // Unlinks a dataset or a group (with everything in it) / deletes an attribute (used to edit
  // files, e.g. in tests).
  void remove_dataset(const std::string& name);
  void remove_group(const std::string& path);
  void remove_attribute(const std::string& name) { remove_attribute("/", name); }
  void remove_attribute(const std::string& object, const std::string& name);

 private:
  File(std::string path, Handle file) : path_(std::move(path)), file_(std::move(file)) {}
  Handle open_dataset(const std::string& name) const;
  Handle open_group(const std::string& path) const;
  Handle open_attribute(const std::string& object, const std::string& name) const;
  void remove_link(const std::string& name, const std::string& where);

  std::string path_;
  Handle file_;
};

// Writes a new HDF5 file at `path` so that `path` holds either its previous content or the
// complete new file, never a partial one: fill() writes into a temporary file created beside
// `path` (same directory, so the rename stays on one file system), which is then flushed,
// closed and fsynced, renamed over `path`, and the directory fsynced. An existing file's
// permission bits are kept. On any failure the temporary file is removed and the error names
// `where` (e.g. "save_checkpoint 'runs/a/last.h5'") and the problem (a missing or read-only
// directory, a full disk, ...). A process killed mid-write leaves `path` intact and a
// temporary file ".<name>.tmp-XXXXXX" behind; the next successful write of `path` removes such
// files once they are 10 minutes old (younger ones may belong to a writer still at work).
void write_file_atomically(const std::string& path, const std::string& where, const std::function<void(File&)>& fill);

}  // namespace harnet::hdf5
