// The insides of a node, shared by its three files:
//   node.cpp       the node's records and the operations that only read them
//   scheduler.cpp  worker threads running job fibers, safe points, requests to a running job
//   epoch.cpp      the epoch protocol: keys, checkpoints, and the batches that claim a job
// (fiber.hpp switches the stacks.)
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <xgate/migrate/node.hpp>

#include "fiber.hpp"

namespace xgate::migrate {

using steady = std::chrono::steady_clock;
using sysclock = std::chrono::system_clock;

// Thrown from a safe point to unwind a job's body when the runtime stops it. Not a
// std::exception, so bodies catching std::exception do not swallow it.
struct job_stop {};

enum class request_kind { suspend, handoff, kill, abandon };
enum class end_kind { none, done, failed, suspended, handed_off, killed, stale, abandoned };
enum class commit_kind { checkpoint, suspend, handoff, done, failed, killed };

struct request {
  request_kind kind;
  std::string to;  // handoff target
  std::promise<void> done;
};

inline std::string q(std::string_view s) { return "\"" + std::string(s) + "\""; }

struct run;

struct worker_thread {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::shared_ptr<run>> queue;
  std::atomic<std::size_t> queued{0};
  bool stopping = false;
  std::thread thread;
};

// One job hosted on this node: its state, its fiber, and what it is asked to do.
struct run final : detail::job_host {
  node::impl& n;
  std::string id;
  const job_type* type = nullptr;
  std::shared_ptr<checkpoint_header> doc;  // a checkpoint_doc<State>: the header and the live state
  job_record record;                       // as this node last wrote it
  std::uint64_t record_revision = 0;
  std::unique_ptr<job_context> ctx;
  std::atomic<bool> attention{false};      // a request waits: stop at the next safe point
  worker_thread* worker = nullptr;

  // Used only by the fiber and its worker, never at the same time.
  std::optional<job_fiber> fiber;          // made when the run starts
  bool stop = false;                       // the worker's answer at a safe point
  bool force_save = false;
  std::map<std::string, std::string> pending_once;  // recorded since the last checkpoint
  std::optional<std::string> result_xml;
  std::string result_type;
  bool body_threw = false;
  std::string bad_argument;                // what it threw, when migrate_error(bad_argument): its detail
  bool passed_safe_point = false;
  std::string body_error;
  steady::time_point next_save, slice_end, last_check;
  std::uint64_t stride = 1;                // safe points between clock reads

  // Guarded by node::impl::m.
  std::unique_ptr<request> pending;
  end_kind ended = end_kind::none;
  std::string error;
  bool started = false;
  bool arguments_read = false;  // the body reached its first safe point
  steady::time_point started_at, stopped_at;
  std::size_t last_bytes = 0;

  explicit run(node::impl& owner) : n(owner) {}
  void safe_point(job_context& c, bool force) override;
  const std::string* once_find(std::string_view key) override {
    std::string k(key);
    if (auto it = doc->once.find(k); it != doc->once.end()) return &it->second;
    if (auto it = pending_once.find(k); it != pending_once.end()) return &it->second;
    return nullptr;
  }
  void once_record(std::string_view key, std::string xml) override {
    pending_once[std::string(key)] = std::move(xml);
    runner_access::next_check(*ctx) = 0;  // the next safe point records it
  }
  void set_result(const std::function<std::string(const encode_options&)>& encode, std::string type) override;
};

struct node::impl {
  store::session& s;
  std::string principal;  // the runtime's principal in the store
  node_options opt;
  signing_key key;
  const job_registry* jobs;

  std::mutex m;
  std::condition_variable cv;  // a run started or ended
  std::map<std::string, std::shared_ptr<run>, std::less<>> runs;
  std::vector<std::unique_ptr<worker_thread>> workers;
  std::atomic<unsigned> next_worker{0};
  node_stats stats;  // guarded by m; running is counted when asked

  // node.cpp
  impl(job_store& store, node_options o);
  static node_options checked(node_options o);
  xgate::rights store_rights(const job_rights& r) const;
  std::pair<job_record, std::uint64_t> read_record(std::string_view id);
  void check_right(const job_record& r, std::string_view who, xgate::right right, std::string_view what);
  job_status status_of(const job_record& r);

  // scheduler.cpp
  std::shared_ptr<run> hosted(std::string_view id);
  std::shared_ptr<run> make_run(const job_type& t, std::shared_ptr<checkpoint_header> doc, job_record rec,
                                std::uint64_t revision);
  void start(const std::shared_ptr<run>& r);
  void enqueue(const std::shared_ptr<run>& r);
  void work(worker_thread& w);
  void end(run& r, end_kind k, std::string error = {});
  void stop_fiber(run& r);
  void finished(run& r);
  void at_safe_point(const std::shared_ptr<run>& rp);
  void request_and_wait(std::string_view id, request_kind kind, std::string to = {});

  // epoch.cpp
  void publish_key();
  std::shared_ptr<checkpoint_header> load_checkpoint(const job_record& r, const job_type& t, std::size_t* bytes);
  void commit(run& r, commit_kind kind, const std::string& to = {}, const std::string& error = {});
};

}  // namespace xgate::migrate
