#include "harnet/lib/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "autograd/error.h"

namespace harnet {

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        const auto byte = static_cast<unsigned char>(ch);
        out += byte < 0x20 && ch != '\t' && ch != '\n' ? '?' : ch;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double low, double high, int target) {
  HARNET_CHECK(std::isfinite(low) && std::isfinite(high) && low <= high && target >= 2, "nice_ticks: bad range [", low,
               ", ", high, "] or target ", target);
  if (high - low < 1e-12 * std::max(1.0, std::abs(high))) {
    const double pad = low == 0.0 ? 1.0 : 0.1 * std::abs(low);
    low -= pad;
    high += pad;
  }
  const double raw_step = (high - low) / (target - 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  double step = magnitude;
  for (const double factor : {1.0, 2.0, 5.0, 10.0}) {
    step = factor * magnitude;
    if (step >= raw_step) break;
  }
  std::vector<double> ticks;
  const double first = std::floor(low / step + 1e-9) * step;
  for (double v = first; v <= high + step * (1 - 1e-9); v += step) {
    ticks.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
    if (v >= high - step * 1e-9) break;
  }
  return ticks;
}

std::string tick_label(double value) {
  char buffer[32];
  if (value == std::round(value) && std::abs(value) < 1e15)
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
  else
    std::snprintf(buffer, sizeof buffer, "%.4g", value);
  return buffer;
}

namespace {

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", v);
  return buffer;
}

std::string svg_open(double width, double height) {
  return str_cat("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"",
                 number(width), "\" height=\"", number(height), "\" viewBox=\"0 0 ", number(width), " ", number(height),
                 "\" font-family=\"sans-serif\" font-size=\"12\">\n", "<rect x=\"0\" y=\"0\" width=\"", number(width),
                 "\" height=\"", number(height), "\" fill=\"white\"/>\n");
}

std::string text(double x, double y, const std::string& content, const std::string& attributes = "") {
  return str_cat("<text x=\"", number(x), "\" y=\"", number(y), "\"", attributes.empty() ? "" : " ", attributes, ">",
                 xml_escape(content), "</text>\n");
}

std::string line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1.0) {
  return str_cat("<line x1=\"", number(x1), "\" y1=\"", number(y1), "\" x2=\"", number(x2), "\" y2=\"", number(y2),
                 "\" stroke=\"", xml_escape(stroke), "\" stroke-width=\"", number(width), "\"/>\n");
}

// The finite range of every series' x (or y) values; nullopt-like {inf, -inf} when none.
std::pair<double, double> data_range(const LineChart& chart, bool of_x) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const ChartSeries& s : chart.series)
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
        const double v = of_x ? s.x[i] : s.y[i];
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  if (lo > hi) return {0.0, 1.0};
  return {lo, hi};
}

// One panel at (left, top) of the given size.
std::string chart_panel(const LineChart& chart, double left, double top, double width, double height) {
  constexpr double kMarginLeft = 62, kMarginRight = 16, kMarginTop = 34, kMarginBottom = 48;
  const double x0 = left + kMarginLeft, x1 = left + width - kMarginRight;
  const double y0 = top + height - kMarginBottom, y1 = top + kMarginTop;  // y0: the bottom

  auto [x_lo, x_hi] = data_range(chart, true);
  auto [y_lo, y_hi] = data_range(chart, false);
  if (chart.y_from_zero) y_lo = std::min(0.0, y_lo);
  const std::vector<double> x_ticks = nice_ticks(x_lo, x_hi, 6);
  const std::vector<double> y_ticks = nice_ticks(y_lo, y_hi, 6);
  x_lo = std::min(x_lo, x_ticks.front());
  x_hi = std::max(x_hi, x_ticks.back());
  y_lo = std::min(y_lo, y_ticks.front());
  y_hi = std::max(y_hi, y_ticks.back());
  auto px = [&](double x) { return x0 + (x - x_lo) / (x_hi - x_lo) * (x1 - x0); };
  auto py = [&](double y) { return y0 - (y - y_lo) / (y_hi - y_lo) * (y0 - y1); };

  std::string out = str_cat("<g class=\"chart\">\n");
  out += text((x0 + x1) / 2, top + 20, chart.title, "text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\"");
  for (const double t : y_ticks) {
    out += line(x0, py(t), x1, py(t), "#e0e0e0");
    out += line(x0 - 4, py(t), x0, py(t), "black");
    out += text(x0 - 7, py(t) + 4, tick_label(t), "text-anchor=\"end\" class=\"tick\"");
  }
  for (const double t : x_ticks) {
    out += line(px(t), y0, px(t), y0 + 4, "black");
    out += text(px(t), y0 + 17, tick_label(t), "text-anchor=\"middle\" class=\"tick\"");
  }
  out += line(x0, y0, x1, y0, "black");
  out += line(x0, y0, x0, y1, "black");
  out += text((x0 + x1) / 2, y0 + 36, chart.x_label, "text-anchor=\"middle\"");
  out += text(
      left + 16, (y0 + y1) / 2, chart.y_label,
      str_cat("text-anchor=\"middle\" transform=\"rotate(-90 ", number(left + 16), " ", number((y0 + y1) / 2), ")\""));

  for (const ChartSeries& s : chart.series) {
    const std::string style = str_cat("fill=\"none\" stroke=\"", xml_escape(s.color), "\" stroke-width=\"2\"",
                                      s.dashed ? " stroke-dasharray=\"6 4\"" : "");
    std::string points;  // the current unbroken run of finite points
    auto flush = [&] {
      if (!points.empty()) out += str_cat("<polyline points=\"", points, "\" ", style, "/>\n");
      points.clear();
    };
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        flush();
        continue;
      }
      points += str_cat(points.empty() ? "" : " ", number(px(s.x[i])), ",", number(py(s.y[i])));
      if (s.x.size() <= 30)
        out += str_cat("<circle cx=\"", number(px(s.x[i])), "\" cy=\"", number(py(s.y[i])), "\" r=\"2.5\" fill=\"",
                       xml_escape(s.color), "\"/>\n");
    }
    flush();
  }

  // The legend, in the top (or bottom) right corner of the plot area.
  double legend_width = 0;
  for (const ChartSeries& s : chart.series)
    legend_width = std::max(legend_width, 7.0 * static_cast<double>(s.name.size()) + 36);
  const double legend_height = 18.0 * static_cast<double>(chart.series.size()) + 6;
  const double lx = x1 - legend_width - 6, ly = chart.legend_bottom ? y0 - legend_height - 6 : y1 + 6;
  out += str_cat("<g class=\"legend\">\n<rect x=\"", number(lx), "\" y=\"", number(ly), "\" width=\"",
                 number(legend_width), "\" height=\"", number(legend_height),
                 "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#999999\"/>\n");
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const ChartSeries& s = chart.series[i];
    const double y = ly + 15 + 18.0 * static_cast<double>(i);
    out += str_cat("<line x1=\"", number(lx + 6), "\" y1=\"", number(y - 4), "\" x2=\"", number(lx + 28), "\" y2=\"",
                   number(y - 4), "\" stroke=\"", xml_escape(s.color), "\" stroke-width=\"2\"",
                   s.dashed ? " stroke-dasharray=\"6 4\"" : "", "/>\n");
    out += text(lx + 32, y, s.name);
  }
  out += "</g>\n</g>\n";
  return out;
}

}  // namespace

std::string line_charts_svg(const std::vector<LineChart>& charts, int panel_width, int panel_height) {
  HARNET_CHECK(!charts.empty(), "line_charts_svg: no chart");
  for (const LineChart& chart : charts)
    for (const ChartSeries& s : chart.series)
      HARNET_CHECK(s.x.size() == s.y.size(), "line_charts_svg: series '", s.name, "' of chart '", chart.title, "' has ",
                   s.x.size(), " x values and ", s.y.size(), " y values");
  const double width = static_cast<double>(panel_width) * static_cast<double>(charts.size());
  std::string out = svg_open(width, panel_height);
  for (size_t i = 0; i < charts.size(); ++i)
    out +=
        chart_panel(charts[i], static_cast<double>(panel_width) * static_cast<double>(i), 0, panel_width, panel_height);
  return out + "</svg>\n";
}

namespace {

// White (share 0) to dark blue (share 1), as matplotlib's "Blues".
std::string blues(double share) {
  const double light[3] = {247, 251, 255}, dark[3] = {8, 48, 107};
  char buffer[16];
  int rgb[3];
  for (int k = 0; k < 3; ++k) rgb[k] = static_cast<int>(std::lround(light[k] + share * (dark[k] - light[k])));
  std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buffer;
}

}  // namespace

std::string confusion_matrix_svg(const std::vector<std::vector<int64_t>>& counts,
                                 const std::vector<std::string>& class_names, const std::string& title) {
  const size_t classes = counts.size();
  HARNET_CHECK(classes >= 1 && class_names.size() == classes, "confusion_matrix_svg: ", classes, " rows but ",
               class_names.size(), " class names");
  for (const auto& row : counts)
    HARNET_CHECK(row.size() == classes, "confusion_matrix_svg: a row of ", row.size(), " counts, expected ", classes);

  size_t longest = 0;
  for (const std::string& name : class_names) longest = std::max(longest, name.size());
  const double cell = std::clamp(640.0 / static_cast<double>(classes), 22.0, 56.0);
  const double label_space = 7.0 * static_cast<double>(longest) + 14;
  const double left = label_space + 30, top = 40;
  const double grid = cell * static_cast<double>(classes);
  // Column labels go below the grid, slanted; they need about label_space * sin(45 deg) of height.
  const double width = left + grid + 20, height = top + grid + 0.72 * label_space + 44;

  std::string out = svg_open(width, height);
  out += text(width / 2, 22, title, "text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\"");
  const double font = std::min(12.0, cell * 0.42);
  for (size_t t = 0; t < classes; ++t) {
    int64_t row_total = 0;
    for (const int64_t v : counts[t]) row_total += v;
    for (size_t p = 0; p < classes; ++p) {
      const double share = row_total ? static_cast<double>(counts[t][p]) / static_cast<double>(row_total) : 0.0;
      const double x = left + cell * static_cast<double>(p), y = top + cell * static_cast<double>(t);
      out += str_cat("<rect class=\"cell\" x=\"", number(x), "\" y=\"", number(y), "\" width=\"", number(cell),
                     "\" height=\"", number(cell), "\" fill=\"", blues(share), "\" stroke=\"#cccccc\"><title>",
                     xml_escape(str_cat("true ", class_names[t], ", predicted ", class_names[p], ": ", counts[t][p])),
                     "</title></rect>\n");
      out += text(x + cell / 2, y + cell / 2 + font * 0.35, std::to_string(counts[t][p]),
                  str_cat("text-anchor=\"middle\" font-size=\"", number(font), "\" fill=\"",
                          share > 0.5 ? "white" : "black", "\""));
    }
    out += text(left - 6, top + cell * (static_cast<double>(t) + 0.5) + 4, class_names[t],
                "text-anchor=\"end\" class=\"row-label\"");
  }
  for (size_t p = 0; p < classes; ++p) {
    const double x = left + cell * (static_cast<double>(p) + 0.5), y = top + grid + 10;
    out += text(x, y, class_names[p],
                str_cat("text-anchor=\"end\" class=\"column-label\" transform=\"rotate(-45 ", number(x), " ", number(y),
                        ")\""));
  }
  out += text(
      12, top + grid / 2, "true class",
      str_cat("text-anchor=\"middle\" font-weight=\"bold\" transform=\"rotate(-90 12 ", number(top + grid / 2), ")\""));
  out += text(left + grid / 2, height - 10, "predicted class", "text-anchor=\"middle\" font-weight=\"bold\"");
  return out + "</svg>\n";
}

}  // namespace harnet
