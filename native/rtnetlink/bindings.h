// The Node-API half of the rtnetlink addon: shared by addon.cc (classes, promises, events) and ops.cc
// (validation and serialization of NetlinkOp objects).
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "rtnetlink.h"

namespace rtnl {

/** An Error with `errno` and `code` (e.g. "ENODEV") attached. */
Napi::Error ErrnoError(Napi::Env env, int err, const std::string& message);

/**
 * Validates NetlinkOps, flattened by the wrapper (encodeOps in rtnetlink.ts: `nums` holds 16 numbers per op,
 * `strings` the joined string fields), and serializes them into netlink messages. On an invalid operation it
 * throws a JS TypeError (with `index`, the position of the op counted from `firstIndex`, and errno EINVAL)
 * and returns nullptr: nothing is executed then.
 */
std::unique_ptr<Prepared> PrepareOps(Napi::Env env, Napi::Value nums, Napi::Value strings, uint32_t firstIndex);

/** Fields per route / per address in the flat dump results (decodeRoutes / decodeAddresses in rtnetlink.ts). */
constexpr size_t kRouteStride = 9;
constexpr size_t kAddressStride = 5;
constexpr size_t kEventStride = 12;

}  // namespace rtnl
