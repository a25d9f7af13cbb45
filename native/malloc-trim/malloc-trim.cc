// malloc-trim: hands the pages that glibc's malloc holds free back to the kernel (malloc_trim(0)), in every
// arena. glibc returns memory by itself only from the top of a heap, so the holes that a burst of connections
// leaves behind stay resident; orbitald calls this every few seconds (src/daemon/process-memory.ts). Nothing
// else lives here. glibc only (the image's libc); without the addon orbitald runs on and says so in its log.
#include <napi.h>

#include <malloc.h>

namespace {

Napi::Value Trim(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("trim", Napi::Function::New(env, Trim));
  return exports;
}

}  // namespace

NODE_API_MODULE(malloc_trim, Init)
