# devops-info: one static binary in an otherwise empty image.
#
#   docker build -t devops-info:1.2.3 -t devops-info:sha-$(git rev-parse --short=12 HEAD) \
#     --build-arg VERSION=1.2.3 \
#     --build-arg REVISION=$(git rev-parse --short=12 HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker build --target debug -t devops-info:1.2.3-debug .   # the same binary, with a shell
#
# The base is a pinned Debian point release; BASE_IMAGE lets a locally made
# base of the same release stand in where no registry can be reached.
ARG BASE_IMAGE=debian:13.8-slim

# --- build: a static, stripped binary, its unit tests run --------------------
FROM ${BASE_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Packages and the httplib source come before the project's sources, so a
# source change reuses this layer. Debian ships cpp-httplib only as a split
# shared library; its source package has the header-only httplib.h, with
# Debian's security patches applied by `apt-get source`. No version pins: the
# base tag pins the release, and stable updates only carry fixes.
# (python3-minimal: the test tree's CMake wants a Python for its CLI tests.)
RUN sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources \
 && apt-get update -q \
 && apt-get install -y -q --no-install-recommends \
      g++ cmake ninja-build ccache dpkg-dev python3-minimal \
      libcli11-dev libfmt-dev nlohmann-json3-dev catch2 \
 && mkdir -p /opt/httplib-src /opt/httplib \
 && cd /opt/httplib-src \
 && apt-get source -q cpp-httplib \
 && cp cpp-httplib-*/httplib.h /opt/httplib/ \
 && grep -q 'CPPHTTPLIB_VERSION' /opt/httplib/httplib.h \
 && rm -rf /opt/httplib-src \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
# Release build, fully static (header-only fmt and httplib); only the binary
# and the unit tests are built. The check on PT_INTERP fails the build if the
# result is not static after all. ccache, in a cache mount, makes a rebuild
# after a source change recompile only what changed; it keys on content and on
# the compiler, so a stale object cannot slip in.
RUN --mount=type=cache,id=devops-info-ccache,target=/ccache \
    export CCACHE_DIR=/ccache \
 && cmake -S . -B /build -G Ninja \
      -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
      -DCMAKE_BUILD_TYPE=Release \
      -DDEVOPS_INFO_STATIC=ON \
      -DDEVOPS_INFO_HTTPLIB_INCLUDE_DIR=/opt/httplib \
      -DDEVOPS_INFO_VERSION="${VERSION}" \
      -DDEVOPS_INFO_COMMIT="${REVISION}" \
 && cmake --build /build --target devops-info unit_tests \
 && ctest --test-dir /build -R '^unit$' --output-on-failure \
 && strip --strip-all -o /devops-info /build/src/cli/devops-info \
 && if readelf -l /devops-info | grep -q INTERP; then echo 'devops-info is not static' >&2; exit 1; fi \
 && /devops-info --version

# --- debug: the same binary on the same Debian, with a shell -----------------
FROM ${BASE_IMAGE} AS debug
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=""
ARG SOURCE=https://github.com/devops-info/devops-info
LABEL org.opencontainers.image.title="devops-info (debug)" \
      org.opencontainers.image.description="devops-info with a shell and coreutils, for exec-ing into the container" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.created="${CREATED}"
RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
COPY --from=build /devops-info /devops-info
USER 10001:10001
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/devops-info", "health", "--timeout", "2s"]
ENTRYPOINT ["/devops-info"]
CMD ["serve"]

# --- the image: the binary and nothing else (the default target) -------------
FROM scratch AS runtime
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=""
ARG SOURCE=https://github.com/devops-info/devops-info
LABEL org.opencontainers.image.title="devops-info" \
      org.opencontainers.image.description="Service, host and runtime facts as JSON, and an HTTP service on the same core" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /devops-info /devops-info
# Numeric, so no /etc/passwd is needed; the port is above 1024, so no
# capability is either.
USER 10001:10001
EXPOSE 5000
# The binary's own probe of http://127.0.0.1:${PORT:-5000}/health: a numeric
# address, no curl, no name resolution.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/devops-info", "health", "--timeout", "2s"]
# Exec form: the binary is PID 1 and receives SIGTERM from `docker stop`.
ENTRYPOINT ["/devops-info"]
CMD ["serve"]
