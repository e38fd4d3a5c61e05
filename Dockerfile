# jenkins-sidecar: slim (python slim image, runtime dependencies only, no compiler, no
# pip cache), non-root (uid 10001), `jenkins-sidecar serve` as the entry point. The port,
# user and paths here are the ones deploy/ uses; tests/test_dockerfile.py holds them equal.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY sidecar ./sidecar
COPY jenkinsfile_templates ./jenkinsfile_templates
COPY podtemplates ./podtemplates
# One virtual environment with the package and its runtime dependencies; the templates
# ship inside it (share/jenkins-sidecar), where the service finds them.
RUN python -m venv /opt/jenkins-sidecar \
 && /opt/jenkins-sidecar/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 sidecar \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/jenkins-sidecar \
    --create-home --shell /usr/sbin/nologin sidecar
COPY --from=build /opt/jenkins-sidecar /opt/jenkins-sidecar
ENV PATH=/opt/jenkins-sidecar/bin:$PATH \
    SIDECAR_BIND=0.0.0.0:8080 \
    SIDECAR_DATABASE_URL=sqlite:////var/lib/jenkins-sidecar/sidecar.db \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/jenkins-sidecar
EXPOSE 8080
# Probes the port SIDECAR_BIND names, so a container given another address is still probed.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['SIDECAR_BIND'].rsplit(':', 1)[1] + '/healthz', timeout=2)"]
ENTRYPOINT ["jenkins-sidecar"]
CMD ["serve"]
