// Anonymous memory that the measuring thread may touch without page faults.
//
// The region is mapped up front and, when locking is requested and allowed, mlock()ed, which also
// faults every page in. Without a lock it is still pre-faulted by writing to each page, so a run
// without privileges starts warm even though the kernel may later reclaim the pages.
#pragma once

#include <cstddef>

namespace rtlat {

class LockedRegion {
 public:
  LockedRegion() = default;
  // Maps `bytes` (rounded up to pages) plus `guardBytes` of PROT_NONE below it (for stacks).
  // Throws std::system_error when the mapping itself fails; a refused lock is reported, not thrown.
  LockedRegion(std::size_t bytes, bool lock, std::size_t guardBytes = 0);
  ~LockedRegion();

  LockedRegion(const LockedRegion&) = delete;
  LockedRegion& operator=(const LockedRegion&) = delete;
  LockedRegion(LockedRegion&& other) noexcept;
  LockedRegion& operator=(LockedRegion&& other) noexcept;

  void* data() const { return usable_; }
  std::size_t size() const { return usableBytes_; }
  bool locked() const { return locked_; }
  // errno of a refused mlock(), 0 when locked or not asked to lock.
  int lockErrno() const { return lockErrno_; }

 private:
  void release() noexcept;

  void* mapping_ = nullptr;
  std::size_t mappingBytes_ = 0;
  void* usable_ = nullptr;
  std::size_t usableBytes_ = 0;
  bool locked_ = false;
  int lockErrno_ = 0;
};

std::size_t pageSize();

}  // namespace rtlat
