// The N-API side of the trace page reader (native/trace/page_reader.h): the NativePageReader class.
#pragma once

#include <napi.h>

namespace rtlat {

Napi::Function defineNativePageReader(Napi::Env env);

}  // namespace rtlat
