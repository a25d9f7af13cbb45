// The plain C++ half of the rtnetlink addon (see rtnetlink.h): sockets, namespaces, dumps, batched execution
// and message parsing, on libmnl. Nothing here touches Node-API, so it runs on any thread.
#include "rtnetlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>

namespace rtnl {

namespace {

constexpr size_t kRecvBufBytes = 256 * 1024;    // a dump datagram is at most 32 KiB; acks are tiny
constexpr size_t kAckSlots = 256;               // acks per recvmmsg()
constexpr size_t kAckSlotBytes = kRecvBufBytes / kAckSlots;  // a capped ack with its extack fits in 1 KiB
constexpr size_t kBatchBytes = 64 * 1024;       // bytes per sendmsg
constexpr int kRequestRcvbuf = 16 * 1024 * 1024;
constexpr int kReplyTimeoutMs = 30000;          // the kernel answers a request before sendmsg returns
constexpr int kMaxDumpAttempts = 6;
constexpr int32_t kNoAck = INT32_MIN;

// ---- attributes ----

template <int Max>
struct Attrs {
  const struct nlattr* tb[Max + 1] = {};
  const struct nlattr* operator[](int i) const { return i <= Max ? tb[i] : nullptr; }
};

template <int Max>
int CollectAttr(const struct nlattr* attr, void* data) {
  auto* attrs = static_cast<Attrs<Max>*>(data);
  const uint16_t type = mnl_attr_get_type(attr);
  if (type <= Max) attrs->tb[type] = attr;
  return MNL_CB_OK;
}

template <int Max>
bool ParseAttrs(const struct nlmsghdr* nlh, size_t hdrLen, Attrs<Max>* out) {
  return mnl_attr_parse(nlh, hdrLen, CollectAttr<Max>, out) >= MNL_CB_STOP;
}

template <int Max>
bool ParseNested(const struct nlattr* nest, Attrs<Max>* out) {
  return nest && mnl_attr_parse_nested(nest, CollectAttr<Max>, out) >= MNL_CB_STOP;
}

bool GetU32(const struct nlattr* a, uint32_t* v) {
  if (!a || mnl_attr_get_payload_len(a) < sizeof(uint32_t)) return false;
  std::memcpy(v, mnl_attr_get_payload(a), sizeof(uint32_t));
  return true;
}

bool GetU16(const struct nlattr* a, uint16_t* v) {
  if (!a || mnl_attr_get_payload_len(a) < sizeof(uint16_t)) return false;
  std::memcpy(v, mnl_attr_get_payload(a), sizeof(uint16_t));
  return true;
}

bool GetU8(const struct nlattr* a, uint8_t* v) {
  if (!a || mnl_attr_get_payload_len(a) < 1) return false;
  *v = *static_cast<const uint8_t*>(mnl_attr_get_payload(a));
  return true;
}

std::string GetStr(const struct nlattr* a) {
  if (!a) return std::string();
  const char* p = static_cast<const char*>(mnl_attr_get_payload(a));
  return std::string(p, strnlen(p, mnl_attr_get_payload_len(a)));
}

std::string FormatMac(const struct nlattr* a) {
  if (!a) return std::string();
  const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(a));
  const size_t n = mnl_attr_get_payload_len(a);
  static const char hex[] = "0123456789abcdef";
  std::string s;
  s.reserve(n * 3);
  for (size_t i = 0; i < n; i++) {
    if (i) s.push_back(':');
    s.push_back(hex[p[i] >> 4]);
    s.push_back(hex[p[i] & 15]);
  }
  return s;
}

std::string ExtackMessage(const struct nlmsghdr* nlh) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return std::string();
  const size_t len = mnl_nlmsg_get_payload_len(nlh);
  if (len < sizeof(struct nlmsgerr)) return std::string();
  const auto* e = static_cast<const struct nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  size_t off = sizeof(struct nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
    if (e->msg.nlmsg_len < sizeof(struct nlmsghdr)) return std::string();
    off += NLMSG_ALIGN(e->msg.nlmsg_len - sizeof(struct nlmsghdr));
  }
  if (off >= len) return std::string();
  Attrs<NLMSGERR_ATTR_MAX> tlvs;
  mnl_attr_parse_payload(static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + off, len - off,
                         CollectAttr<NLMSGERR_ATTR_MAX>, &tlvs);
  return GetStr(tlvs[NLMSGERR_ATTR_MSG]);
}

std::string Describe(int err, const std::string& extack) {
  std::string s = std::strerror(err);
  if (!extack.empty()) s += ": " + extack;
  return s;
}

}  // namespace

Status Status::Errno(const std::string& call, int err) {
  return Status{err, call + ": " + std::strerror(err)};
}

std::string FormatAddress(const void* bytes, size_t len) {
  char buf[INET6_ADDRSTRLEN];
  if (len == 4) return inet_ntop(AF_INET, bytes, buf, sizeof(buf)) ? buf : "";
  if (len == 16) return inet_ntop(AF_INET6, bytes, buf, sizeof(buf)) ? buf : "";
  return std::string();
}

// ---- parsers ----

bool ParseLink(const struct nlmsghdr* nlh, Link* out) {
  if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) return false;
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg)) return false;
  const auto* ifi = static_cast<const struct ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  if (ifi->ifi_family != AF_UNSPEC) return false;  // e.g. AF_BRIDGE port notifications
  Attrs<IFLA_MAX> tb;
  if (!ParseAttrs(nlh, sizeof(*ifi), &tb)) return false;
  *out = Link();
  out->ifindex = ifi->ifi_index;
  out->loopback = (ifi->ifi_flags & IFF_LOOPBACK) != 0;
  out->up = (ifi->ifi_flags & IFF_UP) != 0;
  out->name = GetStr(tb[IFLA_IFNAME]);
  GetU32(tb[IFLA_MTU], &out->mtu);
  GetU8(tb[IFLA_OPERSTATE], &out->operState);
  out->mac = FormatMac(tb[IFLA_ADDRESS]);
  out->alias = GetStr(tb[IFLA_IFALIAS]);
  uint32_t parent = 0;
  if (GetU32(tb[IFLA_LINK], &parent) && parent != 0 && static_cast<int32_t>(parent) != ifi->ifi_index) {
    out->hasParent = true;
    out->parentIndex = static_cast<int32_t>(parent);
  }
  Attrs<IFLA_INFO_MAX> info;
  if (ParseNested(tb[IFLA_LINKINFO], &info)) {
    out->kind = GetStr(info[IFLA_INFO_KIND]);
    Attrs<IFLA_VLAN_MAX> vlan;
    if (out->kind == "vlan" && ParseNested(info[IFLA_INFO_DATA], &vlan) && GetU16(vlan[IFLA_VLAN_ID], &out->vlanId)) {
      out->hasVlan = true;
    }
  }
  if (const struct nlattr* a = tb[IFLA_STATS64]) {
    struct rtnl_link_stats64 s;
    std::memset(&s, 0, sizeof(s));
    std::memcpy(&s, mnl_attr_get_payload(a), std::min<size_t>(mnl_attr_get_payload_len(a), sizeof(s)));
    out->stats = LinkStats{s.rx_bytes, s.rx_packets, s.rx_errors, s.rx_dropped,
                           s.tx_bytes, s.tx_packets, s.tx_errors, s.tx_dropped};
  } else if (const struct nlattr* a32 = tb[IFLA_STATS]) {
    struct rtnl_link_stats s;
    std::memset(&s, 0, sizeof(s));
    std::memcpy(&s, mnl_attr_get_payload(a32), std::min<size_t>(mnl_attr_get_payload_len(a32), sizeof(s)));
    out->stats = LinkStats{s.rx_bytes, s.rx_packets, s.rx_errors, s.rx_dropped,
                           s.tx_bytes, s.tx_packets, s.tx_errors, s.tx_dropped};
  }
  return true;
}

bool ParseAddress(const struct nlmsghdr* nlh, Address* out) {
  if (nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR) return false;
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifaddrmsg)) return false;
  const auto* ifa = static_cast<const struct ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return false;
  Attrs<IFA_MAX> tb;
  if (!ParseAttrs(nlh, sizeof(*ifa), &tb)) return false;
  // IFA_LOCAL is the address of the interface; IFA_ADDRESS is the peer on point-to-point links.
  const struct nlattr* a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
  const size_t want = ifa->ifa_family == AF_INET ? 4 : 16;
  if (!a || mnl_attr_get_payload_len(a) != want) return false;
  *out = Address();
  out->ifindex = static_cast<int32_t>(ifa->ifa_index);
  out->family = ifa->ifa_family == AF_INET ? 4 : 6;
  out->address = FormatAddress(mnl_attr_get_payload(a), want);
  out->prefixLength = ifa->ifa_prefixlen;
  out->scope = ifa->ifa_scope;
  return true;
}

bool ParseRoute(const struct nlmsghdr* nlh, Route* out) {
  if (nlh->nlmsg_type != RTM_NEWROUTE && nlh->nlmsg_type != RTM_DELROUTE) return false;
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct rtmsg)) return false;
  const auto* rtm = static_cast<const struct rtmsg*>(mnl_nlmsg_get_payload(nlh));
  if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) return false;  // not IPMR, MPLS, ...
  Attrs<RTA_MAX> tb;
  if (!ParseAttrs(nlh, sizeof(*rtm), &tb)) return false;
  const size_t alen = rtm->rtm_family == AF_INET ? 4 : 16;
  if (rtm->rtm_dst_len > alen * 8) return false;
  *out = Route();
  out->family = rtm->rtm_family == AF_INET ? 4 : 6;
  out->table = rtm->rtm_table;
  GetU32(tb[RTA_TABLE], &out->table);
  uint8_t dst[16] = {};
  if (tb[RTA_DST] && mnl_attr_get_payload_len(tb[RTA_DST]) == alen) std::memcpy(dst, mnl_attr_get_payload(tb[RTA_DST]), alen);
  for (size_t bit = rtm->rtm_dst_len; bit < alen * 8; bit++) dst[bit >> 3] &= static_cast<uint8_t>(~(0x80u >> (bit & 7)));
  out->destination = FormatAddress(dst, alen) + "/" + std::to_string(rtm->rtm_dst_len);
  if (tb[RTA_GATEWAY] && mnl_attr_get_payload_len(tb[RTA_GATEWAY]) == alen) {
    out->gateway = FormatAddress(mnl_attr_get_payload(tb[RTA_GATEWAY]), alen);
  }
  uint32_t oif = 0;
  if (GetU32(tb[RTA_OIF], &oif)) {
    out->hasOif = true;
    out->oif = static_cast<int32_t>(oif);
  }
  GetU32(tb[RTA_PRIORITY], &out->priority);
  out->protocol = rtm->rtm_protocol;
  out->type = rtm->rtm_type;
  out->scope = rtm->rtm_scope;
  return true;
}

bool ParseEvent(const struct nlmsghdr* nlh, Event* out) {
  switch (nlh->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      out->kind = Event::LINK;
      out->isNew = nlh->nlmsg_type == RTM_NEWLINK;
      return ParseLink(nlh, &out->link);
    case RTM_NEWADDR:
    case RTM_DELADDR:
      out->kind = Event::ADDRESS;
      out->isNew = nlh->nlmsg_type == RTM_NEWADDR;
      return ParseAddress(nlh, &out->address);
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
      out->kind = Event::ROUTE;
      out->isNew = nlh->nlmsg_type == RTM_NEWROUTE;
      return ParseRoute(nlh, &out->route);
    default:
      return false;
  }
}

// ---- sockets ----

Status OpenRouteSocket(int netnsFd, const std::vector<unsigned>& groups, int rcvbufBytes, struct mnl_socket** out) {
  *out = nullptr;
  int home = -1;
  if (netnsFd >= 0) {
    // setns() changes the namespace of the calling thread only; the socket keeps the namespace it was
    // created in for its whole life.
    home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0) return Status::Errno("open(/proc/thread-self/ns/net)", errno);
    if (setns(netnsFd, CLONE_NEWNET) != 0) {
      const int err = errno;
      close(home);
      return Status::Errno("setns(netnsPath)", err);
    }
  }
  Status st;
  struct mnl_socket* nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!nl) {
    st = Status::Errno("socket(AF_NETLINK, NETLINK_ROUTE)", errno);
  } else if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    st = Status::Errno("bind(AF_NETLINK)", errno);
  }
  if (home >= 0) {
    if (setns(home, CLONE_NEWNET) != 0) {
      // Practically impossible (we hold a descriptor of our own namespace), and not repairable: say so.
      const int err = errno;
      if (st.ok()) st = Status::Errno("setns(back to the original network namespace)", err);
    }
    close(home);
  }
  if (st.ok()) {
    const int fd = mnl_socket_get_fd(nl);
    int rcv = rcvbufBytes;
    // SO_RCVBUFFORCE passes net.core.rmem_max with CAP_NET_ADMIN; otherwise SO_RCVBUF (capped by rmem_max).
    if (rcv > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) != 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    }
    for (unsigned group : groups) {
      if (mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
        st = Status::Errno("setsockopt(NETLINK_ADD_MEMBERSHIP)", errno);
        break;
      }
    }
  }
  if (!st.ok()) {
    if (nl) mnl_socket_close(nl);
    return st;
  }
  *out = nl;
  return st;
}

RequestSocket::~RequestSocket() { Close(); }

void RequestSocket::Close() {
  if (nl_) mnl_socket_close(nl_);
  nl_ = nullptr;
  fd_ = -1;
}

Status RequestSocket::Open(int netnsFd, const SocketOptions& opts) {
  Status st = OpenRouteSocket(netnsFd, {}, opts.rcvbufBytes > 0 ? opts.rcvbufBytes : kRequestRcvbuf, &nl_);
  if (!st.ok()) return st;
  fd_ = mnl_socket_get_fd(nl_);
  portid_ = mnl_socket_get_portid(nl_);
  int one = 1;
  // Extended acks carry the kernel's reason text; capped acks do not echo each request back; strict checking
  // lets the kernel filter route dumps by table and protocol (older kernels: ignored, we filter anyway).
  mnl_socket_setsockopt(nl_, NETLINK_EXT_ACK, &one, sizeof(one));
  mnl_socket_setsockopt(nl_, NETLINK_CAP_ACK, &one, sizeof(one));
  mnl_socket_setsockopt(nl_, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
  // A batch is one datagram of up to kBatchBytes: make sure the send buffer takes it whatever the sysctls say.
  int sndbuf = static_cast<int>(4 * kBatchBytes);
  if (setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0) {
    setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  }
  int rcvbuf = 0;
  socklen_t len = sizeof(rcvbuf);
  if (getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len) == 0 && rcvbuf > 0) {
    // An ack costs about 1 KiB of receive buffer (skb truesize); keep a batch's acks within half of it.
    maxPerBatch_ = std::clamp<size_t>(static_cast<size_t>(rcvbuf) / 2048, 1, 2048);
  }
  if (opts.maxBatchMessages > 0) maxPerBatch_ = opts.maxBatchMessages;
  rbuf_.resize(kRecvBufBytes);
  seq_ = static_cast<uint32_t>(time(nullptr));
  return st;
}

bool RequestSocket::Wait(int timeoutMs, int* err) {
  for (;;) {
    struct pollfd pfd = {fd_, POLLIN, 0};
    const int r = poll(&pfd, 1, timeoutMs);
    if (r > 0) return true;
    if (r < 0 && errno == EINTR) continue;
    *err = r < 0 ? errno : timeoutMs == 0 ? EAGAIN : ETIMEDOUT;
    return false;
  }
}

ssize_t RequestSocket::Recv(int timeoutMs, int* err) {
  for (;;) {
    // MSG_TRUNC: the real length comes back even when it does not fit, so truncation is never silent.
    const ssize_t n = recv(fd_, rbuf_.data(), rbuf_.size(), MSG_TRUNC | MSG_DONTWAIT);
    if (n >= 0) {
      if (static_cast<size_t>(n) <= rbuf_.size()) return n;
      *err = EMSGSIZE;
      return -1;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      *err = errno;
      return -1;
    }
    if (!Wait(timeoutMs, err)) return -1;
  }
}

int RequestSocket::RecvMany(int timeoutMs, int* err) {
  // Acks are datagrams of their own: recvmmsg() takes up to kAckSlots of them per system call.
  if (ackMsgs_.empty()) {
    ackMsgs_.resize(kAckSlots);
    ackIov_.resize(kAckSlots);
    for (size_t i = 0; i < kAckSlots; i++) {
      ackIov_[i].iov_base = rbuf_.data() + i * kAckSlotBytes;
      ackIov_[i].iov_len = kAckSlotBytes;
    }
  }
  for (;;) {
    for (size_t i = 0; i < kAckSlots; i++) {
      std::memset(&ackMsgs_[i], 0, sizeof(ackMsgs_[i]));
      ackMsgs_[i].msg_hdr.msg_iov = &ackIov_[i];
      ackMsgs_[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = recvmmsg(fd_, ackMsgs_.data(), kAckSlots, MSG_DONTWAIT, nullptr);
    if (n > 0) return n;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      *err = errno;
      return -1;
    }
    if (!Wait(timeoutMs, err)) return -1;
  }
}

Status RequestSocket::DumpOnce(const char* req, size_t reqLen, uint32_t seq, bool* interrupted, const Each& each) {
  if (mnl_socket_sendto(nl_, req, reqLen) < 0) return Status::Errno("sendmsg(dump request)", errno);
  for (;;) {
    int err = 0;
    const ssize_t n = Recv(kReplyTimeoutMs, &err);
    if (n < 0) return Status::Errno("recvmsg(dump)", err);
    int len = static_cast<int>(n);
    for (const auto* nlh = reinterpret_cast<const struct nlmsghdr*>(rbuf_.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != portid_) continue;  // a stale reply to an older request
      if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) *interrupted = true;
      if (nlh->nlmsg_type == NLMSG_DONE) {
        int32_t status = 0;
        if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(status)) std::memcpy(&status, mnl_nlmsg_get_payload(nlh), sizeof(status));
        if (status < 0) return Status{-status, "dump: " + Describe(-status, ExtackMessage(nlh))};
        return Status();
      }
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nlmsgerr)) return Status{EBADMSG, "dump: truncated error"};
        const int e = -static_cast<const struct nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
        if (e == 0) continue;
        return Status{e, "dump: " + Describe(e, ExtackMessage(nlh))};
      }
      each(nlh);
    }
  }
}

Status RequestSocket::Dump(uint16_t type, uint8_t family, const void* hdr, size_t hdrLen, uint32_t tableAttr,
                           const std::function<void()>& reset, const Each& each) {
  if (!nl_) return Status{EBADF, "the rtnetlink socket is closed"};
  alignas(struct nlmsghdr) char req[256];
  for (int attempt = 1;; attempt++) {
    std::memset(req, 0, sizeof(req));
    struct nlmsghdr* nlh = mnl_nlmsg_put_header(req);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = seq_++;
    void* extra = mnl_nlmsg_put_extra_header(nlh, hdrLen);
    std::memcpy(extra, hdr, hdrLen);
    static_cast<uint8_t*>(extra)[0] = family;  // every *msg header starts with its family
    if (tableAttr) mnl_attr_put_u32(nlh, RTA_TABLE, tableAttr);
    reset();
    bool interrupted = false;
    Status st = DumpOnce(req, nlh->nlmsg_len, nlh->nlmsg_seq, &interrupted, each);
    if (!st.ok() || !interrupted) return st;
    if (attempt == kMaxDumpAttempts) {
      return Status{EINTR, "dump interrupted by concurrent changes " + std::to_string(attempt) + " times"};
    }
  }
}

Status RequestSocket::DumpLinks(std::vector<Link>* out) {
  struct ifinfomsg ifi;
  std::memset(&ifi, 0, sizeof(ifi));
  return Dump(RTM_GETLINK, AF_UNSPEC, &ifi, sizeof(ifi), 0, [&] { out->clear(); },
              [&](const struct nlmsghdr* nlh) {
                Link l;
                if (ParseLink(nlh, &l)) out->push_back(std::move(l));
              });
}

Status RequestSocket::DumpAddresses(std::vector<Address>* out) {
  struct ifaddrmsg ifa;
  std::memset(&ifa, 0, sizeof(ifa));
  return Dump(RTM_GETADDR, AF_UNSPEC, &ifa, sizeof(ifa), 0, [&] { out->clear(); },
              [&](const struct nlmsghdr* nlh) {
                Address a;
                if (ParseAddress(nlh, &a)) out->push_back(std::move(a));
              });
}

Status RequestSocket::DumpRoutes(int64_t table, int protocol, std::vector<Route>* out) {
  out->clear();
  // One dump per family: an AF_UNSPEC dump would also walk multicast (IPMR) and MPLS tables.
  for (uint8_t family : {static_cast<uint8_t>(AF_INET), static_cast<uint8_t>(AF_INET6)}) {
    struct rtmsg rtm;
    std::memset(&rtm, 0, sizeof(rtm));
    if (protocol >= 0) rtm.rtm_protocol = static_cast<uint8_t>(protocol);
    uint32_t tableAttr = 0;
    if (table > 0) {
      rtm.rtm_table = static_cast<uint8_t>(table < 256 ? table : static_cast<int64_t>(RT_TABLE_UNSPEC));
      tableAttr = static_cast<uint32_t>(table);
    }
    const size_t keep = out->size();
    Status st = Dump(RTM_GETROUTE, family, &rtm, sizeof(rtm), tableAttr, [&] { out->resize(keep); },
                     [&](const struct nlmsghdr* nlh) {
                       Route r;
                       if (!ParseRoute(nlh, &r)) return;
                       if (table >= 0 && r.table != static_cast<uint32_t>(table)) return;
                       if (protocol >= 0 && r.protocol != protocol) return;
                       out->push_back(std::move(r));
                     });
    // Filtering on a table that does not exist (yet): the kernel answers ENOENT; that is an empty table.
    if (st.err == ENOENT && table > 0) continue;
    if (!st.ok()) return st;
  }
  return Status();
}

// ---- batched execution ----

void RequestSocket::Execute(std::vector<std::unique_ptr<Prepared>>& batches, const std::atomic<bool>& cancel,
                            ExecResult* out) {
  size_t total = 0;
  for (const auto& p : batches) total += p->offsets.size();
  out->errnos.assign(total, kNoAck);
  out->messages.clear();
  size_t base = 0;
  for (auto& p : batches) {
    const size_t n = p->offsets.size();
    size_t i = 0;
    while (i < n) {
      char* head = p->buf.data() + p->offsets[i];
      if (!nl_ || cancel.load(std::memory_order_relaxed)) {
        const int err = nl_ ? ECANCELED : EBADF;
        for (size_t k = i; k < n; k++) {
          out->errnos[base + k] = err;
          out->messages.emplace_back(static_cast<uint32_t>(base + k), Describe(err, "not sent"));
        }
        break;
      }
      // The batch is a window over messages already laid out back to back: mnl_nlmsg_batch_next() only
      // advances over them and says when the next one would pass the byte limit.
      struct mnl_nlmsg_batch* b = mnl_nlmsg_batch_start(head, kBatchBytes);
      size_t count = 0, bytes = 0;
      if (b) {
        while (i + count < n && count < maxPerBatch_ && mnl_nlmsg_batch_next(b)) count++;
        bytes = mnl_nlmsg_batch_size(b);
        mnl_nlmsg_batch_stop(b);
      }
      if (count == 0) {  // a message larger than the limit (cannot happen with our ops) or no memory: alone
        count = 1;
        bytes = reinterpret_cast<struct nlmsghdr*>(head)->nlmsg_len;
      }
      SendBatch(head, count, bytes, base + i, out);
      i += count;
    }
    base += n;
  }
}

void RequestSocket::SendBatch(char* head, size_t count, size_t bytes, size_t firstIndex, ExecResult* out) {
  const uint32_t seqBase = seq_;
  seq_ += static_cast<uint32_t>(count);
  char* p = head;
  for (size_t k = 0; k < count; k++) {
    auto* nlh = reinterpret_cast<struct nlmsghdr*>(p);
    nlh->nlmsg_seq = seqBase + static_cast<uint32_t>(k);
    nlh->nlmsg_pid = 0;
    p += NLMSG_ALIGN(nlh->nlmsg_len);
  }
  if (mnl_socket_sendto(nl_, head, bytes) < 0) {
    const int err = errno;
    for (size_t k = 0; k < count; k++) {
      out->errnos[firstIndex + k] = err;
      out->messages.emplace_back(static_cast<uint32_t>(firstIndex + k), Describe(err, "sendmsg of the batch failed"));
    }
    return;
  }
  // rtnetlink handles the whole datagram inside sendmsg(), so every ack is queued (or was dropped on a
  // receive-buffer overrun) by now; the timeout only guards against the unforeseen.
  size_t missing = count;
  bool overrun = false;
  int failure = 0;
  while (missing > 0) {
    int err = 0;
    const int got = RecvMany(overrun ? 0 : kReplyTimeoutMs, &err);
    if (got < 0) {
      if (err == ENOBUFS) {  // acks were dropped: read what is left, the rest is unknown
        overrun = true;
        continue;
      }
      failure = err;
      break;
    }
    for (int m = 0; m < got; m++) {
      auto* base = static_cast<struct nlmsghdr*>(ackIov_[m].iov_base);
      int len = static_cast<int>(std::min<size_t>(ackMsgs_[m].msg_len, kAckSlotBytes));
      if ((ackMsgs_[m].msg_hdr.msg_flags & MSG_TRUNC) && len >= static_cast<int>(NLMSG_HDRLEN + sizeof(struct nlmsgerr))) {
        // An ack longer than its slot (an unusually long extack): keep its header and error code, not the text.
        base->nlmsg_len = static_cast<uint32_t>(len) & ~3u;
        base->nlmsg_flags &= static_cast<uint16_t>(~NLM_F_ACK_TLVS);
      }
      for (const struct nlmsghdr* nlh = base; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
        if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != portid_) continue;
        const uint32_t k = nlh->nlmsg_seq - seqBase;
        if (k >= count || mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nlmsgerr)) continue;
        const size_t idx = firstIndex + k;
        if (out->errnos[idx] != kNoAck) continue;
        const int e = -static_cast<const struct nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
        out->errnos[idx] = e;
        std::string extack = ExtackMessage(nlh);
        if (e != 0 || !extack.empty()) out->messages.emplace_back(static_cast<uint32_t>(idx), Describe(e, extack));
        missing--;
      }
    }
  }
  if (missing == 0) return;
  const int err = overrun ? ENOBUFS : failure;
  const std::string why = overrun ? "no acknowledgement (netlink receive buffer overrun): outcome unknown"
                                  : "no acknowledgement: outcome unknown";
  for (size_t k = 0; k < count; k++) {
    if (out->errnos[firstIndex + k] != kNoAck) continue;
    out->errnos[firstIndex + k] = err;
    out->messages.emplace_back(static_cast<uint32_t>(firstIndex + k), Describe(err, why));
  }
  if (overrun) maxPerBatch_ = std::max<size_t>(1, maxPerBatch_ / 2);  // smaller batches from now on
}

}  // namespace rtnl
