#include "harnet/lib/report.h"

#include <cstdio>
#include <filesystem>

#include "autograd/error.h"
#include "harnet/lib/svg.h"

namespace harnet {

namespace {

std::string fixed(double value, int digits) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

std::string percent(double fraction) { return fixed(100.0 * fraction, 2) + "%"; }

std::string per_class_table(const EvaluationReport& r) {
  const ClassificationMetrics& m = r.metrics;
  std::string out = "| # | class | precision | recall | F1 | support |\n|---:|---|---:|---:|---:|---:|\n";
  for (size_t c = 0; c < m.per_class.size(); ++c) {
    const ClassScores& s = m.per_class[c];
    out += str_cat("| ", c + 1, " | ", markdown_cell(r.class_names[c]), " | ", fixed(s.precision, 4), " | ",
                   fixed(s.recall, 4), " | ", fixed(s.f1, 4), " | ", s.support, " |\n");
  }
  out += str_cat("| | macro average (", m.scored_classes, " classes) | ", fixed(m.macro_precision, 4), " | ",
                 fixed(m.macro_recall, 4), " | ", fixed(m.macro_f1, 4), " | ", m.samples, " |\n");
  return out;
}

std::string confusion_table(const EvaluationReport& r) {
  const ClassificationMetrics& m = r.metrics;
  std::string out = "| true \\ predicted |";
  std::string rule = "|---|";
  for (int64_t p = 1; p <= m.num_classes(); ++p) {
    out += str_cat(" ", p, " |");
    rule += "---:|";
  }
  out += "\n" + rule + "\n";
  for (size_t t = 0; t < m.confusion.size(); ++t) {
    out += str_cat("| ", t + 1, " ", markdown_cell(r.class_names[t]), " |");
    for (size_t p = 0; p < m.confusion.size(); ++p)
      out += t == p ? str_cat(" **", m.confusion[t][p], "** |") : str_cat(" ", m.confusion[t][p], " |");
    out += "\n";
  }
  return out;
}

}  // namespace

std::string markdown_cell(const std::string& text) {
  std::string out;
  for (const char ch : text) {
    if (ch == '|')
      out += "\\|";
    else
      out += ch == '\n' || ch == '\r' ? ' ' : ch;
  }
  return out;
}

std::string report_markdown(const EvaluationReport& r, bool with_curves, bool with_confusion_svg) {
  const ClassificationMetrics& m = r.metrics;
  HARNET_CHECK(static_cast<int64_t>(r.class_names.size()) == m.num_classes(), "report: ", r.class_names.size(),
               " class names for ", m.num_classes(), " classes");
  std::string out = str_cat("# ", r.title, "\n\n| | |\n|---|---|\n");
  for (const auto& [key, value] : r.facts)
    out += str_cat("| ", markdown_cell(key), " | ", markdown_cell(value), " |\n");
  if (!std::isnan(r.loss)) out += str_cat("| loss | ", fixed(r.loss, 4), " |\n");
  out += str_cat("| accuracy | **", percent(m.accuracy), "** (", m.correct, " of ", m.samples, ") |\n");
  out += str_cat("| macro-F1 | **", fixed(m.macro_f1, 4), "** |\n\n");
  out += "## Per class\n\n" + per_class_table(r);
  out +=
      "\nPrecision of a class never predicted is 0; the macro average is over the classes that occur among the "
      "true or the predicted labels.\n\n";
  out += "## Confusion matrix\n\nRows: true class; columns: predicted class, numbered as the rows.\n\n" +
         confusion_table(r) + "\n";
  if (with_curves) out += "![training curves](curves.svg)\n\n";
  if (with_confusion_svg) out += "![confusion matrix](confusion.svg)\n";
  return out;
}

std::string write_report_files(const std::string& directory, const EvaluationReport& report,
                               const std::vector<EpochRecord>& history) {
  namespace fs = std::filesystem;
  const fs::path dir(directory);
  const std::string markdown = report_markdown(report, !history.empty(), true);
  write_text_file((dir / "confusion.svg").string(),
                  confusion_matrix_svg(report.metrics.confusion, report.class_names, report.title));
  if (!history.empty()) write_text_file((dir / "curves.svg").string(), line_charts_svg(training_curves(history)));
  write_text_file((dir / "report.md").string(), markdown);
  return markdown;
}

}  // namespace harnet
