// libpq, PostgreSQL's own client library, loaded when first used rather than
// when vqueue starts.
//
// Linked normally, libpq adds about 5 ms to every command, SQLite queues
// included: it pulls in Kerberos, LDAP and OpenSSL (a dozen shared libraries
// to map and relocate), and `vqueue submit` and `vqueue status` sit on a web
// request's path. So the binary does not link it: each libpq function the
// queue calls is defined here as a forwarder that opens libpq.so.5 on first
// use and calls the real function. The prototypes come from libpq-fe.h, so a
// forwarder that does not match its function does not compile.
//
// Everything here is hidden, as in CLibAV's loader: the forwarders are not
// exported, so libpq never resolves its own calls to them.

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#pragma GCC visibility push(hidden)
#include "pq_shim.h"

static const char vq_libpq_name[] = "libpq.so.5";
static void *vq_libpq_handle;
static const char *vq_libpq_error;
static pthread_once_t vq_libpq_once = PTHREAD_ONCE_INIT;

static void vq_libpq_open(void) {
    vq_libpq_handle = dlopen(vq_libpq_name, RTLD_NOW | RTLD_LOCAL);
    if (!vq_libpq_handle) vq_libpq_error = dlerror();
}

int vq_libpq_available(const char **error) {
    pthread_once(&vq_libpq_once, vq_libpq_open);
    if (error) *error = vq_libpq_error;
    return vq_libpq_handle != NULL;
}

/// The address of `name` in libpq, opening it the first time. Callers check
/// vq_libpq_available() before connecting, so a missing library here is a
/// broken installation: say which, and stop.
static void *vq_libpq_symbol(const char *name) {
    const char *error = NULL;
    void *symbol = vq_libpq_available(&error) ? dlsym(vq_libpq_handle, name) : NULL;
    if (!symbol) {
        fprintf(stderr, "vqueue: error: cannot load %s from %s (%s); install libpq5\n", name, vq_libpq_name,
                error ? error : dlerror());
        exit(70);
    }
    return symbol;
}

#define VQ_FORWARD(ret, name, params, args)                                            \
    ret name params {                                                                  \
        static ret (*volatile real) params;                                            \
        if (!real) real = (ret (*) params)vq_libpq_symbol(#name);                      \
        return real args;                                                              \
    }

#define VQ_FORWARD_VOID(name, params, args)                                            \
    void name params {                                                                 \
        static void (*volatile real) params;                                           \
        if (!real) real = (void (*) params)vq_libpq_symbol(#name);                     \
        real args;                                                                     \
    }

VQ_FORWARD(PGconn *, PQconnectStartParams, (const char *const *keywords, const char *const *values, int expand_dbname), (keywords, values, expand_dbname))
VQ_FORWARD(PostgresPollingStatusType, PQconnectPoll, (PGconn *conn), (conn))
VQ_FORWARD_VOID(PQfinish, (PGconn *conn), (conn))
VQ_FORWARD(PQconninfoOption *, PQconninfoParse, (const char *conninfo, char **errmsg), (conninfo, errmsg))
VQ_FORWARD(PQconninfoOption *, PQconninfo, (PGconn *conn), (conn))
VQ_FORWARD(PQconninfoOption *, PQconndefaults, (void), ())
VQ_FORWARD_VOID(PQconninfoFree, (PQconninfoOption *connOptions), (connOptions))
VQ_FORWARD(PGcancel *, PQgetCancel, (PGconn *conn), (conn))
VQ_FORWARD_VOID(PQfreeCancel, (PGcancel *cancel), (cancel))
VQ_FORWARD(int, PQcancel, (PGcancel *cancel, char *errbuf, int errbufsize), (cancel, errbuf, errbufsize))
VQ_FORWARD(ConnStatusType, PQstatus, (const PGconn *conn), (conn))
VQ_FORWARD(PGTransactionStatusType, PQtransactionStatus, (const PGconn *conn), (conn))
VQ_FORWARD(char *, PQerrorMessage, (const PGconn *conn), (conn))
VQ_FORWARD(int, PQsocket, (const PGconn *conn), (conn))
VQ_FORWARD(PQnoticeProcessor, PQsetNoticeProcessor, (PGconn *conn, PQnoticeProcessor proc, void *arg), (conn, proc, arg))
VQ_FORWARD(int, PQsendQuery, (PGconn *conn, const char *query), (conn, query))
VQ_FORWARD(int, PQsendQueryParams, (PGconn *conn, const char *command, int nParams, const Oid *paramTypes, const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat), (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat))
VQ_FORWARD(PGresult *, PQgetResult, (PGconn *conn), (conn))
VQ_FORWARD(int, PQisBusy, (PGconn *conn), (conn))
VQ_FORWARD(int, PQconsumeInput, (PGconn *conn), (conn))
VQ_FORWARD(PGnotify *, PQnotifies, (PGconn *conn), (conn))
VQ_FORWARD(int, PQsetnonblocking, (PGconn *conn, int arg), (conn, arg))
VQ_FORWARD(int, PQflush, (PGconn *conn), (conn))
VQ_FORWARD(ExecStatusType, PQresultStatus, (const PGresult *res), (res))
VQ_FORWARD(char *, PQresultErrorMessage, (const PGresult *res), (res))
VQ_FORWARD(char *, PQresultErrorField, (const PGresult *res, int fieldcode), (res, fieldcode))
VQ_FORWARD(int, PQntuples, (const PGresult *res), (res))
VQ_FORWARD(int, PQnfields, (const PGresult *res), (res))
VQ_FORWARD(char *, PQfname, (const PGresult *res, int field_num), (res, field_num))
VQ_FORWARD(Oid, PQftype, (const PGresult *res, int field_num), (res, field_num))
VQ_FORWARD(char *, PQcmdTuples, (PGresult *res), (res))
VQ_FORWARD(char *, PQgetvalue, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num))
VQ_FORWARD(int, PQgetlength, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num))
VQ_FORWARD(int, PQgetisnull, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num))
VQ_FORWARD_VOID(PQclear, (PGresult *res), (res))
VQ_FORWARD_VOID(PQfreemem, (void *ptr), (ptr))

#pragma GCC visibility pop
