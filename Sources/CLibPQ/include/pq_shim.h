#ifndef VQUEUE_CLIBPQ_SHIM_H
#define VQUEUE_CLIBPQ_SHIM_H

// PostgreSQL's client library, libpq, from Debian's libpq-dev (headers) and
// libpq5 (the library, opened on first use: see libpq_loader.c).
#include <postgresql/libpq-fe.h>

/// Type OIDs of the values the queue reads and binds (pg_type.h is a server
/// header, so the few numbers are written here).
enum {
    VQ_PG_BOOL = 16,
    VQ_PG_INT8 = 20,
    VQ_PG_INT2 = 21,
    VQ_PG_INT4 = 23,
    VQ_PG_TEXT = 25,
    VQ_PG_OID = 26,
    VQ_PG_FLOAT4 = 700,
    VQ_PG_FLOAT8 = 701,
    VQ_PG_VARCHAR = 1043,
    VQ_PG_NUMERIC = 1700,
};

/// Whether libpq could be opened, with its error (dlerror) when not; the
/// forwarders below stop the process if called without it.
int vq_libpq_available(const char **error);

#endif
