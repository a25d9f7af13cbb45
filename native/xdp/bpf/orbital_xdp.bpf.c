// orbitald's XDP fast path (loaded, pinned and fed by the xdp addon, native/xdp/): drops IPv4 and IPv6 packets
// whose source address is in the receiving interface's drop list, before the kernel's stack sees them, and
// counts per interface (per CPU) what it dropped, what it let through because the allow list matched, and
// everything it passed. It decides nothing else: every packet it does not drop goes on to the normal stack,
// where nftables does the stateful firewall.
//
// Each interface has one list per family: an LPM trie from source prefix to a verdict, reached through a
// hash of maps keyed by ifindex. orbitald builds a whole new trie for a changed list and then swaps the
// interface's entry in one map update, so a packet sees either the old list or the new one, never a half of
// both. "Allow wins over drop" is resolved when the trie is built (orbitald leaves out every drop prefix an
// allow prefix covers), so one longest-prefix lookup per packet gives the verdict.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

// Verdicts stored in the tries (value of an entry); keep in step with src/daemon/dataplane/xdp/fast-path-lists.ts.
#define VERDICT_DROP 1
#define VERDICT_ALLOW 2

// Interfaces that can carry a list at once (entries of the outer maps and of the counters).
#define MAX_INTERFACES 1024

struct v4_key {
  __u32 prefixlen;
  __u8 addr[4];
};

struct v6_key {
  __u32 prefixlen;
  __u8 addr[16];
};

// Per CPU; orbitald sums the CPUs. Keep in step with CounterRecord::values in native/xdp/fast-path.h.
struct counters {
  __u64 dropped_packets;
  __u64 dropped_bytes;
  __u64 allowed_packets;
  __u64 allowed_bytes;
  __u64 passed_packets;
  __u64 passed_bytes;
};

// Templates of the inner maps: orbitald creates each list with the same type, key, value and flags, sized to
// its entries (the kernel does not compare max_entries of an LPM trie's inner map). Sizes, not BTF types: clang
// 14 emits only a forward declaration of a struct that no global uses, which libbpf cannot size.
#define LIST_TEMPLATE(name, key)                 \
  struct name {                                  \
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);         \
    __uint(map_flags, BPF_F_NO_PREALLOC);        \
    __uint(max_entries, 1);                      \
    __uint(key_size, sizeof(key));               \
    __uint(value_size, sizeof(__u8));            \
  }
LIST_TEMPLATE(v4_list, struct v4_key);
LIST_TEMPLATE(v6_list, struct v6_key);

struct {
  __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
  __uint(max_entries, MAX_INTERFACES);
  __type(key, __u32);
  __array(values, struct v4_list);
} v4_lists SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
  __uint(max_entries, MAX_INTERFACES);
  __type(key, __u32);
  __array(values, struct v6_list);
} v6_lists SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, MAX_INTERFACES);
  __type(key, __u32);
  __type(value, struct counters);
} counters SEC(".maps");

// What orbitald last put in each list (ifindex and family -> SHA-256 of its entries), read back after a
// restart so that an unchanged list is adopted instead of rebuilt. The program never reads it.
struct list_id {
  __u32 ifindex;
  __u32 family;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 2 * MAX_INTERFACES);
  __type(key, struct list_id);
  __type(value, __u8[32]);
} list_digests SEC(".maps");

static __always_inline int verdict(void *list, void *key) {
  if (!list) return 0;
  __u8 *v = bpf_map_lookup_elem(list, key);
  return v ? *v : 0;
}

SEC("xdp")
int orbital_fast_path(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  __u32 ifindex = ctx->ingress_ifindex;
  __u64 bytes = (__u64)(end - data);
  int v = 0;

  struct ethhdr *eth = data;
  if ((void *)(eth + 1) <= end) {
    if (eth->h_proto == bpf_htons(ETH_P_IP)) {
      struct iphdr *ip = (void *)(eth + 1);
      if ((void *)(ip + 1) <= end) {
        struct v4_key key = {.prefixlen = 32};
        __builtin_memcpy(key.addr, &ip->saddr, sizeof(key.addr));
        v = verdict(bpf_map_lookup_elem(&v4_lists, &ifindex), &key);
      }
    } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
      struct ipv6hdr *ip6 = (void *)(eth + 1);
      if ((void *)(ip6 + 1) <= end) {
        struct v6_key key = {.prefixlen = 128};
        __builtin_memcpy(key.addr, &ip6->saddr, sizeof(key.addr));
        v = verdict(bpf_map_lookup_elem(&v6_lists, &ifindex), &key);
      }
    }
  }

  struct counters *c = bpf_map_lookup_elem(&counters, &ifindex);
  if (!c) {
    // The first packet on this interface since orbitald attached: start its counters (per CPU, so no race
    // with other CPUs; BPF_NOEXIST keeps another CPU's entry if it came first).
    struct counters zero = {};
    bpf_map_update_elem(&counters, &ifindex, &zero, BPF_NOEXIST);
    c = bpf_map_lookup_elem(&counters, &ifindex);
  }
  if (v == VERDICT_DROP) {
    if (c) {
      c->dropped_packets++;
      c->dropped_bytes += bytes;
    }
    return XDP_DROP;
  }
  if (c) {
    if (v == VERDICT_ALLOW) {
      c->allowed_packets++;
      c->allowed_bytes += bytes;
    }
    c->passed_packets++;
    c->passed_bytes += bytes;
  }
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
