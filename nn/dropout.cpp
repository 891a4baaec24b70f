#include "nn/dropout.h"

#include <cstdio>
#include <cstdlib>

#include "ops/dropout.h"

namespace harnet::nn {

Dropout::Dropout(double p, Generator& gen) : p_(p), gen_(gen.next_u64()) {
  HARNET_CHECK(p >= 0.0 && p <= 1.0, "Dropout: p must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& input) {
  HARNET_CHECK(input.defined(), "Dropout: got an undefined tensor");
  return dropout(input, p_, is_training(), gen_);
}

std::string Dropout::extra_repr() const {
  // Python's repr of p: the shortest round-trip decimal, with a fractional part.
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, p_);
    if (std::strtod(buffer, nullptr) == p_) break;
  }
  std::string p = buffer;
  if (p.find_first_of(".e") == std::string::npos) p += ".0";
  return "p=" + p + ", inplace=False";
}

}  // namespace harnet::nn
