// Global transaction ids, made locally with no round trip to a coordinator.
#ifndef DTX_GID_H_
#define DTX_GID_H_

#include <string>
#include <string_view>

namespace dtx {

// Makes gids that are
//  - unique across threads, processes and hosts without coordination: each process
//    (re-drawn after fork) holds an 80-bit random node id;
//  - time-ordered: a gid starts with a process-wide monotonic tick (milliseconds since
//    the Unix epoch and a sequence number, never going back when the wall clock does),
//    so within a process lexicographic order is creation order, across processes it
//    is creation order to the millisecond (given synchronised clocks);
//  - URL-safe: 30 characters of [0-9a-v-], never '\n', '\r' or ';'.
// Example: "0cm5u1p7g0040-k3f0a9l2b1q8d6tc".
//
// Thread-safe. Cheap to construct; all instances in a process share one sequence.
class GidGenerator {
 public:
  std::string Next();
};

// Whether `gid` is acceptable to the coordinator: 1 to 128 characters from
// [A-Za-z0-9] and "-_.~:" (URL-safe; DTM's generated gids fit).
bool IsValidGid(std::string_view gid);

}  // namespace dtx

#endif  // DTX_GID_H_
