// Converts between JS values and the page reader's structs, and nothing else; the TypeScript layer
// (src/trace/) validates, sizes and parses.
#include "trace_binding.h"

#include <memory>
#include <string>
#include <vector>

#include "trace/page_reader.h"

namespace rtlat {
namespace {

class NativePageReader : public Napi::ObjectWrap<NativePageReader> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativePageReader",
                       {InstanceMethod<&NativePageReader::Start>("start"),
                        InstanceMethod<&NativePageReader::Stop>("stop"),
                        InstanceMethod<&NativePageReader::DrainedUpTo>("drainedUpToNs"),
                        InstanceMethod<&NativePageReader::CopyRange>("copyRange"),
                        InstanceMethod<&NativePageReader::Stats>("stats"),
                        InstanceMethod<&NativePageReader::PriorityErrno>("priorityErrno")});
  }

  explicit NativePageReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativePageReader>(info) {
    if (info.Length() < 1 || !info[0].IsObject()) {
      throw Napi::TypeError::New(info.Env(), "NativePageReader needs a configuration object");
    }
    const Napi::Object object = info[0].As<Napi::Object>();
    PageReaderConfig config;
    const Napi::Array paths = object.Get("paths").As<Napi::Array>();
    for (uint32_t i = 0; i < paths.Length(); ++i) config.paths.push_back(paths.Get(i).ToString().Utf8Value());
    config.pageBytes = static_cast<std::size_t>(object.Get("pageBytes").As<Napi::Number>().Int64Value());
    config.maxPagesPerCpu = static_cast<std::size_t>(object.Get("maxPagesPerCpu").As<Napi::Number>().Int64Value());
    config.keepNs = object.Get("keepNs").As<Napi::Number>().Int64Value();
    config.pollIntervalNs = object.Get("pollIntervalNs").As<Napi::Number>().Int64Value();
    config.fifoPriority = object.Get("fifoPriority").As<Napi::Number>().Int32Value();
    // The boundary re-checks what could make the reader write out of bounds.
    if (config.pageBytes < 64 || config.pageBytes > (1 << 20) || config.maxPagesPerCpu < 2 ||
        config.maxPagesPerCpu > (1 << 24) || config.pollIntervalNs <= 0 || config.keepNs <= 0 ||
        config.fifoPriority < 0 || config.fifoPriority > 99) {
      throw Napi::RangeError::New(info.Env(), "NativePageReader: page size, page count or interval out of range");
    }
    reader_ = std::make_unique<PageReader>(std::move(config));
  }

 private:
  // start(): 0 or the errno of the first file that could not be opened.
  Napi::Value Start(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), reader_->start()); }
  void Stop(const Napi::CallbackInfo&) { reader_->stop(); }
  Napi::Value PriorityErrno(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), reader_->priorityErrno()); }
  Napi::Value DrainedUpTo(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(reader_->drainedUpToNs()));
  }

  // copyRange(cpuIndex, fromNs, toNs, pages: Uint8Array, lengths: Uint32Array) -> { pages, startLost }
  Napi::Value CopyRange(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint32_t index = info[0].As<Napi::Number>().Uint32Value();
    const int64_t fromNs = info[1].As<Napi::Number>().Int64Value();
    const int64_t toNs = info[2].As<Napi::Number>().Int64Value();
    Napi::Uint8Array pages = info[3].As<Napi::Uint8Array>();
    Napi::Uint32Array lengths = info[4].As<Napi::Uint32Array>();
    if (index >= reader_->cpuCount()) throw Napi::RangeError::New(env, "CPU index out of range");
    std::size_t maxPages = pages.ByteLength() / reader_->pageBytes();
    if (lengths.ElementLength() < maxPages) maxPages = lengths.ElementLength();
    const RangeCopy copy = reader_->copyRange(index, fromNs, toNs, pages.Data(), lengths.Data(), maxPages);
    Napi::Object out = Napi::Object::New(env);
    out.Set("pages", static_cast<double>(copy.pages));
    out.Set("startLost", copy.startLost);
    return out;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array all = Napi::Array::New(env);
    for (std::size_t i = 0; i < reader_->cpuCount(); ++i) {
      const PageReaderStats stats = reader_->stats(i);
      Napi::Object out = Napi::Object::New(env);
      out.Set("pagesRead", static_cast<double>(stats.pagesRead));
      out.Set("bytesRead", static_cast<double>(stats.bytesRead));
      out.Set("pagesEvicted", static_cast<double>(stats.pagesEvicted));
      out.Set("pagesKept", static_cast<double>(stats.pagesKept));
      out.Set("readErrno", stats.readErrno);
      all.Set(static_cast<uint32_t>(i), out);
    }
    return all;
  }

  // Its destructor stops and joins the thread: a collected reader never leaves one behind.
  std::unique_ptr<PageReader> reader_;
};

}  // namespace

Napi::Function defineNativePageReader(Napi::Env env) { return NativePageReader::Define(env); }

}  // namespace rtlat
