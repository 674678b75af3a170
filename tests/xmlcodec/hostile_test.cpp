// Every bad input named in the issue, fed in, with the exact error it must produce.
#include <gtest/gtest.h>

#include "test_types.hpp"

namespace {

const std::string head = "<xg:doc xmlns:xg=\"urn:xgate:1\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n";

template <class T>
void expect_decode_error(const std::string& xml, xgate::errc code, const std::string& message,
                         xgate::decode_options options = {}) {
  options.document_name = "doc.xml";
  try {
    (void)xgate::from_xml<T>(xml, options);
    ADD_FAILURE() << "decoded without error:\n" << xml;
  } catch (const xgate::decode_error& e) {
    EXPECT_EQ(e.code(), code) << xgate::code_name(e.code()) << ": " << e.what();
    EXPECT_EQ(std::string(e.what()), message);
  }
}

TEST(Hostile, NotWellFormed) {
  expect_decode_error<t::Point>(head + "<t.Point><x>1</x><y>2</y></t.Point>\n", xgate::errc::malformed_xml,
                                "doc.xml:3: at /xg:doc: not well-formed XML: <xg:doc> is not closed");
  expect_decode_error<t::Point>("<a><b></a>", xgate::errc::malformed_xml, "doc.xml:1: at /a/b: not well-formed XML: end tag </a> does not match <b>");
  expect_decode_error<t::Point>("", xgate::errc::malformed_xml, "doc.xml:1: not well-formed XML: no root element");
  expect_decode_error<t::Point>("<a/><b/>", xgate::errc::malformed_xml, "doc.xml:1: more than one root element");
  expect_decode_error<t::Point>("<a x='1' x='2'/>", xgate::errc::malformed_xml, "doc.xml:1: not well-formed XML: duplicate attribute x");
  expect_decode_error<t::Point>("<a x=1/>", xgate::errc::malformed_xml, "doc.xml:1: not well-formed XML: unquoted attribute value");
  expect_decode_error<t::Point>("<a><!-- never closed </a>", xgate::errc::malformed_xml, "doc.xml:1: at /a: not well-formed XML: unterminated comment");
  expect_decode_error<t::Point>("<a>x</a>trailing", xgate::errc::malformed_xml, "doc.xml:1: text outside the root element");
  expect_decode_error<t::Point>(std::string("<a>\0</a>", 8), xgate::errc::malformed_xml, "doc.xml:1: NUL byte in the document");
}

TEST(Hostile, DoctypeAndEntities) {
  const std::string billion_laughs =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n <!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">\n]>\n"
      "<xg:doc xmlns:xg=\"urn:xgate:1\"><t.Text><s>&lol2;</s></t.Text></xg:doc>";
  expect_decode_error<t::Text>(billion_laughs, xgate::errc::forbidden_markup, "doc.xml:2: DOCTYPE declarations are refused");
  const std::string external =
      "<!DOCTYPE doc [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
      "<xg:doc xmlns:xg=\"urn:xgate:1\"><t.Text><s>&xxe;</s></t.Text></xg:doc>";
  expect_decode_error<t::Text>(external, xgate::errc::forbidden_markup, "doc.xml:1: DOCTYPE declarations are refused");
  expect_decode_error<t::Text>(head + "<t.Text><s>&xxe;</s></t.Text></xg:doc>", xgate::errc::forbidden_markup,
                               "doc.xml:2: at /xg:doc/t.Text/s: reference to an undeclared entity \"&xxe;\" (only the five predefined entities are allowed)");
  expect_decode_error<t::Text>(head + "<t.Text><s>a&#0;b</s></t.Text></xg:doc>", xgate::errc::bad_text,
                               "doc.xml:2: at /xg:doc/t.Text/s: character reference &#0; names a character XML cannot carry");
  // Entities inside comments and CDATA are text, not references.
  auto ok = xgate::from_xml<t::Text>(head + "<!-- &lol; <!ENTITY --><t.Text><s><![CDATA[&lol; <!DOCTYPE]]></s></t.Text></xg:doc>");
  EXPECT_EQ(ok.s, "&lol; <!DOCTYPE");
}

TEST(Hostile, NestingDeeperThanTheLimit) {
  std::string deep = head + "<t.Containers><v/><a><item>1</item><item>2</item><item>3</item></a><dq/><l/><s/><ms/><m/><mm/><um/><us/><ums/><umm/><bits/><nested>";
  for (int i = 0; i < 10; ++i) deep += "<item>";
  xgate::decode_options small;
  small.limits.max_depth = 4;
  expect_decode_error<std::vector<std::vector<std::vector<std::vector<std::vector<int>>>>>>(
      head + "<xg:value><item><item><item><item><item>1</item></item></item></item></item></xg:value></xg:doc>",
      xgate::errc::too_deep, "doc.xml:2: at /xg:doc/xg:value/item/item/item: nesting deeper than 4 elements", small);
  // A million nested elements: refused without exhausting the stack.
  std::string huge = head + "<t.Text><s>";
  for (int i = 0; i < 1000000; ++i) huge += "<a>";
  huge += "</s></t.Text></xg:doc>";
  try {
    (void)xgate::from_xml<t::Text>(huge);
    FAIL();
  } catch (const xgate::decode_error& e) {
    EXPECT_EQ(e.code(), xgate::errc::too_deep);
    EXPECT_EQ(e.line(), 2u);
  }
}

TEST(Hostile, DocumentLargerThanTheLimit) {
  xgate::decode_options o;
  o.limits.max_bytes = 100;
  expect_decode_error<t::Text>(xgate::to_xml(t::Text{std::string(200, 'a')}), xgate::errc::too_large,
                               "doc.xml: the document is 370 bytes, the limit is 100", o);
}

TEST(Hostile, NotAnXgateDocument) {
  expect_decode_error<t::Point>("<doc><t.Point/></doc>", xgate::errc::not_xgate_document,
                                "doc.xml:1: at /doc: not an xgate document: expected <xg:doc xmlns:xg=\"urn:xgate:1\">, found <doc>");
  expect_decode_error<t::Point>(head + "<t.Item><name>x</name></t.Item></xg:doc>", xgate::errc::wrong_root_type,
                                "doc.xml:2: at /xg:doc/t.Item: the document holds <t.Item>, expected <t.Point>");
}

TEST(Hostile, UnknownTypeName) {
  expect_decode_error<t::Scene>(head + "<t.Scene><owned><item><evil.Payload/></item></owned><shared/><focus xsi:nil=\"true\"/></t.Scene></xg:doc>",
                                xgate::errc::unknown_type,
                                "doc.xml:2: at /xg:doc/t.Scene/owned/item/evil.Payload: unknown type <evil.Payload> (not registered with XGATE_REGISTER)");
  expect_decode_error<t::Scene>(head + "<t.Scene><owned><item><t.Shape><id/></t.Shape></item></owned><shared/><focus xsi:nil=\"true\"/></t.Scene></xg:doc>",
                                xgate::errc::abstract_type,
                                "doc.xml:2: at /xg:doc/t.Scene/owned/item/t.Shape: type t.Shape cannot be instantiated (abstract or not default-constructible)");
}

TEST(Hostile, RefToMissingId) {
  expect_decode_error<t::Graph>(head + "<t.Graph>\n<roots><item xg:ref=\"o9\"/></roots></t.Graph></xg:doc>", xgate::errc::missing_id,
                                "doc.xml:3: at /xg:doc/t.Graph/roots/item: xg:ref=\"o9\" names no object in the document");
  expect_decode_error<t::Catalog>(
      head + "<t.Catalog><items/><by_key/><sorted/><favourite xg:ref=\"o4\"/><mapped xsi:nil=\"true\"/><in_set xsi:nil=\"true\"/>"
             "<boxed xsi:nil=\"true\"/><to_boxed xsi:nil=\"true\"/></t.Catalog></xg:doc>",
      xgate::errc::missing_id, "doc.xml:2: at /xg:doc/t.Catalog/favourite: xg:ref=\"o4\" names no object in the document");
}

TEST(Hostile, DuplicateIds) {
  const std::string node = "<name>n</name><out/><back xsi:nil=\"true\"/><raw xsi:nil=\"true\"/>";
  expect_decode_error<t::Graph>(head + "<t.Graph><roots><item xg:ref=\"o1\"/></roots></t.Graph>\n<t.Node xg:id=\"o1\">" + node +
                                    "</t.Node>\n<t.Node xg:id=\"o1\">" + node + "</t.Node></xg:doc>",
                                xgate::errc::duplicate_id, "doc.xml:4: at /xg:doc/t.Node[2]: duplicate xg:id=\"o1\"");
  expect_decode_error<t::Catalog>(
      head + "<t.Catalog><items><item xg:id=\"o1\"><name>a</name></item>\n<item xg:id=\"o1\"><name>b</name></item></items><by_key/><sorted/>"
             "<favourite xg:ref=\"o1\"/><mapped xsi:nil=\"true\"/><in_set xsi:nil=\"true\"/><boxed xsi:nil=\"true\"/><to_boxed xsi:nil=\"true\"/></t.Catalog></xg:doc>",
      xgate::errc::duplicate_id, "doc.xml:3: at /xg:doc/t.Catalog/items/item[2]: duplicate xg:id=\"o1\"");
}

TEST(Hostile, RefToObjectOfTheWrongType) {
  expect_decode_error<t::Graph>(head + "<t.Graph><roots><item xg:ref=\"o1\"/></roots></t.Graph>\n<t.Item xg:id=\"o1\"><name>x</name></t.Item></xg:doc>",
                                xgate::errc::wrong_ref_type,
                                "doc.xml:2: at /xg:doc/t.Graph/roots/item: xg:ref=\"o1\" names a <t.Item>, expected <t.Node>");
  // A polymorphic slot given a registered type that is not derived from its base.
  expect_decode_error<t::Scene>(head + "<t.Scene><owned/><shared><item xg:ref=\"o1\"/></shared><focus xsi:nil=\"true\"/></t.Scene>\n"
                                       "<t.Node xg:id=\"o1\"><name/><out/><back xsi:nil=\"true\"/><raw xsi:nil=\"true\"/></t.Node></xg:doc>",
                                xgate::errc::wrong_ref_type,
                                "doc.xml:2: at /xg:doc/t.Scene/shared/item: xg:ref=\"o1\" names a <t.Node>, which cannot stand for the pointer's type");
  // A raw pointer to an object of another type.
  expect_decode_error<t::Graph>(head + "<t.Graph xg:id=\"o5\"><roots><item xg:ref=\"o1\"/></roots></t.Graph>\n"
                                       "<t.Node xg:id=\"o1\"><name/><out/><back xsi:nil=\"true\"/><raw xg:ref=\"o5\"/></t.Node></xg:doc>",
                                xgate::errc::wrong_ref_type,
                                "doc.xml:3: at /xg:doc/t.Node/raw: xg:ref=\"o5\" names an object of another type than the pointer's");
}

TEST(Hostile, NumbersOutOfRangeOrMalformed) {
  auto ints = [](const std::string& field, const std::string& value) {
    std::string body;
    for (const char* f : {"i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "c", "b"})
      body += "<" + std::string(f) + ">" + (f == field ? value : (std::string(f) == "b" ? "false" : "0")) + "</" + f + ">";
    return head + "<t.Ints>" + body + "</t.Ints></xg:doc>";
  };
  expect_decode_error<t::Ints>(ints("i8", "128"), xgate::errc::number_out_of_range,
                               "doc.xml:2: at /xg:doc/t.Ints/i8: \"128\" is out of range (-128..127)");
  expect_decode_error<t::Ints>(ints("u8", "-1"), xgate::errc::number_out_of_range,
                               "doc.xml:2: at /xg:doc/t.Ints/u8: \"-1\" is out of range (0..255)");
  expect_decode_error<t::Ints>(ints("u64", "18446744073709551616"), xgate::errc::number_out_of_range,
                               "doc.xml:2: at /xg:doc/t.Ints/u64: \"18446744073709551616\" is out of range (0..18446744073709551615)");
  expect_decode_error<t::Ints>(ints("i32", "12abc"), xgate::errc::bad_number, "doc.xml:2: at /xg:doc/t.Ints/i32: \"12abc\" is not an integer");
  expect_decode_error<t::Ints>(ints("i32", ""), xgate::errc::bad_number, "doc.xml:2: at /xg:doc/t.Ints/i32: \"\" is not an integer");
  expect_decode_error<t::Ints>(ints("i64", "0x10"), xgate::errc::bad_number, "doc.xml:2: at /xg:doc/t.Ints/i64: \"0x10\" is not an integer");
  expect_decode_error<t::Ints>(ints("b", "yes"), xgate::errc::bad_value, "doc.xml:2: at /xg:doc/t.Ints/b: \"yes\" is not a bool (true or false)");
  auto dbl = [](const std::string& v) { return head + "<t.Point><x>" + v + "</x><y>0</y></t.Point></xg:doc>"; };
  expect_decode_error<t::Point>(dbl("1e999"), xgate::errc::number_out_of_range, "doc.xml:2: at /xg:doc/t.Point/x: \"1e999\" is out of range for double");
  expect_decode_error<t::Point>(dbl("1.2.3"), xgate::errc::bad_number, "doc.xml:2: at /xg:doc/t.Point/x: \"1.2.3\" is not a number");
  expect_decode_error<t::Point>(dbl("nan"), xgate::errc::bad_number, "doc.xml:2: at /xg:doc/t.Point/x: \"nan\" is not a number");
  expect_decode_error<t::Point>(dbl("NaN(0xzz)"), xgate::errc::bad_number,
                                "doc.xml:2: at /xg:doc/t.Point/x: \"NaN(0xzz)\" is not a NaN spelling (NaN, -NaN, NaN(0xPAYLOAD))");
  EXPECT_EQ(xgate::from_xml<t::Point>(dbl(" +1.5 ")).x, 1.5);  // XSD white space and sign rules
}

TEST(Hostile, InvalidBase64) {
  auto misc = [](const std::string& bytes) {
    return head + "<t.Misc><o1 xsi:nil=\"true\"/><o2 xsi:nil=\"true\"/><o3 xsi:nil=\"true\"/><var><alt0>1</alt0></var>"
                  "<pr><first>1</first><second/></pr><tup><e0>1</e0><e1>1</e1><e2/></tup><ms>0</ms><secs>0</secs><when>0</when>"
                  "<bytes>" + bytes + "</bytes><ubytes/><color>red</color><unnamed>red</unnamed></t.Misc></xg:doc>";
  };
  EXPECT_EQ(xgate::from_xml<t::Misc>(misc("AP8Q")).bytes.size(), 3u);
  expect_decode_error<t::Misc>(misc("AP8*"), xgate::errc::bad_base64, "doc.xml:2: at /xg:doc/t.Misc/bytes: invalid base64 \"AP8*\"");
  expect_decode_error<t::Misc>(misc("AP8"), xgate::errc::bad_base64, "doc.xml:2: at /xg:doc/t.Misc/bytes: invalid base64 \"AP8\"");
}

TEST(Hostile, StructureErrorsCarryPathAndLine) {
  expect_decode_error<t::Point>(head + "<t.Point>\n  <x>1</x>\n  <z>2</z>\n</t.Point></xg:doc>", xgate::errc::unknown_field,
                                "doc.xml:4: at /xg:doc/t.Point/z: unknown field <z> in t.Point");
  expect_decode_error<t::Point>(head + "<t.Point>\n  <x>1</x>\n</t.Point></xg:doc>", xgate::errc::missing_field,
                                "doc.xml:2: at /xg:doc/t.Point: missing field <y> of t.Point");
  expect_decode_error<t::Point>(head + "<t.Point><x>1</x><y>2</y><y>3</y></t.Point></xg:doc>", xgate::errc::unexpected_content,
                                "doc.xml:2: at /xg:doc/t.Point/y[2]: field <y> repeated or out of order in t.Point");
  expect_decode_error<t::Point>(head + "<t.Point>hello<x>1</x><y>2</y></t.Point></xg:doc>", xgate::errc::unexpected_content,
                                "doc.xml:2: at /xg:doc/t.Point: text \"hello\" where only elements may stand");
  expect_decode_error<t::Point>(head + "<t.Point><x><b/></x><y>2</y></t.Point></xg:doc>", xgate::errc::unexpected_content,
                                "doc.xml:2: at /xg:doc/t.Point/x/b: element <b> inside a value");
  expect_decode_error<t::Text>(head + "<t.Text><s>a\x01</s></t.Text></xg:doc>", xgate::errc::bad_text,
                               "doc.xml:2: at /xg:doc/t.Text/s: a byte XML cannot carry (0x01) in text; write it as <xg:x>HEX</xg:x>");
  expect_decode_error<t::Text>(head + "<t.Text><s>a<xg:x>0</xg:x></s></t.Text></xg:doc>", xgate::errc::bad_text,
                               "doc.xml:2: at /xg:doc/t.Text/s/xg:x: <xg:x> must hold an even, non-zero number of hex digits");
  expect_decode_error<std::set<int>>(head + "<xg:value><item>1</item><item>1</item></xg:value></xg:doc>", xgate::errc::duplicate_key,
                                     "doc.xml:2: at /xg:doc/xg:value/item[2]: the same element twice in a set");
  expect_decode_error<std::array<int, 2>>(head + "<xg:value><item>1</item></xg:value></xg:doc>", xgate::errc::bad_value,
                                          "doc.xml:2: at /xg:doc/xg:value: expected 2 items, found 1");
  expect_decode_error<std::vector<int>>(head + "<xg:value><elem>1</elem></xg:value></xg:doc>", xgate::errc::unexpected_content,
                                        "doc.xml:2: at /xg:doc/xg:value/elem: expected <item>, found <elem>");
  expect_decode_error<t::Graph>(head + "<t.Graph><roots/></t.Graph>\n<t.Node xg:id=\"o1\"><name/><out/><back xsi:nil=\"true\"/><raw xsi:nil=\"true\"/></t.Node></xg:doc>",
                                xgate::errc::unreferenced_object,
                                "doc.xml:3: at /xg:doc/t.Node: object xg:id=\"o1\" is not referenced by any shared pointer");
}

TEST(Hostile, SharedObjectsMustBeOwnedFromTheRoot) {
  // Found by fuzzing: an object only a weak_ptr reaches would be freed when decoding ends
  // (leaving raw pointers into it dangling); objects owning only each other would leak.
  const std::string node_a = "<t.Node xg:id=\"o1\"><name>a</name><out/><back xsi:nil=\"true\"/><raw xsi:nil=\"true\"/></t.Node>";
  expect_decode_error<t::Graph>(head + "<t.Graph><roots><item xsi:nil=\"true\"/></roots></t.Graph>\n"
                                       "<t.Node xg:id=\"o2\"><name>b</name><out/><back xg:ref=\"o1\"/><raw xg:ref=\"o1\"/></t.Node>" +
                                    std::string() + "</xg:doc>",
                                xgate::errc::unreferenced_object,
                                "doc.xml:3: at /xg:doc/t.Node: object xg:id=\"o2\" is not referenced by any shared pointer");
  expect_decode_error<t::Node>(head + "<t.Node><name>root</name><out/><back xg:ref=\"o1\"/><raw xg:ref=\"o1\"/></t.Node>\n" + node_a +
                                   "</xg:doc>",
                               xgate::errc::unreferenced_object,
                               "doc.xml:3: at /xg:doc/t.Node[2]: object xg:id=\"o1\" is not owned through shared pointers from the root "
                               "(only weak pointers, or a cycle of its own, lead to it)");
  expect_decode_error<t::Node>(head + "<t.Node><name>root</name><out/><back xg:ref=\"o1\"/><raw xsi:nil=\"true\"/></t.Node>\n"
                                      "<t.Node xg:id=\"o1\"><name>i1</name><out><item xg:ref=\"o2\"/></out><back xsi:nil=\"true\"/><raw xsi:nil=\"true\"/></t.Node>\n"
                                      "<t.Node xg:id=\"o2\"><name>i2</name><out><item xg:ref=\"o1\"/></out><back xsi:nil=\"true\"/><raw xsi:nil=\"true\"/></t.Node></xg:doc>",
                               xgate::errc::unreferenced_object,
                               "doc.xml:3: at /xg:doc/t.Node[2]: object xg:id=\"o1\" is not owned through shared pointers from the root "
                               "(only weak pointers, or a cycle of its own, lead to it)");
}

TEST(Hostile, FailedDecodeLeavesNoHalfBuiltObject) {
  t::Point p{7, 7};
  EXPECT_THROW(xgate::from_xml(head + "<t.Point><x>1</x><y>oops</y></t.Point></xg:doc>", p), xgate::decode_error);
  EXPECT_EQ(p, (t::Point{}));
  // A failure after a cycle of shared objects was built does not leak it (checked under ASan).
  const std::string cyc = head + "<t.Graph><roots><item xg:ref=\"o1\"/></roots></t.Graph>\n"
                                 "<t.Node xg:id=\"o1\"><name>a</name><out><item xg:ref=\"o1\"/></out><back xsi:nil=\"true\"/><raw xsi:nil=\"true\"/></t.Node>\n"
                                 "<t.Node xg:id=\"o2\"><name>b</name><out/><back xsi:nil=\"true\"/><raw xsi:nil=\"true\"/></t.Node></xg:doc>";
  EXPECT_THROW((void)xgate::from_xml<t::Graph>(cyc), xgate::decode_error);
}

TEST(Hostile, LenientModeSkipsUnknownFields) {
  xgate::decode_options lenient;
  lenient.strict = false;
  auto p = xgate::from_xml<t::Point>(head + "<t.Point><z>9</z><y>2</y><x>1</x></t.Point></xg:doc>", lenient);
  EXPECT_EQ(p, (t::Point{1, 2}));
}

}  // namespace
