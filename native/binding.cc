// The N-API binding: converts between JS values and the engine's structs, and nothing else.
// Every user-facing message lives in the TypeScript layer (src/native.ts, src/options.ts), which
// validates first; this file checks again everything that crosses the boundary, as better-sqlite3
// does, so that no caller can hand the engine a value it would misuse (a ring of capacity 0, whose
// mask is 2^64-1; a CPU past CPU_SETSIZE; a period of 0, which would spin at SCHED_FIFO 99).
#include <napi.h>
#include <sched.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <system_error>
#include <vector>

#include "core/cpuid.h"
#include "core/hdr_counts.h"
#include "core/rt_setup.h"
#include "core/session.h"
#include "trace_binding.h"

namespace {

using rtlat::Policy;

// The engine's own bounds; src/options.ts narrows them further for people.
constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1: exact in a JS number
constexpr double kPeriodMinNs = 1000;
constexpr double kPeriodMaxNs = 10e9;
constexpr double kRingCapacityMax = 1 << 30;
constexpr uint32_t kThreadsMax = 4096;
constexpr double kRecordIntervalMaxNs = 60e9;  // the rings hold seconds, not minutes

std::string describe(const Napi::Value& value) {
  if (value.IsUndefined()) return "undefined (missing)";
  if (value.IsNull()) return "null";
  if (value.IsNumber()) {
    const double number = value.As<Napi::Number>().DoubleValue();
    if (std::isnan(number)) return "NaN";
    return Napi::Value(value).ToString().Utf8Value();
  }
  if (value.IsString()) {
    const std::string text = value.As<Napi::String>().Utf8Value();
    return "\"" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "\"";
  }
  if (value.IsBoolean()) return "a boolean";
  if (value.IsArray()) return "an array";
  if (value.IsFunction()) return "a function";
  return "an object";
}

// Reads one checked field after another; every failure names the field by its path in the config.
class Reader {
 public:
  explicit Reader(Napi::Env env) : env_(env) {}

  [[noreturn]] void fail(bool typeError, const std::string& path, const std::string& expected,
                         const Napi::Value& got) const {
    const std::string message = "rtlat: NativeSession: " + path + ": expected " + expected + ", got " + describe(got);
    if (typeError) throw Napi::TypeError::New(env_, message);
    throw Napi::RangeError::New(env_, message);
  }

  Napi::Object object(const Napi::Value& value, const std::string& path) const {
    if (!value.IsObject() || value.IsArray()) fail(true, path, "an object", value);
    return value.As<Napi::Object>();
  }

  // A whole number from min to max.
  int64_t integer(const Napi::Object& owner, const std::string& path, const char* key, double min, double max) const {
    const Napi::Value value = owner.Get(key);
    const std::string field = path + "." + key;
    const std::string expected = "a whole number from " + format(min) + " to " + format(max);
    if (!value.IsNumber()) fail(true, field, expected, value);
    const double number = value.As<Napi::Number>().DoubleValue();
    if (!(number >= min && number <= max) || std::trunc(number) != number) fail(false, field, expected, value);
    return static_cast<int64_t>(number);
  }

  bool boolean(const Napi::Object& owner, const std::string& path, const char* key) const {
    const Napi::Value value = owner.Get(key);
    if (!value.IsBoolean()) fail(true, path + "." + key, "true or false", value);
    return value.As<Napi::Boolean>().Value();
  }

  // One of `names`; returns its index.
  std::size_t oneOf(const Napi::Object& owner, const std::string& path, const char* key,
                    std::initializer_list<const char*> names) const {
    const Napi::Value value = owner.Get(key);
    std::string expected;
    for (const char* name : names) expected += (expected.empty() ? "" : ", ") + std::string("\"") + name + "\"";
    expected = "one of " + expected;
    if (!value.IsString()) fail(true, path + "." + key, expected, value);
    const std::string given = value.As<Napi::String>().Utf8Value();
    std::size_t index = 0;
    for (const char* name : names) {
      if (given == name) return index;
      index++;
    }
    fail(false, path + "." + key, expected, value);
  }

 private:
  static std::string format(double value) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.0f", value);
    return text;
  }

  Napi::Env env_;
};

rtlat::ThreadConfig parseThread(const Reader& read, const Napi::Value& value, const std::string& path) {
  const Napi::Object thread = read.object(value, path);
  rtlat::ThreadConfig entry;
  entry.cpu = static_cast<int>(read.integer(thread, path, "cpu", -1, CPU_SETSIZE - 1));
  constexpr Policy policies[] = {Policy::Fifo, Policy::RoundRobin, Policy::Other, Policy::Deadline};
  entry.policy = policies[read.oneOf(thread, path, "policy", {"fifo", "rr", "other", "deadline"})];
  entry.priority = static_cast<int>(read.integer(thread, path, "priority", 0, 99));
  entry.periodNs = read.integer(thread, path, "periodNs", kPeriodMinNs, kPeriodMaxNs);
  const double periodNs = static_cast<double>(entry.periodNs);
  entry.runtimeNs = read.integer(thread, path, "runtimeNs", 0, periodNs);
  entry.deadlineNs = read.integer(thread, path, "deadlineNs", 0, periodNs);
  const int64_t capacity = read.integer(thread, path, "ringCapacity", 1, kRingCapacityMax);
  if ((capacity & (capacity - 1)) != 0) {
    read.fail(false, path + ".ringCapacity", "a power of two from 1 to 1073741824", thread.Get("ringCapacity"));
  }
  entry.ringCapacity = static_cast<std::size_t>(capacity);
  entry.blockSize = static_cast<uint64_t>(read.integer(thread, path, "blockSize", 0, kMaxSafeInteger));
  entry.testStallAfterCycles = static_cast<uint64_t>(read.integer(thread, path, "testStallAfterCycles", 0, kMaxSafeInteger));
  entry.testStallNs = read.integer(thread, path, "testStallNs", 0, kPeriodMaxNs);
  entry.startOffsetNs = read.integer(thread, path, "startOffsetNs", 0, 1e9);
  return entry;
}

rtlat::SessionConfig parseConfig(const Reader& read, const Napi::Value& value) {
  const Napi::Object object = read.object(value, "config");
  rtlat::SessionConfig config;
  const Napi::Value threads = object.Get("threads");
  if (!threads.IsArray()) read.fail(true, "config.threads", "an array of thread configurations", threads);
  const Napi::Array list = threads.As<Napi::Array>();
  if (list.Length() < 1 || list.Length() > kThreadsMax) {
    read.fail(false, "config.threads", "from 1 to 4096 thread configurations", Napi::Number::New(value.Env(), list.Length()));
  }
  for (uint32_t i = 0; i < list.Length(); ++i) {
    config.threads.push_back(parseThread(read, list.Get(i), "config.threads[" + std::to_string(i) + "]"));
  }
  config.clock = read.oneOf(object, "config", "clock", {"monotonic", "realtime"}) == 0 ? CLOCK_MONOTONIC : CLOCK_REALTIME;
  config.loops = static_cast<uint64_t>(read.integer(object, "config", "loops", 0, kMaxSafeInteger));
  config.loopsEndAll = read.boolean(object, "config", "loopsEndAll");
  config.durationNs = read.integer(object, "config", "durationNs", 0, kMaxSafeInteger);
  constexpr rtlat::Alignment alignments[] = {rtlat::Alignment::None, rtlat::Alignment::Together, rtlat::Alignment::FullSecond};
  config.alignment = alignments[read.oneOf(object, "config", "alignment", {"none", "together", "second"})];
  config.lockMemory = read.boolean(object, "config", "lockMemory");
  config.requestDmaLatency = read.boolean(object, "config", "requestDmaLatency");
  config.allowDegraded = read.boolean(object, "config", "allowDegraded");
  config.breakThresholdNs = read.integer(object, "config", "breakThresholdNs", 0, kMaxSafeInteger);
  config.traceOnBreak = read.boolean(object, "config", "traceOnBreak");
  config.recordIntervalNs = read.integer(object, "config", "recordIntervalNs", 0, kRecordIntervalMaxNs);
  return config;
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

Napi::Uint8Array bytes(Napi::Env env, const std::vector<uint8_t>& data) {
  Napi::Uint8Array out = Napi::Uint8Array::New(env, data.size());
  std::copy(data.begin(), data.end(), out.Data());
  return out;
}

class RtlatAddon;

class NativeSession : public Napi::ObjectWrap<NativeSession> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeSession",
                       {InstanceMethod<&NativeSession::Start>("start"),
                        InstanceMethod<&NativeSession::Drain>("drain"),
                        InstanceMethod<&NativeSession::DrainBlocks>("drainBlocks"),
                        InstanceMethod<&NativeSession::TakeHistogram>("takeHistogram"),
                        InstanceMethod<&NativeSession::Stats>("stats"),
                        InstanceMethod<&NativeSession::RequestStop>("requestStop"),
                        InstanceMethod<&NativeSession::Finished>("finished"),
                        InstanceMethod<&NativeSession::Join>("join"),
                        InstanceMethod<&NativeSession::Close>("close"),
                        InstanceMethod<&NativeSession::Break>("breakInfo")});
  }

  NativeSession(const Napi::CallbackInfo& info);
  ~NativeSession() override;

  // Called when the environment (the main thread or a worker) is torn down: wakes, joins and frees.
  void stopNow() { session_->close(); }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value DrainBlocks(const Napi::CallbackInfo& info);
  Napi::Value TakeHistogram(const Napi::CallbackInfo& info);
  std::size_t threadIndex(const Napi::CallbackInfo& info, const char* name);
  std::pair<std::size_t, Napi::Float64Array> drainArguments(const Napi::CallbackInfo& info, const char* name);
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
                          InstanceMethod<&RtlatAddon::PinThread>("pinThread", napi_enumerable),
                          InstanceMethod<&RtlatAddon::EncodeHistogramForTest>("encodeHistogramForTest", napi_enumerable)});
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
    const Reader read(info.Env());
    Napi::Object args = Napi::Object::New(info.Env());
    args.Set("tid", info[0]);
    const int tid = static_cast<int>(read.integer(args, "pinThread", "tid", 1, 4194304));  // PID_MAX_LIMIT
    if (!info[1].IsArray()) read.fail(true, "pinThread.cpus", "an array of CPU numbers", info[1]);
    const Napi::Array list = info[1].As<Napi::Array>();
    std::vector<int> cpus(list.Length());
    for (uint32_t i = 0; i < list.Length(); i++) {
      cpus[i] = static_cast<int>(read.integer(list, "pinThread.cpus", std::to_string(i).c_str(), 0, CPU_SETSIZE - 1));
    }
    const int error = rtlat::pinThread(tid, cpus.data(), cpus.size());
    return Napi::Number::New(info.Env(), error);
  }

  // Test-only: encodeHistogramForTest(Float64Array of ns): the values recorded as a session's
  // histogram thread records them, in the encoding takeHistogram() hands over.
  Napi::Value EncodeHistogramForTest(const Napi::CallbackInfo& info) {
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
      Reader(info.Env()).fail(true, "encodeHistogramForTest.values", "a Float64Array", info[0]);
    }
    const Napi::Float64Array values = info[0].As<Napi::Float64Array>();
    rtlat::HdrCounts counts;
    for (std::size_t i = 0; i < values.ElementLength(); ++i) {
      const double value = values[i];
      // +-2^63: beyond, the conversion to int64_t is undefined.
      if (!(std::fabs(value) < 9223372036854775808.0)) {
        Reader(info.Env()).fail(false, "encodeHistogramForTest.values", "values of ns within +-2^63", Napi::Number::New(info.Env(), value));
      }
      counts.record(static_cast<int64_t>(value));
    }
    std::vector<uint8_t> encoded;
    counts.takeEncoded(encoded);
    return bytes(info.Env(), encoded);
  }

  static void StopAll(void* data) {
    for (NativeSession* session : static_cast<RtlatAddon*>(data)->live) session->stopNow();
  }
};

NativeSession::NativeSession(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<NativeSession>(info), addon_(info.Env().GetInstanceData<RtlatAddon>()) {
  session_ = std::make_unique<rtlat::Session>(parseConfig(Reader(info.Env()), info[0]));
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
  for (std::size_t i = 0; i < result.threads.size(); ++i) {
    threads.Set(static_cast<uint32_t>(i), threadReport(env, result.threads[i]));
  }
  out.Set("threads", threads);
  return out;
}

// The first argument of drain(), drainBlocks() and takeHistogram(): a thread's index, checked.
std::size_t NativeSession::threadIndex(const Napi::CallbackInfo& info, const char* name) {
  const Reader read(info.Env());
  const std::string method(name);
  const std::size_t threads = session_->threadCount();
  if (threads == 0) read.fail(false, method + ".threadIndex", "the index of a thread, but the session has none (closed, or not started)", info[0]);
  Napi::Object args = Napi::Object::New(info.Env());
  args.Set("threadIndex", info[0]);
  return static_cast<std::size_t>(read.integer(args, method, "threadIndex", 0, static_cast<double>(threads - 1)));
}

// The arguments of drain() and drainBlocks(): a thread's index and the Float64Array to fill, checked.
std::pair<std::size_t, Napi::Float64Array> NativeSession::drainArguments(const Napi::CallbackInfo& info, const char* name) {
  const std::size_t index = threadIndex(info, name);
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    Reader(info.Env()).fail(true, std::string(name) + ".into", "a Float64Array", info[1]);
  }
  return {index, info[1].As<Napi::Float64Array>()};
}

// drain(threadIndex, Float64Array): fills triples (latencyNs, dueNs, cycle); returns the sample count.
Napi::Value NativeSession::Drain(const Napi::CallbackInfo& info) {
  auto [index, buffer] = drainArguments(info, "drain");
  // A ring has one consumer: in a session that records its histograms, that is its histogram thread.
  if (session_->recordsHistograms()) {
    throw Napi::Error::New(info.Env(), "rtlat: NativeSession.drain: this session records its samples itself (recordIntervalNs); takeHistogram() hands them over");
  }
  double* out = buffer.Data();
  const std::size_t drained = session_->thread(index).ring().drain(buffer.ElementLength() / 3, [&](const rtlat::Sample& s) {
    // Nanosecond values stay exact as doubles up to 2^53 ns (104 days).
    *out++ = static_cast<double>(s.latencyNs);
    *out++ = static_cast<double>(s.dueNs);
    *out++ = static_cast<double>(s.cycle);
  });
  return Napi::Number::New(info.Env(), static_cast<double>(drained));
}

// drainBlocks(threadIndex, Float64Array): fills pairs (maxNs, block); returns the block count.
Napi::Value NativeSession::DrainBlocks(const Napi::CallbackInfo& info) {
  auto [index, buffer] = drainArguments(info, "drainBlocks");
  double* out = buffer.Data();
  const std::size_t drained = session_->thread(index).blocks().drain(buffer.ElementLength() / 2, [&](const rtlat::BlockMaximum& b) {
    *out++ = static_cast<double>(b.maxNs);
    *out++ = static_cast<double>(b.block);
  });
  return Napi::Number::New(info.Env(), static_cast<double>(drained));
}

// takeHistogram(threadIndex): the latencies recorded since the previous take, as a Uint8Array in
// HdrHistogram's V2 encoding (uncompressed; ns, 3 significant digits). Its size is bounded by the
// histogram's buckets, never by the samples behind it.
Napi::Value NativeSession::TakeHistogram(const Napi::CallbackInfo& info) {
  const std::size_t index = threadIndex(info, "takeHistogram");
  if (!session_->recordsHistograms()) {
    throw Napi::Error::New(info.Env(), "rtlat: NativeSession.takeHistogram: this session does not record histograms (recordIntervalNs 0); drain() hands over its samples");
  }
  std::vector<uint8_t> encoded;
  session_->takeHistogram(index, encoded);
  return bytes(info.Env(), encoded);
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
    out.Set("blocksLost", static_cast<double>(stats.blocksLost.load(std::memory_order_relaxed)));
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
