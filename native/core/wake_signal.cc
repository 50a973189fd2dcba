#include "wake_signal.h"

#include <signal.h>

namespace rtlat {
namespace {

// Does nothing: its only effect is that clock_nanosleep() returns EINTR, so the loop sees the stop
// flag. Without a handler the signal would either be ignored (and not interrupt the sleep) or end
// the process.
void interruptSleep(int) {}

int installWakeSignal() {
  // Counting down from SIGRTMAX: glibc keeps the lowest ones for itself, and libraries that use
  // real-time signals usually take them from SIGRTMIN up.
  for (int signal = SIGRTMAX; signal >= SIGRTMIN; --signal) {
    struct sigaction current {};
    if (sigaction(signal, nullptr, &current) != 0) continue;
    if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) continue;
    struct sigaction wake {};
    wake.sa_handler = interruptSleep;
    sigemptyset(&wake.sa_mask);
    // No SA_RESTART: an interrupted sleep returns EINTR to the loop instead of being restarted.
    wake.sa_flags = 0;
    if (sigaction(signal, &wake, nullptr) == 0) return signal;
  }
  return 0;
}

}  // namespace

int wakeSignal() {
  static const int signal = installWakeSignal();
  return signal;
}

}  // namespace rtlat
