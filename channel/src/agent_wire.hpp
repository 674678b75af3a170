// What agents and routers say to each other (agent.hpp): message kinds and bodies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <xgate/xmlcodec.hpp>

namespace xgate::channel::route_wire {

inline constexpr const char* open_kind = "route.open";
inline constexpr const char* ok_kind = "route.ok";
inline constexpr const char* data_kind = "route.data";
inline constexpr const char* ack_kind = "route.ack";
inline constexpr const char* broken_kind = "route.broken";
inline constexpr const char* close_kind = "route.close";
inline constexpr const char* hops_kind = "route.hops";
inline constexpr const char* hops_reply_kind = "route.hops.reply";

// route.open: the requester and the names after it (relays, then the far end).
struct open_body {
  std::string origin;
  std::vector<std::string> path;
};
// route.data
struct data_body {
  std::uint64_t seq = 0;
  std::string kind;
  std::string body;
  std::string ref;  // the sender's correlation (e.g. a call id), "" when none
};
// route.ack: the receiver has every route seq up to seq.
struct ack_body {
  std::uint64_t seq = 0;
};
// route.broken / route.close: the hop that failed (or closed) and why.
struct broken_body {
  std::string hop;
  std::string reason;
};
// route.hops: the agents still to pass before listing (empty: list your other side).
struct hops_body {
  std::vector<std::string> path;
};
// route.hops.reply: the names, or why there are none.
struct hops_reply_body {
  std::string from;  // who listed them
  std::vector<std::string> hops;
  std::string error;
};

}  // namespace xgate::channel::route_wire

namespace xgate::channel::route_wire {
XGATE_TYPE(open_body, "xgate.channel.RouteOpen", 1, (), (origin, path))
XGATE_TYPE(data_body, "xgate.channel.RouteData", 1, (), (seq, kind, body, ref))
XGATE_TYPE(ack_body, "xgate.channel.RouteAck", 1, (), (seq))
XGATE_TYPE(broken_body, "xgate.channel.RouteBroken", 1, (), (hop, reason))
XGATE_TYPE(hops_body, "xgate.channel.RouteHops", 1, (), (path))
XGATE_TYPE(hops_reply_body, "xgate.channel.RouteHopsReply", 1, (), (from, hops, error))

template <class T>
std::string encode(const T& v) {
  return to_xml(v, encode_options{.indent = 0});
}
template <class T>
T decode(const std::string& xml) {
  return from_xml<T>(xml, decode_options{});
}

}  // namespace xgate::channel::route_wire
