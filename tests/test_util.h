// Small helpers shared by the unit tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "autograd/error.h"
#include "autograd/parallel.h"

namespace harnet::testing {

// Sets the thread count for a scope and restores the previous one.
class ScopedThreads {
 public:
  explicit ScopedThreads(int n) : saved_(get_num_threads()) { set_num_threads(n); }
  ~ScopedThreads() { set_num_threads(saved_); }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  int saved_;
};

// f() must throw a harnet::Error whose message contains needle.
template <class F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

}  // namespace harnet::testing
