#include "saga_fixture.h"

#include <catch2/catch.hpp>

#include "test_util.h"

namespace dtx::testing {

SagaFixture::SagaFixture(const std::function<void(CoordinatorOptions&)>& configure) {
  db_path = NewTempDir("saga") + "/dtx.db";
  absl::StatusOr<std::unique_ptr<SociStore>> opened =
      SociStore::Open({.url = "sqlite://" + db_path});
  REQUIRE(opened.ok());
  store = *std::move(opened);
  CoordinatorOptions options;
  options.store = store.get();
  options.transports = {{"local", &transport}};
  options.clock = &clock;
  options.poll_interval = absl::ZeroDuration();
  options.backoff_jitter = 0;
  if (configure) configure(options);
  absl::StatusOr<std::unique_ptr<Coordinator>> started = Coordinator::Start(options);
  REQUIRE(started.ok());
  coordinator = *std::move(started);
}

SagaFixture::~SagaFixture() { coordinator->Shutdown(); }

void SagaFixture::Branch(const std::string& name,
                         std::function<absl::Status(int, const BranchRequest&)> answer) {
  transport.Handle(Url(name), [this, name, answer](const BranchRequest& request) {
    int call;
    {
      absl::MutexLock lock(&mu_);
      calls_.push_back(name);
      call = ++counts_[name];
    }
    return answer(call, request);
  });
}

void SagaFixture::Branch(const std::string& name, absl::Status status) {
  Branch(name, [status](int, const BranchRequest&) { return status; });
}

Saga SagaFixture::NewSaga(const std::string& gid) {
  Saga saga(coordinator.get(), gid);
  saga.Protocol("local").RetryInterval(absl::Seconds(1));
  return saga;
}

std::vector<std::string> SagaFixture::Calls() {
  absl::MutexLock lock(&mu_);
  return calls_;
}

int SagaFixture::CallCount(const std::string& name) {
  absl::MutexLock lock(&mu_);
  return counts_[name];
}

TransactionState SagaFixture::State(const std::string& gid) {
  absl::StatusOr<TransactionState> state = coordinator->Query(gid);
  REQUIRE(state.ok());
  return *std::move(state);
}

absl::Duration SagaFixture::UntilNextCron(const std::string& gid) {
  return State(gid).global.next_cron_time - clock.Now();
}

int SagaFixture::AdvanceAndRun(absl::Duration d) {
  clock.Advance(d);
  absl::StatusOr<int> ran = coordinator->RunDue();
  REQUIRE(ran.ok());
  return *ran;
}

}  // namespace dtx::testing
