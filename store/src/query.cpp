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
//
// An expression that scans without allocating (//*[count(//none)>0]) never reaches those
// checks. For it, a timer (and the stop request) sends the querying thread a signal, and the
// handler jumps out of the evaluation, the way PostgreSQL cancels a statement; never from
// inside malloc (the allocation functions mark where they are), and the memory pugixml held
// is freed after the jump, since every block of it came through the allocation functions.
#include <xgate/store/store.hpp>

#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <pugixml.hpp>
#include <optional>
#include <sstream>
#include <stop_token>
#include <unordered_set>

#include "indexing.hpp"
#include "paging.hpp"
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

  // Shared with the signal handler (on this thread).
  sigjmp_buf jump;
  volatile std::sig_atomic_t armed = 0;        // inside an XPath evaluation: the handler may jump
  volatile std::sig_atomic_t in_memory = 0;    // inside malloc or free: it may not
  volatile std::sig_atomic_t interrupted = 0;  // the signal came while it could not jump
  std::unordered_set<void*> blocks;            // allocated while armed and not yet freed

  spent overdue() const { return stop.stop_requested() ? spent::stop : spent::time; }
  void check() const {
    if (stop.stop_requested()) throw spent::stop;
    if (steady::now() >= deadline) throw spent::time;
  }
};

// initial-exec: reading it in the signal handler is one load, never an allocation.
thread_local evaluation* current __attribute__((tls_model("initial-exec"))) = nullptr;

// Marks e as inside malloc or free while it lives.
class in_memory {
 public:
  explicit in_memory(evaluation& e) : e_(e) { e_.in_memory = 1; }
  ~in_memory() { e_.in_memory = 0; }
  in_memory(const in_memory&) = delete;
  in_memory& operator=(const in_memory&) = delete;

 private:
  evaluation& e_;
};

void* allocate(std::size_t size) {
  evaluation* e = current;
  if (!e) return std::malloc(size);
  void* p = nullptr;
  {
    in_memory mark(*e);
    e->check();
    if (e->held > e->memory_left || size > e->memory_left - e->held) throw spent::memory;
    p = std::malloc(size);
    if (p && e->armed) e->blocks.insert(p);
    if (p) e->held += malloc_usable_size(p);
    if (p && e->interrupted) {
      e->blocks.erase(p);
      e->held -= std::min(e->held, malloc_usable_size(p));
      std::free(p);
      throw e->overdue();
    }
  }
  return p;
}

void deallocate(void* p) {
  evaluation* e = current;
  if (!e || !p) return std::free(p);
  in_memory mark(*e);
  e->blocks.erase(p);
  e->held -= std::min(e->held, malloc_usable_size(p));
  std::free(p);
}

// Set before main, before any thread can use pugixml; compatible with pugixml's own
// malloc/free, so memory allocated before or on other threads is freed alike.
[[maybe_unused]] const bool hooks_installed = (pugi::set_memory_management_functions(allocate, deallocate), true);

// The signal that cuts an evaluation short. A program that has its own use for it keeps it:
// then evaluations stop only where XPath allocates.
const int interrupt_signal = SIGRTMIN + 5;

void on_interrupt(int) {
  evaluation* e = current;
  if (!e || !e->armed) return;  // late: the evaluation is over
  if (e->in_memory) {
    e->interrupted = 1;  // the allocation function throws once malloc is done
    return;
  }
  e->armed = 0;
  siglongjmp(e->jump, 1);
}

bool install_interrupt() {
  struct sigaction old {};
  if (::sigaction(interrupt_signal, nullptr, &old) != 0 || old.sa_handler != SIG_DFL) return false;
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  return ::sigaction(interrupt_signal, &sa, nullptr) == 0;
}

bool interrupt_installed() {
  static const bool installed = install_interrupt();
  return installed;
}

// While it lives: the calling thread gets interrupt_signal when its deadline passes (plus a
// moment for the allocation checks to come first) and when stop is requested.
class interrupter {
 public:
  interrupter(steady::time_point deadline, const std::stop_token& stop) {
    if (!interrupt_installed()) return;
    sigevent ev{};
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = interrupt_signal;
    ev._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));
    if (::timer_create(CLOCK_MONOTONIC, &ev, &timer_) == 0) {
      timer_armed_ = true;
      auto after = std::max(deadline - steady::now(), steady::duration::zero()) + std::chrono::milliseconds(50);
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(after).count();
      itimerspec t{};
      t.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
      t.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
      t.it_interval.tv_nsec = 100000000;  // again every 100 ms, should one land outside XPath
      ::timer_settime(timer_, 0, &t, nullptr);
    }
    if (stop.stop_possible()) on_stop_.emplace(stop, signal_thread{::pthread_self()});
    // A thread that blocks every signal (as some thread pools do) still gets this one.
    sigset_t just;
    sigemptyset(&just);
    sigaddset(&just, interrupt_signal);
    mask_changed_ = ::pthread_sigmask(SIG_UNBLOCK, &just, &old_mask_) == 0;
  }
  ~interrupter() {
    on_stop_.reset();  // waits for a callback running elsewhere
    if (timer_armed_) ::timer_delete(timer_);
    if (mask_changed_) ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  interrupter(const interrupter&) = delete;
  interrupter& operator=(const interrupter&) = delete;

 private:
  struct signal_thread {
    pthread_t thread;
    void operator()() const noexcept { ::pthread_kill(thread, interrupt_signal); }
  };
  timer_t timer_{};
  bool timer_armed_ = false;
  sigset_t old_mask_{};
  bool mask_changed_ = false;
  std::optional<std::stop_callback<signal_thread>> on_stop_;
};

// Makes e the evaluation of this thread while it lives.
class scope {
 public:
  explicit scope(evaluation& e) { current = &e; }
  ~scope() { current = nullptr; }
  scope(const scope&) = delete;
  scope& operator=(const scope&) = delete;
};

// The evaluations the signal may cut short. Each arms e, evaluates, disarms, and only then
// moves its result out; noinline so that nothing of it is kept in the caller's registers
// across the jump.
[[gnu::noinline]] void evaluate_nodes(const pugi::xpath_query& q, const pugi::xml_document& doc, evaluation& e,
                                      pugi::xpath_node_set& out) {
  e.armed = 1;
  pugi::xpath_node_set found = q.evaluate_node_set(doc);
  e.armed = 0;
  out = std::move(found);
}

// Into a buffer of ours: a std::string result would be allocated by operator new, which
// the allocation functions do not see. Returns the size needed, terminator included.
[[gnu::noinline]] std::size_t evaluate_text(const pugi::xpath_query& q, const pugi::xml_document& doc, evaluation& e,
                                            char* buffer, std::size_t capacity) {
  e.armed = 1;
  std::size_t needed = q.evaluate_string(buffer, capacity, doc);
  e.armed = 0;
  return needed;
}

// Runs f (one of the above) so that the signal can cut it short: true when it was.
template <class F>
bool cut_short(evaluation& e, F f) {
  e.interrupted = 0;
  if (sigsetjmp(e.jump, 1) != 0) {
    // pugixml's frames are gone without their destructors: free what they held.
    in_memory mark(e);
    for (void* p : e.blocks) std::free(p);
    e.blocks.clear();
    e.held = 0;
    return true;
  }
  f();
  e.blocks.clear();  // what the result holds is freed by its owner
  return false;
}

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

  // Evaluates each document in turn (see evaluate(readable&)) and tells after(d, matched)
  // of it, until that returns false.
  template <class F>
  void evaluate(std::vector<readable>& docs, F&& after) {
    interrupter alarm(e_.deadline, e_.stop);
    for (readable& d : docs)
      if (!after(d, evaluate(d))) return;
  }

  // Evaluates d and hands its values on; d's bytes are released afterwards. True when it
  // gave a value.
  bool evaluate(readable& d) {
    check_between();
    e_.memory_left = o_.memory_budget - std::min(copied_, o_.memory_budget);
    e_.held = 0;
    std::size_t before = values_;
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
    return values_ != before;
  }

 private:
  void values(const readable& d, const pugi::xml_document& doc) {
    if (q_.return_type() != pugi::xpath_type_node_set) {
      std::string text(255, '\0');
      for (;;) {
        std::size_t needed = 0;
        if (cut_short(e_, [&] { needed = evaluate_text(q_, doc, e_, text.data(), text.size() + 1); })) throw e_.overdue();
        if (needed <= text.size() + 1) {
          text.resize(needed - 1);
          return produce(d, std::move(text));
        }
        text.assign(needed - 1, '\0');  // evaluated again, into room enough
      }
    }
    pugi::xpath_node_set found;
    if (cut_short(e_, [&] { evaluate_nodes(q_, doc, e_, found); })) throw e_.overdue();
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
    ++values_;
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
  std::size_t values_ = 0;    // values handed on
};

// How much one read transaction copies out: enough that most queries take one, little enough
// that a transaction never lasts long (the rest is read in further ones, at the same revision).
constexpr std::size_t chunk_documents = 4096;
constexpr std::size_t chunk_bytes = std::size_t{16} << 20;

}  // namespace

query_end store::query(std::string_view prefix, std::string_view xpath, const caller& who, const query_options& options,
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
  // The revision the query shows and the last name it looked at: from the caller's cursor,
  // else from the first read transaction.
  std::optional<detail::cursor> at;
  if (!options.cursor.empty()) at = detail::parse_cursor("query", prefix, options.cursor);
  std::size_t matched = 0;
  for (;;) {
    bool more = false;  // the chunk ended before the prefix did
    std::vector<readable> docs = impl_->read("query", prefix, [&](const read_transaction& t) {
      std::vector<readable> out;
      if (at) detail::check_unchanged(t, "query", prefix, *at, who);
      else at = detail::cursor{t.revision(), ""};
      std::size_t bytes = 0;
      auto copy = [&](document_info&& d) {
        if (out.size() == chunk_documents || bytes >= chunk_bytes) {
          more = true;
          return false;
        }
        r.hold(d.size);
        bytes += d.size;
        std::string xml = t.bytes(d.name);
        out.push_back(readable{std::move(d.name), d.revision, std::move(xml)});
        return true;
      };
      // Asked again in each transaction: an index removed meanwhile is no longer used.
      if (std::optional<detail::index_use> use = detail::usable_index(t.indexes(), prefix, expr)) {
        clock::time_point now = clock::now();
        t.index_lookup(use->id, use->value, at->last, [&](std::string&& name) {
          if (!is_under(name, prefix)) return true;
          std::optional<document_info> d = t.info(name);
          return !d || !listed_for(*d, prefix, who, now) || copy(std::move(*d));
        });
      } else {
        each_readable(t, prefix, who, copy, at->last);
      }
      return out;
    });
    bool full = false;  // the page holds `limit` matching documents
    std::size_t done = 0;
    r.evaluate(docs, [&](const readable& d, bool hit) {
      at->last = d.name;
      ++done;
      full = hit && options.limit != 0 && ++matched == options.limit;
      return !full;
    });
    if (full) return query_end{at->revision, done < docs.size() || more ? detail::format_cursor(*at) : std::string()};
    if (!more) return query_end{at->revision, {}};
  }
}

std::vector<query_match> store::query(std::string_view prefix, std::string_view xpath, const caller& who,
                                      const query_options& options) const {
  std::vector<query_match> out;
  query(prefix, xpath, who, options, gather_matches(out));
  return out;
}

}  // namespace xgate::store
