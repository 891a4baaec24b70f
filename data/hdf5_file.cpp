#include "data/hdf5_file.h"

#include <algorithm>
#include <filesystem>
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
// or "" when the stack is empty; clears the stack.
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
  return reason;
}

std::string file_label(const std::string& path) { return str_cat("HDF5 file '", path, "'"); }
std::string dataset_label(const std::string& path, const std::string& name) {
  return str_cat(file_label(path), ", dataset '", name, "'");
}
std::string attribute_label(const std::string& path, const std::string& name) {
  return str_cat(file_label(path), ", attribute '", name, "'");
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

// Chunks of about 256 KiB along the first dimension, whole along the others.
Handle compressed_layout(const std::vector<int64_t>& shape, size_t element_size, const std::string& where) {
  Handle plist(check_id(H5Pcreate(H5P_DATASET_CREATE), where, "cannot make a property list"), H5Pclose);
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
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get());
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
  if (H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  Handle object(H5Oopen(file_.get(), name.c_str(), H5P_DEFAULT), H5Oclose);
  H5Eclear2(H5E_DEFAULT);
  return object.valid() && H5Iget_type(object.get()) == H5I_DATASET;
}

bool File::has_attribute(const std::string& name) const {
  QuietErrors quiet;
  const htri_t exists = H5Aexists(file_.get(), name.c_str());
  H5Eclear2(H5E_DEFAULT);
  return exists > 0;
}

Handle File::open_dataset(const std::string& name) const {
  const std::string where = dataset_label(path_, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  if (H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw Error(str_cat(where, ": missing"));
  }
  Handle object(check_id(H5Oopen(file_.get(), name.c_str(), H5P_DEFAULT), where, "cannot open"), H5Oclose);
  HARNET_CHECK(H5Iget_type(object.get()) == H5I_DATASET, where, ": not a dataset (a group or another object)");
  return object;
}

Handle File::open_attribute(const std::string& name) const {
  const std::string where = attribute_label(path_, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  if (H5Aexists(file_.get(), name.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw Error(str_cat(where, ": missing"));
  }
  return Handle(check_id(H5Aopen(file_.get(), name.c_str(), H5P_DEFAULT), where, "cannot open"), H5Aclose);
}

ObjectInfo File::dataset_info(const std::string& name) const {
  QuietErrors quiet;
  Handle object = open_dataset(name);
  return describe({object.get(), false, dataset_label(path_, name)});
}

ObjectInfo File::attribute_info(const std::string& name) const {
  QuietErrors quiet;
  Handle object = open_attribute(name);
  return describe({object.get(), true, attribute_label(path_, name)});
}

template <class T>
std::vector<T> File::read_dataset(const std::string& name) const {
  QuietErrors quiet;
  Handle object = open_dataset(name);
  return read_numeric<T>({object.get(), false, dataset_label(path_, name)});
}

template <class T>
std::vector<T> File::read_attribute(const std::string& name) const {
  QuietErrors quiet;
  Handle object = open_attribute(name);
  return read_numeric<T>({object.get(), true, attribute_label(path_, name)});
}

std::vector<std::string> File::read_string_dataset(const std::string& name) const {
  QuietErrors quiet;
  Handle object = open_dataset(name);
  return read_strings({object.get(), false, dataset_label(path_, name)});
}

std::vector<std::string> File::read_string_attribute(const std::string& name) const {
  QuietErrors quiet;
  Handle object = open_attribute(name);
  return read_strings({object.get(), true, attribute_label(path_, name)});
}

template <class T>
void File::write_dataset(const std::string& name, const std::vector<T>& values, const std::vector<int64_t>& shape,
                         const DatasetLayout& layout) {
  QuietErrors quiet;
  const std::string where = dataset_label(path_, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  check_count(values.size(), shape, where);
  if (H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) > 0) remove_dataset(name);
  H5Eclear2(H5E_DEFAULT);
  Handle space = make_space(shape, where);
  Handle plist = layout.compress ? compressed_layout(shape, sizeof(T), where)
                                 : Handle(check_id(H5Pcreate(H5P_DATASET_CREATE), where, "cannot make a property list"),
                                          H5Pclose);
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
  if (H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) > 0) remove_dataset(name);
  H5Eclear2(H5E_DEFAULT);
  Handle type = variable_utf8_string_type(where);
  Handle space = make_space({static_cast<int64_t>(values.size())}, where);
  Handle dataset(check_id(H5Dcreate2(file_.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                     H5P_DEFAULT),
                          where, "cannot create"),
                 H5Dclose);
  std::vector<const char*> pointers = c_strings(values);
  if (!pointers.empty())
    check_status(H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), where,
                 "cannot write");
}

namespace {

// Creates (replacing) a root attribute of the given stored type and shape and writes `data`.
void write_root_attribute(hid_t file, const std::string& where, const std::string& name, hid_t stored_type,
                          hid_t memory_type, const std::vector<int64_t>& shape, const void* data, size_t count) {
  if (H5Aexists(file, name.c_str()) > 0)
    check_status(H5Adelete(file, name.c_str()), where, "cannot replace the existing attribute");
  H5Eclear2(H5E_DEFAULT);
  Handle space = make_space(shape, where);
  Handle attribute(check_id(H5Acreate2(file, name.c_str(), stored_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), where,
                            "cannot create"),
                   H5Aclose);
  if (count > 0) check_status(H5Awrite(attribute.get(), memory_type, data), where, "cannot write");
}

}  // namespace

template <class T>
void File::write_attribute(const std::string& name, const std::vector<T>& values, const std::vector<int64_t>& shape) {
  QuietErrors quiet;
  const std::string where = attribute_label(path_, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  check_count(values.size(), shape, where);
  write_root_attribute(file_.get(), where, name, TypeOf<T>::stored(), TypeOf<T>::native(), shape, values.data(),
                       values.size());
}

void File::write_string_attribute(const std::string& name, const std::string& value) {
  QuietErrors quiet;
  const std::string where = attribute_label(path_, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  Handle type = variable_utf8_string_type(where);
  const char* pointer = value.c_str();
  write_root_attribute(file_.get(), where, name, type.get(), type.get(), {}, &pointer, 1);
}

void File::write_string_attribute(const std::string& name, const std::vector<std::string>& values) {
  QuietErrors quiet;
  const std::string where = attribute_label(path_, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  Handle type = variable_utf8_string_type(where);
  std::vector<const char*> pointers = c_strings(values);
  write_root_attribute(file_.get(), where, name, type.get(), type.get(), {static_cast<int64_t>(values.size())},
                       pointers.data(), pointers.size());
}

void File::remove_dataset(const std::string& name) {
  QuietErrors quiet;
  const std::string where = dataset_label(path_, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  check_status(H5Ldelete(file_.get(), name.c_str(), H5P_DEFAULT), where, "cannot remove");
}

void File::remove_attribute(const std::string& name) {
  QuietErrors quiet;
  const std::string where = attribute_label(path_, name);
  HARNET_CHECK(file_.valid(), where, ": the file is closed");
  check_status(H5Adelete(file_.get(), name.c_str()), where, "cannot remove");
}

#define HARNET_HDF5_INSTANTIATE(T)                                                                          \
  template std::vector<T> File::read_dataset<T>(const std::string&) const;                                \
  template std::vector<T> File::read_attribute<T>(const std::string&) const;                              \
  template void File::write_dataset<T>(const std::string&, const std::vector<T>&, const std::vector<int64_t>&, \
                                       const DatasetLayout&);                                             \
  template void File::write_attribute<T>(const std::string&, const std::vector<T>&, const std::vector<int64_t>&);
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
