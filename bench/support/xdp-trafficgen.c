// The benchmark's traffic generator (bench/xdp-fast-path.mjs): sends COUNT copies of one UDP/IPv4 frame
// out of a veth at the kernel's own speed, with BPF_PROG_RUN in live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES)
// running xdp_tx on them, so that each becomes an XDP_TX of that interface and arrives at its peer. No pktgen
// (the development host's kernel has none) and no per-packet syscall. Prints {"sent": N, "ns": T} on stdout.
//
// usage: xdp-trafficgen OBJECT IFINDEX COUNT SRC_IP DST_IP DST_MAC
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned short checksum(const void *data, int len) {
  const unsigned short *p = data;
  unsigned long sum = 0;
  for (; len > 1; len -= 2) sum += *p++;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (unsigned short)~sum;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s OBJECT IFINDEX COUNT SRC_IP DST_IP DST_MAC\n", argv[0]);
    return 2;
  }
  unsigned char frame[64] = {0};
  struct ethhdr *eth = (struct ethhdr *)frame;
  struct iphdr *ip = (struct iphdr *)(eth + 1);
  struct udphdr *udp = (struct udphdr *)(ip + 1);
  if (sscanf(argv[6], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &eth->h_dest[0], &eth->h_dest[1], &eth->h_dest[2], &eth->h_dest[3], &eth->h_dest[4], &eth->h_dest[5]) != 6) return 2;
  memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x01", 6);
  eth->h_proto = htons(ETH_P_IP);
  ip->version = 4, ip->ihl = 5, ip->ttl = 64, ip->protocol = IPPROTO_UDP;
  ip->tot_len = htons(sizeof(frame) - sizeof(*eth));
  if (inet_pton(AF_INET, argv[4], &ip->saddr) != 1 || inet_pton(AF_INET, argv[5], &ip->daddr) != 1) return 2;
  ip->check = checksum(ip, sizeof(*ip));
  udp->source = htons(4000), udp->dest = htons(9);
  udp->len = htons(sizeof(frame) - sizeof(*eth) - sizeof(*ip));

  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (!obj || bpf_object__load(obj)) {
    perror("load");
    return 1;
  }
  int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "xdp_tx"));
  struct xdp_md ctx = {.data_end = sizeof(frame), .ingress_ifindex = (unsigned)atoi(argv[2])};
  unsigned long total = strtoul(argv[3], NULL, 10), sent = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (sent < total) {
    // One run per 1M frames: a run is not interruptible, and a signal must stop the generator.
    unsigned int n = total - sent > 1000000 ? 1000000 : (unsigned int)(total - sent);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = sizeof(frame), .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx), .repeat = n, .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
    if (bpf_prog_test_run_opts(prog, &opts)) {
      perror("BPF_PROG_RUN");
      return 1;
    }
    sent += n;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("{\"sent\": %lu, \"ns\": %ld}\n", sent, (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec));
  return 0;
}
