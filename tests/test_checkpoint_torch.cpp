// The default-size HARNet's weights exported from PyTorch: tools/make_checkpoint_fixtures.py
// initialises PyTorch's HARNet (J = 25, C = 10; 770,826 parameters) with a fixed seed, moves
// its BatchNorm statistics by two training passes, saves its state dict with torch.save and
// converts it with tools/torch_checkpoint.py; it also stores a batch of 4 sequences of 60
// frames and PyTorch's eval-mode logits. The checkpoint's config is the HARNetConfig JSON the
// C++ model is built from.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/hdf5_file.h"
#include "harnet/lib/checkpoint.h"
#include "harnet/lib/model.h"
#include "ops/ops.h"

namespace harnet {
namespace {

std::string fixture(const std::string& name) { return std::string(HARNET_FIXTURE_DIR) + "/" + name; }

TEST(CheckpointTorchHarnet, PyTorchWeightsGiveTheSameLogitsWithin1e4) {
  const Checkpoint checkpoint = load_checkpoint(fixture("harnet_torch_weights.h5"));
  const HARNetConfig config = HARNetConfig::from_json(checkpoint.config);
  EXPECT_EQ(config.to_json(), HARNetConfig{}.to_json()) << "the default configuration";
  Generator gen(123);  // weights other than PyTorch's until loaded
  HARNet model(config, gen);
  EXPECT_EQ(model.num_parameters(), 770826);
  EXPECT_EQ(checkpoint.model.keys(), model.state_dict().keys());
  EXPECT_EQ(checkpoint.model.at("spatial.1.num_batches_tracked").item(), 2.0);
  model.load_state_dict(checkpoint.model);  // strict

  hdf5::File batch = hdf5::File::open(fixture("harnet_torch_batch.h5"));
  const Tensor input = from_vector(batch.read_dataset<float>("/input"), batch.dataset_info("/input").shape);
  ASSERT_EQ(input.shape(), (Shape{4, 60, 25, 3}));
  const std::vector<float> expected = batch.read_dataset<float>("/logits");
  NoGradGuard no_grad;
  model.eval();
  const std::vector<float> logits = model(input).to_vector<float>();
  ASSERT_EQ(logits.size(), expected.size());
  double largest_difference = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    EXPECT_NEAR(logits[i], expected[i], 1e-4) << "logit " << i;
    largest_difference = std::max(largest_difference, std::abs(static_cast<double>(logits[i]) - expected[i]));
  }
  RecordProperty("largest_logit_difference", std::to_string(largest_difference));
  std::printf("largest |harnet - PyTorch| logit difference: %.3g\n", largest_difference);
}

}  // namespace
}  // namespace harnet
