// rtnetlink: the kernel side of orbitald's Linux data plane (contract: src/daemon/dataplane/netlink/
// rtnetlink-types.ts). This header holds the plain C++ part, free of Node-API: the records parsed from the
// kernel, NETLINK_ROUTE sockets (optionally opened inside another network namespace), dumps, batched
// execution of pre-built requests with one ack each, and the parsers shared by dumps and events.
// addon.cc binds it to JavaScript; ops.cc turns JavaScript operations into netlink messages.
#pragma once

#include <linux/netlink.h>

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

struct mnl_socket;

namespace rtnl {

struct LinkStats {
  uint64_t rxBytes = 0, rxPackets = 0, rxErrors = 0, rxDropped = 0;
  uint64_t txBytes = 0, txPackets = 0, txErrors = 0, txDropped = 0;
};

struct Link {
  int32_t ifindex = 0;
  std::string name, kind, mac, alias;
  bool loopback = false, up = false;
  uint8_t operState = 0;
  uint32_t mtu = 0;
  bool hasParent = false;
  int32_t parentIndex = 0;
  bool hasVlan = false;
  uint16_t vlanId = 0;
  LinkStats stats;
};

struct Address {
  int32_t ifindex = 0;
  uint8_t family = 4;  // 4 or 6
  std::string address;
  uint8_t prefixLength = 0;
  uint8_t scope = 0;
};

struct Route {
  uint8_t family = 4;  // 4 or 6
  uint32_t table = 0;
  std::string destination;  // "<address>/<length>", host bits zero
  std::string gateway;      // "" when none
  bool hasOif = false;
  int32_t oif = 0;
  uint32_t priority = 0;
  uint8_t protocol = 0, type = 0, scope = 0;
};

struct Event {
  enum Kind : uint8_t { LINK, ADDRESS, ROUTE, OVERRUN } kind = LINK;
  bool isNew = true;
  Link link;
  Address address;
  Route route;
};

/** An errno and the text that says what failed ("setns(/var/run/netns/x): Invalid argument"). */
struct Status {
  int err = 0;
  std::string what;
  bool ok() const { return err == 0; }
  static Status Errno(const std::string& call, int err);
};

// ---- parsers (dumps and events). They return false for messages of no interest (other families). ----
bool ParseLink(const struct nlmsghdr* nlh, Link* out);
bool ParseAddress(const struct nlmsghdr* nlh, Address* out);
bool ParseRoute(const struct nlmsghdr* nlh, Route* out);
/** One notification of the RTNLGRP_* groups orbitald listens to; false when not a link/address/route event. */
bool ParseEvent(const struct nlmsghdr* nlh, Event* out);

/** Formats an IPv4/IPv6 address (4 or 16 bytes) as text; "" for any other length. */
std::string FormatAddress(const void* bytes, size_t len);

/**
 * Opens a NETLINK_ROUTE socket bound to the network namespace `netnsFd` (-1: the calling thread's): setns()
 * on the calling thread, socket(), setns() back. `groups` (RTNLGRP_* numbers) turns it into an event socket.
 */
Status OpenRouteSocket(int netnsFd, const std::vector<unsigned>& groups, int rcvbufBytes, struct mnl_socket** out);

/** Operations of one execute(): netlink messages built on the JS thread, one after the other in `buf`. */
struct Prepared {
  std::vector<char> buf;         // messages back to back, each NLMSG_ALIGNed, sequence numbers set when sent
  std::vector<uint32_t> offsets; // start of each message in buf
  bool consumed = false;
};

struct ExecResult {
  std::vector<int32_t> errnos;                             // one per operation, 0 on success
  std::vector<std::pair<uint32_t, std::string>> messages;  // operations with a failure or a kernel message
};

/** Tuning of a request socket; 0: the default. */
struct SocketOptions {
  int rcvbufBytes = 0;          // SO_RCVBUF(FORCE); default 16 MiB
  size_t maxBatchMessages = 0;  // requests per sendmsg; default: what the receive buffer holds acks for
};

/**
 * A request socket (used from one thread at a time): dumps and batched execution. Requests carry their own
 * sequence numbers; replies to older requests (e.g. acks of a batch whose receive buffer overran) are
 * recognised by their sequence numbers and skipped.
 */
class RequestSocket {
 public:
  RequestSocket() = default;
  ~RequestSocket();
  RequestSocket(const RequestSocket&) = delete;
  RequestSocket& operator=(const RequestSocket&) = delete;

  Status Open(int netnsFd, const SocketOptions& opts);
  void Close();

  Status DumpLinks(std::vector<Link>* out);
  Status DumpAddresses(std::vector<Address>* out);
  /** table/protocol < 0: no filter. The kernel filters when it can (strict checking); this filters again. */
  Status DumpRoutes(int64_t table, int protocol, std::vector<Route>* out);
  /**
   * Sends every prepared message (many per sendmsg) and collects every ack; never stops on a failed item.
   * `cancel` (checked between sendmsg calls) marks what is left ECANCELED: only for environment teardown.
   */
  void Execute(std::vector<std::unique_ptr<Prepared>>& batches, const std::atomic<bool>& cancel, ExecResult* out);

 private:
  using Each = std::function<void(const struct nlmsghdr*)>;
  /** One dump request (retried when the kernel flags it interrupted); `reset` clears what `each` gathered. */
  Status Dump(uint16_t type, uint8_t family, const void* hdr, size_t hdrLen, uint32_t tableAttr,
              const std::function<void()>& reset, const Each& each);
  Status DumpOnce(const char* req, size_t reqLen, uint32_t seq, bool* interrupted, const Each& each);
  void SendBatch(char* head, size_t count, size_t bytes, size_t firstIndex, ExecResult* out);
  /** Waits up to timeoutMs for the socket to be readable; false with *err (ETIMEDOUT, EAGAIN for 0 ms). */
  bool Wait(int timeoutMs, int* err);
  /** Reads one datagram into rbuf_ (waiting up to timeoutMs); returns its length or -1 with *err set. */
  ssize_t Recv(int timeoutMs, int* err);
  /** Reads up to kAckSlots datagrams (ackMsgs_/ackIov_ over rbuf_); returns how many or -1 with *err set. */
  int RecvMany(int timeoutMs, int* err);

  struct mnl_socket* nl_ = nullptr;
  int fd_ = -1;
  uint32_t portid_ = 0;
  uint32_t seq_ = 1;
  size_t maxPerBatch_ = 1024;
  std::vector<char> rbuf_;
  std::vector<struct mmsghdr> ackMsgs_;
  std::vector<struct iovec> ackIov_;
};

}  // namespace rtnl
