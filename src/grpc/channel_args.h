// Channel settings of dtx's gRPC clients.
#ifndef DTX_GRPC_CHANNEL_ARGS_H_
#define DTX_GRPC_CHANNEL_ARGS_H_

#include <grpcpp/support/channel_arguments.h>

namespace dtx::internal {

// gRPC's default reconnect backoff grows to two minutes: a branch service or a dtxd
// that restarted would stay unreachable that long. dtx retries on its own schedule,
// so channels reconnect within 100 ms .. 2 s.
inline grpc::ChannelArguments QuickReconnect() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  return args;
}

}  // namespace dtx::internal

#endif  // DTX_GRPC_CHANNEL_ARGS_H_
