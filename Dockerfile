# devops-info: one static binary in an otherwise empty image.
#
#   docker build -t devops-info:1.2.3 -t devops-info:sha-$(git rev-parse --short=12 HEAD) \
#     --build-arg VERSION=1.2.3 \
#     --build-arg REVISION=$(git rev-parse --short=12 HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker build --target debug ...      # the same binary plus a static busybox
#   podman build --platform linux/arm64 ...   # cross-compiled, no emulation
#
# Plain Dockerfile syntax only (no RUN --mount): Docker's legacy builder
# (Docker 20.10 without BuildKit), BuildKit and buildah all build it.
#
# The base is a pinned Debian point release; BASE_IMAGE lets a locally made
# base of the same release stand in where no registry can be reached. Only the
# build stage uses it, always on the machine's own architecture: the images
# themselves start FROM scratch, so an arm64 image needs no arm64 base.
#
# Debian 12 (bookworm, security-supported until June 2028): its static
# OpenSSL 3.0 keeps the image at 7.5 MB. The same Dockerfile builds on Debian
# 13 (--build-arg BASE_IMAGE=debian:13.8-slim): OpenSSL 3.5 brings hybrid
# post-quantum key exchange (X25519MLKEM768) and QUIC code the binary does
# not use, and links zlib and zstd, for a 10.6 MB image (docs/tls.md).
ARG BASE_IMAGE=debian:12.15-slim
ARG BUILDPLATFORM

# --- build: a static, stripped binary, compiled one library per layer -------
# BuildKit sets BUILDPLATFORM (this machine's platform) and TARGETARCH (the
# image's, from `--platform`). Docker's legacy builder sets neither, and
# buildah before 1.29 (podman 4.3, Debian 12) only TARGETARCH: the build stage
# then runs on linux/amd64; on an arm64 machine with those builders, pass
# `--build-arg BUILDPLATFORM=linux/arm64`. An empty TARGETARCH means "the
# build stage's own".
#
# The layers follow the libraries' dependency order, so a change rebuilds its
# own library and those above it, and reuses the rest: packages and
# third-party sources, the target's toolchain and libfmt, then src/deps,
# src/core, src/serve and src/cli (scripts/image-layer.sh). No tests run here:
# CI runs them on the same commit; this stage checks that the binary is
# static and answers --version.
FROM --platform=${BUILDPLATFORM:-linux/amd64} ${BASE_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Packages and third-party sources come before the project's sources, so a
# source change reuses this layer. Debian ships libfmt without a static
# archive: its source package (`apt-get source`, with Debian's patches
# applied) gives fmt's sources, built below. The download directory belongs to
# _apt, which apt downloads as. No version pins: the base tag pins the
# release, and stable updates only carry fixes. (busybox-static: the debug
# image's tools.)
RUN sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources \
 && apt-get update -q \
 && apt-get install -y -q --no-install-recommends \
      g++ cmake ninja-build dpkg-dev busybox-static \
      libcli11-dev libfmt-dev nlohmann-json3-dev libboost-dev libnghttp2-dev libssl-dev zlib1g-dev libzstd-dev \
 && mkdir -p /opt/src && chown _apt /opt/src && cd /opt/src \
 && apt-get source -q fmtlib \
 && mv fmtlib-*/ /opt/fmt-src && test -f /opt/fmt-src/src/format.cc \
 && cd / && rm -rf /opt/src \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

# The target's toolchain: for another architecture its cross compiler, its
# nghttp2 (the static archive the binary links) and its busybox-static (the
# layer above is shared by both), then a static libfmt
# for it, from the source above. Nothing of the project's yet.
ARG TARGETARCH
RUN native=$(dpkg --print-architecture) && arch=${TARGETARCH:-$native} && cxx=g++ && cross=() \
 && if [ "$arch" != "$native" ]; then \
      gnu=$(dpkg-architecture -qDEB_HOST_GNU_TYPE -a"$arch") && cxx="$gnu-g++" \
      && cross=(-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR="$(dpkg-architecture -qDEB_HOST_GNU_CPU -a"$arch")") \
      && dpkg --add-architecture "$arch" \
      && apt-get update -q \
      && apt-get install -y -q --no-install-recommends "g++-$gnu" "libnghttp2-dev:$arch" "libssl-dev:$arch" "zlib1g-dev:$arch" "libzstd-dev:$arch" \
      && mkdir -p /opt/cross && chown _apt /opt/cross && cd /opt/cross \
      && apt-get download -q "busybox-static:$arch" \
      && dpkg-deb -x busybox-static_*.deb /opt/cross/busybox \
      && rm busybox-static_*.deb \
      && apt-get clean \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && cmake -S /opt/fmt-src -B /tmp/fmt -G Ninja "${cross[@]}" -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_BUILD_TYPE=Release -DFMT_DOC=OFF -DFMT_TEST=OFF -DFMT_INSTALL=ON \
      -DCMAKE_INSTALL_PREFIX=/opt/fmt -DCMAKE_INSTALL_LIBDIR=lib >/dev/null \
 && cmake --build /tmp/fmt --parallel "$(nproc)" \
 && cmake --install /tmp/fmt >/dev/null \
 && rm -rf /tmp/fmt \
 && test -f /opt/fmt/lib/libfmt.a
# The debug image's file system: busybox (static, of the target architecture)
# with the applets a shell session needs, and an /etc/passwd naming the user.
RUN bb=/usr/bin/busybox \
 && if [ -d /opt/cross/busybox ]; then bb=$(find /opt/cross/busybox -name busybox -type f | head -n 1); fi \
 && mkdir -p /debugfs/bin /debugfs/etc /debugfs/tmp \
 && chmod 1777 /debugfs/tmp \
 && cp "$bb" /debugfs/bin/busybox \
 && for a in sh ash cat chmod cp date df du echo env false free grep head hostname id kill \
             less ls mkdir mv netstat nslookup printenv ps pwd rm sed sha256sum sleep sort \
             stat tail top touch tr true uname uptime vi wc wget which whoami; do \
      ln -s busybox "/debugfs/bin/$a"; \
    done \
 && ln -s /devops-info /debugfs/bin/devops-info \
 && printf 'root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001:app:/nonexistent:/bin/sh\n' > /debugfs/etc/passwd \
 && printf 'root:x:0:\napp:x:10001:\n' > /debugfs/etc/group

# The project, one library per layer. Fixed paths (/src, /build).
COPY scripts/image-layer.sh /usr/local/bin/image-layer
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY src/deps/ src/deps/
RUN image-layer deps devops_deps
COPY src/core/ src/core/
RUN image-layer core devops_core
COPY src/serve/ src/serve/
RUN image-layer serve devops_serve_layers
COPY src/cli/ src/cli/
# Only the last layer sees the version: a new tag recompiles one file.
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
RUN image-layer cli devops-info /devops-info

# --- debug: the same binary with a static busybox (distroless style) ---------
# No ENTRYPOINT, so a command runs as given (`docker run --rm IMAGE id -u`);
# without one it serves, as the default image does.
FROM scratch AS debug
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=""
ARG SOURCE=https://github.com/devops-info/devops-info
LABEL org.opencontainers.image.title="devops-info (debug)" \
      org.opencontainers.image.description="devops-info with a static busybox (sh, id, env, cat, ps, wget, nslookup), for exec-ing into the container" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /debugfs/ /
COPY --from=build /devops-info /devops-info
ENV PATH=/bin
USER 10001:10001
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/devops-info", "health", "--timeout", "2s"]
CMD ["/devops-info", "serve"]

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
