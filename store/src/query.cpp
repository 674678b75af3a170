// XPath queries over the documents under a prefix, within the budgets of query_options.
//
// The matching documents' bytes are copied out of a read transaction first and evaluated
// after it has ended: a slow expression never holds a transaction (and so never holds up the
// map's growth, or the writers waiting behind it).
//
// pugixml cannot be interrupted, but it allocates as it evaluates (node sets, strings), and
// its allocation functions are ours to set: they check the budgets of the evaluation running
// on their thread and throw when one is spent, which unwinds pugixml (its documentation
// allows an allocation function to throw) and frees what it held.
#include <xgate/store/store.hpp>

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <pugixml.hpp>
#include <sstream>

#include "store_impl.hpp"

namespace xgate::store {

namespace {

using steady = std::chrono::steady_clock;

// Why an evaluation stopped: thrown by the allocation hook through pugixml, caught in run().
enum class spent { time, memory, stop };

// The limits of the evaluation running on this thread. pugixml's allocation functions are
// process-wide, so they find it through a thread_local; other threads' pugixml use passes
// through unchecked.
struct evaluation {
  steady::time_point deadline;
  std::stop_token stop;
  std::size_t memory_left = 0;  // bytes pugixml may hold
  std::size_t held = 0;         // bytes pugixml holds, allocated during this evaluation

  void check() const {
    if (stop.stop_requested()) throw spent::stop;
    if (steady::now() >= deadline) throw spent::time;
  }
};

thread_local evaluation* current = nullptr;

void* allocate(std::size_t size) {
  evaluation* e = current;
  if (!e) return std::malloc(size);
  e->check();
  if (e->held > e->memory_left || size > e->memory_left - e->held) throw spent::memory;
  void* p = std::malloc(size);
  if (p) e->held += malloc_usable_size(p);
  return p;
}

void deallocate(void* p) {
  evaluation* e = current;
  if (e && p) e->held -= std::min(e->held, malloc_usable_size(p));
  std::free(p);
}

// Set before main, before any thread can use pugixml; compatible with pugixml's own
// malloc/free, so memory allocated before or on other threads is freed alike.
[[maybe_unused]] const bool hooks_installed = (pugi::set_memory_management_functions(allocate, deallocate), true);

// Makes e the evaluation of this thread while it lives.
class scope {
 public:
  explicit scope(evaluation& e) { current = &e; }
  ~scope() { current = nullptr; }
  scope(const scope&) = delete;
  scope& operator=(const scope&) = delete;
};

struct readable {
  std::string name;
  std::uint64_t revision;
  std::string xml;
};

// One query's evaluation: its expression, budgets and the sink its values go to.
class run {
 public:
  run(std::string_view prefix, const std::string& expr, const pugi::xpath_query& q, const query_options& o,
      const store::query_sink& each)
      : prefix_(prefix), expr_(expr), q_(q), o_(o), each_(each) {
    auto budget = std::min<std::chrono::milliseconds>(o.time_budget, std::chrono::hours(24 * 365 * 100));
    e_.deadline = steady::now() + budget;
    e_.stop = o.stop;
  }

  void check_between() const {
    try {
      e_.check();
    } catch (spent why) {
      refuse(why, "");
    }
  }

  // Adds a document's copy to what the query holds; refuses past the memory budget.
  void hold(std::size_t bytes) {
    copied_ += bytes;
    if (copied_ > o_.memory_budget)
      throw store_error(store_errc::query_too_expensive, "query", prefix_,
                        "the documents to query hold more than the query's memory budget of " +
                            std::to_string(o_.memory_budget) + " bytes");
    check_between();
  }

  // Evaluates d and hands its values on; d's bytes are released afterwards.
  void evaluate(readable& d) {
    check_between();
    e_.memory_left = o_.memory_budget - std::min(copied_, o_.memory_budget);
    e_.held = 0;
    try {
      scope in(e_);
      pugi::xml_document doc;
      // In place: the copy is the parser's buffer, not copied again.
      if (doc.load_buffer_inplace(d.xml.data(), d.xml.size(), pugi::parse_default, pugi::encoding_utf8)) values(d, doc);
    } catch (spent why) {
      refuse(why, d.name);
    }
    copied_ -= d.xml.size();
    std::string().swap(d.xml);
  }

 private:
  void values(const readable& d, const pugi::xml_document& doc) {
    if (q_.return_type() != pugi::xpath_type_node_set) return produce(d, q_.evaluate_string(doc));
    pugi::xpath_node_set found = q_.evaluate_node_set(doc);
    for (const pugi::xpath_node& n : found) {
      e_.check();
      if (n.attribute()) {
        produce(d, n.attribute().value());
      } else if (n.node().type() == pugi::node_element) {
        std::ostringstream s;
        n.node().print(s, "", pugi::format_raw);
        produce(d, std::move(s).str());
      } else {
        produce(d, n.node().value());
      }
    }
  }

  void produce(const readable& d, std::string value) {
    std::size_t size = value.size();
    {
      // The sink is the caller's code: its allocations are not the query's.
      evaluation* mine = std::exchange(current, nullptr);
      try {
        each_(d.name, d.revision, std::move(value));
      } catch (...) {
        current = mine;
        throw;
      }
      current = mine;
    }
    produced_ += size;
    if (produced_ > o_.result_budget)
      throw store_error(store_errc::query_too_expensive, "query", prefix_,
                        "XPath \"" + printable(expr_) + "\": the values found exceed the query's result budget of " +
                            std::to_string(o_.result_budget) + " bytes");
  }

  [[noreturn]] void refuse(spent why, std::string_view document) const {
    std::string where = "XPath \"" + printable(expr_) + "\"" + (document.empty() ? "" : " on \"" + printable(document) + "\"");
    switch (why) {
      case spent::stop: throw store_error(store_errc::cancelled, "query", prefix_, where + ": cancelled by its caller");
      case spent::time:
        throw store_error(store_errc::query_too_expensive, "query", prefix_,
                          where + ": ran past the query's time budget of " + std::to_string(o_.time_budget.count()) + " ms");
      case spent::memory: break;
    }
    throw store_error(store_errc::query_too_expensive, "query", prefix_,
                      where + ": needs more than the query's memory budget of " + std::to_string(o_.memory_budget) + " bytes");
  }

  std::string_view prefix_;
  const std::string& expr_;
  const pugi::xpath_query& q_;
  const query_options& o_;
  const store::query_sink& each_;
  evaluation e_;
  std::size_t copied_ = 0;    // bytes of documents copied and not yet evaluated
  std::size_t produced_ = 0;  // bytes of values handed on
};

}  // namespace

void store::query(std::string_view prefix, std::string_view xpath, const caller& who, const query_options& options,
                  const query_sink& each) const {
  prefix = check_prefix("query", prefix);
  std::string expr(xpath);
  std::optional<pugi::xpath_query> q;
  try {
    q.emplace(expr.c_str());
  } catch (const pugi::xpath_exception& e) {
    throw store_error(store_errc::bad_xpath, "query", prefix, "bad XPath \"" + printable(expr) + "\": " + e.what());
  }
  if (!*q)
    throw store_error(store_errc::bad_xpath, "query", prefix,
                      "bad XPath \"" + printable(expr) + "\": " + q->result().description());
  run r(prefix, expr, *q, options, each);
  std::vector<readable> docs = impl_->read("query", prefix, [&](const read_transaction& t) {
    std::vector<readable> out;
    each_readable(t, prefix, who, [&](document_info&& d) {
      r.hold(d.size);
      std::string xml = t.bytes(d.name);
      out.push_back(readable{std::move(d.name), d.revision, std::move(xml)});
      return true;
    });
    return out;
  });
  for (readable& d : docs) r.evaluate(d);
}

std::vector<query_match> store::query(std::string_view prefix, std::string_view xpath, const caller& who,
                                      const query_options& options) const {
  std::vector<query_match> out;
  query(prefix, xpath, who, options, [&](const std::string& name, std::uint64_t revision, std::string&& value) {
    if (out.empty() || out.back().name != name) out.push_back(query_match{name, revision, {}});
    out.back().values.push_back(std::move(value));
  });
  return out;
}

}  // namespace xgate::store
