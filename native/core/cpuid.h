// The hypervisor's own name for itself, from CPUID: the most direct witness of virtualization.
#pragma once

#include <string>

namespace rtlat {

// The vendor signature of CPUID leaf 0x40000000 ("KVMKVMKVM", "XenVMMXenVMM", "Microsoft Hv",
// "VMwareVMware", "TCGTCGTCGTCG", ...) when the CPU's hypervisor bit is set; "" on bare metal and on
// CPUs without CPUID.
std::string hypervisorVendor();

}  // namespace rtlat
