// The coordinator's gRPC API: DTM's dtmgimp.Dtm service (proto/dtmgimp.proto), so that
// DTM's gRPC clients can drive a dtx coordinator.
#ifndef DTX_SERVER_GRPC_API_H_
#define DTX_SERVER_GRPC_API_H_

#include "dtmgimp.grpc.pb.h"
#include "dtx/coordinator.h"
#include "server/api_metrics.h"
#include "server/auth_tokens.h"

namespace dtx {

// NewGid, Submit (answers as Coordinator::Submit, with ONGOING reported as ABORTED
// "wait result not return success" as DTM does), Prepare, Abort and RegisterBranch
// (UNIMPLEMENTED until dtx drives tcc and msg). With a non-empty `tokens`, every call
// wants "authorization: Bearer <token>" metadata (UNAUTHENTICATED otherwise).
// A submit's or prepare's `traceparent` and `tracestate` metadata become the
// transaction's (TransOptions::traceparent). Each answer is counted in `metrics` (may be
// null). `coordinator`, `tokens` and `metrics` are not owned.
class DtmGrpcService final : public dtmgimp::Dtm::Service {
 public:
  explicit DtmGrpcService(Coordinator* coordinator, const AuthTokens* tokens = nullptr,
                          ApiMetrics* metrics = nullptr)
      : coordinator_(coordinator), tokens_(tokens), metrics_(metrics) {}

  grpc::Status NewGid(grpc::ServerContext* context,
                      const google::protobuf::Empty* request,
                      dtmgimp::DtmGidReply* reply) override;
  grpc::Status Submit(grpc::ServerContext* context, const dtmgimp::DtmRequest* request,
                      google::protobuf::Empty* reply) override;
  grpc::Status Prepare(grpc::ServerContext* context, const dtmgimp::DtmRequest* request,
                       google::protobuf::Empty* reply) override;
  grpc::Status Abort(grpc::ServerContext* context, const dtmgimp::DtmRequest* request,
                     google::protobuf::Empty* reply) override;
  grpc::Status RegisterBranch(grpc::ServerContext* context,
                              const dtmgimp::DtmBranchRequest* request,
                              google::protobuf::Empty* reply) override;
  // dtx's own: the HTTP API's query answer (branch header values withheld unless
  // tokens are required, as there).
  grpc::Status Query(grpc::ServerContext* context, const dtmgimp::DtxQueryRequest* request,
                     dtmgimp::DtxQueryReply* reply) override;

 private:
  // OK, or UNAUTHENTICATED when the call lacks a token of the set.
  grpc::Status Admit(const grpc::ServerContext* context) const;
  // Counts `answer` under `method` and returns it.
  grpc::Status Counted(std::string_view method, grpc::Status answer) const;

  Coordinator* coordinator_;
  const AuthTokens* tokens_;
  ApiMetrics* metrics_;
};

}  // namespace dtx

#endif  // DTX_SERVER_GRPC_API_H_
