#include "data/joint_order.h"

#include <algorithm>
#include <sstream>
#include <string>
#include <utility>

#include "autograd/error.h"

namespace harnet {

namespace {

// "2, 3, 4" (the first `limit` values, then ", ...").
std::string list_str(const std::vector<int64_t>& values, size_t limit = 10) {
  std::ostringstream os;
  for (size_t i = 0; i < values.size() && i < limit; ++i) os << (i ? ", " : "") << values[i];
  if (values.size() > limit) os << ", ...";
  return os.str();
}

// children[j]: the children of joint j in visiting order: leaves first, then the others,
// each group in increasing index order (see the header for why).
std::vector<std::vector<int32_t>> children_of(const std::vector<int32_t>& parents) {
  std::vector<std::vector<int32_t>> children(parents.size());
  for (size_t j = 0; j < parents.size(); ++j) {
    if (parents[j] >= 0) children[static_cast<size_t>(parents[j])].push_back(static_cast<int32_t>(j));
  }
  for (std::vector<int32_t>& kids : children) {
    std::stable_partition(kids.begin(), kids.end(),
                          [&](int32_t kid) { return children[static_cast<size_t>(kid)].empty(); });
  }
  return children;
}

// Preorder walk from root; children pushed in reverse so that the smallest index pops first.
std::vector<int32_t> preorder(const std::vector<std::vector<int32_t>>& children, int32_t root) {
  std::vector<int32_t> order;
  order.reserve(children.size());
  std::vector<int32_t> stack{root};
  while (!stack.empty()) {
    const int32_t joint = stack.back();
    stack.pop_back();
    order.push_back(joint);
    const std::vector<int32_t>& kids = children[static_cast<size_t>(joint)];
    for (auto it = kids.rbegin(); it != kids.rend(); ++it) stack.push_back(*it);
  }
  return order;
}

// The Euler tour from root, iterative: the stack holds each open joint with the index of its
// next child; the joint is written on entry and again each time one of its children's
// subtrees is done.
std::vector<int32_t> euler_tour(const std::vector<std::vector<int32_t>>& children, int32_t root) {
  std::vector<int32_t> tour;
  tour.reserve(2 * children.size());
  std::vector<std::pair<int32_t, size_t>> stack{{root, 0}};
  tour.push_back(root);
  while (!stack.empty()) {
    const std::vector<int32_t>& kids = children[static_cast<size_t>(stack.back().first)];
    const size_t next = stack.back().second;
    if (next == kids.size()) {
      stack.pop_back();
      if (!stack.empty()) tour.push_back(stack.back().first);
      continue;
    }
    ++stack.back().second;
    tour.push_back(kids[next]);
    stack.emplace_back(kids[next], 0);
  }
  return tour;
}

int32_t root_of(const std::vector<int32_t>& parents) {
  for (size_t j = 0; j < parents.size(); ++j) {
    if (parents[j] == -1) return static_cast<int32_t>(j);
  }
  return 0;
}

}  // namespace

void validate_skeleton_tree(const std::vector<int32_t>& parents) {
  const int64_t num_joints = static_cast<int64_t>(parents.size());
  HARNET_CHECK(num_joints >= 1, "skeleton tree: parents is empty (need at least one joint)");
  std::vector<int64_t> roots;
  for (int64_t j = 0; j < num_joints; ++j) {
    const int32_t p = parents[static_cast<size_t>(j)];
    HARNET_CHECK(p >= -1 && p < num_joints, "skeleton tree: parents[", j, "] = ", p, " is out of range for ",
                 num_joints, " joints (expected -1 for the root or 0..", num_joints - 1, ")");
    HARNET_CHECK(p != j, "skeleton tree: joint ", j, " is its own parent");
    if (p == -1) roots.push_back(j);
  }
  HARNET_CHECK(!roots.empty(), "skeleton tree: no root (no joint has parent -1); the joints form a cycle");
  HARNET_CHECK(roots.size() == 1, "skeleton tree: ", roots.size(), " roots (joints ", list_str(roots),
               " have parent -1); a skeleton tree has exactly one");
  // With one root and in-range parents, the joints the walk from the root misses are exactly
  // those on (or hanging off) a cycle.
  const std::vector<int32_t> reached = preorder(children_of(parents), static_cast<int32_t>(roots[0]));
  if (static_cast<int64_t>(reached.size()) != num_joints) {
    std::vector<bool> seen(parents.size(), false);
    for (int32_t j : reached) seen[static_cast<size_t>(j)] = true;
    std::vector<int64_t> unreached;
    for (int64_t j = 0; j < num_joints; ++j) {
      if (!seen[static_cast<size_t>(j)]) unreached.push_back(j);
    }
    throw Error(str_cat("skeleton tree: joints ", list_str(unreached), " do not reach the root ", roots[0],
                        " (their parents form a cycle)"));
  }
}

std::vector<int32_t> depth_first_joint_order(const std::vector<int32_t>& parents) {
  validate_skeleton_tree(parents);
  return preorder(children_of(parents), root_of(parents));
}

std::vector<int32_t> tour_joint_order(const std::vector<int32_t>& parents) {
  validate_skeleton_tree(parents);
  return euler_tour(children_of(parents), root_of(parents));
}

std::vector<int32_t> joint_walk_order(JointWalk walk, const std::vector<int32_t>& parents) {
  return walk == JointWalk::Tour ? tour_joint_order(parents) : depth_first_joint_order(parents);
}

const char* joint_walk_name(JointWalk walk) { return walk == JointWalk::Tour ? "tour" : "depth-first"; }

JointWalk parse_joint_walk(const std::string& name, const char* what) {
  if (name == "depth-first") return JointWalk::DepthFirst;
  if (name == "tour") return JointWalk::Tour;
  throw Error(str_cat(what, ": '", name, "' is not a joint walk (expected depth-first or tour)"));
}

void validate_joint_order(const std::vector<int32_t>& order, int64_t num_joints, const char* what) {
  HARNET_CHECK(static_cast<int64_t>(order.size()) == num_joints, what, ": has ", order.size(),
               " entries, expected one per joint (", num_joints, ")");
  std::vector<bool> seen(static_cast<size_t>(num_joints), false);
  for (size_t k = 0; k < order.size(); ++k) {
    const int32_t j = order[k];
    HARNET_CHECK(j >= 0 && j < num_joints, what, "[", k, "] = ", j, " is out of range for ", num_joints, " joints");
    HARNET_CHECK(!seen[static_cast<size_t>(j)], what, ": joint ", j, " appears twice (not a permutation)");
    seen[static_cast<size_t>(j)] = true;
  }
}

void validate_joint_walk(const std::vector<int32_t>& order, int64_t num_joints, const char* what) {
  HARNET_CHECK(!order.empty(), what, ": is empty (expected every joint at least once)");
  std::vector<bool> seen(static_cast<size_t>(num_joints), false);
  for (size_t k = 0; k < order.size(); ++k) {
    const int32_t j = order[k];
    HARNET_CHECK(j >= 0 && j < num_joints, what, "[", k, "] = ", j, " is out of range for ", num_joints, " joints");
    seen[static_cast<size_t>(j)] = true;
  }
  std::vector<int64_t> missing;
  for (int64_t j = 0; j < num_joints; ++j) {
    if (!seen[static_cast<size_t>(j)]) missing.push_back(j);
  }
  HARNET_CHECK(missing.empty(), what, missing.size() == 1 ? ": joint " : ": joints ", list_str(missing),
               missing.size() == 1 ? " is" : " are", " missing (expected every joint at least once)");
}

std::vector<int32_t> reorder_parents(const std::vector<int32_t>& parents, const std::vector<int32_t>& order) {
  validate_skeleton_tree(parents);
  validate_joint_order(order, static_cast<int64_t>(parents.size()), "reorder_parents: order");
  std::vector<int32_t> position(parents.size());
  for (size_t k = 0; k < order.size(); ++k) position[static_cast<size_t>(order[k])] = static_cast<int32_t>(k);
  std::vector<int32_t> result(parents.size());
  for (size_t k = 0; k < order.size(); ++k) {
    const int32_t p = parents[static_cast<size_t>(order[k])];
    result[k] = p < 0 ? -1 : position[static_cast<size_t>(p)];
  }
  return result;
}

}  // namespace harnet
