#include "chat_command.hpp"

#include <chrono>
#include <iostream>
#include <mutex>

#include <xgate/base/secret.hpp>
#include <xgate/channel/endpoint.hpp>
#include <xgate/channel/longpoll.hpp>
#include <xgate/xmlcodec.hpp>

#include "cli.hpp"

namespace {

// A chat message's body: one line of text (kind "chat").
struct chat_line {
  std::string text;
};
XGATE_TYPE(chat_line, "xgate.ChatLine", 1, (), (text))

}  // namespace

namespace xgate::xgate_cli {

int run_chat(const chat_args& a) {
  namespace ch = xgate::channel;
  std::mutex out;  // callbacks run on the endpoint's thread, the prompt loop on this one
  auto say = [&out](const std::string& line) {
    std::lock_guard lock(out);
    std::cout << line << std::endl;  // a line at a time: scripts read it as it comes
  };
  ch::endpoint_options o;
  o.hub = a.hub;
  o.name = a.name;
  // An unreadable or exposed secret file is the caller's to fix (exit 1), not a refused login.
  xgate::secret_read_result secret = xgate::read_secret_file(a.secret_file);
  if (!secret.problem.empty()) throw usage_error(secret.problem);
  o.secret = std::move(secret.value);
  o.transport_settings.tls.ca = a.ca;
  if (a.hub.starts_with("http://") || a.hub.starts_with("https://")) {
    ch::longpoll_options lp;
    lp.http_proxy = a.http_proxy;  // "" = the http_proxy environment variable
    o.custom_transport = ch::make_http_transport(a.hub, o.transport_settings, lp);
  }
  ch::message_codec<chat_line> gate;
  o.on_message = [&](ch::envelope e) {
    std::string text;
    try {
      text = gate.open(e).text;
    } catch (const std::exception&) {
      text = "[" + e.kind + ", " + std::to_string(e.body.size()) + " bytes]";  // not a chat line
    }
    say(e.from + ": " + one_line(text));
  };
  o.on_presence = [&](const ch::frames::presence& p) {
    for (const auto& entry : p.entries)
      if (entry.endpoint != a.name || !p.snapshot) say("* " + entry.endpoint + " is " + (entry.online ? "online" : "offline"));
  };
  o.on_error = [&](const ch::frames::error& e) {
    std::lock_guard lock(out);
    std::cerr << "error: " << one_line(e.reason) << std::endl;
  };
  ch::endpoint ep(std::move(o));
  ep.start();
  auto wait = std::chrono::milliseconds(static_cast<long long>(a.wait * 1000));
  try {
    if (!ep.wait_connected(wait))
      throw command_failure{exit_unavailable, "cannot log in to " + a.hub + " within " + std::to_string(wait.count()) +
                                                " ms: " + ep.last_error()};
  } catch (const ch::channel_error& e) {
    throw command_failure{exit_denied, e.what()};
  }
  say("* connected to " + a.hub + " as " + a.name);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::size_t colon = line.find(':');
    std::string to = colon == std::string::npos ? "" : line.substr(0, colon);
    std::string text = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!text.empty() && text.front() == ' ') text.erase(0, 1);
    while (!to.empty() && to.back() == ' ') to.pop_back();
    try {
      if (to.empty()) throw usage_error("lines are \"TO: TEXT\"");
      ep.send(to, chat_line{text}, "chat");
    } catch (const std::exception& e) {  // one bad line does not end the session
      std::lock_guard lock(out);
      std::cerr << "error: " << one_line(e.what()) << std::endl;
    }
  }
  bool flushed = ep.flush(wait);
  ep.stop();
  if (!flushed) throw command_failure{exit_unavailable, "the hub did not acknowledge every message within " +
                                                          std::to_string(wait.count()) + " ms"};
  return exit_ok;
}

}  // namespace xgate::xgate_cli
