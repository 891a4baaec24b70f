// The convolution's joint order: depth-first preorder with children in index order on
// small trees, limb chains adjacent on the Kinect v2 tree, deep trees without recursion,
// parents in the new numbering, and the refusals (roots, cycles, ranges, permutations);
// the Euler tour (every neighbour pair a bone, each bone twice, 2J - 1 positions) and the
// checks of orders that may repeat joints.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "autograd/error.h"
#include "data/joint_order.h"
#include "tests/skeleton_test_data.h"

namespace harnet {
namespace {

using harnet::testing::expect_error;

int64_t position_of(const std::vector<int32_t>& order, int32_t joint) {
  return std::find(order.begin(), order.end(), joint) - order.begin();
}

TEST(JointOrder, FiveJointChainKeepsIndexOrder) {
  // 0 hip - 1 spine - 2 head, and a leg 0 - 3 - 4.
  EXPECT_EQ(depth_first_joint_order({-1, 0, 1, 0, 3}), (std::vector<int32_t>{0, 1, 2, 3, 4}));
}

TEST(JointOrder, RootAnywhereChildrenInIndexOrder) {
  // Root 2 with children 0 and 1; 0 -> 3, 1 -> 4.
  EXPECT_EQ(depth_first_joint_order({2, 2, -1, 0, 1}), (std::vector<int32_t>{2, 0, 3, 1, 4}));
  // Root 4 with children 1 and 3 (neither a leaf); 1 -> 0 -> 2, 3 -> 5.
  EXPECT_EQ(depth_first_joint_order({1, 4, 0, 4, -1, 3}), (std::vector<int32_t>{4, 1, 0, 2, 3, 5}));
}

TEST(JointOrder, LeafChildrenComeFirst) {
  // Root 0 with children 1 (-> 2) and 3, 4 (leaves): the leaves follow their parent.
  EXPECT_EQ(depth_first_joint_order({-1, 0, 1, 0, 0}), (std::vector<int32_t>{0, 3, 4, 1, 2}));
}

// How many bones (joint, parent) sit on neighbouring positions of the order.
int64_t adjacent_bones(const std::vector<int32_t>& order, const std::vector<int32_t>& parents) {
  int64_t count = 0;
  for (size_t k = 0; k + 1 < order.size(); ++k) {
    const int32_t a = order[k], b = order[k + 1];
    count += parents[static_cast<size_t>(a)] == b || parents[static_cast<size_t>(b)] == a;
  }
  return count;
}

void expect_chains_adjacent(const std::vector<int32_t>& order, const std::vector<std::vector<int32_t>>& chains) {
  for (const auto& chain : chains) {
    for (size_t k = 0; k + 1 < chain.size(); ++k) {
      EXPECT_EQ(std::abs(position_of(order, chain[k]) - position_of(order, chain[k + 1])), 1)
          << "joints " << chain[k] << " and " << chain[k + 1] << " are not adjacent";
    }
  }
}

TEST(JointOrder, KinectV1HeadFollowsTheNeck) {
  // MSR Action3D (0-based): 0/1 shoulders, 2 neck, 3 spine, 4/5 hips, 6 hip centre (root),
  // 7/8 elbows, 9/10 wrists, 11/12 hands, 13/14 knees, 15/16 ankles, 17/18 feet, 19 head.
  const std::vector<int32_t> parents = {2, 2, 3, 6, 6, 6, -1, 0, 1, 7, 8, 9, 10, 4, 5, 13, 14, 15, 16, 2};
  const std::vector<int32_t> order = depth_first_joint_order(parents);
  EXPECT_EQ(order, (std::vector<int32_t>{6, 3, 2, 19, 0, 7, 9, 11, 1, 8, 10, 12, 4, 13, 15, 17, 5, 14, 16, 18}));
  expect_chains_adjacent(order, {{6, 3, 2, 19}, {0, 7, 9, 11}, {1, 8, 10, 12}, {4, 13, 15, 17}, {5, 14, 16, 18}});
}

TEST(JointOrder, SingleJoint) { EXPECT_EQ(depth_first_joint_order({-1}), (std::vector<int32_t>{0})); }

TEST(JointOrder, KinectV2LimbChainsAreAdjacent) {
  const std::vector<int32_t> order = depth_first_joint_order(test::kKinectV2Parents);
  ASSERT_EQ(order.size(), 25u);
  std::vector<int32_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int32_t> all(25);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(sorted, all);

  // Spine to head, both arms to the hand, both legs to the foot: each consecutive pair of a
  // chain must be next to each other on the convolution axis.
  expect_chains_adjacent(order,
                         {{0, 1, 20, 2, 3}, {4, 5, 6, 7, 21}, {8, 9, 10, 11, 23}, {12, 13, 14, 15}, {16, 17, 18, 19}});
  // As many bones (18 of 24) on neighbouring positions as the spec's suggested order.
  const std::vector<int32_t> spec_order = {22, 21, 7,  6,  5,  4,  20, 2,  3,  1,  0,  8, 9,
                                           10, 11, 23, 24, 12, 13, 14, 15, 16, 17, 18, 19};
  EXPECT_EQ(adjacent_bones(spec_order, test::kKinectV2Parents), 18);
  EXPECT_EQ(adjacent_bones(order, test::kKinectV2Parents), 18);
  // Every joint directly follows its parent or a descendant of its parent's earlier children
  // (preorder): in particular the parent always comes first.
  for (int32_t j = 0; j < 25; ++j) {
    const int32_t parent = test::kKinectV2Parents[static_cast<size_t>(j)];
    if (parent >= 0) {
      EXPECT_LT(position_of(order, parent), position_of(order, j)) << "joint " << j;
    }
  }
  // The preorder worked out by hand from the spec's parents.
  EXPECT_EQ(order, (std::vector<int32_t>{0,  1,  20, 2,  3,  4,  5,  6,  7,  21, 22, 8, 9,
                                         10, 11, 23, 24, 12, 13, 14, 15, 16, 17, 18, 19}));
}

TEST(JointOrder, DeepChainNeedsNoRecursion) {
  const int32_t n = 200000;
  std::vector<int32_t> parents(static_cast<size_t>(n));
  for (int32_t j = 0; j < n; ++j) parents[static_cast<size_t>(j)] = j - 1;  // 0 is the root
  const std::vector<int32_t> order = depth_first_joint_order(parents);
  ASSERT_EQ(order.size(), static_cast<size_t>(n));
  EXPECT_EQ(order.front(), 0);
  EXPECT_EQ(order.back(), n - 1);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST(JointOrder, ReorderParentsRenumbersTheTree) {
  const std::vector<int32_t> parents = {2, 2, -1, 0, 1};
  const std::vector<int32_t> order = depth_first_joint_order(parents);  // 2 0 3 1 4
  const std::vector<int32_t> renumbered = reorder_parents(parents, order);
  EXPECT_EQ(renumbered, (std::vector<int32_t>{-1, 0, 1, 0, 3}));
  // The same edges: new k's parent is the new position of the old parent.
  for (size_t k = 0; k < order.size(); ++k) {
    const int32_t old_parent = parents[static_cast<size_t>(order[k])];
    if (old_parent < 0) {
      EXPECT_EQ(renumbered[k], -1);
    } else {
      EXPECT_EQ(order[static_cast<size_t>(renumbered[k])], old_parent);
    }
  }
  // In depth-first order every parent precedes its children.
  const std::vector<int32_t> kinect =
      reorder_parents(test::kKinectV2Parents, depth_first_joint_order(test::kKinectV2Parents));
  for (size_t k = 1; k < kinect.size(); ++k) EXPECT_LT(kinect[k], static_cast<int32_t>(k));
}

TEST(JointOrder, RefusesMalformedTrees) {
  expect_error([] { depth_first_joint_order({}); }, "parents is empty");
  expect_error([] { depth_first_joint_order({-1, 0, 5}); }, "parents[2] = 5 is out of range for 3 joints");
  expect_error([] { depth_first_joint_order({-1, -2}); }, "parents[1] = -2 is out of range");
  expect_error([] { depth_first_joint_order({-1, 0, -1, 2}); }, "2 roots (joints 0, 2 have parent -1)");
  expect_error([] { depth_first_joint_order({1, 2, 0}); }, "no root");
  expect_error([] { depth_first_joint_order({-1, 1}); }, "joint 1 is its own parent");
  // One root, and 2 -> 3 -> 4 -> 2 a cycle (with 5 hanging off it).
  expect_error([] { depth_first_joint_order({-1, 0, 4, 2, 3, 4}); }, "joints 2, 3, 4, 5 do not reach the root 0");
}

TEST(JointOrder, RefusesOrdersThatAreNotPermutations) {
  expect_error([] { validate_joint_order({0, 1}, 3, "joint_order"); },
               "joint_order: has 2 entries, expected one per joint (3)");
  expect_error([] { validate_joint_order({0, 3, 1}, 3, "joint_order"); },
               "joint_order[1] = 3 is out of range for 3 joints");
  expect_error([] { validate_joint_order({0, 1, 1}, 3, "joint_order"); }, "joint_order: joint 1 appears twice");
  expect_error([] { reorder_parents({-1, 0, 1}, {2, 2, 0}); }, "reorder_parents: order: joint 2 appears twice");
  validate_joint_order({2, 0, 1}, 3, "joint_order");  // a permutation passes
}

// What makes a tour a tour, for any tree: 2J - 1 positions from the root back to the root,
// every neighbour pair a bone, every bone exactly twice (out and back), and each joint once
// on arrival and once more after each of its children.
void expect_tour_of(const std::vector<int32_t>& tour, const std::vector<int32_t>& parents) {
  const auto joints = static_cast<int32_t>(parents.size());
  ASSERT_EQ(tour.size(), 2 * parents.size() - 1);
  const int32_t root = static_cast<int32_t>(std::find(parents.begin(), parents.end(), -1) - parents.begin());
  EXPECT_EQ(tour.front(), root);
  EXPECT_EQ(tour.back(), root);
  std::map<std::pair<int32_t, int32_t>, int> crossings;  // (child, parent) -> times on neighbouring positions
  for (size_t k = 0; k + 1 < tour.size(); ++k) {
    const int32_t a = tour[k], b = tour[k + 1];
    const bool bone = parents[static_cast<size_t>(a)] == b || parents[static_cast<size_t>(b)] == a;
    ASSERT_TRUE(bone) << "positions " << k << " and " << k + 1 << " (joints " << a << ", " << b
                      << ") are not joined by a bone";
    ++crossings[parents[static_cast<size_t>(a)] == b ? std::make_pair(a, b) : std::make_pair(b, a)];
  }
  EXPECT_EQ(crossings.size(), parents.size() - 1);  // every bone ...
  for (const auto& [bone, times] : crossings) EXPECT_EQ(times, 2) << "bone " << bone.first << "-" << bone.second;
  std::vector<int> children(parents.size(), 0);
  for (int32_t p : parents) {
    if (p >= 0) ++children[static_cast<size_t>(p)];
  }
  for (int32_t j = 0; j < joints; ++j) {
    EXPECT_EQ(std::count(tour.begin(), tour.end(), j), children[static_cast<size_t>(j)] + 1)
        << "joint " << j;
  }
}

TEST(JointOrder, TourOfASmallTree) {
  // 0 hip - 1 spine - 2 head, and a leg 0 - 3 - 4: out along the spine, back, out along the leg, back.
  const std::vector<int32_t> parents = {-1, 0, 1, 0, 3};
  EXPECT_EQ(tour_joint_order(parents), (std::vector<int32_t>{0, 1, 2, 1, 0, 3, 4, 3, 0}));
  expect_tour_of(tour_joint_order(parents), parents);
  // Children in the depth-first order's order: leaves first (3 and 4 before 1).
  EXPECT_EQ(tour_joint_order({-1, 0, 1, 0, 0}), (std::vector<int32_t>{0, 3, 0, 4, 0, 1, 2, 1, 0}));
  EXPECT_EQ(tour_joint_order({-1}), (std::vector<int32_t>{0}));
  EXPECT_EQ(tour_joint_order({1, -1}), (std::vector<int32_t>{1, 0, 1}));
}

TEST(JointOrder, TourOfTheKinectTrees) {
  // MSR Action3D (Kinect v1, see KinectV1HeadFollowsTheNeck), worked out by hand.
  const std::vector<int32_t> v1 = {2, 2, 3, 6, 6, 6, -1, 0, 1, 7, 8, 9, 10, 4, 5, 13, 14, 15, 16, 2};
  EXPECT_EQ(tour_joint_order(v1),
            (std::vector<int32_t>{6,  3,  2,  19, 2,  0,  7,  9,  11, 9,  7, 0,  2,  1,  8,  10, 12, 10, 8, 1,
                                  2,  3,  6,  4,  13, 15, 17, 15, 13, 4,  6, 5,  14, 16, 18, 16, 14, 5,  6}));
  expect_tour_of(tour_joint_order(v1), v1);
  // Its first visits are the depth-first order.
  std::vector<int32_t> first_visits;
  for (int32_t j : tour_joint_order(v1)) {
    if (std::find(first_visits.begin(), first_visits.end(), j) == first_visits.end()) first_visits.push_back(j);
  }
  EXPECT_EQ(first_visits, depth_first_joint_order(v1));
  expect_tour_of(tour_joint_order(test::kKinectV2Parents), test::kKinectV2Parents);
  EXPECT_EQ(tour_joint_order(test::kKinectV2Parents),
            (std::vector<int32_t>{0,  1,  20, 2,  3,  2,  20, 4,  5,  6,  7,  21, 7,  22, 7,  6,  5,
                                  4,  20, 8,  9,  10, 11, 23, 11, 24, 11, 10, 9,  8,  20, 1,  0,  12,
                                  13, 14, 15, 14, 13, 12, 0,  16, 17, 18, 19, 18, 17, 16, 0}));  // as in the header
  EXPECT_EQ(joint_walk_order(JointWalk::Tour, test::kKinectV2Parents), tour_joint_order(test::kKinectV2Parents));
  EXPECT_EQ(joint_walk_order(JointWalk::DepthFirst, test::kKinectV2Parents),
            depth_first_joint_order(test::kKinectV2Parents));
}

TEST(JointOrder, TourOfRandomTrees) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int32_t joints = 1 + static_cast<int32_t>(rng() % 40);
    // A random tree under a random root: joint perm[i] hangs from one of perm[0 .. i-1].
    std::vector<int32_t> perm(static_cast<size_t>(joints));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<int32_t> parents(static_cast<size_t>(joints), -1);
    for (int32_t i = 1; i < joints; ++i)
      parents[static_cast<size_t>(perm[static_cast<size_t>(i)])] = perm[rng() % static_cast<uint32_t>(i)];
    SCOPED_TRACE("trial " + std::to_string(trial));
    expect_tour_of(tour_joint_order(parents), parents);
  }
}

TEST(JointOrder, DeepTourNeedsNoRecursion) {
  const int32_t n = 200000;
  std::vector<int32_t> parents(static_cast<size_t>(n));
  for (int32_t j = 0; j < n; ++j) parents[static_cast<size_t>(j)] = j - 1;
  const std::vector<int32_t> tour = tour_joint_order(parents);
  ASSERT_EQ(tour.size(), static_cast<size_t>(2 * n - 1));
  for (int32_t k = 0; k < n; ++k) {  // down the chain and back up
    ASSERT_EQ(tour[static_cast<size_t>(k)], k);
    ASSERT_EQ(tour[static_cast<size_t>(2 * n - 2 - k)], k);
  }
}

TEST(JointOrder, TourRefusesMalformedTrees) {
  expect_error([] { tour_joint_order({}); }, "parents is empty");
  expect_error([] { tour_joint_order({-1, 0, -1, 2}); }, "2 roots");
  expect_error([] { tour_joint_order({-1, 0, 4, 2, 3, 4}); }, "do not reach the root 0");
}

TEST(JointOrder, WalkNamesRoundTripAndUnknownOnesAreRefused) {
  EXPECT_EQ(parse_joint_walk("tour", "--joint-walk"), JointWalk::Tour);
  EXPECT_EQ(parse_joint_walk("depth-first", "--joint-walk"), JointWalk::DepthFirst);
  EXPECT_STREQ(joint_walk_name(JointWalk::Tour), "tour");
  EXPECT_STREQ(joint_walk_name(JointWalk::DepthFirst), "depth-first");
  expect_error([] { parse_joint_walk("preorder", "--joint-walk"); },
               "--joint-walk: 'preorder' is not a joint walk (expected depth-first or tour)");
  expect_error([] { parse_joint_walk("", "input.joint_walk"); }, "input.joint_walk: '' is not a joint walk");
}

TEST(JointOrder, AWalkMayRepeatJointsButMustCoverThemAll) {
  validate_joint_walk({0, 1, 0, 2, 0}, 3, "joint_order");  // a tour passes
  validate_joint_walk({2, 0, 1}, 3, "joint_order");        // so does a permutation
  expect_error([] { validate_joint_walk({}, 3, "joint_order"); }, "joint_order: is empty");
  expect_error([] { validate_joint_walk({0, 1, 1, 0}, 4, "joint_order"); },
               "joint_order: joints 2, 3 are missing (expected every joint at least once)");
  expect_error([] { validate_joint_walk({0, 1, 1}, 3, "joint_order"); }, "joint_order: joint 2 is missing");
  expect_error([] { validate_joint_walk({0, 1, 2, 3}, 3, "joint_order"); },
               "joint_order[3] = 3 is out of range for 3 joints");
  expect_error([] { validate_joint_walk({0, -1, 1, 2}, 3, "joint_order"); },
               "joint_order[1] = -1 is out of range for 3 joints");
}

}  // namespace
}  // namespace harnet
