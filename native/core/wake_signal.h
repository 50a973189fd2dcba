// The signal that wakes a sleeping measuring thread so that a stop takes effect at once.
#pragma once

namespace rtlat {

// The real-time signal whose no-op handler this process installed for waking measuring threads, or
// 0 when every real-time signal already had a handler of someone else's (stops then wait for the
// next wake-up). Installed on first use; never removed.
int wakeSignal();

}  // namespace rtlat
