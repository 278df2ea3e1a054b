// Self-signed certificates made in memory at test time, so TLS tests use real TLS.
#pragma once

#include <memory>
#include <random>
#include <stdexcept>
#include <string>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace wsload::detail {

inline void openssl_check(bool ok, const char* step) {
  if (!ok) {
    char reason[256] = "unknown";
    ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
    throw std::runtime_error(std::string("wsload::testing: ") + step + " failed: " + reason);
  }
}

inline std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace wsload::detail

namespace wsload::testing {

/// A certificate and its private key, both PEM. The certificate is its own CA: a client
/// that trusts `cert_pem` verifies the server that presents it.
struct Certificate {
  std::string cert_pem;
  std::string key_pem;
};

/// Makes a P-256 key and a self-signed certificate valid from an hour ago for a day, for
/// the subject alternative names `san` (OpenSSL syntax). The default covers every way a
/// test reaches the embedded server: localhost, 127.0.0.1 and ::1.
/// Throws std::runtime_error when OpenSSL fails.
inline Certificate make_self_signed_certificate(
    const std::string& san = "DNS:localhost,IP:127.0.0.1,IP:::1") {
  using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
  using KeyContext = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;
  using Cert = std::unique_ptr<X509, decltype(&X509_free)>;
  using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

  KeyContext kctx(EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr), &EVP_PKEY_CTX_free);
  wsload::detail::openssl_check(kctx && EVP_PKEY_keygen_init(kctx.get()) == 1,
                                "key generation setup");
  wsload::detail::openssl_check(
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kctx.get(), NID_X9_62_prime256v1) == 1,
      "curve selection");
  EVP_PKEY* raw_key = nullptr;
  wsload::detail::openssl_check(EVP_PKEY_keygen(kctx.get(), &raw_key) == 1, "key generation");
  Key key(raw_key, &EVP_PKEY_free);

  Cert cert(X509_new(), &X509_free);
  wsload::detail::openssl_check(cert != nullptr, "certificate allocation");
  X509_set_version(cert.get(), 2);
  std::random_device rd;
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(rd() & 0x7fffffff));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("wsload test server"), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);

  X509V3_CTX ext_ctx;
  X509V3_set_ctx_nodb(&ext_ctx);
  X509V3_set_ctx(&ext_ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::pair<int, std::string> extensions[] = {
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_key_usage, "critical,digitalSignature,keyCertSign"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_alt_name, san}};
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ext_ctx, nid, value.c_str());
    wsload::detail::openssl_check(ext != nullptr, "certificate extension");
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  wsload::detail::openssl_check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0,
                                "certificate signing");

  Bio cert_bio(BIO_new(BIO_s_mem()), &BIO_free);
  Bio key_bio(BIO_new(BIO_s_mem()), &BIO_free);
  wsload::detail::openssl_check(PEM_write_bio_X509(cert_bio.get(), cert.get()) == 1,
                                "certificate PEM");
  wsload::detail::openssl_check(PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr,
                                                         0, nullptr, nullptr) == 1,
                                "key PEM");
  return {wsload::detail::bio_text(cert_bio.get()), wsload::detail::bio_text(key_bio.get())};
}

}  // namespace wsload::testing
