#include <xgate/channel/transport.hpp>

#include <xgate/channel/longpoll.hpp>
#include <xgate/channel/xmpp.hpp>
#include <xgate/base/text.hpp>

#include <mutex>
#include <system_error>
#include <vector>

namespace xgate::channel {

namespace {

// Several hubs sharing one store (replicas), tried in turn: connect() starts with the one
// that answered last and moves on when it cannot be reached. Nothing is lost or repeated
// by moving: the endpoint's link resumes at whichever hub it reaches (hub.hpp).
class failover_transport final : public transport {
 public:
  explicit failover_transport(std::vector<std::unique_ptr<transport>> hubs) : hubs_(std::move(hubs)) {}

  std::unique_ptr<connection> connect() override {
    std::size_t first;
    {
      std::lock_guard lock(mu_);
      first = current_;
    }
    std::string failures;
    std::exception_ptr insecure;
    std::size_t insecure_count = 0;
    for (std::size_t i = 0; i < hubs_.size(); ++i) {
      std::size_t at = (first + i) % hubs_.size();
      try {
        auto c = hubs_[at]->connect();
        std::lock_guard lock(mu_);
        current_ = at;
        return c;
      } catch (const xgate::error& e) {
        if (e.code() == net_errc::insecure) {
          ++insecure_count;
          if (!insecure) insecure = std::current_exception();
        }
        failures += (failures.empty() ? "" : "; ") + std::string(e.what());
      } catch (const std::exception& e) {
        failures += (failures.empty() ? "" : "; ") + std::string(e.what());
      }
    }
    // Every hub refused on TLS grounds: that is no outage, and retrying does not help.
    if (insecure_count == hubs_.size()) std::rethrow_exception(insecure);
    throw std::system_error(std::make_error_code(std::errc::host_unreachable),
                            "none of the hubs " + description() + " could be reached: " + failures);
  }

  std::string description() const override {
    std::string out;
    for (auto& h : hubs_) out += (out.empty() ? "" : ",") + h->description();
    return out;
  }

 private:
  std::vector<std::unique_ptr<transport>> hubs_;
  std::mutex mu_;
  std::size_t current_ = 0;
};

}  // namespace

std::unique_ptr<transport> make_transport(std::string_view url, const transport_options& options) {
  if (url.find(',') != std::string_view::npos) {
    std::vector<std::unique_ptr<transport>> hubs;
    for (std::size_t start = 0; start <= url.size();) {
      std::size_t comma = std::min(url.find(',', start), url.size());
      std::string_view one = url.substr(start, comma - start);
      if (one.empty())
        throw channel_error(channel_errc::protocol, "hub URL \"" + xgate::printable(url) + "\": an empty address in the list");
      hubs.push_back(make_transport(one, options));
      start = comma + 1;
    }
    return std::make_unique<failover_transport>(std::move(hubs));
  }
  if (url.starts_with("tcp://") || url.starts_with("tls://")) return make_tcp_transport(url, options);
  if (url.starts_with("http://") || url.starts_with("https://")) return make_http_transport(url, options);  // long-poll (longpoll.hpp)
  // An XMPP account needs its password, which only the endpoint has: it calls
  // make_xmpp_transport itself (endpoint.cpp).
  if (url.starts_with("xmpp://"))
    throw channel_error(channel_errc::bad_auth, "hub URL \"" + xgate::printable(url) +
                                                    "\": an XMPP account needs its password: use make_xmpp_transport (xmpp.hpp), "
                                                    "or an endpoint with the password as its secret");
  throw channel_error(channel_errc::protocol, "hub URL \"" + xgate::printable(url) +
                                                  "\": unknown scheme (expected tcp://HOST:PORT, tls://HOST:PORT, http(s)://HOST:PORT or xmpp://USER@DOMAIN[:PORT])");
}

}  // namespace xgate::channel
