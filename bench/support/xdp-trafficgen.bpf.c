// Programs of the XDP benchmark (bench/xdp-fast-path.mjs), not of orbitald: xdp_tx turns every frame that
// BPF_PROG_RUN injects in live-frames mode into a transmit out of the sender's veth (the traffic generator);
// xdp_pass and xdp_drop are the receiver's baselines (let frames into the stack for nftables; drop them with
// no work at all).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp") int xdp_tx(struct xdp_md *ctx) { return XDP_TX; }
SEC("xdp") int xdp_pass(struct xdp_md *ctx) { return XDP_PASS; }
SEC("xdp") int xdp_drop(struct xdp_md *ctx) { return XDP_DROP; }

char LICENSE[] SEC("license") = "GPL";
