// The migration runtime in one process: several nodes (objects) sharing one store.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <xgate/examples/jobs.hpp>
#include <xgate/migrate.hpp>
#include <xgate/results/results.hpp>

#include "files.hpp"
#include "test_dir.hpp"

namespace xm = xgate::migrate;
namespace xe = xgate::examples;
using namespace std::chrono_literals;

namespace {

// ---- a job for the rules the examples do not show -----------------------------------------
// Counts to steps=N; at every 10th step performs an effect through ctx.once (a line appended
// to effects=FILE); waits at hold=K while the file hold=FILE... exists (so a test can stop a
// node at a known point); counts its body entries in a global (locals do not survive).
struct CounterState {
  std::uint64_t i = 0;
  std::uint64_t total = 0;
  std::uint64_t local_survived = 0;  // how often a local was found intact after a checkpoint
};
XGATE_TYPE(CounterState, "test.CounterState", 1, (), (i, total, local_survived))

std::atomic<int> counter_entries{0};

void counter(xgate::job_context& ctx, CounterState& s) {
  ++counter_entries;
  const std::uint64_t steps = ctx.arg_u64("steps", 100), pause_ms = ctx.arg_u64("pause_ms", 1);
  const std::string effects = ctx.arg("effects", ""), hold = ctx.arg("hold", "");
  const std::uint64_t hold_at = ctx.arg_u64("hold_at", 0);
  std::uint64_t local = s.i;  // a local: rebuilt from the state on every entry
  while (s.i < steps) {
    if (s.i % 10 == 0 && !effects.empty()) {
      s.total += ctx.once("effect-" + std::to_string(s.i), [&] {
        std::ofstream(effects, std::ios::app) << ctx.once_token("effect-" + std::to_string(s.i)) << "\n";
        return s.i * 2;
      });
    }
    ++s.i;
    ++local;
    if (local == s.i) ++s.local_survived;
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    ctx.checkpoint();
    while (s.i == hold_at && !hold.empty() && std::filesystem::exists(hold)) {
      std::this_thread::sleep_for(1ms);
      ctx.checkpoint();
    }
  }
  ctx.result(s.total);
}
XGATE_JOB("test-counter", 1, CounterState, counter)

// ---- fixture ------------------------------------------------------------------------------
class MigrateRuntime : public ::testing::Test {
 protected:
  std::filesystem::path dir = xgate::store::testing::fresh_dir();
  std::unique_ptr<xgate::store::store> st = std::make_unique<xgate::store::store>(dir / "store");
  std::unique_ptr<xm::job_store> js = xm::local_job_store(*st);

  ~MigrateRuntime() override {
    js.reset();
    st.reset();
    std::filesystem::remove_all(dir);
  }

  std::unique_ptr<xm::node> make_node(std::string name, const xm::job_registry* jobs = nullptr) {
    xm::node_options o;
    o.name = std::move(name);
    o.jobs = jobs;
    o.checkpoint_interval = 50ms;
    return std::make_unique<xm::node>(*js, o);
  }

  // A deterministic text of `words` words over a small vocabulary, and its counts.
  std::map<std::string, std::uint64_t> make_text(const std::filesystem::path& path, std::size_t words) {
    std::mt19937 gen(42);
    std::map<std::string, std::uint64_t> counts;
    std::ofstream out(path, std::ios::binary);
    for (std::size_t i = 0; i < words; ++i) {
      std::string w = "w" + std::to_string(gen() % 300);
      if (i % 7 == 0) w += "é";  // bytes, not characters
      ++counts[w];
      out << w << (i % 13 == 0 ? "\n" : i % 5 == 0 ? " \t " : " ");
    }
    return counts;
  }

  template <class T>
  T result_of(xm::node& n, const std::string& id) {
    xgate::results::results_gate<T> gate(n.result(id, "alice"), xgate::results::opener_for(*st));
    return gate.get();
  }

  // Moves the job between a and b `moves` times while it runs, then waits for the end.
  std::vector<xm::move_report> bounce(xm::node& a, xm::node& b, const std::string& id, int moves) {
    std::vector<xm::move_report> reports;
    xm::node* at = &a;
    xm::node* other = &b;
    for (int i = 0; i < moves; ++i) {
      std::this_thread::sleep_for(10ms);
      reports.push_back(at->move(id, *other, "alice"));
      std::swap(at, other);
    }
    xm::job_status s = at->wait(id, "alice");
    EXPECT_EQ(s.state, xm::job_state::done) << s.error;
    EXPECT_EQ(s.node, at->name());
    return reports;
  }
};

template <class F>
xm::migrate_error catch_migrate(F&& f) {
  try {
    f();
  } catch (const xm::migrate_error& e) {
    return e;
  }
  ADD_FAILURE() << "no migrate_error thrown";
  return xm::migrate_error(xm::migrate_errc::job_failed, "", "none");
}

// ---- moving gives the same result -----------------------------------------------------------
class MigrateMoves : public MigrateRuntime, public ::testing::WithParamInterface<int> {};

TEST_P(MigrateMoves, WordCountResultIsTheSameHoweverOftenItMoved) {
  auto expected = make_text(dir / "in.txt", 30000);
  auto a = make_node("A"), b = make_node("B");
  std::string id = a->submit("word-count",
                             {{"input", (dir / "in.txt").string()}, {"output", (dir / "out.txt").string()},
                              {"every", "300"}, {"throttle_ms", "3"}},
                             "alice");
  auto reports = bounce(*a, *b, id, GetParam());
  ASSERT_EQ(reports.size(), static_cast<std::size_t>(GetParam()));
  for (const auto& r : reports) {
    EXPECT_GT(r.checkpoint_bytes, 0u);
    EXPECT_LT(r.downtime, 2s);
  }
  EXPECT_EQ(xgate::testing::read_file(dir / "out.txt"), xe::word_count_text(expected));
  auto counts = result_of<std::map<std::string, std::uint64_t>>(GetParam() % 2 ? *b : *a, id);
  EXPECT_EQ(counts, expected);
  // The log tells the story: submitted, checkpoints, one "moved" per move, done.
  auto log = a->log(id, "alice");
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.front().kind, xm::log_kind::submitted);
  EXPECT_EQ(log.back().kind, xm::log_kind::done);
  EXPECT_EQ(std::count_if(log.begin(), log.end(), [](const auto& e) { return e.kind == xm::log_kind::moved; }), GetParam());
}

TEST_P(MigrateMoves, HeatGridIsBitIdenticalHoweverOftenItMoved) {
  auto a = make_node("A"), b = make_node("B");
  auto run = [&](int moves_wanted, const std::string& out) {
    std::string id = a->submit("heat", {{"n", "24"}, {"steps", "60"}, {"throttle_ms", "2"}, {"output", (dir / out).string()}},
                               "alice");
    bounce(*a, *b, id, moves_wanted);
    return result_of<xe::HeatState>(moves_wanted % 2 ? *b : *a, id);
  };
  xe::HeatState reference = run(0, "ref.txt");
  xe::HeatState moved = run(GetParam(), "moved.txt");
  ASSERT_EQ(moved.step, 60u);
  ASSERT_EQ(moved.grid.size(), reference.grid.size());
  EXPECT_EQ(std::memcmp(moved.grid.data(), reference.grid.data(), moved.grid.size() * sizeof(double)), 0);
  EXPECT_EQ(xgate::testing::read_file(dir / "moved.txt"), xgate::testing::read_file(dir / "ref.txt"));
}

INSTANTIATE_TEST_SUITE_P(Moved, MigrateMoves, ::testing::Values(0, 1, 10));

// ---- the rule: the body is entered again from the top with the restored state -----------------
TEST_F(MigrateRuntime, BodyReentersFromTheTopWithTheStateAndLocalsAreRebuilt) {
  counter_entries = 0;
  auto a = make_node("A"), b = make_node("B");
  std::string id = a->submit("test-counter", {{"steps", "150"}, {"pause_ms", "2"}}, "alice");
  bounce(*a, *b, id, 3);
  EXPECT_EQ(counter_entries.load(), 4);  // submit + three moves
  auto s = result_of<std::uint64_t>(*b, id);
  EXPECT_EQ(s, 0u);  // no effects asked for
}

// ---- a node dies; another resumes from the last checkpoint --------------------------------
TEST_F(MigrateRuntime, ADeadNodesJobResumesElsewhereWithOnceEffectsExactlyOnce) {
  const auto effects = dir / "effects.txt", hold = dir / "hold";
  std::ofstream(hold) << "x";
  auto a = make_node("A"), b = make_node("B");
  std::string id = a->submit("test-counter",
                             {{"steps", "60"}, {"pause_ms", "1"}, {"effects", effects.string()},
                              {"hold", hold.string()}, {"hold_at", "35"}},
                             "alice");
  // Wait until A saved the job at step 35 (with the once results of steps 0..30), then kill A.
  for (auto deadline = std::chrono::steady_clock::now() + 20s;;) {
    xm::job_status st = a->status(id, "alice");
    if (st.steps >= 35 && st.state == xm::job_state::running) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the job did not reach step 35";
    std::this_thread::sleep_for(5ms);
  }
  // Its record still says "running on A": without force, B refuses.
  EXPECT_EQ(catch_migrate([&] { b->resume(id, "alice"); }).code(), xm::migrate_errc::wrong_state);
  a.reset();  // dies at its next safe point, saving nothing
  std::filesystem::remove(hold);
  xm::job_status st = b->resume(id, "alice", {.force = true});
  EXPECT_EQ(st.node, "B");
  EXPECT_EQ(st.epoch, 2u);
  st = b->wait(id, "alice");
  ASSERT_EQ(st.state, xm::job_state::done) << st.error;
  // 0+2+...+118 = 2*(0+10+...+50)
  EXPECT_EQ(result_of<std::uint64_t>(*b, id), 300u);
  std::istringstream lines(xgate::testing::read_file(effects));
  std::map<std::string, int> seen;
  for (std::string l; std::getline(lines, l);) ++seen[l];
  EXPECT_EQ(seen.size(), 6u);
  for (const auto& [token, n] : seen) EXPECT_EQ(n, 1) << token << " happened " << n << " times";
}

TEST_F(MigrateRuntime, WordCountSurvivesItsNodeDyingMidRun) {
  auto expected = make_text(dir / "in.txt", 20000);
  auto a = make_node("A"), b = make_node("B");
  std::string id = a->submit("word-count",
                             {{"input", (dir / "in.txt").string()}, {"output", (dir / "out.txt").string()},
                              {"every", "500"}, {"throttle_ms", "5"}},
                             "alice");
  std::this_thread::sleep_for(60ms);
  a.reset();
  xm::job_status st = b->resume(id, "alice", {.force = true});
  EXPECT_GT(st.steps, 0u);  // from a checkpoint after the start
  st = b->wait(id, "alice");
  ASSERT_EQ(st.state, xm::job_state::done) << st.error;
  EXPECT_EQ(xgate::testing::read_file(dir / "out.txt"), xe::word_count_text(expected));
  EXPECT_EQ((result_of<std::map<std::string, std::uint64_t>>(*b, id)), expected);
}

// ---- refusals -------------------------------------------------------------------------------
TEST_F(MigrateRuntime, AMoveToANodeLackingTheTypeOrVersionFailsAndTheJobKeepsRunning) {
  auto expected = make_text(dir / "in.txt", 5000);
  xm::job_registry none, other_version;
  other_version.add(xm::make_job_type<xe::WordCountState, xe::word_count>("word-count", 2));
  auto a = make_node("A"), c = make_node("C", &none), d = make_node("D", &other_version);
  std::string id = a->submit("word-count",
                             {{"input", (dir / "in.txt").string()}, {"output", (dir / "out.txt").string()},
                              {"every", "500"}, {"throttle_ms", "10"}},
                             "alice");
  auto e = catch_migrate([&] { a->move(id, *c, "alice"); });
  EXPECT_EQ(e.code(), xm::migrate_errc::unknown_job_type);
  EXPECT_STREQ(e.what(), ("migrate: job \"" + id + "\": node \"C\" does not host job type \"word-count\"").c_str());
  e = catch_migrate([&] { a->move(id, *d, "alice"); });
  EXPECT_EQ(e.code(), xm::migrate_errc::incompatible_version);
  EXPECT_NE(std::string(e.what()).find("has version 2"), std::string::npos) << e.what();
  // A daemon's handoff to a node the store does not know.
  EXPECT_EQ(catch_migrate([&] { a->handoff(id, "Z", "alice"); }).code(), xm::migrate_errc::unknown_node);
  EXPECT_EQ(a->hosted(), std::vector<std::string>{id});
  xm::job_status st = a->wait(id, "alice");
  EXPECT_EQ(st.state, xm::job_state::done);
  EXPECT_EQ(st.node, "A");
  EXPECT_EQ(xgate::testing::read_file(dir / "out.txt"), xe::word_count_text(expected));
}

TEST_F(MigrateRuntime, ATamperedCheckpointIsRefused) {
  make_text(dir / "in.txt", 5000);
  auto a = make_node("A"), b = make_node("B");
  std::string id = a->submit("word-count",
                             {{"input", (dir / "in.txt").string()}, {"output", (dir / "out.txt").string()},
                              {"every", "500"}, {"throttle_ms", "10"}},
                             "alice");
  std::this_thread::sleep_for(30ms);
  a->suspend(id, "alice");
  const std::string name = xm::checkpoint_name(id);
  const std::string original = st->read(name, "xgate-migrate").xml;
  auto tamper = [&](const std::string& from, const std::string& to) {
    std::string x = original;
    auto at = x.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    x.replace(at, from.size(), to);
    st->write(name, x, "xgate-migrate");
  };
  // The state: one more word.
  tamper("<words>", "<words>1");
  auto e = catch_migrate([&] { b->resume(id, "alice"); });
  EXPECT_EQ(e.code(), xm::migrate_errc::bad_checkpoint);
  EXPECT_NE(std::string(e.what()).find("does not verify with the keys of node \"A\""), std::string::npos) << e.what();
  EXPECT_EQ(e.code(), xgate::condition::access_denied);  // like a signature that does not verify
  // The rights: mallory may read.
  tamper("read=\"creator alice\"", "read=\"creator alice mallory\"");
  EXPECT_EQ(catch_migrate([&] { b->resume(id, "alice"); }).code(), xm::migrate_errc::bad_checkpoint);
  // The job is still suspended and resumes from the genuine checkpoint.
  st->write(name, original, "xgate-migrate");
  EXPECT_EQ(b->status(id, "alice").state, xm::job_state::suspended);
  b->resume(id, "alice");
  EXPECT_EQ(b->wait(id, "alice").state, xm::job_state::done);
}

TEST_F(MigrateRuntime, ACheckpointFromAnOlderEpochIsRefused) {
  make_text(dir / "in.txt", 5000);
  auto a = make_node("A"), b = make_node("B");
  std::string id = a->submit("word-count",
                             {{"input", (dir / "in.txt").string()}, {"output", (dir / "out.txt").string()},
                              {"every", "500"}, {"throttle_ms", "10"}},
                             "alice");
  std::this_thread::sleep_for(30ms);
  const std::string old = st->read(xm::checkpoint_name(id), "xgate-migrate").xml;  // epoch 1, signed by A
  a->move(id, *b, "alice");
  b->suspend(id, "alice");
  st->write(xm::checkpoint_name(id), old, "xgate-migrate");  // replayed
  auto e = catch_migrate([&] { a->resume(id, "alice"); });
  EXPECT_EQ(e.code(), xm::migrate_errc::stale_epoch);
  EXPECT_NE(std::string(e.what()).find("is from epoch 1, the job is at epoch 2"), std::string::npos) << e.what();
}

// A daemon's move that gave up after the handoff takes the job back; the target's resume,
// arriving late, must not take it over (the resume a move asks for names the handed epoch).
TEST_F(MigrateRuntime, ALateResumeOfAHandoffTakenBackIsRefused) {
  auto expected = make_text(dir / "in.txt", 5000);
  auto a = make_node("A"), b = make_node("B");
  std::string id = a->submit("word-count",
                             {{"input", (dir / "in.txt").string()}, {"output", (dir / "out.txt").string()},
                              {"every", "500"}, {"throttle_ms", "10"}},
                             "alice");
  const std::uint64_t handed = a->handoff(id, "B", "alice").epoch;
  EXPECT_EQ(a->resume(id, "alice").node, "A");  // the move gave up: A takes it back
  auto e = catch_migrate([&] { b->resume(id, "alice", {.handed_epoch = handed}); });
  EXPECT_EQ(e.code(), xm::migrate_errc::stale_epoch);
  EXPECT_STREQ(e.what(), ("migrate: job \"" + id + "\": the job is no longer handed to node \"B\" under epoch " +
                          std::to_string(handed) + ": it is running on node \"A\" (epoch " + std::to_string(handed + 1) + ")")
                             .c_str());
  EXPECT_TRUE(b->hosted().empty());
  xm::job_status st = a->wait(id, "alice");
  EXPECT_EQ(st.state, xm::job_state::done);
  EXPECT_EQ(st.node, "A");
  EXPECT_EQ((result_of<std::map<std::string, std::uint64_t>>(*a, id)), expected);
}

TEST_F(MigrateRuntime, ANodeThatLostTheJobIsRefusedAtItsNextCheckpointAndStops) {
  auto expected = make_text(dir / "in.txt", 8000);
  auto a = make_node("A"), b = make_node("B");
  std::string id = a->submit("word-count",
                             {{"input", (dir / "in.txt").string()}, {"output", (dir / "out.txt").string()},
                              {"every", "400"}, {"throttle_ms", "50"}},
                             "alice");
  std::this_thread::sleep_for(30ms);
  // B takes the job as if A were dead; A is not, and learns at its next checkpoint.
  b->resume(id, "alice", {.force = true});
  auto e = catch_migrate([&] { a->wait(id, "alice"); });
  EXPECT_EQ(e.code(), xm::migrate_errc::stale_epoch);
  EXPECT_NE(std::string(e.what()).find("checkpoint of node \"A\" refused: the job is at epoch 2 on node \"B\""),
            std::string::npos)
      << e.what();
  EXPECT_TRUE(a->hosted().empty());
  EXPECT_EQ(a->stats().lost, 1u);
  EXPECT_EQ(b->wait(id, "alice").state, xm::job_state::done);
  EXPECT_EQ((result_of<std::map<std::string, std::uint64_t>>(*b, id)), expected);
}

TEST_F(MigrateRuntime, PrincipalsWithoutRightsAreRefused) {
  make_text(dir / "in.txt", 5000);
  auto a = make_node("A"), b = make_node("B");
  xm::job_rights rights = xm::job_rights::owned_by("alice");
  rights.read.push_back("bob");
  std::string id = a->submit("word-count",
                             {{"input", (dir / "in.txt").string()}, {"output", (dir / "out.txt").string()},
                              {"every", "500"}, {"throttle_ms", "5"}},
                             "alice", {.rights = rights});
  auto e = catch_migrate([&] { a->move(id, *b, "mallory"); });
  EXPECT_EQ(e.code(), xm::migrate_errc::access_denied);
  EXPECT_STREQ(e.what(), ("migrate: job \"" + id +
                          "\": principal \"mallory\" lacks the write right to move it (submitted by \"alice\")")
                             .c_str());
  EXPECT_EQ(catch_migrate([&] { (void)a->status(id, "mallory"); }).code(), xm::migrate_errc::access_denied);
  EXPECT_EQ(catch_migrate([&] { (void)a->log(id, "mallory"); }).code(), xm::migrate_errc::access_denied);
  EXPECT_EQ(catch_migrate([&] { a->suspend(id, "bob"); }).code(), xm::migrate_errc::access_denied);
  EXPECT_EQ(a->status(id, "bob").submitter, "alice");  // bob may read
  EXPECT_TRUE(a->list("mallory").empty());
  EXPECT_EQ(a->list("bob").size(), 1u);
  a->wait(id, "alice");
  EXPECT_EQ(catch_migrate([&] { (void)a->result(id, "mallory"); }).code(), xm::migrate_errc::access_denied);
  // The store enforces the same: mallory cannot read the result document either.
  EXPECT_THROW((void)st->read(xm::result_name(id), "mallory"), xgate::access_denied);
  EXPECT_NO_THROW((void)st->read(xm::result_name(id), "bob"));
}

TEST_F(MigrateRuntime, KillAndBadArguments) {
  auto a = make_node("A");
  std::string id = a->submit("test-counter", {{"steps", "100000"}, {"pause_ms", "1"}}, "alice");
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(a->kill(id, "alice").state, xm::job_state::killed);
  EXPECT_EQ(catch_migrate([&] { a->resume(id, "alice"); }).code(), xm::migrate_errc::wrong_state);
  xm::migrate_error no_type = catch_migrate([&] { (void)a->submit("no-such-job", {}, "alice"); });
  EXPECT_EQ(no_type.code(), xm::migrate_errc::unknown_job_type);
  EXPECT_STREQ(no_type.what(), "migrate: node \"A\" does not host job type \"no-such-job\"") << "no id of a job never made";
  std::string bad = a->submit("word-count", {{"output", "x"}}, "alice");
  xm::migrate_error refused = catch_migrate([&] { a->wait_arguments_read(bad, 10s); });
  EXPECT_EQ(refused.code(), xm::migrate_errc::bad_argument);
  EXPECT_EQ(std::string(refused.what()), "migrate: job \"" + bad + "\": missing argument input= (the job failed)");
  xm::job_status st = a->wait(bad, "alice");
  EXPECT_EQ(st.state, xm::job_state::failed);
  EXPECT_NE(st.error.find("missing argument input="), std::string::npos) << st.error;
  EXPECT_EQ(catch_migrate([&] { (void)a->status("j-nope", "alice"); }).code(), xm::migrate_errc::unknown_job);
  xm::node_stats ns = a->stats();
  EXPECT_EQ(ns.started, 2u);
  EXPECT_EQ(ns.killed, 1u);
  EXPECT_EQ(ns.failed, 1u);
  EXPECT_EQ(ns.running, 0u);
}

TEST_F(MigrateRuntime, StatsCountWhatEachNodeDid) {
  auto a = make_node("A"), b = make_node("B");
  std::string id = a->submit("test-counter", {{"steps", "400"}, {"pause_ms", "1"}}, "alice");
  ASSERT_TRUE(a->wait_started(id, 10s));
  EXPECT_NO_THROW(a->wait_arguments_read(id, 10s)) << "good arguments: it runs on";
  EXPECT_EQ(a->stats().running, 1u);
  xm::move_report m = a->move(id, *b, "alice");
  EXPECT_EQ(b->wait(id, "alice").state, xm::job_state::done);
  xm::node_stats sa = a->stats(), sb = b->stats();
  EXPECT_EQ(sa.started, 1u);
  EXPECT_EQ(sa.moved, 1u);
  EXPECT_EQ(sa.running, 0u);
  EXPECT_GE(sa.checkpoints, 1u) << "the move's";
  EXPECT_GE(sa.checkpoint_bytes, m.checkpoint_bytes);
  EXPECT_GT(sa.checkpoint_time.count(), 0);
  EXPECT_EQ(sb.started, 1u);
  EXPECT_EQ(sb.done, 1u);
  EXPECT_EQ(sb.moved + sb.failed + sb.killed + sb.suspended + sb.lost, 0u);
}

}  // namespace
