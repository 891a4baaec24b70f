// A seeded pseudo-random generator. Everything random in the framework (initialisation,
// dropout, shuffling, augmentation) takes a Generator explicitly, so runs are reproducible.
// The normal sampler is our own (Box-Muller), so values do not depend on the C++ library.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace harnet {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) { manual_seed(seed); }

  void manual_seed(uint64_t seed);
  uint64_t initial_seed() const { return seed_; }

  uint64_t next_u64() { return engine_(); }
  double uniform();                       // [0, 1) with 53 random bits
  double normal();                        // standard normal
  int64_t integer(int64_t low, int64_t high);  // [low, high), unbiased

  // The full state as text, to store in checkpoints and restore exactly.
  std::string state() const;
  void set_state(const std::string& state);

 private:
  uint64_t seed_ = 0;
  std::mt19937_64 engine_;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

}  // namespace harnet
