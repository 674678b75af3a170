// Object identity: shared objects written once, cycles, weak and raw pointers, polymorphism.
#include <gtest/gtest.h>

#include "test_types.hpp"

namespace {

TEST(Identity, SharedObjectWrittenOnceAndComesBackShared) {
  auto shared = std::make_shared<t::Node>();
  shared->name = "shared";
  t::Graph g;
  auto a = std::make_shared<t::Node>(), b = std::make_shared<t::Node>();
  a->name = "a";
  b->name = "b";
  a->out = {shared};
  b->out = {shared};
  g.roots = {a, b};
  std::string xml = xgate::to_xml(g);
  std::size_t first = xml.find("<name>shared</name>");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(xml.find("<name>shared</name>", first + 1), std::string::npos) << "written twice:\n" << xml;
  auto back = xgate::from_xml<t::Graph>(xml);
  ASSERT_EQ(back.roots.size(), 2u);
  EXPECT_EQ(back.roots[0]->out[0], back.roots[1]->out[0]);
  EXPECT_EQ(back.roots[0]->out[0]->name, "shared");
  EXPECT_EQ(xgate::to_xml(back), xml);
}

TEST(Identity, CyclesThroughSharedAndWeakPointers) {
  auto a = std::make_shared<t::Node>(), b = std::make_shared<t::Node>();
  a->name = "a";
  b->name = "b";
  a->out = {b};
  b->back = a;        // weak cycle
  b->out = {b};       // a shared self-cycle
  b->raw = a.get();   // raw pointer into the pool
  t::Graph g{{a}};
  std::string xml = xgate::to_xml(g);
  auto back = xgate::from_xml<t::Graph>(xml);
  auto ba = back.roots[0];
  auto bb = ba->out[0];
  EXPECT_EQ(bb->back.lock(), ba);
  EXPECT_EQ(bb->out[0], bb);
  EXPECT_EQ(bb->raw, ba.get());
  EXPECT_EQ(xgate::to_xml(back), xml);
  bb->out.clear();  // break the self-cycle so nothing leaks
  b->out.clear();
}

TEST(Identity, LongChainDoesNotRecurse) {
  // 200k shared objects in a chain: the pool is filled from a work list, not by recursion.
  auto head = std::make_shared<t::Node>();
  auto cur = head;
  for (int i = 0; i < 200000; ++i) {
    auto n = std::make_shared<t::Node>();
    cur->out.push_back(n);
    n->back = cur;
    cur = n;
  }
  t::Graph g{{head}};
  std::string xml = xgate::to_xml(g);
  auto back = xgate::from_xml<t::Graph>(xml);
  std::size_t len = 0;
  for (auto p = back.roots[0]; !p->out.empty(); p = p->out[0]) ++len;
  EXPECT_EQ(len, 200000u);
  // Destroy iteratively: a 200k-deep chain of shared_ptr destructors would overflow the stack.
  for (auto* graph : {&g, &back}) {
    auto p = graph->roots[0];
    graph->roots.clear();
    while (p && !p->out.empty()) {
      auto next = p->out[0];
      p->out.clear();
      p = next;
    }
  }
  head.reset();
  cur.reset();
}

TEST(Identity, TreeWithParentPointers) {
  t::Tree root;
  root.value = 1;
  for (int i = 0; i < 3; ++i) {
    auto kid = std::make_unique<t::Tree>();
    kid->value = 10 + i;
    kid->parent = &root;
    auto grandkid = std::make_unique<t::Tree>();
    grandkid->value = 100 + i;
    grandkid->parent = kid.get();
    kid->kids.push_back(std::move(grandkid));
    root.kids.push_back(std::move(kid));
  }
  std::string xml = xgate::to_xml(root);
  t::Tree back;
  xgate::from_xml(xml, back);  // in place: pointers to the root stay valid
  ASSERT_EQ(back.kids.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(back.kids[i]->parent, &back);
    EXPECT_EQ(back.kids[i]->kids[0]->parent, back.kids[i].get());
    EXPECT_EQ(back.kids[i]->kids[0]->value, 100 + i);
  }
  EXPECT_EQ(xgate::to_xml(back), xml);
}

TEST(Identity, RawPointersIntoContainersAndSets) {
  t::Catalog c;
  c.items = {{"apple"}, {"pear"}, {"plum"}};
  c.by_key = {{"k", {"mapped"}}};
  c.sorted = {{"s1"}, {"s2"}};
  c.favourite = &c.items[1];
  c.mapped = &c.by_key.at("k");
  c.in_set = &*c.sorted.rbegin();
  c.boxed = std::make_unique<t::Item>(t::Item{"boxed"});
  c.to_boxed = c.boxed.get();
  std::string xml = xgate::to_xml(c);
  t::Catalog back;
  xgate::from_xml(xml, back);
  EXPECT_EQ(back.favourite, &back.items[1]);
  EXPECT_EQ(back.mapped, &back.by_key.at("k"));
  EXPECT_EQ(back.in_set, &*back.sorted.rbegin());
  EXPECT_EQ(back.to_boxed, back.boxed.get());
  EXPECT_EQ(xgate::to_xml(back), xml);
}

TEST(Identity, RawPointerOutsideTheGraphIsAnEncodeError) {
  t::Item outside{"elsewhere"};
  t::Catalog c;
  c.favourite = &outside;
  try {
    (void)xgate::to_xml(c);
    FAIL() << "expected encode_error";
  } catch (const xgate::encode_error& e) {
    EXPECT_EQ(e.code(), xgate::errc::encode_failure);
    EXPECT_STREQ(e.what(), "a raw pointer aims at an object that is not part of the encoded graph (id o1 was never written)");
  }
}

TEST(Identity, ObjectOnlyAWeakPointerReachesIsAnEncodeError) {
  auto outside = std::make_shared<t::Node>();  // owned by nothing in the graph
  t::Node root;
  root.back = outside;
  try {
    (void)xgate::to_xml(root);
    FAIL();
  } catch (const xgate::encode_error& e) {
    EXPECT_STREQ(e.what(), "object o1 is reached only through weak_ptr (or a cycle of shared_ptrs nothing in the graph owns): "
                           "a decoded copy could not keep it alive");
  }
}

TEST(Identity, PolymorphicPointers) {
  t::Scene s;
  auto c = std::make_unique<t::Circle>();
  c->id = "c1";
  c->r = 2;
  s.owned.push_back(std::move(c));
  auto sq = std::make_shared<t::Square>();
  sq->id = "sq";
  sq->side = 3;
  s.shared = {sq, sq};
  s.focus = s.owned[0].get();
  std::string xml = xgate::to_xml(s);
  EXPECT_NE(xml.find("<item>\n        <t.Circle xg:id="), std::string::npos) << xml;
  EXPECT_NE(xml.find("<t.Square xg:id="), std::string::npos);
  t::Scene back;
  xgate::from_xml(xml, back);
  ASSERT_EQ(back.owned.size(), 1u);
  auto* circle = dynamic_cast<t::Circle*>(back.owned[0].get());
  ASSERT_NE(circle, nullptr);
  EXPECT_EQ(circle->r, 2);
  EXPECT_EQ(circle->id, "c1");
  EXPECT_EQ(back.shared[0], back.shared[1]);
  EXPECT_DOUBLE_EQ(back.shared[0]->area(), 9);
  EXPECT_EQ(back.focus, back.owned[0].get());
  EXPECT_EQ(xgate::to_xml(back), xml);
}

TEST(Identity, UnregisteredDynamicTypeIsAnEncodeError) {
  t::Scene s;
  s.owned.push_back(std::make_unique<t::Unregistered>());
  try {
    (void)xgate::to_xml(s);
    FAIL();
  } catch (const xgate::encode_error& e) {
    EXPECT_STREQ(e.what(), "cannot encode <item>: its dynamic type t::Unregistered is not registered (XGATE_REGISTER)");
  }
}

}  // namespace
