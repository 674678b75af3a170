// Job libraries (`migrate node --jobs`): loaded and checked, their types run in a node like
// built-in ones; declared arguments refused at submit.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <xgate/migrate.hpp>
#include <xgate/migrate/job_library.hpp>
#include <xgate/results/results.hpp>

#include "test_dir.hpp"

namespace xm = xgate::migrate;
using namespace std::chrono_literals;

namespace pi_test {
// The library's result type, as any reader of its results declares it.
struct PiResult {
  std::string label;
  std::uint64_t samples = 0, hits = 0;
  double estimate = 0;
};
XGATE_TYPE(PiResult, "test.PiResult", 1, (), (label, samples, hits, estimate))
}  // namespace pi_test

namespace {

std::string refusal(const std::string& path, xm::job_registry& into) {
  try {
    xm::load_job_library(path, into);
  } catch (const xm::migrate_error& e) {
    EXPECT_EQ(e.code(), xm::migrate_errc::bad_job_library);
    return e.what();
  }
  ADD_FAILURE() << path << " loaded";
  return "";
}

std::string submit_refusal(xm::node& n, std::map<std::string, std::string> args) {
  try {
    (void)n.submit("pi", std::move(args), "alice");
  } catch (const xm::migrate_error& e) {
    EXPECT_EQ(e.reason(), xm::migrate_errc::bad_argument);
    return e.what();
  }
  ADD_FAILURE() << "submitted";
  return "";
}

class JobLibrary : public ::testing::Test {
 protected:
  std::filesystem::path dir = xgate::store::testing::fresh_dir();
  std::unique_ptr<xgate::store::store> st = std::make_unique<xgate::store::store>(dir / "store");
  std::unique_ptr<xm::job_store> js = xm::local_job_store(*st);
  xm::job_registry jobs;

  ~JobLibrary() override {
    js.reset();
    st.reset();
    std::filesystem::remove_all(dir);
  }
  std::unique_ptr<xm::node> make_node(std::string name) {
    xm::node_options o;
    o.name = std::move(name);
    o.jobs = &jobs;
    o.checkpoint_interval = 5ms;
    return std::make_unique<xm::node>(*js, o);
  }
  pi_test::PiResult result_of(xm::node& n, const std::string& id) {
    xgate::results::results_gate<pi_test::PiResult> gate(n.result(id, "alice"), xgate::results::opener_for(*st));
    return gate.get();
  }
};

TEST_F(JobLibrary, LoadsItsTypesWithTheirDeclaredArguments) {
  std::vector<const xm::job_type*> added = xm::load_job_library(PI_JOBS_PATH, jobs);
  ASSERT_EQ(added.size(), 1u);
  const xm::job_type& t = *added[0];
  EXPECT_EQ(t.name, "pi");
  EXPECT_EQ(t.version, 1u);
  EXPECT_EQ(t.state_type, "test.PiState");
  EXPECT_EQ(t.library, PI_JOBS_PATH);
  EXPECT_EQ(jobs.find("pi"), &t);
  ASSERT_NE(t.check_arguments, nullptr);
  ASSERT_EQ(t.arguments.size(), 5u);
  auto expect = [&](std::size_t i, const char* name, const char* type, const char* fallback) {
    EXPECT_EQ(t.arguments[i].name, name);
    EXPECT_EQ(t.arguments[i].type, type);
    EXPECT_EQ(t.arguments[i].default_value, fallback);
  };
  expect(0, "samples", "uint", "100000");
  expect(1, "seed", "uint", "1");
  expect(2, "method", "lcg|halton", "lcg");
  expect(3, "pause_every", "uint", "0");
  expect(4, "label", "string", "pi");
}

TEST_F(JobLibrary, ItsJobRunsIsSuspendedResumesAndMovesWithTheSameResult) {
  xm::load_job_library(PI_JOBS_PATH, jobs);
  auto a = make_node("A"), b = make_node("B");
  const std::map<std::string, std::string> args{{"samples", "20000"}, {"seed", "7"}, {"label", "moved"},
                                                {"pause_every", "500"}};
  std::string straight = a->submit("pi", args, "alice");
  ASSERT_EQ(a->wait(straight, "alice").state, xm::job_state::done);
  const pi_test::PiResult expected = result_of(*a, straight);
  EXPECT_EQ(expected.label, "moved");
  EXPECT_EQ(expected.samples, 20000u);
  EXPECT_NEAR(expected.estimate, 3.14159, 0.05);

  std::string id = a->submit("pi", args, "alice");
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(a->suspend(id, "alice").state, xm::job_state::suspended);
  EXPECT_EQ(a->resume(id, "alice").state, xm::job_state::running);
  std::this_thread::sleep_for(5ms);
  (void)a->move(id, *b, "alice");
  xm::job_status s = b->wait(id, "alice");
  ASSERT_EQ(s.state, xm::job_state::done) << s.error;
  const pi_test::PiResult moved = result_of(*b, id);
  EXPECT_EQ(moved.hits, expected.hits) << "the state that moved is the library's, decoded by it";
  EXPECT_EQ(moved.estimate, expected.estimate);
}

TEST_F(JobLibrary, DeclaredArgumentsAreRefusedAtSubmitNamingTheArgument) {
  xm::load_job_library(PI_JOBS_PATH, jobs);
  auto a = make_node("A");
  EXPECT_EQ(submit_refusal(*a, {{"samples", "abc"}}),
            "migrate: argument samples=\"abc\" of pi is not an integer from 0 to 18446744073709551615");
  EXPECT_EQ(submit_refusal(*a, {{"samples", "-1"}}),
            "migrate: argument samples=\"-1\" of pi is not an integer from 0 to 18446744073709551615");
  EXPECT_EQ(submit_refusal(*a, {{"pause_every", "70000000000"}}),
            "migrate: argument pause_every=\"70000000000\" of pi is not an integer from 0 to 4294967295");
  EXPECT_EQ(submit_refusal(*a, {{"method", "sobol"}}), "migrate: argument method=\"sobol\" of pi is not one of lcg|halton");
  EXPECT_EQ(submit_refusal(*a, {{"colour", "red"}}),
            "migrate: pi takes no argument colour (its arguments: samples, seed, method, pause_every, label)");
  EXPECT_TRUE(a->list("alice").empty()) << "a refused submit makes no job";
  std::string id = a->submit("pi", {{"samples", "100"}, {"method", "halton"}}, "alice");
  ASSERT_EQ(a->wait(id, "alice").state, xm::job_state::done);
  EXPECT_EQ(result_of(*a, id).label, "pi") << "an argument not given has the struct's default";
}

TEST_F(JobLibrary, RefusalsNameTheLibraryAndWhy) {
  xm::load_job_library(PI_JOBS_PATH, jobs);
  const std::string pi = PI_JOBS_PATH;
  EXPECT_EQ(refusal(pi, jobs), "migrate: job library \"" + pi + "\": brings job type \"pi\", which this node has already (from \"" + pi + "\")");
  const std::string toolchain = xm::detail::toolchain;
  EXPECT_EQ(refusal(WRONG_ABI_JOBS_PATH, jobs),
            "migrate: job library \"" WRONG_ABI_JOBS_PATH "\": was built against xgate 0.0.9 (job library ABI 7, " + toolchain +
                "), this node is xgate " XGATE_VERSION_STRING " (job library ABI 1, " + toolchain + "): rebuild it against this xgate");
  EXPECT_EQ(refusal(NOT_JOBS_PATH, jobs),
            "migrate: job library \"" NOT_JOBS_PATH "\": is not an xgate job library (it has no xgate_job_library entry point: "
            "add XGATE_JOB_LIBRARY() to one of its files, or build it with xgate_add_job_library)");
  const std::filesystem::path text = dir / "jobs.so";
  std::filesystem::create_directories(dir);
  std::ofstream(text) << std::string(200, 'x') << "\n";  // longer than an ELF header: refused for what it says
  EXPECT_EQ(refusal(text.string(), jobs), "migrate: job library \"" + text.string() + "\": cannot be loaded: " +
                                              text.string() + ": invalid ELF header");
  const std::string missing = (dir / "missing.so").string();
  EXPECT_EQ(refusal(missing, jobs), "migrate: job library \"" + missing + "\": cannot be loaded: " + missing +
                                        ": cannot open shared object file: No such file or directory");
  EXPECT_EQ(jobs.all().size(), 1u) << "refused libraries add nothing";
}

}  // namespace
