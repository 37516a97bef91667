#ifndef VQUEUE_CWEBHOOK_SHIM_H
#define VQUEUE_CWEBHOOK_SHIM_H

// What a webhook delivery needs from two system libraries, both opened on
// first use (see webhook_loader.c): libcurl (Debian's libcurl4, the OpenSSL
// flavour) posts, checking TLS certificates against the system's CA store;
// libcrypto (OpenSSL 3) computes the HMAC-SHA256 signature.

#include <stddef.h>

/// Whether both libraries could be opened, with the error (dlerror) when not.
int vq_webhook_available(const char **error);

/// POSTs `body` to `url` (http or https only; redirects are not followed)
/// with the given header lines ("Name: value"), waiting at most `timeout_ms`
/// in all. Returns 0 and sets `*status` (the HTTP status) when an answer
/// came; otherwise returns curl's error code and writes curl's message to
/// `error`. The answer's body is read and dropped.
int vq_http_post(const char *url, const char *const *headers, int header_count, const char *body,
                 size_t body_length, long timeout_ms, const char *user_agent, long *status, char *error,
                 size_t error_size);

/// HMAC-SHA256 of `data` with `key`, into `out` (32 bytes). Returns 0 on success.
int vq_hmac_sha256(const unsigned char *key, size_t key_length, const unsigned char *data, size_t data_length,
                   unsigned char out[32]);

#endif
