#include "dtx/memory_store.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "internal/branch_rows.h"
#include "internal/text_rules.h"

namespace dtx {
namespace {

constexpr size_t kMaxTextColumn = 1024;  // as SociStore clips DTM's varchar(1024)

std::string Clip(const std::string& s) { return internal::Excerpt(s, kMaxTextColumn); }

}  // namespace

bool MemoryStore::Unfinished(const TransGlobal& g) {
  return g.status == kStatusPrepared || g.status == kStatusSubmitted ||
         g.status == kStatusAborting;
}

absl::Status MemoryStore::Create(const TransGlobal& global,
                                 const std::vector<TransBranch>& branches) {
  absl::MutexLock lock(&mu_);
  if (entries_.contains(global.gid)) {
    return absl::AlreadyExistsError("transaction " + global.gid + " exists");
  }
  if (absl::Status s = internal::CheckBranchRows(global.gid, branches); !s.ok()) {
    return s;
  }
  Entry entry{global, branches};
  entry.global.id = next_id_++;
  entry.global.finish_time = entry.global.rollback_time = absl::InfinitePast();
  entry.global.rollback_reason.clear();
  entry.global.result.clear();
  for (TransBranch& b : entry.branches) {
    b.id = next_branch_id_++;
    b.gid = global.gid;
    b.update_time = b.create_time;
    b.finish_time = b.rollback_time = absl::InfinitePast();
  }
  by_id_[entry.global.id] = global.gid;
  entries_.emplace(global.gid, std::move(entry));
  return absl::OkStatus();
}

absl::Status MemoryStore::AddBranches(std::string_view gid,
                                      std::string_view expected_status,
                                      const std::vector<TransBranch>& branches,
                                      size_t max_rows, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(std::string(gid));
  if (it == entries_.end()) {
    return absl::NotFoundError("no transaction " + std::string(gid));
  }
  Entry& entry = it->second;
  if (entry.global.status != expected_status) {
    return absl::AbortedError(absl::StrCat("transaction ", std::string(gid), " is ",
                                           entry.global.status, ", not ",
                                           std::string(expected_status)));
  }
  if (absl::Status s = internal::CheckBranchRows(gid, branches); !s.ok()) return s;
  auto known = [&](const TransBranch& add) {
    return std::any_of(entry.branches.begin(), entry.branches.end(),
                       [&](const TransBranch& b) {
                         return b.branch_id == add.branch_id && b.op == add.op;
                       });
  };
  const size_t added = std::count_if(branches.begin(), branches.end(),
                                     [&](const TransBranch& b) { return !known(b); });
  if (entry.branches.size() + added > max_rows) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "transaction ", std::string(gid), " would hold more than ", max_rows,
        " branch rows"));
  }
  entry.global.update_time = now;
  for (const TransBranch& add : branches) {
    if (known(add)) continue;
    TransBranch& b = entry.branches.emplace_back(add);
    b.id = next_branch_id_++;
    b.gid = std::string(gid);
    b.create_time = b.update_time = now;
    b.finish_time = b.rollback_time = absl::InfinitePast();
  }
  return absl::OkStatus();
}

absl::StatusOr<TransGlobal> MemoryStore::FindGlobal(std::string_view gid) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(std::string(gid));
  if (it == entries_.end())
    return absl::NotFoundError("no transaction " + std::string(gid));
  return it->second.global;
}

absl::StatusOr<std::vector<TransBranch>> MemoryStore::FindBranches(std::string_view gid) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(std::string(gid));
  if (it == entries_.end()) return std::vector<TransBranch>();
  return it->second.branches;
}

absl::Status MemoryStore::Update(std::string_view gid, std::string_view expected_status,
                                 std::string_view expected_owner,
                                 const std::vector<BranchUpdate>& branches,
                                 const GlobalUpdate& u, absl::Time now) {
  if (absl::Status s = internal::CheckBranchResults(gid, branches); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(std::string(gid));
  if (it == entries_.end() || it->second.global.status != expected_status ||
      it->second.global.owner != expected_owner) {
    return absl::AbortedError(absl::StrCat(
        "transaction ", std::string(gid), " is no longer ", std::string(expected_status),
        " and owned by '", std::string(expected_owner), "'"));
  }
  TransGlobal& g = it->second.global;
  g.update_time = now;
  if (u.status) g.status = *u.status;
  if (u.owner) g.owner = *u.owner;
  if (u.next_cron_time) g.next_cron_time = *u.next_cron_time;
  if (u.next_cron_interval) g.next_cron_interval = *u.next_cron_interval;
  if (u.rollback_reason) g.rollback_reason = Clip(*u.rollback_reason);
  if (u.finish_time) g.finish_time = *u.finish_time;
  if (u.rollback_time) g.rollback_time = *u.rollback_time;
  if (u.result) g.result = Clip(*u.result);
  if (u.retry_count) g.retry_count = *u.retry_count;
  for (const BranchUpdate& change : branches) {
    for (TransBranch& b : it->second.branches) {
      if (b.branch_id == change.branch_id && b.op == change.op &&
          b.status == kStatusPrepared) {
        b.status = change.status;
        b.update_time = b.finish_time = now;
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TransGlobal>> MemoryStore::ClaimDue(absl::Time now,
                                                               absl::Time lease_until,
                                                               std::string_view owner,
                                                               int limit) {
  absl::MutexLock lock(&mu_);
  std::vector<TransGlobal*> due;
  for (auto& [gid, entry] : entries_) {
    if (Unfinished(entry.global) && entry.global.next_cron_time <= now) {
      due.push_back(&entry.global);
    }
  }
  std::sort(due.begin(), due.end(), [](const TransGlobal* a, const TransGlobal* b) {
    return a->next_cron_time < b->next_cron_time;
  });
  if (static_cast<int>(due.size()) > limit) due.resize(std::max(0, limit));
  std::vector<TransGlobal> claimed;
  for (TransGlobal* g : due) {
    std::string previous = std::exchange(g->owner, std::string(owner));
    g->next_cron_time = lease_until;
    g->update_time = now;
    claimed.push_back(*g);
    claimed.back().taken_from = std::move(previous);
  }
  return claimed;
}

absl::StatusOr<std::vector<TransGlobal>> MemoryStore::List(int64_t before_id,
                                                           std::string_view status,
                                                           std::string_view trans_type,
                                                           int limit) {
  absl::MutexLock lock(&mu_);
  std::vector<TransGlobal> out;
  auto end = before_id > 0 ? by_id_.lower_bound(before_id) : by_id_.end();
  for (auto it = std::make_reverse_iterator(end);
       it != by_id_.rend() && static_cast<int>(out.size()) < limit; ++it) {
    const TransGlobal& g = entries_.at(it->second).global;
    if ((status.empty() || g.status == status) &&
        (trans_type.empty() || g.trans_type == trans_type)) {
      out.push_back(g);
    }
  }
  return out;
}

absl::StatusOr<int64_t> MemoryStore::CountUnfinished(absl::Time created_before) {
  absl::MutexLock lock(&mu_);
  int64_t n = 0;
  for (const auto& [gid, entry] : entries_) {
    if (Unfinished(entry.global) && entry.global.create_time < created_before) ++n;
  }
  return n;
}

absl::StatusOr<std::vector<TransGlobal>> MemoryStore::ListUnfinished(
    absl::Time created_before, int limit) {
  absl::MutexLock lock(&mu_);
  std::vector<TransGlobal> out;
  for (const auto& [gid, entry] : entries_) {
    if (Unfinished(entry.global) && entry.global.create_time < created_before) {
      out.push_back(entry.global);
    }
  }
  std::sort(out.begin(), out.end(), [](const TransGlobal& a, const TransGlobal& b) {
    return a.create_time < b.create_time;
  });
  if (static_cast<int>(out.size()) > limit) out.resize(std::max(0, limit));
  return out;
}

absl::StatusOr<int> MemoryStore::DeleteFinished(absl::Time finished_before, int limit) {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<absl::Time, std::string>> ended;
  for (const auto& [gid, entry] : entries_) {
    const TransGlobal& g = entry.global;
    if ((g.status == kStatusSucceed || g.status == kStatusFailed) &&
        g.finish_time < finished_before) {
      ended.emplace_back(g.finish_time, gid);
    }
  }
  std::sort(ended.begin(), ended.end());
  if (static_cast<int>(ended.size()) > limit) ended.resize(std::max(0, limit));
  for (const auto& [time, gid] : ended) {
    by_id_.erase(entries_.at(gid).global.id);
    entries_.erase(gid);
  }
  return static_cast<int>(ended.size());
}

}  // namespace dtx
