// The README's usage example: an embedded coordinator on SQLite and a two-step saga
// over HTTP whose second step refuses, so the first is compensated.
#include <cstdio>

#include "dtx/coordinator.h"
#include "dtx/gid.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_transport.h"
#include "dtx/result.h"
#include "dtx/saga.h"
#include "dtx/soci/soci_store.h"

int main() {
  // Branches: any HTTP service. This one refuses every TransIn.
  dtx::HttpBranchServer service;
  service.Handle("/TransOut", [](const dtx::BranchInfo&, const dtx::HttpRequest&) {
    return absl::OkStatus();  // SUCCESS
  });
  service.Handle("/TransOutRevert", [](const dtx::BranchInfo&, const dtx::HttpRequest&) {
    return absl::OkStatus();
  });
  service.Handle("/TransIn", [](const dtx::BranchInfo&, const dtx::HttpRequest&) {
    return dtx::FailureError("account frozen");  // FAILURE: roll the saga back
  });
  const std::string url = "http://127.0.0.1:" + std::to_string(service.Start().value());

  // The coordinator, embedded, storing every transaction in SQLite.
  auto store = dtx::SociStore::Open({.url = "sqlite:///tmp/dtx-usage.db"}).value();
  dtx::HttpTransport http;
  dtx::CoordinatorOptions options;
  options.store = store.get();
  options.transports = {{"http", &http}};
  auto coordinator = dtx::Coordinator::Start(options).value();

  dtx::Saga saga(coordinator.get(), dtx::GidGenerator().Next());
  saga.Add(url + "/TransOut", url + "/TransOutRevert", R"({"amount":30})")
      .Add(url + "/TransIn", "", R"({"amount":30})")
      .WaitResult(true);
  absl::Status result = saga.Submit();  // kAborted: rolled back, TransOutRevert ran
  std::printf("%s: %s\n", saga.gid().c_str(), result.ToString().c_str());
  return dtx::IsFailure(result) ? 0 : 1;
}
