#include "harnet/lib/interrupt.h"

#include <csignal>

namespace harnet {

namespace {

volatile std::sig_atomic_t interrupted = 0;
struct sigaction previous_action;

void on_sigint(int) { interrupted = 1; }

}  // namespace

ScopedInterruptFlag::ScopedInterruptFlag() {
  interrupted = 0;
  struct sigaction action {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;  // the second Ctrl-C gets the default action
  sigaction(SIGINT, &action, &previous_action);
}

ScopedInterruptFlag::~ScopedInterruptFlag() { sigaction(SIGINT, &previous_action, nullptr); }

bool ScopedInterruptFlag::requested() { return interrupted != 0; }

}  // namespace harnet
