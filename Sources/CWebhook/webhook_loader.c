// libcurl and libcrypto, opened when the first webhook is delivered rather
// than when vqueue starts, as libav and libpq are (see libpq_loader.c for
// why: `vqueue submit` sits on a web request's path, and every shared library
// linked is paid for by every command).
//
// libcurl, not AsyncHTTPClient: curl is the system's, kept up to date by
// Debian's security updates, checks certificates against the system's CA
// store (ca-certificates) through the system's OpenSSL, and brings no TLS
// library of its own into the build. The HMAC is OpenSSL's, never written
// here.
//
// Each function taken is named once, in a VQ_TAKE line (dist/deb/depends.sh
// reads them to compute the package's dependencies).

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#pragma GCC visibility push(hidden)
#include "webhook_shim.h"

static const char vq_name_CURL[] = "libcurl.so.4";
static const char vq_name_CRYPTO[] = "libcrypto.so.3";

static struct {
    CURLcode (*curl_global_init)(long flags);
    CURL *(*curl_easy_init)(void);
    CURLcode (*curl_easy_setopt)(CURL *curl, CURLoption option, ...);
    CURLcode (*curl_easy_perform)(CURL *curl);
    CURLcode (*curl_easy_getinfo)(CURL *curl, CURLINFO info, ...);
    void (*curl_easy_cleanup)(CURL *curl);
    const char *(*curl_easy_strerror)(CURLcode code);
    struct curl_slist *(*curl_slist_append)(struct curl_slist *list, const char *string);
    void (*curl_slist_free_all)(struct curl_slist *list);
    const EVP_MD *(*EVP_sha256)(void);
    unsigned char *(*HMAC)(const EVP_MD *evp_md, const void *key, int key_len, const unsigned char *data,
                           size_t data_len, unsigned char *md, unsigned int *md_len);
} vq_lib;

static const char *vq_webhook_error;
static char vq_webhook_error_text[512];
static pthread_once_t vq_webhook_once = PTHREAD_ONCE_INIT;

static int vq_take(void *handle, const char *library, const char *name, void **slot) {
    *slot = dlsym(handle, name);
    if (!*slot) {
        snprintf(vq_webhook_error_text, sizeof vq_webhook_error_text, "%s has no %s", library, name);
        vq_webhook_error = vq_webhook_error_text;
    }
    return *slot != NULL;
}

#define VQ_TAKE(LIB, name) ok = ok && vq_take(vq_handle_##LIB, vq_name_##LIB, #name, (void **)&vq_lib.name)

static void vq_webhook_open(void) {
    void *vq_handle_CURL = dlopen(vq_name_CURL, RTLD_NOW | RTLD_LOCAL);
    void *vq_handle_CRYPTO = vq_handle_CURL ? dlopen(vq_name_CRYPTO, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!vq_handle_CURL || !vq_handle_CRYPTO) {
        snprintf(vq_webhook_error_text, sizeof vq_webhook_error_text, "%s", dlerror());
        vq_webhook_error = vq_webhook_error_text;
        return;
    }
    int ok = 1;
VQ_TAKE(CURL, curl_global_init);
VQ_TAKE(CURL, curl_easy_init);
VQ_TAKE(CURL, curl_easy_setopt);
VQ_TAKE(CURL, curl_easy_perform);
VQ_TAKE(CURL, curl_easy_getinfo);
VQ_TAKE(CURL, curl_easy_cleanup);
VQ_TAKE(CURL, curl_easy_strerror);
VQ_TAKE(CURL, curl_slist_append);
VQ_TAKE(CURL, curl_slist_free_all);
VQ_TAKE(CRYPTO, EVP_sha256);
VQ_TAKE(CRYPTO, HMAC);
    if (ok && vq_lib.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        vq_webhook_error = "curl_global_init failed";
        ok = 0;
    }
    if (!ok) vq_lib.curl_easy_init = NULL;
}

int vq_webhook_available(const char **error) {
    pthread_once(&vq_webhook_once, vq_webhook_open);
    if (error) *error = vq_webhook_error;
    return vq_webhook_error == NULL;
}

/// The answer's body: read and dropped.
static size_t vq_discard(char *data, size_t size, size_t count, void *user) {
    (void)data;
    (void)user;
    return size * count;
}

int vq_http_post(const char *url, const char *const *headers, int header_count, const char *body,
                 size_t body_length, long timeout_ms, const char *user_agent, long *status, char *error,
                 size_t error_size) {
    const char *unavailable = NULL;
    if (!vq_webhook_available(&unavailable)) {
        snprintf(error, error_size, "cannot load libcurl/libcrypto (%s); install libcurl4",
                 unavailable ? unavailable : "unknown error");
        return CURLE_FAILED_INIT;
    }
    CURL *curl = vq_lib.curl_easy_init();
    if (!curl) {
        snprintf(error, error_size, "curl_easy_init failed");
        return CURLE_FAILED_INIT;
    }
    struct curl_slist *list = NULL;
    for (int i = 0; i < header_count; i++) list = vq_lib.curl_slist_append(list, headers[i]);
    // No "Expect: 100-continue" wait (a second per delivery on servers that ignore it).
    list = vq_lib.curl_slist_append(list, "Expect:");
    char message[CURL_ERROR_SIZE] = "";
    // http and https only, or nothing (a libcurl older than 7.85 lacks the option).
    if (vq_lib.curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK) {
        snprintf(error, error_size, "libcurl 7.85 or later is needed (CURLOPT_PROTOCOLS_STR)");
        vq_lib.curl_easy_cleanup(curl);
        vq_lib.curl_slist_free_all(list);
        return CURLE_UNKNOWN_OPTION;
    }
    vq_lib.curl_easy_setopt(curl, CURLOPT_URL, url);
    vq_lib.curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    vq_lib.curl_easy_setopt(curl, CURLOPT_POST, 1L);
    vq_lib.curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    vq_lib.curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_length);
    vq_lib.curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    vq_lib.curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent);
    vq_lib.curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    vq_lib.curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    vq_lib.curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, vq_discard);
    vq_lib.curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, message);
    vq_lib.curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    vq_lib.curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    CURLcode code = vq_lib.curl_easy_perform(curl);
    if (code == CURLE_OK) {
        vq_lib.curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    } else {
        snprintf(error, error_size, "%s", message[0] ? message : vq_lib.curl_easy_strerror(code));
    }
    vq_lib.curl_easy_cleanup(curl);
    vq_lib.curl_slist_free_all(list);
    return code;
}

int vq_hmac_sha256(const unsigned char *key, size_t key_length, const unsigned char *data, size_t data_length,
                   unsigned char out[32]) {
    if (!vq_webhook_available(NULL) || key_length > 0x7fffffff) return -1;
    unsigned int length = 0;
    if (!vq_lib.HMAC(vq_lib.EVP_sha256(), key, (int)key_length, data, data_length, out, &length)) return -1;
    return length == 32 ? 0 : -1;
}
