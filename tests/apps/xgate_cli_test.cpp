// The xgate program as a user runs it: every subcommand, every exit code, one "error: " line
// on failure. The program runs as a subprocess with its output captured in files.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <xgate/examples/drawing.hpp>
#include <xgate/xmlcodec.hpp>

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.flush()) << p;
}

struct result {
  int code = -1;  // exit status; -1 when killed by a signal
  std::string out, err;
};

class XgateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "xgate-cli-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // Runs xgate with `args`; standard input comes from `input` (empty: /dev/null).
  result run(const std::vector<std::string>& args, const fs::path& input = {}) {
    fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
    std::vector<std::string> all{XGATE_CLI_PATH};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string in = input.empty() ? std::string("/dev/null") : input.string();
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd0 = ::open(in.c_str(), O_RDONLY);
      int fd1 = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int fd2 = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd0 < 0 || fd1 < 0 || fd2 < 0 || ::dup2(fd0, 0) < 0 || ::dup2(fd1, 1) < 0 || ::dup2(fd2, 2) < 0) ::_exit(127);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    result r;
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_file(out);
    r.err = read_file(err);
    return r;
  }

  // A failure: the expected code, nothing but one "error: " line on stderr.
  static void expect_failure(const result& r, int code, const std::string& mentions = {}) {
    EXPECT_EQ(r.code, code) << "stderr: " << r.err;
    EXPECT_TRUE(r.err.starts_with("error: ")) << r.err;
    EXPECT_TRUE(r.err.ends_with("\n")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    if (!mentions.empty()) {
      EXPECT_NE(r.err.find(mentions), std::string::npos) << r.err;
    }
  }
  static void expect_success(const result& r) {
    EXPECT_EQ(r.code, 0) << "stderr: " << r.err;
    EXPECT_EQ(r.err, "");
  }

  // alice's key pair and a drawing she signed, readable by alice and bob, writable by alice.
  void make_signed_drawing() {
    result k = run({"keygen", "alice", "--dir", (dir / "keys").string()});
    ASSERT_EQ(k.code, 0) << k.err;
    result eve = run({"keygen", "eve", "--dir", (dir / "keys").string()});
    ASSERT_EQ(eve.code, 0) << eve.err;
    result s = run({"sample", "example.Drawing", "--seed", "7", "--count", "12", "--creator", "alice", "--read",
                    "alice,bob", "--copy", "alice bob", "--sign", key("alice.key")});
    ASSERT_EQ(s.code, 0) << s.err;
    write_file(signed_doc(), s.out);
  }
  std::string key(const std::string& name) const { return (dir / "keys" / name).string(); }
  fs::path signed_doc() const { return dir / "signed.xml"; }

  static xgate::rights expected_rights() {
    return xgate::rights::owned_by("alice").readers({"alice", "bob"}).copiers({"alice", "bob"});
  }

  fs::path dir;
};

// ---- usage --------------------------------------------------------------------------------
TEST_F(XgateCli, HelpSucceeds) {
  result r = run({"--help"});
  expect_success(r);
  EXPECT_NE(r.out.find("check"), std::string::npos);
  result c = run({"check", "--help"});
  expect_success(c);
  EXPECT_NE(c.out.find("--lenient"), std::string::npos);
}

TEST_F(XgateCli, UsageErrorsExitOne) {
  expect_failure(run({}), 1);
  expect_failure(run({"frobnicate"}), 1, "frobnicate");
  expect_failure(run({"types", "extra"}), 1);
  expect_failure(run({"--no-such-flag"}), 1);
  expect_failure(run({"schema"}), 1);
  expect_failure(run({"sample", "example.Drawing", "--seed", "minus-one"}), 1);
  expect_failure(run({"sample", "example.Drawing", "--read", "a\"b"}), 1);
  expect_failure(run({"check", "x.xml", "--type", "example.Drawing"}), 1, "--as");
}

// ---- types and schema --------------------------------------------------------------------------
TEST_F(XgateCli, TypesListsEveryRegisteredTypeWithItsVersion) {
  result r = run({"types"});
  expect_success(r);
  std::string expected;
  for (const auto* e : xgate::registry::instance().all()) expected += std::string(e->name) + " " + std::to_string(e->version) + "\n";
  EXPECT_EQ(r.out, expected);
  EXPECT_NE(r.out.find("example.Drawing 1\n"), std::string::npos);
  EXPECT_NE(r.out.find("example.Circle 1\n"), std::string::npos);
}

TEST_F(XgateCli, SchemaPrintsTheXsd) {
  result r = run({"schema", "example.Drawing"});
  expect_success(r);
  EXPECT_EQ(r.out, xgate::schema("example.Drawing"));
  expect_failure(run({"schema", "example.Nope"}), 1, "example.Nope");
}

// ---- keygen -------------------------------------------------------------------------------------
TEST_F(XgateCli, KeygenWritesAKeyPairAndKeepsExistingKeys) {
  fs::path keys = dir / "keys";
  result r = run({"keygen", "carol", "--dir", keys.string()});
  expect_success(r);
  EXPECT_EQ(r.out, (keys / "carol.key").string() + "\n" + (keys / "carol.pub").string() + "\n");
  auto secret = xgate::signing_key::load((keys / "carol.key").string());
  auto pub = xgate::verify_key::load((keys / "carol.pub").string());
  EXPECT_EQ(secret.name(), "carol");
  EXPECT_EQ(secret.public_key().bytes(), pub.bytes());
  EXPECT_EQ(fs::status(keys / "carol.key").permissions() & fs::perms::others_read, fs::perms::none);

  expect_failure(run({"keygen", "carol", "--dir", keys.string()}), 1, "exists");
  EXPECT_EQ(xgate::signing_key::load((keys / "carol.key").string()).secret(), secret.secret());
  expect_success(run({"keygen", "carol", "--dir", keys.string(), "--force"}));
  EXPECT_NE(xgate::signing_key::load((keys / "carol.key").string()).secret(), secret.secret());

  expect_failure(run({"keygen", "bad name", "--dir", keys.string()}), 1);
  write_file(dir / "plain-file", "x");
  expect_failure(run({"keygen", "dave", "--dir", (dir / "plain-file").string()}), 1);
}

// ---- sample -------------------------------------------------------------------------------------
TEST_F(XgateCli, SamplePrintsTheGeneratorsDocument) {
  result r = run({"sample", "example.Drawing", "--seed", "5", "--count", "30"});
  expect_success(r);
  EXPECT_EQ(r.out, xgate::to_xml(example::make_drawing(5, 30)));
  result d = run({"sample", "example.Drawing"});  // defaults: seed 1, count 10
  expect_success(d);
  EXPECT_EQ(d.out, xgate::to_xml(example::make_drawing(1, 10)));
  expect_failure(run({"sample", "example.Nope"}), 1, "example.Nope");
  expect_failure(run({"sample", "example.Point"}), 1, "sample");  // registered, but no generator
  expect_failure(run({"sample", "example.Drawing", "--sign", (dir / "missing.key").string()}), 1, "missing.key");
}

TEST_F(XgateCli, SampleWritesRightsAndSignature) {
  make_signed_drawing();
  std::string xml = read_file(signed_doc());
  auto pub = xgate::verify_key::load(key("alice.pub"));
  auto doc = xgate::decode_document<example::Drawing>(xml, {.principal = "bob", .verify = &pub});
  EXPECT_TRUE(doc.is_signed);
  EXPECT_EQ(doc.key_name, "alice");
  ASSERT_TRUE(doc.rights);
  EXPECT_EQ(*doc.rights, expected_rights());  // write and delete defaulted to "creator"
  EXPECT_TRUE(example::same_drawing(doc.value, example::make_drawing(7, 12)));

  // Lists without a creator: the unnamed ones stay empty.
  result r = run({"sample", "example.Drawing", "--count", "2", "--read", "*"});
  expect_success(r);
  auto open = xgate::decode_document<example::Drawing>(r.out, {.principal = "anyone"});
  ASSERT_TRUE(open.rights);
  EXPECT_EQ(open.rights->creator, "");
  EXPECT_EQ(open.rights->read, xgate::principal_list{"*"});
  EXPECT_TRUE(open.rights->write.empty());
}

// ---- check --------------------------------------------------------------------------------------
TEST_F(XgateCli, CheckPrintsTheReencodedDocument) {
  make_signed_drawing();
  std::string unsigned_xml = xgate::to_xml(example::make_drawing(7, 12), {.rights = expected_rights()});
  result r = run({"check", signed_doc().string(), "--type", "example.Drawing", "--as", "bob", "--pub", key("alice.pub")});
  expect_success(r);
  EXPECT_EQ(r.out, unsigned_xml);  // the same content and rights; the signature is not carried over
  result in = run({"check", "-", "--type", "example.Drawing", "--as", "bob"}, signed_doc());
  expect_success(in);
  EXPECT_EQ(in.out, unsigned_xml);
  expect_success(run({"check", signed_doc().string(), "--type", "example.Drawing", "--as", "alice", "--mode", "write"}));
}

TEST_F(XgateCli, CheckUsageErrorsExitOne) {
  make_signed_drawing();
  std::string doc = signed_doc().string();
  expect_failure(run({"check", (dir / "missing.xml").string(), "--type", "example.Drawing", "--as", "bob"}), 1, "missing.xml");
  expect_failure(run({"check", dir.string(), "--type", "example.Drawing", "--as", "bob"}), 1);
  expect_failure(run({"check", doc, "--type", "example.Nope", "--as", "bob"}), 1, "example.Nope");
  expect_failure(run({"check", doc, "--type", "example.Shape", "--as", "bob"}), 1, "example.Shape");  // abstract
  expect_failure(run({"check", doc, "--type", "example.Drawing", "--as", "bob", "--mode", "admin"}), 1, "admin");
  expect_failure(run({"check", doc, "--type", "example.Drawing", "--as", "bob", "--pub", (dir / "none.pub").string()}), 1,
                 "none.pub");
  write_file(dir / "garbage.pub", "not a key\n");
  expect_failure(run({"check", doc, "--type", "example.Drawing", "--as", "bob", "--pub", (dir / "garbage.pub").string()}), 1);
}

TEST_F(XgateCli, MalformedOrInvalidDocumentsExitTwo) {
  std::string good = xgate::to_xml(example::make_drawing(4, 6));
  auto check = [&](const std::string& name, const std::string& text, std::vector<std::string> extra = {}) {
    write_file(dir / name, text);
    std::vector<std::string> args{"check", (dir / name).string(), "--type", "example.Drawing", "--as", "bob"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  };
  expect_failure(check("truncated.xml", good.substr(0, good.size() / 2)), 2, "truncated.xml");
  expect_failure(check("empty.xml", ""), 2);
  expect_failure(check("foreign.xml", "<html><body/></html>"), 2, "xgate document");
  expect_failure(check("doctype.xml", "<!DOCTYPE x [<!ENTITY e \"boom\">]>\n" + good), 2, "DOCTYPE");
  expect_failure(run({"check", (dir / "truncated.xml").string(), "--type", "example.Point", "--as", "bob"}), 2);

  std::string wrong_root = xgate::to_xml(example::Point{1, 2});
  expect_failure(check("point.xml", wrong_root), 2, "example.Point");

  std::string bad_number = good;
  std::size_t at = bad_number.find("<radius>");
  ASSERT_NE(at, std::string::npos);
  bad_number.insert(at + 8, "x");
  expect_failure(check("number.xml", bad_number), 2, "radius");

  std::string extra_field = good;
  at = extra_field.find("<title>");
  extra_field.insert(at, "<comment>not in the type</comment>");
  expect_failure(check("extra.xml", extra_field), 2, "comment");
  result lenient = check("extra.xml", extra_field, {"--lenient"});
  expect_success(lenient);
  EXPECT_EQ(lenient.out, good);
}

TEST_F(XgateCli, AccessDeniedExitsThree) {
  make_signed_drawing();
  std::string doc = signed_doc().string();
  expect_failure(run({"check", doc, "--type", "example.Drawing", "--as", "mallory"}), 3, "mallory");
  expect_failure(run({"check", doc, "--type", "example.Drawing", "--as", "bob", "--mode", "write"}), 3, "write");
}

TEST_F(XgateCli, BadOrMissingSignatureExitsFour) {
  make_signed_drawing();
  std::string xml = read_file(signed_doc());
  std::string tampered = xml;
  std::size_t at = tampered.find("read=\"alice bob\"");
  ASSERT_NE(at, std::string::npos);
  tampered[at + 12] = 'r';  // bob -> rob
  write_file(dir / "tampered.xml", tampered);
  expect_failure(
      run({"check", (dir / "tampered.xml").string(), "--type", "example.Drawing", "--as", "alice", "--pub", key("alice.pub")}),
      4, "signature");
  // Without a key nothing is verified: the edit goes unnoticed (and rob is now a reader).
  expect_success(run({"check", (dir / "tampered.xml").string(), "--type", "example.Drawing", "--as", "rob"}));

  expect_failure(run({"check", signed_doc().string(), "--type", "example.Drawing", "--as", "bob", "--pub", key("eve.pub")}),
                 4, "eve");

  result plain = run({"sample", "example.Drawing", "--creator", "alice", "--read", "alice bob"});
  ASSERT_EQ(plain.code, 0);
  write_file(dir / "unsigned.xml", plain.out);
  expect_failure(
      run({"check", (dir / "unsigned.xml").string(), "--type", "example.Drawing", "--as", "bob", "--pub", key("alice.pub")}),
      4, "not signed");
}

}  // namespace
