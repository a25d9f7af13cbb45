// libbpf side of the xdp addon: see fast-path.h for what each operation guarantees.
#include "fast-path.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace xdp {

namespace {

constexpr const char* kProgram = "orbital_fast_path";
constexpr uint32_t kBatch = 65536;
// Key sizes of the tries (struct v4_key / v6_key of the program: prefix length, then the address).
constexpr uint32_t kV4KeySize = 4 + 4;
constexpr uint32_t kV6KeySize = 4 + 16;

Failure Fail(int err, const std::string& what) { return Failure{err < 0 ? -err : err, what}; }
Failure Ok() { return Failure{}; }

struct ListKey {
  uint32_t ifindex;
  uint32_t family;
};

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

/** Names in a directory (not . and ..); empty when it does not exist. */
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) out.emplace_back(e->d_name);
  }
  closedir(d);
  return out;
}

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};

}  // namespace

FastPath::~FastPath() { CloseAll(); }

void FastPath::CloseAll() {
  for (int* fd : {&progFd_, &v4Fd_, &v6Fd_, &countersFd_, &digestsFd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

Failure FastPath::PinAll(const std::string& dir) const {
  if (mkdir(dir.c_str(), 0700) != 0) return Fail(errno, "mkdir " + dir);
  if (mkdir((dir + "/links").c_str(), 0700) != 0) return Fail(errno, "mkdir " + dir + "/links");
  const std::pair<int, const char*> pins[] = {
      {progFd_, "prog"}, {v4Fd_, "v4_lists"}, {v6Fd_, "v6_lists"}, {countersFd_, "counters"}, {digestsFd_, "list_digests"}};
  for (const auto& [fd, name] : pins) {
    const std::string path = dir + "/" + name;
    if (bpf_obj_pin(fd, path.c_str()) != 0) return Fail(errno, "pin " + path);
  }
  return Ok();
}

Failure FastPath::Open(const std::string& dir, const std::string& objectFile, bool* adopted) {
  CloseAll();
  dir_ = dir;
  *adopted = false;
  if (Exists(dir + "/prog")) {
    const std::pair<int*, const char*> pins[] = {
        {&progFd_, "prog"}, {&v4Fd_, "v4_lists"}, {&v6Fd_, "v6_lists"}, {&countersFd_, "counters"}, {&digestsFd_, "list_digests"}};
    for (const auto& [fd, name] : pins) {
      const std::string path = dir + "/" + name;
      *fd = bpf_obj_get(path.c_str());
      if (*fd < 0) {
        const int err = errno;
        CloseAll();
        return Fail(err, "open pinned " + path);
      }
    }
    *adopted = true;
  } else {
    // A directory left by a crash while pinning: it was never in use (no link can be pinned before the rename).
    // (bpffs refuses names with a dot: they are kept for the kernel's own iterators.)
    const std::string staging = dir + "-new";
    if (Exists(staging)) {
      Failure f = RemovePinnedTree(staging);
      if (f.failed()) return f;
    }
    LIBBPF_OPTS(bpf_object_open_opts, opts);
    std::unique_ptr<bpf_object, ObjectCloser> obj(bpf_object__open_file(objectFile.c_str(), &opts));
    if (!obj) return Fail(errno, "open " + objectFile);
    if (bpf_object__load(obj.get()) != 0) return Fail(errno, "load " + objectFile);
    bpf_program* prog = bpf_object__find_program_by_name(obj.get(), kProgram);
    if (!prog) return Fail(ENOENT, std::string("find program ") + kProgram + " in " + objectFile);
    const std::pair<int*, const char*> maps[] = {
        {&v4Fd_, "v4_lists"}, {&v6Fd_, "v6_lists"}, {&countersFd_, "counters"}, {&digestsFd_, "list_digests"}};
    // Own duplicates of the descriptors: they outlive the object.
    progFd_ = fcntl(bpf_program__fd(prog), F_DUPFD_CLOEXEC, 3);
    for (const auto& [fd, name] : maps) {
      bpf_map* m = bpf_object__find_map_by_name(obj.get(), name);
      if (!m) {
        CloseAll();
        return Fail(ENOENT, std::string("find map ") + name + " in " + objectFile);
      }
      *fd = fcntl(bpf_map__fd(m), F_DUPFD_CLOEXEC, 3);
    }
    Failure f = PinAll(staging);
    if (!f.failed() && rename(staging.c_str(), dir.c_str()) != 0) f = Fail(errno, "rename " + staging + " to " + dir);
    if (f.failed()) {
      RemovePinnedTree(staging);
      CloseAll();
      return f;
    }
  }
  bpf_prog_info info;
  uint32_t len = sizeof(info);
  memset(&info, 0, sizeof(info));
  if (bpf_obj_get_info_by_fd(progFd_, &info, &len) != 0) return Fail(errno, "read the program's info");
  progId_ = info.id;
  return Ok();
}

Failure FastPath::Links(std::vector<LinkRecord>* out) const {
  for (const std::string& name : Entries(dir_ + "/links")) {
    const std::string path = dir_ + "/links/" + name;
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) return Fail(errno, "open pinned " + path);
    bpf_link_info info;
    uint32_t len = sizeof(info);
    memset(&info, 0, sizeof(info));
    const int rc = bpf_obj_get_info_by_fd(fd, &info, &len);
    const int err = errno;
    close(fd);
    if (rc != 0) return Fail(err, "read the info of " + path);
    out->push_back(LinkRecord{info.xdp.ifindex, static_cast<uint32_t>(strtoul(name.c_str(), nullptr, 10)), info.id, info.prog_id});
  }
  return Ok();
}

Failure FastPath::Attach(uint32_t ifindex, bool* native, int* nativeRefusal) {
  *nativeRefusal = 0;
  LIBBPF_OPTS(bpf_link_create_opts, drv, .flags = XDP_FLAGS_DRV_MODE);
  int fd = bpf_link_create(progFd_, ifindex, BPF_XDP, &drv);
  *native = fd >= 0;
  if (fd < 0) {
    const int err = errno;
    // Another program (not ours) holds the interface: never displaced.
    if (err == EBUSY || err == EEXIST) return Fail(err, "attach to ifindex " + std::to_string(ifindex) + ": another XDP program is attached");
    *nativeRefusal = err;
    LIBBPF_OPTS(bpf_link_create_opts, skb, .flags = XDP_FLAGS_SKB_MODE);
    fd = bpf_link_create(progFd_, ifindex, BPF_XDP, &skb);
    if (fd < 0) {
      const int gerr = errno;
      return Fail(gerr, "attach to ifindex " + std::to_string(ifindex) + " (native: " + strerror(err) + "; generic: " + strerror(gerr) + ")");
    }
  }
  const std::string path = dir_ + "/links/" + std::to_string(ifindex);
  if (bpf_obj_pin(fd, path.c_str()) != 0) {
    const int err = errno;
    close(fd);  // detaches again: nothing half done stays
    return Fail(err, "pin " + path);
  }
  close(fd);
  const int cpus = libbpf_num_possible_cpus();
  std::vector<uint8_t> zero(static_cast<size_t>(cpus > 0 ? cpus : 1) * sizeof(CounterRecord::values), 0);  // one record of counters per CPU
  bpf_map_update_elem(countersFd_, &ifindex, zero.data(), BPF_ANY);
  return Ok();
}

Failure FastPath::Detach(uint32_t ifindex) {
  const std::string path = dir_ + "/links/" + std::to_string(ifindex);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return Fail(errno, "unpin " + path);
  for (uint32_t family : {4u, 6u}) {
    bpf_map_delete_elem(family == 4 ? v4Fd_ : v6Fd_, &ifindex);
    ListKey k{ifindex, family};
    bpf_map_delete_elem(digestsFd_, &k);
  }
  bpf_map_delete_elem(countersFd_, &ifindex);
  return Ok();
}

Failure FastPath::TakeOverLinks(const std::string& oldDir, std::vector<uint32_t>* moved) {
  for (const std::string& name : Entries(oldDir + "/links")) {
    const std::string from = oldDir + "/links/" + name;
    const std::string to = dir_ + "/links/" + name;
    int fd = bpf_obj_get(from.c_str());
    if (fd < 0) return Fail(errno, "open pinned " + from);
    LIBBPF_OPTS(bpf_link_update_opts, opts);
    Failure f;
    if (bpf_link_update(fd, progFd_, &opts) != 0) f = Fail(errno, "move the link " + from + " to the new program");
    else if (bpf_obj_pin(fd, to.c_str()) != 0 && errno != EEXIST) f = Fail(errno, "pin " + to);
    else if (unlink(from.c_str()) != 0) f = Fail(errno, "unpin " + from);
    close(fd);
    if (f.failed()) return f;
    moved->push_back(static_cast<uint32_t>(strtoul(name.c_str(), nullptr, 10)));
  }
  return Ok();
}

Failure FastPath::ReplaceList(uint32_t family, uint32_t ifindex, const uint8_t* keys, const uint8_t* values, uint32_t count,
                              const uint8_t digest[32]) const {
  const int outer = family == 4 ? v4Fd_ : v6Fd_;
  const uint32_t keySize = family == 4 ? kV4KeySize : kV6KeySize;
  ListKey id{ifindex, family};
  if (count == 0) {
    if (bpf_map_delete_elem(outer, &ifindex) != 0 && errno != ENOENT) return Fail(errno, "remove the list");
    bpf_map_delete_elem(digestsFd_, &id);
    return Ok();
  }
  LIBBPF_OPTS(bpf_map_create_opts, create, .map_flags = BPF_F_NO_PREALLOC);
  const int inner = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, family == 4 ? "orbital_v4" : "orbital_v6", keySize, 1, count, &create);
  if (inner < 0) return Fail(errno, "create a trie of " + std::to_string(count) + " entries");
  Failure f;
  for (uint32_t done = 0; done < count && !f.failed();) {
    uint32_t n = count - done < kBatch ? count - done : kBatch;
    LIBBPF_OPTS(bpf_map_batch_opts, batch);
    if (bpf_map_update_batch(inner, keys + static_cast<size_t>(done) * keySize, values + done, &n, &batch) == 0) {
      done += n;
      continue;
    }
    const int err = errno;
    if (err != EINVAL && err != ENOTSUP && err != 524 /* ENOTSUPP: no batch ops for this map type */) {
      f = Fail(err, "fill the trie (entry " + std::to_string(done + n) + " of " + std::to_string(count) + ")");
      break;
    }
    // Kernels without batch updates of LPM tries: one update per entry, from where the batch stopped.
    for (done += n; done < count; done++) {
      if (bpf_map_update_elem(inner, keys + static_cast<size_t>(done) * keySize, values + done, BPF_ANY) != 0) {
        f = Fail(errno, "fill the trie (entry " + std::to_string(done) + " of " + std::to_string(count) + ")");
        break;
      }
    }
  }
  // The swap: one update of the interface's entry; packets in flight finish on the old trie (RCU).
  if (!f.failed() && bpf_map_update_elem(outer, &ifindex, &inner, BPF_ANY) != 0) f = Fail(errno, "swap the list in");
  if (!f.failed()) bpf_map_update_elem(digestsFd_, &id, digest, BPF_ANY);
  close(inner);  // the outer map holds it now (or, on failure, nothing does and it is freed)
  return f;
}

Failure FastPath::Digests(std::vector<ListDigest>* out) const {
  ListKey key, next;
  void* prev = nullptr;
  while (bpf_map_get_next_key(digestsFd_, prev, &next) == 0) {
    ListDigest d{next.ifindex, next.family, {}};
    if (bpf_map_lookup_elem(digestsFd_, &next, d.digest) == 0) out->push_back(d);
    key = next;
    prev = &key;
  }
  return errno == ENOENT ? Ok() : Fail(errno, "read the list digests");
}

Failure FastPath::Counters(std::vector<CounterRecord>* out) const {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return Fail(-cpus, "count the possible CPUs");
  std::vector<uint64_t> perCpu(static_cast<size_t>(cpus) * 6);
  uint32_t key, next;
  void* prev = nullptr;
  while (bpf_map_get_next_key(countersFd_, prev, &next) == 0) {
    if (bpf_map_lookup_elem(countersFd_, &next, perCpu.data()) == 0) {
      CounterRecord r{next, {}};
      for (int c = 0; c < cpus; c++)
        for (int i = 0; i < 6; i++) r.values[i] += perCpu[static_cast<size_t>(c) * 6 + i];
      out->push_back(r);
    }
    key = next;
    prev = &key;
  }
  return errno == ENOENT ? Ok() : Fail(errno, "read the counters");
}

Failure FastPath::Query(uint32_t ifindex, AttachState* out) const {
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  if (bpf_xdp_query(static_cast<int>(ifindex), 0, &q) != 0) return Fail(errno, "query XDP of ifindex " + std::to_string(ifindex));
  switch (q.attach_mode) {
    case XDP_ATTACHED_DRV: out->mode = "native", out->progId = q.drv_prog_id; break;
    case XDP_ATTACHED_SKB: out->mode = "generic", out->progId = q.skb_prog_id; break;
    case XDP_ATTACHED_HW: out->mode = "offload", out->progId = q.hw_prog_id; break;
    case XDP_ATTACHED_MULTI: out->mode = "multi", out->progId = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id; break;
    default: out->mode = "none", out->progId = 0;
  }
  return Ok();
}

Failure FastPath::Remove() {
  if (!Entries(dir_ + "/links").empty()) return Fail(EBUSY, "remove " + dir_ + ": links are still pinned");
  CloseAll();
  return RemovePinnedTree(dir_);
}

Failure RemovePinnedTree(const std::string& dir) {
  for (const std::string& name : Entries(dir)) {
    const std::string path = dir + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      Failure f = RemovePinnedTree(path);
      if (f.failed()) return f;
    } else if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Fail(errno, "unpin " + path);
    }
  }
  if (rmdir(dir.c_str()) != 0 && errno != ENOENT) return Fail(errno, "remove " + dir);
  return Ok();
}

}  // namespace xdp
