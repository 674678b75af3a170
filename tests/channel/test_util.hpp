// Shared helpers for the channel tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include <xgate/channel.hpp>

namespace xgate::channel::testing {

// The channel_error f throws (a test failure when it throws none or another).
template <class F>
channel_error catch_channel_error(F&& f) {
  try {
    f();
  } catch (const channel_error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a channel_error, got: " << e.what();
    return channel_error(channel_errc::protocol, "(none)");
  }
  ADD_FAILURE() << "expected a channel_error, nothing thrown";
  return channel_error(channel_errc::protocol, "(none)");
}

// A stamped envelope from `from` to `to` with a plain body.
inline envelope sample_envelope(std::string from = "node/a", std::string to = "node/b", std::uint64_t seq = 1,
                                std::string body = "<x/>") {
  envelope e;
  e.from = std::move(from);
  e.to = std::move(to);
  e.seq = seq;
  e.id = message_id(e.from, "0123456789abcdef", seq);
  e.kind = "test";
  e.time = std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'123'456'789));
  e.body = std::move(body);
  return e;
}

}  // namespace xgate::channel::testing
