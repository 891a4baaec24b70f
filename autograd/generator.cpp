#include "autograd/generator.h"

#include <cmath>
#include <sstream>

#include "autograd/error.h"

namespace harnet {

void Generator::manual_seed(uint64_t seed) {
  seed_ = seed;
  engine_.seed(seed);
  has_spare_normal_ = false;
  spare_normal_ = 0.0;
}

double Generator::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

double Generator::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  // Box-Muller; 1 - u keeps the logarithm's argument in (0, 1].
  double u1 = 1.0 - uniform();
  double u2 = uniform();
  double radius = std::sqrt(-2.0 * std::log(u1));
  double angle = 2.0 * M_PI * u2;
  spare_normal_ = radius * std::sin(angle);
  has_spare_normal_ = true;
  return radius * std::cos(angle);
}

int64_t Generator::integer(int64_t low, int64_t high) {
  HARNET_CHECK(high > low, "Generator::integer: empty range [", low, ", ", high, ")");
  uint64_t range = static_cast<uint64_t>(high - low);
  // Rejection sampling: drop the top partial bucket so every value is equally likely.
  uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t draw;
  do {
    draw = engine_();
  } while (draw >= limit);
  return low + static_cast<int64_t>(draw % range);
}

std::string Generator::state() const {
  std::ostringstream os;
  os << seed_ << ' ' << has_spare_normal_ << ' ';
  os.precision(17);
  os << std::hexfloat << spare_normal_ << ' ' << engine_;
  return os.str();
}

void Generator::set_state(const std::string& state) {
  std::istringstream is(state);
  uint64_t seed;
  bool has_spare;
  std::string spare_text;
  std::mt19937_64 engine;
  is >> seed >> has_spare >> spare_text >> engine;
  HARNET_CHECK(!is.fail(), "Generator::set_state: malformed state string");
  seed_ = seed;
  has_spare_normal_ = has_spare;
  spare_normal_ = std::strtod(spare_text.c_str(), nullptr);
  engine_ = engine;
}

}  // namespace harnet
