#include "data/synthetic_skeletons.h"

#include <algorithm>
#include <cmath>

#include "autograd/error.h"
#include "autograd/generator.h"
#include "data/kinect_v2.h"

namespace harnet {

namespace {

using namespace kinect_v2;

// ---- a little 3-D geometry (right-handed: x to the performer's right, y up, the performer
// facing -z, i.e. towards a camera at the origin looking along +z)

struct Vec3 {
  double x = 0, y = 0, z = 0;
};
Vec3 operator+(const Vec3& a, const Vec3& b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }

struct Mat3 {
  std::array<double, 9> m{1, 0, 0, 0, 1, 0, 0, 0, 1};  // row-major
};
Mat3 operator*(const Mat3& a, const Mat3& b) {
  Mat3 c;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += a.m[static_cast<size_t>(3 * i + k)] * b.m[static_cast<size_t>(3 * k + j)];
      c.m[static_cast<size_t>(3 * i + j)] = s;
    }
  return c;
}
Vec3 operator*(const Mat3& a, const Vec3& v) {
  return {a.m[0] * v.x + a.m[1] * v.y + a.m[2] * v.z, a.m[3] * v.x + a.m[4] * v.y + a.m[5] * v.z,
          a.m[6] * v.x + a.m[7] * v.y + a.m[8] * v.z};
}
// rot_x(+a) swings a limb hanging down (0,-1,0) forwards (towards -z); rot_z(+a) swings it to
// the right (+x); rot_y(+a) turns -z towards -x.
Mat3 rot_x(double a) { return {{1, 0, 0, 0, std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a)}}; }
Mat3 rot_y(double a) { return {{std::cos(a), 0, std::sin(a), 0, 1, 0, -std::sin(a), 0, std::cos(a)}}; }
Mat3 rot_z(double a) { return {{std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a), 0, 0, 0, 1}}; }

constexpr double kPi = 3.14159265358979323846;
double deg(double degrees) { return degrees * kPi / 180.0; }
double smoothstep(double x) {
  x = std::clamp(x, 0.0, 1.0);
  return x * x * (3 - 2 * x);
}
// 0 -> 1 -> 0 over s in [0, 1]: a movement done once.
double bump(double s) { return 0.5 - 0.5 * std::cos(2 * kPi * std::clamp(s, 0.0, 1.0)); }
// Ramps up over the first fifth, holds, ramps down over the last fifth: a repeated movement.
double hold(double s) { return smoothstep(s / 0.2) * smoothstep((1 - s) / 0.2); }
// 0 -> 1 -> 0 `cycles` times over s in [0, 1].
double pulses(double s, double cycles) { return 0.5 - 0.5 * std::cos(2 * kPi * cycles * s); }

// ---- the skeleton

// A performer's rest pose: each joint's offset from its parent, standing, arms hanging.
struct Body {
  std::array<Vec3, kKinectV2Joints> offsets;
  double hip_height = 0;  // SpineBase above the floor
  double leg_length = 0;  // thigh + shin
};

Body make_body(double height, double arm, double leg, double shoulders) {
  Body b;
  auto& o = b.offsets;
  const double h = height, a = height * arm, l = height * leg, w = height * shoulders;
  o[SpineMid] = {0, 0.25 * h, 0};
  o[SpineShoulder] = {0, 0.24 * h, 0};
  o[Neck] = {0, 0.07 * h, 0};
  o[Head] = {0, 0.15 * h, -0.01 * h};
  for (double side : {-1.0, 1.0}) {  // -1: the performer's left (-x), +1: right
    const bool right = side > 0;
    o[right ? ShoulderRight : ShoulderLeft] = {side * 0.17 * w, -0.03 * h, 0};
    o[right ? ElbowRight : ElbowLeft] = {0, -0.28 * a, 0};
    o[right ? WristRight : WristLeft] = {0, -0.25 * a, 0};
    o[right ? HandRight : HandLeft] = {0, -0.07 * a, 0};
    o[right ? HandTipRight : HandTipLeft] = {0, -0.07 * a, 0};
    o[right ? ThumbRight : ThumbLeft] = {-side * 0.02 * a, -0.03 * a, -0.04 * a};
    o[right ? HipRight : HipLeft] = {side * 0.09 * w, -0.05 * h, 0};
    o[right ? KneeRight : KneeLeft] = {0, -0.42 * l, 0};
    o[right ? AnkleRight : AnkleLeft] = {0, -0.40 * l, 0};
    o[right ? FootRight : FootLeft] = {0, -0.05 * l, -0.12 * l};
  }
  b.leg_length = 0.82 * l;
  b.hip_height = 0.05 * h + 0.87 * l;
  return b;
}

// Joints ordered so that every parent comes before its children.
const std::array<int, kKinectV2Joints>& parents_first_order() {
  static const std::array<int, kKinectV2Joints> order = [] {
    const auto& parents = kinect_v2_parents();
    auto depth = [&](int j) {
      int d = 0;
      for (int p = parents[static_cast<size_t>(j)]; p != -1; p = parents[static_cast<size_t>(p)]) ++d;
      return d;
    };
    std::array<int, kKinectV2Joints> o{};
    for (int j = 0; j < kKinectV2Joints; ++j) o[static_cast<size_t>(j)] = j;
    std::stable_sort(o.begin(), o.end(), [&](int a, int b) { return depth(a) < depth(b); });
    return o;
  }();
  return order;
}

// One frame's posture: a rotation at each joint that turns its children, and where the body
// stands. displacement is in the body's own frame (before the heading is applied).
struct Pose {
  std::array<Mat3, kKinectV2Joints> local;
  Vec3 position;      // SpineBase on the floor plane (y = 0), camera frame
  double heading = 0; // rotation about y
  Vec3 displacement;  // of SpineBase from its rest place, body frame
  // Applies `rotation` after what joint j already does.
  void turn(int j, const Mat3& rotation) { local[static_cast<size_t>(j)] = rotation * local[static_cast<size_t>(j)]; }
};

// Forward kinematics: joint positions [25, 3] into `out`.
void place_joints(const Body& body, const Pose& pose, float* out) {
  const auto& parents = kinect_v2_parents();
  std::array<Vec3, kKinectV2Joints> position;
  std::array<Mat3, kKinectV2Joints> global;
  const Mat3 heading = rot_y(pose.heading);
  for (int j : parents_first_order()) {
    const size_t u = static_cast<size_t>(j);
    const int p = parents[u];
    if (p < 0) {
      position[u] = pose.position + heading * (Vec3{0, body.hip_height, 0} + pose.displacement);
      global[u] = heading * pose.local[u];
    } else {
      position[u] = position[static_cast<size_t>(p)] + global[static_cast<size_t>(p)] * body.offsets[u];
      global[u] = global[static_cast<size_t>(p)] * pose.local[u];
    }
  }
  for (size_t j = 0; j < position.size(); ++j) {
    out[3 * j] = static_cast<float>(position[j].x);
    out[3 * j + 1] = static_cast<float>(position[j].y);
    out[3 * j + 2] = static_cast<float>(position[j].z);
  }
}

// ---- performers and their motions

struct Performer {
  Body body;
  double speed = 1;       // cycles of repeated movements scale with it
  double amplitude = 1;   // angles scale with it
  double side = 1;        // +1: moves the right arm / leg, -1: the left
  double arm_rest = 0;    // arms hang this far out from the body (radians)
  double sway = 0;        // idle sway amplitude (metres)
};

Performer draw_performer(Generator& gen) {
  auto uniform = [&](double lo, double hi) { return lo + (hi - lo) * gen.uniform(); };
  Performer p;
  p.body = make_body(uniform(0.85, 1.15), uniform(0.9, 1.1), uniform(0.9, 1.1), uniform(0.9, 1.12));
  p.speed = uniform(0.75, 1.3);
  p.amplitude = uniform(0.8, 1.15);
  p.side = gen.uniform() < 0.3 ? -1.0 : 1.0;
  p.arm_rest = deg(uniform(3, 14));
  p.sway = uniform(0.005, 0.03);
  return p;
}

// The joints of the dominant (side = +1: right) or the other side.
struct Limbs {
  int shoulder, elbow, hip, knee;
};
Limbs limbs(double side) {
  return side > 0 ? Limbs{ShoulderRight, ElbowRight, HipRight, KneeRight}
                  : Limbs{ShoulderLeft, ElbowLeft, HipLeft, KneeLeft};
}

// Poses class `c` at progress s in [0, 1] of the action (0 and 1: the rest pose).
// amp scales angles, cycles is the number of repeats of a repeated movement.
void apply_motion(int c, const Performer& p, double s, double amp, double cycles, Pose& pose) {
  const double side = p.side;
  const Limbs dom = limbs(side), other = limbs(-side);
  switch (c) {
    case 0: {  // wave: the dominant arm up and out, the forearm swinging side to side
      const double e = hold(s);
      pose.turn(dom.shoulder, rot_z(side * std::min(deg(150) * amp, deg(170)) * e));
      pose.turn(dom.elbow, rot_z(side * deg(35) * e * std::sin(2 * kPi * cycles * 1.5 * s)) * rot_x(deg(25) * e));
      break;
    }
    case 1: {  // punch: the dominant fist thrown forwards repeatedly, the other arm on guard
      const double e = hold(s), out = pulses(s, cycles);
      pose.turn(dom.shoulder, rot_x(deg(85) * amp * e));
      pose.turn(dom.elbow, rot_x(deg(125) * e * (1 - out)));
      pose.turn(other.shoulder, rot_x(deg(35) * e));
      pose.turn(other.elbow, rot_x(deg(105) * e));
      break;
    }
    case 2: {  // kick: the dominant leg swings forwards, knee chambered then extended
      const double e = bump(s);
      pose.turn(dom.hip, rot_x(deg(75) * amp * e));
      pose.turn(dom.knee, rot_x(-deg(80) * 4 * e * (1 - e)));
      pose.turn(other.shoulder, rot_z(-side * deg(20) * e));
      break;
    }
    case 3: {  // bend: the trunk bows forwards, the arms keep hanging
      const double e = bump(s), bow = deg(85) * amp * e;
      pose.turn(SpineMid, rot_x(-bow));
      pose.turn(ShoulderLeft, rot_x(0.8 * bow));
      pose.turn(ShoulderRight, rot_x(0.8 * bow));
      pose.displacement.z += 0.06 * e;
      break;
    }
    case 4: {  // raise arms: both arms sideways up over the head and down
      const double lift = std::min(deg(165) * amp, deg(175)) * bump(s);
      pose.turn(ShoulderRight, rot_z(lift));
      pose.turn(ShoulderLeft, rot_z(-lift));
      break;
    }
    case 5: {  // clap: both arms forwards, hands meeting in front of the chest repeatedly
      const double e = hold(s), together = pulses(s, cycles * 1.5);
      const double raise = deg(75) * amp * e, adduct = deg(-15 + 37 * together) * e;
      pose.turn(ShoulderRight, rot_y(adduct) * rot_x(raise));
      pose.turn(ShoulderLeft, rot_y(-adduct) * rot_x(raise));
      pose.turn(ElbowRight, rot_x(deg(20) * e));
      pose.turn(ElbowLeft, rot_x(deg(20) * e));
      break;
    }
    case 6: {  // squat: hips and knees bend (knee twice the hip keeps the feet in place)
      const double e = bump(s), bend = std::min(deg(75) * amp, deg(78)) * e;
      for (int hip : {HipLeft, HipRight}) pose.turn(hip, rot_x(bend));
      for (int knee : {KneeLeft, KneeRight}) pose.turn(knee, rot_x(-2 * bend));
      pose.turn(SpineMid, rot_x(-0.45 * bend));
      pose.turn(ShoulderLeft, rot_x(0.9 * bend));
      pose.turn(ShoulderRight, rot_x(0.9 * bend));
      pose.displacement.y -= p.body.leg_length * (1 - std::cos(bend));
      break;
    }
    case 7: {  // jump: two hops, each a crouch, a flight with the arms up and a landing
      if (s <= 0 || s >= 1) break;
      const double u = 2 * s - std::floor(2 * s);
      double crouch = 0, flight = 0;
      if (u < 0.3) crouch = std::sin(kPi * u / 0.3);
      else if (u < 0.8) flight = std::sin(kPi * (u - 0.3) / 0.5);
      else crouch = std::sin(kPi * (u - 0.8) / 0.2);
      const double bend = deg(35) * crouch;
      for (int hip : {HipLeft, HipRight}) pose.turn(hip, rot_x(bend));
      for (int knee : {KneeLeft, KneeRight}) pose.turn(knee, rot_x(-2 * bend));
      pose.turn(ShoulderLeft, rot_x(deg(110) * flight - deg(30) * crouch));
      pose.turn(ShoulderRight, rot_x(deg(110) * flight - deg(30) * crouch));
      pose.displacement.y += 0.25 * amp * flight - p.body.leg_length * (1 - std::cos(bend));
      break;
    }
    case 8: {  // turn around: half a turn towards the dominant side, stepping
      const double step = bump(s);
      pose.heading += side * deg(180) * std::min(amp, 1.1) * smoothstep(s);
      pose.turn(HipLeft, rot_x(deg(25) * step * std::max(0.0, std::sin(2 * kPi * 3 * s))));
      pose.turn(KneeLeft, rot_x(-deg(45) * step * std::max(0.0, std::sin(2 * kPi * 3 * s))));
      pose.turn(HipRight, rot_x(deg(25) * step * std::max(0.0, -std::sin(2 * kPi * 3 * s))));
      pose.turn(KneeRight, rot_x(-deg(45) * step * std::max(0.0, -std::sin(2 * kPi * 3 * s))));
      break;
    }
    case 9: {  // side step: two steps towards the dominant side
      const double step = bump(s), lift = std::sin(2 * kPi * 2 * s);
      pose.displacement.x += side * 0.6 * amp * smoothstep(s);
      pose.turn(HipRight, rot_z(deg(22) * step * std::max(0.0, lift)));
      pose.turn(HipLeft, rot_z(-deg(22) * step * std::max(0.0, -lift)));
      break;
    }
    default:
      throw Error(str_cat("make_synthetic_skeletons: no motion for class ", c));
  }
}

}  // namespace

const std::array<const char*, kSyntheticClassCount>& synthetic_class_names() {
  static const std::array<const char*, kSyntheticClassCount> names = {
      "wave", "punch", "kick", "bend", "raise arms", "clap", "squat", "jump", "turn around", "side step"};
  return names;
}

SkeletonDataset make_synthetic_skeletons(const SyntheticSkeletonOptions& o) {
  HARNET_CHECK(o.classes >= 2 && o.classes <= kSyntheticClassCount, "make_synthetic_skeletons: classes ", o.classes,
               " is not in [2, ", kSyntheticClassCount, "]");
  HARNET_CHECK(o.subjects >= 1 && o.subjects <= 1000, "make_synthetic_skeletons: subjects ", o.subjects,
               " is not in [1, 1000]");
  HARNET_CHECK(o.repetitions >= 1 && o.repetitions <= 1000, "make_synthetic_skeletons: repetitions ", o.repetitions,
               " is not in [1, 1000]");
  HARNET_CHECK(o.frames >= 10 && o.frames <= 100000, "make_synthetic_skeletons: frames ", o.frames,
               " is not in [10, 100000]");
  HARNET_CHECK(std::isfinite(o.fps) && o.fps > 0, "make_synthetic_skeletons: fps ", o.fps, " is not positive");
  HARNET_CHECK(std::isfinite(o.noise) && o.noise >= 0 && o.noise < 1, "make_synthetic_skeletons: noise ", o.noise,
               " is not in [0, 1) metres");

  SkeletonDataset d;
  const auto& classes = synthetic_class_names();
  d.class_names.assign(classes.begin(), classes.begin() + o.classes);
  const auto& joints = kinect_v2_joint_names();
  d.joint_names.assign(joints.begin(), joints.end());
  const auto& parents = kinect_v2_parents();
  d.parents.assign(parents.begin(), parents.end());
  d.fps = o.fps;
  d.source = str_cat("harnet synth: ", o.classes, " procedurally animated classes, ", o.subjects, " subjects x ",
                     o.repetitions, " repetitions, seed ", o.seed);
  d.center_joint = SpineBase;
  d.left_shoulder_joint = ShoulderLeft;
  d.right_shoulder_joint = ShoulderRight;
  d.neck_joint = Neck;
  d.offsets.push_back(0);

  Generator gen(o.seed);
  auto uniform = [&](double lo, double hi) { return lo + (hi - lo) * gen.uniform(); };
  const int64_t frame_values = kKinectV2Joints * 3;
  for (int64_t subject = 1; subject <= o.subjects; ++subject) {
    const Performer performer = draw_performer(gen);
    for (int c = 0; c < static_cast<int>(o.classes); ++c) {
      for (int64_t r = 1; r <= o.repetitions; ++r) {
        const int64_t length = std::max<int64_t>(8, std::llround(static_cast<double>(o.frames) * uniform(0.8, 1.2)));
        const double start = uniform(0.0, 0.3), end = uniform(0.7, 1.0);  // of the sequence, the action's span
        const double amp = performer.amplitude * uniform(0.92, 1.08);
        const double cycles = std::max(1.0, 2 * performer.speed * uniform(0.85, 1.15));
        const double sway_phase = uniform(0, 2 * kPi);
        Pose rest;
        rest.position = {uniform(-0.6, 0.6), 0, uniform(2.2, 3.4)};
        rest.heading = deg(uniform(-40, 40));
        // The posture varies between repetitions: arms held a little forwards or out, the
        // trunk leaning, so no fixed pose marks a class.
        rest.turn(ShoulderRight, rot_x(deg(uniform(-10, 30))) * rot_z(performer.arm_rest + deg(uniform(-5, 15))));
        rest.turn(ShoulderLeft, rot_x(deg(uniform(-10, 30))) * rot_z(-performer.arm_rest - deg(uniform(-5, 15))));
        rest.turn(ElbowRight, rot_x(deg(uniform(0, 40))));
        rest.turn(ElbowLeft, rot_x(deg(uniform(0, 40))));
        rest.turn(SpineMid, rot_x(deg(uniform(-10, 6))) * rot_z(deg(uniform(-6, 6))));

        const size_t first = d.skeletons.size();
        d.skeletons.resize(first + static_cast<size_t>(length * frame_values));
        for (int64_t t = 0; t < length; ++t) {
          const double time = static_cast<double>(t) / o.fps;
          const double s = (static_cast<double>(t) / static_cast<double>(length - 1) - start) / (end - start);
          Pose pose = rest;
          // Idle life: the body sways a little and the trunk rocks.
          const double sway = std::sin(2 * kPi * 0.35 * time + sway_phase);
          pose.displacement.x += performer.sway * sway;
          pose.turn(SpineMid, rot_z(deg(2.5) * sway));
          apply_motion(c, performer, std::clamp(s, 0.0, 1.0), amp, cycles, pose);
          float* frame = d.skeletons.data() + first + static_cast<size_t>(t * frame_values);
          place_joints(performer.body, pose, frame);
          for (int64_t k = 0; k < frame_values; ++k) frame[k] += static_cast<float>(o.noise * gen.normal());
        }
        d.offsets.push_back(d.offsets.back() + length);
        d.labels.push_back(c);
        d.subjects.push_back(static_cast<int32_t>(subject));
        std::string name = classes[static_cast<size_t>(c)];
        std::replace(name.begin(), name.end(), ' ', '-');
        d.names.push_back(str_cat(name, "_s", subject < 10 ? "0" : "", subject, "_r", r < 10 ? "0" : "", r));
      }
    }
  }
  return d;
}

}  // namespace harnet
