// Inference under NoGradGuard records no graph: not a node for the whole HARNet forward,
// while the same forward with gradients records one per operator.
#include <gtest/gtest.h>

#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "harnet/lib/model.h"

namespace harnet {
namespace {

HARNetConfig small_config() {
  HARNetConfig c;
  c.joints = 7;
  c.conv_channels = {8, 8, 16};
  c.lstm_hidden = 16;
  c.attention_heads = 2;
  c.classifier_hidden = 8;
  c.classes = 3;
  return c;
}

TEST(NoGradInference, HarnetForwardRecordsNoGraphNodes) {
  Generator gen(0);
  HARNet model(small_config(), gen);
  model.eval();
  const Tensor x = randn({1, 12, 7, 3}, gen);
  {
    NoGradGuard no_grad;
    const int64_t before = graph_nodes_created();
    Tensor logits = model(x);
    EXPECT_EQ(graph_nodes_created(), before);
    EXPECT_FALSE(logits.requires_grad());
    EXPECT_EQ(logits.grad_fn(), nullptr);
  }
  const int64_t before = graph_nodes_created();
  Tensor logits = model(x);
  EXPECT_GT(graph_nodes_created(), before + 10) << "with gradients every operator records a node";
  EXPECT_TRUE(logits.requires_grad());
}

}  // namespace
}  // namespace harnet
