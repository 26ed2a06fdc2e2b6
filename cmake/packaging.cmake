# CPack: a Debian package of what `cmake --install` installs (the binary, the
# man page, the shell completions). From a release build:
#
#   cmake --preset release && cmake --build --preset release
#   cd build/release && cpack -G DEB      # devops-info_<version>_<arch>.deb
#
# tests/package/test_deb.sh builds one, installs it with dpkg -i and removes it
# with dpkg -r.

# The package version is the version the binary reports, less a leading "v";
# Debian versions must start with a digit, so anything else falls back to the
# project version.
string(REGEX REPLACE "^v" "" _deb_version "${DEVOPS_INFO_VERSION}")
if(NOT _deb_version MATCHES "^[0-9][A-Za-z0-9.+~-]*$")
  message(WARNING "DEVOPS_INFO_VERSION '${DEVOPS_INFO_VERSION}' is no Debian version; "
                  "the package takes ${PROJECT_VERSION}")
  set(_deb_version "${PROJECT_VERSION}")
endif()

set(CPACK_PACKAGE_NAME "devops-info")
set(CPACK_PACKAGE_VERSION "${_deb_version}")
set(CPACK_PACKAGE_VENDOR "devops-info maintainers")
set(CPACK_PACKAGE_CONTACT "devops-info maintainers <maintainers@devops-info.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "service, host and runtime facts as JSON, a table or shell variables")
# (No double quotes in it: CPack's generated config does not keep them.)
set(CPACK_PACKAGE_DESCRIPTION [[
devops-info reports the facts a DevOps engineer asks of a host: hostname, OS,
kernel, architecture, CPUs, memory, load, uptime, the user, the container
runtime and the CPU and memory limits that cgroups (v1 or v2) put on the
process. Its info command prints them as JSON, a table or shell variables;
its serve command is an HTTP service with /, /health, /ready and Prometheus
/metrics, which its health command probes, as a container healthcheck.]])
set(CPACK_PACKAGE_HOMEPAGE_URL "${PROJECT_HOMEPAGE_URL}")
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR "DEB")
set(CPACK_SOURCE_GENERATOR "TGZ")
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build/" "__pycache__")

set(CPACK_DEBIAN_PACKAGE_NAME "devops-info")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "utils")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${PROJECT_HOMEPAGE_URL}")
# The shared libraries the binary links (libstdc++, fmt, nghttp2, ...),
# as dpkg-shlibdeps finds them.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
# Directories the package shares with others belong to no one package.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")

include(CPack)
