// HARNetConfig (checks and JSON form) and the HARNet module: construction in the PyTorch
// reference's order, and the forward pass (shapes in model.h).
#include "harnet/lib/model.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "autograd/error.h"
#include "nn/conv.h"
#include "nn/pool.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "ops/softmax.h"

namespace harnet {

using nlohmann::json;

// ---------------------------------------------------------------- HARNetConfig

namespace {

void check_positive(int64_t value, const char* key) {
  HARNET_CHECK(value > 0, "HARNetConfig: ", key, " must be positive, got ", value);
}

void check_probability(double value, const char* key) {
  HARNET_CHECK(value >= 0.0 && value < 1.0, "HARNetConfig: ", key, " must be in [0, 1), got ", value);
}

}  // namespace

void HARNetConfig::validate() const {
  check_positive(joints, "joints");
  check_positive(in_channels, "in_channels");
  check_positive(classes, "classes");
  for (size_t i = 0; i < conv_channels.size(); ++i)
    HARNET_CHECK(conv_channels[i] > 0, "HARNetConfig: conv_channels[", i, "] must be positive, got ", conv_channels[i]);
  HARNET_CHECK(conv_pool.size() == conv_channels.size(), "HARNetConfig: conv_pool has ", conv_pool.size(),
               " entries but conv_channels has ", conv_channels.size(), " (one per spatial block)");
  HARNET_CHECK(conv_kernel > 0 && conv_kernel % 2 == 1, "HARNetConfig: conv_kernel must be odd and positive, got ",
               conv_kernel);
  check_probability(input_dropout, "input_dropout");
  check_positive(lstm_layers, "lstm_layers");
  check_positive(lstm_hidden, "lstm_hidden");
  check_probability(lstm_dropout, "lstm_dropout");
  check_positive(attention_heads, "attention_heads");
  HARNET_CHECK(attention_width() % attention_heads == 0, "HARNetConfig: attention_heads (", attention_heads,
               ") must divide the attention width ", attention_width(), " (", bidirectional ? "2 * " : "",
               "lstm_hidden)");
  check_probability(attention_dropout, "attention_dropout");
  HARNET_CHECK(pooling == "mean" || pooling == "attention",
               "HARNetConfig: pooling must be \"mean\" or \"attention\", got \"", pooling, "\"");
  check_positive(classifier_hidden, "classifier_hidden");
  check_probability(classifier_dropout, "classifier_dropout");
  check_positive(members, "members");
}

int64_t HARNetConfig::pooled_joints() const {
  int64_t j = joints;
  for (bool pool : conv_pool)
    if (pool) j = (j + 1) / 2;  // MaxPool (1, 2) with ceil_mode: a last, partial window counts
  return j;
}

int64_t HARNetConfig::frame_features() const {
  const int64_t channels = conv_channels.empty() ? in_channels : conv_channels.back();
  return channels * pooled_joints();
}

namespace {

// The fields in the order to_json writes them; from_json reads the same table, so the two
// cannot drift apart.
template <class Visitor>
void visit_fields(HARNetConfig& c, Visitor&& visit) {
  visit("joints", c.joints);
  visit("in_channels", c.in_channels);
  visit("classes", c.classes);
  visit("conv_channels", c.conv_channels);
  visit("conv_pool", c.conv_pool);
  visit("conv_kernel", c.conv_kernel);
  visit("input_dropout", c.input_dropout);
  visit("lstm_layers", c.lstm_layers);
  visit("lstm_hidden", c.lstm_hidden);
  visit("bidirectional", c.bidirectional);
  visit("lstm_dropout", c.lstm_dropout);
  visit("attention_heads", c.attention_heads);
  visit("attention_dropout", c.attention_dropout);
  visit("pooling", c.pooling);
  visit("classifier_hidden", c.classifier_hidden);
  visit("classifier_dropout", c.classifier_dropout);
  visit("members", c.members);
}

[[noreturn]] void wrong_type(const std::string& key, const char* expected, const json& value) {
  throw Error(str_cat("HARNetConfig: \"", key, "\" must be ", expected, ", got ", value.dump()));
}

void read_value(const std::string& key, const json& v, int64_t& out) {
  if (!v.is_number_integer()) wrong_type(key, "an integer", v);
  out = v.get<int64_t>();
}

void read_value(const std::string& key, const json& v, double& out) {
  if (!v.is_number()) wrong_type(key, "a number", v);
  out = v.get<double>();
}

void read_value(const std::string& key, const json& v, bool& out) {
  if (!v.is_boolean()) wrong_type(key, "true or false", v);
  out = v.get<bool>();
}

void read_value(const std::string& key, const json& v, std::string& out) {
  if (!v.is_string()) wrong_type(key, "a string", v);
  out = v.get<std::string>();
}

// An array of T; an element of the wrong type is named by its index ("conv_channels[1]").
template <class T>
void read_value(const std::string& key, const json& v, std::vector<T>& out) {
  if (!v.is_array()) wrong_type(key, "an array", v);
  out.clear();
  for (size_t i = 0; i < v.size(); ++i) {
    T element;
    read_value(str_cat(key, "[", i, "]"), v[i], element);
    out.push_back(element);
  }
}

}  // namespace

std::string HARNetConfig::to_json() const {
  json out = json::object();
  HARNetConfig copy = *this;
  visit_fields(copy, [&](const char* key, const auto& value) { out[key] = value; });
  return out.dump(2);
}

HARNetConfig HARNetConfig::from_json(const std::string& text) {
  json in;
  try {
    in = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(str_cat("HARNetConfig: not valid JSON: ", e.what()));
  }
  HARNET_CHECK(in.is_object(), "HARNetConfig: expected a JSON object, got ", in.type_name());
  HARNetConfig config;
  std::vector<std::string> known;
  visit_fields(config, [&](const char* key, auto& field) {
    known.emplace_back(key);
    if (auto it = in.find(key); it != in.end()) read_value(key, *it, field);
  });
  for (const auto& [key, value] : in.items())
    HARNET_CHECK(std::find(known.begin(), known.end(), key) != known.end(), "HARNetConfig: unknown key \"", key,
                 "\"");
  config.validate();
  return config;
}

// ---------------------------------------------------------------- HARNet

HARNet::HARNet(const HARNetConfig& config, Generator& gen) : config_(config) {
  config_.validate();
  const HARNetConfig& c = config_;
  const int64_t width = c.attention_width();

  // Children in the reference's order (registration order = state-dict order), each built
  // when registered so parameters are drawn from gen in PyTorch's order.
  spatial = register_module("spatial", std::make_shared<nn::Sequential>());
  int64_t channels = c.in_channels;
  for (size_t i = 0; i < c.conv_channels.size(); ++i) {
    const int64_t out = c.conv_channels[i];
    spatial->push_back(std::make_shared<nn::Conv2d>(channels, out, std::array<int64_t, 2>{1, c.conv_kernel},
                                                    Conv2dOptions{.padding = {0, c.conv_kernel / 2}}, true, gen));
    spatial->push_back(std::make_shared<nn::BatchNorm2d>(out));
    spatial->push_back(std::make_shared<nn::ReLU>());
    if (c.conv_pool[i])
      spatial->push_back(std::make_shared<nn::MaxPool2d>(Pool2dParam{1, 2}, MaxPool2dOptions{.ceil_mode = true}));
    channels = out;
  }
  drop_in = register_module("drop_in", std::make_shared<nn::Dropout>(c.input_dropout, gen));
  lstm = register_module("lstm", std::make_shared<nn::LSTM>(c.frame_features(), c.lstm_hidden,
                                                            nn::RecurrentOptions{.num_layers = c.lstm_layers,
                                                                                 .batch_first = true,
                                                                                 .dropout = c.lstm_dropout,
                                                                                 .bidirectional = c.bidirectional},
                                                            gen));
  mha = register_module("mha", std::make_shared<nn::MultiheadAttention>(
                                   width, c.attention_heads,
                                   nn::MultiheadAttentionOptions{.dropout = c.attention_dropout, .batch_first = true},
                                   gen));
  norm = register_module("norm", std::make_shared<nn::LayerNorm>(width));
  if (c.pooling == "attention") pool = register_module("pool", std::make_shared<nn::Linear>(width, 1, gen));
  head = register_module("head", std::make_shared<nn::Sequential>());
  head->push_back(std::make_shared<nn::Linear>(width, c.classifier_hidden, gen));
  head->push_back(std::make_shared<nn::ReLU>());
  head->push_back(std::make_shared<nn::Dropout>(c.classifier_dropout, gen));
  head->push_back(std::make_shared<nn::Linear>(c.classifier_hidden, c.classes, gen));

  HARNetConfig single = c;
  single.members = 1;
  for (int64_t k = 1; k < c.members; ++k)
    other_members.push_back(register_module(str_cat("member", k), std::make_shared<HARNet>(single, gen)));
}

void HARNet::check_input(const Tensor& x) const {
  const auto expected = [&] {
    return str_cat("HARNet: expected x [B, T, J=", config_.joints, ", C_in=", config_.in_channels,
                   "] with B, T >= 1, got ");
  };
  HARNET_CHECK(x.defined(), expected(), "an undefined tensor");
  HARNET_CHECK(x.dim() == 4 && x.size(0) >= 1 && x.size(1) >= 1 && x.size(2) == config_.joints &&
                   x.size(3) == config_.in_channels,
               expected(), shape_str(x.shape()));
  const DType model_dtype = norm->weight.dtype();
  HARNET_CHECK(x.dtype() == model_dtype, "HARNet: x is ", dtype_name(x.dtype()), " but the model is ",
               dtype_name(model_dtype), " (convert one of them)");
}

// The spatial blocks with each BatchNorm2d + ReLU pair fused into one operation (the same
// values and gradients; one pass less each way over the block's largest tensors). Under a
// forward observer (summary) the modules run one by one so that each reports its output.
Tensor HARNet::spatial_forward(const Tensor& x) {
  if (nn::forward_observer_installed()) return (*spatial)(x);
  Tensor h = x;
  for (size_t i = 0; i < spatial->size(); ++i) {
    const auto& module = (*spatial)[static_cast<int64_t>(i)];
    auto norm = std::dynamic_pointer_cast<nn::BatchNorm2d>(module);
    if (norm && i + 1 < spatial->size() &&
        std::dynamic_pointer_cast<nn::ReLU>((*spatial)[static_cast<int64_t>(i + 1)])) {
      h = norm->forward_relu(h);
      ++i;
    } else {
      h = (*module)(h);
    }
  }
  return h;
}

Tensor HARNet::forward(const Tensor& x) {
  if (other_members.empty()) {
    check_input(x);
    return network_forward(x);
  }
  return combine_members(member_logits(x));
}

std::vector<Tensor> HARNet::member_logits(const Tensor& x) {
  check_input(x);
  std::vector<Tensor> logits{network_forward(x)};
  for (const auto& member : other_members) logits.push_back(member->network_forward(x));
  return logits;
}

Tensor HARNet::combine_members(const std::vector<Tensor>& logits) {
  HARNET_CHECK(!logits.empty(), "HARNet::combine_members: no logits");
  if (logits.size() == 1) return logits[0];
  std::vector<Tensor> log_probabilities;
  for (const Tensor& l : logits) log_probabilities.push_back(log_softmax(l, 1));
  const Tensor z = stack(log_probabilities, 1);  // [B, K, C]
  // log sum_k exp(z_k) = m + log sum_k exp(z_k - m). The shift m is held constant: the value
  // does not depend on it, so neither does the gradient.
  const Tensor m = max(z.detach(), {1}, /*keepdim=*/true);
  const Tensor sum_exp = sum(exp(z - m), {1});  // in [1, K]: its log is finite
  return squeeze(m, 1) + log(sum_exp) - std::log(static_cast<double>(logits.size()));
}

std::vector<Tensor> HARNet::member_parameters(int64_t k) const {
  HARNET_CHECK(k >= 0 && k < config_.members, "HARNet: member ", k, " of an ensemble of ", config_.members);
  if (k > 0) return other_members[static_cast<size_t>(k - 1)]->parameters();
  std::vector<Tensor> own;
  for (const auto& [name, child] : named_children())
    if (name.rfind("member", 0) != 0)
      for (const Tensor& p : child->parameters()) own.push_back(p);
  return own;
}

Tensor HARNet::network_forward(const Tensor& x) {
  const int64_t batch = x.size(0), frames = x.size(1);
  Tensor h = spatial_forward(permute(x, {0, 3, 1, 2}));             // [B, C, T, J']
  h = reshape(permute(h, {0, 2, 1, 3}), {batch, frames, -1});       // [B, T, C * J']
  h = (*drop_in)(h);
  h = (*lstm)(h).output;                                            // [B, T, D * H]
  const Tensor attended = (*mha)(h, h, h, Tensor(), /*need_weights=*/false).output;
  h = (*norm)(h + attended);                                        // [B, T, D * H]
  return (*head)(pool_over_time(h));                                // [B, classes]
}

Tensor HARNet::pool_over_time(const Tensor& h) {
  if (!pool) return mean(h, {1});
  const Tensor weights = softmax((*pool)(h), 1);  // [B, T, 1]: each sequence's frames sum to 1
  return sum(weights * h, {1});                   // [B, D * H]
}

}  // namespace harnet
