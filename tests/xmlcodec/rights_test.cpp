// Access rights inside documents, per-object overrides, signatures, versions.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_types.hpp"

namespace {

xgate::rights payroll_rights() {
  return xgate::rights::owned_by("alice").readers({"alice", "hr", "bob"}).writers({"creator", "hr"}).copiers({"*"});
}

TEST(Rights, WrittenIntoTheDocument) {
  std::string xml = xgate::to_xml(t::Point{1, 2}, {.rights = payroll_rights()});
  EXPECT_NE(xml.find("<xg:rights creator=\"alice\" read=\"alice hr bob\" write=\"creator hr\" delete=\"creator\" copy=\"*\"/>"),
            std::string::npos)
      << xml;
  auto got = xgate::decode<t::Point>(xml, {.principal = "bob"});
  ASSERT_TRUE(got.rights);
  EXPECT_EQ(*got.rights, payroll_rights());
  EXPECT_EQ(xgate::to_xml(got.value, {.rights = got.rights}), xml);
}

TEST(Rights, PrincipalWithoutTheRightGetsNoObject) {
  std::string xml = xgate::to_xml(t::Point{1, 2}, {.rights = payroll_rights()});
  try {
    (void)xgate::from_xml<t::Point>(xml, {.principal = "mallory", .document_name = "payroll.xml"});
    FAIL();
  } catch (const xgate::access_denied& e) {
    EXPECT_EQ(e.code(), xgate::errc::access_denied);
    EXPECT_EQ(e.principal(), "mallory");
    EXPECT_EQ(e.right(), "read");
    EXPECT_EQ(e.document(), "payroll.xml");
    EXPECT_STREQ(e.what(), "access denied: principal \"mallory\" lacks the read right on \"payroll.xml\"");
  }
  // bob may read but not write.
  EXPECT_NO_THROW((void)xgate::from_xml<t::Point>(xml, {.principal = "bob"}));
  EXPECT_THROW((void)xgate::from_xml<t::Point>(xml, {.principal = "bob", .mode = xgate::access_mode::write}), xgate::access_denied);
  // The creator keyword and hr.
  EXPECT_NO_THROW((void)xgate::from_xml<t::Point>(xml, {.principal = "alice", .mode = xgate::access_mode::write}));
  EXPECT_NO_THROW((void)xgate::from_xml<t::Point>(xml, {.principal = "hr", .mode = xgate::access_mode::write}));
  // Anonymous matches only "*".
  EXPECT_THROW((void)xgate::from_xml<t::Point>(xml), xgate::access_denied);
  t::Point p{5, 5};
  EXPECT_THROW(xgate::from_xml(xml, p, {.principal = "mallory"}), xgate::access_denied);
  EXPECT_EQ(p, (t::Point{}));
}

TEST(Rights, EmbeddedRightsWithoutKnowingTheType) {
  EXPECT_EQ(xgate::embedded_rights(xgate::to_xml(t::Point{1, 2}, {.rights = payroll_rights()})), payroll_rights());
  EXPECT_EQ(xgate::embedded_rights(xgate::to_xml(t::Point{1, 2})), std::nullopt);
  EXPECT_EQ(xgate::embedded_rights("<plain><xml/></plain>"), std::nullopt);
  try {
    (void)xgate::embedded_rights("<!DOCTYPE x [<!ENTITY e \"e\">]><plain/>", {.document_name = "d.xml"});
    FAIL();
  } catch (const xgate::decode_error& e) {
    EXPECT_EQ(e.code(), xgate::errc::forbidden_markup);
    EXPECT_STREQ(e.what(), "d.xml:1: DOCTYPE declarations are refused");
  }
}

TEST(Rights, DocumentsWithoutRightsAreOpen) {
  EXPECT_NO_THROW((void)xgate::from_xml<t::Point>(xgate::to_xml(t::Point{1, 2}), {.principal = "anyone"}));
}

TEST(Rights, PerObjectOverrides) {
  t::Payslip slip;
  slip.employee = "bob";
  slip.salary = xgate::restricted<double>(5000.5, {.read = xgate::principal_list{"hr", "creator"}});
  slip.notes = xgate::restricted<std::string>("fine", {.write = xgate::principal_list{"hr"}});
  auto r = xgate::rights::owned_by("alice").readers({"*"}).writers({"creator", "hr"});
  std::string xml = xgate::to_xml(slip, {.rights = r});
  EXPECT_NE(xml.find("<salary xg:read=\"hr creator\">5000.5</salary>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<notes xg:write=\"hr\">fine</notes>"), std::string::npos) << xml;

  auto as_hr = xgate::from_xml<t::Payslip>(xml, {.principal = "hr", .mode = xgate::access_mode::write});
  EXPECT_EQ(as_hr.salary.value(), 5000.5);
  EXPECT_TRUE(as_hr.notes.writable());
  EXPECT_EQ(xgate::to_xml(as_hr, {.rights = r}), xml);

  auto as_bob = xgate::from_xml<t::Payslip>(xml, {.principal = "bob", .document_name = "slip.xml"});
  EXPECT_EQ(as_bob.employee, "bob");
  EXPECT_TRUE(as_bob.salary.withheld());
  EXPECT_FALSE(as_bob.salary.has_value());
  try {
    (void)as_bob.salary.value();
    ADD_FAILURE();
  } catch (const xgate::access_denied& e) {
    EXPECT_STREQ(e.what(), "access denied: principal \"bob\" lacks the read right on \"slip.xml:6 /xg:doc/t.Payslip/salary\"");
  }
  EXPECT_EQ(as_bob.notes.value(), "fine");
  EXPECT_FALSE(as_bob.notes.writable());
  EXPECT_THROW((void)as_bob.notes.mutable_value(), xgate::access_denied);
  // What was withheld cannot be written back as if it were empty.
  EXPECT_THROW((void)xgate::to_xml(as_bob), xgate::encode_error);

  auto as_alice = xgate::from_xml<t::Payslip>(xml, {.principal = "alice"});
  EXPECT_EQ(as_alice.salary.value(), 5000.5);
  EXPECT_FALSE(as_alice.notes.writable());  // overridden: only hr writes notes
}

class Signing : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("xgate-sign-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto [key_path, pub_path] = xgate::write_keypair(xgate::signing_key::generate("alice-1"), dir_.string());
    key_path_ = key_path;
    pub_path_ = pub_path;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string key_path_, pub_path_;
};

TEST_F(Signing, SignedDocumentVerifies) {
  auto key = xgate::signing_key::load(key_path_);
  auto pub = xgate::verify_key::load(pub_path_);
  EXPECT_EQ(std::filesystem::status(key_path_).permissions() & std::filesystem::perms::others_read, std::filesystem::perms::none);
  std::string xml = xgate::to_xml(t::Point{1, 2}, {.rights = payroll_rights(), .sign = &key});
  EXPECT_NE(xml.find("<xg:signature alg=\"ed25519ph\" key=\"alice-1\">"), std::string::npos);
  auto got = xgate::decode<t::Point>(xml, {.principal = "bob", .verify = &pub});
  EXPECT_EQ(got.value, (t::Point{1, 2}));
  EXPECT_TRUE(got.is_signed);
  EXPECT_EQ(got.key_name, "alice-1");
  // Streaming through a sink signs the same bytes.
  std::ostringstream os;
  xgate::to_xml(t::Point{1, 2}, os, {.rights = payroll_rights(), .sign = &key});
  EXPECT_NO_THROW((void)xgate::from_xml<t::Point>(os.str(), {.principal = "bob", .verify = &pub}));
}

TEST_F(Signing, AnyEditIsDetected) {
  auto key = xgate::signing_key::load(key_path_);
  auto pub = xgate::verify_key::load(pub_path_);
  std::string xml = xgate::to_xml(t::Point{1, 2}, {.rights = payroll_rights(), .sign = &key});
  auto expect_invalid = [&](const std::string& doc, xgate::errc code, const std::string& message) {
    try {
      (void)xgate::from_xml<t::Point>(doc, {.principal = "mallory", .verify = &pub, .document_name = "p.xml"});
      ADD_FAILURE() << "accepted:\n" << doc;
    } catch (const xgate::signature_error& e) {
      EXPECT_EQ(e.code(), code);
      EXPECT_EQ(std::string(e.what()), message);
    }
  };
  std::string edited_rights = xml;
  edited_rights.replace(edited_rights.find("alice hr bob"), 12, "alice hr mallory");
  const std::string mismatch =
      "p.xml:8: the signature does not match (signed with key \"alice-1\", checked with key \"alice-1\"): the document was "
      "changed after signing, or signed with another key";
  expect_invalid(edited_rights, xgate::errc::signature_invalid, mismatch);
  std::string edited_data = xml;
  edited_data.replace(edited_data.find("<x>1</x>"), 8, "<x>2</x>");
  expect_invalid(edited_data, xgate::errc::signature_invalid, mismatch);
  std::string appended = xml + "<!-- more -->";
  expect_invalid(appended, xgate::errc::signature_invalid, "p.xml:8: content follows the end of the document");
  std::string unsigned_doc = xgate::to_xml(t::Point{1, 2});
  expect_invalid(unsigned_doc, xgate::errc::not_signed, "p.xml: the document is not signed (a key was given to verify it)");
  auto other = xgate::signing_key::generate("eve");
  expect_invalid(xgate::to_xml(t::Point{1, 2}, {.rights = payroll_rights(), .sign = &other}), xgate::errc::signature_invalid,
                 "p.xml:8: the signature does not match (signed with key \"eve\", checked with key \"alice-1\"): the document was "
                 "changed after signing, or signed with another key");
}

TEST_F(Signing, BadKeyFiles) {
  std::ofstream(dir_ / "bad.pub") << "not a key\n";
  try {
    (void)xgate::verify_key::load((dir_ / "bad.pub").string());
    FAIL();
  } catch (const xgate::error& e) {
    EXPECT_EQ(e.code(), xgate::errc::key_error);
    EXPECT_EQ(std::string(e.what()), "\"" + (dir_ / "bad.pub").string() +
                                         "\" is not an xgate public key file (expected one line: xgate-ed25519-public-key NAME BASE64)");
  }
  EXPECT_THROW((void)xgate::signing_key::load((dir_ / "missing.key").string()), xgate::error);
  EXPECT_THROW((void)xgate::signing_key::load(pub_path_), xgate::error);
}

TEST(Versions, OlderDocumentGetsDefaultsAndUpgradeHook) {
  std::string old_doc = xgate::to_xml(t::v1::Account{"ann", 10});
  auto a = xgate::from_xml<t::v2::Account>(old_doc);
  EXPECT_EQ(a.owner, "ann");
  EXPECT_EQ(a.balance, 10);
  EXPECT_EQ(a.currency, "EUR");
  EXPECT_EQ(a.upgraded_from, 1);
  std::string new_doc = xgate::to_xml(a);
  EXPECT_NE(new_doc.find("<t.Account xg:v=\"2\">"), std::string::npos);
  // A document of the current version must be complete in strict mode.
  std::string incomplete = new_doc;
  incomplete.erase(incomplete.find("    <currency>"), std::string("    <currency>EUR</currency>\n").size());
  try {
    (void)xgate::from_xml<t::v2::Account>(incomplete, {.document_name = "a.xml"});
    FAIL();
  } catch (const xgate::decode_error& e) {
    EXPECT_EQ(e.code(), xgate::errc::missing_field);
    EXPECT_STREQ(e.what(), "a.xml:3: at /xg:doc/t.Account: missing field <currency> of t.Account");
  }
}

TEST(Versions, NewerVersionThanTheProgramKnowsIsAnError) {
  std::string new_doc = xgate::to_xml(t::v2::Account{"ann", 10, "USD", 0});
  try {
    (void)xgate::from_xml<t::v1::Account>(new_doc, {.document_name = "a.xml"});
    FAIL();
  } catch (const xgate::decode_error& e) {
    EXPECT_EQ(e.code(), xgate::errc::version_too_new);
    EXPECT_STREQ(e.what(), "a.xml:3: at /xg:doc/t.Account: type t.Account version 2 is newer than this program's version 1");
  }
}

}  // namespace
