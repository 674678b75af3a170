// Crash safety: a writer process killed with SIGKILL in the middle of a stream of writes
// loses nothing it saw acknowledged.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include <xgate/store/engine.hpp>
#include <xgate/store/store.hpp>

#include "store_engines.hpp"

namespace xs = xgate::store;
using xs::testing::StoreTest;

namespace {

// Content that shows truncation or mixing: its number, a size that varies with it, and
// the number again at the end.
std::string payload(std::uint64_t i) {
  return "<w><n>" + std::to_string(i) + "</n><pad>" + std::string(100 + (i * 37) % 3000, 'a' + i % 26) + "</pad><m>" +
         std::to_string(i) + "</m></w>";
}

struct ack {
  std::uint64_t index, revision;
};

[[noreturn]] void writer(const std::filesystem::path& dir, int out) {
  try {
    // A small map, so that the stream also grows it.
    xs::store s(std::make_unique<xs::lmdb_engine>(dir, xs::lmdb_options{.initial_map_size = 256 * 1024}));
    for (std::uint64_t i = 0;; ++i) {
      xs::batch b;
      b.write("crash/" + std::to_string(i), payload(i)).write("crash/latest", "<latest>" + std::to_string(i) + "</latest>");
      std::vector<xs::document_info> w = s.apply(b, "writer");
      ack a{i, w[0].revision};
      if (::write(out, &a, sizeof a) != static_cast<ssize_t>(sizeof a)) ::_exit(2);
    }
  } catch (...) {
    ::_exit(1);
  }
}

bool read_ack(int in, ack& a) {
  char* p = reinterpret_cast<char*>(&a);
  std::size_t got = 0;
  while (got < sizeof a) {
    ssize_t n = ::read(in, p + got, sizeof a - got);
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

TEST_F(StoreTest, EveryAcknowledgedWriteSurvivesSigkill) {
  {
    // An index the writes keep up to date in their transactions.
    xs::store s(dir);
    s.add_index("latest", "crash", "/latest", "writer");
  }
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    writer(dir, fds[1]);
  }
  ::close(fds[1]);
  std::map<std::uint64_t, std::uint64_t> acked;  // index -> revision
  ack a{};
  while (acked.size() < 300 && read_ack(fds[0], a)) acked[a.index] = a.revision;
  ASSERT_EQ(acked.size(), 300u) << "the writer stopped early";
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  while (read_ack(fds[0], a)) acked[a.index] = a.revision;  // acknowledged before it died
  ::close(fds[0]);

  xs::store s(dir);
  for (const auto& [index, revision] : acked) {
    xs::document d = s.read("crash/" + std::to_string(index), "writer");
    ASSERT_EQ(d.xml, payload(index)) << index;
    ASSERT_EQ(d.info.revision, revision) << index;
  }
  std::uint64_t last = acked.rbegin()->first;
  std::string latest = s.read("crash/latest", "writer").xml;
  std::uint64_t latest_index = std::stoull(latest.substr(std::strlen("<latest>")));
  EXPECT_GE(latest_index, last);  // the write in flight may have committed, unacknowledged
  EXPECT_LE(latest_index, last + 1);
  EXPECT_GE(s.revision(), acked.rbegin()->second + 1);
  // The index holds what the documents hold: the latest under its number only.
  auto listed = [&](std::uint64_t n) {
    std::vector<std::string> names;
    s.engine().read("test", "", [&](const xs::read_transaction& t) {
      t.index_lookup("latest", std::to_string(n), "", [&](std::string&& name) {
        names.push_back(std::move(name));
        return true;
      });
    });
    return names;
  };
  EXPECT_EQ(listed(latest_index), std::vector<std::string>{"crash/latest"});
  EXPECT_TRUE(listed(latest_index - 1).empty());
  EXPECT_EQ(s.query("crash", "/latest[. = '" + std::to_string(latest_index) + "']", "writer").size(), 1u);
  // The reopened store takes writes again.
  EXPECT_NO_THROW(s.write("crash/after", "<after/>", "writer"));
}
