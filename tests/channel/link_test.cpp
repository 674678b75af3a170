// Reliable delivery: the link sender/receiver, the stamper and the inbox one by one, then
// a seeded simulation of two link ends over a wire that drops, duplicates, reorders and
// resets, where every message must arrive exactly once and in order.
#include <deque>
#include <random>

#include "test_util.hpp"

namespace xgate::channel {
namespace {
using testing::catch_channel_error;
using testing::sample_envelope;

std::vector<std::uint64_t> seqs(const std::vector<frames::message>& ms) {
  std::vector<std::uint64_t> out;
  for (auto& m : ms) out.push_back(m.link_seq);
  return out;
}

TEST(LinkSender, KeepsEverythingUntilAcknowledged) {
  link_sender s(42, {.max_unacked = 3});
  EXPECT_EQ(s.push(sample_envelope("node/a", "node/b", 1)), 1u);
  EXPECT_EQ(s.push(sample_envelope("node/a", "node/b", 2)), 2u);
  EXPECT_EQ(seqs(s.take()), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_FALSE(s.has_pending());
  s.push(sample_envelope("node/a", "node/b", 3));
  EXPECT_TRUE(s.full());
  auto e = catch_channel_error([&] { (void)s.push(sample_envelope("node/a", "node/b", 4)); });
  EXPECT_EQ(e.code(), channel_errc::buffer_full);
  EXPECT_EQ(e.detail(), "link stream 42: 3 messages (12 bytes) await acknowledgement");
  EXPECT_EQ(seqs(s.take(5)), (std::vector<std::uint64_t>{3}));

  EXPECT_EQ(s.on_ack(2), 2u);
  EXPECT_EQ(s.on_ack(1), 0u);  // old ack: nothing
  EXPECT_EQ(s.acked(), 2u);
  EXPECT_EQ(s.unacked(), 1u);
  EXPECT_FALSE(s.has_pending());
  auto bad = catch_channel_error([&] { (void)s.on_ack(9); });
  EXPECT_EQ(bad.code(), channel_errc::bad_ack);
  EXPECT_EQ(bad.detail(), "link stream 42: ack of 9, but the last seq sent is 3");

  s.rewind();  // a timeout: everything unacknowledged again
  EXPECT_EQ(seqs(s.take()), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(s.on_ack(3), 1u);
  EXPECT_EQ(s.unacked(), 0u);
  EXPECT_EQ(s.push(sample_envelope("node/a", "node/b", 4)), 4u);
}

TEST(LinkSender, ResumeAppliesThePeersPositionAndResendsTheRest) {
  link_sender s(42);
  for (std::uint64_t i = 1; i <= 5; ++i) s.push(sample_envelope("node/a", "node/b", i));
  s.take(3);
  s.on_ack(1);
  s.resume({7, 42, 2});  // the peer had received 2 of stream 42
  EXPECT_EQ(s.acked(), 2u);
  EXPECT_EQ(seqs(s.take()), (std::vector<std::uint64_t>{3, 4, 5}));
  EXPECT_EQ(catch_channel_error([&] { (void)s.resume({7, 42, 6}); }).code(), channel_errc::bad_ack);
}

TEST(LinkSender, PeerThatLostItsStateGetsTheRestRenumbered) {
  link_sender s(42);
  for (std::uint64_t i = 1; i <= 5; ++i) s.push(sample_envelope("node/a", "node/b", i));
  s.take();
  s.on_ack(3);
  s.resume({9, 0, 0});  // a peer that knows no stream of ours
  auto m = s.take();
  EXPECT_EQ(seqs(m), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(m[0].env.seq, 4u);  // the envelopes themselves are untouched
  s.on_ack(1);
  s.resume({9, 42, 0});  // knows the stream, but stands before its acknowledgement
  EXPECT_EQ(seqs(s.take()), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(s.acked(), 0u);
}

TEST(LinkReceiver, TakesOnlyTheNextSeq) {
  link_receiver r;
  r.resume({5, 0, 0});
  EXPECT_EQ(r.stream(), 5u);
  EXPECT_EQ(r.classify(1), link_receiver::verdict::next);
  EXPECT_EQ(r.classify(2), link_receiver::verdict::gap);
  r.accept(1);
  EXPECT_EQ(r.classify(1), link_receiver::verdict::duplicate);
  EXPECT_EQ(catch_channel_error([&] { (void)r.accept(3); }).code(), channel_errc::protocol);
  EXPECT_TRUE(r.ack_due());
  EXPECT_EQ(r.take_ack().seq, 1u);
  EXPECT_FALSE(r.ack_due());
  r.resume({5, 0, 0});  // the same stream: position kept
  EXPECT_EQ(r.received(), 1u);
  r.resume({6, 0, 0});  // a new stream: from 0
  EXPECT_EQ(r.received(), 0u);
  EXPECT_EQ(r.stream(), 6u);
}

TEST(PairStamper, NumbersEachReceiversStreamFromOne) {
  pair_stamper st("node/a");
  envelope b1 = sample_envelope("", "node/b", 0), b2 = b1, c1 = sample_envelope("node/a", "node/c", 0);
  st.stamp(b1);
  st.stamp(c1);
  st.stamp(b2);
  EXPECT_EQ(b1.from, "node/a");
  EXPECT_EQ(b1.seq, 1u);
  EXPECT_EQ(b2.seq, 2u);
  EXPECT_EQ(c1.seq, 1u);
  EXPECT_EQ(stream_of(b1), stream_of(b2));
  EXPECT_NE(stream_of(b1), stream_of(c1));
  EXPECT_EQ(b2.id, "node/a/" + std::string(stream_of(b1)) + "/2");
  EXPECT_NO_THROW(check_envelope(b2));
  envelope spoof = sample_envelope("node/x", "node/b", 0);
  EXPECT_EQ(catch_channel_error([&] { (void)st.stamp(spoof); }).code(), channel_errc::spoofed_sender);
  envelope bad = sample_envelope("", "node/b", 0);
  bad.kind = "has space";
  EXPECT_EQ(catch_channel_error([&] { (void)st.stamp(bad); }).code(), channel_errc::bad_envelope);
  envelope b3 = sample_envelope("", "node/b", 0);
  st.stamp(b3);
  EXPECT_EQ(b3.seq, 3u);  // the refused one left no hole
}

TEST(Envelope, IdMustMatchFromAndSeq) {
  envelope e = sample_envelope();
  EXPECT_EQ(stream_of(e), "0123456789abcdef");
  for (std::string id : {"node/a/0123456789abcdef/01", "node/a/0123456789abcdef/2", "node/a/0123456789ABCDEF/1",
                         "node/a/0123456789abcde/1", "node/ab/0123456789abcdef/1", "node/a/0123456789abcdef/1x", ""}) {
    e.id = id;
    EXPECT_EQ(stream_of(e), "") << id;
    EXPECT_EQ(catch_channel_error([&] { (void)check_envelope(e); }).code(), channel_errc::bad_envelope) << id;
  }
  e = sample_envelope();
  EXPECT_EQ(catch_channel_error([&] { (void)check_sender(e, "node/b"); }).detail(),
            "message \"node/a/0123456789abcdef/1\" claims sender \"node/a\" on the link of \"node/b\"");
}

// Message seq of node/a's stream to node/b; its body is the seq.
envelope m(std::uint64_t seq, std::string stream = "0123456789abcdef") {
  envelope e = sample_envelope("node/a", "node/b", seq, std::to_string(seq));
  e.id = message_id("node/a", stream, seq);
  return e;
}

TEST(Inbox, DeliversEachStreamOnceAndInOrder) {
  inbox box(2);
  std::vector<envelope> out;
  EXPECT_EQ(box.accept(m(2), out), inbox::verdict::held);
  EXPECT_EQ(box.accept(m(2), out), inbox::verdict::duplicate);
  EXPECT_EQ(box.accept(m(3), out), inbox::verdict::held);
  EXPECT_EQ(box.accept(m(4), out), inbox::verdict::overflow);  // holds 2 at most
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(box.accept(m(1), out), inbox::verdict::delivered);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].body, "3");
  EXPECT_EQ(box.held(), 0u);
  EXPECT_EQ(box.accept(m(1), out), inbox::verdict::duplicate);
  EXPECT_EQ(box.accept(m(4), out), inbox::verdict::delivered);
  // A restarted sender's new stream starts at 1, and the old one is still remembered.
  EXPECT_EQ(box.accept(m(1, "ffffffffffffffff"), out), inbox::verdict::delivered);
  EXPECT_EQ(box.accept(m(3), out), inbox::verdict::duplicate);
  EXPECT_EQ(out.size(), 5u);
}

TEST(Inbox, TakesUpAStreamWhoseStartItNeverSawAfterTheGrace) {
  using clock = std::chrono::steady_clock;
  inbox box;
  std::vector<envelope> out;
  // Seqs 1..3 went to a previous process under this name: 4 and 5 wait.
  EXPECT_EQ(box.accept(m(4), out), inbox::verdict::held);
  EXPECT_EQ(box.accept(m(5), out), inbox::verdict::held);
  EXPECT_EQ(box.accept(m(7), out), inbox::verdict::held);
  EXPECT_TRUE(box.has_unstarted());
  EXPECT_EQ(box.adopt_unstarted(clock::now(), std::chrono::hours(1), out), 0u);  // not yet
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(box.adopt_unstarted(clock::now() + std::chrono::seconds(2), std::chrono::seconds(1), out), 1u);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].body, "4");
  EXPECT_EQ(out[1].body, "5");
  EXPECT_FALSE(box.has_unstarted());
  // From there on the stream is an ordinary one: 7 waits for 6, earlier seqs are duplicates.
  EXPECT_EQ(box.held(), 1u);
  EXPECT_EQ(box.accept(m(3), out), inbox::verdict::duplicate);
  EXPECT_EQ(box.accept(m(6), out), inbox::verdict::delivered);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[3].body, "7");
  // A gap in a stream that has started is never skipped.
  EXPECT_EQ(box.accept(m(9), out), inbox::verdict::held);
  EXPECT_FALSE(box.has_unstarted());
  EXPECT_EQ(box.adopt_unstarted(clock::now() + std::chrono::hours(2), std::chrono::seconds(1), out), 0u);
  EXPECT_EQ(out.size(), 4u);
  // A stream whose seq 1 arrives late but within the grace is delivered from 1.
  EXPECT_EQ(box.accept(m(2, "ffffffffffffffff"), out), inbox::verdict::held);
  EXPECT_TRUE(box.has_unstarted());
  EXPECT_EQ(box.accept(m(1, "ffffffffffffffff"), out), inbox::verdict::delivered);
  EXPECT_FALSE(box.has_unstarted());
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[4].body, "1");
  EXPECT_EQ(out[5].body, "2");
}

// ---- the simulation ----------------------------------------------------------------------
struct faults {
  double drop = 0.01, duplicate = 0.01, reorder = 0.02, reset = 0.002, lose_state = 0.25;
};

struct end {
  std::string name;
  link l{link_sender(new_link_stream(), {.max_unacked = 256}), {}};  // a window: rewinds resend less
  pair_stamper stamper{name};
  inbox box;
  std::vector<envelope> delivered;
  std::uint64_t created = 0;
  frame_reader reader;
  std::uint64_t last_acked = 0;
  int idle = 0;
  explicit end(std::string n) : name(std::move(n)), stamper(name) {}
};

struct run_stats {
  std::uint64_t steps = 0, resets = 0, lost_states = 0, dropped = 0, duplicated = 0, reordered = 0;
  std::uint64_t inbox_duplicates = 0;  // resent after a lost state, caught end to end
};

run_stats simulate(std::uint64_t seed, std::uint64_t n, faults f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> p(0, 1);
  end a("node/a"), b("job/17");
  std::deque<std::string> to_b, to_a;  // framed frames in flight
  run_stats st;
  auto send = [&](std::deque<std::string>& wire, std::string bytes) {
    if (p(rng) < f.drop) return void(++st.dropped);
    if (p(rng) < f.duplicate) wire.push_back(bytes), ++st.duplicated;
    wire.push_back(std::move(bytes));
    if (wire.size() > 1 && p(rng) < f.reorder) {
      std::size_t back = 1 + rng() % std::min<std::size_t>(4, wire.size() - 1);
      std::swap(wire.back(), wire[wire.size() - 1 - back]);
      ++st.reordered;
    }
  };
  auto connect = [&] {
    // hello carries a's link state to b, welcome b's (after b resumed) to a.
    frames::hello h = std::get<frames::hello>(decode_payload(encode_payload(frames::hello{a.name, "00", protocol_version, a.l.state()})));
    b.l.resume(h.link);
    frames::welcome w = std::get<frames::welcome>(decode_payload(encode_payload(frames::welcome{b.l.state()})));
    a.l.resume(w.link);
  };
  auto produce = [&](end& e, const end& peer, std::deque<std::string>& wire) {
    for (int burst = 0; burst < 8 && e.created < n && !e.l.out.full(); ++burst) {
      envelope m;
      m.to = peer.name;
      m.kind = "sim";
      m.body = std::to_string(e.created++);
      e.stamper.stamp(m);
      e.l.out.push(std::move(m));
    }
    for (auto& m : e.l.out.take(16)) send(wire, framed(m));
    if (e.l.in.ack_due()) send(wire, framed(e.l.in.take_ack()));
    // No acknowledgement progress for a while: send everything unacknowledged again.
    if (e.l.out.acked() != e.last_acked) e.last_acked = e.l.out.acked(), e.idle = 0;
    else if (e.l.out.unacked() > 0 && ++e.idle > 40) e.l.out.rewind(), e.idle = 0;
  };
  auto consume = [&](end& e, std::deque<std::string>& wire) {
    for (int k = 0; k < 24 && !wire.empty(); ++k) {
      e.reader.feed(wire.front());
      wire.pop_front();
      while (auto fr = e.reader.next()) {
        if (auto* m = std::get_if<frames::message>(&*fr)) {
          std::size_t before = e.delivered.size(), held = e.box.held();
          if (receive(e.l.in, e.box, std::move(*m), e.delivered) == receipt::accepted && e.delivered.size() == before &&
              e.box.held() == held)
            ++st.inbox_duplicates;
        }
        else if (auto* ack = std::get_if<frames::ack>(&*fr)) e.l.out.on_ack(ack->seq);
      }
    }
  };
  connect();
  while (a.delivered.size() < n || b.delivered.size() < n || a.l.out.unacked() || b.l.out.unacked()) {
    if (++st.steps > 5'000'000) {
      ADD_FAILURE() << "seed " << seed << ": no progress; a got " << a.delivered.size() << ", b got " << b.delivered.size();
      break;
    }
    produce(a, b, to_b);
    produce(b, a, to_a);
    consume(b, to_b);
    consume(a, to_a);
    if (p(rng) < f.reset) {
      ++st.resets;
      to_a.clear(), to_b.clear();
      a.reader = frame_reader(), b.reader = frame_reader();
      // Sometimes one end loses its receiving position (a hub that restarted without it):
      // the sender renumbers and the inbox drops what was delivered already.
      if (p(rng) < f.lose_state) {
        ++st.lost_states;
        (rng() % 2 ? a : b).l.in = link_receiver();
      }
      connect();
    }
  }
  for (const end* e : {&a, &b}) {
    const end& from = e == &a ? b : a;
    EXPECT_EQ(e->delivered.size(), n) << "seed " << seed << " at " << e->name;
    for (std::uint64_t i = 0; i < e->delivered.size() && i < n; ++i) {
      const envelope& m = e->delivered[i];
      if (m.body != std::to_string(i) || m.from != from.name || m.seq != i + 1) {
        ADD_FAILURE() << "seed " << seed << " at " << e->name << ": message " << i << " is " << m.id << " body " << m.body;
        break;
      }
    }
  }
  return st;
}

TEST(LinkSimulation, TenThousandEachWayExactlyOnceInOrder) {
  run_stats st = simulate(20240605, 10000, {});
  // The faults did happen (otherwise the test proves little).
  EXPECT_GT(st.resets, 5u);
  EXPECT_GT(st.lost_states, 0u);
  EXPECT_GT(st.dropped, 100u);
  EXPECT_GT(st.duplicated, 100u);
  EXPECT_GT(st.reordered, 100u);
  EXPECT_GT(st.inbox_duplicates, 0u);
  std::cout << "steps " << st.steps << ", resets " << st.resets << " (lost state " << st.lost_states << "), dropped "
            << st.dropped << ", duplicated " << st.duplicated << ", reordered " << st.reordered
            << ", end-to-end duplicates " << st.inbox_duplicates << "\n";
}

TEST(LinkSimulation, ManySeedsHarsherFaults) {
  for (std::uint64_t seed = 1; seed <= 12; ++seed)
    simulate(seed, 1500, {.drop = 0.05, .duplicate = 0.05, .reorder = 0.1, .reset = 0.01, .lose_state = 0.5});
}

}  // namespace
}  // namespace xgate::channel
