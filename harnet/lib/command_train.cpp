// `harnet train`: the training entry point. Until the skeleton data pipeline and the HARNet
// model exist, it trains a two-layer perceptron on the synthetic spirals problem end to end
// (mini-batch SGD with momentum, train/validation split, per-epoch report), entirely with
// the framework's own tensors, autograd and operators.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>

#include <CLI/CLI.hpp>

#include "data/spirals.h"
#include "harnet/lib/commands.h"
#include "ops/ops.h"

namespace harnet {

namespace {

struct TrainConfig {
  int64_t classes = 3;
  int64_t points_per_class = 300;
  double noise = 0.2;
  int64_t hidden = 64;
  int64_t epochs = 60;
  int64_t batch = 64;
  double lr = 0.1;
  double momentum = 0.9;
  double val_fraction = 0.2;
  uint64_t seed = 0;
  int threads = 0;
};

struct Perceptron {
  std::vector<Tensor> params;  // w1 [H, 2], b1 [H], w2 [C, H], b2 [C]

  // PyTorch's nn.Linear default: weight and bias uniform in +-1/sqrt(fan_in).
  static Tensor init(const Shape& shape, int64_t fan_in, Generator& gen) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    return rand(shape, gen, kFloat32, -bound, bound).set_requires_grad(true);
  }
  Perceptron(int64_t in, int64_t hidden, int64_t out, Generator& gen)
      : params{init({hidden, in}, in, gen), init({hidden}, in, gen), init({out, hidden}, hidden, gen),
               init({out}, hidden, gen)} {}

  Tensor forward(const Tensor& x) const {  // x [B, 2] -> logits [B, C]
    return linear(relu(linear(x, params[0], params[1])), params[2], params[3]);
  }
};

// velocity = momentum * velocity + grad; param -= lr * velocity (torch.optim.SGD).
void sgd_step(std::vector<Tensor>& params, std::vector<std::vector<float>>& velocity, double lr, double momentum) {
  for (size_t p = 0; p < params.size(); ++p) {
    Tensor g = params[p].grad();
    if (!g.defined()) continue;
    float* w = params[p].data<float>();
    const float* gd = g.data<float>();
    std::vector<float>& v = velocity[p];
    for (int64_t i = 0; i < params[p].numel(); ++i) {
      v[static_cast<size_t>(i)] = static_cast<float>(momentum) * v[static_cast<size_t>(i)] + gd[i];
      w[i] -= static_cast<float>(lr) * v[static_cast<size_t>(i)];
    }
    params[p].zero_grad();
  }
}

// Mean loss and accuracy of the model on (x, y), without a graph.
std::pair<double, double> evaluate(const Perceptron& model, const Tensor& x, const Tensor& y) {
  NoGradGuard no_grad;
  Tensor logits = model.forward(x);
  const double loss = cross_entropy(logits, y).item();
  std::vector<int64_t> pred = argmax(logits, 1).to_vector<int64_t>();
  std::vector<int64_t> truth = y.to_vector<int64_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == truth[i];
  return {loss, static_cast<double>(correct) / static_cast<double>(truth.size())};
}

int train(const TrainConfig& cfg) {
  if (cfg.threads > 0) set_num_threads(cfg.threads);
  Generator gen(cfg.seed);
  SpiralData data = make_spirals(cfg.points_per_class, cfg.classes, cfg.noise, gen);
  const int64_t n = data.labels.numel();

  // A seeded random split into training and validation points.
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(gen.integer(0, i + 1))]);
  const int64_t n_val = static_cast<int64_t>(std::round(cfg.val_fraction * static_cast<double>(n)));
  HARNET_CHECK(n_val >= 1 && n_val < n, "train: the validation fraction leaves no training or no validation data");
  auto pick = [&](int64_t begin, int64_t end) {
    return from_vector(std::vector<int64_t>(order.begin() + begin, order.begin() + end), {end - begin});
  };
  Tensor val_idx = pick(0, n_val), train_idx = pick(n_val, n);
  Tensor x_val = index_select(data.points, 0, val_idx), y_val = index_select(data.labels, 0, val_idx);
  Tensor x_train = index_select(data.points, 0, train_idx), y_train = index_select(data.labels, 0, train_idx);
  const int64_t n_train = n - n_val;

  Perceptron model(2, cfg.hidden, cfg.classes, gen);
  std::vector<std::vector<float>> velocity;
  for (const Tensor& p : model.params) velocity.emplace_back(static_cast<size_t>(p.numel()), 0.0f);

  std::printf("training a %lld-hidden-unit perceptron on %lld synthetic spiral points (%lld classes): "
              "%lld train, %lld validation, %d threads\n",
              static_cast<long long>(cfg.hidden), static_cast<long long>(n), static_cast<long long>(cfg.classes),
              static_cast<long long>(n_train), static_cast<long long>(n_val), get_num_threads());
  const auto start = std::chrono::steady_clock::now();
  std::vector<int64_t> perm(static_cast<size_t>(n_train));
  std::iota(perm.begin(), perm.end(), 0);
  double val_acc = 0.0;
  for (int64_t epoch = 1; epoch <= cfg.epochs; ++epoch) {
    for (int64_t i = n_train - 1; i > 0; --i)
      std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(gen.integer(0, i + 1))]);
    double loss_sum = 0.0;
    for (int64_t b = 0; b < n_train; b += cfg.batch) {
      const int64_t e = std::min(n_train, b + cfg.batch);
      Tensor idx = from_vector(std::vector<int64_t>(perm.begin() + b, perm.begin() + e), {e - b});
      Tensor loss = cross_entropy(model.forward(index_select(x_train, 0, idx)), index_select(y_train, 0, idx));
      const double value = loss.item();
      HARNET_CHECK(std::isfinite(value), "train: the loss became ", value, " at epoch ", epoch,
                   "; lower --lr");
      loss_sum += value * static_cast<double>(e - b);
      loss.backward();
      sgd_step(model.params, velocity, cfg.lr, cfg.momentum);
    }
    auto [val_loss, acc] = evaluate(model, x_val, y_val);
    val_acc = acc;
    if (epoch == 1 || epoch % 10 == 0 || epoch == cfg.epochs)
      std::printf("epoch %3lld/%lld  train loss %.4f  val loss %.4f  val accuracy %5.1f%%\n",
                  static_cast<long long>(epoch), static_cast<long long>(cfg.epochs),
                  loss_sum / static_cast<double>(n_train), val_loss, 100.0 * acc);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("done in %.2f s: validation accuracy %.1f%%\n", seconds, 100.0 * val_acc);
  return 0;
}

}  // namespace

int train_command(const std::vector<std::string>& args) {
  TrainConfig cfg;
  CLI::App app{"Trains a model end to end. For now: a perceptron on the synthetic spirals problem.", "train"};
  app.add_option("--classes", cfg.classes, "Spiral arms (classes)")->check(CLI::Range(2, 100))->capture_default_str();
  app.add_option("--points", cfg.points_per_class, "Points per class")->check(CLI::Range(5, 1000000))->capture_default_str();
  app.add_option("--noise", cfg.noise, "Angular noise of the points")->check(CLI::Range(0.0, 10.0))->capture_default_str();
  app.add_option("--hidden", cfg.hidden, "Hidden units")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--epochs", cfg.epochs, "Epochs")->check(CLI::Range(1, 1000000))->capture_default_str();
  app.add_option("--batch", cfg.batch, "Batch size")->check(CLI::Range(1, 1000000))->capture_default_str();
  app.add_option("--lr", cfg.lr, "Learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--momentum", cfg.momentum, "SGD momentum")->check(CLI::Range(0.0, 0.999))->capture_default_str();
  app.add_option("--val-fraction", cfg.val_fraction, "Share of points held out for validation")
      ->check(CLI::Range(0.01, 0.99))->capture_default_str();
  app.add_option("--seed", cfg.seed, "Seed of the data, initialisation and shuffling")->capture_default_str();
  app.add_option("--threads", cfg.threads, "Threads (default: HARNET_NUM_THREADS or all cores)")
      ->check(CLI::PositiveNumber);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return train(cfg);
}

}  // namespace harnet
