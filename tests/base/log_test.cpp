// The daemons' log: its two formats, levels, JSON escaping, and a file reopened after a move.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <xgate/base/log.hpp>

namespace {
namespace fs = std::filesystem;
using xgate::log_format;
using xgate::log_level;

std::string after_time(const std::string& line) { return line.substr(line.find(' ') + 1); }  // "2026-...Z " off

TEST(Log, TextIsTimeLevelComponentAndTheMessageOnOneLine) {
  std::ostringstream out;
  xgate::logger log(out);
  log.write(log_level::info, "hub", "login: alice/n1", {{"endpoint", "alice/n1"}, {"port", 4711}});
  log.write(log_level::warning, "node A", "two\nlines\rhere");
  std::istringstream lines(out.str());
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_EQ(first.size(), 24 + 1 + std::string("info hub: login: alice/n1").size()) << first;
  EXPECT_EQ(first[10], 'T');
  EXPECT_EQ(first[23], 'Z');
  EXPECT_EQ(after_time(first), "info hub: login: alice/n1") << "fields are for machines";
  EXPECT_EQ(after_time(second), "warning node A: two lines here");
  EXPECT_TRUE(out.str().ends_with("here\n"));
}

TEST(Log, JsonIsOneObjectPerLineWithFields) {
  std::ostringstream out;
  xgate::logger log(out, log_format::json);
  log.write(log_level::error, "xgated", "say \"hi\"\\\n\t\x01", {{"status", 404u}, {"who", "bob"}, {"bytes", -3}});
  const std::string line = out.str();
  ASSERT_TRUE(line.starts_with("{\"time\":\"")) << line;
  EXPECT_EQ(line.substr(line.find("\",\"level\"")),
            "\",\"level\":\"error\",\"component\":\"xgated\",\"message\":\"say \\\"hi\\\"\\\\\\n\\t\\u0001\","
            "\"fields\":{\"status\":404,\"who\":\"bob\",\"bytes\":-3}}\n");
}

TEST(Log, JsonKeepsUtf8AndReplacesBytesThatAreNotUtf8) {
  std::string out;
  xgate::append_json_string(out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");  // é € 😀
  EXPECT_EQ(out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  out.clear();
  // a lone continuation byte, a cut sequence, an overlong '/', a surrogate, past U+10FFFF
  xgate::append_json_string(out, "a\x80" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80" "e\xf4\x90\x80\x80");
  EXPECT_EQ(out, "a\\ufffdb\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffd\\ufffde\\ufffd\\ufffd\\ufffd\\ufffd");
}

TEST(Log, LinesBelowTheLevelAreDropped) {
  std::ostringstream out;
  xgate::logger log(out, log_format::text, log_level::warning);
  EXPECT_FALSE(log.enabled(log_level::info));
  EXPECT_TRUE(log.enabled(log_level::error));
  log.write(log_level::debug, "x", "a");
  log.write(log_level::info, "x", "b");
  log.write(log_level::warning, "x", "c");
  EXPECT_EQ(after_time(out.str()), "warning x: c\n");
}

TEST(Log, AFileIsCreatedPrivateAndReopenedAfterItWasMoved) {
  const fs::path dir = fs::temp_directory_path() / ("xgate-log-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    xgate::logger log(dir / "x.log");
    log.write(log_level::info, "x", "one");
    struct stat st {};
    ASSERT_EQ(::stat((dir / "x.log").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    fs::rename(dir / "x.log", dir / "x.log.1");  // logrotate
    log.write(log_level::info, "x", "two");      // still the moved file
    log.reopen();
    log.write(log_level::info, "x", "three");
  }
  auto read = [](const fs::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  };
  EXPECT_NE(read(dir / "x.log.1").find("info x: two\n"), std::string::npos);
  EXPECT_EQ(read(dir / "x.log.1").find("three"), std::string::npos);
  EXPECT_EQ(after_time(read(dir / "x.log")), "info x: three\n");
  fs::remove_all(dir);
}

TEST(Log, SettingsThatAreNotALevelFormatOrWritableFileAreRefusedNamingTheFlag) {
  auto message = [](const xgate::log_settings& s) -> std::string {
    try {
      (void)xgate::open_logger(s);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "none";
  };
  EXPECT_EQ(message({.level = "loud"}), "--log-level: \"loud\" is not one of debug, info, warning, error");
  EXPECT_EQ(message({.format = "xml"}), "--log-format: \"xml\" is not text or json");
  EXPECT_EQ(message({.file = "/nonexistent-dir/x.log"}), "log file /nonexistent-dir/x.log: No such file or directory");
  EXPECT_EQ(xgate::open_logger({.level = "debug", .format = "json"})->format(), log_format::json);
}

}  // namespace
