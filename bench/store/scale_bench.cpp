// The store at scale: xgated (in this process, on loopback) over an LMDB store of N small
// documents, for each N given (default 10000 and 100000; 1000000 when asked):
//
//   xgate_scale_bench [N...]            prints a table; --json FILE also writes JSON lines
//
// For each N: GET and PUT latency (p50, p99 over keep-alive requests of one client); a paged
// listing of everything through the client library (documents per second); a whole listing
// streamed by GET /list (time to the first byte, to the end, and the server's resident memory
// growth while it streams); a query that matches one document, scanning and through an index
// (median of several); and GET p99 while full listings stream and 1 MB documents are written
// (the file grows), beside GET p99 alone. Times swing between runs on shared machines: compare
// numbers of one run (the ratios), and keep the machine line with them.
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <xgate/client/http_session.hpp>
#include <xgate/server/http_server.hpp>
#include <xgate/store/store.hpp>

namespace xs = xgate::store;
using steady = std::chrono::steady_clock;

namespace {

double ms_since(steady::time_point t0) { return std::chrono::duration<double, std::milli>(steady::now() - t0).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

// Resident memory of this process, from /proc/self/statm.
std::size_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::string machine_line() {
  utsname u{};
  ::uname(&u);
  std::string cpu;
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.starts_with("model name")) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  return std::string(u.sysname) + " " + u.release + ", " + std::to_string(std::thread::hardware_concurrency()) +
         " cores, " + cpu;
}

std::string name_of(std::size_t i) {
  char b[32];
  std::snprintf(b, sizeof b, "d/%08zu", i);
  return b;
}

// About 200 bytes, with a key of its own for the query that finds one document.
std::string small_doc(std::size_t i) {
  std::string d = "<d><k>key-" + std::to_string(i) + "</k><v>";
  while (d.size() < 190) d += "0123456789";
  return d + "</v></d>";
}

// Time to the first byte and to the end of GET target, on a connection of its own.
struct timed_answer {
  double first_byte_ms = 0, total_ms = 0;
  std::size_t bytes = 0;
};
timed_answer timed_get(unsigned short port, const std::string& target, const std::string& token) {
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
                        "\r\nConnection: close\r\n\r\n";
  auto t0 = steady::now();
  asio::write(socket, asio::buffer(request));
  timed_answer a;
  char buffer[1 << 16];
  boost::system::error_code ec;
  for (;;) {
    std::size_t n = socket.read_some(asio::buffer(buffer), ec);
    if (n > 0 && a.bytes == 0) a.first_byte_ms = ms_since(t0);
    a.bytes += n;
    if (ec) break;
  }
  a.total_ms = ms_since(t0);
  return a;
}

struct result {
  std::size_t documents = 0;
  double fill_s = 0;
  double get_p50 = 0, get_p99 = 0, put_p50 = 0, put_p99 = 0;
  double paged_docs_per_s = 0;
  timed_answer stream;
  double stream_rss_mb = 0;
  double query_scan_ms = 0, index_add_s = 0, query_index_ms = 0;
  double get_p99_loaded = 0, get_max_loaded = 0;
  std::size_t loaded_gets = 0;
};

result run(std::size_t n, const std::filesystem::path& dir) {
  result r;
  r.documents = n;
  std::filesystem::remove_all(dir);
  xs::store s(dir);
  auto t0 = steady::now();
  for (std::size_t from = 0; from < n; from += 10000) {
    xs::batch b;
    for (std::size_t i = from; i < std::min(n, from + 10000); ++i) b.write(name_of(i), small_doc(i));
    s.apply(b, "bench");
  }
  r.fill_s = ms_since(t0) / 1000;
  std::string token = s.issue_credential("bench", xs::credential_request{});
  xgate::server::server_options o;
  o.port = 0;
  xgate::server::http_server server(s, o);
  server.start();
  auto session = xgate::client::http_session(server.url(), token);
  std::minstd_rand rng(7);

  auto gets = [&](int count, std::vector<double>& lat) {
    for (int i = 0; i < count; ++i) {
      auto g0 = steady::now();
      (void)session->read(name_of(rng() % n));
      lat.push_back(ms_since(g0));
    }
  };
  std::vector<double> get_lat, put_lat;
  gets(2000, get_lat);
  r.get_p50 = percentile(get_lat, 0.5);
  r.get_p99 = percentile(get_lat, 0.99);
  for (int i = 0; i < 300; ++i) {
    auto p0 = steady::now();
    session->write(name_of(rng() % n), small_doc(i));
    put_lat.push_back(ms_since(p0));
  }
  r.put_p50 = percentile(put_lat, 0.5);
  r.put_p99 = percentile(put_lat, 0.99);

  t0 = steady::now();
  xs::list_page all = session->list("d", xs::list_options{});  // pages of 1,000 until the last
  r.paged_docs_per_s = static_cast<double>(all.documents.size()) / (ms_since(t0) / 1000);
  if (all.documents.size() != n) throw std::runtime_error("paged listing gave " + std::to_string(all.documents.size()));

  // The whole listing streamed, with the process's resident memory sampled meanwhile.
  std::atomic<bool> streaming{true};
  std::size_t base_rss = resident_bytes(), peak_rss = base_rss;
  std::thread sampler([&] {
    while (streaming) {
      peak_rss = std::max(peak_rss, resident_bytes());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  r.stream = timed_get(server.port(), "/list/d", token);
  streaming = false;
  sampler.join();
  r.stream_rss_mb = static_cast<double>(peak_rss - base_rss) / (1 << 20);

  std::string one = "/d/k[. = 'key-" + std::to_string(n / 2) + "']/text()";
  auto query_ms = [&](int runs) {
    std::vector<double> lat;
    for (int i = 0; i < runs; ++i) {
      auto q0 = steady::now();
      auto found = session->query("d", one);
      lat.push_back(ms_since(q0));
      if (found.size() != 1) throw std::runtime_error("the query found " + std::to_string(found.size()));
    }
    return percentile(lat, 0.5);
  };
  r.query_scan_ms = query_ms(3);
  t0 = steady::now();
  session->add_index("key", "d", "/d/k");
  r.index_add_s = ms_since(t0) / 1000;
  r.query_index_ms = query_ms(21);

  // GETs while whole listings stream and 1 MB documents make the file grow.
  std::atomic<bool> loading{true};
  std::thread lister([&] {
    while (loading) (void)timed_get(server.port(), "/list/d", token);
  });
  std::thread grower([&] {
    auto w = xgate::client::http_session(server.url(), token);
    std::string big = "<big>" + std::string(1 << 20, 'x') + "</big>";
    for (int i = 0; loading; ++i) w->write("grow/" + std::to_string(i % 200), big);
  });
  std::vector<double> loaded;
  auto until = steady::now() + std::chrono::seconds(std::min<std::size_t>(20, 3 + n / 100000));
  while (steady::now() < until) gets(50, loaded);
  loading = false;
  lister.join();
  grower.join();
  r.get_p99_loaded = percentile(loaded, 0.99);
  r.get_max_loaded = percentile(loaded, 1.0);
  r.loaded_gets = loaded.size();
  server.stop();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes;
  std::string json;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json = argv[++i];
    else if (a == "--smoke") sizes.push_back(2000);
    else sizes.push_back(std::stoull(a));
  }
  if (sizes.empty()) sizes = {10000, 100000};
  const char* base = std::getenv("XGATE_BENCH_DIR");
  std::filesystem::path dir = std::filesystem::path(base ? base : std::filesystem::temp_directory_path().string()) /
                              ("xgate-scale-bench-" + std::to_string(::getpid()));
  std::cout << "machine: " << machine_line() << "\n\n";
  std::cout << "| documents | fill s | GET p50/p99 ms | PUT p50/p99 ms | paged list docs/s | stream first byte / total ms "
               "(MB) | stream RSS +MB | query 1 of N: scan / index ms | index add s | GET p99 / max ms during listings "
               "+ growth (GETs) |\n|---|---|---|---|---|---|---|---|---|---|\n";
  std::ofstream out;
  if (!json.empty()) out.open(json);
  for (std::size_t n : sizes) {
    result r = run(n, dir);
    std::filesystem::remove_all(dir);
    std::ostringstream row;
    row.precision(3);
    row << "| " << r.documents << " | " << r.fill_s << " | " << r.get_p50 << " / " << r.get_p99 << " | " << r.put_p50
        << " / " << r.put_p99 << " | " << static_cast<long>(r.paged_docs_per_s) << " | " << r.stream.first_byte_ms << " / "
        << r.stream.total_ms << " (" << static_cast<double>(r.stream.bytes) / (1 << 20) << ") | " << r.stream_rss_mb
        << " | " << r.query_scan_ms << " / " << r.query_index_ms << " | " << r.index_add_s << " | " << r.get_p99_loaded
        << " / " << r.get_max_loaded << " (" << r.loaded_gets << ") |\n";
    std::cout << row.str() << std::flush;
    if (out)
      out << "{\"documents\":" << r.documents << ",\"get_p50_ms\":" << r.get_p50 << ",\"get_p99_ms\":" << r.get_p99
          << ",\"put_p50_ms\":" << r.put_p50 << ",\"put_p99_ms\":" << r.put_p99 << ",\"paged_docs_per_s\":" << r.paged_docs_per_s
          << ",\"stream_first_byte_ms\":" << r.stream.first_byte_ms << ",\"stream_total_ms\":" << r.stream.total_ms
          << ",\"stream_rss_mb\":" << r.stream_rss_mb << ",\"query_scan_ms\":" << r.query_scan_ms
          << ",\"query_index_ms\":" << r.query_index_ms << ",\"get_p99_loaded_ms\":" << r.get_p99_loaded
          << ",\"get_max_loaded_ms\":" << r.get_max_loaded << "}\n";
  }
  return 0;
}
