// For the tests of what operators see: one HTTP GET (a scrape or a probe) and promtool's
// check of a scrape.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace xgate::testing {

// GET http://HOST:PORT/TARGET on a connection of its own: the status and the body.
inline std::pair<int, std::string> http_get(const std::string& url_base, const std::string& target) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  const std::string hostport = url_base.substr(url_base.find("://") + 3);
  const std::string host = hostport.substr(0, hostport.rfind(':')), port = hostport.substr(hostport.rfind(':') + 1);
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  asio::connect(socket, asio::ip::tcp::resolver(ioc).resolve(host, port));
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host);
  http::write(socket, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return {res.result_int(), res.body()};
}

// "" when `promtool check metrics` (Debian prometheus) passes the scrape, else what it said.
inline std::string promtool_check(const std::string& scrape, const std::filesystem::path& dir) {
  const std::filesystem::path in = dir / "scrape.txt", out = dir / "promtool.txt";
  std::ofstream(in) << scrape;
  const int rc = std::system(("promtool check metrics < '" + in.string() + "' > '" + out.string() + "' 2>&1").c_str());
  std::ifstream f(out);
  std::stringstream said;
  said << f.rdbuf();
  return rc == 0 ? "" : "promtool exit " + std::to_string(rc) + ": " + said.str();
}

}  // namespace xgate::testing
