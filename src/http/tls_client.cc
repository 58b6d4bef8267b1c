#include "http/tls_client.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "http/wait_for.h"

namespace dtx::internal {
namespace {

// OpenSSL writes with write(2), which raises SIGPIPE when the peer has gone. The
// calling thread may be the user's: SIGPIPE is blocked around the call, and one it
// raised is taken before the old mask comes back.
class NoSigpipe {
 public:
  NoSigpipe() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~NoSigpipe() {
    if (!was_pending_) {
      const timespec none{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &none) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

// The oldest error on this thread's OpenSSL queue, and the queue emptied.
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "connection ended";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

// After an SSL call that did not finish: waits as it asks, by `deadline`. False, with
// *error, for a failure or the deadline.
bool Await(ssl_st* ssl, int fd, int result, absl::Time deadline, std::string* error,
           bool* timed_out) {
  const int code = SSL_get_error(ssl, result);
  short events = 0;
  if (code == SSL_ERROR_WANT_READ) events = POLLIN;
  if (code == SSL_ERROR_WANT_WRITE) events = POLLOUT;
  if (events == 0) {
    *error = code == SSL_ERROR_SYSCALL && errno != 0
                 ? absl::StrCat("TLS: ", std::strerror(errno))
                 : absl::StrCat("TLS (SSL): ", OpenSslError());
    ERR_clear_error();
    return false;
  }
  if (!WaitFor(fd, events, deadline)) {
    *error = "TLS: timed out";
    *timed_out = true;
    return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<TlsClientContext*> TlsClientContext::Create(const std::string& ca_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return absl::InternalError("cannot make a TLS context");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  const bool loaded = ca_file.empty()
                          ? SSL_CTX_set_default_verify_paths(ctx) == 1
                          : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) == 1;
  if (!loaded) {
    const std::string why = OpenSslError();
    SSL_CTX_free(ctx);
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load the CA certificates ",
                     ca_file.empty() ? "of the system" : "in '" + ca_file + "'", ": ",
                     why));
  }
  return new TlsClientContext(ctx);
}

TlsClientContext::~TlsClientContext() { SSL_CTX_free(ctx_); }

absl::StatusOr<ssl_st*> TlsClientContext::Connect(int fd, const std::string& host,
                                                  absl::Time deadline) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    if (ssl != nullptr) SSL_free(ssl);
    return absl::UnavailableError("TLS: cannot start a session");
  }
  in6_addr any_address;
  const bool is_address = inet_pton(AF_INET, host.c_str(), &any_address) == 1 ||
                          inet_pton(AF_INET6, host.c_str(), &any_address) == 1;
  bool named;
  if (is_address) {
    named = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  } else {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    named = SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 &&
            SSL_set1_host(ssl, host.c_str()) == 1;
  }
  if (!named) {
    SSL_free(ssl);
    ERR_clear_error();
    return absl::UnavailableError("TLS: cannot name the peer " + host);
  }
  NoSigpipe quiet;
  while (true) {
    ERR_clear_error();  // SSL_get_error reads the queue: nothing older may be on it
    const int done = SSL_connect(ssl);
    if (done == 1) return ssl;
    std::string error;
    bool timed_out = false;
    const long verified = SSL_get_verify_result(ssl);
    if (!Await(ssl, fd, done, deadline, &error, &timed_out)) {
      if (verified != X509_V_OK) {
        error = absl::StrCat("TLS (SSL) handshake: certificate verify failed: ",
                             X509_verify_cert_error_string(verified));
      }
      SSL_free(ssl);
      return absl::UnavailableError(absl::StrCat(error, " (", host, ")"));
    }
  }
}

bool TlsWriteAll(ssl_st* ssl, int fd, std::string_view bytes, absl::Time deadline,
                 std::string* error, bool* timed_out) {
  NoSigpipe quiet;
  size_t sent = 0;
  while (sent < bytes.size()) {
    ERR_clear_error();
    const int n = SSL_write(ssl, bytes.data() + sent,
                            static_cast<int>(std::min<size_t>(bytes.size() - sent, 1 << 30)));
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (!Await(ssl, fd, n, deadline, error, timed_out)) {
      return false;
    }
  }
  return true;
}

ssize_t TlsRead(ssl_st* ssl, int fd, char* buf, size_t n, absl::Time deadline,
                std::string* error, bool* timed_out, bool* clean_end) {
  NoSigpipe quiet;  // a read may write too (a renegotiation, a key update)
  while (true) {
    ERR_clear_error();
    const int got = SSL_read(ssl, buf, static_cast<int>(std::min<size_t>(n, 1 << 30)));
    if (got > 0) return got;
    const int code = SSL_get_error(ssl, got);
    if (code == SSL_ERROR_ZERO_RETURN) {
      *clean_end = true;
      return 0;
    }
    if (code == SSL_ERROR_SSL &&
        ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
      ERR_clear_error();
      *clean_end = false;  // the peer closed without close_notify
      return 0;
    }
    if (!Await(ssl, fd, got, deadline, error, timed_out)) return -1;
  }
}

void TlsClose(ssl_st* ssl, bool healthy) {
  if (ssl == nullptr) return;
  if (healthy) {  // SSL_shutdown is not for a session that failed
    NoSigpipe quiet;
    ERR_clear_error();
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  ERR_clear_error();
}

}  // namespace dtx::internal
