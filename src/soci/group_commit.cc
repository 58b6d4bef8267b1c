#include "soci/group_commit.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace dtx::internal {
namespace {

// How many times a write runs when the database keeps choosing it as a deadlock victim.
constexpr int kDeadlockAttempts = 3;

}  // namespace

absl::Status GroupCommit::WriteAlone(const Op& op, const std::string& what,
                                     bool one_statement, const Piped* piped) {
  ++writes;
  ++commits;
  group_sizes.Observe(1);
  if (piped != nullptr) {
    Pending alone{&op, &what, one_statement, piped, absl::OkStatus(), false};
    absl::Status failure;
    return WritePiped({&alone}, what, &failure) ? alone.result : failure;
  }
  Lease lease(*this);
  // A deadlock victim is rolled back whole: run again, a few times.
  for (int attempt = 1;; ++attempt) {
    try {
      if (one_statement) {
        return op(lease);  // autocommit: the statement commits (durably) on its own
      }
      LocalTransaction tx(lease.sql(), dialect);
      absl::Status s = op(lease);
      if (s.ok()) tx.Commit();
      return s;
    } catch (const std::exception& e) {
      if (attempt < kDeadlockAttempts && IsDeadlockVictim(e)) {
        lease.ForgetStatements();  // prepared again, from a clean state
        continue;
      }
      return lease.Failed(what, e);
    }
  }
}

absl::Status GroupCommit::Write(Op op, const std::string& what, bool one_statement,
                                const Piped* piped, bool lazy) {
  if (!group_commit) return WriteAlone(op, what, one_statement, piped);
  Pending pending{&op, &what, one_statement, piped, absl::OkStatus(), false};
  std::vector<Pending*> company;  // lazy writes that waited for this one
  {
    absl::MutexLock lock(&mu);
    if (stopping) return absl::UnavailableError("store is closing");
    // Alone right now (but for lazy writes waiting for company): write on this thread,
    // taking those along, and spare the hand-over to a writer.
    const bool alone = !lazy && in_flight == static_cast<int>(lazy_queued);
    ++in_flight;
    if (!alone) {
      if (lazy) {
        pending.lazy = true;
        pending.due = absl::Now() + lazy_wait;
        ++lazy_queued;
      }
      queue.push_back(&pending);
      mu.Await(absl::Condition(&pending.done));
      --in_flight;
      return pending.result;
    }
    ++writing_alone;
    Take(company, max_batch - 1);
  }
  absl::Status result;
  if (company.empty()) {
    result = WriteAlone(op, what, one_statement, piped);
  } else {
    company.push_back(&pending);
    Commit(company);
    company.pop_back();
    result = pending.result;
  }
  std::vector<Deferred*> deferred;
  {
    absl::MutexLock lock(&mu);
    --in_flight;
    --writing_alone;
    Complete(company, deferred);
  }
  Answer(deferred);
  return result;
}

void GroupCommit::WriteDeferred(std::unique_ptr<Deferred> write) {
  const Piped* piped = write->piped ? &*write->piped : nullptr;
  if (!group_commit) {
    absl::Status s = WriteAlone(write->op, write->what, write->one_statement, piped);
    std::move(write->done)(std::move(s));
    return;
  }
  Pending& p = write->pending;
  p.op = &write->op;
  p.what = &write->what;
  p.one_statement = write->one_statement;
  p.piped = piped;
  p.lazy = true;
  p.deferred = write.get();
  {
    absl::MutexLock lock(&mu);
    if (!stopping) {
      p.due = absl::Now() + lazy_wait;
      ++in_flight;
      ++lazy_queued;
      queue.push_back(&p);
      write.release();  // owned by the queue until answered
      return;
    }
  }
  std::move(write->done)(absl::UnavailableError("store is closing"));
}

void GroupCommit::Complete(const std::vector<Pending*>& batch,
                           std::vector<Deferred*>& deferred) {
  for (Pending* p : batch) {
    if (p->deferred != nullptr) {
      --in_flight;  // nobody waits to count it out
      deferred.push_back(p->deferred);
    } else {
      p->done = true;  // its caller may go on, and take p with it
    }
  }
}

void GroupCommit::Answer(std::vector<Deferred*>& deferred) {
  for (Deferred* d : deferred) {
    std::unique_ptr<Deferred> owned(d);
    std::move(owned->done)(owned->pending.result);
  }
  deferred.clear();
}

void GroupCommit::Take(std::vector<Pending*>& batch, size_t max) {
  while (!queue.empty() && batch.size() < max) {
    if (queue.front()->lazy) --lazy_queued;
    batch.push_back(queue.front());
    queue.pop_front();
  }
}

bool GroupCommit::Ready() const {
  if (stopping) return true;
  if (queue.empty() || (one_writer && writing_alone > 0)) return false;
  // Lazy writes alone wait for company until the first of them is due.
  return queue.size() > lazy_queued || absl::Now() >= queue.front()->due;
}

absl::Time GroupCommit::LazyDeadline() const {
  // No deadline while a write alone holds SQLite's lock: its end wakes the writer.
  if (queue.empty() || queue.size() > lazy_queued || (one_writer && writing_alone > 0)) {
    return absl::InfiniteFuture();
  }
  return queue.front()->due;
}

void GroupCommit::WriterLoop() {
  while (true) {
    std::vector<Pending*> batch;
    {
      absl::MutexLock lock(&mu);
      while (!Ready()) {
        // Woken by a change of the queue or of writing_alone, or when the first lazy
        // write is due, or by a lazy write due before the deadline slept on.
        struct Wake {
          GroupCommit* impl;
          absl::Time deadline;
        } wake{this, LazyDeadline()};
        mu.AwaitWithDeadline(
            absl::Condition(
                +[](Wake* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {  // mu is held
                  return w->impl->Ready() || w->impl->LazyDeadline() < w->deadline;
                },
                &wake),
            wake.deadline);
      }
      if (queue.empty()) return;  // stopping, all written
      Take(batch, max_batch);
    }
    Commit(batch);
    std::vector<Deferred*> deferred;
    {
      absl::MutexLock lock(&mu);
      Complete(batch, deferred);
    }
    Answer(deferred);
  }
}

void GroupCommit::Commit(const std::vector<Pending*>& batch) {
  if (batch.size() == 1) {  // nothing to share the commit with
    Pending* p = batch.front();
    p->result = WriteAlone(*p->op, *p->what, p->one_statement, p->piped);
    return;
  }
  writes += static_cast<int64_t>(batch.size());
  ++commits;
  bool failed = false;
  const bool piped = std::all_of(batch.begin(), batch.end(),
                                 [](const Pending* p) { return p->piped != nullptr; });
  if (piped) {
    absl::Status ignored;  // each write is tried alone next, and says its own
    failed = !WritePiped(batch, "group commit", &ignored);
  } else {
    Lease lease(*this);
    try {
      LocalTransaction tx(lease.sql(), dialect);
      for (Pending* p : batch) p->result = (*p->op)(lease);
      tx.Commit();
    } catch (const std::exception& e) {
      (void)lease.Failed("group commit", e).ok();
      failed = true;
    }
  }
  if (!failed) group_sizes.Observe(static_cast<double>(batch.size()));
  if (failed) {  // one op broke the shared transaction: each alone, so it fails alone
    writes -= static_cast<int64_t>(batch.size());  // counted again, alone
    for (Pending* p : batch) {
      p->result = WriteAlone(*p->op, *p->what, p->one_statement, p->piped);
    }
  }
}

bool GroupCommit::WritePiped(const std::vector<Pending*>& batch, const std::string& what,
                             absl::Status* failure) {
  Lease lease(*this);
  try {
    StoreStatements& statements = lease.statements();
    PgPipeline pipe(lease.sql());
    for (Pending* p : batch) p->piped->send(statements, pipe);
    pipe.Sync();
    bool failed = false;
    std::string first_error;
    for (Pending* p : batch) {
      std::string error;
      std::optional<absl::Status> result = p->piped->read(statements, pipe, &error);
      if (result) {
        p->result = *std::move(result);
      } else if (!failed) {
        failed = true;
        first_error = error.empty() ? "a pipelined statement failed" : error;
      }
    }
    pipe.Finish();
    if (!failed) {
      ++pipelined_commits;
      return true;
    }
    lease.ForgetStatements();  // the failed statement may have been a Prepare
    *failure = absl::UnavailableError(absl::StrCat(what, ": ", first_error));
    return false;
  } catch (const std::exception& e) {
    *failure = lease.Failed(what, e);
    return false;
  }
}

}  // namespace dtx::internal
