// Errors: every failure in the framework is a harnet::Error whose message names the
// operation and the offending arguments. The CLI prints what() as one line.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace harnet {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// "[2, 3, 4]"
std::string shape_str(const std::vector<int64_t>& shape);

namespace detail {
inline void append_all(std::ostringstream&) {}
template <class T, class... Rest>
void append_all(std::ostringstream& os, const T& first, const Rest&... rest) {
  if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    os << shape_str(first);
  } else {
    os << first;
  }
  append_all(os, rest...);
}
}  // namespace detail

// Builds a message from pieces; shapes (std::vector<int64_t>) print as [a, b, c].
template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  detail::append_all(os, args...);
  return os.str();
}

// HARNET_CHECK(cond, "op: ", "bad shape ", shape) throws harnet::Error when cond is false.
#define HARNET_CHECK(cond, ...)                                \
  do {                                                         \
    if (!(cond)) throw ::harnet::Error(::harnet::str_cat(__VA_ARGS__)); \
  } while (0)

}  // namespace harnet
