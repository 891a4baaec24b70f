// `harnet eval` and `harnet predict`: a checkpoint written by `harnet train` applied to any
// dataset with the joints and classes it was trained on. The checkpoint's configuration
// rebuilds the model and the preprocessing (frames, features, joint order, normalisation).
//   eval:    the report (accuracy, macro-F1, per class, confusion matrix) of one part of the
//            dataset: by default the part its split holds out, `--split all` every sequence.
//   predict: the top-k classes of every sequence with their probabilities, as text or JSON.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "autograd/error.h"
#include "autograd/parallel.h"
#include "data/dataset_io.h"
#include "harnet/lib/command_line.h"
#include "harnet/lib/commands.h"
#include "harnet/lib/inference.h"
#include "harnet/lib/report.h"

namespace harnet {

namespace {

struct CheckpointOnData {
  TrainedModel trained;
  SkeletonDataset dataset;
};

// Reads both files and checks that the dataset's joints and classes are the checkpoint's.
CheckpointOnData open_checkpoint_and_data(const std::string& checkpoint, const std::string& data, int threads) {
  HARNET_CHECK(threads >= 0, "--threads must be >= 1, got ", threads);
  if (threads > 0) set_num_threads(threads);
  CheckpointOnData out{load_trained_model(checkpoint), {}};
  HARNET_CHECK(std::filesystem::is_regular_file(data), "--data ", data, " does not exist");
  out.dataset = read_dataset(data);
  out.trained.config.check_dataset(out.dataset, data);
  return out;
}

// The checkpoint's model on `sequences`, with its test-time augmentation unless `tta` says otherwise.
struct RunOn {
  ModelOutputs outputs;
  std::string views;  // Evaluator::describe()
  int64_t view_count = 1;
};

RunOn run_on(const CheckpointOnData& opened, const std::vector<int64_t>& sequences, int64_t batch,
             std::optional<int64_t> tta, bool probabilities) {
  const RunConfig& config = opened.trained.config;
  Evaluator evaluator(opened.dataset, sequences, config, tta.value_or(config.tta), batch);
  RunOn out;
  out.outputs = evaluator.run(*opened.trained.model, probabilities);
  out.views = evaluator.describe();
  out.view_count = evaluator.views();
  return out;
}

std::string epoch_of(const TrainedModel& trained) {
  const auto it = trained.counters.find("epoch");
  return it == trained.counters.end() ? "" : str_cat(" (epoch ", static_cast<int64_t>(it->second), ")");
}

}  // namespace

int eval_command(const std::vector<std::string>& args) {
  CLI::App app{"Evaluates a checkpoint on a dataset: accuracy, macro-F1, per-class scores, confusion matrix.", "eval"};
  std::string checkpoint, data, split, out;
  int threads = 0;
  int64_t batch = 0;
  std::optional<int64_t> tta;
  app.add_option("--checkpoint", checkpoint, "A checkpoint written by harnet train (best.h5, last.h5)")->required();
  app.add_option("--data", data, "The dataset file (.h5)")->required();
  app.add_option("--split", split,
                 "The part to evaluate: the held-out part of odd-even, subjects:1,3,5 or "
                 "random:0.8, or all (default: the checkpoint's split)");
  app.add_option("--out", out, "Also write report.md and confusion.svg into this directory");
  app.add_option("--batch", batch, "Batch size (default: the checkpoint's)");
  app.add_option("--tta", tta,
                 "Test-time augmentation: views averaged per sequence, 1 for the plain view alone "
                 "(default: the checkpoint's)");
  app.add_option("--threads", threads, "Threads (default: HARNET_NUM_THREADS or every core)");
  int exit_code = 0;
  if (!parse_command_line(app, args, exit_code)) return exit_code;
  const CheckpointOnData opened = open_checkpoint_and_data(checkpoint, data, threads);
  const RunConfig& config = opened.trained.config;
  const std::string part = split.empty() ? config.split : split;
  check_split_spec(part, true);
  if (!out.empty()) create_output_directory(out, "the --out directory");
  const std::vector<int64_t> sequences = held_out_sequences(opened.dataset, part, config.seed);
  const RunOn run = run_on(opened, sequences, batch, tta, false);
  const ModelOutputs& outputs = run.outputs;

  EvaluationReport report;
  const std::string part_name = part == "all" ? "every sequence" : "held-out part";
  report.title = str_cat("HARNet on ", std::filesystem::path(data).filename().string(), ": ", part_name);
  report.facts = {{"checkpoint", checkpoint + epoch_of(opened.trained)},
                  {"data", data},
                  {"split", describe_split(part)},
                  {"evaluated", str_cat(part_name, ", ", outputs.samples(), " sequences")},
                  {"model", describe_model(*opened.trained.model)},
                  {"input", describe_input(config)},
                  {"test-time augmentation", run.views},
                  {"computed with", describe_computation()}};
  report.metrics = outputs.metrics();
  report.class_names = config.class_names;
  report.loss = outputs.mean_loss();
  const std::string markdown =
      out.empty() ? report_markdown(report, false, false) : write_report_files(out, report, {});
  std::printf("%s", markdown.c_str());
  if (!out.empty()) std::printf("\nwritten to %s: report.md, confusion.svg\n", out.c_str());
  return 0;
}

int predict_command(const std::vector<std::string>& args) {
  CLI::App app{"Predicts the classes of every sequence of a dataset with a checkpoint (top-k with probabilities).",
               "predict"};
  std::string checkpoint, data;
  int64_t top_k = 3, batch = 0;
  std::optional<int64_t> tta;
  int threads = 0;
  bool as_json = false;
  app.add_option("--checkpoint", checkpoint, "A checkpoint written by harnet train (best.h5, last.h5)")->required();
  app.add_option("--data", data, "The dataset file (.h5)")->required();
  app.add_option("--top-k", top_k, "Classes listed per sequence (at most the class count)")->capture_default_str();
  app.add_flag("--json", as_json, "One JSON document instead of text");
  app.add_option("--batch", batch, "Batch size (default: the checkpoint's)");
  app.add_option("--tta", tta,
                 "Test-time augmentation: views averaged per sequence, 1 for the plain view alone "
                 "(default: the checkpoint's)");
  app.add_option("--threads", threads, "Threads (default: HARNET_NUM_THREADS or every core)");
  int exit_code = 0;
  if (!parse_command_line(app, args, exit_code)) return exit_code;
  HARNET_CHECK(top_k >= 1, "--top-k must be >= 1, got ", top_k);
  const CheckpointOnData opened = open_checkpoint_and_data(checkpoint, data, threads);
  const std::vector<int64_t> every = held_out_sequences(opened.dataset, "all", 0);
  const RunOn run = run_on(opened, every, batch, tta, true);
  const ModelOutputs& outputs = run.outputs;
  const std::vector<std::string>& names = opened.trained.config.class_names;
  const SkeletonDataset& dataset = opened.dataset;
  auto sequence_name = [&](int64_t s) {
    return dataset.names.empty() ? str_cat("sequence ", s) : dataset.names[static_cast<size_t>(s)];
  };

  if (as_json) {
    nlohmann::json list = nlohmann::json::array();
    for (int64_t i = 0; i < outputs.samples(); ++i) {
      const int64_t s = outputs.sequences[static_cast<size_t>(i)];
      nlohmann::json top = nlohmann::json::array();
      for (const int64_t c : top_k_classes(outputs, i, top_k))
        top.push_back({{"class", names[static_cast<size_t>(c)]},
                       {"index", c},
                       {"probability", outputs.probabilities[static_cast<size_t>(i * outputs.classes + c)]}});
      list.push_back({{"sequence", s},
                      {"name", sequence_name(s)},
                      {"label", names[static_cast<size_t>(outputs.truth[static_cast<size_t>(i)])]},
                      {"top", top}});
    }
    const nlohmann::json document{
        {"checkpoint", checkpoint}, {"data", data}, {"tta", run.view_count}, {"predictions", list}};
    std::printf("%s\n", document.dump(2).c_str());
    return 0;
  }
  size_t name_width = 8, class_width = 5;
  for (int64_t s : every) name_width = std::max(name_width, sequence_name(s).size());
  for (const std::string& n : names) class_width = std::max(class_width, n.size());
  std::printf("%-*s  %-*s  top %lld (probability)\n", static_cast<int>(name_width), "sequence",
              static_cast<int>(class_width), "label", static_cast<long long>(std::min(top_k, outputs.classes)));
  int64_t top1 = 0, topk = 0;
  for (int64_t i = 0; i < outputs.samples(); ++i) {
    const int64_t truth = outputs.truth[static_cast<size_t>(i)];
    const std::vector<int64_t> top = top_k_classes(outputs, i, top_k);
    std::string line;
    for (const int64_t c : top) {
      char p[32];
      std::snprintf(p, sizeof p, " %.3f", outputs.probabilities[static_cast<size_t>(i * outputs.classes + c)]);
      line += str_cat(line.empty() ? "" : ", ", names[static_cast<size_t>(c)], p);
    }
    top1 += top.front() == truth;
    topk += std::find(top.begin(), top.end(), truth) != top.end();
    std::printf("%-*s  %-*s  %s\n", static_cast<int>(name_width),
                sequence_name(outputs.sequences[static_cast<size_t>(i)]).c_str(), static_cast<int>(class_width),
                names[static_cast<size_t>(truth)].c_str(), line.c_str());
  }
  const auto n = static_cast<double>(std::max<int64_t>(outputs.samples(), 1));
  std::printf("%lld sequences: the label is the top class for %lld (%.1f%%) and among the top %lld for %lld (%.1f%%)\n",
              static_cast<long long>(outputs.samples()), static_cast<long long>(top1),
              100.0 * static_cast<double>(top1) / n, static_cast<long long>(std::min(top_k, outputs.classes)),
              static_cast<long long>(topk), 100.0 * static_cast<double>(topk) / n);
  std::printf("test-time augmentation: %s\n", run.views.c_str());
  return 0;
}

}  // namespace harnet
