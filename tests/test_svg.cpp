// The report's SVG charts: escaping, tick placement, and that the documents are well-formed
// XML (tests/xml_check.h) holding the expected elements, whatever text the caller gives.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "harnet/lib/svg.h"
#include "test_util.h"
#include "xml_check.h"

namespace harnet {
namespace {

using testing::parse_xml;
using testing::XmlElement;

int64_t count_named(const std::vector<XmlElement>& elements, const std::string& name) {
  return std::count_if(elements.begin(), elements.end(), [&](const XmlElement& e) { return e.name == name; });
}

std::vector<std::string> texts(const std::vector<XmlElement>& elements) {
  std::vector<std::string> out;
  for (const XmlElement& e : elements)
    if (e.name == "text") out.push_back(e.text);
  return out;
}

bool contains(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

TEST(Svg, XmlCheckerRejectsMalformedDocuments) {
  EXPECT_NO_THROW(parse_xml("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t &amp; &#38;</a>\n"));
  for (const char* bad : {"<a><b></a></b>", "<a x=1/>", "<a>1 < 2</a>", "<a>&nbsp;</a>", "<a/><b/>",
                          "<a x=\"1\" x=\"2\"/>", "<a>", "<a y=\"<\"/>"})
    EXPECT_THROW(parse_xml(bad), std::runtime_error) << bad;
}

TEST(Svg, EscapesText) {
  EXPECT_EQ(xml_escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
  EXPECT_EQ(xml_escape(std::string("bell\a")), "bell?");
  EXPECT_EQ(xml_escape("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 passes through
}

TEST(Svg, NiceTicksAreRoundAndCoverTheRange) {
  EXPECT_EQ(nice_ticks(0.0, 1.0, 6), (std::vector<double>{0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0}));
  EXPECT_EQ(nice_ticks(1.0, 100.0, 6), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  const std::vector<double> loss = nice_ticks(0.37, 2.31, 6);
  EXPECT_LE(loss.front(), 0.37);
  EXPECT_GE(loss.back(), 2.31);
  EXPECT_NEAR(loss[1] - loss[0], 0.5, 1e-12);
  const std::vector<double> flat = nice_ticks(3.0, 3.0, 5);  // one value: widened around it
  EXPECT_LT(flat.front(), 3.0);
  EXPECT_GT(flat.back(), 3.0);
  EXPECT_EQ(tick_label(20.0), "20");
  EXPECT_EQ(tick_label(0.25), "0.25");
  testing::expect_error([] { nice_ticks(1.0, 0.0); }, "nice_ticks: bad range");
}

TEST(Svg, LineChartsAreWellFormedWithAxesTicksAndLegend) {
  LineChart loss{"loss <per epoch> & more", "epoch", "loss", {}, false};
  loss.series.push_back({"train", {1, 2, 3, 4}, {2.0, 1.5, 1.1, 0.9}, "#1f77b4", false});
  loss.series.push_back({"validation", {1, 2, 3, 4}, {2.1, 1.7, NAN, 1.2}, "#ff7f0e", true});
  LineChart accuracy{"accuracy", "epoch", "accuracy (%)", {}, true};
  accuracy.series.push_back({"train \"a\"", {1, 2, 3, 4}, {30, 50, 70, 80}, "#1f77b4", false});
  const std::string svg = line_charts_svg({loss, accuracy});
  const std::vector<XmlElement> elements = parse_xml(svg);
  ASSERT_EQ(elements.front().name, "svg");
  const auto& root_attributes = elements.front().attributes;
  EXPECT_TRUE(std::count(root_attributes.begin(), root_attributes.end(),
                         std::make_pair(std::string("xmlns"), std::string("http://www.w3.org/2000/svg"))));
  EXPECT_EQ(count_named(elements, "g"), 4);  // two charts, each with a legend
  // One polyline per unbroken run: train, validation before and after the NaN, train accuracy.
  EXPECT_EQ(count_named(elements, "polyline"), 4);
  EXPECT_EQ(count_named(elements, "circle"), 4 + 3 + 4);
  const std::vector<std::string> labels = texts(elements);
  for (const char* expected : {"loss &lt;per epoch&gt; &amp; more", "epoch", "loss", "accuracy (%)", "train",
                               "validation", "train &quot;a&quot;", "0", "40", "80"})
    EXPECT_TRUE(contains(labels, expected)) << expected;
}

TEST(Svg, LineChartRefusesMismatchedSeries) {
  LineChart chart{"t", "x", "y", {{"s", {1, 2}, {1}, "red", false}}, false};
  testing::expect_error([&] { line_charts_svg({chart}); }, "series 's' of chart 't' has 2 x values and 1 y values");
}

TEST(Svg, ConfusionMatrixIsWellFormedWithNamesAndCounts) {
  const std::vector<std::vector<int64_t>> counts{{5, 1, 0}, {0, 7, 2}, {0, 0, 0}};
  const std::vector<std::string> names{"wave", "punch & kick", "<none>"};
  const std::vector<XmlElement> elements = parse_xml(confusion_matrix_svg(counts, names, "held-out"));
  int64_t cells = 0;
  for (const XmlElement& e : elements)
    for (const auto& [key, value] : e.attributes) cells += e.name == "rect" && key == "class" && value == "cell";
  EXPECT_EQ(cells, 9);
  EXPECT_EQ(count_named(elements, "title"), 9);  // a tooltip per cell
  const std::vector<std::string> labels = texts(elements);
  for (const char* name : {"wave", "punch &amp; kick", "&lt;none&gt;"})
    EXPECT_EQ(std::count(labels.begin(), labels.end(), name), 2) << name;  // a row and a column label
  for (const char* count : {"5", "1", "7", "2"}) EXPECT_TRUE(contains(labels, count)) << count;
  EXPECT_EQ(std::count(labels.begin(), labels.end(), "0"), 5);
  EXPECT_TRUE(contains(labels, "true class"));
  EXPECT_TRUE(contains(labels, "predicted class"));
  testing::expect_error([&] { confusion_matrix_svg(counts, {"a", "b"}, "t"); }, "3 rows but 2 class names");
}

}  // namespace
}  // namespace harnet
