// The libpq layer under postgresql_engine: statement parameters and result fields in binary
// format, and a connection that prepares its statements once and pipelines the writes of a
// transaction (libpq's pipeline mode), mapping libpq's failures to store_error
// (engine_unavailable when the connection, not the statement, failed: worth a retry).
#pragma once

#include <libpq-fe.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <xgate/base/text.hpp>
#include <xgate/store/error.hpp>

namespace xgate::store::pg {

// Statements a connection prepares at most, named "s00" to "s99".
inline constexpr std::size_t max_statements = 100;
extern const std::array<char[4], max_statements> statement_names;

struct result_free {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, result_free>;

// A failure of the connection rather than of the statement: worth another connection.
bool connection_lost(PGconn* c, const char* sqlstate);

// Throws the failure of r (nullptr: of the connection) as store_error: engine_unavailable
// when the connection is lost, else postgresql with PostgreSQL's message and SQLSTATE.
[[noreturn]] void fail(PGconn* c, const PGresult* r, std::string_view operation, std::string_view document);

// Statement parameters, all in binary format: bytea and text as their bytes, bigint as 8
// bytes big-endian, boolean as one byte.
class params {
 public:
  params& bytes(std::string_view s) {
    values_.push_back(s.data() ? s.data() : "");
    lengths_.push_back(static_cast<int>(s.size()));
    formats_.push_back(1);
    return *this;
  }
  params& i64(std::int64_t v) {
    std::string& b = owned_.emplace_back(8, '\0');
    auto u = static_cast<std::uint64_t>(v);
    for (int i = 7; i >= 0; --i, u >>= 8) b[static_cast<std::size_t>(i)] = static_cast<char>(u & 0xff);
    return bytes(b);
  }
  params& i16(std::int16_t v) {
    std::string& b = owned_.emplace_back(2, '\0');
    b[0] = static_cast<char>((static_cast<std::uint16_t>(v) >> 8) & 0xff);
    b[1] = static_cast<char>(static_cast<std::uint16_t>(v) & 0xff);
    return bytes(b);
  }
  params& boolean(bool v) { return bytes(v ? std::string_view("\1", 1) : std::string_view("\0", 1)); }
  params& optional_i64(const std::optional<std::int64_t>& v) {
    if (v) return i64(*v);
    values_.push_back(nullptr);
    lengths_.push_back(0);
    formats_.push_back(1);
    return *this;
  }
  params& null() { return optional_i64(std::nullopt); }

  int size() const noexcept { return static_cast<int>(values_.size()); }
  const char* const* values() const noexcept { return values_.data(); }
  const int* lengths() const noexcept { return lengths_.data(); }
  const int* formats() const noexcept { return formats_.data(); }

 private:
  std::deque<std::string> owned_;  // a deque: what values_ points into never moves
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;  // all 1: binary
};

// Binary result fields.
inline std::string_view field(const PGresult* r, int row, int col) {
  return {PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col))};
}
inline std::int64_t field_i64(const PGresult* r, int row, int col) {
  std::string_view b = field(r, row, col);
  std::uint64_t u = 0;
  for (char c : b) u = (u << 8) | static_cast<unsigned char>(c);
  if (b.size() == 2) return static_cast<std::int16_t>(u);  // smallint
  return static_cast<std::int64_t>(u);
}
inline bool field_bool(const PGresult* r, int row, int col) { return field(r, row, col) == std::string_view("\1", 1); }
inline bool is_null(const PGresult* r, int row, int col) { return PQgetisnull(r, row, col) != 0; }

// One connection and the statements prepared on it.
class connection {
 public:
  // statements: the SQL of every statement the connection may prepare, by number (at most
  // max_statements); run and defer name one by its number, or by an enum numbering them.
  connection(const std::string& address, std::string_view operation, std::string_view document,
             std::span<const char* const> statements)
      : conn_(PQconnectdb(address.c_str())), pid_(::getpid()), statements_(statements) {
    if (statements.size() > max_statements) throw std::logic_error("pg::connection: too many statements");
    if (!conn_) throw store_error(store_errc::engine_unavailable, operation, document, "PostgreSQL: out of memory");
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string message = one_line(PQerrorMessage(conn_));
      PQfinish(conn_);
      conn_ = nullptr;
      throw store_error(store_errc::engine_unavailable, operation, document, "PostgreSQL: " + message);
    }
    // Notices ("relation … already exists, skipping") are for people at a prompt, not a log.
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  }
  ~connection() {
    // A child after fork() leaves the parent's session alone: PQfinish would end it.
    if (conn_ && ::getpid() == pid_) PQfinish(conn_);
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  PGconn* get() const noexcept { return conn_; }
  bool ok() const noexcept { return !broken_ && PQstatus(conn_) == CONNECTION_OK; }

  // A statement without parameters (BEGIN, COMMIT, DDL), results in text.
  result_ptr command(const char* sql, std::string_view operation, std::string_view document) {
    flush();
    result_ptr r(PQexec(conn_, sql));
    check(r.get(), operation, document);
    return r;
  }

  // Runs fn inside the open transaction; rolls the transaction back if fn throws, so the
  // connection goes back to the pool idle.
  template <class F>
  void rolled_back_unless_done(F&& fn) {
    try {
      fn();
    } catch (...) {
      roll_back();
      throw;
    }
  }
  // Ends the open transaction without a word: what was deferred is dropped, then ROLLBACK.
  void roll_back() noexcept {
    try {
      flush();
    } catch (...) {  // the transaction is being abandoned: its errors no longer matter
    }
    if (ok()) PQclear(PQexec(conn_, "ROLLBACK"));
  }

  template <class Statement>
  result_ptr run(Statement s, const params& p, std::string_view operation, std::string_view document) {
    return run_numbered(static_cast<std::size_t>(s), p, operation, document);
  }
  template <class Statement>
  void defer(Statement s, const params& p, std::string_view operation, std::string_view document) {
    defer_numbered(static_cast<std::size_t>(s), p, operation, document);
  }

  result_ptr run_numbered(std::size_t s, const params& p, std::string_view operation, std::string_view document) {
    flush();
    const char* name = prepare(s, operation, document);
    result_ptr r(PQexecPrepared(conn_, name, p.size(), p.values(), p.lengths(), p.formats(), 1));
    check(r.get(), operation, document);
    return r;
  }

  // A statement whose result nobody waits for (a write inside a transaction): sent in
  // libpq's pipeline mode without waiting, its outcome checked by the next statement that
  // needs an answer (run, command) or by flush(). A write thus costs one round trip for all
  // its statements instead of one each. Its failure is reported as the failing statement's.
  void defer_numbered(std::size_t s, const params& p, std::string_view operation, std::string_view document) {
    const char* name = statement_names[s];
    if (!prepared_[s]) {
      flush();  // PQprepare waits for its answer: not inside a pipeline
      prepare(s, operation, document);
    }
    if (deferred_.empty() && PQenterPipelineMode(conn_) != 1) fail(conn_, nullptr, operation, document);
    if (PQsendQueryPrepared(conn_, name, p.size(), p.values(), p.lengths(), p.formats(), 1) != 1) {
      std::string reason = one_line(PQerrorMessage(conn_));
      deferred_.clear();
      drop_pipeline(false);
      throw store_error(ok() ? store_errc::postgresql : store_errc::engine_unavailable, operation, document,
                        "PostgreSQL: " + reason);
    }
    deferred_.emplace_back(operation, std::string(document));
  }

  // Waits for what was deferred, keeping only a lost connection's failure: for a transaction
  // (or savepoint) about to be rolled back anyway.
  void settle() {
    try {
      flush();
    } catch (const store_error& e) {
      if (e.reason() == store_errc::engine_unavailable) throw;
    }
  }

  // Waits for every deferred statement; throws the first one's failure.
  void flush() {
    if (deferred_.empty()) return;
    std::vector<std::pair<std::string_view, std::string>> sent = std::move(deferred_);
    deferred_.clear();
    std::optional<store_error> first;
    auto note = [&](store_error e) {
      if (!first) first.emplace(std::move(e));
    };
    if (PQpipelineSync(conn_) != 1) {
      broken_ = true;
      note(lost(sent.front()));
    }
    for (auto& [operation, document] : sent) {
      if (first) break;
      // Each statement's results end with a null result.
      result_ptr r(PQgetResult(conn_));
      if (!r) {
        note(lost({operation, document}));
        break;
      }
      auto status = PQresultStatus(r.get());
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        try {
          fail(conn_, status == PGRES_PIPELINE_ABORTED ? nullptr : r.get(), operation, document);
        } catch (store_error& e) {
          note(std::move(e));
        }
      }
      while (result_ptr(PQgetResult(conn_))) {
      }
    }
    drop_pipeline();
    if (first) throw *first;
  }

 private:
  const char* prepare(std::size_t i, std::string_view operation, std::string_view document) {
    if (!prepared_[i]) {
      result_ptr r(PQprepare(conn_, statement_names[i], statements_[i], 0, nullptr));
      check(r.get(), operation, document);
      prepared_[i] = true;
    }
    return statement_names[i];
  }

  store_error lost(const std::pair<std::string_view, std::string>& at) {
    return store_error(ok() ? store_errc::postgresql : store_errc::engine_unavailable, at.first, at.second,
                       "PostgreSQL: " + one_line(PQerrorMessage(conn_)));
  }

  // Reads whatever the pipeline still holds up to its sync and leaves pipeline mode. A
  // connection that cannot leave it is of no further use: closed, it is not pooled again.
  void drop_pipeline(bool synced = true) noexcept {
    if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF) return;
    if (!synced && ok() && PQpipelineSync(conn_) != 1) broken_ = true;
    if (ok()) {
      for (int nulls = 0; nulls < 2 && ok();) {
        PGresult* r = PQgetResult(conn_);
        if (!r) {
          ++nulls;  // between statements; two in a row: nothing more is coming
          continue;
        }
        nulls = 0;
        bool synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (synced) break;
      }
    }
    if (PQexitPipelineMode(conn_) != 1) broken_ = true;  // ok() is false: the pool drops it
  }


  void check(const PGresult* r, std::string_view operation, std::string_view document) {
    auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(conn_, r, operation, document);
  }

  PGconn* conn_;
  pid_t pid_;
  std::span<const char* const> statements_;
  std::array<bool, max_statements> prepared_{};
  std::vector<std::pair<std::string_view, std::string>> deferred_;  // sent, answers not read yet
  bool broken_ = false;  // left in a state no statement can follow
};

}  // namespace xgate::store::pg
