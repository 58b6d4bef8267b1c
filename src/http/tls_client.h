// TLS for dtx's blocking HTTP client (https branches, HttpSubmitter to an https dtxd):
// OpenSSL on the client's non-blocking socket, the handshake, each read and each write
// bounded by the caller's deadline, so that one deadline bounds a whole exchange however
// a peer trickles its bytes. Every call empties the thread's OpenSSL error queue
// first (SSL_get_error reads it), so that an error left there by other code cannot
// fail a call.
#ifndef DTX_HTTP_TLS_CLIENT_H_
#define DTX_HTTP_TLS_CLIENT_H_

#include <sys/types.h>

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX
struct ssl_st;      // OpenSSL's SSL

namespace dtx::internal {

// Server certificates are verified (TLS 1.2 or later) against the CAs in a PEM file, or
// the system's store; the name or address the client asked for must be in the
// certificate. Thread-safe once made.
class TlsClientContext {
 public:
  // `ca_file` empty: the system's store. kInvalidArgument when the file cannot be
  // loaded.
  static absl::StatusOr<TlsClientContext*> Create(const std::string& ca_file);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  // A TLS session over the connected non-blocking socket `fd` to `host` (a name: sent
  // as SNI and checked against the certificate; an address: checked against its IP
  // entries), handshaken by `deadline`. kUnavailable says why it failed ("TLS
  // handshake ...: certificate verify failed ..." for an untrusted peer).
  absl::StatusOr<ssl_st*> Connect(int fd, const std::string& host,
                                  absl::Time deadline) const;

 private:
  explicit TlsClientContext(ssl_ctx_st* ctx) : ctx_(ctx) {}
  ssl_ctx_st* const ctx_;
};

// Writes all of `bytes`, or false (with *error; *timed_out set when `deadline`
// passed) on a failure. Never raises SIGPIPE.
bool TlsWriteAll(ssl_st* ssl, int fd, std::string_view bytes, absl::Time deadline,
                 std::string* error, bool* timed_out);

// Bytes read (> 0); 0 at the end of the stream, *clean_end telling whether the peer
// sent close_notify (false: it just closed, and a body delimited by the end of the
// connection may have been cut); -1 on an error or at `deadline` (*error says which,
// *timed_out set for the deadline). Never raises SIGPIPE.
ssize_t TlsRead(ssl_st* ssl, int fd, char* buf, size_t n, absl::Time deadline,
                std::string* error, bool* timed_out, bool* clean_end);

// Sends close_notify (not awaited) when the session is `healthy` (no failed call on
// it), and frees it; the socket stays open.
void TlsClose(ssl_st* ssl, bool healthy);

}  // namespace dtx::internal

#endif  // DTX_HTTP_TLS_CLIENT_H_
