// A real PostgreSQL cluster for tests: initdb in a fresh temporary directory, postgres on a
// free 127.0.0.1 port, stopped and removed by the process that started it. PostgreSQL refuses
// to run as root, so under root the server's commands run as the `postgres` system user
// (the postgresql package creates it); otherwise as the calling user.
#pragma once

#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace xgate::testing {

class postgresql_cluster {
 public:
  // settings: extra "-c name=value" for postgres (e.g. "synchronous_commit=on").
  // dir: where the cluster lives (removed first); empty: a fresh temporary directory.
  explicit postgresql_cluster(std::vector<std::string> settings = {}, std::filesystem::path dir = {}) : owner_(::getpid()) {
    prepare(dir);
    run(bin_ + "/initdb -D " + data() + " -U xgate -A trust -E UTF8 --no-sync");
    start(settings);
  }

  // A streaming standby of this cluster (pg_basebackup -R) on a port of its own, connecting
  // as application_name: what synchronous_standby_names names.
  postgresql_cluster standby(const std::string& application_name) const {
    return postgresql_cluster(standby_of, *this, application_name);
  }
  // A crash: SIGKILL to the postmaster, waiting (bounded) until it is gone.
  void kill() const {
    std::ifstream pidfile(dir_ / "data" / "postmaster.pid");
    pid_t pid = 0;
    if (!(pidfile >> pid) || pid <= 0) throw std::runtime_error("postgresql_cluster: no postmaster.pid in " + data());
    ::kill(pid, SIGKILL);
    for (int i = 0; i < 1000 && ::kill(pid, 0) == 0; ++i) ::usleep(10000);
  }
  // Makes a standby the primary (pg_ctl promote), waiting until it accepts writes.
  void promote() const { run(bin_ + "/pg_ctl -D " + data() + " -w -t 60 promote"); }

  ~postgresql_cluster() {
    if (::getpid() != owner_) return;  // a forked child leaves the cluster to its parent
    if (started_) std::system((as_ + bin_ + "/pg_ctl -D " + data() + " -m immediate -w stop >/dev/null 2>&1").c_str());
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  postgresql_cluster(const postgresql_cluster&) = delete;
  postgresql_cluster& operator=(const postgresql_cluster&) = delete;
  postgresql_cluster(postgresql_cluster&& o) noexcept
      : owner_(o.owner_), bin_(std::move(o.bin_)), as_(std::move(o.as_)), dir_(std::move(o.dir_)), port_(o.port_), started_(o.started_) {
    o.started_ = false;
    o.owner_ = 0;
  }

  // The cluster all tests of a run share: under CTest the one the `postgresql` fixture
  // started (xgate_test_postgresql start DIR; DIR in XGATE_TEST_POSTGRESQL), otherwise one
  // this program starts on first use and stops at its exit.
  static postgresql_cluster& shared() {
    static postgresql_cluster cluster = [] {
      const char* dir = std::getenv("XGATE_TEST_POSTGRESQL");
      return dir && *dir ? postgresql_cluster(attach, dir) : postgresql_cluster();
    }();
    return cluster;
  }

  // Starts a cluster in dir for other processes (the fixture program): dir/port tells them
  // where; stop() ends it. The object itself leaves the cluster running.
  static void start_in(const std::filesystem::path& dir) {
    postgresql_cluster c(std::vector<std::string>{}, dir);
    std::ofstream(dir / "port") << c.port_ << "\n";
    c.started_ = false;
    c.owner_ = 0;  // not stopped or removed by this object
  }
  static void stop_in(const std::filesystem::path& dir) {
    postgresql_cluster c(attach, dir);
    c.owner_ = ::getpid();
    c.started_ = true;
  }

  int port() const noexcept { return port_; }
  const std::filesystem::path& dir() const noexcept { return dir_; }
  // gssencmode=disable: libpq would otherwise probe Kerberos under a lock, and a test that
  // forks while another thread connects would leave that lock taken in the child.
  std::string uri(const std::string& database) const {
    return "postgresql://xgate@127.0.0.1:" + std::to_string(port_) + "/" + database + "?gssencmode=disable";
  }

  // Runs statements as the cluster's superuser in database; throws with PostgreSQL's message.
  void sql(const std::string& statements, const std::string& database = "postgres") const {
    std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(uri(database).c_str()), &PQfinish);
    if (PQstatus(c.get()) != CONNECTION_OK) throw std::runtime_error("postgresql_cluster: connect: " + std::string(PQerrorMessage(c.get())));
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c.get(), statements.c_str()), &PQclear);
    auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
      throw std::runtime_error("postgresql_cluster: " + statements + ": " + PQerrorMessage(c.get()));
  }
  // The first column of the first row of a query, "" when there is none.
  std::string value(const std::string& query, const std::string& database = "postgres") const {
    std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(uri(database).c_str()), &PQfinish);
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c.get(), query.c_str()), &PQclear);
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) throw std::runtime_error("postgresql_cluster: " + query + ": " + PQerrorMessage(c.get()));
    return PQntuples(r.get()) ? PQgetvalue(r.get(), 0, 0) : "";
  }

  void create_database(const std::string& name) const {
    if (value("SELECT 1 FROM pg_database WHERE datname = '" + name + "'").empty()) sql("CREATE DATABASE " + name);
  }
  void drop_database(const std::string& name) const { sql("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); }

  // A loopback port nothing listens on (as of now).
  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ::close(fd);
      throw std::runtime_error("postgresql_cluster: no free port");
    }
    ::close(fd);
    return ntohs(a.sin_port);
  }

 private:
  struct standby_t {};
  static constexpr standby_t standby_of{};
  postgresql_cluster(standby_t, const postgresql_cluster& primary, const std::string& application_name) : owner_(::getpid()) {
    prepare({});
    run(bin_ + "/pg_basebackup -D " + data() + " -R -X stream -c fast -d 'host=127.0.0.1 port=" +
        std::to_string(primary.port_) + " user=xgate application_name=" + application_name + "'");
    start({});
  }

  // dir_ made fresh (and the server's user's), a free port, bin_ and as_.
  void prepare(const std::filesystem::path& dir) {
    bin_ = output_of("pg_config --bindir");
    if (bin_.empty()) throw std::runtime_error("postgresql_cluster: pg_config --bindir gave nothing (is libpq-dev installed?)");
    static int counter = 0;
    dir_ = !dir.empty() ? dir : std::filesystem::temp_directory_path() /
                                    ("xgate-pg-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    const passwd* pw = nullptr;
    if (::geteuid() == 0) {
      pw = ::getpwnam("postgres");
      if (!pw) throw std::runtime_error("postgresql_cluster: running as root and there is no postgres user to run the server");
      as_ = "runuser -u postgres -- ";
    }
    // A cluster an interrupted run left in dir is stopped before its files go.
    if (std::filesystem::exists(dir_ / "data" / "postmaster.pid"))
      (void)std::system((as_ + bin_ + "/pg_ctl -D " + data() + " -m immediate -w stop >/dev/null 2>&1").c_str());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    if (pw && ::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("postgresql_cluster: chown " + dir_.string());
    port_ = free_port();
  }

  void start(const std::vector<std::string>& settings) {
    std::string options = "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -k " + dir_.string() +
                          " -c fsync=off -c max_connections=200";
    for (const auto& s : settings) options += " -c " + s;
    run(bin_ + "/pg_ctl -D " + data() + " -l " + (dir_ / "server.log").string() + " -w -t 60 -o '" + options + "' start");
    started_ = true;
  }

  struct attach_t {};
  static constexpr attach_t attach{};
  // The cluster another process started in dir (its port in dir/port); not stopped here.
  postgresql_cluster(attach_t, const std::filesystem::path& dir) : owner_(0), dir_(dir) {
    bin_ = output_of("pg_config --bindir");
    if (::geteuid() == 0) as_ = "runuser -u postgres -- ";
    std::ifstream in(dir / "port");
    if (!(in >> port_)) throw std::runtime_error("postgresql_cluster: no cluster in " + dir.string() + " (no port file)");
  }

  std::string data() const { return (dir_ / "data").string(); }

  void run(const std::string& command) const {
    std::filesystem::path log = dir_ / "command.log";
    if (std::system((as_ + command + " >" + log.string() + " 2>&1").c_str()) != 0) {
      std::ifstream in(log);
      std::stringstream text;
      text << in.rdbuf();
      std::ifstream server(dir_ / "server.log");
      text << server.rdbuf();
      throw std::runtime_error("postgresql_cluster: " + command + " failed:\n" + text.str());
    }
  }

  static std::string output_of(const std::string& command) {
    std::unique_ptr<FILE, decltype(&pclose)> p(::popen(command.c_str(), "r"), &pclose);
    if (!p) return {};
    std::array<char, 512> buf{};
    std::string out;
    while (std::fgets(buf.data(), buf.size(), p.get())) out += buf.data();
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
  }

  pid_t owner_;
  std::string bin_, as_;
  std::filesystem::path dir_;
  int port_ = 0;
  bool started_ = false;
};

}  // namespace xgate::testing
