#include "build_info.h"

#ifndef VQ_VERSION
#define VQ_VERSION "unknown"
#endif
#ifndef VQ_COMMIT
#define VQ_COMMIT ""
#endif

const char *vq_build_version(void) { return VQ_VERSION; }
const char *vq_build_commit(void) { return VQ_COMMIT; }
