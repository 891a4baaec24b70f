// Ctrl-C during training: while a ScopedInterruptFlag lives, the first SIGINT only sets a
// flag (the trainer polls it after each step, saves last.h5 and stops); a second SIGINT
// terminates the process as usual.
#pragma once

namespace harnet {

class ScopedInterruptFlag {
 public:
  ScopedInterruptFlag();   // installs the handler and clears the flag
  ~ScopedInterruptFlag();  // restores the previous handler
  ScopedInterruptFlag(const ScopedInterruptFlag&) = delete;
  ScopedInterruptFlag& operator=(const ScopedInterruptFlag&) = delete;

  static bool requested();
};

}  // namespace harnet
