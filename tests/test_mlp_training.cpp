// End to end: a two-layer perceptron trained with plain SGD, only with the framework,
// must drive its loss down on a fixed synthetic problem that no linear model solves.
#include <gtest/gtest.h>

#include <cmath>

#include "data/spirals.h"
#include "ops/ops.h"

namespace harnet {
namespace {

TEST(MlpTraining, PlainSgdDrivesTheLossDownOnSpirals) {
  Generator gen(42);
  SpiralData data = make_spirals(/*points_per_class=*/100, /*classes=*/3, /*noise=*/0.1, gen);
  const int64_t hidden = 32;
  auto init = [&](const Shape& shape, int64_t fan_in) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    return rand(shape, gen, kFloat32, -bound, bound).set_requires_grad(true);
  };
  std::vector<Tensor> params{init({hidden, 2}, 2), init({hidden}, 2), init({3, hidden}, hidden), init({3}, hidden)};
  auto forward = [&](const Tensor& x) {
    return linear(relu(linear(x, params[0], params[1])), params[2], params[3]);
  };

  double first_loss = 0.0, last_loss = 0.0;
  for (int step = 0; step < 1500; ++step) {
    Tensor loss = cross_entropy(forward(data.points), data.labels);
    if (step == 0) first_loss = loss.item();
    last_loss = loss.item();
    ASSERT_TRUE(std::isfinite(last_loss)) << "step " << step;
    loss.backward();
    for (Tensor& p : params) {  // plain SGD, lr 0.5
      ASSERT_TRUE(p.grad().defined());
      float* w = p.data<float>();
      const float* g = p.grad().data<float>();
      for (int64_t i = 0; i < p.numel(); ++i) w[i] -= 0.5f * g[i];
      p.zero_grad();
    }
  }
  EXPECT_NEAR(first_loss, std::log(3.0), 0.3);  // an untrained model is close to chance
  EXPECT_LT(last_loss, 0.25 * first_loss);

  NoGradGuard no_grad;
  std::vector<int64_t> pred = argmax(forward(data.points), 1).to_vector<int64_t>();
  std::vector<int64_t> truth = data.labels.to_vector<int64_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == truth[i];
  EXPECT_GT(static_cast<double>(correct) / static_cast<double>(truth.size()), 0.9);
}

}  // namespace
}  // namespace harnet
