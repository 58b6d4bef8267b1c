// The SQL files under sql/, compiled in (see schema_sql.cc.in).
#ifndef DTX_SOCI_SCHEMA_SQL_H_
#define DTX_SOCI_SCHEMA_SQL_H_

namespace dtx::internal {

extern const char kSqliteStoreSql[];
extern const char kSqliteBarrierSql[];
extern const char kPostgresStoreSql[];
extern const char kPostgresBarrierSql[];
extern const char kMysqlStoreSql[];
extern const char kMysqlBarrierSql[];

}  // namespace dtx::internal

#endif  // DTX_SOCI_SCHEMA_SQL_H_
