// xgate: the command line over the codec's registry.
//
//   xgate types                              registered types, "NAME VERSION" per line
//   xgate schema TYPE                        the XSD for documents holding a TYPE
//   xgate keygen NAME [--dir DIR]            DIR/NAME.key and DIR/NAME.pub
//   xgate sample TYPE [--seed N] [--count N] [--creator P] [--read L] ... [--sign KEY]
//   xgate check FILE --type TYPE --as P [--mode read|write] [--pub KEY] [--lenient]
//   xgate store put|get|take|rm|ls|query|watch|info|credential|credentials|revoke|copy ...   a document store,
//         local (--data DIR --as PRINCIPAL) or on an xgated server (--server URL --token T)
//   xgate chat --hub URL --as NAME --secret-file F [--http-proxy URL]
//         talk through a channel hub (tcp://HOST:PORT, or http://HOST:PORT for long-poll):
//         reads "TO: TEXT" lines from stdin and sends them; prints "FROM: TEXT" for each
//         message and "* NAME is online|offline" for presence; on EOF flushes and exits
//   xgate agent --name X --upstream URL --secret-file F --downstream LISTEN --data DIR
//   xgate agent --name X --upstream URL --secret-file F --downstream URL --downstream-secret-file F2
//         a relay agent (channel/agent.hpp) between the upstream hub and a downstream hub it
//         runs (prints "hub: tcp://ADDRESS:PORT") or joins; runs until SIGINT/SIGTERM
//   xgate hops [--via A,B] --hub URL --as NAME --secret-file F
//         who is online on the hub, or on the far side of the last agent of --via, one per line
//   xgate certs init [--dir DIR] [--name CN] [--days N]     DIR/ca.crt and DIR/ca.key
//   xgate certs issue NAME [--dir DIR] [--host H ...] [--client] [--days N]
//         DIR/NAME.crt and DIR/NAME.key signed by the CA in DIR: a node certificate for the
//         hosts (server and client), or with --client one whose common name is the principal
//   xgate certs show FILE                     subject, issuer, use, hosts, validity, serial
//
// Exit codes: 0 ok, 1 usage (bad flags, unknown type, unreadable key or file, bad document
// name or XPath), 2 malformed or invalid document (also one too large for the store), 3
// access denied (also a bad token, a claimed creator or a rights change the store refuses;
// a server's TLS certificate refused, no TLS protocol in common),
// 4 signature invalid or missing, 5 no such document, 6 conflict with the store's state
// (revision conflict, no lease, watch history lost; a certificate or key file that exists),
// 7 the store or server failed or cannot be reached. A failure prints exactly one line, "error: MESSAGE", to stderr.
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include <xgate/version.hpp>
#include <xgate/xmlcodec.hpp>

#include "certs_commands.hpp"
#include "chat_command.hpp"
#include "cli.hpp"
#include "codec_commands.hpp"
#include "relay_commands.hpp"
#include "store_commands.hpp"

using namespace xgate::xgate_cli;

namespace {

int fail(int code, const std::string& message) {
  std::cout.flush();
  std::cerr << "error: " << one_line(message) << "\n";
  return code;
}

void add_target_options(CLI::App* cmd, store_target& t) {
  cmd->add_option("--server", t.server, "xgated URL (http://host:port, https://host:port)");
  cmd->add_option("--ca", t.ca, "for https://: the CA the server's certificate must chain to (default: $XGATE_CA, else the system's)")
      ->type_name("FILE");
  cmd->add_option("--cert", t.cert, "for https://: a client certificate, for a server that requires one (default: $XGATE_CERT)")
      ->type_name("FILE");
  cmd->add_option("--key", t.key, "the private key of --cert (default: $XGATE_KEY)")->type_name("FILE");
  cmd->add_option("--token", t.token, "Token for the server, or for --data instead of --as (default: $XGATE_TOKEN)");
  cmd->add_option("--data", t.data, "Store directory (or PostgreSQL database, postgresql://…), opened in this process");
  cmd->add_option("--as", t.as, "Principal to act as on the --data store");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xgate: self-describing XML documents for C++ object graphs"};
  app.set_version_flag("--version", std::string("xgate ") + xgate::version, "Print the version and exit");
  app.require_subcommand(1);

  app.add_subcommand("types", "List the registered types, one \"NAME VERSION\" per line");

  std::string schema_type;
  CLI::App* schema = app.add_subcommand("schema", "Print the XSD for documents holding a TYPE");
  schema->add_option("TYPE", schema_type, "Registered type name")->required();

  keygen_args kg;
  CLI::App* keygen = app.add_subcommand("keygen", "Generate an Ed25519 key pair NAME.key / NAME.pub");
  keygen->add_option("NAME", kg.name, "Key (and signer) name")->required();
  keygen->add_option("--dir", kg.dir, "Directory for the key files (created if missing)")->capture_default_str();
  keygen->add_flag("--force", kg.force, "Replace an existing NAME.key");

  sample_args sa;
  CLI::App* sample = app.add_subcommand("sample", "Print a generated document of a TYPE");
  sample->add_option("TYPE", sa.type, "Registered type name")->required();
  sample->add_option("--seed", sa.seed, "Generator seed")->capture_default_str();
  sample->add_option("--count", sa.count, "Size of the generated value")->capture_default_str();
  sample->add_option("--creator", sa.creator, "Document creator (lists not given default to \"creator\")");
  sample->add_option("--read", sa.read, "Principals who may read (space or comma separated; * for anyone)");
  sample->add_option("--write", sa.write, "Principals who may write");
  sample->add_option("--delete", sa.del, "Principals who may delete");
  sample->add_option("--copy", sa.copy, "Principals who may copy");
  sample->add_option("--sign", sa.sign, "Secret key file (NAME.key) to sign with");

  check_args ca;
  CLI::App* check = app.add_subcommand("check", "Decode a document as a principal and print it re-encoded");
  check->add_option("FILE", ca.file, "Document file, or - for standard input")->required();
  check->add_option("--type", ca.type, "Registered type of the document's root")->required();
  check->add_option("--as", ca.principal, "Principal who decodes")->required();
  check->add_option("--mode", ca.mode, "Access asked for")->check(CLI::IsMember({"read", "write"}))->capture_default_str();
  check->add_option("--pub", ca.pub, "Public key file (NAME.pub): the document must carry a valid signature");
  check->add_flag("--lenient", ca.lenient, "Skip unknown fields instead of refusing the document");

  // xgate store SUBCOMMAND: every subcommand takes the same --server/--token or --data/--as.
  store_args st_args;
  CLI::App* store_cmd = app.add_subcommand("store", "Documents in a store: a local directory (--data) or an xgated server (--server)");
  store_cmd->require_subcommand(1);
  store_cmd->footer(
      "Exit codes: 0 ok, 1 usage, 2 invalid or too large document, 3 access denied, bad token or TLS refused (the\n"
      "server's certificate, no protocol in common), 5 no such document,\n"
      "6 conflict (revision, lease, lost watch history), 7 store or server failure or unreachable.");
  auto store_sub = [&](const char* name, const char* about) {
    CLI::App* c = store_cmd->add_subcommand(name, about);
    add_target_options(c, st_args.target);
    return c;
  };
  CLI::App* st_put = store_sub("put", "Write a document (from FILE or standard input); prints its new revision");
  st_put->add_option("NAME", st_args.name, "Document name")->required();
  st_put->add_option("FILE", st_args.file, "XML file, or - for standard input")->capture_default_str();
  st_put->add_option("--lease", st_args.lease, "The document expires this many seconds after the write");
  st_put->add_option("--if-revision", st_args.if_revision, "Write only if the document is at this revision (0: only if new)");
  CLI::App* st_get = store_sub("get", "Print a document");
  st_get->add_option("NAME", st_args.name, "Document name")->required();
  CLI::App* st_take = store_sub("take", "Print a document and remove it, atomically");
  st_take->add_option("NAME", st_args.name, "Document name")->required();
  CLI::App* st_rm = store_sub("rm", "Remove a document");
  st_rm->add_option("NAME", st_args.name, "Document name")->required();
  st_rm->add_option("--if-revision", st_args.if_revision, "Remove only if the document is at this revision");
  CLI::App* st_ls = store_sub("ls", "List readable documents: name, revision, size, creator, modified, lease");
  st_ls->add_option("PREFIX", st_args.prefix, "Name prefix (whole segments); all documents when absent");
  st_ls->add_option("--limit", st_args.limit,
                    "One page of at most this many documents; when more follow, standard error says how to get "
                    "the next page (\"next page: --cursor CURSOR\")")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{10000}));
  st_ls->add_option("--cursor", st_args.cursor,
                    "The page after a previous one (its \"next page\" line); every page shows the store at the first "
                    "page's revision, or fails with revision_gone (exit 6): list again")
      ->needs("--limit");
  CLI::App* st_query = store_sub("query", "Evaluate an XPath on the readable documents under PREFIX; prints NAME: VALUE lines");
  st_query->add_option("PREFIX", st_args.prefix, "Name prefix (\"\" for all)")->required();
  st_query->add_option("XPATH", st_args.xpath, "XPath 1.0 expression")->required();
  st_query->add_option("--limit", st_args.limit,
                       "One page of at most this many matching documents; when documents are left, standard error "
                       "says how to get the next page (\"next page: --cursor CURSOR\")")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{10000}));
  st_query->add_option("--cursor", st_args.cursor,
                       "The page after a previous one (its \"next page\" line), at the first page's revision or "
                       "failing with revision_gone (exit 6)")
      ->needs("--limit");
  CLI::App* st_watch = store_sub("watch", "Print changes under PREFIX as they happen, one \"REVISION KIND NAME\" line each");
  st_watch->add_option("PREFIX", st_args.prefix, "Name prefix (\"\" for all)")->required();
  st_watch->add_option("--after", st_args.after, "Changes after this revision (default: the store's current revision)");
  st_watch->add_option("--count", st_args.count, "Stop after this many changes");
  st_watch->add_option("--timeout", st_args.timeout, "Stop after this many seconds (exit 0)");
  CLI::App* st_info = store_sub("info", "Print a document's metadata");
  st_info->add_option("NAME", st_args.name, "Document name")->required();
  CLI::App* st_cred = store_sub("credential", "Issue a credential (prints its token, shown only once)");
  st_cred->add_option("NAME", st_args.name, "Document or subtree the credential covers (all names when absent)");
  st_cred->add_option("--rights", st_args.rights, "Rights granted: read,write,delete,copy or all")->capture_default_str();
  st_cred->add_option("--ttl", st_args.ttl, "Expires after this many seconds");
  st_cred->add_flag("--no-subtree", st_args.no_subtree, "Only the document NAME, not the names under it");
  st_cred->add_option("--label", st_args.label, "Free text shown in credential listings");
  st_cred->add_option("--methods", st_args.methods,
                      "Only these channel methods or message kinds, comma-separated (e.g. status,list,log,result); "
                      "the hub and the receiving node refuse the others");
  CLI::App* st_index = store_sub(
      "index",
      "Indexes that let queries of the form EXPRESSION[. = 'VALUE'] read only the documents holding the value: "
      "\"index add ID PREFIX EXPRESSION\", \"index ls\" (one line each: ID PREFIX EXPRESSION CREATOR), \"index rm ID\"");
  st_index->add_option("ACTION", st_args.action, "add, ls or rm")->required()->check(CLI::IsMember({"add", "ls", "rm"}));
  st_index->add_option("ID", st_args.name, "The index's id: 1 to 64 of A-Z a-z 0-9 . _ -");
  st_index->add_option("PREFIX", st_args.prefix, "add: the documents it covers (\"\" for all)");
  st_index->add_option("EXPRESSION", st_args.expression, "add: an XPath selecting the nodes whose string values it keeps");
  store_sub("credentials", "List your credentials, one line each: ID, grant, methods, issued, expiry, parent, label (never a token)");
  CLI::App* st_copy = store_cmd->add_subcommand(
      "copy", "Copy a whole store into a new one on another engine (documents, rights, leases, credentials, change "
              "log, revision), e.g. an LMDB directory into PostgreSQL");
  st_copy->add_option("--from", st_args.from, "The store copied: a directory or postgresql://…")->required()->type_name("DIR|URI");
  st_copy->add_option("--to", st_args.to, "The new store: a directory or postgresql://… (empty)")->required()->type_name("DIR|URI");
  CLI::App* st_revoke = store_sub("revoke", "Revoke one of your credentials and every credential issued through it");
  st_revoke->add_option("ID", st_args.name, "The credential's id (xgate store credentials lists them)")->required();

  chat_args chat_a;
  CLI::App* chat = app.add_subcommand("chat", "Talk through a channel hub: \"TO: TEXT\" lines in, \"FROM: TEXT\" lines out");
  chat->add_option("--hub", chat_a.hub, "The hub: tcp://HOST:PORT, tls://HOST:PORT, or http://HOST:PORT for HTTP long-poll; hubs sharing one store as URL,URL,...")
      ->required();
  chat->add_option("--ca", chat_a.ca, "For tls://: the CA the hub's certificate must chain to (default: $XGATE_CA, else the system's)")
      ->type_name("FILE");
  chat->add_option("--as", chat_a.name, "Endpoint name to log in as")->required();
  chat->add_option("--secret-file", chat_a.secret_file, "File holding the credential token on its first line")->required();
  chat->add_option("--http-proxy", chat_a.http_proxy,
                   "HTTP forward proxy for an http:// hub (default: the http_proxy environment variable; - for none)");
  chat->add_option("--wait", chat_a.wait, "Seconds to wait for the login, and at the end for acknowledgements")
      ->capture_default_str();

  xgate::relay_cli::agent_flags agent_a;
  CLI::App* agent_cmd = app.add_subcommand("agent", "Relay routes between an upstream hub and a downstream hub (runs until SIGTERM)");
  agent_cmd->add_option("--name", agent_a.name, "The agent's endpoint name on both hubs")->required();
  agent_cmd->add_option("--upstream", agent_a.upstream, "The upstream hub: tcp://HOST:PORT, tls://HOST:PORT or http(s)://HOST:PORT (a TLS hub's CA from $XGATE_CA)")
      ->required();
  agent_cmd->add_option("--secret-file", agent_a.secret_file, "File holding the upstream credential token")->required();
  agent_cmd->add_option("--downstream", agent_a.downstream,
                        "ADDRESS:PORT: run the downstream hub there (port 0 picks one; needs --data); or a hub URL to join")
      ->required();
  agent_cmd->add_option("--data", agent_a.data, "The store directory of the downstream hub it runs");
  agent_cmd->add_option("--downstream-secret-file", agent_a.downstream_secret_file,
                        "File holding the credential for a downstream hub it joins");
  agent_cmd->add_option("--tls-cert", agent_a.tls_cert, "The downstream hub it runs speaks TLS (tls://) with this certificate (PEM)")
      ->type_name("FILE");
  agent_cmd->add_option("--tls-key", agent_a.tls_key, "The private key of --tls-cert (PEM, mode 0600)")->type_name("FILE");
  agent_cmd->add_option("--hop-timeout", agent_a.hop_timeout, "Seconds a route neighbour may be unreachable before the route breaks")
      ->capture_default_str();
  xgate::add_log_flags(*agent_cmd, agent_a.logging);

  hops_args hops_a;
  CLI::App* hops_cmd = app.add_subcommand("hops", "List the next hops: who is online on the hub, or behind the agents of --via");
  hops_cmd->add_option("--hub", hops_a.hub, "The hub: tcp://HOST:PORT, or http://HOST:PORT for HTTP long-poll")->required();
  hops_cmd->add_option("--as", hops_a.name, "Endpoint name to log in as")->required();
  hops_cmd->add_option("--secret-file", hops_a.secret_file, "File holding the credential token on its first line")->required();
  hops_cmd->add_option("--via", hops_a.via, "Agents to ask, comma-separated, nearest first (A,B: ask A to ask B)");
  hops_cmd->add_option("--wait", hops_a.wait, "Seconds to wait for the login and the answer")->capture_default_str();

  certs_args certs_a;
  CLI::App* certs_cmd = app.add_subcommand("certs", "A certificate authority for a cluster's TLS: init, issue, show");
  certs_cmd->require_subcommand(1);
  CLI::App* certs_init = certs_cmd->add_subcommand("init", "Create the CA: DIR/ca.crt and DIR/ca.key (key mode 0600)");
  certs_init->add_option("--dir", certs_a.dir, "Directory of the CA and its certificates (created 0700)")->capture_default_str();
  certs_init->add_option("--name", certs_a.name, "The CA's common name (default \"xgate CA\")");
  certs_init->add_option("--days", certs_a.days, "Validity in days (default 3650)")->check(CLI::Range(1, 36500));
  CLI::App* certs_issue = certs_cmd->add_subcommand(
      "issue", "Issue DIR/NAME.crt and DIR/NAME.key signed by the CA in DIR; never overwrites");
  certs_issue->add_option("name", certs_a.name, "The certificate's common name (a node, or with --client the principal)")
      ->required();
  certs_issue->add_option("--dir", certs_a.dir, "Directory of the CA")->capture_default_str();
  certs_issue->add_option("--host", certs_a.hosts,
                          "A host name or IP address the node serves (repeatable; a node certificate needs one)");
  certs_issue->add_flag("--client", certs_a.client, "A client certificate: its common name is the principal");
  certs_issue->add_option("--days", certs_a.days, "Validity in days (default 365)")->check(CLI::Range(1, 36500));
  CLI::App* certs_show = certs_cmd->add_subcommand("show", "Print a certificate's subject, issuer, use, hosts and validity");
  certs_show->add_option("file", certs_a.file, "A PEM certificate file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();  // the help of the subcommand given, if any
    return exit_ok;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return exit_ok;
  } catch (const CLI::CallForVersion& e) {
    std::cout << e.what() << "\n";
    return exit_ok;
  } catch (const CLI::ParseError& e) {
    // CLI11 reports "xgate frobnicate" as a missing subcommand; name the word instead.
    if (store_cmd->parsed() && store_cmd->get_subcommands().empty() && argc > 2 && argv[2][0] != '-')
      return fail(exit_usage, "unknown store subcommand \"" + std::string(argv[2]) + "\" (see xgate store --help)");
    if (certs_cmd->parsed() && certs_cmd->get_subcommands().empty())
      return fail(exit_usage, argc > 2 && argv[2][0] != '-'
                                  ? "unknown certs subcommand \"" + std::string(argv[2]) + "\" (see xgate certs --help)"
                                  : std::string("xgate certs needs a subcommand: init, issue or show (see xgate certs --help)"));
    if (argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty())
      return fail(exit_usage, "unknown subcommand \"" + std::string(argv[1]) + "\" (see xgate --help)");
    return fail(exit_usage, std::string(e.what()) + " (see xgate --help)");
  }

  try {
    if (app.got_subcommand("types")) return run_types();
    if (app.got_subcommand(schema)) return run_schema(schema_type);
    if (app.got_subcommand(keygen)) return run_keygen(kg);
    if (app.got_subcommand(sample)) return run_sample(sa);
    if (app.got_subcommand(check)) return run_check(ca);
    if (app.got_subcommand(chat)) return run_chat(chat_a);
    if (app.got_subcommand(agent_cmd)) return run_agent(agent_a);
    if (app.got_subcommand(hops_cmd)) return run_hops(hops_a);
    if (app.got_subcommand(certs_cmd))
      for (CLI::App* sub : certs_cmd->get_subcommands()) return run_certs(sub->get_name(), certs_a);
    if (app.got_subcommand(store_cmd))
      for (CLI::App* sub : store_cmd->get_subcommands()) return run_store(sub->get_name(), st_args);
    return fail(exit_usage, "no subcommand (see xgate --help)");
  } catch (const usage_error& e) {
    return fail(exit_usage, e.what());
  } catch (const command_failure& e) {
    return fail(e.code, e.message);
  } catch (const xgate::signature_error& e) {
    return fail(exit_signature, e.what());
  } catch (const xgate::access_denied& e) {
    return fail(exit_denied, e.what());
  } catch (const xgate::error& e) {
    return fail(exit_invalid, e.what());
  } catch (const std::exception& e) {
    return fail(exit_invalid, e.what());
  }
}
