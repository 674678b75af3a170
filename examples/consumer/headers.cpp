// Every module's public headers, compiled under the consumer's strict flags (-Wall -Wextra
// -Wpedantic -Werror), with the templates a user instantiates most: a header that warns
// breaks its users' builds.
#include <xgate/channel.hpp>
#include <xgate/channel/method.hpp>
#include <xgate/client/http_session.hpp>
#include <xgate/client/open_session.hpp>
#include <xgate/migrate.hpp>
#include <xgate/nodes/daemon.hpp>
#include <xgate/nodes/node_main.hpp>
#include <xgate/nodes/remote.hpp>
#include <xgate/results/results.hpp>
#include <xgate/server/http_server.hpp>
#include <xgate/server/ops_server.hpp>
#include <xgate/store/session.hpp>
#include <xgate/store/store.hpp>
#include <xgate/tls/certs.hpp>
#include <xgate/tls/context.hpp>
#include <xgate/tls/stream.hpp>
#include <xgate/xmlcodec.hpp>

namespace headers {
struct Args {
  int n = 0;
};
XGATE_TYPE(Args, "headers.Args", 1, (), (n))

// Never called: instantiating is the point.
[[maybe_unused]] int instantiate(xgate::migrate::job_context& job, xgate::channel::methods& m) {
  m.serve<Args, Args>("echo", [](const Args& a, const xgate::channel::call_info&) { return a; });
  xgate::channel::message_codec<Args> codec;
  (void)codec;
  return job.once("k", [] { return Args{1}; }).n;
}
}  // namespace headers
