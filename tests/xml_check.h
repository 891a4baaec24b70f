// A strict, small XML 1.0 well-formedness checker for the SVG files the project writes
// (no DTDs, no CDATA): one root element, tags balanced and properly nested, attribute values
// quoted with no '<' and unique names per element, only the five predefined entities or
// character references, no text outside the root. Returns the element names in document
// order, or throws std::runtime_error naming the offset and the problem.
#pragma once

#include <cctype>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace harnet::testing {

struct XmlElement {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;  // values still escaped
  std::string text;                                             // direct text content, escaped
};

class XmlChecker {
 public:
  explicit XmlChecker(const std::string& xml) : s_(xml) {}

  std::vector<XmlElement> parse() {
    skip_space();
    if (s_.compare(i_, 5, "<?xml") == 0) {
      const size_t end = s_.find("?>", i_);
      if (end == std::string::npos) fail("unterminated XML declaration");
      i_ = end + 2;
    }
    skip_misc();
    if (i_ >= s_.size() || s_[i_] != '<') fail("no root element");
    element(0);
    skip_misc();
    if (i_ != s_.size()) fail("content after the root element");
    return elements_;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("XML offset " + std::to_string(i_) + ": " + what);
  }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  void skip_misc() {  // whitespace and comments between top-level constructs
    for (;;) {
      skip_space();
      if (s_.compare(i_, 4, "<!--") != 0) return;
      const size_t end = s_.find("-->", i_);
      if (end == std::string::npos) fail("unterminated comment");
      i_ = end + 3;
    }
  }
  static bool name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' || c == '.';
  }
  std::string name() {
    const size_t start = i_;
    if (i_ >= s_.size() || !(std::isalpha(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) fail("bad name");
    while (i_ < s_.size() && name_char(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }
  // Checks the character data (or attribute value) s_[begin, end) for '<' and bad entities.
  void check_chars(size_t begin, size_t end, bool attribute) {
    for (size_t k = begin; k < end; ++k) {
      const char c = s_[k];
      if (c == '<') fail("'<' in " + std::string(attribute ? "an attribute value" : "text"));
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') fail("control character");
      if (c != '&') continue;
      const size_t semi = s_.find(';', k);
      if (semi == std::string::npos || semi > end) fail("unterminated entity");
      const std::string entity = s_.substr(k + 1, semi - k - 1);
      static const std::set<std::string> known{"amp", "lt", "gt", "quot", "apos"};
      const bool numeric = entity.size() > 1 && entity[0] == '#';
      if (!known.count(entity) && !numeric) fail("unknown entity &" + entity + ";");
      k = semi;
    }
  }
  void element(int depth) {
    ++i_;  // '<'
    XmlElement e;
    e.name = name();
    const size_t index = elements_.size();
    elements_.push_back(e);
    std::set<std::string> seen;
    for (;;) {
      skip_space();
      if (i_ >= s_.size()) fail("unterminated start tag <" + e.name);
      if (s_.compare(i_, 2, "/>") == 0) {
        i_ += 2;
        return;
      }
      if (s_[i_] == '>') {
        ++i_;
        break;
      }
      const std::string attribute = name();
      if (!seen.insert(attribute).second) fail("duplicate attribute " + attribute);
      skip_space();
      if (i_ >= s_.size() || s_[i_] != '=') fail("attribute " + attribute + " without '='");
      ++i_;
      skip_space();
      if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) fail("unquoted attribute " + attribute);
      const char quote = s_[i_++];
      const size_t end = s_.find(quote, i_);
      if (end == std::string::npos) fail("unterminated attribute " + attribute);
      check_chars(i_, end, true);
      elements_[index].attributes.emplace_back(attribute, s_.substr(i_, end - i_));
      i_ = end + 1;
    }
    for (;;) {  // content
      const size_t lt = s_.find('<', i_);
      if (lt == std::string::npos) fail("unclosed element <" + e.name + ">");
      check_chars(i_, lt, false);
      elements_[index].text += s_.substr(i_, lt - i_);
      i_ = lt;
      if (s_.compare(i_, 4, "<!--") == 0) {
        const size_t end = s_.find("-->", i_);
        if (end == std::string::npos) fail("unterminated comment");
        i_ = end + 3;
      } else if (s_.compare(i_, 2, "</") == 0) {
        i_ += 2;
        const std::string closing = name();
        if (closing != e.name) fail("</" + closing + "> closes <" + e.name + ">");
        skip_space();
        if (i_ >= s_.size() || s_[i_] != '>') fail("bad end tag");
        ++i_;
        return;
      } else {
        element(depth + 1);
      }
    }
  }

  const std::string& s_;
  size_t i_ = 0;
  std::vector<XmlElement> elements_;
};

inline std::vector<XmlElement> parse_xml(const std::string& xml) { return XmlChecker(xml).parse(); }

}  // namespace harnet::testing
