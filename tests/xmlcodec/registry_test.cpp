// The registry's read-only view of registered types: lookups, what a view tells, and the
// tools' operations (schema, recode, sample) behind the xgate CLI.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <typeindex>

#include "test_types.hpp"

namespace t {
Circle make_circle(std::uint64_t seed, std::size_t count) {
  Circle c;
  c.id = "c" + std::to_string(seed);
  c.r = static_cast<double>(count) / 2;
  return c;
}
}  // namespace t

XGATE_SAMPLE(t::Circle, t::make_circle);

namespace {

TEST(Registry, FindsTypesByNameAndByType) {
  auto& r = xgate::registry::instance();
  ASSERT_TRUE(r.find("t.Circle"));
  EXPECT_EQ(r.find("t.Circle").type(), std::type_index(typeid(t::Circle)));
  EXPECT_EQ(r.find(std::type_index(typeid(t::Square))).name(), "t.Square");
  EXPECT_EQ(r.find("t.Circle"), r.find(std::type_index(typeid(t::Circle))));
  EXPECT_FALSE(r.find("t.Unregistered"));
  auto derived = r.derived_from(typeid(t::Shape));
  ASSERT_EQ(derived.size(), 2u);  // the abstract base is not instantiable
  EXPECT_EQ(derived[0].name(), "t.Circle");
  EXPECT_EQ(derived[1].name(), "t.Square");
}

TEST(Registry, AllListsEveryTypeByName) {
  auto all = xgate::registry::instance().all();
  ASSERT_FALSE(all.empty());
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].name(), all[i].name());
  EXPECT_NE(std::find(all.begin(), all.end(), xgate::registry::instance().find("t.Shape")), all.end());
}

TEST(Registry, ViewTellsWhatTheTypeIs) {
  auto circle = xgate::registry::instance().find("t.Circle");
  EXPECT_EQ(circle.version(), 1u);
  EXPECT_TRUE(circle.polymorphic());
  EXPECT_FALSE(circle.abstract());
  auto bases = circle.bases();
  ASSERT_EQ(bases.size(), 1u);
  EXPECT_EQ(bases[0].name(), "t.Shape");
  EXPECT_TRUE(bases[0].abstract());
  EXPECT_TRUE(bases[0].bases().empty());
  EXPECT_FALSE(xgate::registry::instance().find("t.Node").polymorphic());
}

TEST(Registry, EmptyViewAnswersNothingAndRefusesWork) {
  auto none = xgate::registry::instance().find("no.Such");
  EXPECT_FALSE(none);
  EXPECT_EQ(none.name(), "");
  EXPECT_EQ(none.version(), 0u);
  EXPECT_EQ(none.type(), std::type_index(typeid(void)));
  EXPECT_FALSE(none.polymorphic() || none.abstract() || none.has_sample());
  EXPECT_TRUE(none.bases().empty());
  for (auto work : {+[](const xgate::registered_type& v) { (void)v.schema(); },
                    +[](const xgate::registered_type& v) { (void)v.recode("<xg:doc/>"); },
                    +[](const xgate::registered_type& v) { (void)v.sample(1, 1); }}) {
    try {
      work(none);
      ADD_FAILURE() << "an empty view did work";
    } catch (const xgate::error& e) {
      EXPECT_EQ(e.code(), xgate::errc::unknown_type);
    }
  }
}

TEST(Registry, SchemaIsTheTypesSchema) {
  auto circle = xgate::registry::instance().find("t.Circle");
  EXPECT_EQ(circle.schema(), xgate::schema<t::Circle>());
  EXPECT_EQ(circle.schema(), xgate::schema("t.Circle"));
}

TEST(Registry, RecodeGivesTheCanonicalDocumentAndKeepsItsRights) {
  t::Circle c;
  c.id = "c1";
  c.r = 2.5;
  auto rights = xgate::rights::owned_by("alice");
  std::string compact = xgate::to_xml(c, {.indent = 0, .rights = rights});
  auto circle = xgate::registry::instance().find("t.Circle");
  EXPECT_EQ(circle.recode(compact, {.principal = "alice"}), xgate::to_xml(c, {.rights = rights}));
  auto open = xgate::rights::owned_by("alice").readers({"*"});
  EXPECT_EQ(circle.recode(compact, {.principal = "alice"}, {.rights = open}), xgate::to_xml(c, {.rights = open}));
  EXPECT_THROW((void)circle.recode(compact, {.principal = "bob"}), xgate::access_denied);
  try {
    (void)xgate::registry::instance().find("t.Shape").recode(compact);
    FAIL();
  } catch (const xgate::error& e) {
    EXPECT_EQ(e.code(), xgate::errc::abstract_type);
    EXPECT_STREQ(e.what(), "type t.Shape cannot be instantiated (abstract or not default-constructible)");
  }
}

TEST(Registry, SampleComesFromTheRegisteredGenerator) {
  auto circle = xgate::registry::instance().find("t.Circle");
  ASSERT_TRUE(circle.has_sample());
  EXPECT_EQ(circle.sample(7, 3), xgate::to_xml(t::make_circle(7, 3)));
  EXPECT_EQ(circle.sample(7, 3, {.indent = 0}), xgate::to_xml(t::make_circle(7, 3), {.indent = 0}));
  auto square = xgate::registry::instance().find("t.Square");
  EXPECT_FALSE(square.has_sample());
  EXPECT_THROW((void)square.sample(1, 1), std::logic_error);
}

}  // namespace
