# Multi-stage build: a static binary (migrations are embedded) on a minimal,
# non-root runtime image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/graphdir ./cmd/graphdir

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/graphdir /graphdir
USER nonroot:nonroot
# Prometheus /metrics on its own port; expose it to the monitoring network only.
ENV GRAPHDIR_METRICS_ADDR=:9464
EXPOSE 8080 9464
ENTRYPOINT ["/graphdir"]
CMD ["serve"]
