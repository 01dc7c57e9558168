// Internal to src/http: the OpenSSL server context of HTTPS, built from TlsOptions through Boost.Asio's
// ssl::context (the only place the module configures OpenSSL).
//
// What every context enforces: TLS 1.2 or newer, no TLS compression, no renegotiation (a client could make the
// server redo handshakes for free), the server's cipher order; the key must match the certificate. With a client
// CA file, peers are verified against it (and refused without a certificate when require_client_cert).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "ferry/status.h"
#include "http/http_server.h"

namespace ferry::http::internal {

// Builds a server context from PEM files. InvalidArgument names the file and OpenSSL's reason when one does not
// load. Thread-safe (reads files only).
Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(const TlsOptions& options);

// The subject of the peer's verified certificate on `ssl` ("CN=a,O=b"), or "" when it sent none.
std::string PeerSubject(SSL* ssl);

}  // namespace ferry::http::internal
