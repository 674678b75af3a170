// Internal to the channel library: its sources and tests use it; applications do not.
// Reliable delivery, as pure state machines (no I/O, no clocks): transports feed them
// frames and events and put on the wire what they hand back.
//
// Two layers:
//  - A link is one endpoint<->hub connection, resumable across reconnects. Each direction
//    is a link stream: the sender numbers its messages (link seq, from 1), keeps every one
//    until the peer acknowledges it (cumulative ack), and after a reconnect sends again
//    everything not acknowledged. The receiver takes only the next link seq (a duplicate
//    is dropped and re-acknowledged; a gap is dropped and will be resent: go-back-N,
//    which costs nothing on in-order transports like TCP and long-poll bundles).
//  - End to end, a receiving endpoint's inbox delivers each sender's stream (envelope
//    seq, see envelope.hpp) exactly once and in order: it drops duplicates (e.g. a hub
//    that restarts and sends again what it had sent but not seen acknowledged) and holds
//    out-of-order messages up to a limit. A sender's pair_stamper numbers those streams.
//
// Resumption: at (re)connect both ends exchange link_state (in hello and welcome) and
// call link::resume with the peer's. A sender whose stream the peer does not know, or
// knows only up to an earlier point (it lost state), renumbers its unacknowledged
// messages to follow on from there; a receiver that sees a new stream from the peer
// starts it at 0. Nothing is dropped from a
// sender's buffer except by an acknowledgement.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include <xgate/channel/envelope.hpp>
#include <xgate/channel/frame.hpp>

namespace xgate::channel {

// A fresh random nonzero link stream id.
std::uint64_t new_link_stream();

struct link_options {
  std::size_t max_unacked = 4096;                      // messages held awaiting acknowledgement
  std::size_t max_unacked_bytes = std::size_t{64} << 20;  // their body bytes
};

// The sending half of a link.
class link_sender {
 public:
  explicit link_sender(std::uint64_t stream = new_link_stream(), link_options options = {});

  // Queues a message under the next link seq and returns it. Throws
  // channel_error(buffer_full) when the buffer is at its limit (nothing queued): wait for acks.
  std::uint64_t push(envelope e);
  bool full() const noexcept;
  // The messages to put on the wire now, in link seq order, at most max: those queued or
  // rewound and not yet handed out on this connection.
  std::vector<frames::message> take(std::size_t max = SIZE_MAX);
  bool has_pending() const noexcept { return sent_ < buf_.size(); }

  // A cumulative acknowledgement: drops every message up to seq and returns how many.
  // An old ack (below the last) changes nothing; an ack beyond the last seq pushed throws
  // channel_error(bad_ack).
  std::size_t on_ack(std::uint64_t seq);
  // At reconnect, with the peer's link_state: applies its acknowledgement, or, when the
  // peer stands before the last acknowledgement (it lost state) or does not know this
  // stream, renumbers the unacknowledged messages to follow where it stands. Then makes
  // everything unacknowledged pending again. Throws channel_error(bad_ack) when the peer
  // claims more than was sent.
  void resume(const link_state& peer);
  // Makes everything unacknowledged pending again (a long-poll timeout without progress).
  void rewind() noexcept { sent_ = 0; }

  std::uint64_t stream() const noexcept { return stream_; }
  std::uint64_t acked() const noexcept { return acked_; }        // the peer has everything up to here
  std::uint64_t last() const noexcept { return acked_ + buf_.size(); }  // the last seq pushed
  std::size_t unacked() const noexcept { return buf_.size(); }

 private:
  std::uint64_t stream_;
  link_options options_;
  std::uint64_t acked_ = 0;
  std::deque<frames::message> buf_;  // unacknowledged; buf_[i].link_seq == acked_ + 1 + i
  std::size_t sent_ = 0;             // how many of buf_ went out on this connection
  std::size_t bytes_ = 0;
};

// The receiving half of a link.
class link_receiver {
 public:
  enum class verdict { next, duplicate, gap };
  verdict classify(std::uint64_t link_seq) const noexcept;
  // Records link_seq, which classify() called next, as received (throws channel_error(protocol) otherwise).
  void accept(std::uint64_t link_seq);
  // At reconnect: another stream from the peer than the one received so far starts at 0.
  void resume(const link_state& peer) noexcept;

  std::uint64_t stream() const noexcept { return stream_; }
  std::uint64_t received() const noexcept { return received_; }  // highest link seq received in order
  // Whether the peer should be told (something new, or a duplicate that shows it missed an ack).
  bool ack_due() const noexcept { return ack_due_; }
  frames::ack take_ack() noexcept {
    ack_due_ = false;
    return frames::ack{received_};
  }
  void note_duplicate() noexcept { ack_due_ = true; }

 private:
  std::uint64_t stream_ = 0, received_ = 0;
  bool ack_due_ = false;
};

// Both halves of one end of a link.
struct link {
  link_sender out;
  link_receiver in;
  link_state state() const noexcept { return {out.stream(), in.stream(), in.received()}; }
  void resume(const link_state& peer) {
    out.resume(peer);
    in.resume(peer);
  }
};

// Gives a sender's envelopes their per-receiver seq and id (a stream per receiver).
class pair_stamper {
 public:
  explicit pair_stamper(std::string self) : self_(std::move(self)) {}
  // Sets e.from to self (throws channel_error(spoofed_sender) when e.from is set to
  // another name), e.seq and e.id, and checks the result (check_envelope).
  void stamp(envelope& e);
  // The next message to `to` starts a new stream (after the hub refused one of the current
  // stream's messages, the receiver would wait for it forever).
  void restart(std::string_view to) {
    auto it = to_.find(to);
    if (it != to_.end()) to_.erase(it);
  }
  const std::string& self() const noexcept { return self_; }

 private:
  struct stream {
    std::string id;
    std::uint64_t next = 1;
  };
  std::string self_;
  std::map<std::string, stream, std::less<>> to_;
};

// A receiving endpoint's de-duplication and ordering, per sender stream.
class inbox {
 public:
  enum class verdict {
    delivered,  // e and whatever it unblocked were appended to out
    held,       // out of order: kept until the gap fills
    duplicate,  // delivered before (or already held): dropped
    overflow,   // out of order and the stream holds max_held already: NOT kept; do not
                // acknowledge it on the link, so that it is sent again
  };
  // max_held: out-of-order messages kept per sender stream; streams: streams remembered
  // per sender (the least recently active is forgotten beyond it).
  explicit inbox(std::size_t max_held = 1024, std::size_t streams_per_sender = 16)
      : max_held_(max_held), streams_per_sender_(streams_per_sender) {}
  // e must have passed check_envelope (decode_payload does that).
  verdict accept(envelope e, std::vector<envelope>& out);
  std::size_t held() const noexcept;  // across all streams

  // Streams whose seq 1 never came: their first messages went to an earlier process under
  // this endpoint's name (a receiver that restarted), or the inbox forgot the stream (beyond
  // streams_per_sender). Nothing fills such a gap, so a stream that has waited since its
  // first held message for `grace` is taken up from there: its held run is appended to out.
  // Links deliver a stream's messages in order, so a real gap at a stream's start (seq 1
  // merely late) does not happen on them; grace covers one that does. Returns the number of
  // streams taken up.
  std::size_t adopt_unstarted(std::chrono::steady_clock::time_point now, std::chrono::steady_clock::duration grace,
                              std::vector<envelope>& out);
  bool has_unstarted() const noexcept { return unstarted_ > 0; }

 private:
  struct stream_state {
    std::string stream;
    std::uint64_t delivered = 0;
    std::uint64_t last_active = 0;
    std::map<std::uint64_t, envelope> held;
    std::chrono::steady_clock::time_point waiting_since{};  // unstarted: since its first held message
  };
  std::size_t unstarted_ = 0;  // streams with held messages and nothing delivered
  std::size_t max_held_, streams_per_sender_;
  std::uint64_t tick_ = 0;
  std::map<std::string, std::vector<stream_state>, std::less<>> from_;
};

// One endpoint's receiving path: link order first, then end-to-end order. Feeds a message
// frame through the link receiver and the inbox, appending what may be delivered to out.
enum class receipt {
  accepted,   // the link advanced (the message was delivered, held, or an end-to-end duplicate)
  duplicate,  // a link duplicate: dropped, an ack is due
  rejected,   // a link gap or an inbox overflow: dropped unacknowledged, to be sent again
};
receipt receive(link_receiver& in, inbox& box, frames::message m, std::vector<envelope>& out);

}  // namespace xgate::channel
