# scalingo-db-fake as a docker-compose test dependency.
#
#   docker build -t scalingo-db-fake .
#   docker run --rm -p 8080:8080 scalingo-db-fake
#
# Configured by environment variables (see README: BIND, PORT, FIXTURES,
# DB_BEARER_TOKEN, SEED, CLOCK, …). The health check uses the binary's own
# `healthcheck` subcommand, so the image needs no curl.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src ./src
COPY fixtures ./fixtures
COPY benches ./benches
RUN cargo build --release --locked --bin scalingo-db-fake

FROM debian:bookworm-slim
COPY --from=build /src/target/release/scalingo-db-fake /usr/local/bin/scalingo-db-fake
COPY fixtures /fixtures
ENV BIND=0.0.0.0 \
    PORT=8080 \
    LOG=info
EXPOSE 8080
USER 65534:65534
HEALTHCHECK --interval=2s --timeout=2s --start-period=1s --retries=10 \
    CMD ["scalingo-db-fake", "healthcheck"]
ENTRYPOINT ["scalingo-db-fake"]
