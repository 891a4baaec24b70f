// Internal building blocks shared by reduce.cpp, softmax.cpp and loss.cpp (not a public API).
//
// All three files view their input as a contiguous block [outer, length, inner]: `length`
// is the axis being reduced (or normalised), and each (outer, inner) pair is one output,
// numbered o * inner + i.
//
// Determinism: reduce_block fixes every output's order of accumulation from the shape alone.
// The reduced axis is cut into chunks of kReduceChunk positions; each chunk is reduced on its
// own and the chunk partials are merged in chunk order. Threads only decide who computes
// which chunk, so results are bit-identical for any thread count.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "autograd/parallel.h"
#include "ops/vec_math.h"

namespace harnet::detail {

// Positions of the reduced axis per chunk: the unit of the fixed accumulation order.
constexpr int64_t kReduceChunk = 4096;
// Below this many outputs, a long reduction is split along its axis rather than across outputs.
constexpr int64_t kFewOutputs = 64;
// Outputs reduced together in one pass over the rows: their partial sums stay in L1.
constexpr int64_t kMaxRun = 1024;

// Calls run(o, i0, i1) for runs of consecutive outputs (o, i0..i1-1) covering all
// outer * inner outputs, in parallel; each output's work is about `length` elements.
template <class RunFn>
void for_each_output_run(int64_t outer, int64_t length, int64_t inner, RunFn&& run) {
  const int64_t outputs = outer * inner;
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(length, 1));
  parallel_for(0, outputs, grain, [&](int64_t begin, int64_t end) {
    while (begin < end) {
      const int64_t o = begin / inner, i0 = begin % inner;
      const int64_t i1 = std::min({inner, i0 + (end - begin), i0 + kMaxRun});
      run(o, i0, i1);
      begin += i1 - i0;
    }
  });
}

// Reduces a [outer, reduce, inner] block to one Acc per output, written to out[o * inner + i].
//   chunk_fn(o, i0, i1, r0, r1, Acc* partial): folds positions [r0, r1) of the outputs
//     (o, i0..i1-1) into partial[0 .. i1-i0), which arrives filled with `identity`.
//   merge(Acc& total, const Acc& partial): folds a later chunk's partial into the total.
// An empty reduced axis leaves every output at `identity`.
template <class Acc, class ChunkFn, class Merge>
void reduce_block(int64_t outer, int64_t reduce, int64_t inner, const Acc& identity, ChunkFn&& chunk_fn, Merge&& merge,
                  Acc* out) {
  const int64_t outputs = outer * inner;
  if (outputs == 0) return;
  const int64_t chunks = (reduce + kReduceChunk - 1) / kReduceChunk;
  auto chunk_end = [&](int64_t c) { return std::min(reduce, (c + 1) * kReduceChunk); };

  if (chunks <= 1 || outputs >= kFewOutputs) {
    // Many outputs or short reductions: threads split the outputs, each walks its chunks in order.
    const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(reduce, 1));
    parallel_for(0, outputs, grain, [&](int64_t begin, int64_t end) {
      std::vector<Acc> partial(static_cast<size_t>(std::min({inner, end - begin, kMaxRun})));
      while (begin < end) {
        const int64_t o = begin / inner, i0 = begin % inner;
        const int64_t i1 = std::min({inner, i0 + (end - begin), i0 + kMaxRun});
        const int64_t width = i1 - i0;
        Acc* total = out + o * inner + i0;
        std::fill(total, total + width, identity);
        for (int64_t c = 0; c < chunks; ++c) {
          std::fill(partial.begin(), partial.begin() + width, identity);
          chunk_fn(o, i0, i1, c * kReduceChunk, chunk_end(c), partial.data());
          for (int64_t k = 0; k < width; ++k) merge(total[k], partial[static_cast<size_t>(k)]);
        }
        begin = begin + width;
      }
    });
    return;
  }

  // Few outputs over a long axis: threads split the chunks; partials are merged in chunk order,
  // exactly as above.
  std::vector<Acc> partials(static_cast<size_t>(outer * chunks * inner), identity);
  const int64_t grain = std::max<int64_t>(1, kGrainSize / (kReduceChunk * inner));
  parallel_for(0, outer * chunks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t o = task / chunks, c = task % chunks;
      chunk_fn(o, 0, inner, c * kReduceChunk, chunk_end(c), partials.data() + task * inner);
    }
  });
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      Acc total = identity;
      for (int64_t c = 0; c < chunks; ++c) merge(total, partials[static_cast<size_t>((o * chunks + c) * inner + i)]);
      out[o * inner + i] = total;
    }
  }
}

// Sum of term(k) (a double) for k in [0, n), over sixteen interleaved lanes (so the compiler
// can vectorise it and hide the add latency) added pairwise at the end: a fixed order, and
// more accurate than one running sum.
template <class Term>
double sum_lanes(int64_t n, Term&& term) {
  constexpr int kLanes = 16;
  double lane[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes)
    for (int j = 0; j < kLanes; ++j) lane[j] += term(k + j);
  for (int j = 0; k < n; ++k, ++j) lane[j] += term(k);
  for (int width = kLanes / 2; width > 0; width /= 2)
    for (int j = 0; j < width; ++j) lane[j] += lane[j + width];
  return lane[0];
}

// The largest (kMax) or smallest of p[0..n), n >= 1. NaNs are not reported (callers detect
// them or let them propagate). The main loop uses a 32-byte GNU vector: compilers will not
// vectorise a float max reduction on their own, as its NaN semantics are not associative.
template <bool kMax, class T>
T extremum_lanes(const T* p, int64_t n) {
  auto pick = [](T candidate, T best) { return (kMax ? candidate > best : candidate < best) ? candidate : best; };
  constexpr int64_t kLanes = 32 / sizeof(T);
  typedef T Vec __attribute__((vector_size(32)));
  T best = p[0];
  int64_t k = 0;
  if (n >= kLanes) {
    Vec acc, v;
    std::memcpy(&acc, p, sizeof(Vec));
    for (k = kLanes; k + kLanes <= n; k += kLanes) {
      std::memcpy(&v, p + k, sizeof(Vec));
      if constexpr (kMax)
        acc = v > acc ? v : acc;
      else
        acc = v < acc ? v : acc;
    }
    for (int64_t j = 0; j < kLanes; ++j) best = pick(acc[j], best);
  }
  for (; k < n; ++k) best = pick(p[k], best);
  return best;
}

// Deterministic sum of f(p[k]) over a contiguous array, in double.
template <class T, class F>
double deterministic_sum(const T* p, int64_t n, F&& f) {
  double total = 0.0;
  reduce_block<double>(
      1, n, 1, 0.0,
      [&](int64_t, int64_t, int64_t, int64_t r0, int64_t r1, double* partial) {
        partial[0] = sum_lanes(r1 - r0, [&](int64_t k) { return f(p[r0 + k]); });
      },
      [](double& acc, double part) { acc += part; }, &total);
  return total;
}

// exp(x) for softmax-like loops: float uses the vectorisable polynomial of ops/vec_math.h,
// double keeps std::exp so float64 (and gradient checks) have full accuracy.
inline float fast_exp(float x) { return vecmath::exp(x); }
inline double fast_exp(double x) { return std::exp(x); }

}  // namespace harnet::detail
