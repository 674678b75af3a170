#include "postgresql_connection.hpp"

namespace xgate::store::pg {

const std::array<char[4], max_statements> statement_names = [] {
  std::array<char[4], max_statements> names{};
  for (std::size_t i = 0; i < names.size(); ++i) {
    names[i][0] = 's';
    names[i][1] = static_cast<char>('0' + i / 10);
    names[i][2] = static_cast<char>('0' + i % 10);
  }
  return names;
}();

bool connection_lost(PGconn* c, const char* sqlstate) {
  if (PQstatus(c) != CONNECTION_OK) return true;
  if (!sqlstate) return false;
  std::string_view s(sqlstate);
  // 08: connection exception; 57P01-3: the server is shutting down or restarting;
  // 25006: a read-only transaction, i.e. a standby that was the primary.
  return s.starts_with("08") || s == "57P01" || s == "57P02" || s == "57P03" || s == "25006";
}

void fail(PGconn* c, const PGresult* r, std::string_view operation, std::string_view document) {
  const char* sqlstate = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string detail = "PostgreSQL: ";
  detail += one_line(primary ? primary : PQerrorMessage(c));
  if (sqlstate) detail += std::string(" (SQLSTATE ") + sqlstate + ")";
  throw store_error(connection_lost(c, sqlstate) ? store_errc::engine_unavailable : store_errc::postgresql, operation,
                    document, detail);
}

}  // namespace xgate::store::pg
