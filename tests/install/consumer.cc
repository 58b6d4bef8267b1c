// Built against an installed dtx: runs one saga through every linked component.
#include <cstdio>
#include <string>

#include "dtx/coordinator.h"
#include "dtx/gid.h"
#include "dtx/grpc/grpc_transport.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_transport.h"
#include "dtx/local_transport.h"
#include "dtx/saga.h"
#include "dtx/soci/soci_store.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto store = dtx::SociStore::Open({.url = std::string("sqlite://") + argv[1]});
  if (!store.ok()) return 1;
  dtx::HttpBranchServer service;
  service.Handle("/Step", [](const dtx::BranchInfo&, const dtx::HttpRequest&) {
    return absl::OkStatus();
  });
  absl::StatusOr<int> port = service.Start();
  if (!port.ok()) return 1;
  dtx::HttpTransport http;
  dtx::GrpcTransport grpc;
  dtx::CoordinatorOptions options;
  options.store = store->get();
  options.transports = {{"http", &http}, {"grpc", &grpc}};
  auto coordinator = dtx::Coordinator::Start(options);
  if (!coordinator.ok()) return 1;
  const std::string url = "http://127.0.0.1:" + std::to_string(*port) + "/Step";
  dtx::Saga saga(coordinator->get(), dtx::GidGenerator().Next());
  absl::Status s = saga.Add(url, url, "{}").WaitResult(true).Submit();
  std::printf("consumer: %s\n", s.ToString().c_str());
  return s.ok() ? 0 : 1;
}
