/* The Controller's SQL files, embedded at build time (cmake/IofogEmbedSql.cmake turns each
 * controller/sql/<backend>/ directory into one generated C file).
 *
 * One array per database back end, sorted by version, versions unique and above zero. Each file is
 * one schema migration, applied by ctl_db_migrate() in its own transaction, so a file must not
 * contain BEGIN/COMMIT itself. Everything here is static, read-only data. */
#ifndef CTL_SQL_FILES_H
#define CTL_SQL_FILES_H

#include <stddef.h>

struct ctl_sql_file {
    int version;      /* from the file name: 0002_seed.sql -> 2 */
    const char *name; /* the rest of the file name: "seed" */
    const char *sql;  /* the file's text, NUL-terminated */
};

/* One pair per directory below controller/sql/ (a new back end adds its pair here). */

/* controller/sql/sqlite/ */
extern const struct ctl_sql_file ctl_sql_sqlite[];
extern const size_t ctl_sql_sqlite_count;

/* controller/sql/postgres/ */
extern const struct ctl_sql_file ctl_sql_postgres[];
extern const size_t ctl_sql_postgres_count;

#endif
