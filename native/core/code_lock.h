// Locks the code (and its data) that the measuring loop runs: this addon and libc (not the vDSO,
// which mlock() cannot lock; see code_lock.cc).
//
// mlockall() would be simpler, but inside Node it also locks V8's huge reserved regions, and V8
// then aborts when it changes their protection. So lock exactly the shared objects the loop uses,
// found with dl_iterate_phdr(). The lock is process-wide and reference-counted across sessions.
#pragma once

#include <cstddef>

namespace rtlat {

struct CodeLockReport {
  bool locked = false;
  std::size_t bytes = 0;
  int objects = 0;  // shared objects whose segments were locked (2 when both were found)
  int error = 0;    // errno of the first refused mlock()
};

CodeLockReport acquireCodeLock();
void releaseCodeLock();

}  // namespace rtlat
