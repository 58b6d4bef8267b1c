#include "dtm_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

namespace dtx::testing {
namespace {

// A port free now on 127.0.0.1 (bound, read, released).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

DtmProcess::DtmProcess(const std::string& dir)
    : http_port_(FreePort()), grpc_port_(FreePort()), json_rpc_port_(FreePort()) {
  // DTM's YAML spells the HTTP port HttpPort (its struct field is HTTPPort).
  std::ofstream(dir + "/conf.yml") << "Store:\n  Driver: boltdb\nHttpPort: " << http_port_
                                   << "\nGrpcPort: " << grpc_port_
                                   << "\nJsonRpcPort: " << json_rpc_port_
                                   << "\nTransCronInterval: 1\nLogLevel: warn\n";
  process_.emplace(std::vector<std::string>{
      "/bin/sh", "-c",
      "echo started; cd " + dir + " && exec " + DTX_PEERS_DIR +
          "/dtm/dtm -c conf.yml > dtm.log 2>&1"});
  bool up = false;
  for (int i = 0; i < 300 && !up; ++i) {
    up = Accepts(http_port_) && Accepts(grpc_port_);
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  INFO("DTM did not open its ports; see " << dir << "/dtm.log");
  REQUIRE(up);
}

}  // namespace dtx::testing
