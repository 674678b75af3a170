// Shared by the daemon and the remote client: secrets, callers, and errors as reply codes.
#pragma once

#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>

#include <xgate/base/secret.hpp>
#include <xgate/base/text.hpp>
#include <string>

#include <xgate/channel/endpoint.hpp>

#include <xgate/channel/error.hpp>
#include <xgate/migrate/error.hpp>
#include <xgate/nodes/protocol.hpp>
#include <xgate/store/store.hpp>

namespace xgate::nodes::detail {

using migrate::migrate_error;

// The token on the first line of a secret file only its owner may read.
inline std::string read_secret_file(const std::string& path) {
  if (path.empty()) throw std::invalid_argument("no secret: give a token or a secret file");
  xgate::secret_read_result r = xgate::read_secret_file(path);
  if (!r.problem.empty()) throw std::invalid_argument(r.problem);
  return std::move(r.value);
}

// The principal of an endpoint name: its first segment (hub.hpp's rule for login names).
inline std::string principal_of(const std::string& endpoint) { return endpoint.substr(0, endpoint.find('/')); }

// A refusal carrying a reply code as is (e.g. one passed on from another node).
struct coded_error : std::runtime_error {
  coded_error(std::string c, const std::string& message) : std::runtime_error(message), code(std::move(c)) {}
  std::string code;
};
inline coded_error refusal(std::string code, const std::string& message) { return coded_error(std::move(code), message); }


inline void fill_error(protocol::reply& r, std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const coded_error& x) {
    r.code = x.code;
    r.error = x.what();
  } catch (const migrate_error& x) {
    r.code = to_string(x.reason());
    r.error = x.what();
  } catch (const xgate::access_denied& x) {
    r.code = "access_denied";
    r.error = x.what();
  } catch (const store::store_error& x) {
    r.code = "store";
    r.error = x.what();
  } catch (const std::exception& x) {
    r.code = "failed";
    r.error = x.what();
  } catch (...) {
    r.code = "failed";
    r.error = "an exception that is not a std::exception";
  }
  r.error = one_line(r.error);
}

// Wraps an endpoint's on_message: a peer that writes to us on a stream we have not seen from
// it is a new process under a known name (an XMPP account a finished CLI used before, a node
// restarted), whose fresh inbox would hold our continuing stream's messages back forever,
// waiting for a start it never saw. So before the message is handled (and answered), our
// next message to it starts a new stream too (endpoint::restart_stream). ep is set once the
// endpoint exists; it is read on the endpoint's I/O thread only after start().
struct follow_peer_streams {
  channel::endpoint* ep = nullptr;
  std::mutex m;
  std::map<std::string, std::string> last;  // peer -> its stream to us

  std::function<void(channel::envelope)> wrap(std::function<void(channel::envelope)> inner) {
    return [this, inner = std::move(inner)](channel::envelope e) {
      {
        std::lock_guard lock(m);
        auto stream = std::string(channel::stream_of(e));
        auto [it, fresh] = last.try_emplace(e.from, stream);
        if (!fresh && it->second != stream) {
          it->second = stream;
          if (ep) ep->restart_stream(e.from);
        }
      }
      inner(std::move(e));
    };
  }
};

}  // namespace xgate::nodes::detail
