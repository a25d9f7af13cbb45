// rtnetlink: orbitald's data-plane addon (contract: src/daemon/dataplane/netlink/rtnetlink-types.ts; wrapper:
// rtnetlink.ts). JavaScript API (the wrapper is its only user):
//
//   new RtnetlinkSocket({ netnsPath? })      a NETLINK_ROUTE socket, in the given network namespace if any
//     .listLinks()                         Promise of LinkInfo[]
//     .listAddresses()                     Promise of { nums, strings }: AddressInfo[] flattened
//     .listRoutes(table?, protocol?)       Promise of { nums, strings }: RouteInfo[] flattened (both families;
//                                          undefined: no filter)
//     .execute(prepared[])                 Promise of { errnos: Int32Array, messages: [index, text][] }
//     .subscribe(callback)                 Subscription; callback() on the JS thread when events wait
//   Subscription.take(max)                 up to max waiting events, flat (FlatEvents), or undefined; kind 3
//                                          (overrun) marks lost events (ENOBUFS)
//     .close()
//   prepare(nums, strings, firstIndex)     validates NetlinkOp[] (flattened by the wrapper) and builds their
//                                          requests (JS thread)
//   Subscription.stop()
//
// Dumps and executions run, in the order they were called, on one worker thread per socket and are delivered
// back through a thread-safe function; events are read on their own thread. Nothing blocks the event loop
// except prepare() and building result objects, which the wrapper keeps short by chunking.
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>

#include "bindings.h"

namespace rtnl {

Napi::Error ErrnoError(Napi::Env env, int err, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("errno", Napi::Number::New(env, err));
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* name = strerrorname_np(err)) e.Set("code", Napi::String::New(env, name));
#endif
  return e;
}

namespace {

constexpr int kEventRcvbuf = 32 * 1024 * 1024;
constexpr size_t kMaxPendingEvents = 1 << 20;
const napi_type_tag kPreparedTag = {0x6f72626974616c72ULL, 0x746e6c707265702eULL};
const napi_type_tag kSubscriptionTag = {0x6f72626974616c72ULL, 0x746e6c7375622e2eULL};

/** Starts a thread with every signal blocked: signals stay with Node's threads, syscalls see no EINTR. */
int StartThread(pthread_t* thread, void* (*fn)(void*), void* arg) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const int err = pthread_create(thread, nullptr, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return err;
}

// ---- C++ records to JS: links as objects (few, with non-ASCII text and BigInt counters) ----

struct JsKeys {
  explicit JsKeys(Napi::Env e) : env(e) {}
  Napi::String K(const char* s) const { return Napi::String::New(env, s); }
  Napi::Env env;
  const Napi::String ifindex = K("ifindex"), name = K("name"), kind = K("kind"), loopback = K("loopback"), up = K("up"),
                     operState = K("operState"), mtu = K("mtu"), mac = K("mac"), alias = K("alias"),
                     parentIndex = K("parentIndex"), vlanId = K("vlanId"), stats = K("stats"), rxBytes = K("rxBytes"),
                     rxPackets = K("rxPackets"), rxErrors = K("rxErrors"), rxDropped = K("rxDropped"),
                     txBytes = K("txBytes"), txPackets = K("txPackets"), txErrors = K("txErrors"),
                     txDropped = K("txDropped");
};

Napi::Object ToJs(const JsKeys& k, const Link& l) {
  Napi::Env env = k.env;
  Napi::Object o = Napi::Object::New(env);
  o.Set(k.ifindex, Napi::Number::New(env, l.ifindex));
  o.Set(k.name, Napi::String::New(env, l.name));
  o.Set(k.kind, Napi::String::New(env, l.kind));
  o.Set(k.loopback, Napi::Boolean::New(env, l.loopback));
  o.Set(k.up, Napi::Boolean::New(env, l.up));
  o.Set(k.operState, Napi::Number::New(env, l.operState));
  o.Set(k.mtu, Napi::Number::New(env, l.mtu));
  o.Set(k.mac, Napi::String::New(env, l.mac));
  o.Set(k.alias, Napi::String::New(env, l.alias));
  if (l.hasParent) o.Set(k.parentIndex, Napi::Number::New(env, l.parentIndex));
  if (l.hasVlan) o.Set(k.vlanId, Napi::Number::New(env, l.vlanId));
  Napi::Object s = Napi::Object::New(env);
  s.Set(k.rxBytes, Napi::BigInt::New(env, l.stats.rxBytes));
  s.Set(k.rxPackets, Napi::BigInt::New(env, l.stats.rxPackets));
  s.Set(k.rxErrors, Napi::BigInt::New(env, l.stats.rxErrors));
  s.Set(k.rxDropped, Napi::BigInt::New(env, l.stats.rxDropped));
  s.Set(k.txBytes, Napi::BigInt::New(env, l.stats.txBytes));
  s.Set(k.txPackets, Napi::BigInt::New(env, l.stats.txPackets));
  s.Set(k.txErrors, Napi::BigInt::New(env, l.stats.txErrors));
  s.Set(k.txDropped, Napi::BigInt::New(env, l.stats.txDropped));
  o.Set(k.stats, s);
  return o;
}

template <typename T>
Napi::Array ToJsArray(Napi::Env env, const std::vector<T>& items) {
  const JsKeys keys(env);
  Napi::Array arr = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); i++) {
    Napi::HandleScope scope(env);
    arr.Set(static_cast<uint32_t>(i), ToJs(keys, items[i]));
  }
  return arr;
}

// Big dumps travel flat, { nums: Float64Array, strings } (decoded in rtnetlink.ts): creating objects in
// JavaScript costs a fraction of creating them through Node-API.

Napi::Object Flat(Napi::Env env, const std::vector<double>& nums, const std::string& strings) {
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, nums.size() * sizeof(double));
  if (!nums.empty()) std::memcpy(ab.Data(), nums.data(), nums.size() * sizeof(double));
  napi_value text;
  napi_create_string_latin1(env, strings.data(), strings.size(), &text);  // addresses: ASCII
  Napi::Object o = Napi::Object::New(env);
  o.Set("nums", Napi::Float64Array::New(env, nums.size(), ab, 0));
  o.Set("strings", Napi::Value(env, text));
  return o;
}

Napi::Object FlatRoutes(Napi::Env env, const std::vector<Route>& routes) {
  std::vector<double> nums;
  nums.reserve(routes.size() * kRouteStride);
  std::string strings;
  strings.reserve(routes.size() * 16);
  for (const Route& r : routes) {
    const double fields[kRouteStride] = {static_cast<double>(r.family), static_cast<double>(r.table),
                                         r.hasOif ? static_cast<double>(r.oif) : -1.0, static_cast<double>(r.priority),
                                         static_cast<double>(r.protocol), static_cast<double>(r.type),
                                         static_cast<double>(r.scope), static_cast<double>(r.destination.size()),
                                         static_cast<double>(r.gateway.size())};
    nums.insert(nums.end(), fields, fields + kRouteStride);
    strings += r.destination;
    strings += r.gateway;
  }
  return Flat(env, nums, strings);
}

Napi::Object FlatAddresses(Napi::Env env, const std::vector<Address>& addresses) {
  std::vector<double> nums;
  nums.reserve(addresses.size() * kAddressStride);
  std::string strings;
  for (const Address& a : addresses) {
    const double fields[kAddressStride] = {static_cast<double>(a.ifindex), static_cast<double>(a.family),
                                           static_cast<double>(a.prefixLength), static_cast<double>(a.scope),
                                           static_cast<double>(a.address.size())};
    nums.insert(nums.end(), fields, fields + kAddressStride);
    strings += a.address;
  }
  return Flat(env, nums, strings);
}

/**
 * Events, flat: kEventStride numbers each ([0] kind: 0 link, 1 address, 2 route, 3 overrun; [1] 1 new / 0 del;
 * then: link [2] index into `links` (LinkInfo objects: few, with non-ASCII names and BigInt counters);
 * address [2..6] ifindex, family, prefixLength, scope, address length; route [2..10] family, table, oif (-1:
 * none), priority, protocol, type, scope, destination length, gateway length), addresses joined in `strings`.
 */
Napi::Object FlatEvents(Napi::Env env, const std::vector<Event>& events) {
  std::vector<double> nums(events.size() * kEventStride, 0.0);
  std::string strings;
  const JsKeys keys(env);
  Napi::Array links = Napi::Array::New(env);
  uint32_t nlinks = 0;
  for (size_t i = 0; i < events.size(); i++) {
    const Event& e = events[i];
    double* f = nums.data() + i * kEventStride;
    f[0] = e.kind == Event::LINK ? 0 : e.kind == Event::ADDRESS ? 1 : e.kind == Event::ROUTE ? 2 : 3;
    f[1] = e.isNew ? 1 : 0;
    if (e.kind == Event::LINK) {
      Napi::HandleScope scope(env);
      f[2] = nlinks;
      links.Set(nlinks++, ToJs(keys, e.link));
    } else if (e.kind == Event::ADDRESS) {
      const Address& a = e.address;
      f[2] = a.ifindex, f[3] = a.family, f[4] = a.prefixLength, f[5] = a.scope, f[6] = static_cast<double>(a.address.size());
      strings += a.address;
    } else if (e.kind == Event::ROUTE) {
      const Route& r = e.route;
      f[2] = r.family, f[3] = r.table, f[4] = r.hasOif ? r.oif : -1, f[5] = r.priority, f[6] = r.protocol;
      f[7] = r.type, f[8] = r.scope, f[9] = static_cast<double>(r.destination.size());
      f[10] = static_cast<double>(r.gateway.size());
      strings += r.destination;
      strings += r.gateway;
    }
  }
  Napi::Object o = Flat(env, nums, strings);
  o.Set("links", links);
  return o;
}

// ---- a request socket and its worker thread ----

struct Job {
  enum Kind { LINKS, ADDRESSES, ROUTES, EXECUTE } kind = LINKS;
  napi_deferred deferred = nullptr;
  int64_t table = -1;
  int protocol = -1;
  std::vector<std::unique_ptr<Prepared>> batches;
  Status status;
  std::vector<Link> links;
  std::vector<Address> addresses;
  std::vector<Route> routes;
  ExecResult exec;
};

/**
 * Owns the request socket, the namespace descriptor and the worker thread. Lives until closed and every
 * job is delivered (self_), or as long as its JS object, whichever is longer. On environment teardown
 * (process exit, worker exit) the cleanup hook stops and joins the thread before Node frees anything.
 */
class Core {
 public:
  static std::shared_ptr<Core> Open(Napi::Env env, const std::string* netnsPath, const SocketOptions& opts, Status* st) {
    std::shared_ptr<Core> core(new Core(env));
    if (netnsPath) {
      core->nsfd_ = open(netnsPath->c_str(), O_RDONLY | O_CLOEXEC);
      if (core->nsfd_ < 0) {
        *st = Status::Errno("open(" + *netnsPath + ")", errno);
        return nullptr;
      }
    }
    *st = core->sock_.Open(core->nsfd_, opts);
    if (!st->ok()) {
      const std::string label = "setns(netnsPath)";
      if (netnsPath && st->what.compare(0, label.size(), label) == 0) st->what.replace(0, label.size(), "setns(" + *netnsPath + ")");
      return nullptr;
    }
    napi_value name;
    napi_create_string_utf8(env, "orbital:rtnetlink", NAPI_AUTO_LENGTH, &name);
    if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, core.get(), CallJs,
                                        &core->tsfn_) != napi_ok) {
      *st = Status{ENOMEM, "napi_create_threadsafe_function failed"};
      return nullptr;
    }
    napi_unref_threadsafe_function(env, core->tsfn_);  // idle sockets do not keep the process alive
    if (const int err = StartThread(&core->thread_, ThreadMain, core.get())) {
      napi_release_threadsafe_function(core->tsfn_, napi_tsfn_release);
      *st = Status::Errno("pthread_create", err);
      return nullptr;
    }
    core->threadStarted_ = true;
    // Registered after the thread-safe function, so it runs before Node's own teardown of that function.
    napi_add_env_cleanup_hook(env, EnvCleanup, core.get());
    core->hook_ = true;
    core->self_ = core;
    return core;
  }

  ~Core() {
    sock_.Close();
    if (nsfd_ >= 0) close(nsfd_);
  }

  bool closed() const { return closed_; }
  int netnsFd() const { return nsfd_; }

  /** Queues a job (JS thread) and returns its promise. */
  Napi::Value Submit(Napi::Env env, std::unique_ptr<Job> job) {
    napi_value promise;
    if (napi_create_promise(env, &job->deferred, &promise) != napi_ok) return env.Undefined();
    if (closed_) {
      napi_reject_deferred(env, job->deferred, ErrnoError(env, EBADF, "the rtnetlink socket is closed").Value());
      return Napi::Value(env, promise);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(job.release());
    }
    cv_.notify_one();
    if (pending_++ == 0) napi_ref_threadsafe_function(env, tsfn_);  // work in flight keeps the process alive
    return Napi::Value(env, promise);
  }

  /** No new jobs; the queued ones still complete, then the thread and the sockets go. */
  void Close() {
    if (closed_) return;
    closed_ = true;
    if (pending_ == 0) Finish();
  }

 private:
  explicit Core(Napi::Env env) : env_(env) {}

  static void* ThreadMain(void* arg) {
    static_cast<Core*>(arg)->Run();
    return nullptr;
  }

  void Run() {
    for (;;) {
      Job* job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (abandon_ || queue_.empty()) return;
        job = queue_.front();
        queue_.pop_front();
      }
      switch (job->kind) {
        case Job::LINKS: job->status = sock_.DumpLinks(&job->links); break;
        case Job::ADDRESSES: job->status = sock_.DumpAddresses(&job->addresses); break;
        case Job::ROUTES: job->status = sock_.DumpRoutes(job->table, job->protocol, &job->routes); break;
        case Job::EXECUTE: sock_.Execute(job->batches, cancel_, &job->exec); break;
      }
      job->batches.clear();
      if (napi_call_threadsafe_function(tsfn_, job, napi_tsfn_nonblocking) != napi_ok) delete job;  // tearing down
    }
  }

  static void CallJs(napi_env env, napi_value, void* context, void* data) {
    std::unique_ptr<Job> job(static_cast<Job*>(data));
    if (!env) return;  // the environment is going away: only free the job
    auto* core = static_cast<Core*>(context);
    Napi::Env e(env);
    {
      Napi::HandleScope scope(e);
      Deliver(e, job.get());
    }
    if (--core->pending_ == 0) {
      napi_unref_threadsafe_function(env, core->tsfn_);
      if (core->closed_) core->Finish();  // may delete core
    }
  }

  static void Deliver(Napi::Env env, Job* job) {
    if (!job->status.ok()) {
      napi_reject_deferred(env, job->deferred, ErrnoError(env, job->status.err, job->status.what).Value());
      return;
    }
    Napi::Value result;
    switch (job->kind) {
      case Job::LINKS: result = ToJsArray(env, job->links); break;
      case Job::ADDRESSES: result = FlatAddresses(env, job->addresses); break;
      case Job::ROUTES: result = FlatRoutes(env, job->routes); break;
      case Job::EXECUTE: {
        const auto& ex = job->exec;
        Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, ex.errnos.size() * sizeof(int32_t));
        if (!ex.errnos.empty()) std::memcpy(ab.Data(), ex.errnos.data(), ex.errnos.size() * sizeof(int32_t));
        Napi::Array messages = Napi::Array::New(env, ex.messages.size());
        for (size_t i = 0; i < ex.messages.size(); i++) {
          Napi::HandleScope scope(env);
          Napi::Array pair = Napi::Array::New(env, 2);
          pair.Set(0u, Napi::Number::New(env, ex.messages[i].first));
          pair.Set(1u, Napi::String::New(env, ex.messages[i].second));
          messages.Set(static_cast<uint32_t>(i), pair);
        }
        Napi::Object o = Napi::Object::New(env);
        o.Set("errnos", Napi::Int32Array::New(env, ex.errnos.size(), ab, 0));
        o.Set("messages", messages);
        result = o;
        break;
      }
    }
    if (env.IsExceptionPending()) {
      napi_reject_deferred(env, job->deferred, env.GetAndClearPendingException().Value());
      return;
    }
    napi_resolve_deferred(env, job->deferred, result);
  }

  /** JS thread, nothing pending: stop and join the thread, release everything. May delete this. */
  void Finish() {
    if (finished_) return;
    finished_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (threadStarted_) pthread_join(thread_, nullptr);
    threadStarted_ = false;
    napi_release_threadsafe_function(tsfn_, napi_tsfn_release);
    if (hook_) napi_remove_env_cleanup_hook(env_, EnvCleanup, this);
    hook_ = false;
    sock_.Close();
    if (nsfd_ >= 0) close(nsfd_);
    nsfd_ = -1;
    std::shared_ptr<Core> last = std::move(self_);
  }

  static void EnvCleanup(void* arg) {
    auto* core = static_cast<Core*>(arg);
    if (core->finished_) return;
    core->finished_ = true;
    core->closed_ = true;
    {
      std::lock_guard<std::mutex> lock(core->mu_);
      core->stop_ = true;
      core->abandon_ = true;  // the job in progress stops at its next sendmsg
    }
    core->cancel_ = true;
    core->cv_.notify_all();
    if (core->threadStarted_) pthread_join(core->thread_, nullptr);
    core->threadStarted_ = false;
    for (Job* job : core->queue_) delete job;
    core->queue_.clear();
    core->sock_.Close();
    // The thread-safe function is torn down by Node right after this hook; the Core itself is left to its JS
    // object (or to the process's end).
  }

  napi_env env_;
  int nsfd_ = -1;
  RequestSocket sock_;
  pthread_t thread_{};
  bool threadStarted_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job*> queue_;
  bool stop_ = false, abandon_ = false;
  std::atomic<bool> cancel_{false};
  napi_threadsafe_function tsfn_ = nullptr;
  // JS thread only:
  size_t pending_ = 0;
  bool closed_ = false, finished_ = false, hook_ = false;
  std::shared_ptr<Core> self_;
};

// ---- event subscriptions ----

/**
 * A socket joined to the link/address/route groups, read (and parsed) on its own thread into a queue; a
 * thread-safe function tells JS when events wait, and JS takes them in slices. Owned jointly by its JS object
 * and its thread-safe function (refs_), both released on the JS thread.
 */
class Subscription {
 public:
  static Subscription* Start(Napi::Env env, int netnsFd, Napi::Function callback, Status* st) {
    auto* s = new Subscription(env);
    const std::vector<unsigned> groups = {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE,
                                          RTNLGRP_IPV6_ROUTE};
    *st = OpenRouteSocket(netnsFd, groups, kEventRcvbuf, &s->nl_);
    if (st->ok()) {
      s->efd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (s->efd_ < 0) *st = Status::Errno("eventfd", errno);
    }
    napi_value name;
    napi_create_string_utf8(env, "orbital:rtnetlink-events", NAPI_AUTO_LENGTH, &name);
    if (st->ok() && napi_create_threadsafe_function(env, callback, nullptr, name, 0, 1, s, Finalize, s, CallJs,
                                                    &s->tsfn_) != napi_ok) {
      *st = Status{ENOMEM, "napi_create_threadsafe_function failed"};
    }
    if (!st->ok()) {
      s->CloseFds();
      delete s;
      return nullptr;
    }
    if (const int err = StartThread(&s->thread_, ThreadMain, s)) {
      *st = Status::Errno("pthread_create", err);
      s->stopped_ = true;
      s->CloseFds();
      s->refs_ = 1;  // only the thread-safe function: its finalizer frees s
      napi_release_threadsafe_function(s->tsfn_, napi_tsfn_release);
      return nullptr;
    }
    s->threadStarted_ = true;
    napi_add_env_cleanup_hook(env, EnvCleanup, s);
    s->hook_ = true;
    return s;
  }

  /** JS thread; idempotent. Later queued deliveries are dropped. */
  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    Halt();
    if (hook_) napi_remove_env_cleanup_hook(env_, EnvCleanup, this);
    hook_ = false;
    napi_release_threadsafe_function(tsfn_, napi_tsfn_release);
  }

  bool stopped() const { return stopped_; }

  /** The JS object lets go (JS thread). */
  void Unref() {
    Stop();
    if (--refs_ == 0) delete this;
  }

 private:
  explicit Subscription(Napi::Env env) : env_(env) {}

  void CloseFds() {
    if (nl_) mnl_socket_close(nl_);
    nl_ = nullptr;
    if (efd_ >= 0) close(efd_);
    efd_ = -1;
  }

  void Halt() {
    if (halted_) return;
    halted_ = true;
    const uint64_t one = 1;
    if (write(efd_, &one, sizeof(one)) < 0) {
      // cannot fail on a fresh eventfd; the join below would block otherwise
    }
    if (threadStarted_) pthread_join(thread_, nullptr);
    threadStarted_ = false;
    CloseFds();
  }

  static void* ThreadMain(void* arg) {
    static_cast<Subscription*>(arg)->Run();
    return nullptr;
  }

  void Run() {
    std::vector<char> buf(256 * 1024);
    const int fd = mnl_socket_get_fd(nl_);
    struct pollfd fds[2] = {{fd, POLLIN, 0}, {efd_, POLLIN, 0}};
    for (;;) {
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents) return;
      std::vector<Event> batch;
      bool fatal = false;
      for (int round = 0; round < 256; round++) {
        const ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          if (errno == EINTR) continue;
          Event lost;
          lost.kind = Event::OVERRUN;
          batch.push_back(std::move(lost));
          if (errno == ENOBUFS) continue;  // the kernel dropped events; reading goes on
          fatal = true;
          break;
        }
        int len = static_cast<int>(n);
        for (const auto* nlh = reinterpret_cast<const struct nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
             nlh = mnl_nlmsg_next(nlh, &len)) {
          Event e;
          if (ParseEvent(nlh, &e)) batch.push_back(std::move(e));
        }
      }
      if (!batch.empty()) Push(std::move(batch));
      if (fatal) return;
    }
  }

  void Push(std::vector<Event>&& batch) {
    bool call = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Event& e : batch) {
        if (pending_.size() >= kMaxPendingEvents) {  // JS has not kept up at all: say events were lost
          if (pending_.back().kind != Event::OVERRUN) {
            Event lost;
            lost.kind = Event::OVERRUN;
            pending_.push_back(std::move(lost));
          }
          break;
        }
        pending_.push_back(std::move(e));
      }
      if (!scheduled_) call = scheduled_ = true;
    }
    if (call) napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking);
  }

  /**
   * Tells JS that events wait (once per empty → non-empty transition of the queue); JS then takes them in
   * slices with take(), one slice per turn of its event loop, so that a burst (100,000 route events when a
   * big batch is installed) never holds the loop for long.
   */
  static void CallJs(napi_env env, napi_value callback, void* context, void*) {
    auto* s = static_cast<Subscription*>(context);
    if (!env || s->stopped_) return;
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, callback, 0, nullptr, nullptr);  // a throwing callback: uncaught exception
  }

 public:
  /** Up to `max` waiting events, flat (FlatEvents); undefined when none wait (JS thread). */
  Napi::Value Take(Napi::Env env, size_t max) {
    std::vector<Event> take;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const size_t n = std::min(pending_.size(), max);
      take.reserve(n);
      for (size_t i = 0; i < n; i++) {
        take.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
      if (pending_.empty()) scheduled_ = false;  // the next event signals again
    }
    if (take.empty()) return env.Undefined();
    return FlatEvents(env, take);
  }

 private:
  static void Finalize(napi_env, void* data, void*) {
    auto* s = static_cast<Subscription*>(data);
    if (--s->refs_ == 0) delete s;
  }

  static void EnvCleanup(void* arg) {
    auto* s = static_cast<Subscription*>(arg);
    s->stopped_ = true;
    s->hook_ = false;
    s->Halt();
  }

  napi_env env_;
  struct mnl_socket* nl_ = nullptr;
  int efd_ = -1;
  pthread_t thread_{};
  bool threadStarted_ = false;
  napi_threadsafe_function tsfn_ = nullptr;
  std::mutex mu_;
  std::deque<Event> pending_;
  bool scheduled_ = false;
  // JS thread only:
  bool stopped_ = false, halted_ = false, hook_ = false;
  int refs_ = 2;  // the JS object and the thread-safe function
};

// ---- JS classes ----

struct AddonData {
  Napi::FunctionReference subscriptionCtor;
};

class SubscriptionWrap : public Napi::ObjectWrap<SubscriptionWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Subscription",
                       {InstanceMethod<&SubscriptionWrap::Take>("take"), InstanceMethod<&SubscriptionWrap::Stop>("stop")});
  }

  explicit SubscriptionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SubscriptionWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal() || !info[0].As<Napi::External<Subscription>>().CheckTypeTag(&kSubscriptionTag)) {
      Napi::TypeError::New(info.Env(), "Subscription objects come from RtnetlinkSocket.subscribe()").ThrowAsJavaScriptException();
      return;
    }
    sub_ = info[0].As<Napi::External<Subscription>>().Data();
  }

  ~SubscriptionWrap() override {
    if (sub_) sub_->Unref();
  }

 private:
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (sub_) sub_->Stop();
    return info.Env().Undefined();
  }

  Napi::Value Take(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const double max = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : NAN;
    if (!(max >= 1 && max <= 1e6)) {
      Napi::TypeError::New(env, "take(max: 1..1000000)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!sub_ || sub_->stopped()) return env.Undefined();
    return sub_->Take(env, static_cast<size_t>(max));
  }

  Subscription* sub_ = nullptr;
};

/** An optional integer option in [min, max]; *out stays 0 when absent. False once it has thrown. */
bool OptionalField(const Napi::Object& o, const char* name, double min, double max, double* out) {
  *out = 0;
  Napi::Value v;
  if (!o.Get(name).UnwrapTo(&v)) return false;
  if (v.IsUndefined()) return true;
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= min && d <= max) || d != static_cast<double>(static_cast<int64_t>(d))) {
    Napi::TypeError::New(o.Env(), std::string(name) + " must be an integer " + std::to_string(static_cast<int64_t>(min)) +
                                      ".." + std::to_string(static_cast<int64_t>(max)))
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = d;
  return true;
}

bool OptionalInt(const Napi::CallbackInfo& info, size_t i, const char* what, double max, int64_t* out) {
  if (info.Length() <= i || info[i].IsUndefined()) return true;
  if (!info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be an integer").ThrowAsJavaScriptException();
    return false;
  }
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || d != static_cast<double>(static_cast<int64_t>(d))) {
    Napi::RangeError::New(info.Env(), std::string(what) + " out of range").ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

class SocketWrap : public Napi::ObjectWrap<SocketWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RtnetlinkSocket",
                       {InstanceMethod<&SocketWrap::ListLinks>("listLinks"),
                        InstanceMethod<&SocketWrap::ListAddresses>("listAddresses"),
                        InstanceMethod<&SocketWrap::ListRoutes>("listRoutes"),
                        InstanceMethod<&SocketWrap::Execute>("execute"),
                        InstanceMethod<&SocketWrap::Subscribe>("subscribe"),
                        InstanceMethod<&SocketWrap::Close>("close")});
  }

  explicit SocketWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SocketWrap>(info) {
    Napi::Env env = info.Env();
    SocketOptions opts;
    std::string path;
    bool hasPath = false;
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      if (!info[0].IsObject()) {
        Napi::TypeError::New(env, "options must be an object").ThrowAsJavaScriptException();
        return;
      }
      const Napi::Object o = info[0].As<Napi::Object>();
      Napi::Value v;
      if (!o.Get("netnsPath").UnwrapTo(&v)) return;
      if (!v.IsUndefined()) {
        if (!v.IsString() || (path = v.As<Napi::String>().Utf8Value()).empty() || path.find('\0') != std::string::npos) {
          Napi::TypeError::New(env, "netnsPath must be a non-empty path").ThrowAsJavaScriptException();
          return;
        }
        hasPath = true;
      }
      double d = 0;
      if (!OptionalField(o, "receiveBufferBytes", 1024, 1 << 30, &d)) return;
      if (d > 0) opts.rcvbufBytes = static_cast<int>(d);
      if (!OptionalField(o, "maxBatchMessages", 1, 1 << 20, &d)) return;
      if (d > 0) opts.maxBatchMessages = static_cast<size_t>(d);
    }
    Status st;
    core_ = Core::Open(env, hasPath ? &path : nullptr, opts, &st);
    if (!core_) ErrnoError(env, st.err, st.what).ThrowAsJavaScriptException();
  }

  ~SocketWrap() override {
    if (core_) core_->Close();
  }

 private:
  Napi::Value Run(Napi::Env env, std::unique_ptr<Job> job) {
    if (!core_) {  // the constructor failed
      ErrnoError(env, EBADF, "the rtnetlink socket is not open").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return core_->Submit(env, std::move(job));
  }

  Napi::Value ListLinks(const Napi::CallbackInfo& info) {
    auto job = std::make_unique<Job>();
    job->kind = Job::LINKS;
    return Run(info.Env(), std::move(job));
  }

  Napi::Value ListAddresses(const Napi::CallbackInfo& info) {
    auto job = std::make_unique<Job>();
    job->kind = Job::ADDRESSES;
    return Run(info.Env(), std::move(job));
  }

  Napi::Value ListRoutes(const Napi::CallbackInfo& info) {
    auto job = std::make_unique<Job>();
    job->kind = Job::ROUTES;
    int64_t protocol = -1;
    if (!OptionalInt(info, 0, "table", 4294967295.0, &job->table) || !OptionalInt(info, 1, "protocol", 255, &protocol)) {
      return info.Env().Undefined();
    }
    job->protocol = static_cast<int>(protocol);
    return Run(info.Env(), std::move(job));
  }

  Napi::Value Execute(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto job = std::make_unique<Job>();
    job->kind = Job::EXECUTE;
    if (info.Length() != 1 || !info[0].IsArray()) {
      Napi::TypeError::New(env, "execute(prepared[]): an array of prepare() results").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<Prepared*> parts;
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value v;
      if (!arr.Get(i).UnwrapTo(&v)) return env.Undefined();
      if (!v.IsExternal() || !v.As<Napi::External<Prepared>>().CheckTypeTag(&kPreparedTag)) {
        Napi::TypeError::New(env, "execute(prepared[]): an array of prepare() results").ThrowAsJavaScriptException();
        return env.Undefined();
      }
      Prepared* p = v.As<Napi::External<Prepared>>().Data();
      if (p->consumed || std::find(parts.begin(), parts.end(), p) != parts.end()) {
        Napi::Error::New(env, "a prepared batch can be executed once").ThrowAsJavaScriptException();
        return env.Undefined();
      }
      parts.push_back(p);
    }
    for (Prepared* p : parts) {
      auto part = std::make_unique<Prepared>();
      part->buf = std::move(p->buf);
      part->offsets = std::move(p->offsets);
      p->consumed = true;
      job->batches.push_back(std::move(part));
    }
    return Run(env, std::move(job));
  }

  Napi::Value Subscribe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsFunction()) {
      Napi::TypeError::New(env, "subscribe(callback: (events) => void)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!core_ || core_->closed()) {
      ErrnoError(env, EBADF, "the rtnetlink socket is closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Status st;
    Subscription* sub = Subscription::Start(env, core_->netnsFd(), info[0].As<Napi::Function>(), &st);
    if (!sub) {
      ErrnoError(env, st.err, st.what).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::External<Subscription> ext = Napi::External<Subscription>::New(env, sub);
    ext.TypeTag(&kSubscriptionTag);
    Napi::Object obj;
    if (!env.GetInstanceData<AddonData>()->subscriptionCtor.New({ext}).UnwrapTo(&obj)) {
      sub->Unref();  // the wrapper was not made: drop the JS object's share
      return env.Undefined();
    }
    return obj;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (core_) core_->Close();
    return info.Env().Undefined();
  }

  std::shared_ptr<Core> core_;
};

Napi::Value Prepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t first = 0;
  if (!OptionalInt(info, 2, "firstIndex", 4294967295.0, &first)) return env.Undefined();
  std::unique_ptr<Prepared> p = PrepareOps(env, info[0], info[1], static_cast<uint32_t>(first));
  if (!p) return env.Undefined();
  Napi::External<Prepared> ext = Napi::External<Prepared>::New(env, p.release(), [](Napi::Env, Prepared* d) { delete d; });
  ext.TypeTag(&kPreparedTag);
  return ext;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->subscriptionCtor = Napi::Persistent(SubscriptionWrap::Define(env));
  env.SetInstanceData<AddonData>(data);
  exports.Set("RtnetlinkSocket", SocketWrap::Define(env));
  exports.Set("Subscription", data->subscriptionCtor.Value());
  exports.Set("prepare", Napi::Function::New(env, Prepare, "prepare"));
  return exports;
}

}  // namespace

}  // namespace rtnl

static Napi::Object InitRtnetlink(Napi::Env env, Napi::Object exports) { return rtnl::Init(env, exports); }

NODE_API_MODULE(rtnetlink, InitRtnetlink)
