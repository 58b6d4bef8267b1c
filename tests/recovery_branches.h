// The branches of the crash-recovery test, shared by the test and the child process
// it kills: a transfer between two SQLite "services", each op behind a barrier and
// written to a ledger so that the test can count how often each op was applied.
#ifndef DTX_TESTS_RECOVERY_BRANCHES_H_
#define DTX_TESTS_RECOVERY_BRANCHES_H_

#include <string>

#include "dtx/local_transport.h"
#include "dtx/saga.h"

namespace dtx::testing {

inline constexpr int kInitialBalance = 1'000'000;
inline constexpr int kAmount = 10;

// Creates dir/out.db and dir/in.db (accounts, ledger, barrier) if absent.
void CreateBranchDatabases(const std::string& dir);

// Registers local://out/{action,compensate} and local://in/{action,compensate}.
// Each call sleeps `delay_ms` inside its local transaction. The "in" action refuses
// (FAILURE) the sagas whose number is a multiple of 4.
void InstallBranches(LocalTransport& transport, const std::string& dir, int delay_ms);

// Saga number i: out then in, kAmount each, protocol "local".
TransGlobal TransferSaga(int i);
std::string TransferGid(int i);

}  // namespace dtx::testing

#endif  // DTX_TESTS_RECOVERY_BRANCHES_H_
