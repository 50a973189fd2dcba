{
  "targets": [
    {
      "target_name": "rtlat",
      "sources": [
        "native/binding.cc",
        "native/core/code_lock.cc",
        "native/core/cpuid.cc",
        "native/core/locked_region.cc",
        "native/core/measuring_thread.cc",
        "native/core/rt_setup.cc",
        "native/core/session.cc",
        "native/core/wake_signal.cc",
        "native/trace/page_reader.cc",
        "native/trace_binding.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Werror"],
      "libraries": ["-lpthread"],
      "ldflags": ["-Wl,-z,now"]
    },
    {
      "target_name": "rtlat-load",
      "type": "executable",
      "sources": [
        "native/load/command.c",
        "native/load/kinds.c",
        "native/load/main.c",
        "native/load/workers.c"
      ],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Werror"]
    }
  ]
}
