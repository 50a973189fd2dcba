#include "cpuid.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

#include <cstring>
#endif

namespace rtlat {

std::string hypervisorVendor() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  // Leaf 1, ECX bit 31: "running under a hypervisor", reserved as 0 on real hardware.
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || (ecx & (1U << 31)) == 0) return "";
  __cpuid(0x40000000, eax, ebx, ecx, edx);
  char vendor[13];
  std::memcpy(vendor + 0, &ebx, 4);
  std::memcpy(vendor + 4, &ecx, 4);
  std::memcpy(vendor + 8, &edx, 4);
  vendor[12] = '\0';
  return std::string(vendor);  // stops at the first NUL: "KVMKVMKVM\0\0\0" -> "KVMKVMKVM"
#else
  return "";
#endif
}

}  // namespace rtlat
