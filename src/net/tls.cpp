#include "net/tls.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

#include "core/files.hpp"

namespace poshta::net {

namespace {

// Mozilla "intermediate" (TLS 1.2 part; TLS 1.3 suites are OpenSSL's defaults).
constexpr const char* kCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

template <typename T, void (*Free)(T*)>
struct Owned {
  T* p;
  explicit Owned(T* ptr) : p(ptr) {}
  ~Owned() {
    if (p) Free(p);
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
};

void write_pem(const std::filesystem::path& path, mode_t mode, bool (*write)(FILE*, void*), void* object) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("cannot create " + path.string());
  FILE* f = ::fdopen(fd, "w");
  if (!f) {
    ::close(fd);
    throw std::runtime_error("cannot create " + path.string());
  }
  const bool ok = write(f, object) && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  std::fclose(f);
  if (!ok) throw std::runtime_error("cannot write " + path.string() + ": " + openssl_error());
}

}  // namespace

void make_self_signed(const std::filesystem::path& certificate, const std::filesystem::path& key,
                      const std::string& hostname) {
  Owned<EVP_PKEY, EVP_PKEY_free> pkey(EVP_EC_gen("P-256"));
  if (!pkey.p) throw std::runtime_error("cannot generate a key: " + openssl_error());
  Owned<X509, X509_free> cert(X509_new());
  X509_set_version(cert.p, 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;  // positive
  Owned<BIGNUM, BN_free> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  BN_to_ASN1_INTEGER(bn.p, X509_get_serialNumber(cert.p));
  X509_gmtime_adj(X509_getm_notBefore(cert.p), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.p), 10L * 365 * 86400);
  X509_set_pubkey(cert.p, pkey.p);
  X509_NAME* name = X509_get_subject_name(cert.p);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.p, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.p, cert.p, nullptr, nullptr, 0);
  const std::string san = "DNS:" + hostname;
  for (const auto& [nid, value] : {std::pair<int, std::string>{NID_subject_alt_name, san},
                                   {NID_basic_constraints, "critical,CA:FALSE"},
                                   {NID_ext_key_usage, "serverAuth"}}) {
    Owned<X509_EXTENSION, X509_EXTENSION_free> ext(X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str()));
    if (!ext.p || !X509_add_ext(cert.p, ext.p, -1)) throw std::runtime_error("cannot build a certificate");
  }
  if (!X509_sign(cert.p, pkey.p, EVP_sha256())) throw std::runtime_error("cannot sign: " + openssl_error());

  if (auto ec = core::make_directories(key.parent_path())) {
    throw std::runtime_error("cannot create " + key.parent_path().string() + ": " + ec.message());
  }
  // Key first: a certificate without its key would be useless on the next start.
  write_pem(
      key, 0600,
      [](FILE* f, void* k) {
        return PEM_write_PrivateKey(f, static_cast<EVP_PKEY*>(k), nullptr, nullptr, 0, nullptr, nullptr) == 1;
      },
      pkey.p);
  write_pem(
      certificate, 0644, [](FILE* f, void* c) { return PEM_write_X509(f, static_cast<X509*>(c)) == 1; }, cert.p);
}

TlsContextPtr make_tls_context(const core::Config& config) {
  std::filesystem::path certificate = config.tls.certificate;
  std::filesystem::path key = config.tls.private_key;
  if (certificate.empty()) {
    certificate = config.data_dir / "tls" / "cert.pem";
    key = config.data_dir / "tls" / "key.pem";
    std::error_code ec;
    if (!std::filesystem::exists(certificate, ec) || !std::filesystem::exists(key, ec)) {
      make_self_signed(certificate, key, config.hostname);
    }
  }
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                   asio::ssl::context::single_dh_use);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(native, kCiphers);
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_dh_auto(native, 1);
  if (SSL_CTX_use_certificate_chain_file(native, certificate.c_str()) != 1) {
    throw std::runtime_error("cannot load the certificate " + certificate.string() + ": " + openssl_error());
  }
  if (SSL_CTX_use_PrivateKey_file(native, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error("cannot load the private key " + key.string() + ": " + openssl_error());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    throw std::runtime_error("the private key " + key.string() + " does not match " + certificate.string());
  }
  return ctx;
}

TlsContextPtr make_client_tls_context() {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  // Opportunistic TLS (RFC 7435): encrypt without authenticating the peer.
  ctx->set_verify_mode(asio::ssl::verify_none);
  return ctx;
}

}  // namespace poshta::net
