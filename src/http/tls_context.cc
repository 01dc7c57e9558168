#include "http/tls_context.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <filesystem>

namespace ferry::http::internal {
namespace {

namespace ssl = boost::asio::ssl;

Status FileError(const char* what, const std::string& path, const boost::system::error_code& ec) {
  return InvalidArgument("cannot load the TLS {} \"{}\": {}", what, path, ec.message());
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeServerTlsContext(const TlsOptions& options) {
  if (options.cert_file.empty() || options.key_file.empty()) {
    return InvalidArgument("TLS needs both a certificate file and a key file");
  }
  for (const std::string* path : {&options.cert_file, &options.key_file, &options.client_ca_file}) {
    std::error_code fec;
    if (!path->empty() && !std::filesystem::is_regular_file(*path, fec)) {
      return InvalidArgument("TLS file \"{}\" does not exist or is not a regular file", *path);
    }
  }
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression | ssl::context::single_dh_use,
                       ec);
  if (ec) return Internal("cannot configure TLS: {}", ec.message());
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);  // the one place the oldest protocol is set
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (context->use_certificate_chain_file(options.cert_file, ec); ec) {
    return FileError("certificate", options.cert_file, ec);
  }
  // OpenSSL refuses a key that does not belong to the certificate while loading it ("key values mismatch").
  if (context->use_private_key_file(options.key_file, ssl::context::pem, ec);
      ec || SSL_CTX_check_private_key(native) != 1) {
    if (ec && ERR_GET_REASON(ec.value()) != X509_R_KEY_VALUES_MISMATCH) {
      return FileError("private key", options.key_file, ec);
    }
    return InvalidArgument("the TLS private key \"{}\" does not match the certificate \"{}\"", options.key_file,
                           options.cert_file);
  }
  if (!options.client_ca_file.empty()) {
    if (context->load_verify_file(options.client_ca_file, ec); ec) {
      return FileError("client CA file", options.client_ca_file, ec);
    }
    // The CA names go into the CertificateRequest, so clients with several certificates pick the right one.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(native, names);
    }
    ssl::verify_mode mode = ssl::verify_peer;
    if (options.require_client_cert) mode |= ssl::verify_fail_if_no_peer_cert;
    if (context->set_verify_mode(mode, ec); ec) return Internal("cannot configure TLS: {}", ec.message());
  } else {
    context->set_verify_mode(ssl::verify_none, ec);
  }
  return context;
}

std::string PeerSubject(SSL* ssl) {
  X509* cert = SSL_get_peer_certificate(ssl);
  if (cert == nullptr) return "";
  std::string subject;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
      char* data = nullptr;
      const long size = BIO_get_mem_data(bio, &data);
      if (size > 0 && data != nullptr) subject.assign(data, static_cast<size_t>(std::min<long>(size, 512)));
    }
    BIO_free(bio);
  }
  X509_free(cert);
  return subject;
}

}  // namespace ferry::http::internal
