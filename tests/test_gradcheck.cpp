// gradcheck itself must be able to fail: wrong, zero, missing and non-accumulating
// gradients are all caught.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/gradcheck.h"

namespace harnet {
namespace {

// y = x^2 elementwise, with a backward that multiplies the true gradient by `factor`.
Tensor square(const Tensor& x, double factor, bool record = true) {
  Tensor out = x.contiguous_copy();
  for (int64_t i = 0; i < out.numel(); ++i) out.data<double>()[i] *= out.data<double>()[i];
  if (!record) return out;
  Tensor saved = x.detach();
  return record_op("square", {x}, out, [saved, factor](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = g.contiguous_copy();
    Tensor xc = saved.contiguous_copy();
    const double* xs = xc.data<double>();
    for (int64_t i = 0; i < gx.numel(); ++i) gx.data<double>()[i] *= factor * 2.0 * xs[i];
    return std::vector<Tensor>{gx};
  });
}

std::vector<Tensor> one_input() {
  Generator gen(7);
  return {randn({2, 3}, gen, kFloat64).set_requires_grad(true)};
}

TEST(Gradcheck, PassesACorrectBackward) {
  GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return square(in[0], 1.0); }, one_input());
  EXPECT_TRUE(r.passed) << r.message;
  EXPECT_LT(r.max_abs_error, 1e-6);
}

TEST(Gradcheck, FailsAWrongBackward) {
  GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return square(in[0], 1.01); }, one_input());
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.message.find("mismatch"), std::string::npos) << r.message;
}

TEST(Gradcheck, FailsAnAllZeroBackward) {
  GradcheckOptions loose;
  loose.atol = 1e3;  // even when the tolerance would hide it, all-zero gradients fail
  GradcheckResult r =
      gradcheck([](const std::vector<Tensor>& in) { return square(in[0], 0.0); }, one_input(), loose);
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.message.find("zero"), std::string::npos) << r.message;
}

TEST(Gradcheck, FailsWhenNoBackwardWasRecorded) {
  GradcheckResult r =
      gradcheck([](const std::vector<Tensor>& in) { return square(in[0], 1.0, /*record=*/false); }, one_input());
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.message.find("recorded no backward"), std::string::npos) << r.message;
}

TEST(Gradcheck, FailsABackwardThatDoesNotAccumulate) {
  // Correct on every first call after the graph is built, wrong on the second: a stateful
  // backward is the kind of bug the accumulation check is there for.
  auto calls = std::make_shared<int>(0);
  auto fn = [calls](const std::vector<Tensor>& in) {
    Tensor out = square(in[0], 1.0, false);
    Tensor saved = in[0].detach();
    return record_op("flaky", {in[0]}, out, [saved, calls](const Tensor& g, const std::vector<bool>&) {
      ++*calls;
      Tensor gx = g.contiguous_copy();
      Tensor xc = saved.contiguous_copy();
    const double* xs = xc.data<double>();
      const double f = (*calls % 2 == 0 && *calls > 6) ? 0.0 : 1.0;  // the 2nd accumulation pass drops out
      for (int64_t i = 0; i < gx.numel(); ++i) gx.data<double>()[i] *= f * 2.0 * xs[i];
      return std::vector<Tensor>{gx};
    });
  };
  GradcheckResult r = gradcheck(fn, one_input());
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.message.find("accumulate"), std::string::npos) << r.message;
}

TEST(Gradcheck, RefusesFloat32Inputs) {
  Generator gen(0);
  std::vector<Tensor> in{randn({2}, gen, kFloat32).set_requires_grad(true)};
  EXPECT_THROW(gradcheck([](const std::vector<Tensor>& x) { return x[0]; }, in), Error);
}

TEST(Gradcheck, LeavesTheCallersInputsUntouched) {
  std::vector<Tensor> in = one_input();
  std::vector<double> before = in[0].to_vector<double>();
  gradcheck([](const std::vector<Tensor>& x) { return square(x[0], 1.0); }, in);
  EXPECT_EQ(in[0].to_vector<double>(), before);
  EXPECT_FALSE(in[0].grad().defined());
}

}  // namespace
}  // namespace harnet

namespace harnet {
namespace {

TEST(Gradcheck, FailsABackwardThatKeepsItsOwnOutputAlive) {
  // exp's backward needs its output; saving `out` itself instead of out.detach() makes a cycle.
  auto leaky_exp = [](const std::vector<Tensor>& in) {
    Tensor out = in[0].contiguous_copy();
    for (int64_t i = 0; i < out.numel(); ++i) out.data<double>()[i] = std::exp(out.data<double>()[i]);
    auto holder = std::make_shared<Tensor>();
    out = record_op("leaky_exp", {in[0]}, out, [holder](const Tensor& g, const std::vector<bool>&) {
      Tensor gx = g.contiguous_copy();
      Tensor y = holder->contiguous_copy();
      for (int64_t i = 0; i < gx.numel(); ++i) gx.data<double>()[i] *= y.data<double>()[i];
      return std::vector<Tensor>{gx};
    });
    *holder = out;  // the cycle: out -> node -> closure -> holder -> out
    return out;
  };
  GradcheckResult r = gradcheck(leaky_exp, one_input());
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.message.find("outlives"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace harnet
