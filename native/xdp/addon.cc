// xdp: orbitald's XDP fast-path addon (contract: src/daemon/dataplane/xdp/xdp-addon.ts, its only user).
// JavaScript API, a thin binding of fast-path.h:
//
//   new FastPath()
//     .open(dir, objectFile)              { adopted, progId }: adopt the pins in dir, or load and pin
//     .links()                            [{ ifindex, pinned, linkId, progId }] pinned in dir/links
//     .attach(ifindex)                    { native, nativeErrno? }: a pinned link, native or else generic
//     .detach(ifindex)                    unpin its link, forget its lists and counters
//     .takeOverLinks(oldDir)              [ifindex]: links of an older program moved onto this one
//     .replaceList(family, ifindex, keys, verdicts, digest)   Promise: new trie, filled, swapped in
//     .digests()                          [{ ifindex, family, digest (hex) }]
//     .counters()                         [{ ifindex, droppedPackets, droppedBytes, allowedPackets,
//                                           allowedBytes, passedPackets, passedBytes }] (BigInt)
//     .query(ifindex)                     { mode: "native"|"generic"|"offload"|"multi"|"none", progId }
//     .remove()                           unpin everything (no link may be left)
//     .close()
//   removePinnedTree(dir)
//
// Failures throw (or reject with) an Error carrying `errno` (number), `code` ("ENOMEM") and `operation`.
// Filling a list runs on a libuv worker thread; everything else is one or a few syscalls on the JS thread.
#include <bpf/libbpf.h>
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "fast-path.h"

namespace {

Napi::Error KernelError(Napi::Env env, const xdp::Failure& f) {
  Napi::Error e = Napi::Error::New(env, f.what + ": " + strerror(f.err));
  e.Set("errno", Napi::Number::New(env, f.err));
  e.Set("operation", Napi::String::New(env, f.what));
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* name = strerrorname_np(f.err)) e.Set("code", Napi::String::New(env, name));
#endif
  return e;
}

std::string Hex(const uint8_t* bytes, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; i++) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

/** A JavaScript array of `items`, each made by `make` (an object or a number). */
template <typename T, typename Make>
Napi::Array ToArray(Napi::Env env, const std::vector<T>& items, Make make) {
  Napi::Array out = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); i++) out.Set(static_cast<uint32_t>(i), make(items[i]));
  return out;
}

/** Fills and swaps one list off the JS thread; holds the buffers until it is done. */
class ReplaceListWorker : public Napi::AsyncWorker {
 public:
  ReplaceListWorker(Napi::Env env, const xdp::FastPath* fp, uint32_t family, uint32_t ifindex, Napi::Buffer<uint8_t> keys,
                    Napi::Buffer<uint8_t> verdicts, Napi::Buffer<uint8_t> digest)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), fp_(fp), family_(family), ifindex_(ifindex) {
    keys_ = Napi::Persistent(keys);
    verdicts_ = Napi::Persistent(verdicts);
    digest_ = Napi::Persistent(digest);
    keyData_ = keys.Data();
    verdictData_ = verdicts.Data();
    digestData_ = digest.Data();
    count_ = static_cast<uint32_t>(verdicts.Length());
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { failure_ = fp_->ReplaceList(family_, ifindex_, keyData_, verdictData_, count_, digestData_); }
  void OnOK() override {
    if (failure_.failed()) deferred_.Reject(KernelError(Env(), failure_).Value());
    else deferred_.Resolve(Env().Undefined());
  }

 private:
  Napi::Promise::Deferred deferred_;
  const xdp::FastPath* fp_;
  uint32_t family_, ifindex_, count_ = 0;
  Napi::Reference<Napi::Buffer<uint8_t>> keys_, verdicts_, digest_;
  const uint8_t *keyData_ = nullptr, *verdictData_ = nullptr, *digestData_ = nullptr;
  xdp::Failure failure_;
};

class FastPathObject : public Napi::ObjectWrap<FastPathObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FastPath",
                       {InstanceMethod("open", &FastPathObject::Open), InstanceMethod("links", &FastPathObject::Links),
                        InstanceMethod("attach", &FastPathObject::Attach), InstanceMethod("detach", &FastPathObject::Detach),
                        InstanceMethod("takeOverLinks", &FastPathObject::TakeOverLinks),
                        InstanceMethod("replaceList", &FastPathObject::ReplaceList),
                        InstanceMethod("digests", &FastPathObject::Digests), InstanceMethod("counters", &FastPathObject::Counters),
                        InstanceMethod("query", &FastPathObject::Query), InstanceMethod("remove", &FastPathObject::Remove),
                        InstanceMethod("close", &FastPathObject::Close)});
  }
  explicit FastPathObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FastPathObject>(info) {}

 private:
  /** Throws a kernel failure as a JS exception; true when there was one. */
  static bool Threw(Napi::Env env, const xdp::Failure& f) {
    if (!f.failed()) return false;
    KernelError(env, f).ThrowAsJavaScriptException();
    return true;
  }

  static bool Args(const Napi::CallbackInfo& info, size_t n, const char* usage) {
    if (info.Length() >= n) return true;
    Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
    return false;
  }

  Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Args(info, 2, "open(dir, objectFile)")) return env.Undefined();
    bool adopted = false;
    if (Threw(env, fp_.Open(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(), &adopted))) return env.Undefined();
    Napi::Object out = Napi::Object::New(env);
    out.Set("adopted", Napi::Boolean::New(env, adopted));
    out.Set("progId", Napi::Number::New(env, fp_.ProgId()));
    return out;
  }

  Napi::Value Links(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<xdp::LinkRecord> links;
    if (Threw(env, fp_.Links(&links))) return env.Undefined();
    return ToArray(env, links, [&](const xdp::LinkRecord& l) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("ifindex", Napi::Number::New(env, l.ifindex));
      o.Set("pinned", Napi::Number::New(env, l.pinned));
      o.Set("linkId", Napi::Number::New(env, l.linkId));
      o.Set("progId", Napi::Number::New(env, l.progId));
      return o;
    });
  }

  Napi::Value Attach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Args(info, 1, "attach(ifindex)")) return env.Undefined();
    bool native = false;
    int refusal = 0;
    if (Threw(env, fp_.Attach(info[0].As<Napi::Number>().Uint32Value(), &native, &refusal))) return env.Undefined();
    Napi::Object out = Napi::Object::New(env);
    out.Set("native", Napi::Boolean::New(env, native));
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    if (refusal) out.Set("nativeErrno", Napi::String::New(env, strerrorname_np(refusal) ? strerrorname_np(refusal) : "?"));
#endif
    return out;
  }

  Napi::Value Detach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Args(info, 1, "detach(ifindex)")) return env.Undefined();
    Threw(env, fp_.Detach(info[0].As<Napi::Number>().Uint32Value()));
    return env.Undefined();
  }

  Napi::Value TakeOverLinks(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Args(info, 1, "takeOverLinks(oldDir)")) return env.Undefined();
    std::vector<uint32_t> moved;
    if (Threw(env, fp_.TakeOverLinks(info[0].As<Napi::String>().Utf8Value(), &moved))) return env.Undefined();
    return ToArray(env, moved, [&](uint32_t ifindex) { return Napi::Number::New(env, ifindex); });
  }

  Napi::Value ReplaceList(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Args(info, 5, "replaceList(family, ifindex, keys, verdicts, digest)")) return env.Undefined();
    const uint32_t family = info[0].As<Napi::Number>().Uint32Value();
    auto keys = info[2].As<Napi::Buffer<uint8_t>>();
    auto verdicts = info[3].As<Napi::Buffer<uint8_t>>();
    auto digest = info[4].As<Napi::Buffer<uint8_t>>();
    const size_t keySize = family == 4 ? 8 : 20;
    if ((family != 4 && family != 6) || keys.Length() != verdicts.Length() * keySize || digest.Length() != 32) {
      Napi::TypeError::New(env, "replaceList: family 4 or 6, keys of verdicts.length entries, a 32-byte digest").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto* worker = new ReplaceListWorker(env, &fp_, family, info[1].As<Napi::Number>().Uint32Value(), keys, verdicts, digest);
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  Napi::Value Digests(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<xdp::ListDigest> digests;
    if (Threw(env, fp_.Digests(&digests))) return env.Undefined();
    return ToArray(env, digests, [&](const xdp::ListDigest& d) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("ifindex", Napi::Number::New(env, d.ifindex));
      o.Set("family", Napi::Number::New(env, d.family));
      o.Set("digest", Napi::String::New(env, Hex(d.digest, 32)));
      return o;
    });
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<xdp::CounterRecord> records;
    if (Threw(env, fp_.Counters(&records))) return env.Undefined();
    static const char* names[6] = {"droppedPackets", "droppedBytes", "allowedPackets", "allowedBytes", "passedPackets", "passedBytes"};
    return ToArray(env, records, [&](const xdp::CounterRecord& r) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("ifindex", Napi::Number::New(env, r.ifindex));
      for (int k = 0; k < 6; k++) o.Set(names[k], Napi::BigInt::New(env, r.values[k]));
      return o;
    });
  }

  Napi::Value Query(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Args(info, 1, "query(ifindex)")) return env.Undefined();
    xdp::AttachState state;
    if (Threw(env, fp_.Query(info[0].As<Napi::Number>().Uint32Value(), &state))) return env.Undefined();
    Napi::Object out = Napi::Object::New(env);
    out.Set("mode", Napi::String::New(env, state.mode));
    out.Set("progId", Napi::Number::New(env, state.progId));
    return out;
  }

  Napi::Value Remove(const Napi::CallbackInfo& info) {
    Threw(info.Env(), fp_.Remove());
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    fp_.CloseAll();
    return info.Env().Undefined();
  }

  xdp::FastPath fp_;
};

Napi::Value RemovePinnedTree(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1) {
    Napi::TypeError::New(env, "removePinnedTree(dir)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  xdp::Failure f = xdp::RemovePinnedTree(info[0].As<Napi::String>().Utf8Value());
  if (f.failed()) KernelError(env, f).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // libbpf prints warnings on stderr by default; orbitald reports failures through the errors instead.
  libbpf_set_print(nullptr);
  exports.Set("FastPath", FastPathObject::Define(env));
  exports.Set("removePinnedTree", Napi::Function::New(env, RemovePinnedTree));
  return exports;
}

}  // namespace

NODE_API_MODULE(xdp, Init)
