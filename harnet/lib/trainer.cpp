#include "harnet/lib/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>

#include "autograd/autograd.h"
#include "autograd/error.h"
#include "autograd/parallel.h"
#include "data/augment.h"
#include "data/dataset_io.h"
#include "data/mixup.h"
#include "harnet/lib/checkpoint.h"
#include "harnet/lib/inference.h"
#include "harnet/lib/progress.h"
#include "harnet/lib/report.h"
#include "harnet/lib/training_log.h"
#include "nn/swa.h"
#include "ops/ops.h"
#include "optim/optim.h"

namespace harnet {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::unique_ptr<Optimizer> make_optimizer(const RunConfig& config, std::vector<Tensor> params) {
  const OptimizerSettings& o = config.optimizer;
  if (o.name == "adamw") {
    AdamWOptions options;
    options.lr = o.lr;
    options.weight_decay = o.weight_decay;
    return std::make_unique<AdamW>(std::move(params), options);
  }
  if (o.name == "sgd") {
    SGDOptions options;
    options.lr = o.lr;
    options.momentum = o.momentum;
    options.weight_decay = o.weight_decay;
    return std::make_unique<SGD>(std::move(params), options);
  }
  if (o.name == "rmsprop") {
    RMSpropOptions options;
    options.lr = o.lr;
    options.momentum = o.momentum;
    options.weight_decay = o.weight_decay;
    return std::make_unique<RMSprop>(std::move(params), options);
  }
  AdamOptions options;
  options.lr = o.lr;
  options.weight_decay = o.weight_decay;
  return std::make_unique<Adam>(std::move(params), options);
}

// The learning-rate schedule of the configuration, stepped once per epoch: cosine or step
// (each after an optional linear warm-up), constant (warm-up only, or nothing), or plateau
// (on the validation loss).
class EpochSchedule {
 public:
  EpochSchedule(Optimizer& optimizer, const RunConfig& config) {
    const ScheduleSettings& s = config.schedule;
    if (s.name == "plateau") {
      ReduceLROnPlateauOptions options;
      options.factor = s.plateau_factor;
      options.patience = s.plateau_patience;
      options.min_lr = {s.min_lr};
      plateau_ = std::make_unique<ReduceLROnPlateau>(optimizer, options);
      return;
    }
    // SequentialLR wants its schedulers constructed in order, the warm-up first.
    const int64_t warmup_epochs = config.warmup_epochs();
    std::shared_ptr<ChainableLRScheduler> warmup, main;
    if (warmup_epochs > 0)
      warmup = std::make_shared<LinearLR>(optimizer, 1.0 / static_cast<double>(warmup_epochs + 1), 1.0, warmup_epochs);
    if (s.name == "cosine") main = std::make_shared<CosineAnnealingLR>(optimizer, config.epochs - warmup_epochs, s.min_lr);
    if (s.name == "step") main = std::make_shared<StepLR>(optimizer, s.step_size, s.gamma);
    if (warmup && main)
      scheduler_ = std::make_shared<SequentialLR>(
          optimizer, std::vector<std::shared_ptr<ChainableLRScheduler>>{warmup, main}, std::vector<int64_t>{warmup_epochs});
    else if (warmup)
      scheduler_ = warmup;
    else
      scheduler_ = main;
  }

  void step(double validation_loss) {
    if (plateau_)
      plateau_->step(validation_loss);
    else if (scheduler_)
      scheduler_->step();
  }
  SchedulerState state() const {
    if (plateau_) return plateau_->state();
    if (scheduler_) return scheduler_->state();
    return SchedulerState{"constant", {}, {}, {}};
  }
  void load_state(const SchedulerState& state) {
    if (plateau_)
      plateau_->load_state(state);
    else if (scheduler_)
      scheduler_->load_state(state);
    else
      HARNET_CHECK(state.kind == "constant", "scheduler: expected a constant schedule's state, got ", state.kind);
  }

 private:
  std::shared_ptr<LRScheduler> scheduler_;
  std::unique_ptr<ReduceLROnPlateau> plateau_;
};

// Sets the thread count for the run and restores the caller's afterwards.
class RunThreads {
 public:
  explicit RunThreads(int threads) : saved_(get_num_threads()) {
    if (threads > 0) set_num_threads(threads);
  }
  ~RunThreads() { set_num_threads(saved_); }
  RunThreads(const RunThreads&) = delete;
  RunThreads& operator=(const RunThreads&) = delete;

 private:
  int saved_;
};

double counter(const Checkpoint& checkpoint, const std::string& name, const std::string& path) {
  const auto it = checkpoint.counters.find(name);
  HARNET_CHECK(it != checkpoint.counters.end(), path, ": the checkpoint has no '", name,
               "' counter (it was not written by harnet train)");
  return it->second;
}

class TrainingRun {
 public:
  TrainingRun(RunConfig config, fs::path dir, const SkeletonDataset& dataset, const TrainOptions& options,
              std::vector<EpochRecord> history)
      : config_(std::move(config)),
        dir_(std::move(dir)),
        dataset_(dataset),
        options_(options),
        history_(std::move(history)),
        threads_(config_.threads) {
    split_ = make_run_split(dataset, config_);
    train_loader_ = std::make_unique<SkeletonLoader>(dataset, split_.train, config_.loader_options(true));
    validation_loader_ = std::make_unique<SkeletonLoader>(dataset, split_.validation, config_.loader_options(false));
    model_ = build_model(config_);
    params_ = model_->parameters();
    for (int64_t k = 0; k < config_.model.members; ++k) member_params_.push_back(model_->member_parameters(k));
    optimizer_ = make_optimizer(config_, params_);
    schedule_ = std::make_unique<EpochSchedule>(*optimizer_, config_);
    loss_.label_smoothing = config_.label_smoothing;
  }

  // Everything a checkpoint holds, over the freshly built state.
  void restore(const Checkpoint& checkpoint, const std::string& path) {
    HARNET_CHECK(checkpoint.optimizer && checkpoint.scheduler, path,
                 ": a weights-only checkpoint; resuming needs the optimizer and scheduler state");
    try {
      model_->load_state_dict(checkpoint.model);
      set_module_generator_states(*model_, checkpoint.rng);
      optimizer_->load_state_dict(*checkpoint.optimizer);
      schedule_->load_state(*checkpoint.scheduler);
      if (checkpoint.average) average_.load_state_dict(*checkpoint.average);
    } catch (const Error& e) {
      throw Error(str_cat(path, " does not fit the run's configuration: ", e.what()));
    }
    epoch_ = static_cast<int64_t>(counter(checkpoint, "epoch", path));
    batch_ = static_cast<int64_t>(counter(checkpoint, "batch", path));
    step_ = static_cast<int64_t>(counter(checkpoint, "step", path));
    best_epoch_ = static_cast<int64_t>(counter(checkpoint, "best_epoch", path));
    if (best_epoch_ > 0) best_val_loss_ = counter(checkpoint, "best_val_loss", path);
    bad_epochs_ = static_cast<int64_t>(counter(checkpoint, "bad_epochs", path));
    epoch_loss_sum_ = counter(checkpoint, "epoch_loss_sum", path);
    epoch_correct_ = static_cast<int64_t>(counter(checkpoint, "epoch_correct", path));
    epoch_samples_ = static_cast<int64_t>(counter(checkpoint, "epoch_samples", path));
    HARNET_CHECK(epoch_ >= 0 && epoch_ <= config_.epochs && batch_ >= 0 && batch_ < train_loader_->num_batches(), path,
                 ": epoch ", epoch_, ", batch ", batch_, " do not fit a run of ", config_.epochs, " epochs of ",
                 train_loader_->num_batches(), " batches");
  }

  TrainResult run() {
    std::fprintf(options_.out, "%s\n", describe_start().c_str());
    TrainResult result;
    while (epoch_ < config_.epochs && !early_stopped()) {
      if (!train_epoch()) {
        save("last.h5");
        result.outcome = TrainOutcome::Interrupted;
        result.epochs_done = epoch_;
        return result;
      }
    }
    if (early_stopped()) {
      result.outcome = TrainOutcome::EarlyStopped;
      std::fprintf(options_.out, "early stopping: no lower validation loss for %lld epochs (best: epoch %lld)\n",
                   static_cast<long long>(bad_epochs_), static_cast<long long>(best_epoch_));
    }
    result.epochs_done = epoch_;
    use_average();
    write_final_report(result);
    return result;
  }

 private:
  bool early_stopped() const { return config_.early_stopping > 0 && bad_epochs_ >= config_.early_stopping; }

  std::string describe_start() const {
    if (epoch_ >= config_.epochs || early_stopped())
      return str_cat("the run in ", dir_.string(), " has finished (", epoch_, " epochs); evaluating its final weights");
    const int64_t members = config_.model.members;
    return str_cat(epoch_ == 0 && batch_ == 0 ? "training" : "resuming", " HARNet (", model_->num_parameters(),
                   " parameters", members > 1 ? str_cat(", an ensemble of ", members) : std::string(), ") on ",
                   config_.data, ": ", split_.train.size(), " training sequences, ",
                   split_.validation.size(), split_.carved ? " carved validation" : " held-out validation",
                   " sequences; ", config_.epochs, " epochs of ", train_loader_->num_batches(), " batches of ",
                   config_.batch, ", ", config_.optimizer.name, " lr ", config_.optimizer.lr, ", ",
                   config_.schedule.name, " schedule",
                   config_.mixup > 0.0 ? str_cat(", mixup alpha ", config_.mixup) : std::string(),
                   config_.smooth.enabled()
                       ? str_cat(", smoothing (window ", config_.smooth.window, ", order ", config_.smooth.order, ")")
                       : std::string(),
                   ", ", get_num_threads(), " threads",
                   epoch_ == 0 && batch_ == 0 ? "" : str_cat("; from epoch ", epoch_ + 1, " batch ", batch_ + 1),
                   "\nrun directory: ", dir_.string());
  }

  // One optimizer step. An ensemble's members each take the step they would take alone: the
  // loss is the sum of the members' losses (each member's parameters see only its own) and
  // the gradients are clipped member by member. The epoch's loss and accuracy are those of
  // the model's output (for an ensemble, its mean probabilities), like validation's.
  // With mixup the batch is blended first (data/mixup.h), with a weight drawn from (seed,
  // epoch, batch), and each member's loss is the same blend of its losses on the two labels;
  // the epoch's loss is then the blended one and its accuracy that against the label of the
  // larger part.
  void train_step(Batch& batch) {
    Tensor partner_y;
    double weight = 1.0;
    if (config_.mixup > 0.0) {
      // Sample index -2 - batch is never a sample (nor the shuffle's -1): the batch's own seed.
      weight = draw_mixup_weight(config_.mixup, sample_seed(config_.seed, epoch_, -2 - batch_));
      partner_y = mix_batch(batch, weight);
    }
    const auto member_loss = [&](const Tensor& member_logits) {
      if (!partner_y.defined()) return cross_entropy(member_logits, batch.y, loss_);
      return cross_entropy(member_logits, batch.y, loss_) * weight +
             cross_entropy(member_logits, partner_y, loss_) * (1.0 - weight);
    };
    const std::vector<Tensor> logits = model_->member_logits(batch.x);
    Tensor loss = member_loss(logits[0]);
    for (size_t k = 1; k < logits.size(); ++k) loss = loss + member_loss(logits[k]);
    const double total = loss.item();
    HARNET_CHECK(std::isfinite(total), "train: the loss became ", total, " at epoch ", epoch_ + 1, ", step ", step_ + 1,
                 "; try a lower --lr");
    optimizer_->zero_grad();
    loss.backward();
    if (config_.clip > 0.0)
      for (const std::vector<Tensor>& member : member_params_) clip_grad_norm_(member, config_.clip);
    optimizer_->step();

    Tensor output = logits[0].detach();
    double value = total;
    if (logits.size() > 1) {
      NoGradGuard no_grad;
      std::vector<Tensor> detached;
      for (const Tensor& l : logits) detached.push_back(l.detach());
      output = HARNet::combine_members(detached);
      value = member_loss(output).item();
    }
    const std::vector<int64_t> predicted = argmax(output, 1).to_vector<int64_t>();
    const std::vector<int64_t> truth = batch.y.to_vector<int64_t>();
    for (size_t i = 0; i < truth.size(); ++i) epoch_correct_ += predicted[i] == truth[i];
    epoch_loss_sum_ += value * static_cast<double>(truth.size());
    epoch_samples_ += static_cast<int64_t>(truth.size());
    ++batch_;
    ++step_;
  }

  // One epoch (or the rest of one); false when a stop was requested.
  bool train_epoch() {
    const auto start = Clock::now();
    const int64_t epoch_index = epoch_;  // the loader's 0-based epoch
    const int64_t batches = train_loader_->num_batches();
    const int64_t first = batch_;
    const double lr = optimizer_->param_groups().front().lr();
    EpochProgress progress(options_.out, options_.progress_bar, epoch_ + 1, config_.epochs, batches, first);
    model_->train();
    int64_t samples_here = 0;
    bool stop = false;  // polled once per step
    {
      BatchPrefetcher ahead(batches - first, train_loader_->options().prefetch,
                            [&](int64_t i) { return train_loader_->batch(epoch_index, first + i); });
      while (std::optional<Batch> batch = ahead.next()) {
        train_step(*batch);
        samples_here += static_cast<int64_t>(batch->indices.size());
        progress.update(batch_, epoch_loss_sum_ / static_cast<double>(epoch_samples_),
                        static_cast<double>(epoch_correct_) / static_cast<double>(epoch_samples_), samples_here);
        stop = options_.stop_requested && options_.stop_requested();
        if (stop && batch_ < batches) {
          progress.clear();
          return false;
        }
      }
    }
    const double train_seconds = seconds_since(start);
    // The full bar stays up while the model validates.
    const ModelOutputs validation = run_model(*model_, *validation_loader_, loss_);
    progress.clear();
    const ClassificationMetrics metrics = validation.metrics();
    EpochRecord record;
    record.epoch = epoch_ + 1;
    record.lr = lr;
    record.train_loss = epoch_loss_sum_ / static_cast<double>(epoch_samples_);
    record.train_acc = static_cast<double>(epoch_correct_) / static_cast<double>(epoch_samples_);
    record.val_loss = validation.mean_loss();
    record.val_acc = metrics.accuracy;
    record.val_macro_f1 = metrics.macro_f1;
    record.samples_per_s = static_cast<double>(samples_here) / std::max(train_seconds, 1e-9);

    ++epoch_;
    batch_ = 0;
    epoch_loss_sum_ = 0.0;
    epoch_correct_ = epoch_samples_ = 0;
    schedule_->step(record.val_loss);
    const bool best = record.val_loss < best_val_loss_;
    if (best) {
      best_val_loss_ = record.val_loss;
      best_epoch_ = epoch_;
      bad_epochs_ = 0;
    } else {
      ++bad_epochs_;
    }
    record.seconds = seconds_since(start);
    append_metrics_csv((dir_ / "metrics.csv").string(), record);
    history_.push_back(record);
    if (epoch_ > config_.epochs - config_.averaged_epochs()) average_.update(*model_);
    if (best) save("best.h5");
    save("last.h5");
    std::fprintf(options_.out, "%s\n", epoch_log_line(record, config_.epochs, best).c_str());
    std::fflush(options_.out);
    // A stop requested at the epoch's last step: the epoch is finished and saved; stop here.
    return !stop;
  }

  void save(const std::string& name) const {
    Checkpoint c;
    c.config = config_.to_json();
    c.model = model_->state_dict();
    c.optimizer = optimizer_->state_dict();
    c.scheduler = schedule_->state();
    c.rng = module_generator_states(*model_);
    c.counters = {{"epoch", static_cast<double>(epoch_)},
                  {"batch", static_cast<double>(batch_)},
                  {"step", static_cast<double>(step_)},
                  {"best_epoch", static_cast<double>(best_epoch_)},
                  {"bad_epochs", static_cast<double>(bad_epochs_)},
                  {"epoch_loss_sum", epoch_loss_sum_},
                  {"epoch_correct", static_cast<double>(epoch_correct_)},
                  {"epoch_samples", static_cast<double>(epoch_samples_)}};
    if (best_epoch_ > 0) c.counters["best_val_loss"] = best_val_loss_;
    if (average_.count() > 0) c.average = average_.state_dict();
    save_checkpoint((dir_ / name).string(), c);
  }

  // With weight averaging: makes the model the average of the epochs averaged, recomputes its
  // BatchNorm statistics over one augmented pass of the training part (the loader's epoch
  // `epochs`, which training never draws) and saves it as averaged.h5 (weights only).
  void use_average() {
    if (average_.count() == 0) return;
    average_.copy_to(*model_);
    nn::update_bn(*model_, [&] {
      NoGradGuard no_grad;
      for (int64_t i = 0; i < train_loader_->num_batches(); ++i)
        model_->member_logits(train_loader_->batch(config_.epochs, i).x);
    });
    Checkpoint c;
    c.config = config_.to_json();
    c.model = model_->state_dict();
    save_checkpoint((dir_ / "averaged.h5").string(), c);
  }

  std::string describe_weights() const {
    const std::string saved = str_cat("last.h5: epoch ", epoch_, "; best.h5: epoch ", best_epoch_,
                                      ", validation loss ", best_val_loss_);
    if (average_.count() == 0) return str_cat("the last epoch's (", saved, ")");
    return str_cat("averaged.h5: the average of epochs ", epoch_ - average_.count() + 1, "-", epoch_,
                   ", BatchNorm statistics recomputed on the training part (", saved, ")");
  }

  void write_final_report(TrainResult& result) {
    Evaluator evaluator(dataset_, split_.carved ? split_.held_out : split_.validation, config_, config_.tta);
    const ModelOutputs outputs = evaluator.run(*model_);
    EvaluationReport report;
    report.title = str_cat("HARNet on ", fs::path(config_.data).filename().string(), ": held-out part");
    report.facts = {{"data", config_.data},
                    {"split", describe_split(config_.split)},
                    {"evaluated", str_cat("held-out part, ", outputs.samples(), " sequences")},
                    {"validation", split_.carved ? str_cat(config_.validation, " (", split_.validation.size(),
                                                           " sequences of carved training subjects)")
                                                 : "the held-out part, after every epoch"},
                    {"model", describe_model(*model_)},
                    {"input", describe_input(config_)},
                    {"training", describe_training(result)},
                    {"test-time augmentation", evaluator.describe()},
                    {"weights", describe_weights()},
                    {"computed with", describe_computation()}};
    report.metrics = outputs.metrics();
    report.class_names = config_.class_names;
    report.loss = outputs.mean_loss();
    result.report = write_report_files(dir_.string(), report, history_);
    result.held_out = report.metrics;
  }

  std::string describe_training(const TrainResult& result) const {
    return str_cat(epoch_, " of ", config_.epochs, " epochs",
                   result.outcome == TrainOutcome::EarlyStopped ? " (early stopping)" : "", ", ",
                   config_.optimizer.name, " lr ", config_.optimizer.lr, ", weight decay ",
                   config_.optimizer.weight_decay, ", ", config_.schedule.name, " schedule, batch ", config_.batch,
                   config_.label_smoothing > 0.0 ? str_cat(", label smoothing ", config_.label_smoothing) : "",
                   config_.mixup > 0.0 ? str_cat(", mixup alpha ", config_.mixup) : "", ", seed ", config_.seed);
  }

  RunConfig config_;
  fs::path dir_;
  const SkeletonDataset& dataset_;
  TrainOptions options_;
  std::vector<EpochRecord> history_;
  RunThreads threads_;
  RunSplit split_;
  std::unique_ptr<SkeletonLoader> train_loader_, validation_loader_;
  std::shared_ptr<HARNet> model_;
  std::vector<Tensor> params_;
  std::vector<std::vector<Tensor>> member_params_;  // each member's, for clipping
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<EpochSchedule> schedule_;
  CrossEntropyOptions loss_;
  nn::ParameterAverage average_;  // --average-last's running average (empty when off)

  int64_t epoch_ = 0;  // finished epochs
  int64_t batch_ = 0;  // batches trained in the current epoch
  int64_t step_ = 0;   // optimizer steps in the whole run
  double best_val_loss_ = std::numeric_limits<double>::infinity();
  int64_t best_epoch_ = 0;
  int64_t bad_epochs_ = 0;       // epochs since the best
  double epoch_loss_sum_ = 0.0;  // the current epoch's sums so far
  int64_t epoch_correct_ = 0;
  int64_t epoch_samples_ = 0;
};

// Refuses an --out that is a file or already holds a run.
void check_new_run_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  HARNET_CHECK(fs::is_directory(dir, ec), "--out ", dir.string(), " exists and is not a directory");
  for (const char* file : {"config.json", "last.h5", "metrics.csv"})
    HARNET_CHECK(!fs::exists(dir / file, ec), "--out ", dir.string(), " already holds a run (", file,
                 "); continue it with --resume or choose another --out");
}

}  // namespace

TrainResult train_new_run(RunConfig config, const std::string& run_dir, const TrainOptions& options) {
  HARNET_CHECK(!config.data.empty(), "--data is required (a harnet-skeleton-v1 .h5 file), or --config FILE.json");
  HARNET_CHECK(!run_dir.empty(), "--out RUN_DIR is required");
  const fs::path dir(run_dir);
  check_new_run_dir(dir);
  HARNET_CHECK(fs::is_regular_file(config.data), "--data ", config.data, " does not exist");
  const SkeletonDataset dataset = read_dataset(config.data);
  config.data = fs::absolute(config.data).lexically_normal().string();
  config.adopt_dataset(dataset);
  create_output_directory(dir.string(), "the run directory");
  write_text_file((dir / "config.json").string(), config.to_json());
  write_metrics_csv((dir / "metrics.csv").string(), {});
  TrainingRun run(std::move(config), dir, dataset, options, {});
  return run.run();
}

TrainResult resume_run(const std::string& run_dir, int threads, const TrainOptions& options) {
  const fs::path dir(run_dir);
  const fs::path config_path = dir / "config.json", last = dir / "last.h5", metrics = dir / "metrics.csv";
  HARNET_CHECK(fs::is_regular_file(config_path), "cannot resume ", run_dir,
               ": it has no config.json (not a run directory)");
  HARNET_CHECK(fs::is_regular_file(last), "cannot resume ", run_dir,
               ": it has no last.h5 (the run stopped before its first checkpoint; start it again)");
  RunConfig config = RunConfig::load(config_path.string());
  const Checkpoint checkpoint = load_checkpoint(last.string());
  RunConfig saved;
  try {
    saved = RunConfig::from_json(checkpoint.config);
  } catch (const Error& e) {
    throw Error(str_cat(last.string(), ": its configuration is not a harnet run configuration: ", e.what()));
  }
  HARNET_CHECK(saved.to_json() == config.to_json(), last.string(), " was written by another configuration than ",
               config_path.string());
  config.validate();
  if (threads > 0) config.threads = threads;
  HARNET_CHECK(fs::is_regular_file(config.data), "cannot resume ", run_dir, ": its data file ", config.data,
               " does not exist");
  const SkeletonDataset dataset = read_dataset(config.data);
  config.check_dataset(dataset, config.data);

  const auto epoch = static_cast<int64_t>(counter(checkpoint, "epoch", last.string()));
  std::vector<EpochRecord> history = read_metrics_csv(metrics.string());
  HARNET_CHECK(static_cast<int64_t>(history.size()) >= epoch, metrics.string(), " has ", history.size(), " rows but ",
               last.string(), " was saved after epoch ", epoch);
  history.resize(static_cast<size_t>(epoch));
  write_metrics_csv(metrics.string(), history);

  TrainingRun run(std::move(config), dir, dataset, options, std::move(history));
  run.restore(checkpoint, last.string());
  return run.run();
}

}  // namespace harnet
