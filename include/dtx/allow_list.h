// dtx::AllowList: the addresses a coordinator may call branches at (an outbound
// policy). A coordinator calls whatever URL a submit names, so anyone who can submit
// can make it send requests to any address it reaches (cloud metadata services,
// internal admin ports); an allow-list confines it to the branch services.
#ifndef DTX_ALLOW_LIST_H_
#define DTX_ALLOW_LIST_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace dtx {

// Immutable once parsed; thread-safe.
class AllowList {
 public:
  // An empty list: everything is allowed.
  AllowList() = default;

  // Entries, each one of:
  //   10.0.0.0/8, fd00::/8     addresses in a CIDR block, any port
  //   127.0.0.1, ::1           one address, any port
  //   127.0.0.1:8080, [::1]:80 one address and port
  //   orders.svc, *.svc        a host name, or any name under a domain, any port
  //   orders.svc:8080, *.svc:* the same with a port ('*': any)
  // kInvalidArgument names the first entry that is none of these.
  static absl::StatusOr<AllowList> Parse(const std::vector<std::string>& entries);

  bool empty() const { return entries_.empty(); }

  // Whether a call to `host` (a name, or an IPv4 / IPv6 address without brackets) at
  // `port` is allowed. Names are matched as written (case-insensitively), never
  // resolved: they match name entries only, and addresses match address and CIDR
  // entries only. True for an empty list.
  bool Allows(std::string_view host, int port) const;

 private:
  struct Entry {
    bool is_name = false;
    std::string name;  // lower case; "*.svc" kept as ".svc" (a suffix)
    bool wildcard = false;
    unsigned char address[16] = {};  // IPv4 in the first 4 bytes
    bool v6 = false;
    int prefix = 0;  // bits of `address` that must match
    int port = 0;    // 0: any
  };
  std::vector<Entry> entries_;
};

}  // namespace dtx

#endif  // DTX_ALLOW_LIST_H_
