// Store conformance: what every Store must do, run unchanged on SQLite, PostgreSQL and
// MariaDB (the backend comes from the environment: see conformance_main.cc).
#include <atomic>
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "conformance.h"
#include "dtx/clock.h"
#include "dtx/coordinator.h"
#include "dtx/local_transport.h"
#include "dtx/result.h"
#include "dtx/saga.h"
#include "dtx/soci/storage_url.h"

namespace dtx {
namespace {

const absl::Time kT0 = absl::FromUnixMillis(1'700'000'000'123);

// A TCC branch as registerBranch adds it: its cancel and confirm rows.
std::vector<TransBranch> TccPair(const std::string& gid, const std::string& id,
                                 const std::string& data) {
  std::vector<TransBranch> rows(2);
  for (TransBranch& b : rows) {
    b.gid = gid;
    b.branch_id = id;
    b.bin_data = data;
    b.status = "prepared";
  }
  rows[0].op = "cancel";
  rows[0].url = "http://svc/cancel" + id;
  rows[1].op = "confirm";
  rows[1].url = "http://svc/confirm" + id;
  return rows;
}

TransGlobal Global(const std::string& gid, absl::Time next = kT0) {
  TransGlobal g;
  g.gid = gid;
  g.status = "submitted";
  g.owner = "me";
  g.custom_data = R"({"concurrent":false})";
  g.options.retry_interval = absl::Milliseconds(1500);
  g.options.branch_headers = {{"x-a", "1"}};
  g.options.retry_limit = 3;
  g.create_time = g.update_time = kT0;
  g.next_cron_time = next;
  g.next_cron_interval = absl::Milliseconds(250);
  return g;
}

std::vector<TransBranch> Branches(const std::string& gid, const std::string& payload) {
  std::vector<TransBranch> out;
  for (const char* op : {"compensate", "action"}) {
    TransBranch b;
    b.gid = gid;
    b.branch_id = "01";
    b.op = op;
    b.url = std::string("http://svc/") + op;
    b.bin_data = payload;
    b.status = "prepared";
    b.create_time = kT0;
    out.push_back(b);
  }
  return out;
}

TEST_CASE("a transaction reads back as it was written, binary payloads included") {
  auto store = testing::FreshStore();
  const std::string payload("\x00\x01\xff\xfe{\"a\":\"\\\\\"}'", 12);
  REQUIRE(store->Create(Global("rt-1"), Branches("rt-1", payload)).ok());
  absl::StatusOr<TransGlobal> g = store->FindGlobal("rt-1");
  REQUIRE(g.ok());
  CHECK(g->gid == "rt-1");
  CHECK(g->status == "submitted");
  CHECK(g->owner == "me");
  CHECK(g->trans_type == "saga");
  CHECK(g->protocol == "http");
  CHECK(g->custom_data == R"({"concurrent":false})");
  CHECK(g->create_time == kT0);  // milliseconds kept
  CHECK(g->next_cron_time == kT0);
  CHECK(g->next_cron_interval == absl::Milliseconds(250));
  CHECK(g->options.retry_interval == absl::Milliseconds(1500));
  CHECK(g->options.retry_limit == 3);
  CHECK(g->options.branch_headers.at("x-a") == "1");
  CHECK(g->finish_time == absl::InfinitePast());
  absl::StatusOr<std::vector<TransBranch>> b = store->FindBranches("rt-1");
  REQUIRE(b.ok());
  REQUIRE(b->size() == 2);
  CHECK((*b)[0].op == "compensate");
  CHECK((*b)[1].op == "action");
  CHECK((*b)[1].bin_data == payload);
  CHECK((*b)[1].url == "http://svc/action");
  CHECK(absl::IsNotFound(store->FindGlobal("no-such").status()));
  CHECK(store->FindBranches("no-such")->empty());
}

TEST_CASE("a gid is created once, also when creators race") {
  auto store = testing::FreshStore();
  REQUIRE(store->Create(Global("dup-1"), Branches("dup-1", "")).ok());
  CHECK(absl::IsAlreadyExists(store->Create(Global("dup-1"), Branches("dup-1", ""))));
  std::atomic<int> created{0}, exists{0}, other{0};
  absl::Mutex mu;
  std::string others;  // what the others answered, to tell on failure
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      absl::Status s = store->Create(Global("race-1"), Branches("race-1", "x"));
      (s.ok() ? created : absl::IsAlreadyExists(s) ? exists : other)++;
      if (!s.ok() && !absl::IsAlreadyExists(s)) {
        absl::MutexLock lock(&mu);
        others += s.ToString() + "\n";
      }
    });
  }
  for (auto& t : threads) t.join();
  INFO(others);
  CHECK(created == 1);
  CHECK(exists == 3);
  CHECK(other == 0);
  CHECK(store->FindBranches("race-1")->size() == 2);
}

// Runs body(0) .. body(n-1) on n threads released at once (so that their writes
// meet in commit groups), and returns when all are done. `body` must not use Catch's
// macros, which are not thread-safe.
void RunTogether(int n, const std::function<void(int t)>& body) {
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      body(t);
    });
  }
  go = true;
  for (auto& t : threads) t.join();
}

// Creates "<prefix>0" .. "<prefix>{n-1}" from n threads at once (so that they share
// commit groups), `spoil` changing the branches of number `bad` first. Returns how
// many of the others succeeded; *bad_result is the spoiled create's answer.
int CreateTogether(
    Store& store, const std::string& prefix, int n, int bad,
    const std::function<void(TransGlobal&, std::vector<TransBranch>&)>& spoil,
    absl::Status* bad_result) {
  std::atomic<int> good_ok{0};
  RunTogether(n, [&](int t) {
    const std::string gid = prefix + std::to_string(t);
    std::vector<TransBranch> branches = Branches(gid, "x");
    if (t == bad) {
      TransGlobal global = Global(gid);
      spoil(global, branches);
      *bad_result = store.Create(global, branches);
    } else if (store.Create(Global(gid), branches).ok()) {
      ++good_ok;
    }
  });
  return good_ok;
}

TEST_CASE("a write the database refuses fails alone, not its commit group") {
  auto store = testing::FreshStore();
  absl::Status bad_result;
  const int good_ok = CreateTogether(
      *store, "group-", 16, 7,
      [](TransGlobal& global, std::vector<TransBranch>&) {
        global.custom_data =
            std::string(5000, 'c');  // over VARCHAR(1024): servers refuse
      },
      &bad_result);
  CHECK(good_ok == 15);
  // Only the servers enforce column lengths.
  if (testing::ConformanceBackend() == "postgresql" ||
      testing::ConformanceBackend() == "mysql") {
    CHECK(absl::IsUnavailable(bad_result));
    CHECK(absl::IsNotFound(store->FindGlobal("group-7").status()));
  }
}

TEST_CASE("a create whose branch rows collide writes nothing, and its group commits") {
  auto store = testing::FreshStore();
  absl::Status bad_result;
  const int good_ok = CreateTogether(
      *store, "collide-", 8, 3,
      [](TransGlobal&, std::vector<TransBranch>& branches) {
        // The second row repeats the first one's (gid, branch_id, op).
        branches[1].op = branches[0].op;
      },
      &bad_result);
  CHECK(good_ok == 7);
  INFO(bad_result.ToString());
  CHECK(absl::IsInvalidArgument(bad_result));
  CHECK(absl::IsNotFound(store->FindGlobal("collide-3").status()));
  auto rows = store->FindBranches("collide-3");
  REQUIRE(rows.ok());
  CHECK(rows->empty());
  auto other = store->FindBranches("collide-4");
  REQUIRE(other.ok());
  CHECK(other->size() == 2);
}

TEST_CASE("every store refuses a branch over DTM's column sizes, and keeps nothing") {
  auto store = testing::FreshStore();
  std::vector<TransBranch> branches = Branches("long-url", "x");
  branches[1].url = "http://127.0.0.1/" + std::string(1100, 'u');
  absl::Status created = store->Create(Global("long-url"), branches);
  INFO(created.ToString());
  CHECK(absl::IsInvalidArgument(created));
  CHECK(absl::IsNotFound(store->FindGlobal("long-url").status()));
  branches[1].url = "http://127.0.0.1/" + std::string(1000, 'u');  // 1017 bytes: kept
  REQUIRE(store->Create(Global("long-url"), branches).ok());
  absl::StatusOr<std::vector<TransBranch>> kept = store->FindBranches("long-url");
  REQUIRE(kept.ok());
  REQUIRE(kept->size() == 2);
  CHECK((*kept)[1].url == branches[1].url);
}

TEST_CASE("concurrent writes share commits, on PostgreSQL as pipelines") {
  auto store = testing::FreshStore();
  auto* soci_store = dynamic_cast<SociStore*>(store.get());
  if (soci_store == nullptr) return;  // MemoryStore has no commits
  constexpr int kThreads = 16, kEach = 10;
  std::atomic<int> ok{0};
  RunTogether(kThreads, [&](int t) {
    for (int k = 0; k < kEach; ++k) {
      const std::string gid = absl::StrFormat("shared-%d-%d", t, k);
      if (!store->Create(Global(gid), Branches(gid, "p")).ok()) continue;
      GlobalUpdate done;
      done.status = "succeed";
      // Every third one with no branch result: the compare-and-set alone.
      std::vector<BranchUpdate> results;
      if (k % 3 != 0) results = {{"01", "action", "succeed"}};
      if (store->Update(gid, "submitted", "me", results, done, kT0 + absl::Seconds(1))
              .ok()) {
        ++ok;
      }
    }
  });
  CHECK(ok == kThreads * kEach);
  for (int t = 0; t < kThreads; ++t) {
    for (int k = 0; k < kEach; ++k) {
      const std::string gid = absl::StrFormat("shared-%d-%d", t, k);
      CHECK(store->FindGlobal(gid)->status == "succeed");
      std::vector<TransBranch> branches = *store->FindBranches(gid);
      REQUIRE(branches.size() == 2);
      CHECK(branches[0].status == "prepared");  // the compensation
      CHECK(branches[1].status == (k % 3 != 0 ? "succeed" : "prepared"));
      CHECK(branches[1].bin_data == "p");
    }
  }
  const SociStoreCounts counts = soci_store->Counts();
  CHECK(counts.writes == 2 * kThreads * kEach);
  CHECK(counts.commits < counts.writes);
  if (testing::ConformanceBackend() == "postgresql") {
    CHECK(counts.pipelined_commits > 0);
  } else {
    CHECK(counts.pipelined_commits == 0);
  }
}

TEST_CASE("a lazy UpdateAsync holds no thread and answers once committed") {
  // Lazy writes alone go once due: a second here (the most allowed), so that only
  // company releases them while this looks.
  auto store = testing::FreshStore({.pool_size = 4, .lazy_write_wait = absl::Seconds(1)});
  auto* soci_store = dynamic_cast<SociStore*>(store.get());
  if (soci_store == nullptr) return;  // MemoryStore answers at once (Store's default)
  for (const std::string gid : {"async-1", "async-2"}) {
    REQUIRE(store->Create(Global(gid), Branches(gid, "p")).ok());
  }
  const SociStoreCounts before = soci_store->Counts();
  absl::Notification answered[2];
  absl::Status results[2];
  GlobalUpdate done;
  done.status = "succeed";
  done.lazy = true;
  store->UpdateAsync("async-1", "submitted", "me", {{"01", "action", "succeed"}}, done,
                     kT0, [&](absl::Status s) {
                       results[0] = s;
                       answered[0].Notify();
                     });
  // The second one's compare-and-set will not match: it fails alone.
  store->UpdateAsync("async-2", "aborting", "me", {}, done, kT0, [&](absl::Status s) {
    results[1] = s;
    answered[1].Notify();
  });
  CHECK_FALSE(answered[0].HasBeenNotified());  // queued, this thread free
  CHECK(store->FindGlobal("async-1")->status == "submitted");
  REQUIRE(store->Create(Global("async-3"), Branches("async-3", "p")).ok());
  answered[0].WaitForNotification();
  answered[1].WaitForNotification();
  CHECK(results[0].ok());
  CHECK(absl::IsAborted(results[1]));
  CHECK(store->FindGlobal("async-1")->status == "succeed");
  CHECK((*store->FindBranches("async-1"))[1].status == "succeed");
  CHECK(store->FindGlobal("async-2")->status == "submitted");
  const SociStoreCounts after = soci_store->Counts();
  CHECK(after.writes - before.writes == 3);
  CHECK(after.commits - before.commits == 1);
}

TEST_CASE("a lazy write alone is written once its wait is over") {
  auto store =
      testing::FreshStore({.pool_size = 4, .lazy_write_wait = absl::Milliseconds(20)});
  if (dynamic_cast<SociStore*>(store.get()) == nullptr) return;
  // No other write comes: each goes alone, this thread waiting for it.
  for (const std::string gid : {"alone-1", "alone-2"}) {
    REQUIRE(store->Create(Global(gid), Branches(gid, "p")).ok());
    GlobalUpdate done;
    done.status = "succeed";
    done.lazy = true;
    REQUIRE(store->Update(gid, "submitted", "me", {}, done, kT0).ok());
    CHECK(store->FindGlobal(gid)->status == "succeed");
  }
}

TEST_CASE("updates are compare-and-set on status and owner, all or nothing") {
  auto store = testing::FreshStore();
  REQUIRE(store->Create(Global("cas-1"), Branches("cas-1", "")).ok());
  const absl::Time now = kT0 + absl::Seconds(1);
  GlobalUpdate done;
  done.status = "succeed";
  done.finish_time = now;
  std::vector<BranchUpdate> action = {{"01", "action", "succeed"}};
  CHECK(absl::IsAborted(store->Update("cas-1", "aborting", "me", action, done, now)));
  CHECK(absl::IsAborted(store->Update("cas-1", "submitted", "other", action, done, now)));
  CHECK(store->FindGlobal("cas-1")->status == "submitted");
  CHECK((*store->FindBranches("cas-1"))[1].status == "prepared");  // rolled back with it
  REQUIRE(store->Update("cas-1", "submitted", "me", action, done, now).ok());
  absl::StatusOr<TransGlobal> g = store->FindGlobal("cas-1");
  CHECK(g->status == "succeed");
  CHECK(g->finish_time == now);
  CHECK(g->owner == "me");                                  // unset: kept
  CHECK(g->next_cron_interval == absl::Milliseconds(250));  // unset: kept
  CHECK((*store->FindBranches("cas-1"))[1].status == "succeed");
  // A branch moves only from prepared.
  GlobalUpdate nothing;
  REQUIRE(
      store->Update("cas-1", "succeed", "me", {{"01", "action", "failed"}}, nothing, now)
          .ok());
  CHECK((*store->FindBranches("cas-1"))[1].status == "succeed");
  // The same update twice in one millisecond still matches (MySQL counts found rows).
  GlobalUpdate same;
  same.owner = "me";
  CHECK(store->Update("cas-1", "succeed", "me", {}, same, now).ok());
  CHECK(store->Update("cas-1", "succeed", "me", {}, same, now).ok());
  // Long texts are clipped to the column, not refused.
  GlobalUpdate longer;
  longer.result = std::string(5000, 'e');
  CHECK(store->Update("cas-1", "succeed", "me", {}, longer, now).ok());
  CHECK(store->FindGlobal("cas-1")->result.size() == 1024);
}

TEST_CASE("a lost compare-and-set moves no branch, also inside a commit group") {
  auto store = testing::FreshStore();
  constexpr int kThreads = 8, kEach = 20;
  for (int i = 0; i < kThreads * kEach; ++i) {
    const std::string gid = "cas-group-" + std::to_string(i);
    REQUIRE(store->Create(Global(gid), Branches(gid, "")).ok());
  }
  // Many concurrent writers: losing and winning updates share commits. (Catch's
  // macros are not thread-safe: the threads count, the test checks after.)
  std::atomic<int> unexpected{0};
  RunTogether(kThreads, [&](int t) {
    for (int k = 0; k < kEach; ++k) {
      const int i = t * kEach + k;
      const std::string gid = "cas-group-" + std::to_string(i);
      GlobalUpdate done;
      done.status = "succeed";
      std::vector<BranchUpdate> action = {{"01", "action", "succeed"},
                                          {"01", "compensate", "succeed"}};
      const bool odd = i % 2 == 1;  // odd ones expect another owner: they lose
      absl::Status s = store->Update(gid, "submitted", odd ? "other" : "me", action, done,
                                     kT0 + absl::Seconds(1));
      if (!(odd ? absl::IsAborted(s) : s.ok())) ++unexpected;
    }
  });
  CHECK(unexpected == 0);
  for (int i = 0; i < kThreads * kEach; ++i) {
    const std::string gid = "cas-group-" + std::to_string(i);
    const bool odd = i % 2 == 1;
    std::vector<TransBranch> branches = *store->FindBranches(gid);
    REQUIRE(branches.size() == 2);
    CHECK(store->FindGlobal(gid)->status == (odd ? "submitted" : "succeed"));
    for (const TransBranch& b : branches)
      CHECK(b.status == (odd ? "prepared" : "succeed"));
  }
}

TEST_CASE("a saga of many steps is written and updated whole") {
  auto store = testing::FreshStore();
  std::vector<TransBranch> branches;
  for (int step = 1; step <= 20; ++step) {  // 40 rows: more than one statement's worth
    for (TransBranch b : Branches("wide-1", "p" + std::to_string(step))) {
      b.branch_id = absl::StrFormat("%02d", step);
      branches.push_back(b);
    }
  }
  REQUIRE(store->Create(Global("wide-1"), branches).ok());
  CHECK(absl::IsAlreadyExists(store->Create(Global("wide-1"), branches)));
  std::vector<BranchUpdate> results;
  for (const TransBranch& b : branches) {
    results.push_back({b.branch_id, b.op, b.op == "action" ? "succeed" : "failed"});
  }
  GlobalUpdate done;
  done.status = "succeed";
  REQUIRE(store->Update("wide-1", "submitted", "me", results, done, kT0).ok());
  std::vector<TransBranch> read = *store->FindBranches("wide-1");
  REQUIRE(read.size() == 40);
  for (size_t i = 0; i < read.size(); ++i) {
    CHECK(read[i].branch_id == branches[i].branch_id);  // insertion order
    CHECK(read[i].op == branches[i].op);
    CHECK(read[i].bin_data == branches[i].bin_data);
    CHECK(read[i].status == (read[i].op == "action" ? "succeed" : "failed"));
  }
}

TEST_CASE("due transactions are claimed by exactly one claimer") {
  auto store = testing::FreshStore();
  for (int i = 0; i < 40; ++i) {
    const std::string gid = absl::StrFormat("due-%02d", i);
    REQUIRE(store
                ->Create(Global(gid, kT0 + absl::Seconds(i % 2 == 0 ? 0 : 100)),
                         Branches(gid, ""))
                .ok());
  }
  TransGlobal ended = Global("due-ended");
  ended.status = "succeed";
  REQUIRE(store->Create(ended, {}).ok());
  const absl::Time now = kT0 + absl::Seconds(1);
  std::mutex mu;
  std::vector<std::string> claimed;
  std::vector<std::string> wrong;  // what went wrong in the threads (Catch's macros
                                   // are not thread-safe: checked after)
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string owner = "c" + std::to_string(t);
      while (true) {
        auto batch = store->ClaimDue(now, now + absl::Seconds(30), owner, 3);
        std::lock_guard<std::mutex> lock(mu);
        if (!batch.ok()) {
          wrong.push_back(batch.status().ToString());
          return;
        }
        if (batch->empty()) return;
        for (const TransGlobal& g : *batch) {
          if (g.owner != owner) wrong.push_back(g.gid + " owned by " + g.owner);
          if (g.next_cron_time != now + absl::Seconds(30)) {
            wrong.push_back(g.gid + ": next_cron_time not the lease's end");
          }
          claimed.push_back(g.gid);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& w : wrong) UNSCOPED_INFO(w);
  CHECK(wrong.empty());
  std::set<std::string> unique(claimed.begin(), claimed.end());
  CHECK(claimed.size() == 20);  // the 20 due ones, each once
  CHECK(unique.size() == 20);
  CHECK(!unique.contains("due-ended"));
  CHECK(store->ClaimDue(now, now, "late", 100)->empty());  // leased now
}

TEST_CASE("a claim says whose lease it took over, if anyone's") {
  auto store = testing::FreshStore();
  TransGlobal leased = Global("claim-leased");  // owner "me": its pass never ended
  TransGlobal free = Global("claim-free");
  free.owner = "";  // a retry scheduled by a pass that ended
  REQUIRE(store->Create(leased, Branches(leased.gid, "")).ok());
  REQUIRE(store->Create(free, Branches(free.gid, "")).ok());
  auto claimed = store->ClaimDue(kT0, kT0 + absl::Seconds(30), "next", 10);
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 2);
  std::map<std::string, std::string> taken_from;
  for (const TransGlobal& g : *claimed) {
    CHECK(g.owner == "next");
    taken_from[g.gid] = g.taken_from;
  }
  CHECK(taken_from["claim-leased"] == "me");
  CHECK(taken_from["claim-free"] == "");
  // Not stored: a read shows the owner only.
  CHECK(store->FindGlobal("claim-leased")->taken_from.empty());
}

TEST_CASE("TCC branches are added while the status matches, each once") {
  auto store = testing::FreshStore();
  TransGlobal g = Global("reg-1");
  g.trans_type = "tcc";
  g.status = "prepared";
  g.owner = "";
  REQUIRE(store->Create(g, {}).ok());
  auto pair = [](const std::string& id, const std::string& data) {
    return TccPair("reg-1", id, data);
  };
  const absl::Time now = kT0 + absl::Seconds(2);
  REQUIRE(store->AddBranches("reg-1", "prepared", pair("01", "one"), 4, now).ok());
  // Registered again (a client's retry): nothing changes, the first data stays.
  REQUIRE(store->AddBranches("reg-1", "prepared", pair("01", "other"), 4, now).ok());
  REQUIRE(store->AddBranches("reg-1", "prepared", pair("02", std::string("\0\xff", 2)),
                             4, now)
              .ok());
  // A third would pass the limit of 4 rows: refused, nothing added.
  CHECK(absl::IsResourceExhausted(
      store->AddBranches("reg-1", "prepared", pair("03", ""), 4, now)));
  // One already there is no addition.
  CHECK(store->AddBranches("reg-1", "prepared", pair("02", ""), 4, now).ok());
  absl::StatusOr<std::vector<TransBranch>> rows = store->FindBranches("reg-1");
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 4);
  std::vector<std::string> seen;
  for (const TransBranch& b : *rows) seen.push_back(b.branch_id + "/" + b.op);
  CHECK(seen ==
        std::vector<std::string>{"01/cancel", "01/confirm", "02/cancel", "02/confirm"});
  CHECK((*rows)[0].bin_data == "one");
  CHECK((*rows)[3].bin_data == std::string("\0\xff", 2));
  CHECK((*rows)[2].create_time == now);
  CHECK(store->FindGlobal("reg-1")->update_time == now);

  CHECK(absl::IsNotFound(store->AddBranches("no-such", "prepared", pair("01", ""), 4, now)));
  GlobalUpdate submit;
  submit.status = "submitted";
  REQUIRE(store->Update("reg-1", "prepared", "", {}, submit, now).ok());
  CHECK(absl::IsAborted(store->AddBranches("reg-1", "prepared", pair("03", ""), 100, now)));
  CHECK(store->FindBranches("reg-1")->size() == 4);
}

TEST_CASE("registrations racing on one transaction are all kept, each once") {
  auto store = testing::FreshStore();
  TransGlobal g = Global("race-1", kT0 + absl::Seconds(35));
  g.trans_type = "tcc";
  g.status = "prepared";
  g.owner = "";
  REQUIRE(store->Create(g, {}).ok());
  constexpr int kThreads = 8;
  std::atomic<int> ok{0};
  // Each thread registers its own pair, and the pair of the thread before it (a
  // client's retry racing the first registration).
  RunTogether(kThreads, [&](int t) {
    for (int id : {t, (t + kThreads - 1) % kThreads}) {
      const std::string branch_id = absl::StrFormat("%02d", id);
      const std::vector<TransBranch> rows =
          TccPair("race-1", branch_id, "data" + std::to_string(id));
      ok += store->AddBranches("race-1", "prepared", rows, 100, kT0 + absl::Seconds(1))
                .ok();
    }
  });
  CHECK(ok == 2 * kThreads);
  absl::StatusOr<std::vector<TransBranch>> rows = store->FindBranches("race-1");
  REQUIRE(rows.ok());
  std::set<std::string> seen;
  for (const TransBranch& b : *rows) {
    CHECK(seen.insert(b.branch_id + "/" + b.op).second);  // none twice
    CHECK(b.bin_data == "data" + std::to_string(std::stoi(b.branch_id)));
  }
  CHECK(seen.size() == 2 * kThreads);
}

TEST_CASE("prepared transactions are claimed when due and listed as unfinished") {
  auto store = testing::FreshStore();
  TransGlobal g = Global("prep-1", kT0 + absl::Seconds(35));
  g.trans_type = "msg";
  g.status = "prepared";
  g.owner = "";
  REQUIRE(store->Create(g, {}).ok());
  CHECK(store->ClaimDue(kT0 + absl::Seconds(34), kT0 + absl::Seconds(94), "me", 10)
            ->empty());
  absl::StatusOr<std::vector<TransGlobal>> due =
      store->ClaimDue(kT0 + absl::Seconds(35), kT0 + absl::Seconds(95), "me", 10);
  REQUIRE(due.ok());
  REQUIRE(due->size() == 1);
  CHECK((*due)[0].status == "prepared");
  CHECK((*due)[0].owner == "me");
  absl::StatusOr<std::vector<TransGlobal>> stuck =
      store->ListUnfinished(kT0 + absl::Seconds(1), 10);
  REQUIRE(stuck.ok());
  REQUIRE(stuck->size() == 1);
  CHECK((*stuck)[0].gid == "prep-1");
}

TEST_CASE("listing pages newest first and filters by status and trans_type") {
  auto store = testing::FreshStore();
  for (int i = 0; i < 5; ++i) {
    TransGlobal g = Global("list-" + std::to_string(i));
    if (i % 2 == 1) g.status = "failed";
    if (i >= 3) g.trans_type = "tcc";
    REQUIRE(store->Create(g, {}).ok());
  }
  auto first = store->List(0, "", "", 3);
  REQUIRE(first.ok());
  REQUIRE(first->size() == 3);
  CHECK((*first)[0].gid == "list-4");
  auto rest = store->List(first->back().id, "", "", 3);
  REQUIRE(rest->size() == 2);
  CHECK((*rest)[1].gid == "list-0");
  CHECK(store->List(0, "failed", "", 10)->size() == 2);
  CHECK(store->List(0, "", "tcc", 10)->size() == 2);
  auto failed_tcc = store->List(0, "failed", "tcc", 10);
  REQUIRE(failed_tcc->size() == 1);
  CHECK((*failed_tcc)[0].gid == "list-3");
}

TEST_CASE("stuck transactions are listed, counted, and ended ones purged in batches") {
  auto store = testing::FreshStore();
  for (int i = 0; i < 5; ++i) {
    TransGlobal g = Global("old-" + std::to_string(i));
    g.create_time = kT0 + absl::Seconds(i);
    if (i >= 2) {
      g.status = i == 4 ? "failed" : "succeed";
      g.finish_time = kT0 + absl::Seconds(i);  // set by Update below
    }
    REQUIRE(store->Create(g, Branches(g.gid, "p")).ok());
    if (i >= 2) {
      GlobalUpdate end;
      end.finish_time = kT0 + absl::Seconds(10 + i);
      REQUIRE(store->Update(g.gid, g.status, "me", {}, end, kT0).ok());
    }
  }
  auto stuck = store->ListUnfinished(kT0 + absl::Seconds(1), 10);
  REQUIRE(stuck.ok());
  REQUIRE(stuck->size() == 1);  // old-1 was created exactly at the cutoff
  CHECK((*stuck)[0].gid == "old-0");
  CHECK(store->ListUnfinished(kT0 + absl::Hours(1), 10)->size() == 2);
  // The same, counted (Coordinator::Metrics's gauges).
  CHECK(*store->CountUnfinished(kT0 + absl::Seconds(1)) == 1);
  CHECK(*store->CountUnfinished(kT0 + absl::Hours(1)) == 2);
  CHECK(*store->CountUnfinished(absl::InfiniteFuture()) == 2);
  CHECK(*store->CountUnfinished(kT0) == 0);
  // Ended before 13 s: old-2 (12 s); then old-3 and old-4 (13, 14 s) by 20 s, 1 a batch.
  CHECK(*store->DeleteFinished(kT0 + absl::Seconds(13), 10) == 1);
  CHECK(*store->DeleteFinished(kT0 + absl::Seconds(20), 1) == 1);
  CHECK(*store->DeleteFinished(kT0 + absl::Seconds(20), 1) == 1);
  CHECK(*store->DeleteFinished(kT0 + absl::Seconds(20), 1) == 0);
  CHECK(absl::IsNotFound(store->FindGlobal("old-3").status()));
  CHECK(store->FindBranches("old-3")->empty());
  CHECK(store->FindGlobal("old-0").ok());  // unfinished: never purged
  CHECK(store->FindBranches("old-0")->size() == 2);
}

TEST_CASE("the coordinator drives sagas on this backend") {
  auto store = testing::FreshStore();
  ManualClock clock;
  LocalTransport transport;
  std::atomic<int> flaky_calls{0}, compensations{0};
  transport.Handle("local://ok", [](const BranchRequest&) { return absl::OkStatus(); });
  transport.Handle("local://no", [](const BranchRequest&) { return FailureError("no"); });
  transport.Handle("local://flaky", [&](const BranchRequest&) {
    return ++flaky_calls < 3 ? absl::UnavailableError("down") : absl::OkStatus();
  });
  transport.Handle("local://undo", [&](const BranchRequest&) {
    ++compensations;
    return absl::OkStatus();
  });
  CoordinatorOptions options;
  options.store = store.get();
  options.transports = {{"local", &transport}};
  options.clock = &clock;
  options.poll_interval = absl::ZeroDuration();
  options.backoff_jitter = 0;
  auto coordinator = *Coordinator::Start(options);
  auto saga = [&](const std::string& gid, const std::string& second) {
    Saga s(coordinator.get(), gid);
    s.Add("local://ok", "local://undo", "{}").Add(second, "local://undo", "{}");
    return s.Protocol("local").RetryInterval(absl::Seconds(1)).WaitResult(true).Submit();
  };
  CHECK(saga("drive-ok", "local://ok").ok());
  CHECK(IsFailure(saga("drive-no", "local://no")));
  CHECK(compensations == 2);
  CHECK(IsOngoing(saga("drive-flaky", "local://flaky")));
  clock.Advance(absl::Seconds(1));
  CHECK(*coordinator->RunDue() == 1);
  clock.Advance(absl::Seconds(2));
  CHECK(*coordinator->RunDue() == 1);
  CHECK(coordinator->Query("drive-flaky")->global.status == "succeed");
  CHECK(coordinator->Query("drive-no")->global.status == "failed");
  CHECK(coordinator->Query("drive-ok")->global.status == "succeed");
}

TEST_CASE("the coordinator drives TCC and 2-phase messages on this backend") {
  auto store = testing::FreshStore();
  ManualClock clock;
  LocalTransport transport;
  std::mutex mu;
  std::vector<std::string> calls;  // "op branch_id payload"
  absl::Status back_check = absl::OkStatus();
  for (const char* name : {"confirm", "cancel", "deliver"}) {
    transport.Handle(std::string("local://") + name, [&](const BranchRequest& r) {
      std::lock_guard<std::mutex> lock(mu);
      calls.push_back(absl::StrCat(r.gid, " ", r.op, " ", r.branch_id, " ", r.payload));
      return absl::OkStatus();
    });
  }
  transport.Handle("local://query", [&](const BranchRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back(absl::StrCat(r.gid, " ", r.op, " ", r.branch_id, " ", r.trans_type));
    return back_check;
  });
  auto take = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return std::exchange(calls, {});
  };
  CoordinatorOptions options;
  options.store = store.get();
  options.transports = {{"local", &transport}};
  options.clock = &clock;
  options.poll_interval = absl::ZeroDuration();
  options.backoff_jitter = 0;
  auto coordinator = *Coordinator::Start(options);
  auto trans = [](const std::string& gid, std::string_view type) {
    TransGlobal g;
    g.gid = gid;
    g.trans_type = std::string(type);
    g.protocol = "local";
    g.options.wait_result = true;
    return g;
  };
  auto branch = [](const std::string& gid, const std::string& id) {
    return TccBranch{gid, id, "data-" + id, "local://confirm", "local://cancel"};
  };
  using Calls = std::vector<std::string>;

  SECTION("TCC: submit confirms from the last registered branch to the first") {
    REQUIRE(coordinator->Prepare(trans("tcc-ok", kTransTypeTcc)).ok());
    REQUIRE(coordinator->Prepare(trans("tcc-ok", kTransTypeTcc)).ok());  // again: fine
    REQUIRE(coordinator->RegisterBranch(branch("tcc-ok", "01")).ok());
    REQUIRE(coordinator->RegisterBranch(branch("tcc-ok", "02")).ok());
    REQUIRE(coordinator->RegisterBranch(branch("tcc-ok", "01")).ok());  // a retry
    CHECK(coordinator->Submit(trans("tcc-ok", kTransTypeTcc)).ok());
    CHECK(take() == Calls{"tcc-ok confirm 02 data-02", "tcc-ok confirm 01 data-01"});
    CHECK(coordinator->Query("tcc-ok")->global.status == "succeed");
    CHECK(IsFailure(coordinator->RegisterBranch(branch("tcc-ok", "03"))));
    CHECK(IsFailure(coordinator->Prepare(trans("tcc-ok", kTransTypeTcc))));
    CHECK(IsFailure(coordinator->Abort(trans("tcc-ok", kTransTypeTcc))));
  }
  SECTION("TCC: abort cancels from the last to the first") {
    REQUIRE(coordinator->Prepare(trans("tcc-no", kTransTypeTcc)).ok());
    REQUIRE(coordinator->RegisterBranch(branch("tcc-no", "01")).ok());
    REQUIRE(coordinator->RegisterBranch(branch("tcc-no", "02")).ok());
    TransGlobal abort = trans("tcc-no", kTransTypeTcc);
    abort.rollback_reason = "try 02 refused";
    CHECK(coordinator->Abort(abort).ok());
    CHECK(take() == Calls{"tcc-no cancel 02 data-02", "tcc-no cancel 01 data-01"});
    TransactionState state = *coordinator->Query("tcc-no");
    CHECK(state.global.status == "failed");
    CHECK(state.global.rollback_reason == "try 02 refused");
    CHECK(IsFailure(coordinator->Submit(trans("tcc-no", kTransTypeTcc))));
  }
  SECTION("TCC: a prepared one past timeout_to_fail rolls back") {
    REQUIRE(coordinator->Prepare(trans("tcc-late", kTransTypeTcc)).ok());
    REQUIRE(coordinator->RegisterBranch(branch("tcc-late", "01")).ok());
    clock.Advance(absl::Seconds(34));
    CHECK(*coordinator->RunDue() == 0);
    clock.Advance(absl::Seconds(1));
    CHECK(*coordinator->RunDue() == 1);
    CHECK(take() == Calls{"tcc-late cancel 01 data-01"});
    TransactionState state = *coordinator->Query("tcc-late");
    CHECK(state.global.status == "failed");
    CHECK(state.global.rollback_reason == "Timeout after 35 seconds");
    CHECK(IsFailure(coordinator->RegisterBranch(branch("tcc-late", "02"))));
  }
  SECTION("msg: prepare, then submit runs the actions in order") {
    TransGlobal m = trans("msg-ok", kTransTypeMsg);
    m.steps = {{"local://deliver", ""}, {"local://deliver", ""}};
    m.payloads = {"p1", "p2"};
    m.query_prepared = "local://query";
    REQUIRE(coordinator->Prepare(m).ok());
    CHECK(take().empty());
    CHECK(coordinator->Query("msg-ok")->global.status == "prepared");
    CHECK(coordinator->Submit(trans("msg-ok", kTransTypeMsg)).ok());
    CHECK(take() == Calls{"msg-ok action 01 p1", "msg-ok action 02 p2"});
    CHECK(coordinator->Query("msg-ok")->global.status == "succeed");
  }
  SECTION("msg: the back-check settles a message left prepared") {
    for (auto [answer, status] : {std::pair{absl::OkStatus(), "succeed"},
                                  {FailureError("never committed"), "failed"}}) {
      const std::string gid = std::string("msg-") + status;
      TransGlobal m = trans(gid, kTransTypeMsg);
      m.steps = {{"local://deliver", ""}};
      m.payloads = {"p"};
      m.query_prepared = "local://query";
      REQUIRE(coordinator->Prepare(m).ok());
      back_check = OngoingError("not yet");
      clock.Advance(absl::Seconds(35));
      CHECK(*coordinator->RunDue() == 1);
      CHECK(take() == Calls{gid + " msg 00 msg"});
      CHECK(coordinator->Query(gid)->global.status == "prepared");
      back_check = answer;
      clock.Advance(absl::Seconds(10));  // retry_interval
      CHECK(*coordinator->RunDue() == 1);
      Calls expected = {gid + " msg 00 msg"};
      if (answer.ok()) expected.push_back(gid + " action 01 p");
      CHECK(take() == expected);
      CHECK(coordinator->Query(gid)->global.status == status);
    }
  }
  SECTION("msg: abort drops a prepared message; submit without prepare runs it") {
    TransGlobal m = trans("msg-abort", kTransTypeMsg);
    m.steps = {{"local://deliver", ""}};
    m.query_prepared = "local://query";
    REQUIRE(coordinator->Prepare(m).ok());
    CHECK(coordinator->Abort(trans("msg-abort", kTransTypeMsg)).ok());
    CHECK(coordinator->Query("msg-abort")->global.status == "failed");
    CHECK(IsFailure(coordinator->Submit(trans("msg-abort", kTransTypeMsg))));
    m.gid = "msg-direct";
    CHECK(coordinator->Submit(m).ok());
    CHECK(take() == Calls{"msg-direct action 01 "});
  }
  SECTION("what cannot be prepared, registered or aborted") {
    TransGlobal m = trans("msg-bad", kTransTypeMsg);
    CHECK(absl::IsInvalidArgument(coordinator->Prepare(m)));  // no query_prepared
    CHECK(absl::IsInvalidArgument(coordinator->Prepare(trans("saga-1", kTransTypeSaga))));
    CHECK(absl::IsNotFound(coordinator->Abort(trans("nobody", kTransTypeTcc))));
    CHECK(absl::IsNotFound(coordinator->RegisterBranch(branch("nobody", "01"))));
    REQUIRE(coordinator->Submit(trans("saga-1", kTransTypeSaga)).ok());
    CHECK(IsFailure(coordinator->Abort(trans("saga-1", kTransTypeSaga))));
    CHECK(IsFailure(coordinator->RegisterBranch(branch("saga-1", "01"))));
    REQUIRE(coordinator->Prepare(trans("tcc-bad", kTransTypeTcc)).ok());
    TccBranch bad = branch("tcc-bad", "01");
    bad.branch_id = "0 1";
    CHECK(absl::IsInvalidArgument(coordinator->RegisterBranch(bad)));
    CHECK(coordinator->Query("tcc-bad")->branches.empty());
  }
}

}  // namespace
}  // namespace dtx
