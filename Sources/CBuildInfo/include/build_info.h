// What this binary is: the package's version (the VERSION file) and the git
// commit it was built from, both set by Package.swift when it is built.
#ifndef VQ_BUILD_INFO_H
#define VQ_BUILD_INFO_H

/// The package's version, e.g. "0.3.0".
const char *vq_build_version(void);
/// The commit built, e.g. "359c40c" or "359c40c+changes"; "" when not built from git.
const char *vq_build_commit(void);

#endif
