// Debian's abseil has no status_macros.h; these are the two dtx uses.
#ifndef DTX_INTERNAL_STATUS_MACROS_H_
#define DTX_INTERNAL_STATUS_MACROS_H_

#define DTX_CONCAT_INNER_(a, b) a##b
#define DTX_CONCAT_(a, b) DTX_CONCAT_INNER_(a, b)

#define DTX_RETURN_IF_ERROR(expr)                                                 \
  do {                                                                            \
    if (absl::Status dtx_status_ = (expr); !dtx_status_.ok()) return dtx_status_; \
  } while (0)

#define DTX_ASSIGN_OR_RETURN(lhs, expr) \
  DTX_ASSIGN_OR_RETURN_IMPL_(DTX_CONCAT_(dtx_statusor_, __LINE__), lhs, expr)
#define DTX_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                               \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()

#endif  // DTX_INTERNAL_STATUS_MACROS_H_
