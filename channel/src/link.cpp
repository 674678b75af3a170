#include <xgate/channel/detail/link.hpp>

#include <algorithm>

#include <sodium.h>

#include <xgate/channel/error.hpp>

namespace xgate::channel {

std::uint64_t new_link_stream() {
  if (sodium_init() < 0) throw channel_error(channel_errc::protocol, "libsodium failed to initialize");
  std::uint64_t s = 0;
  while (s == 0) randombytes_buf(&s, sizeof s);  // 0 means "no stream" in link_state
  return s;
}

// ---- link_sender -----------------------------------------------------------------------
link_sender::link_sender(std::uint64_t stream, link_options options) : stream_(stream), options_(options) {}

bool link_sender::full() const noexcept {
  return buf_.size() >= options_.max_unacked || bytes_ >= options_.max_unacked_bytes;
}

std::uint64_t link_sender::push(envelope e) {
  if (full())
    throw channel_error(channel_errc::buffer_full, "link stream " + std::to_string(stream_) + ": " +
                                                       std::to_string(buf_.size()) + " messages (" + std::to_string(bytes_) +
                                                       " bytes) await acknowledgement");
  std::uint64_t seq = last() + 1;
  bytes_ += e.body.size();
  buf_.push_back(frames::message{seq, std::move(e)});
  return seq;
}

std::vector<frames::message> link_sender::take(std::size_t max) {
  std::vector<frames::message> out;
  std::size_t n = std::min(max, buf_.size() - sent_);
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(buf_[sent_ + i]);
  sent_ += n;
  return out;
}

std::size_t link_sender::on_ack(std::uint64_t seq) {
  if (seq > last())
    throw channel_error(channel_errc::bad_ack, "link stream " + std::to_string(stream_) + ": ack of " + std::to_string(seq) +
                                                   ", but the last seq sent is " + std::to_string(last()));
  if (seq <= acked_) return 0;
  auto n = static_cast<std::size_t>(seq - acked_);
  for (std::size_t i = 0; i < n; ++i) {
    bytes_ -= buf_.front().env.body.size();
    buf_.pop_front();
  }
  acked_ = seq;
  sent_ = sent_ > n ? sent_ - n : 0;
  return n;
}

void link_sender::resume(const link_state& peer) {
  // Where the peer stands in this stream: 0 when it does not know the stream at all.
  std::uint64_t base = peer.received_stream == stream_ ? peer.received_seq : 0;
  if (base >= acked_) {
    on_ack(base);
  } else {
    // The peer went back (it lost state, or started this stream afresh): what it
    // acknowledged is gone from buf_, so numbering the rest on from where it stands loses
    // nothing; anything it had received twice is caught by the receiver's inbox.
    acked_ = base;
    std::uint64_t seq = base;
    for (auto& m : buf_) m.link_seq = ++seq;
  }
  sent_ = 0;
}

// ---- link_receiver ---------------------------------------------------------------------
link_receiver::verdict link_receiver::classify(std::uint64_t link_seq) const noexcept {
  if (link_seq <= received_) return verdict::duplicate;
  return link_seq == received_ + 1 ? verdict::next : verdict::gap;
}

void link_receiver::accept(std::uint64_t link_seq) {
  if (classify(link_seq) != verdict::next)
    throw channel_error(channel_errc::protocol, "link stream " + std::to_string(stream_) + ": accept of " +
                                                    std::to_string(link_seq) + " after " + std::to_string(received_));
  received_ = link_seq;
  ack_due_ = true;
}

void link_receiver::resume(const link_state& peer) noexcept {
  if (peer.sending_stream != stream_) {
    stream_ = peer.sending_stream;
    received_ = 0;
  }
  ack_due_ = true;  // tell the peer where we are, even if its hello said so already
}

// ---- pair_stamper ----------------------------------------------------------------------
void pair_stamper::stamp(envelope& e) {
  if (e.from.empty()) e.from = self_;
  check_sender(e, self_);
  auto it = to_.find(e.to);
  if (it == to_.end()) it = to_.emplace(e.to, stream{new_stream(), 1}).first;
  e.seq = it->second.next;
  e.id = message_id(e.from, it->second.id, e.seq);
  check_envelope(e);  // before counting: a refused envelope leaves no hole in the stream
  ++it->second.next;
}

// ---- inbox -----------------------------------------------------------------------------
inbox::verdict inbox::accept(envelope e, std::vector<envelope>& out) {
  std::string_view stream = stream_of(e);
  auto& streams = from_[e.from];
  auto s = std::find_if(streams.begin(), streams.end(), [&](const stream_state& st) { return st.stream == stream; });
  if (s == streams.end()) {
    if (streams.size() >= streams_per_sender_) {
      // Forget the least recently active stream: a sender that restarted long ago.
      auto oldest = std::min_element(streams.begin(), streams.end(),
                                     [](const stream_state& a, const stream_state& b) { return a.last_active < b.last_active; });
      if (oldest->delivered == 0 && !oldest->held.empty()) --unstarted_;
      streams.erase(oldest);
    }
    streams.push_back(stream_state{std::string(stream), 0, 0, {}});
    s = streams.end() - 1;
  }
  s->last_active = ++tick_;
  if (e.seq <= s->delivered || s->held.contains(e.seq)) return verdict::duplicate;
  if (e.seq != s->delivered + 1) {
    if (s->held.size() >= max_held_) return verdict::overflow;
    if (s->delivered == 0 && s->held.empty()) {
      s->waiting_since = std::chrono::steady_clock::now();
      ++unstarted_;
    }
    s->held.emplace(e.seq, std::move(e));
    return verdict::held;
  }
  if (s->delivered == 0 && !s->held.empty()) --unstarted_;  // seq 1 came after all
  out.push_back(std::move(e));
  ++s->delivered;
  for (auto h = s->held.begin(); h != s->held.end() && h->first == s->delivered + 1; h = s->held.erase(h)) {
    out.push_back(std::move(h->second));
    ++s->delivered;
  }
  return verdict::delivered;
}

std::size_t inbox::adopt_unstarted(std::chrono::steady_clock::time_point now, std::chrono::steady_clock::duration grace,
                                   std::vector<envelope>& out) {
  if (unstarted_ == 0) return 0;
  std::size_t adopted = 0;
  for (auto& [from, streams] : from_) {
    for (auto& s : streams) {
      if (s.delivered != 0 || s.held.empty() || now - s.waiting_since < grace) continue;
      --unstarted_;
      ++adopted;
      s.delivered = s.held.begin()->first - 1;
      for (auto h = s.held.begin(); h != s.held.end() && h->first == s.delivered + 1; h = s.held.erase(h)) {
        out.push_back(std::move(h->second));
        ++s.delivered;
      }
    }
  }
  return adopted;
}

std::size_t inbox::held() const noexcept {
  std::size_t n = 0;
  for (auto& [from, streams] : from_)
    for (auto& s : streams) n += s.held.size();
  return n;
}

receipt receive(link_receiver& in, inbox& box, frames::message m, std::vector<envelope>& out) {
  switch (in.classify(m.link_seq)) {
    case link_receiver::verdict::duplicate: in.note_duplicate(); return receipt::duplicate;
    case link_receiver::verdict::gap: return receipt::rejected;
    case link_receiver::verdict::next: break;
  }
  if (box.accept(std::move(m.env), out) == inbox::verdict::overflow) return receipt::rejected;
  in.accept(m.link_seq);
  return receipt::accepted;
}

}  // namespace xgate::channel
