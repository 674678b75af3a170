// A message: an envelope around an xgate document.
//
// Endpoints are named like store documents ("node/a", "job/17", "store"): the store's name
// rules, so an endpoint's queue and log can live under its name in the store.
//
// Message ids are FROM "/" STREAM "/" SEQ, e.g. "node/a/3f9c0d2e71b4a856/17":
//   - STREAM is 16 hex digits (64 random bits) drawn when a sender starts a stream of
//     messages to one receiver; SEQ counts that stream's messages from 1 (envelope::seq).
//   - Unique without coordination: an endpoint name has one holder at a time, a stream is
//     fresh per (sender, receiver, sender state), a seq is used once in a stream.
//   - Checkable: a receiver (and the hub) verify the id against from and seq, so an id
//     cannot claim another sender; and it says where the message falls in its stream, which
//     is what de-duplication and in-order delivery need (128 random bits would be unique
//     too, but carry no order and need a remembered set of every id ever seen).
//   - Readable in logs.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace xgate::channel {

struct envelope {
  std::string from, to;
  std::uint64_t seq = 0;      // position in the sender's stream to `to`, from 1; 0 = not yet stamped
  std::string id;             // FROM/STREAM/SEQ (see above); "" until stamped
  std::string correlation;    // the id of the message this one answers; "" for none
  std::string kind;           // what the message is for ("call", "result", "chat", ...)
  std::chrono::system_clock::time_point time;  // when the sender made it
  std::string body;           // an xgate document (XML), carried verbatim
  // The methods the sender's credential allows (store::grant::methods), as the hub that
  // authenticated it says: empty for every one. The hub sets it on every message it
  // forwards, replacing whatever the sender put there; receivers check calls against it
  // (kind_permitted). Over XMPP it stays empty: Prosody knows no such limits.
  std::vector<std::string> sender_methods;
  friend bool operator==(const envelope&, const envelope&) = default;
};

// Whether a message of this kind is within methods (sorted, as store::grant::methods):
// every kind when methods is empty; "call.M" when M is listed; "reply" and "fault" always
// (they answer a call made to the sender, and a receiver drops one it did not ask for);
// any other kind when the kind itself is listed.
[[nodiscard]] bool kind_permitted(std::string_view kind, const std::vector<std::string>& methods) noexcept;
// The name kind_permitted looks for: M for "call.M", else the kind.
[[nodiscard]] std::string_view method_of_kind(std::string_view kind) noexcept;

// The store's name rules (xgate::store::is_valid_name).
[[nodiscard]] bool is_valid_endpoint(std::string_view name) noexcept;
// A kind is 1..64 bytes of [A-Za-z0-9._-].
[[nodiscard]] bool is_valid_kind(std::string_view kind) noexcept;

// 16 lowercase hex digits of fresh randomness (libsodium). Throws channel_error(protocol)
// when libsodium cannot be initialized.
std::string new_stream();
std::string message_id(std::string_view from, std::string_view stream, std::uint64_t seq);
// The STREAM part of a well-formed id of e ("" when the id does not match from and seq).
std::string_view stream_of(const envelope& e) noexcept;

// Throws channel_error(bad_envelope) naming the message and the field when: from or to is
// not a valid endpoint, kind is invalid, seq is 0, the id does not read FROM/STREAM/SEQ for
// this envelope, or the correlation is not "" or a printable id of at most 512 bytes.
void check_envelope(const envelope& e);

// Throws channel_error(spoofed_sender) when e.from is not the endpoint the link
// authenticated: the hub calls it on every message before anything else.
void check_sender(const envelope& e, std::string_view authenticated_endpoint);

}  // namespace xgate::channel
