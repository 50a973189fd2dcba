# rtlat in a container: a build stage compiles the addon and the TypeScript, a runtime stage keeps only
# what `rtlat` needs to run. The base image is a build argument: any Debian-based image with Node >= 20.17
# (and npm) in it, e.g. the official node:20-bookworm-slim, or a local one where nothing can be pulled
# (scripts/make-base-image.sh makes one).
#
#   podman build -t rtlat .          (or docker build; --build-arg BASE_IMAGE=...)
#   podman run --rm --cap-add SYS_NICE --cap-add IPC_LOCK --ulimit rtprio=99 --ulimit memlock=-1 \
#     --device /dev/cpu_dma_latency --cpuset-cpus 2-3 rtlat measure --duration 1m
#
# A container shares the host's kernel: what it measures is the host's scheduling of the container's
# CPUs, under the container's limits (README: "Containers").
ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BASE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies first, so that a change to the sources reuses this layer. Install scripts run below,
# once the sources they build are here. Behind a TLS-intercepting proxy, give npm its CA bundle as a
# build secret (it stays out of the image): --secret id=ca-certificates,src=/etc/ssl/certs/ca-certificates.crt
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=ca-certificates,required=false \
    if [ -f /run/secrets/ca-certificates ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certificates; fi \
 && npm ci --ignore-scripts --no-audit --no-fund
COPY binding.gyp tsconfig.json tsconfig.build.json ./
COPY native native
COPY src src
COPY bin bin
# node-gyp takes Node's headers from the running node's prefix instead of downloading them.
RUN export npm_config_nodedir="$(node -p 'require("path").resolve(process.execPath, "../..")')" \
 && npx node-gyp rebuild \
 && npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf build/Release/obj.target build/Release/.deps

FROM ${BASE_IMAGE}
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/bin bin
COPY --from=build /app/dist dist
COPY --from=build /app/build/Release build/Release
COPY --from=build /app/node_modules node_modules
RUN ln -s /app/bin/rtlat /usr/local/bin/rtlat
ENTRYPOINT ["rtlat"]
CMD ["--help"]
