// Validation and serialization of NetlinkOp objects (rtnetlink-types.ts) into rtnetlink requests, on the JS
// thread, so that the worker thread only sends bytes. Every request asks for an ack (NLM_F_ACK); sequence
// numbers are filled in when the batch is sent. An invalid op is a JS TypeError naming it; nothing of the
// call is executed then.
//
// The ops arrive flattened by the wrapper (rtnetlink.ts, encodeOps) rather than as objects: reading ten
// properties per op through Node-API costs microseconds, the flat form a few nanoseconds. The wrapper only
// copies values (numbers as they are, undefined as kAbsent, anything of the wrong type as NaN, strings as
// offset/length into one joined string); every check, and every message, is here.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "bindings.h"

namespace rtnl {

namespace {

constexpr double kU32Max = 4294967295.0;
constexpr double kIfindexMax = 2147483647.0;
constexpr size_t kAliasMax = 255;  // IFALIASZ - 1
constexpr double kAbsent = -INFINITY;

// The flat layout (keep in step with encodeOps in rtnetlink.ts): kStride numbers per op; a string field is
// two slots, its offset and its length (UTF-16 units) in the joined string.
enum Opcode { LINK_SET = 0, VLAN_ADD = 1, LINK_DEL = 2, ADDR_ADD = 3, ADDR_DEL = 4, ROUTE_REPLACE = 5, ROUTE_DEL = 6,
              ROUTE_ADD = 7, UNKNOWN_OP = -1, OP_NOT_STRING = -2, NOT_OBJECT = -3 };
enum Slot {
  OPCODE = 0,
  // linkSet / linkDel
  LS_IFINDEX = 1, LS_UP = 2, LS_MTU = 3, LS_ALIAS = 4,
  // vlanAdd
  VA_PARENT = 1, VA_VLAN_ID = 2, VA_NAME = 4,
  // addrAdd / addrDel
  AD_IFINDEX = 1, AD_FAMILY = 2, AD_PREFIX_LENGTH = 3, AD_ADDRESS = 4,
  // routeReplace / routeAdd / routeDel
  RT_FAMILY = 1, RT_TABLE = 2, RT_OIF = 3, RT_PRIORITY = 4, RT_PROTOCOL = 5, RT_TYPE = 6, RT_IS_OBJECT = 7,
  RT_DESTINATION = 8, RT_GATEWAY = 10,
  // unknown op: its name
  OP_NAME = 14,
};
constexpr size_t kStride = 16;

/** UTF-16 (JS string units) to UTF-8; a lone surrogate becomes U+FFFD, as V8 does. */
std::string Utf8(const char16_t* s, size_t n) {
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; i++) {
    uint32_t c = s[i];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
      c = 0x10000 + ((c - 0xD800) << 10) + (s[++i] - 0xDC00);
    } else if (c >= 0xD800 && c <= 0xDFFF) {
      c = 0xFFFD;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::string Range(double min, double max) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.0f..%.0f", min, max);
  return buf;
}

/** Reads and checks the fields of one op. Every method returns false once it has thrown. */
class Reader {
 public:
  Reader(Napi::Env env, const double* slots, const std::u16string& strings, uint32_t index)
      : env_(env), s_(slots), strings_(strings), index_(index) {}

  bool Fail(const char* path, const std::string& what) {
    Napi::Error e = Napi::TypeError::New(env_, "ops[" + std::to_string(index_) + "]" + (path[0] ? "." : "") + path +
                                                   ": " + what);
    e.Set("index", Napi::Number::New(env_, index_));
    e.Set("errno", Napi::Number::New(env_, EINVAL));
    e.Set("code", Napi::String::New(env_, "EINVAL"));
    e.ThrowAsJavaScriptException();
    return false;
  }

  bool Is(int slot, double value) const { return s_[slot] == value; }

  /** An integer in [min, max] (absent allowed when `present` is given). */
  bool Int(int slot, const char* path, double min, double max, double* out, bool* present = nullptr) {
    const double d = s_[slot];
    if (present) {
      *present = d != kAbsent;
      if (!*present) return true;
    }
    if (!(d >= min && d <= max) || std::floor(d) != d) return Fail(path, "must be an integer " + Range(min, max));
    *out = d;
    return true;
  }

  bool Bool(int slot, const char* path, bool* out, bool* present) {
    const double d = s_[slot];
    *present = d != kAbsent;
    if (!*present) return true;
    if (d != 0 && d != 1) return Fail(path, "must be a boolean");
    *out = d == 1;
    return true;
  }

  bool Family(int slot, const char* path, int* af) {
    const double f = s_[slot];
    if (f != 4 && f != 6) return Fail(path, "must be 4 or 6");
    *af = f == 4 ? AF_INET : AF_INET6;
    return true;
  }

  /** A string field (slot: offset, slot + 1: length) as UTF-8. */
  bool Str(int slot, const char* path, std::string* out, bool* present = nullptr) {
    const char16_t* p;
    size_t n;
    if (!Slice(slot, path, &p, &n, present)) return false;
    if (p) *out = Utf8(p, n);
    return true;
  }

  /** A short ASCII string (addresses, prefixes) into `buf`; anything else is refused as `what`. */
  bool Short(int slot, const char* path, char (&buf)[64], const char* what, bool* present = nullptr) {
    const char16_t* p;
    size_t n;
    if (!Slice(slot, path, &p, &n, present, what)) return false;
    if (!p) return true;
    bool ascii = n < sizeof(buf);
    for (size_t i = 0; ascii && i < n; i++) ascii = p[i] > 0 && p[i] < 0x80;
    if (!ascii) return Fail(path, "\"" + Utf8(p, n) + "\" is not " + what);
    for (size_t i = 0; i < n; i++) buf[i] = static_cast<char>(p[i]);
    buf[n] = '\0';
    return true;
  }

  /** A plain address of family `af` into `out` (4 or 16 bytes). */
  bool Address(const char* text, const char* path, int af, uint8_t* out) {
    if (inet_pton(af, text, out) != 1) {
      return Fail(path, "\"" + std::string(text) + "\" is not an " + (af == AF_INET ? "IPv4" : "IPv6") + " address");
    }
    return true;
  }

  /** "<address>/<length>" of family `af`, host bits zero. */
  bool Prefix(const char* text, const char* path, int af, uint8_t* out, uint8_t* len) {
    const char* slash = std::strchr(text, '/');
    const unsigned max = af == AF_INET ? 32 : 128;
    bool ok = slash != nullptr;
    unsigned plen = 0;
    if (ok) {
      const char* digits = slash + 1;
      const size_t nd = std::strlen(digits);
      ok = nd > 0 && nd <= 3 && std::strspn(digits, "0123456789") == nd;
      plen = ok ? static_cast<unsigned>(std::atoi(digits)) : 0;
      char addr[64];
      std::memcpy(addr, text, slash - text);
      addr[slash - text] = '\0';
      ok = ok && plen <= max && inet_pton(af, addr, out) == 1;
    }
    if (!ok) {
      return Fail(path, "\"" + std::string(text) + "\" is not an " + (af == AF_INET ? "IPv4" : "IPv6") +
                            " prefix \"<address>/<length 0.." + std::to_string(max) + ">\"");
    }
    for (unsigned bit = plen; bit < max; bit++) {
      if (out[bit >> 3] & (0x80u >> (bit & 7))) return Fail(path, "\"" + std::string(text) + "\" has host bits set");
    }
    *len = static_cast<uint8_t>(plen);
    return true;
  }

 private:
  bool Slice(int slot, const char* path, const char16_t** p, size_t* n, bool* present, const char* what = nullptr) {
    *p = nullptr;
    *n = 0;
    const double off = s_[slot], len = s_[slot + 1];
    if (present) {
      *present = len != kAbsent;
      if (!*present) return true;
    }
    if (!(len >= 0) || !(off >= 0) || off + len > static_cast<double>(strings_.size())) {
      return Fail(path, what ? std::string("must be a string: ") + what : "must be a string");
    }
    *p = strings_.data() + static_cast<size_t>(off);
    *n = static_cast<size_t>(len);
    return true;
  }

  Napi::Env env_;
  const double* s_;
  const std::u16string& strings_;
  uint32_t index_;
};

struct nlmsghdr* Header(char* scratch, uint16_t type, uint16_t flags) {
  struct nlmsghdr* nlh = mnl_nlmsg_put_header(scratch);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  return nlh;
}

bool LinkSet(Reader& r, char* scratch) {
  double ifindex = 0, mtu = 0;
  bool up = false, hasUp = false, hasMtu = false, hasAlias = false;
  std::string alias;
  if (!r.Int(LS_IFINDEX, "ifindex", 1, kIfindexMax, &ifindex) || !r.Bool(LS_UP, "up", &up, &hasUp) ||
      !r.Int(LS_MTU, "mtu", 0, kU32Max, &mtu, &hasMtu) || !r.Str(LS_ALIAS, "alias", &alias, &hasAlias)) {
    return false;
  }
  if (hasAlias && (alias.size() > kAliasMax || alias.find('\0') != std::string::npos)) {
    return r.Fail("alias", "must be at most 255 bytes, without NUL");
  }
  struct nlmsghdr* nlh = Header(scratch, RTM_NEWLINK, 0);
  auto* ifi = static_cast<struct ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = static_cast<int>(ifindex);
  if (hasUp) {
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = up ? IFF_UP : 0;
  }
  if (hasMtu) mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  // Without a terminating NUL, as iproute2 sends it: an empty alias removes the alias.
  if (hasAlias) mnl_attr_put(nlh, IFLA_IFALIAS, alias.size(), alias.data());
  return true;
}

bool VlanAdd(Reader& r, char* scratch) {
  std::string name;
  double parent = 0, vid = 0;
  if (!r.Str(VA_NAME, "name", &name) || !r.Int(VA_PARENT, "parentIndex", 1, kIfindexMax, &parent) ||
      !r.Int(VA_VLAN_ID, "vlanId", 0, 4095, &vid)) {
    return false;
  }
  if (name.empty() || name.size() >= IFNAMSIZ || name.find('\0') != std::string::npos) {
    return r.Fail("name", "must be 1..15 bytes, without NUL");
  }
  struct nlmsghdr* nlh = Header(scratch, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifi = static_cast<struct ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  mnl_attr_put_u32(nlh, IFLA_LINK, static_cast<uint32_t>(parent));
  struct nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vlan");
  struct nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  mnl_attr_put_u16(nlh, IFLA_VLAN_ID, static_cast<uint16_t>(vid));
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, linkinfo);
  return true;
}

bool LinkDel(Reader& r, char* scratch) {
  double ifindex = 0;
  if (!r.Int(LS_IFINDEX, "ifindex", 1, kIfindexMax, &ifindex)) return false;
  struct nlmsghdr* nlh = Header(scratch, RTM_DELLINK, 0);
  auto* ifi = static_cast<struct ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = static_cast<int>(ifindex);
  return true;
}

bool Addr(Reader& r, bool add, char* scratch) {
  double ifindex = 0, plen = 0;
  int af = 0;
  char text[64];
  uint8_t bytes[16] = {};
  if (!r.Int(AD_IFINDEX, "ifindex", 1, kIfindexMax, &ifindex) || !r.Family(AD_FAMILY, "family", &af) ||
      !r.Short(AD_ADDRESS, "address", text, "an IP address") || !r.Address(text, "address", af, bytes) ||
      !r.Int(AD_PREFIX_LENGTH, "prefixLength", 0, af == AF_INET ? 32 : 128, &plen)) {
    return false;
  }
  const size_t alen = af == AF_INET ? 4 : 16;
  // Replace: adding an address that is already there succeeds (and updates it) instead of EEXIST.
  struct nlmsghdr* nlh = Header(scratch, add ? RTM_NEWADDR : RTM_DELADDR, add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  auto* ifa = static_cast<struct ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifaddrmsg)));
  ifa->ifa_family = static_cast<uint8_t>(af);
  ifa->ifa_prefixlen = static_cast<uint8_t>(plen);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  if (af == AF_INET) mnl_attr_put(nlh, IFA_LOCAL, alen, bytes);
  mnl_attr_put(nlh, IFA_ADDRESS, alen, bytes);
  return true;
}

uint8_t ScopeFor(uint8_t type, bool hasGateway) {
  switch (type) {
    case RTN_LOCAL:
    case RTN_NAT:
      return RT_SCOPE_HOST;
    case RTN_BROADCAST:
    case RTN_MULTICAST:
    case RTN_ANYCAST:
      return RT_SCOPE_LINK;
    case RTN_UNICAST:
    case RTN_UNSPEC:
      return hasGateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    default:  // blackhole, unreachable, prohibit, throw
      return RT_SCOPE_UNIVERSE;
  }
}

// How a route request treats a route already at its key: replace it, refuse (EEXIST: someone else's route
// must never be overwritten), or delete it.
enum class RouteMode { REPLACE, ADD_EXCLUSIVE, DELETE };

bool RouteOp(Reader& r, RouteMode mode, char* scratch) {
  if (!r.Is(RT_IS_OBJECT, 1)) return r.Fail("route", "must be a RouteSpec object");
  int af = 0;
  double table = 0, oif = 0, priority = 0, protocol = 0, type = 0;
  bool hasGw = false, hasOif = false;
  char dstText[64], gwText[64];
  uint8_t dst[16] = {}, gw[16] = {};
  uint8_t dstLen = 0;
  if (!r.Family(RT_FAMILY, "route.family", &af) || !r.Int(RT_TABLE, "route.table", 0, kU32Max, &table) ||
      !r.Short(RT_DESTINATION, "route.destination", dstText, "a prefix \"<address>/<length>\"") ||
      !r.Prefix(dstText, "route.destination", af, dst, &dstLen) ||
      !r.Short(RT_GATEWAY, "route.gateway", gwText, "an IP address", &hasGw) ||
      (hasGw && !r.Address(gwText, "route.gateway", af, gw)) ||
      !r.Int(RT_OIF, "route.oif", 1, kIfindexMax, &oif, &hasOif) ||
      !r.Int(RT_PRIORITY, "route.priority", 0, kU32Max, &priority) ||
      !r.Int(RT_PROTOCOL, "route.protocol", 0, 255, &protocol) ||
      !r.Int(RT_TYPE, "route.type", 1, RTN_MAX, &type)) {
    return false;
  }
  const size_t alen = af == AF_INET ? 4 : 16;
  const bool install = mode != RouteMode::DELETE;
  const uint16_t flags = mode == RouteMode::REPLACE ? NLM_F_CREATE | NLM_F_REPLACE : mode == RouteMode::ADD_EXCLUSIVE ? NLM_F_CREATE | NLM_F_EXCL : 0;
  struct nlmsghdr* nlh = Header(scratch, install ? RTM_NEWROUTE : RTM_DELROUTE, flags);
  auto* rtm = static_cast<struct rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(af);
  rtm->rtm_dst_len = dstLen;
  const auto t = static_cast<uint32_t>(table);
  rtm->rtm_table = static_cast<uint8_t>(t < 256 ? t : static_cast<uint32_t>(RT_TABLE_UNSPEC));  // > 255: RTA_TABLE only
  rtm->rtm_protocol = static_cast<uint8_t>(protocol);
  rtm->rtm_type = static_cast<uint8_t>(type);
  // Deletion matches any scope (as `ip route del` does); installation uses the scope the type calls for.
  rtm->rtm_scope = install ? ScopeFor(rtm->rtm_type, hasGw) : static_cast<uint8_t>(RT_SCOPE_NOWHERE);
  mnl_attr_put_u32(nlh, RTA_TABLE, t);
  if (dstLen > 0) mnl_attr_put(nlh, RTA_DST, alen, dst);
  if (hasGw) mnl_attr_put(nlh, RTA_GATEWAY, alen, gw);
  if (hasOif) mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(oif));
  mnl_attr_put_u32(nlh, RTA_PRIORITY, static_cast<uint32_t>(priority));
  return true;
}

}  // namespace

std::unique_ptr<Prepared> PrepareOps(Napi::Env env, Napi::Value numsValue, Napi::Value stringsValue, uint32_t firstIndex) {
  if (!numsValue.IsTypedArray() || numsValue.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      numsValue.As<Napi::TypedArray>().ElementLength() % kStride != 0 || !stringsValue.IsString()) {
    Napi::Error e = Napi::TypeError::New(env, "prepare(nums: Float64Array, strings: string, firstIndex): the encoding of encodeOps()");
    e.Set("errno", Napi::Number::New(env, EINVAL));
    e.Set("code", Napi::String::New(env, "EINVAL"));
    e.ThrowAsJavaScriptException();
    return nullptr;
  }
  const Napi::Float64Array nums = numsValue.As<Napi::Float64Array>();
  const std::u16string strings = stringsValue.As<Napi::String>().Utf16Value();
  const size_t n = nums.ElementLength() / kStride;
  auto prepared = std::make_unique<Prepared>();
  prepared->offsets.reserve(n);
  prepared->buf.reserve(n * 96);
  alignas(struct nlmsghdr) char scratch[2048];
  for (size_t i = 0; i < n; i++) {
    const double* slots = nums.Data() + i * kStride;
    Reader r(env, slots, strings, firstIndex + static_cast<uint32_t>(i));
    bool ok;
    switch (static_cast<int>(slots[OPCODE])) {
      case ROUTE_REPLACE: ok = RouteOp(r, RouteMode::REPLACE, scratch); break;
      case ROUTE_ADD: ok = RouteOp(r, RouteMode::ADD_EXCLUSIVE, scratch); break;
      case ROUTE_DEL: ok = RouteOp(r, RouteMode::DELETE, scratch); break;
      case ADDR_ADD: ok = Addr(r, true, scratch); break;
      case ADDR_DEL: ok = Addr(r, false, scratch); break;
      case LINK_SET: ok = LinkSet(r, scratch); break;
      case VLAN_ADD: ok = VlanAdd(r, scratch); break;
      case LINK_DEL: ok = LinkDel(r, scratch); break;
      case UNKNOWN_OP: {
        std::string name;
        ok = r.Str(OP_NAME, "op", &name) &&
             r.Fail("op", "\"" + name + "\" is not one of linkSet, vlanAdd, linkDel, addrAdd, addrDel, routeReplace, routeAdd, routeDel");
        break;
      }
      case OP_NOT_STRING: ok = r.Fail("op", "must be a string: an operation name"); break;
      default: ok = r.Fail("", "must be a NetlinkOp object"); break;
    }
    if (!ok) return nullptr;
    const auto* nlh = reinterpret_cast<const struct nlmsghdr*>(scratch);
    prepared->offsets.push_back(static_cast<uint32_t>(prepared->buf.size()));
    prepared->buf.insert(prepared->buf.end(), scratch, scratch + NLMSG_ALIGN(nlh->nlmsg_len));
  }
  return prepared;
}

}  // namespace rtnl
