// The report (Markdown tables, SVG files that parse) and metrics.csv (rows, reading back,
// malformed files refused).
#include <gtest/gtest.h>

#include <filesystem>

#include "harnet/lib/report.h"
#include "harnet/lib/training_log.h"
#include "test_util.h"
#include "xml_check.h"

namespace harnet {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::TempDir;

EvaluationReport example_report() {
  EvaluationReport r;
  r.title = "HARNet on toy.h5, held-out part";
  r.facts = {{"data", "toy.h5"}, {"part", "held-out: 6 sequences"}};
  r.metrics = classification_metrics({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 2, 2}, 3);
  r.class_names = {"wave", "punch | jab", "kick"};
  r.loss = 0.51234;
  return r;
}

TEST(Report, MarkdownHoldsSummaryPerClassScoresAndConfusionTable) {
  const std::string md = report_markdown(example_report(), true, true);
  for (const char* expected :
       {"# HARNet on toy.h5, held-out part\n", "| data | toy.h5 |", "| loss | 0.5123 |",
        "| accuracy | **66.67%** (4 of 6) |", "| macro-F1 | **0.6556** |",
        "| 1 | wave | 1.0000 | 0.6667 | 0.8000 | 3 |", "| 2 | punch \\| jab | 0.5000 | 0.5000 | 0.5000 | 2 |",
        "| 3 | kick | 0.5000 | 1.0000 | 0.6667 | 1 |", "| | macro average (3 classes) | 0.6667 | 0.7222 | 0.6556 | 6 |",
        "| true \\ predicted | 1 | 2 | 3 |", "| 1 wave | **2** | 1 | 0 |", "| 2 punch \\| jab | 0 | **1** | 1 |",
        "| 3 kick | 0 | 0 | **1** |", "![training curves](curves.svg)", "![confusion matrix](confusion.svg)"})
    EXPECT_NE(md.find(expected), std::string::npos) << expected << "\n---\n" << md;
  const std::string text_only = report_markdown(example_report(), false, false);
  EXPECT_EQ(text_only.find("curves.svg"), std::string::npos);
  EXPECT_EQ(text_only.find("confusion.svg"), std::string::npos);
}

TEST(Report, RefusesClassNamesOfAnotherCount) {
  EvaluationReport r = example_report();
  r.class_names.pop_back();
  expect_error([&] { report_markdown(r, false, false); }, "2 class names for 3 classes");
}

std::vector<EpochRecord> example_history() {
  return {{1, 1e-3, 1.8, 0.3, 1.9, 0.25, 0.2, 1.5, 800.0},
          {2, 9.5e-4, 1.2, 0.55, 1.4, 0.5, 0.45, 1.4, 820.5},
          {3, 8.1e-4, 0.9, 0.7, 1.1, 0.66666666666, 0.6, 1.45, 810.25}};
}

TEST(Report, FilesAreWrittenAndTheSvgsParse) {
  TempDir dir;
  const std::string md = write_report_files(dir.path().string(), example_report(), example_history());
  EXPECT_EQ(read_text_file(dir.file("report.md")), md);
  const auto confusion = testing::parse_xml(read_text_file(dir.file("confusion.svg")));
  const auto curves = testing::parse_xml(read_text_file(dir.file("curves.svg")));
  EXPECT_EQ(confusion.front().name, "svg");
  EXPECT_EQ(curves.front().name, "svg");
  int64_t polylines = 0;
  for (const auto& e : curves) polylines += e.name == "polyline";
  EXPECT_EQ(polylines, 4);  // train and validation, loss and accuracy

  TempDir without_history;
  write_report_files(without_history.path().string(), example_report(), {});
  EXPECT_FALSE(fs::exists(without_history.file("curves.svg")));
  EXPECT_TRUE(fs::exists(without_history.file("confusion.svg")));
}

TEST(Report, ReportToAnUnwritableFolderThrowsNamingIt) {
  TempDir dir;
  write_text_file(dir.file("plain"), "x");
  expect_error([&] { write_report_files(dir.file("plain"), example_report(), {}); }, "cannot write");
}

TEST(TrainingLog, RowsRoundTripThroughMetricsCsv) {
  TempDir dir;
  const std::string path = dir.file("metrics.csv");
  const std::vector<EpochRecord> history = example_history();
  write_metrics_csv(path, {history[0]});
  append_metrics_csv(path, history[1]);
  append_metrics_csv(path, history[2]);
  EXPECT_EQ(read_text_file(path).substr(0, read_text_file(path).find('\n')), kMetricsCsvHeader);
  EXPECT_EQ(metrics_csv_row(history[2]), "3,0.00081,0.9,0.7,1.1,0.666666667,0.6,1.45,810.25");  // 9 digits
  const std::vector<EpochRecord> back = read_metrics_csv(path);
  ASSERT_EQ(back.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(metrics_csv_row(back[i]), metrics_csv_row(history[i]));
}

TEST(TrainingLog, MalformedMetricsCsvIsRefusedNamingTheLine) {
  TempDir dir;
  const std::string path = dir.file("metrics.csv");
  write_text_file(path, "epoch,lr\n");
  expect_error([&] { read_metrics_csv(path); }, "line 1 is not the header");
  write_text_file(path, str_cat(kMetricsCsvHeader, "\n1,0.001,1,0.5,1,0.5,0.5,1,100\n3,0.001,1,0.5,1,0.5,0.5,1,100\n"));
  expect_error([&] { read_metrics_csv(path); }, "line 3: epoch 3, expected 2");
  write_text_file(path, str_cat(kMetricsCsvHeader, "\n1,0.001,x,0.5,1,0.5,0.5,1,100\n"));
  expect_error([&] { read_metrics_csv(path); }, "line 2: 'x' is not a number");
  write_text_file(path, str_cat(kMetricsCsvHeader, "\n1,0.001\n"));
  expect_error([&] { read_metrics_csv(path); }, "line 2: 2 fields, expected 9");
  expect_error([&] { read_metrics_csv(dir.file("absent.csv")); }, "cannot read");
}

}  // namespace
}  // namespace harnet
