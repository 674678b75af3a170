// The certificate authority of certs.hpp on OpenSSL 3's EVP and X509 functions. Every
// OpenSSL object lives in a unique_ptr with its free function, so a failure half way through
// frees what was made; files are written whole (to a temporary name, then linked into place
// without replacing anything).
#include <xgate/tls/certs.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <xgate/base/text.hpp>

namespace xgate::tls {

namespace {

namespace fs = std::filesystem;

template <class T, void (*Free)(T*)>
struct deleter {
  void operator()(T* p) const noexcept { Free(p); }
};
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;
using key_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BIGNUM, BN_free>>;
using names_ptr = std::unique_ptr<GENERAL_NAMES, deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using eku_ptr = std::unique_ptr<EXTENDED_KEY_USAGE, deleter<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>>;
using constraints_ptr = std::unique_ptr<BASIC_CONSTRAINTS, deleter<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>>;

// OpenSSL's reasons for the failure just now, emptying its error queue.
std::string openssl_reasons() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no reason given" : out;
}

// Throws tls_error(openssl) unless ok.
void check(bool ok, const std::string& operation, const std::string& what, const char* step) {
  if (!ok) throw tls_error(tls_errc::openssl, operation, what, std::string(step) + ": " + openssl_reasons());
}

void check_days(int days, const std::string& operation, const std::string& what) {
  if (days < 1 || days > 36500)
    throw tls_error(tls_errc::bad_request, operation, what, "a validity of " + std::to_string(days) + " days (give 1 to 36500)");
}

bool is_valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name == "ca" || name.front() == '.' || name.front() == '-') return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

bool is_ip_address(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// RFC 1123 host names: labels of letters, digits and '-', not starting or ending with '-'.
bool is_dns_name(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      if (label == 0 || label > 63 || host[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    char c = host[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || (c == '-' && label > 0))) return false;
    ++label;
  }
  return true;
}

key_ptr new_key(const std::string& operation, const std::string& what) {
  key_ptr key(EVP_EC_gen("P-256"));
  check(key != nullptr, operation, what, "generating a P-256 key");
  return key;
}

std::string pem_of(const std::string& operation, const std::string& what, X509* cert, EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  check(bio != nullptr, operation, what, "BIO_new");
  if (cert) check(PEM_write_bio_X509(bio.get(), cert) == 1, operation, what, "writing the certificate");
  if (key)
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1, operation, what,
          "writing the key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// A file that did not exist, holding bytes, with mode; never replaces one (link(2) fails
// with EEXIST), and never leaves a partial file under the final name.
void write_new_file(const fs::path& file, const std::string& bytes, mode_t mode, const std::string& operation,
                    const std::string& what) {
  fs::path temporary = file;
  temporary += ".tmp-" + std::to_string(::getpid());
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw tls_error(tls_errc::no_file, operation, what, "cannot create " + temporary.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      throw tls_error(tls_errc::no_file, operation, what, "cannot write " + temporary.string() + ": " + std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  bool synced = ::fsync(fd) == 0 && ::fchmod(fd, mode) == 0;
  ::close(fd);
  int linked = synced ? ::link(temporary.c_str(), file.c_str()) : -1;
  int e = errno;
  ::unlink(temporary.c_str());
  if (linked != 0) {
    if (e == EEXIST) throw tls_error(tls_errc::exists, operation, what, file.string() + " exists (nothing is overwritten)");
    throw tls_error(tls_errc::no_file, operation, what, "cannot write " + file.string() + ": " + std::strerror(e));
  }
}

void refuse_existing(const std::initializer_list<fs::path>& files, const std::string& operation, const std::string& what) {
  for (const fs::path& f : files) {
    std::error_code ec;
    if (fs::exists(f, ec))
      throw tls_error(tls_errc::exists, operation, what, f.string() + " exists (nothing is overwritten)");
  }
}

std::string read_whole(const fs::path& file, const std::string& operation, const std::string& what) {
  bio_ptr bio(BIO_new_file(file.c_str(), "rb"));
  if (!bio) {
    ERR_clear_error();
    throw tls_error(tls_errc::no_file, operation, what, "cannot read " + file.string() + ": " + std::strerror(errno));
  }
  std::string out;
  char buf[4096];
  int n;
  while ((n = BIO_read(bio.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

x509_ptr parse_certificate(const std::string& pem, const fs::path& file, const std::string& operation, const std::string& what) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  check(bio != nullptr, operation, what, "BIO_new_mem_buf");
  x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    throw tls_error(tls_errc::bad_file, operation, what, file.string() + " holds no PEM certificate");
  }
  return cert;
}

key_ptr parse_key(const std::string& pem, const fs::path& file, const std::string& operation, const std::string& what) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  check(bio != nullptr, operation, what, "BIO_new_mem_buf");
  key_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    throw tls_error(tls_errc::bad_file, operation, what, file.string() + " holds no PEM private key (or one with a passphrase)");
  }
  return key;
}

// One extension from its OpenSSL configuration text, e.g. "critical,CA:TRUE".
void add_extension(X509* cert, X509* issuer, int nid, const char* value, const std::string& operation, const std::string& what) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, operation, what, OBJ_nid2sn(nid));
  int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  check(added == 1, operation, what, OBJ_nid2sn(nid));
}

// A certificate for key with subject CN=common_name,O=xgate, valid from an hour ago (clocks
// differ between machines) for days; issuer null: self-signed.
x509_ptr new_certificate(const std::string& common_name, EVP_PKEY* key, int days, X509* issuer, const std::string& operation,
                         const std::string& what) {
  x509_ptr cert(X509_new());
  check(cert != nullptr, operation, what, "X509_new");
  check(X509_set_version(cert.get(), X509_VERSION_3) == 1, operation, what, "X509_set_version");
  bn_ptr serial(BN_new());
  check(serial && BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
            BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) != nullptr,
        operation, what, "a random serial number");
  check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&
            X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr) != nullptr,
        operation, what, "the validity");
  X509_NAME* subject = X509_get_subject_name(cert.get());
  auto add = [&](const char* field, const std::string& value) {
    check(X509_NAME_add_entry_by_txt(subject, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()), -1,
                                     -1, 0) == 1,
          operation, what, "the subject");
  };
  add("O", "xgate");
  add("CN", common_name);
  check(X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : subject) == 1, operation, what,
        "the issuer");
  check(X509_set_pubkey(cert.get(), key) == 1, operation, what, "the public key");
  return cert;
}

std::chrono::system_clock::time_point time_of(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string name_text(const X509_NAME* name) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "";
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace

void create_ca(const fs::path& dir, const ca_options& options) {
  const std::string operation = "create CA", what = dir.string();
  check_days(options.days, operation, what);
  if (options.name.empty() || options.name.size() > 64)
    throw tls_error(tls_errc::bad_request, operation, what, "a CA name of 1 to 64 characters");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw tls_error(tls_errc::no_file, operation, what, "cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);  // holds keys
  fs::path crt = dir / "ca.crt", key_file = dir / "ca.key";
  refuse_existing({crt, key_file}, operation, what);
  key_ptr key = new_key(operation, what);
  x509_ptr cert = new_certificate(options.name, key.get(), options.days, nullptr, operation, what);
  add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0", operation, what);
  add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign", operation, what);
  add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash", operation, what);
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, operation, what, "signing");
  // The key first: a CA certificate without its key would make the directory look done.
  write_new_file(key_file, pem_of(operation, what, nullptr, key.get()), 0600, operation, what);
  write_new_file(crt, pem_of(operation, what, cert.get(), nullptr), 0644, operation, what);
}

void issue(const fs::path& dir, const std::string& name, const issue_options& options) {
  const std::string operation = "issue", what = name;
  if (!is_valid_name(name))
    throw tls_error(tls_errc::bad_request, operation, printable(name),
                    "not a certificate name (1 to 64 letters, digits, '.', '_' or '-'; not \"ca\")");
  check_days(options.days, operation, what);
  if (!options.client && options.hosts.empty())
    throw tls_error(tls_errc::bad_request, operation, what, "a node certificate needs --host (a name or address it serves)");
  std::string sans;
  for (const std::string& h : options.hosts) {
    if (!sans.empty()) sans += ",";
    if (is_ip_address(h)) {
      sans += "IP:" + h;
    } else if (is_dns_name(h)) {
      sans += "DNS:" + h;
    } else {
      throw tls_error(tls_errc::bad_request, operation, what, "\"" + printable(h) + "\" is neither a host name nor an IP address");
    }
  }
  fs::path ca_crt = dir / "ca.crt", ca_key_file = dir / "ca.key";
  std::error_code ec;
  if (!fs::exists(ca_crt, ec) || !fs::exists(ca_key_file, ec))
    throw tls_error(tls_errc::no_file, operation, what, "no CA in " + dir.string() + " (ca.crt, ca.key): run xgate certs init first");
  x509_ptr ca = parse_certificate(read_whole(ca_crt, operation, what), ca_crt, operation, what);
  key_ptr ca_key = parse_key(read_whole(ca_key_file, operation, what), ca_key_file, operation, what);
  if (X509_check_private_key(ca.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    throw tls_error(tls_errc::bad_file, operation, what, ca_key_file.string() + " is not the key of " + ca_crt.string());
  }
  fs::path crt = dir / (name + ".crt"), key_file = dir / (name + ".key");
  refuse_existing({crt, key_file}, operation, what);
  key_ptr key = new_key(operation, what);
  x509_ptr cert = new_certificate(name, key.get(), options.days, ca.get(), operation, what);
  add_extension(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE", operation, what);
  add_extension(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyAgreement", operation, what);
  add_extension(cert.get(), ca.get(), NID_ext_key_usage, options.client ? "clientAuth" : "serverAuth,clientAuth", operation, what);
  add_extension(cert.get(), ca.get(), NID_subject_key_identifier, "hash", operation, what);
  add_extension(cert.get(), ca.get(), NID_authority_key_identifier, "keyid:always", operation, what);
  if (!sans.empty()) add_extension(cert.get(), ca.get(), NID_subject_alt_name, sans.c_str(), operation, what);
  check(X509_sign(cert.get(), ca_key.get(), EVP_sha256()) > 0, operation, what, "signing");
  write_new_file(key_file, pem_of(operation, what, nullptr, key.get()), 0600, operation, what);
  write_new_file(crt, pem_of(operation, what, cert.get(), nullptr), 0644, operation, what);
}

certificate_info read_certificate(const fs::path& file) {
  const std::string operation = "read certificate", what = file.string();
  x509_ptr cert = parse_certificate(read_whole(file, operation, what), file, operation, what);
  certificate_info info;
  info.subject = name_text(X509_get_subject_name(cert.get()));
  info.issuer = name_text(X509_get_issuer_name(cert.get()));
  char cn[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn) > 0) info.common_name = cn;
  names_ptr sans(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans.get(), i);
    if (g->type == GEN_DNS) {
      const ASN1_IA5STRING* s = g->d.dNSName;
      info.hosts.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (g->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = g->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      int family = ASN1_STRING_length(s) == 4 ? AF_INET : AF_INET6;
      if (inet_ntop(family, ASN1_STRING_get0_data(s), text, sizeof text)) info.hosts.emplace_back(text);
    }
  }
  info.not_before = time_of(X509_get0_notBefore(cert.get()));
  info.not_after = time_of(X509_get0_notAfter(cert.get()));
  constraints_ptr bc(static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(cert.get(), NID_basic_constraints, nullptr, nullptr)));
  info.is_ca = bc && bc->ca;
  eku_ptr eku(static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert.get(), NID_ext_key_usage, nullptr, nullptr)));
  for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), i));
    info.server = info.server || nid == NID_server_auth;
    info.client = info.client || nid == NID_client_auth;
  }
  bn_ptr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  if (serial) {
    char* hex = BN_bn2hex(serial.get());
    if (hex) info.serial = hex;
    OPENSSL_free(hex);
  }
  ERR_clear_error();
  return info;
}

}  // namespace xgate::tls
