// Small standalone SVG charts for the training report: line charts (the training curves)
// and a heat map (the confusion matrix). Each function returns a complete SVG 1.1 document
// (XML declaration, one <svg> root with xmlns and a viewBox) that any browser opens on its
// own; every text from the caller is XML-escaped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace harnet {

// &, <, >, " and ' as entities; control characters other than tab and newline (not allowed
// in XML 1.0) become '?'.
std::string xml_escape(const std::string& text);

// About `target` round tick values (steps of 1, 2 or 5 times a power of ten) covering
// [low, high]; a degenerate range is widened around its value first.
std::vector<double> nice_ticks(double low, double high, int target = 5);

// A tick label: integers without a decimal point, other values with up to 4 significant digits.
std::string tick_label(double value);

struct ChartSeries {
  std::string name;          // in the legend
  std::vector<double> x, y;  // same length; non-finite y values leave a gap
  std::string color;         // any SVG colour ("#1f77b4")
  bool dashed = false;
};

struct LineChart {
  std::string title;
  std::string x_label, y_label;
  std::vector<ChartSeries> series;
  bool y_from_zero = false;    // start the y axis at 0 (accuracies) rather than at the data's minimum
  bool legend_bottom = false;  // the legend in the bottom right corner (rising curves) instead of the top right
};

// The charts side by side, each with its axes, ticks, tick labels, axis labels, title and
// legend. Throws when a series' x and y differ in length.
std::string line_charts_svg(const std::vector<LineChart>& charts, int panel_width = 460, int panel_height = 330);

// counts [C][C], rows the true classes, columns the predicted ones; class_names [C]. Cells
// are shaded by their share of the row (the recall of the diagonal) and show the count.
std::string confusion_matrix_svg(const std::vector<std::vector<int64_t>>& counts,
                                 const std::vector<std::string>& class_names, const std::string& title);

}  // namespace harnet
