// The N-API binding: converts between JS values and the engine's structs, and nothing else.
// Validation and every user-facing message live in the TypeScript layer (src/native.ts).
#include <napi.h>
#include <sched.h>

#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "core/cpuid.h"
#include "core/rt_setup.h"
#include "core/session.h"
#include "trace_binding.h"

namespace {

using rtlat::Policy;

Policy parsePolicy(const std::string& name) {
  if (name == "rr") return Policy::RoundRobin;
  if (name == "other") return Policy::Other;
  if (name == "deadline") return Policy::Deadline;
  return Policy::Fifo;
}

const char* policyName(int policy) {
  switch (policy) {
    case SCHED_FIFO: return "fifo";
    case SCHED_RR: return "rr";
    case SCHED_OTHER: return "other";
    case SCHED_BATCH: return "batch";
    case SCHED_IDLE: return "idle";
    case 6: return "deadline";
    default: return "unknown";
  }
}

int64_t int64Field(const Napi::Object& object, const char* key, int64_t fallback = 0) {
  const Napi::Value value = object.Get(key);
  return value.IsNumber() ? value.As<Napi::Number>().Int64Value() : fallback;
}

bool boolField(const Napi::Object& object, const char* key, bool fallback) {
  const Napi::Value value = object.Get(key);
  return value.IsBoolean() ? value.As<Napi::Boolean>().Value() : fallback;
}

rtlat::SessionConfig parseConfig(const Napi::Object& object) {
  rtlat::SessionConfig config;
  const Napi::Array threads = object.Get("threads").As<Napi::Array>();
  for (uint32_t i = 0; i < threads.Length(); ++i) {
    const Napi::Object thread = threads.Get(i).As<Napi::Object>();
    rtlat::ThreadConfig entry;
    entry.cpu = static_cast<int>(int64Field(thread, "cpu", -1));
    entry.policy = parsePolicy(thread.Get("policy").ToString().Utf8Value());
    entry.priority = static_cast<int>(int64Field(thread, "priority", 99));
    entry.periodNs = int64Field(thread, "periodNs", 1000000);
    entry.runtimeNs = int64Field(thread, "runtimeNs");
    entry.deadlineNs = int64Field(thread, "deadlineNs");
    entry.ringCapacity = static_cast<std::size_t>(int64Field(thread, "ringCapacity", 1 << 16));
    entry.testStallAfterCycles = static_cast<uint64_t>(int64Field(thread, "testStallAfterCycles"));
    entry.testStallNs = int64Field(thread, "testStallNs");
    config.threads.push_back(entry);
  }
  config.clock = object.Get("clock").ToString().Utf8Value() == "realtime" ? CLOCK_REALTIME : CLOCK_MONOTONIC;
  config.loops = static_cast<uint64_t>(int64Field(object, "loops"));
  config.durationNs = int64Field(object, "durationNs");
  config.alignToSecond = boolField(object, "alignToSecond", false);
  config.lockMemory = boolField(object, "lockMemory", true);
  config.requestDmaLatency = boolField(object, "requestDmaLatency", true);
  config.allowDegraded = boolField(object, "allowDegraded", false);
  config.breakThresholdNs = int64Field(object, "breakThresholdNs");
  return config;
}

Napi::Array cpuList(Napi::Env env, const cpu_set_t& set) {
  Napi::Array cpus = Napi::Array::New(env);
  uint32_t next = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.Set(next++, cpu);
  }
  return cpus;
}

Napi::Object threadReport(Napi::Env env, const rtlat::SetupReport& report) {
  Napi::Object errors = Napi::Object::New(env);
  errors.Set("affinity", report.errors.affinity);
  errors.Set("policy", report.errors.policy);
  errors.Set("timerSlack", report.errors.timerSlack);
  errors.Set("memoryLock", report.memoryLockErrno);
  Napi::Object applied = Napi::Object::New(env);
  applied.Set("policy", policyName(report.applied.policy));
  applied.Set("priority", report.applied.priority);
  applied.Set("nice", report.applied.niceValue);
  applied.Set("runtimeNs", static_cast<double>(report.applied.runtimeNs));
  applied.Set("deadlineNs", static_cast<double>(report.applied.deadlineNs));
  applied.Set("periodNs", static_cast<double>(report.applied.periodNs));
  applied.Set("timerSlackNs", static_cast<double>(report.applied.timerSlackNs));
  applied.Set("cpus", cpuList(env, report.applied.affinity));
  Napi::Object result = Napi::Object::New(env);
  result.Set("tid", report.tid);
  result.Set("memoryLocked", report.memoryLocked);
  result.Set("errors", errors);
  result.Set("applied", applied);
  return result;
}

class RtlatAddon;

class NativeSession : public Napi::ObjectWrap<NativeSession> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeSession",
                       {InstanceMethod<&NativeSession::Start>("start"),
                        InstanceMethod<&NativeSession::Drain>("drain"),
                        InstanceMethod<&NativeSession::Stats>("stats"),
                        InstanceMethod<&NativeSession::RequestStop>("requestStop"),
                        InstanceMethod<&NativeSession::Finished>("finished"),
                        InstanceMethod<&NativeSession::Join>("join"),
                        InstanceMethod<&NativeSession::Close>("close"),
                        InstanceMethod<&NativeSession::Break>("breakInfo")});
  }

  NativeSession(const Napi::CallbackInfo& info);
  ~NativeSession() override;

  // Called when the environment (the main thread or a worker) is torn down.
  void stopNow() {
    session_->requestStop();
    session_->join();
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  void RequestStop(const Napi::CallbackInfo&) { session_->requestStop(); }
  Napi::Value Finished(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), session_->finished()); }
  void Join(const Napi::CallbackInfo&) { session_->join(); }
  void Close(const Napi::CallbackInfo&) { session_->close(); }
  Napi::Value Break(const Napi::CallbackInfo& info);

  std::unique_ptr<rtlat::Session> session_;
  RtlatAddon* addon_;
};

// Per-environment state (SetInstanceData through Napi::Addon), so the addon works in workers.
class RtlatAddon : public Napi::Addon<RtlatAddon> {
 public:
  RtlatAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {InstanceValue("NativeSession", NativeSession::Define(env), napi_enumerable),
                          InstanceValue("NativePageReader", rtlat::defineNativePageReader(env), napi_enumerable),
                          InstanceMethod<&RtlatAddon::HypervisorVendor>("hypervisorVendor", napi_enumerable),
                          InstanceMethod<&RtlatAddon::PinThread>("pinThread", napi_enumerable)});
    // One hook for the environment's whole life, never removed: removing a hook that already ran is
    // the double free node-addon-api's CleanupHook::Remove is known for. It stops every live session
    // before the environment goes, so no thread outlives the memory it writes to.
    napi_add_env_cleanup_hook(env, &RtlatAddon::StopAll, this);
  }

  std::set<NativeSession*> live;

 private:
  // hypervisorVendor(): CPUID's hypervisor signature, or null on bare metal.
  Napi::Value HypervisorVendor(const Napi::CallbackInfo& info) {
    const std::string vendor = rtlat::hypervisorVendor();
    return vendor.empty() ? info.Env().Null() : Napi::String::New(info.Env(), vendor);
  }

  // pinThread(tid, cpus): 0 or the errno of sched_setaffinity.
  Napi::Value PinThread(const Napi::CallbackInfo& info) {
    const Napi::Array list = info[1].As<Napi::Array>();
    std::vector<int> cpus(list.Length());
    for (uint32_t i = 0; i < list.Length(); i++) cpus[i] = list.Get(i).As<Napi::Number>().Int32Value();
    const int error = rtlat::pinThread(info[0].As<Napi::Number>().Int32Value(), cpus.data(), cpus.size());
    return Napi::Number::New(info.Env(), error);
  }

  static void StopAll(void* data) {
    for (NativeSession* session : static_cast<RtlatAddon*>(data)->live) session->stopNow();
  }
};

NativeSession::NativeSession(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<NativeSession>(info), addon_(info.Env().GetInstanceData<RtlatAddon>()) {
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw Napi::TypeError::New(info.Env(), "NativeSession needs a configuration object");
  }
  session_ = std::make_unique<rtlat::Session>(parseConfig(info[0].As<Napi::Object>()));
  addon_->live.insert(this);
}

NativeSession::~NativeSession() {
  addon_->live.erase(this);
  // session_'s destructor stops and joins: a collected session never leaves a thread behind.
}

Napi::Value NativeSession::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rtlat::StartResult result;
  try {
    result = session_->start();
  } catch (const std::exception& error) {
    throw Napi::Error::New(env, std::string("rtlat: could not set up the measuring threads: ") + error.what());
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("started", result.started);
  out.Set("refused", result.refused);
  out.Set("launchErrno", result.launchErrno);
  Napi::Object codeLock = Napi::Object::New(env);
  codeLock.Set("locked", result.codeLock.locked);
  codeLock.Set("bytes", static_cast<double>(result.codeLock.bytes));
  codeLock.Set("objects", result.codeLock.objects);
  codeLock.Set("errno", result.codeLock.error);
  out.Set("codeLock", codeLock);
  Napi::Object dma = Napi::Object::New(env);
  dma.Set("held", result.dmaLatencyHeld);
  dma.Set("errno", result.dmaLatencyErrno);
  out.Set("dmaLatency", dma);
  out.Set("tracingReachable", result.tracingReachable);
  out.Set("epochNs", static_cast<double>(result.epochNs));
  Napi::Array threads = Napi::Array::New(env);
  for (std::size_t i = 0; i < session_->threadCount(); ++i) {
    threads.Set(static_cast<uint32_t>(i), threadReport(env, session_->thread(i).setupReport()));
  }
  out.Set("threads", threads);
  return out;
}

// drain(threadIndex, Float64Array): fills triples (latencyNs, dueNs, cycle); returns the sample count.
Napi::Value NativeSession::Drain(const Napi::CallbackInfo& info) {
  const uint32_t index = info[0].As<Napi::Number>().Uint32Value();
  Napi::Float64Array buffer = info[1].As<Napi::Float64Array>();
  if (index >= session_->threadCount()) throw Napi::RangeError::New(info.Env(), "thread index out of range");
  double* out = buffer.Data();
  const std::size_t drained = session_->thread(index).ring().drain(buffer.ElementLength() / 3, [&](const rtlat::Sample& s) {
    // Nanosecond values stay exact as doubles up to 2^53 ns (104 days).
    *out++ = static_cast<double>(s.latencyNs);
    *out++ = static_cast<double>(s.dueNs);
    *out++ = static_cast<double>(s.cycle);
  });
  return Napi::Number::New(info.Env(), static_cast<double>(drained));
}

Napi::Value NativeSession::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array all = Napi::Array::New(env);
  for (std::size_t i = 0; i < session_->threadCount(); ++i) {
    const rtlat::ThreadStats& stats = session_->thread(i).stats();
    Napi::Object out = Napi::Object::New(env);
    const uint64_t count = stats.count.load(std::memory_order_acquire);
    out.Set("count", static_cast<double>(count));
    out.Set("overruns", static_cast<double>(stats.overruns.load(std::memory_order_relaxed)));
    out.Set("dropped", static_cast<double>(stats.dropped.load(std::memory_order_relaxed)));
    out.Set("minNs", count ? static_cast<double>(stats.minNs.load(std::memory_order_relaxed)) : 0.0);
    out.Set("maxNs", count ? static_cast<double>(stats.maxNs.load(std::memory_order_relaxed)) : 0.0);
    out.Set("sumNs", static_cast<double>(stats.sumNs.load(std::memory_order_relaxed)));
    out.Set("sumUs", static_cast<double>(stats.sumUs.load(std::memory_order_relaxed)));
    out.Set("lastNs", static_cast<double>(stats.lastNs.load(std::memory_order_relaxed)));
    out.Set("pageFaults", static_cast<double>(stats.pageFaults.load(std::memory_order_relaxed)));
    out.Set("finished", stats.finished.load(std::memory_order_acquire));
    all.Set(static_cast<uint32_t>(i), out);
  }
  return all;
}

Napi::Value NativeSession::Break(const Napi::CallbackInfo& info) {
  const rtlat::BreakInfo broken = session_->breakInfo();
  if (broken.thread < 0) return info.Env().Null();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("thread", broken.thread);
  out.Set("latencyNs", static_cast<double>(broken.latencyNs));
  return out;
}

}  // namespace

NODE_API_ADDON(RtlatAddon)
