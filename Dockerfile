# builder_cli and metrics-gateway in a small runtime image (used by
# monitoring/docker-compose.yml).
#   docker build -t builder-cli .
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p builder-cli --bin builder_cli \
    && cargo build --release --locked -p metrics-gateway --bin metrics-gateway

FROM debian:bookworm-slim
# Job steps are shell commands: coreutils and bash come with the base image.
RUN useradd --system --create-home --home-dir /var/lib/builder builder \
    && mkdir -p /var/lib/builder/runs /var/lib/builder/state /var/lib/builder/gateway \
    && chown builder /var/lib/builder/runs /var/lib/builder/state /var/lib/builder/gateway
COPY --from=build /src/target/release/builder_cli /usr/local/bin/builder_cli
COPY --from=build /src/target/release/metrics-gateway /usr/local/bin/metrics-gateway
COPY jobs /app/jobs
USER builder
WORKDIR /var/lib/builder
EXPOSE 9099 9110
ENTRYPOINT ["builder_cli"]
CMD ["--help"]
