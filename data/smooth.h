// Savitzky-Golay smoothing of skeleton sequences along time (Savitzky and Golay, Analytical
// Chemistry 1964): every joint coordinate of frame t becomes the value at t of the polynomial
// of degree `order` fitted by least squares to the `window` frames around t. Polynomials up to
// that degree pass unchanged, so the filter removes frame-to-frame sensor noise (Kinect's
// joints jitter by a centimetre or more) while keeping the peaks of fast motions better than a
// moving average of the same width. Du, Wang and Wang (CVPR 2015) smooth MSR Action3D's
// skeletons with window 5 and order 2, the weights (-3, 12, 17, 12, -3) / 35.
//
// Ends: the frames within window/2 of either end take the fit of the first or last full window,
// evaluated at their own position (SciPy's savgol_filter with mode='interp'). A sequence shorter
// than the window is smoothed with the longest odd window it holds and an order below that
// window; one or two frames stay as they are. Untracked (all-zero) frames are skipped: the
// tracked frames are smoothed as one run, and untracked frames stay zero.
#pragma once

#include <cstdint>
#include <vector>

#include "data/preprocess.h"

namespace harnet {

// SmoothOptions is in data/preprocess.h (a PreprocessOptions member).

// Throws naming the setting at fault: window 0 or odd >= 3, 0 <= order < window.
void validate_smooth_options(const SmoothOptions& options);

// The weights c[0..window-1] of the window's frames whose sum sum_i c[i] y[i] is the degree
// `order` least-squares polynomial through (i, y[i]) evaluated at frame `at` (0 <= at < window).
// At the centre these are the classic Savitzky-Golay weights. Throws for invalid arguments.
std::vector<double> savgol_weights(int64_t window, int64_t order, int64_t at);

// Smooths the tracked frames of `sequence` in place (see the file comment). Does nothing when
// options.window is 0.
void smooth_sequence(SkeletonSequence& sequence, const SmoothOptions& options);

}  // namespace harnet
