#include "harnet/lib/training_log.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "autograd/error.h"

namespace harnet {

namespace {

std::string format_value(double value) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream stream(line);
  std::string field;
  while (std::getline(stream, field, ',')) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

double parse_number(const std::string& text, const std::string& where) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  HARNET_CHECK(!text.empty() && end == text.c_str() + text.size() && errno == 0, where, ": '", text,
               "' is not a number");
  return value;
}

// fsync so that a row or a file survives a crash right after it is written.
void flush_to_disk(std::FILE* file, const std::string& path) {
  HARNET_CHECK(std::fflush(file) == 0 && ::fsync(fileno(file)) == 0, "cannot write ", path, ": ", std::strerror(errno));
}

}  // namespace

std::string metrics_csv_row(const EpochRecord& r) {
  return str_cat(r.epoch, ",", format_value(r.lr), ",", format_value(r.train_loss), ",", format_value(r.train_acc), ",",
                 format_value(r.val_loss), ",", format_value(r.val_acc), ",", format_value(r.val_macro_f1), ",",
                 format_value(r.seconds), ",", format_value(r.samples_per_s));
}

std::vector<EpochRecord> read_metrics_csv(const std::string& path) {
  const std::string content = read_text_file(path);
  std::stringstream stream(content);
  std::string line;
  HARNET_CHECK(std::getline(stream, line) && line == kMetricsCsvHeader, path, ": line 1 is not the header '",
               kMetricsCsvHeader, "'");
  std::vector<EpochRecord> records;
  for (int64_t number = 2; std::getline(stream, line); ++number) {
    if (line.empty()) continue;
    const std::string where = str_cat(path, ": line ", number);
    const std::vector<std::string> f = split_commas(line);
    HARNET_CHECK(f.size() == 9, where, ": ", f.size(), " fields, expected 9");
    EpochRecord r;
    const double epoch = parse_number(f[0], where);
    HARNET_CHECK(epoch == static_cast<double>(records.size() + 1), where, ": epoch ", f[0], ", expected ",
                 records.size() + 1);
    r.epoch = static_cast<int64_t>(epoch);
    double* fields[] = {&r.lr,      &r.train_loss,   &r.train_acc, &r.val_loss,
                        &r.val_acc, &r.val_macro_f1, &r.seconds,   &r.samples_per_s};
    for (size_t k = 0; k < 8; ++k) *fields[k] = parse_number(f[k + 1], where);
    records.push_back(r);
  }
  return records;
}

void write_metrics_csv(const std::string& path, const std::vector<EpochRecord>& records) {
  std::string content = str_cat(kMetricsCsvHeader, "\n");
  for (const EpochRecord& r : records) content += metrics_csv_row(r) + "\n";
  write_text_file(path, content);
}

void append_metrics_csv(const std::string& path, const EpochRecord& record) {
  std::FILE* file = std::fopen(path.c_str(), "a");
  HARNET_CHECK(file, "cannot append to ", path, ": ", std::strerror(errno));
  const std::string row = metrics_csv_row(record) + "\n";
  const bool written = std::fwrite(row.data(), 1, row.size(), file) == row.size();
  try {
    HARNET_CHECK(written, "cannot write ", path, ": ", std::strerror(errno));
    flush_to_disk(file, path);
  } catch (...) {
    std::fclose(file);
    throw;
  }
  std::fclose(file);
}

std::vector<LineChart> training_curves(const std::vector<EpochRecord>& records) {
  ChartSeries train_loss{"train", {}, {}, "#1f77b4", false}, val_loss{"validation", {}, {}, "#ff7f0e", true};
  ChartSeries train_acc = train_loss, val_acc = val_loss;
  for (const EpochRecord& r : records) {
    const auto epoch = static_cast<double>(r.epoch);
    for (ChartSeries* s : {&train_loss, &val_loss, &train_acc, &val_acc}) s->x.push_back(epoch);
    train_loss.y.push_back(r.train_loss);
    val_loss.y.push_back(r.val_loss);
    train_acc.y.push_back(100.0 * r.train_acc);
    val_acc.y.push_back(100.0 * r.val_acc);
  }
  return {LineChart{"Loss", "epoch", "cross-entropy loss", {train_loss, val_loss}, false},
          LineChart{"Accuracy", "epoch", "accuracy (%)", {train_acc, val_acc}, true, true}};
}

void write_text_file(const std::string& path, const std::string& content) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path temporary = target.parent_path() / (".tmp-" + target.filename().string());
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  HARNET_CHECK(file, "cannot write ", path, ": ", std::strerror(errno));
  const bool written = std::fwrite(content.data(), 1, content.size(), file) == content.size();
  const bool flushed = written && std::fflush(file) == 0 && ::fsync(fileno(file)) == 0;
  const int error = errno;
  std::fclose(file);
  std::error_code ec;
  if (!flushed) {
    fs::remove(temporary, ec);
    throw Error(str_cat("cannot write ", path, ": ", std::strerror(error)));
  }
  fs::rename(temporary, target, ec);
  if (ec) {
    const std::string reason = ec.message();
    fs::remove(temporary, ec);
    throw Error(str_cat("cannot write ", path, ": ", reason));
  }
}

void create_output_directory(const std::string& directory, const std::string& what) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  HARNET_CHECK(!ec, "cannot create ", what, " ", directory, ": ", ec.message());
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HARNET_CHECK(in, "cannot read ", path, ": ", std::strerror(errno));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace harnet
