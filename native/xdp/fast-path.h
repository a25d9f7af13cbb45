// The kernel half of the xdp addon, in plain C++ over libbpf (no Node-API here; addon.cc binds it): loads
// orbitald's XDP program (bpf/orbital_xdp.bpf.c) or adopts the pinned one, attaches and detaches it per
// interface through bpf_links pinned under bpffs, replaces an interface's list by building a new LPM trie and
// swapping it in, and reads the counters and what the lists hold. Every failure is an errno with the
// operation that got it; nothing here decides what should be attached where.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace xdp {

/** A failed kernel or libbpf operation: what was done, and the positive errno it got. */
struct Failure {
  int err = 0;
  std::string what;
  bool failed() const { return err != 0; }
};

struct LinkRecord {
  /** The interface the link is attached to; 0 once that interface is gone (the link is defunct). */
  uint32_t ifindex;
  /** The ifindex it was pinned under (links/<pinned>): what Detach takes. */
  uint32_t pinned;
  uint32_t linkId;
  uint32_t progId;
};

struct ListDigest {
  uint32_t ifindex;
  uint32_t family;
  uint8_t digest[32];
};

struct CounterRecord {
  uint32_t ifindex;
  // dropped packets, dropped bytes, allowed packets, allowed bytes, passed packets, passed bytes (summed over CPUs)
  uint64_t values[6];
};

/** How the program runs on an interface, as the kernel reports it (bpf_xdp_query). */
struct AttachState {
  /** "native", "generic", "offload", "multi" or "none". */
  std::string mode;
  uint32_t progId;
};

class FastPath {
 public:
  FastPath() = default;
  ~FastPath();
  FastPath(const FastPath&) = delete;
  FastPath& operator=(const FastPath&) = delete;

  /**
   * Adopts the program and maps pinned in `dir`, or loads `objectFile` and pins them there (through
   * `dir`-new, renamed into place, so that a crash never leaves a half-pinned directory that looks whole).
   */
  Failure Open(const std::string& dir, const std::string& objectFile, bool* adopted);

  uint32_t ProgId() const { return progId_; }

  /** The links pinned in links/ of the directory (the interfaces the program is attached to). */
  Failure Links(std::vector<LinkRecord>* out) const;

  /**
   * Attaches the program to `ifindex` through a new link, natively when the driver supports it and in
   * generic (skb) mode otherwise, pins it as links/<ifindex> and zeroes the interface's counters.
   * `nativeRefusal` gets the errno native mode was refused with (0 when it was not tried or worked).
   */
  Failure Attach(uint32_t ifindex, bool* native, int* nativeRefusal);

  /** Unpins links/<ifindex> (the kernel detaches when the last reference goes) and forgets its lists and counters. */
  Failure Detach(uint32_t ifindex);

  /**
   * Moves the links pinned in `oldDir` (an older program's directory) onto this program with bpf_link_update,
   * which swaps the program of a running link atomically, and re-pins them here. Their lists must be filled
   * before; counters restart.
   */
  Failure TakeOverLinks(const std::string& oldDir, std::vector<uint32_t>* moved);

  /**
   * Makes `count` entries (keys of the family's key size, one verdict byte each) the list of `ifindex`: a
   * new trie, filled in batches, then swapped into the outer map in one update, and the digest recorded.
   * On failure the previous list stays in force. count 0 removes the list.
   */
  Failure ReplaceList(uint32_t family, uint32_t ifindex, const uint8_t* keys, const uint8_t* values, uint32_t count,
                      const uint8_t digest[32]) const;

  Failure Digests(std::vector<ListDigest>* out) const;
  Failure Counters(std::vector<CounterRecord>* out) const;
  Failure Query(uint32_t ifindex, AttachState* out) const;

  /** Unpins everything of the directory and removes it (only when no link is left). */
  Failure Remove();

  /** Closes the descriptors; the pins (and so the fast path) stay. */
  void CloseAll();

 private:
  Failure PinAll(const std::string& dir) const;

  std::string dir_;
  int progFd_ = -1, v4Fd_ = -1, v6Fd_ = -1, countersFd_ = -1, digestsFd_ = -1;
  uint32_t progId_ = 0;
};

/** Removes a pinned directory tree (an older program's, once its links moved): unlink every pin, rmdir. */
Failure RemovePinnedTree(const std::string& dir);

}  // namespace xdp
