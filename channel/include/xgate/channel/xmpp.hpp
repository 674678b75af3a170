// The XMPP transport: endpoints use an existing XMPP (Jabber) server as their channel, each
// endpoint an IM buddy. Built on libstrophe.
//
//   xgate chat --hub "xmpp://node-a@im.example.org?ca=/etc/ssl/im-ca.pem" --as node-a --secret-file a.password
//   ch::endpoint a({.hub = "xmpp://node-a@im.example.org:5222", .name = "node-a", .secret_file = "a.password"});
//
// DESIGN. With xgated there is a hub that authenticates, stores and forwards; the endpoint's
// link (detail/link.hpp) runs endpoint<->hub. Through an XMPP server there is no xgate hub: the IM
// server authenticates users (SASL SCRAM over TLS), routes stanzas and archives them, but
// it acknowledges nothing end to end and loses what it holds in memory when it restarts.
// So here reliability runs END TO END, endpoint to endpoint:
//   - Each pair of endpoints has its own link streams (link_sender / link_receiver per
//     peer, the same go-back-N state machines as the hub link). A message travels as one or
//     more <message> stanzas to the receiver's bare JID; the receiver acknowledges link seqs
//     with small headline stanzas; what is not acknowledged within `retransmit` (or when the
//     session was replaced) is sent again; link seqs drop duplicates, and the endpoint's
//     inbox drops what a renumbered resend repeats. A receiver's (stream, seq) in its acks is
//     authoritative: a sender seeing another stream, or a lower seq, renumbers its
//     unacknowledged messages to follow on from there (link_sender::resume), which is how
//     either side may lose state (a restart) without losing messages still buffered.
//   - The endpoint class is unchanged: this transport's connection is a small in-process
//     "hub" for it. It answers hello/auth with welcome (the XMPP login with the password IS
//     the authentication), takes the endpoint's messages on the endpoint link, and
//     acknowledges one there only once its RECEIVER has acknowledged it. So
//     endpoint::flush() means "every receiver has it" (stronger than the hub's "in the
//     hub's store"), the endpoint's own buffer bounds what is in flight, and a message for
//     an endpoint that stays offline stays unacknowledged (the XMPP server's offline
//     storage usually delivers it at the next login; our resends do in any case).
//   - So `--hub xmpp://USER@HOST[:PORT]` with the account's password as the secret works
//     wherever an endpoint takes a hub URL (the endpoint hands its secret to
//     make_xmpp_transport). The endpoint's name must be the account's user (XEP-0106
//     escaped: "node/a" is the account "node\2fa"); it may not hold upper-case letters,
//     because JID localparts are case-insensitive. Peers are accounts on the same domain.
//
// WIRE. A message (or one chunk of it) is
//   <message to="node-b@HOST" type="normal" id="MSGID#PART">
//     <x xmlns="urn:xgate:channel:1" link="STREAM" lseq="N" id="node-a/3f9c.../17" from="node-a"
//        to="node-b" seq="17" kind="chat" re="CORRELATION" time="NS" part="0" parts="1" enc="text">BODY</x>
//     <store xmlns="urn:xmpp:hints"/>
//   </message>
// The body is the xgate document as escaped XML text (enc="text"), so the server's archive
// holds readable messages; a body that XML text cannot carry verbatim (control characters,
// CR, invalid UTF-8) goes as base64 (enc="base64"). Bodies larger than chunk_bytes are
// split into parts of at most chunk_bytes (at UTF-8 boundaries) and reassembled by the
// receiver: Prosody refuses stanzas over 256 KiB by default (c2s_stanza_size_limit), and
// escaping can grow text up to ~5x. The envelope's from must be the stanza's authenticated
// sender (the server stamps from): a spoofed one is dropped. Acks are
//   <message type="headline"><x xmlns="urn:xgate:channel:1" ack="N" acklink="STREAM"/><no-store .../></message>
// (headlines are neither archived nor stored offline). Type-check refusals go back as headline
// <x error="CODE" about="MSGID">reason</x>.
//
// PRESENCE is XMPP presence: on first contact with a peer (a message either way, or
// options.buddies at login) the endpoint asks for a subscription, and it approves (and
// returns) every subscription request from its own domain, so endpoints become mutual
// buddies and see each other come and go. Only the resource "xgate" counts as the endpoint
// (a person logged in with an IM client as node-b does not make node-b online); a second
// login with the same name replaces the first (XMPP "conflict"), which then stops with a
// refused state instead of fighting back.
//
// STREAM MANAGEMENT (XEP-0198) is used when the server offers it (libstrophe enables it;
// Prosody 0.12 has mod_smacks); it only makes the hop to the server cheaper to recover.
// The end-to-end acks above do not rely on it.
//
// ARCHIVE (XEP-0313). Data stanzas carry a <store/> hint, so a server with message archiving
// (Prosody: mod_mam, default_archive_policy = true) keeps every message in both accounts'
// archives — resends too, so read it de-duplicated by message id. Who can read it:
//   - the account holder, over XMPP: read_xmpp_archive() below (a XEP-0313 query,
//     reassembling chunks, one envelope per message id);
//   - the server's administrator, without the users' passwords: Prosody keeps each user's
//     archive in its storage. With storage = "internal" that is
//     DATA_PATH/HOST/archive/USER.list (USER with '-' as %2d etc.), one Lua record per
//     stanza, the xgate attributes and body readable; with storage = "sql" the
//     prosodyarchive table (store = 'archive'). tests/channel/xmpp_test.cpp does both.
//
// TLS. SASL runs over TLS, mandatory: the server's certificate is checked against the
// system's trust store, or ?ca=FILE (a PEM file, e.g. a self-signed certificate) in the URL.
// ?tls=off allows plaintext, and only to a loopback address (127.0.0.1, ::1, localhost).
//
// URL: xmpp://USER@DOMAIN[:PORT][?ca=FILE][&tls=off][&addr=HOST][&buddies=NAME,NAME]
//   DOMAIN is the XMPP domain (Prosody's VirtualHost); the client connects to DOMAIN:PORT
//   (default 5222), or to addr when the server's address is another ("localhost" connects
//   to 127.0.0.1).
//
// Threading: libstrophe is not thread-safe, so it runs only on the endpoint's I/O thread,
// inside connect(), send() and receive() (xmpp_run_once in slices of at most 10 ms, so that
// wake() from another thread is seen promptly). One endpoint per transport object.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <xgate/channel/envelope.hpp>
#include <xgate/channel/transport.hpp>

namespace xgate::channel {

struct xmpp_options {
  std::string password;                          // the account's password (the endpoint's secret)
  std::string ca_file;                           // PEM trust anchors; "" = the URL's ?ca=, else the system's
  std::size_t chunk_bytes = 32 * 1024;           // body bytes per stanza (see WIRE)
  std::size_t window = 512;                      // messages in flight to one peer
  std::chrono::milliseconds retransmit{3000};    // resend to a peer that acknowledged nothing for this long
                                                 // (counted once our send queue is empty)
  std::chrono::milliseconds retransmit_max{15000};  // (doubling while it stays silent)
  std::vector<std::string> buddies;              // endpoints to subscribe to at login (also ?buddies=)
};

// The XMPP transport for url (see above). Throws channel_error(protocol) for a malformed URL,
// (bad_auth) for an empty password or a plaintext request to a non-loopback address.
[[nodiscard]] std::unique_ptr<transport> make_xmpp_transport(std::string_view url, xmpp_options options,
                                               const transport_options& settings = {});

// XEP-0106 escaping of an endpoint name as a JID localpart ("node/a" <-> "node\2fa").
std::string xmpp_localpart(std::string_view endpoint);
std::string xmpp_endpoint_name(std::string_view localpart);

// The account's own message archive (XEP-0313), as the account holder sees it: every xgate
// message sent or received by the account, chunks reassembled, one per message id, in
// archive order. with: only messages exchanged with this endpoint ("" = all). Throws
// channel_error(bad_auth) when the login is refused, (protocol) when the server has no
// archive or answers with an error, std::system_error when it cannot be reached.
[[nodiscard]] std::vector<envelope> read_xmpp_archive(std::string_view url, const xmpp_options& options, std::string_view with = {},
                                        std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace xgate::channel
