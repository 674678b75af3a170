// Rights embedded in xgate documents, or supplied for plain XML, enforced per principal.
#include <gtest/gtest.h>

#include <xgate/store/store.hpp>
#include <xgate/xmlcodec.hpp>

#include "store_engines.hpp"

namespace xs = xgate::store;
using xs::testing::store_errc_of;
using xs::testing::StoreConformance;
using xs::testing::denied;
using xs::testing::xgate_doc;

namespace store_rights_test {
struct Payslip {
  std::string employee;
  double amount = 0;
};
XGATE_TYPE(Payslip, "test.Payslip", 1, (), (employee, amount))
}  // namespace store_rights_test

TEST_P(StoreConformance, EmbeddedRightsAreEnforcedOnEveryOperation) {
  xs::store s = open();
  std::string doc = xgate_doc(R"(creator="alice" read="*" write="creator carol" delete="creator" copy="creator dave")");
  xs::document_info w = s.write("pay/1", doc, "alice");
  EXPECT_TRUE(w.embedded_rights);
  EXPECT_EQ(w.rights.creator, "alice");
  EXPECT_EQ(w.rights.read, (xgate::principal_list{"*"}));

  EXPECT_EQ(s.read("pay/1", "bob").xml, doc);
  EXPECT_EQ(s.read("pay/1", "").xml, doc);  // "*" includes the anonymous principal
  EXPECT_EQ(denied([&] { s.write("pay/1", doc, "bob"); }), "bob write pay/1");
  EXPECT_EQ(denied([&] { s.remove("pay/1", "bob"); }), "bob delete pay/1");
  EXPECT_EQ(denied([&] { s.take("pay/1", "carol"); }), "carol delete pay/1");
  EXPECT_EQ(denied([&] { s.copy("pay/1", "bob/copy", "bob"); }), "bob copy pay/1");
  EXPECT_EQ(s.read("pay/1", "alice").info, w);  // nothing changed

  EXPECT_NO_THROW(s.write("pay/1", doc, "carol"));  // carol may replace it, rights unchanged
  EXPECT_EQ(s.read("pay/1", "alice").info.rights, w.rights);
  EXPECT_NO_THROW((void)s.take("pay/1", "alice"));
}

TEST_P(StoreConformance, PlainXmlIsOwnedByItsWriterUnlessRightsAreSupplied) {
  xs::store s = open();
  xs::document_info w = s.write("notes/a", "<note>private</note>", "alice");
  EXPECT_EQ(w.rights, xgate::rights::owned_by("alice"));
  EXPECT_EQ(denied([&] { (void)s.read("notes/a", "bob"); }), "bob read notes/a");
  EXPECT_EQ(denied([&] { (void)s.info("notes/a", "bob"); }), "bob read notes/a");

  s.write("notes/b", "<note>shared</note>", "alice", {.rights = xgate::rights::owned_by("alice").readers({"bob"})});
  EXPECT_EQ(s.read("notes/b", "bob").xml, "<note>shared</note>");
  EXPECT_EQ(denied([&] { (void)s.read("notes/b", "carol"); }), "carol read notes/b");

  // A replace without rights keeps the document's rights.
  s.write("notes/b", "<note>shared, edited</note>", "alice");
  EXPECT_EQ(s.read("notes/b", "bob").xml, "<note>shared, edited</note>");
}

TEST_P(StoreConformance, ListAndQueryShowOnlyReadableDocuments) {
  xs::store s = open();
  s.write("d/mine", "<x>1</x>", "alice");
  s.write("d/open", "<x>2</x>", "alice", {.rights = xgate::rights::owned_by("alice").readers({"*"})});
  s.write("d/bobs", xgate_doc(R"(creator="bob" read="creator" write="creator" delete="creator" copy="creator")"), "bob");
  auto names = [&](std::string_view principal) {
    std::vector<std::string> out;
    for (const xs::document_info& d : s.list("d", principal)) out.push_back(d.name);
    return out;
  };
  EXPECT_EQ(names("alice"), (std::vector<std::string>{"d/mine", "d/open"}));
  EXPECT_EQ(names("bob"), (std::vector<std::string>{"d/bobs", "d/open"}));
  EXPECT_EQ(names(""), (std::vector<std::string>{"d/open"}));
  std::vector<xs::query_match> q = s.query("d", "//x", "bob");
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].name, "d/open");
}

TEST_P(StoreConformance, ANewDocumentsCreatorMustBeTheWriter) {
  xs::store s = open();
  std::string alices = xgate_doc(R"(creator="alice" read="*" write="*" delete="creator" copy="creator")");
  EXPECT_EQ(store_errc_of([&] { s.write("x", alices, "bob"); }), xs::store_errc::creator_mismatch);
  EXPECT_EQ(store_errc_of([&] { s.write("y", "<p/>", "bob", {.rights = xgate::rights::owned_by("alice")}); }),
            xs::store_errc::creator_mismatch);
  EXPECT_EQ(denied([&] { s.write("z", "<p/>", ""); }), " write z");  // nobody cannot create
  EXPECT_FALSE(s.contains("x"));
  EXPECT_FALSE(s.contains("y"));
  EXPECT_FALSE(s.contains("z"));

  s.write("x", alices, "alice");
  // bob may write (write="*") but neither take over the document nor change its rights.
  std::string claimed = xgate_doc(R"(creator="bob" read="*" write="*" delete="creator" copy="creator")");
  EXPECT_EQ(store_errc_of([&] { s.write("x", claimed, "bob"); }), xs::store_errc::creator_mismatch);
  std::string widened = xgate_doc(R"(creator="alice" read="*" write="*" delete="*" copy="creator")");
  EXPECT_EQ(store_errc_of([&] { s.write("x", widened, "bob"); }), xs::store_errc::rights_change);
  EXPECT_NO_THROW(s.write("x", xgate_doc(R"(creator="alice" read="*" write="*" delete="creator" copy="creator")",
                                         "<v>bob's</v>"),
                          "bob"));
  EXPECT_NO_THROW(s.write("x", widened, "alice"));  // the creator may
  EXPECT_EQ(s.info("x", "alice").rights.del, (xgate::principal_list{"*"}));
}

TEST_P(StoreConformance, SuppliedRightsMustAgreeWithEmbeddedOnes) {
  xs::store s = open();
  std::string doc = xgate_doc(R"(creator="alice" read="*" write="creator" delete="creator" copy="creator")");
  EXPECT_EQ(store_errc_of([&] { s.write("x", doc, "alice", {.rights = xgate::rights::owned_by("alice")}); }),
            xs::store_errc::bad_document);
  EXPECT_NO_THROW(s.write("x", doc, "alice", {.rights = xgate::rights::owned_by("alice").readers({"*"})}));
  EXPECT_EQ(store_errc_of([&] { s.write("bad", xgate_doc(R"(creator="alice" read="a&lt;b")"), "alice"); }),
            xs::store_errc::bad_document);
}

TEST_P(StoreConformance, CopyNeedsTheCopyRightAndKeepsTheRights) {
  xs::store s = open();
  std::string doc = xgate_doc(R"(creator="alice" read="*" write="creator" delete="creator" copy="creator dave")");
  s.write("src", doc, "alice");
  xs::document_info c = s.copy("src", "dave/copy", "dave");
  EXPECT_EQ(c.rights.creator, "alice");  // the rights travel with the bytes
  EXPECT_TRUE(c.embedded_rights);
  EXPECT_EQ(s.read("dave/copy", "dave").xml, doc);
  EXPECT_EQ(denied([&] { s.remove("dave/copy", "dave"); }), "dave delete dave/copy");

  // Copying onto an existing document is a replace: the write right is needed there and
  // the creator cannot change.
  s.write("dave/own", "<mine/>", "dave");
  EXPECT_EQ(store_errc_of([&] { s.copy("src", "dave/own", "dave"); }), xs::store_errc::creator_mismatch);
  EXPECT_EQ(s.read("dave/own", "dave").xml, "<mine/>");
  s.write("alice/older", xgate_doc(R"(creator="alice" read="*" write="creator" delete="creator" copy="creator dave")",
                                   "<v>0</v>"),
          "alice");
  EXPECT_EQ(s.copy("src", "alice/older", "alice").size, doc.size());
  EXPECT_EQ(s.read("alice/older", "bob").xml, doc);
  s.write("alice/own", "<a/>", "alice");
  EXPECT_EQ(denied([&] { s.copy("src", "alice/own", "dave"); }), "dave write alice/own");
  EXPECT_EQ(s.read("alice/own", "alice").xml, "<a/>");

  s.write("plain", "<p/>", "alice", {.rights = xgate::rights::owned_by("alice").copiers({"dave"})});
  xs::document_info p = s.copy("plain", "dave/plain", "dave");
  EXPECT_EQ(p.rights, s.info("plain", "alice").rights);
  EXPECT_FALSE(p.embedded_rights);
}

TEST_P(StoreConformance, StoresAndReadsBackCodecDocuments) {
  xs::store s = open();
  store_rights_test::Payslip slip{"bob", 4200.5};
  std::string xml =
      xgate::to_xml(slip, {.rights = xgate::rights::owned_by("payroll").readers({"creator", "bob"}).deleters({"bob"})});
  xs::document_info w = s.write("payslips/bob/2026-11", xml, "payroll");
  EXPECT_TRUE(w.embedded_rights);
  EXPECT_EQ(w.rights.read, (xgate::principal_list{"creator", "bob"}));
  EXPECT_EQ(denied([&] { (void)s.read("payslips/bob/2026-11", "carol"); }), "carol read payslips/bob/2026-11");
  xs::document t = s.take("payslips/bob/2026-11", "bob");
  auto back = xgate::from_xml<store_rights_test::Payslip>(t.xml, {.principal = "bob"});
  EXPECT_EQ(back.employee, "bob");
  EXPECT_EQ(back.amount, 4200.5);
}
