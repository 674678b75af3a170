#include <xgate/base/text.hpp>
#include <xgate/channel/frame.hpp>

#include <cstring>
#include <limits>

#include <xgate/store/credentials.hpp>
#include <xgate/store/names.hpp>

namespace xgate::channel {

namespace {
constexpr std::size_t max_sender_methods = 8192;  // comma-joined: about a hundred names
constexpr std::array<const char*, std::variant_size_v<frame>> kind_names{
    "hello", "challenge", "auth", "welcome", "refused", "message", "ack", "presence", "ping", "pong", "error"};

// ---- writing ---------------------------------------------------------------------------
void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_bytes(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}
template <std::size_t N>
void put_fixed(std::string& out, const std::array<unsigned char, N>& a) {
  out.append(reinterpret_cast<const char*>(a.data()), N);
}
// Time as signed nanoseconds since the epoch, zigzag-coded so that small values stay small.
void put_time(std::string& out, std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  put_varint(out, (static_cast<std::uint64_t>(ns) << 1) ^ static_cast<std::uint64_t>(ns >> 63));
}
void put_link(std::string& out, const link_state& l) {
  put_varint(out, l.sending_stream);
  put_varint(out, l.received_stream);
  put_varint(out, l.received_seq);
}

struct writer {
  std::string& out;
  void operator()(const frames::hello& f) {
    put_bytes(out, f.endpoint);
    put_bytes(out, f.credential_id);
    put_varint(out, f.version);
    put_link(out, f.link);
  }
  void operator()(const frames::challenge& f) {
    put_fixed(out, f.nonce);
    put_bytes(out, f.context);
  }
  void operator()(const frames::auth& f) { put_fixed(out, f.mac); }
  void operator()(const frames::welcome& f) { put_link(out, f.link); }
  void operator()(const frames::refused& f) {
    put_varint(out, static_cast<std::uint64_t>(f.code));
    put_bytes(out, f.reason);
  }
  void operator()(const frames::message& f) {
    put_varint(out, f.link_seq);
    const envelope& e = f.env;
    put_bytes(out, e.from);
    put_bytes(out, e.to);
    put_varint(out, e.seq);
    put_bytes(out, e.id);
    put_bytes(out, e.correlation);
    put_bytes(out, e.kind);
    put_time(out, e.time);
    put_bytes(out, e.body);
    put_bytes(out, store::join_methods(e.sender_methods));
  }
  void operator()(const frames::ack& f) { put_varint(out, f.seq); }
  void operator()(const frames::presence& f) {
    out.push_back(f.snapshot ? 1 : 0);
    put_varint(out, f.entries.size());
    for (auto& e : f.entries) {
      put_bytes(out, e.endpoint);
      out.push_back(e.online ? 1 : 0);
    }
  }
  void operator()(const frames::ping& f) { put_varint(out, f.nonce); }
  void operator()(const frames::pong& f) { put_varint(out, f.nonce); }
  void operator()(const frames::error& f) {
    put_varint(out, static_cast<std::uint64_t>(f.code));
    put_bytes(out, f.reason);
    put_bytes(out, f.message_id);
  }
};

// ---- reading ---------------------------------------------------------------------------
// Every read checks what is left first; errors name the frame kind, the field and the
// offset of the field's first byte.
class reader {
 public:
  reader(std::string_view in, const char* kind) : in_(in), kind_(kind) {}

  [[noreturn]] void fail(const char* field, const std::string& what) const {
    throw channel_error(channel_errc::bad_frame, std::string("frame ") + kind_ + " at byte " + std::to_string(start_) +
                                                     ": field \"" + field + "\": " + what);
  }
  std::uint64_t varint(const char* field) {
    start_ = at_;
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ >= in_.size()) fail(field, "ends inside a number");
      auto b = static_cast<unsigned char>(in_[at_++]);
      // The tenth byte may carry only the top bit of a 64-bit value.
      if (shift == 63 && b > 1) fail(field, "number beyond 64 bits");
      v |= std::uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return v;
    }
    fail(field, "number beyond 64 bits");
  }
  std::string_view bytes(const char* field, std::size_t max = std::numeric_limits<std::size_t>::max()) {
    std::uint64_t n = varint(field);  // sets start_ to the field's first byte
    std::size_t left = in_.size() - at_;
    if (n > left) fail(field, "length " + std::to_string(n) + " runs past the end (" + std::to_string(left) + " bytes left)");
    if (n > max) fail(field, "length " + std::to_string(n) + " beyond " + std::to_string(max));
    std::string_view s = in_.substr(at_, static_cast<std::size_t>(n));
    at_ += static_cast<std::size_t>(n);
    return s;
  }
  std::string name(const char* field) {
    std::string_view s = bytes(field, xgate::store::max_name_bytes);
    if (!is_valid_endpoint(s)) fail(field, "\"" + xgate::printable(s) + "\" is not a valid endpoint name");
    return std::string(s);
  }
  std::string line(const char* field) {  // a one-line reason: control bytes refused
    std::string_view s = bytes(field, 4096);
    for (char c : s)
      if (static_cast<unsigned char>(c) < 0x20) fail(field, "control byte in a one-line text");
    return std::string(s);
  }
  template <std::size_t N>
  void fixed(const char* field, std::array<unsigned char, N>& a) {
    start_ = at_;
    if (in_.size() - at_ < N) fail(field, "needs " + std::to_string(N) + " bytes, " + std::to_string(in_.size() - at_) + " left");
    std::memcpy(a.data(), in_.data() + at_, N);
    at_ += N;
  }
  bool flag(const char* field) {
    start_ = at_;
    if (at_ >= in_.size()) fail(field, "missing");
    auto b = static_cast<unsigned char>(in_[at_++]);
    if (b > 1) fail(field, "flag " + std::to_string(b) + " is not 0 or 1");
    return b == 1;
  }
  channel_errc code(const char* field) {
    std::uint64_t v = varint(field);
    // On the wire: the hub's own codes (up to protocol) and access_denied; the others are
    // raised where they happen (a method fault carries its code by name).
    if (v == 0 || (v > static_cast<std::uint64_t>(channel_errc::protocol) && v != static_cast<std::uint64_t>(channel_errc::access_denied)))
      fail(field, "unknown error code " + std::to_string(v));
    return static_cast<channel_errc>(v);
  }
  std::chrono::system_clock::time_point time(const char* field) {
    std::uint64_t z = varint(field);
    auto ns = static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(ns)));
  }
  link_state link() {
    link_state l;
    l.sending_stream = varint("link.sending_stream");
    l.received_stream = varint("link.received_stream");
    l.received_seq = varint("link.received_seq");
    return l;
  }
  void finish() {
    start_ = at_;
    if (at_ != in_.size()) fail("(end)", std::to_string(in_.size() - at_) + " trailing bytes");
  }

 private:
  std::string_view in_;
  const char* kind_;
  std::size_t at_ = 1;     // after the kind byte
  std::size_t start_ = 1;  // where the field being read starts: what errors report
};

frame read_fields(std::size_t kind, reader& r) {
  switch (kind) {
    case 0: {
      frames::hello f;
      f.endpoint = r.name("endpoint");
      std::string_view id = r.bytes("credential_id", 64);
      for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) r.fail("credential_id", "not lowercase hex");
      f.credential_id = std::string(id);
      std::uint64_t v = r.varint("version");
      if (v > std::numeric_limits<std::uint32_t>::max()) r.fail("version", "beyond 32 bits");
      f.version = static_cast<std::uint32_t>(v);
      f.link = r.link();
      return f;
    }
    case 1: {
      frames::challenge f;
      r.fixed("nonce", f.nonce);
      f.context = r.line("context");
      return f;
    }
    case 2: {
      frames::auth f;
      r.fixed("mac", f.mac);
      return f;
    }
    case 3: return frames::welcome{r.link()};
    case 4: {
      frames::refused f;
      f.code = r.code("code");
      f.reason = r.line("reason");
      return f;
    }
    case 5: {
      frames::message f;
      f.link_seq = r.varint("link_seq");
      if (f.link_seq == 0) r.fail("link_seq", "0 (link seqs start at 1)");
      envelope& e = f.env;
      e.from = r.name("from");
      e.to = r.name("to");
      e.seq = r.varint("seq");
      e.id = std::string(r.bytes("id", 1024));
      e.correlation = std::string(r.bytes("correlation", 1024));
      e.kind = std::string(r.bytes("kind", 64));
      e.time = r.time("time");
      e.body = std::string(r.bytes("body"));
      std::string_view methods = r.bytes("sender_methods", max_sender_methods);
      auto parsed = store::parse_methods(methods);
      if (!parsed) r.fail("sender_methods", "\"" + xgate::printable(methods) + "\" is not a list of method names");
      e.sender_methods = std::move(*parsed);
      return f;
    }
    case 6: return frames::ack{r.varint("seq")};
    case 7: {
      frames::presence f;
      f.snapshot = r.flag("snapshot");
      std::uint64_t n = r.varint("count");
      // No reserve(n): a hostile count fails at the first entry past the end instead.
      for (std::uint64_t i = 0; i < n; ++i) {
        frames::presence::entry e;
        e.endpoint = r.name("entry.endpoint");
        e.online = r.flag("entry.online");
        f.entries.push_back(std::move(e));
      }
      return f;
    }
    case 8: return frames::ping{r.varint("nonce")};
    case 9: return frames::pong{r.varint("nonce")};
    case 10: {
      frames::error f;
      f.code = r.code("code");
      f.reason = r.line("reason");
      f.message_id = std::string(r.bytes("message_id", 1024));
      return f;
    }
  }
  return frames::ping{};  // unreachable: the caller checked kind
}

std::uint32_t load_be32(const char* p) {
  auto b = [&](int i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

std::string too_large(std::size_t n, std::size_t max) {
  return "frame of " + std::to_string(n) + " bytes beyond the maximum of " + std::to_string(max);
}
}  // namespace

const char* kind_name(const frame& f) noexcept { return kind_names[f.index()]; }

void encode_payload(const frame& f, std::string& out) {
  out.push_back(static_cast<char>(f.index() + 1));
  std::visit(writer{out}, f);
}

std::string encode_payload(const frame& f) {
  std::string out;
  encode_payload(f, out);
  return out;
}

frame decode_payload(std::string_view payload, std::size_t max_frame) {
  if (payload.size() > max_frame) throw channel_error(channel_errc::frame_too_large, too_large(payload.size(), max_frame));
  if (payload.empty()) throw channel_error(channel_errc::bad_frame, "empty frame");
  auto kind = static_cast<unsigned char>(payload[0]);
  if (kind == 0 || kind > kind_names.size())
    throw channel_error(channel_errc::bad_frame, "frame at byte 0: unknown kind " + std::to_string(kind));
  reader r(payload, kind_names[kind - 1]);
  frame f = read_fields(kind - 1, r);
  r.finish();
  if (auto* m = std::get_if<frames::message>(&f)) check_envelope(m->env);
  return f;
}

void append_framed(const frame& f, std::string& out, std::size_t max_frame) {
  std::size_t start = out.size();
  out.append(frame_header_bytes, '\0');
  encode_payload(f, out);
  std::size_t n = out.size() - start - frame_header_bytes;
  if (n > max_frame || n > std::numeric_limits<std::uint32_t>::max()) {
    out.resize(start);
    throw channel_error(channel_errc::frame_too_large, std::string(kind_name(f)) + ": " + too_large(n, max_frame));
  }
  for (std::size_t i = 0; i < 4; ++i) out[start + i] = static_cast<char>((n >> (24 - 8 * i)) & 0xff);
}

std::string framed(const frame& f, std::size_t max_frame) {
  std::string out;
  append_framed(f, out, max_frame);
  return out;
}

void frame_reader::feed(std::string_view bytes) {
  // Drop what was consumed before growing, so the buffer stays about one frame long.
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ >= 65536)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

std::optional<frame> frame_reader::next() {
  std::size_t left = buf_.size() - pos_;
  if (left < frame_header_bytes) return std::nullopt;
  std::uint32_t n = load_be32(buf_.data() + pos_);
  if (n > max_frame_) throw channel_error(channel_errc::frame_too_large, "length prefix: " + too_large(n, max_frame_));
  if (left - frame_header_bytes < n) return std::nullopt;
  std::string_view payload(buf_.data() + pos_ + frame_header_bytes, n);
  pos_ += frame_header_bytes + n;
  return decode_payload(payload, max_frame_);
}

std::string encode_bundle(const std::vector<frame>& fs, std::size_t max_frame) {
  std::string out;
  for (const frame& f : fs) append_framed(f, out, max_frame);
  return out;
}

std::vector<frame> decode_bundle(std::string_view body, std::size_t max_frame, std::size_t max_frames) {
  std::vector<frame> out;
  std::size_t at = 0;
  while (at < body.size()) {
    if (out.size() == max_frames)
      throw channel_error(channel_errc::bad_frame, "bundle holds more than " + std::to_string(max_frames) + " frames");
    if (body.size() - at < frame_header_bytes)
      throw channel_error(channel_errc::bad_frame, "bundle at byte " + std::to_string(at) + ": ends inside a length prefix");
    std::uint32_t n = load_be32(body.data() + at);
    if (n > max_frame)
      throw channel_error(channel_errc::frame_too_large, "bundle at byte " + std::to_string(at) + ": " + too_large(n, max_frame));
    if (body.size() - at - frame_header_bytes < n)
      throw channel_error(channel_errc::bad_frame, "bundle at byte " + std::to_string(at) + ": frame of " + std::to_string(n) +
                                                       " bytes runs past the end");
    out.push_back(decode_payload(body.substr(at + frame_header_bytes, n), max_frame));
    at += frame_header_bytes + n;
  }
  return out;
}

}  // namespace xgate::channel
