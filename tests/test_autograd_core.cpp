// The engine on hand-built nodes: accumulation, fan-in, retain_graph, no_grad, detach.
#include <gtest/gtest.h>

#include "autograd/autograd.h"
#include "autograd/generator.h"

namespace harnet {
namespace {

// y = x * c for a constant c, recorded by hand so the test depends on no operator.
Tensor scale(const Tensor& x, double c) {
  Tensor out = x.contiguous_copy();
  for (int64_t i = 0; i < out.numel(); ++i) out.data<double>()[i] *= c;
  return record_op("scale", {x}, out, [c](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = g.contiguous_copy();
    for (int64_t i = 0; i < gx.numel(); ++i) gx.data<double>()[i] *= c;
    return std::vector<Tensor>{gx};
  });
}

TEST(AutogradCore, LeafAccumulatesAcrossBackwardCalls) {
  Tensor x = full({2}, 1.0, kFloat64).set_requires_grad(true);
  Tensor y = scale(x, 3.0);
  y.backward(ones({2}, kFloat64), /*retain_graph=*/true);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 3}));
  y.backward(ones({2}, kFloat64));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{6, 6}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

// A leaf adopts its first gradient without a copy only when nothing else holds it: a
// gradient passed through unchanged (still the caller's tensor) or handed to two inputs
// must be copied, or later writes through either handle would show in the other.
TEST(AutogradCore, LeafGradNeverAliasesAnotherTensor) {
  Tensor x = full({2}, 1.0, kFloat64).set_requires_grad(true);
  Tensor y = record_op("pass", {x}, x.contiguous_copy(), [](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g};
  });
  Tensor grad_output = full({2}, 4.0, kFloat64);
  y.backward(grad_output);
  grad_output.data<double>()[0] = -1.0;
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4, 4}));

  Tensor z = full({2}, 1.0, kFloat64).set_requires_grad(true);
  Tensor w = record_op("twice", {z, z}, z.contiguous_copy(), [](const Tensor& g, const std::vector<bool>&) {
    Tensor gz = g.contiguous_copy();
    return std::vector<Tensor>{gz, gz};
  });
  w.backward(full({2}, 3.0, kFloat64));
  EXPECT_EQ(z.grad().to_vector<double>(), (std::vector<double>{6, 6}));
}

TEST(AutogradCore, FanInIsSummedBeforeTheNodeRuns) {
  Tensor x = full({1}, 1.0, kFloat64).set_requires_grad(true);
  Tensor a = scale(x, 2.0);
  Tensor b = scale(a, 5.0);
  Tensor c = scale(a, 7.0);
  // d = b + c, by hand
  Tensor out = b.contiguous_copy();
  out.data<double>()[0] += c.data<double>()[0];
  out = record_op("add", {b, c}, out, [](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g, g};
  });
  out.backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 2.0 * (5.0 + 7.0));
}

TEST(AutogradCore, SecondBackwardThroughFreedGraphIsAClearError) {
  Tensor x = full({1}, 1.0, kFloat64).set_requires_grad(true);
  Tensor y = scale(x, 2.0);
  y.backward();
  try {
    y.backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("retain_graph"), std::string::npos) << e.what();
  }
}

TEST(AutogradCore, NonScalarNeedsAnExplicitGradient) {
  Tensor x = full({3}, 1.0, kFloat64).set_requires_grad(true);
  Tensor y = scale(x, 2.0);
  EXPECT_THROW(y.backward(), Error);
  EXPECT_THROW(y.backward(ones({2}, kFloat64)), Error);
}

TEST(AutogradCore, NoGradGuardRecordsNothingAndRestores) {
  Tensor x = full({1}, 1.0, kFloat64).set_requires_grad(true);
  {
    NoGradGuard guard;
    EXPECT_FALSE(grad_enabled());
    Tensor y = scale(x, 2.0);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_TRUE(scale(x, 2.0).requires_grad());
}

TEST(AutogradCore, DetachCutsHistoryButSharesStorage) {
  Tensor x = full({2}, 1.0, kFloat64).set_requires_grad(true);
  Tensor y = scale(x, 2.0);
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.grad_fn(), nullptr);
  EXPECT_EQ(d.storage(), y.storage());
}

TEST(AutogradCore, OnlyFloatingLeavesCanRequireGrad) {
  Tensor i = zeros({2}, kInt64);
  EXPECT_THROW(i.set_requires_grad(true), Error);
  Tensor x = full({1}, 1.0, kFloat64).set_requires_grad(true);
  Tensor y = scale(x, 2.0);
  EXPECT_THROW(y.set_requires_grad(false), Error);
}

TEST(AutogradCore, BackwardOfATensorWithoutGradIsAnError) {
  Tensor x = ones({1}, kFloat64);
  EXPECT_THROW(x.backward(), Error);
}

}  // namespace
}  // namespace harnet
