# kura: build on Debian (linking Debian's librocksdb), run on a slim Debian
# as an unprivileged user. See compose.yaml and docs/operations.md.
FROM rust:1-bookworm AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends librocksdb-dev libclang-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --bin kura && cp target/release/kura /usr/local/bin/kura

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends librocksdb7.8 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --create-home --shell /usr/sbin/nologin kura
COPY --from=build /usr/local/bin/kura /usr/local/bin/kura
# Settings come from the environment (KURA_*) or a mounted config file
# (KURA_CONFIG=/etc/kura/kura.toml); the environment wins over the file.
ENV KURA_LISTEN=0.0.0.0:9000 \
    KURA_DATA_DIR=/data
USER kura:kura
VOLUME /data
EXPOSE 9000
# Ready = metadata store open, data directory writable, disk above the
# free-space mark. No curl in the image: bash's /dev/tcp does.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9000 && printf 'GET /health/ready HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["kura", "serve"]
