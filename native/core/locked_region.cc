#include "locked_region.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace rtlat {

std::size_t pageSize() {
  static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

static std::size_t roundUpToPage(std::size_t bytes) {
  const std::size_t page = pageSize();
  return (bytes + page - 1) / page * page;
}

LockedRegion::LockedRegion(std::size_t bytes, bool lock, std::size_t guardBytes) {
  const std::size_t guard = roundUpToPage(guardBytes);
  usableBytes_ = roundUpToPage(bytes);
  mappingBytes_ = usableBytes_ + guard;
  mapping_ = mmap(nullptr, mappingBytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping_ == MAP_FAILED) {
    mapping_ = nullptr;
    throw std::system_error(errno, std::generic_category(), "mmap");
  }
  if (guard > 0 && mprotect(mapping_, guard, PROT_NONE) != 0) {
    const int error = errno;
    release();
    throw std::system_error(error, std::generic_category(), "mprotect");
  }
  usable_ = static_cast<char*>(mapping_) + guard;
  // fork() (every child_process spawn) would make these pages copy-on-write in this process too, so
  // that the measuring thread's next write to each faults, locked or not. With MADV_WIPEONFORK the
  // kernel copies no page table entries of the region, so this process's pages stay writable, and the
  // child gets zero-filled pages instead. Not MADV_DONTFORK: glibc keeps each thread's struct pthread
  // at the top of its stack, and its fork() child code writes into the neighbours of the forking
  // thread's entry in its list of threads, which must therefore stay mapped in the child.
  if (madvise(mapping_, mappingBytes_, MADV_WIPEONFORK) != 0) {
    const int error = errno;
    release();
    throw std::system_error(error, std::generic_category(), "madvise(MADV_WIPEONFORK)");
  }
  if (lock) {
    if (mlock(usable_, usableBytes_) == 0) {
      locked_ = true;
      return;
    }
    lockErrno_ = errno;
  }
  // Touch every page so the first samples do not pay for the faults.
  for (std::size_t offset = 0; offset < usableBytes_; offset += pageSize()) {
    static_cast<volatile char*>(usable_)[offset] = 0;
  }
}

LockedRegion::~LockedRegion() { release(); }

LockedRegion::LockedRegion(LockedRegion&& other) noexcept { *this = std::move(other); }

LockedRegion& LockedRegion::operator=(LockedRegion&& other) noexcept {
  if (this != &other) {
    release();
    mapping_ = std::exchange(other.mapping_, nullptr);
    mappingBytes_ = std::exchange(other.mappingBytes_, 0);
    usable_ = std::exchange(other.usable_, nullptr);
    usableBytes_ = std::exchange(other.usableBytes_, 0);
    locked_ = std::exchange(other.locked_, false);
    lockErrno_ = std::exchange(other.lockErrno_, 0);
  }
  return *this;
}

void LockedRegion::release() noexcept {
  if (mapping_ != nullptr) {
    // munmap drops the lock with the mapping.
    munmap(mapping_, mappingBytes_);
    mapping_ = nullptr;
  }
}

}  // namespace rtlat
