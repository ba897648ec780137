# The certsmith controller image: `certsmith controller` as a non-root user.
#   docker build -t certsmith:0.1.0 .
# The Deployment in deploy/ runs it with readOnlyRootFilesystem, uid/gid 10001 (as here), all
# capabilities dropped; see docs/deploy.md.

# Build stage: install the project and its dependencies into /install (wheels only, no compiler).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --no-compile --prefix=/install .

FROM python:3.11-slim
LABEL org.opencontainers.image.title="certsmith" \
      org.opencontainers.image.description="The cert-manager API in Python: controllers for a Kubernetes cluster" \
      org.opencontainers.image.licenses="Apache-2.0"
# All bytecode is compiled at build time below: the root filesystem is read-only at run time.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /install /usr/local
# `certsmith install manifests` renders these (found under <prefix>/share/certsmith/deploy).
COPY deploy /usr/local/share/certsmith/deploy
RUN python -m compileall -q /usr/local/lib/python3.11/site-packages \
    && groupadd --system --gid 10001 certsmith \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin certsmith
USER 10001:10001
EXPOSE 9402 9403
ENTRYPOINT ["certsmith"]
CMD ["controller"]
