// Frames: every kind round-trips; the stream reader and bundles split correctly; hostile
// bytes are refused with typed errors that say what and where, never a crash.
#include <random>

#include "test_util.hpp"

namespace xgate::channel {
namespace {
using testing::catch_channel_error;
using testing::sample_envelope;

std::vector<frame> one_of_each() {
  frames::challenge c;
  for (std::size_t i = 0; i < c.nonce.size(); ++i) c.nonce[i] = static_cast<unsigned char>(i * 7);
  c.context = "xgated hub@127.0.0.1:7000";
  frames::auth a;
  a.mac.fill(0xab);
  envelope big = sample_envelope("job/17", "store", 99, std::string(100000, 'z') + std::string("\0\xff<&", 4));
  big.correlation = "node/b/fedcba9876543210/3";
  big.time = std::chrono::system_clock::time_point(std::chrono::nanoseconds(-5));  // before the epoch
  return {frames::hello{"node/a", "0011223344556677", protocol_version, {1, 2, 3}},
          c,
          a,
          frames::welcome{{~std::uint64_t{0}, 5, 1u << 31}},
          frames::refused{channel_errc::bad_auth, "wrong secret"},
          frames::message{1, sample_envelope()},
          frames::message{~std::uint64_t{0}, big},
          frames::ack{0},
          frames::ack{123456789012345},
          frames::presence{true, {{"node/a", true}, {"node/b", false}}},
          frames::presence{false, {}},
          frames::ping{42},
          frames::pong{42},
          frames::error{channel_errc::wrong_body_type, "body is a shop.Invoice, expected a shop.Order", "node/a/0123456789abcdef/1"}};
}

TEST(Frame, EveryKindRoundTrips) {
  for (const frame& f : one_of_each()) {
    std::string p = encode_payload(f);
    EXPECT_EQ(decode_payload(p), f) << kind_name(f);
  }
}

TEST(Frame, MessageBodyIsCarriedVerbatim) {
  envelope e = sample_envelope("node/a", "node/b", 1, "<?xml version=\"1.0\"?>\n<xg:doc>\xc3\xa9</xg:doc>\r\n");
  std::string p = encode_payload(frames::message{1, e});
  EXPECT_NE(p.find(e.body), std::string::npos);
  EXPECT_EQ(std::get<frames::message>(decode_payload(p)).env.body, e.body);
  // Compact: the header around a small message is a few dozen bytes.
  EXPECT_LT(p.size() - e.body.size(), 80u);
}

TEST(Frame, StreamReaderSplitsAtAnyByteBoundary) {
  std::vector<frame> fs = one_of_each();
  std::string wire = encode_bundle(fs);
  for (std::size_t chunk : {1u, 3u, 4096u, 1u << 20}) {
    frame_reader r;
    std::vector<frame> got;
    for (std::size_t at = 0; at < wire.size(); at += chunk) {
      r.feed(std::string_view(wire).substr(at, chunk));
      while (auto f = r.next()) got.push_back(std::move(*f));
    }
    EXPECT_EQ(got, fs) << "chunk " << chunk;
    EXPECT_EQ(r.buffered(), 0u);
  }
}

TEST(Frame, BundleRoundTripsAndRefusesTruncation) {
  std::vector<frame> fs = one_of_each();
  std::string body = encode_bundle(fs);
  EXPECT_EQ(decode_bundle(body), fs);
  EXPECT_TRUE(decode_bundle("").empty());
  auto e = catch_channel_error([&] { (void)decode_bundle(body.substr(0, body.size() - 1)); });
  EXPECT_EQ(e.code(), channel_errc::bad_frame);
  EXPECT_NE(std::string(e.what()).find("runs past the end"), std::string::npos) << e.what();
  e = catch_channel_error([&] { (void)decode_bundle(body + std::string("\0\0", 2), default_max_frame); });
  EXPECT_EQ(e.code(), channel_errc::bad_frame);
  e = catch_channel_error([&] { (void)decode_bundle(encode_bundle({frames::ping{}, frames::ping{}, frames::ping{}}), default_max_frame, 2); });
  EXPECT_EQ(e.code(), channel_errc::bad_frame);
}

TEST(Frame, OversizedLengthIsRefusedBeforeThePayloadArrives) {
  frame_reader r(1024);
  r.feed(std::string("\x7f\xff\xff\xff", 4));  // claims 2 GiB; nothing more is sent
  auto e = catch_channel_error([&] { (void)r.next(); });
  EXPECT_EQ(e.code(), channel_errc::frame_too_large);
  EXPECT_NE(std::string(e.what()).find("2147483647 bytes beyond the maximum of 1024"), std::string::npos) << e.what();

  frame_reader ok(1024);
  ok.feed(framed(frames::message{1, sample_envelope("node/a", "node/b", 1, std::string(900, 'x'))}, 1024));
  EXPECT_TRUE(ok.next());
  EXPECT_EQ(catch_channel_error([] { (void)framed(frames::message{1, sample_envelope("node/a", "node/b", 1, std::string(1024, 'x'))}, 1024); })
                .code(),
            channel_errc::frame_too_large);
  EXPECT_EQ(catch_channel_error([] { (void)decode_payload(std::string(2000, '\x06'), 1024); }).code(), channel_errc::frame_too_large);
  EXPECT_EQ(catch_channel_error([] { (void)decode_bundle(std::string("\0\x10\0\0", 4), 1024); }).code(), channel_errc::frame_too_large);
}

TEST(Frame, HostileBytesGiveTypedErrorsNamingWhatAndWhere) {
  auto msg = [](const std::string& p) { return std::string(catch_channel_error([&] { (void)decode_payload(p); }).what()); };
  EXPECT_EQ(msg(""), "channel: empty frame");
  EXPECT_EQ(msg("\x63"), "channel: frame at byte 0: unknown kind 99");
  EXPECT_EQ(msg(std::string("\x07", 1)), "channel: frame ack at byte 1: field \"seq\": ends inside a number");
  EXPECT_EQ(msg(std::string("\x07\x05\x00", 3)), "channel: frame ack at byte 2: field \"(end)\": 1 trailing bytes");
  EXPECT_EQ(msg("\x07" + std::string(10, '\xff') + "\x01"), "channel: frame ack at byte 1: field \"seq\": number beyond 64 bits");
  EXPECT_EQ(msg("\x06\x01\xac\x02" "ab"),
            "channel: frame message at byte 2: field \"from\": length 300 runs past the end (2 bytes left)");
  EXPECT_EQ(msg(std::string("\x06\x00", 2)), "channel: frame message at byte 1: field \"link_seq\": 0 (link seqs start at 1)");
  EXPECT_EQ(msg("\x01\x03" "a b"), "channel: frame hello at byte 1: field \"endpoint\": \"a b\" is not a valid endpoint name");
  EXPECT_EQ(msg("\x01\x01" "a" "\x02" "XY"), "channel: frame hello at byte 3: field \"credential_id\": not lowercase hex");
  EXPECT_EQ(msg("\x08\x02"), "channel: frame presence at byte 1: field \"snapshot\": flag 2 is not 0 or 1");
  EXPECT_EQ(msg("\x08\x01\xff\xff\xff\xff\x0f"), "channel: frame presence at byte 7: field \"entry.endpoint\": ends inside a number");
  EXPECT_EQ(msg("\x05\x63"), "channel: frame refused at byte 1: field \"code\": unknown error code 99");
  EXPECT_EQ(msg("\x03" + std::string(5, 'x')), "channel: frame auth at byte 1: field \"mac\": needs 32 bytes, 5 left");
  EXPECT_EQ(msg("\x05\x01\x03" "a\nb"), "channel: frame refused at byte 2: field \"reason\": control byte in a one-line text");

  // A well-formed frame whose envelope lies about its id: bad_envelope, naming the message.
  envelope e = testing::sample_envelope();
  e.id = "node/b/0123456789abcdef/1";
  auto err = catch_channel_error([&] { (void)decode_payload(encode_payload(frames::message{1, e})); });
  EXPECT_EQ(err.code(), channel_errc::bad_envelope);
  EXPECT_NE(std::string(err.what()).find("node/b/0123456789abcdef/1"), std::string::npos) << err.what();

  // The methods a hub stamps: a list of method names, or refused naming the field.
  envelope limited = testing::sample_envelope();
  limited.sender_methods = {"result", "status"};
  EXPECT_EQ(std::get<frames::message>(decode_payload(encode_payload(frames::message{1, limited}))).env.sender_methods,
            limited.sender_methods);
  limited.sender_methods = {"x y"};
  std::string bad = encode_payload(frames::message{1, limited});
  EXPECT_EQ(msg(bad), "channel: frame message at byte " + std::to_string(bad.size() - 4) +
                                    ": field \"sender_methods\": \"x y\" is not a list of method names");
  // access_denied travels in error frames; the codes raised only at the ends do not.
  EXPECT_EQ(std::get<frames::error>(decode_payload(encode_payload(frames::error{channel_errc::access_denied, "no", "a/0123456789abcdef/1"}))).code,
            channel_errc::access_denied);
}

// A small in-process fuzz run (the libFuzzer target does more): mutated frames decode or
// throw channel_error, nothing else; what decodes re-encodes to an equal frame.
TEST(Frame, MutatedFramesNeverCrash) {
  std::mt19937_64 rng(7);
  std::vector<std::string> seeds;
  for (const frame& f : one_of_each())
    if (encode_payload(f).size() < 4096) seeds.push_back(encode_payload(f));
  std::size_t decoded = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string p = seeds[rng() % seeds.size()];
    for (int m = 1 + static_cast<int>(rng() % 4); m > 0; --m) {
      switch (rng() % 4) {
        case 0: if (!p.empty()) p[rng() % p.size()] = static_cast<char>(rng()); break;
        case 1: if (!p.empty()) p.erase(rng() % p.size(), 1 + rng() % 8); break;
        case 2: p.insert(p.begin() + static_cast<std::ptrdiff_t>(rng() % (p.size() + 1)), static_cast<char>(rng())); break;
        case 3: p.resize(rng() % (p.size() + 1)); break;
      }
    }
    try {
      frame f = decode_payload(p);
      ++decoded;
      ASSERT_EQ(decode_payload(encode_payload(f)), f);
    } catch (const channel_error&) {
    }
  }
  EXPECT_GT(decoded, 1000u);  // the mutations do reach past the first checks
}

}  // namespace
}  // namespace xgate::channel
