// The order of the joints along the convolution's joint axis. HARNet's spatial stage
// convolves along that axis with kernels of width 3, so joints that sit next to each other
// in the order should be physically connected: the order is a depth-first walk of the
// skeleton tree from its root, which puts every limb's chain (shoulder, elbow, wrist, hand)
// on consecutive positions.
//
// Traversal: preorder (a joint before its children), iterative (any depth is fine). At each
// joint, leaf children are visited first, then the others, each group in increasing index
// order. In a preorder only the first child visited sits next to its parent; a subtree keeps
// its own chains adjacent wherever it lands, but a leaf visited after a sibling's subtree
// would sit next to nothing it is attached to. (Kinect v1, MSR Action3D: the head, a leaf
// child of the neck, follows the neck instead of the right hand.)
//
// For the Kinect v2 tree this gives
//   0 1 20 2 3 | 4 5 6 7 21 22 | 8 9 10 11 23 24 | 12 13 14 15 | 16 17 18 19
// (spine to head, left arm, right arm, left leg, right leg). The spec suggests
//   22 21 7 6 5 4 | 20 2 3 1 0 | 8 9 10 11 23 24 | 12..15 | 16..19,
// which walks the left arm inwards into the spine instead. Both keep every limb chain
// adjacent and put 18 of the 24 bones on neighbouring positions; they differ only where a
// walk must jump between branches.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace harnet {

// Checks that parents (parents[j] = parent of joint j, -1 for the root) is one tree over
// J >= 1 joints: indices in range, exactly one root, no cycles (every joint reaches the root).
// Throws harnet::Error naming the joints at fault.
void validate_skeleton_tree(const std::vector<int32_t>& parents);

// The depth-first preorder of the tree (validated first): order[k] = the joint at
// position k of the convolution axis.
std::vector<int32_t> depth_first_joint_order(const std::vector<int32_t>& parents);

// The Euler tour of the tree (validated first): from the root, each joint, then, after the
// subtree of each of its children (visited in the depth-first order's order), the joint
// again. 2J - 1 positions, beginning and ending at the root; every two neighbours on the
// axis are joined by a bone, and every bone joins two pairs of neighbours, once on the way
// out and once on the way back. So a width-3 kernel centred anywhere sees a joint and two
// joints attached to it, where the preorder puts unconnected joints side by side at its jumps
// between branches (Kinect v1: the head and a shoulder, a hand and the other shoulder, the
// other hand and a hip).
// Each joint appears once per bone at it (a leaf once, the root once more). For the Kinect v2
// tree (25 joints, 49 positions):
//   0 1 20 2 3 2 20 4 5 6 7 21 7 22 7 6 5 4 20 8 9 10 11 23 11 24 11 10 9 8 20 1 0
//   12 13 14 15 14 13 12 0 16 17 18 19 18 17 16 0
std::vector<int32_t> tour_joint_order(const std::vector<int32_t>& parents);

// How the pipeline lays the joints along the convolution's axis when no explicit order is
// given: the depth-first preorder (J positions) or the Euler tour (2J - 1 positions).
enum class JointWalk { DepthFirst, Tour };

// The walk's order for the tree (validated first).
std::vector<int32_t> joint_walk_order(JointWalk walk, const std::vector<int32_t>& parents);

// "depth-first" / "tour" and back; parse_joint_walk throws naming `what` and the accepted names.
const char* joint_walk_name(JointWalk walk);
JointWalk parse_joint_walk(const std::string& name, const char* what);

// Checks that order is a permutation of 0 .. num_joints-1; `what` names the argument.
void validate_joint_order(const std::vector<int32_t>& order, int64_t num_joints, const char* what);

// Checks that order can lay out a sample: at least one entry, each a joint index in
// 0 .. num_joints-1, and every joint present at least once (repeats allowed, as in a tour).
void validate_joint_walk(const std::vector<int32_t>& order, int64_t num_joints, const char* what);

// The tree in the new numbering: result[k] = position in order of the parent of order[k]
// (-1 stays -1).
std::vector<int32_t> reorder_parents(const std::vector<int32_t>& parents, const std::vector<int32_t>& order);

}  // namespace harnet
