# kura: build on Debian (linking Debian's librocksdb), run on a slim Debian.
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
 && useradd --system --home /data --create-home kura
COPY --from=build /usr/local/bin/kura /usr/local/bin/kura
USER kura
VOLUME /data
EXPOSE 9000
ENTRYPOINT ["kura", "serve", "--listen", "0.0.0.0:9000", "--data-dir", "/data"]
