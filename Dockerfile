# jenkins-sidecar: slim, non-root, gunicorn serving create_app (via `jenkins-sidecar serve`).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY sidecar ./sidecar
COPY jenkinsfile_templates ./jenkinsfile_templates
COPY podtemplates ./podtemplates
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/jenkins-sidecar --create-home sidecar
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# The templates are data users may replace: mount your own copies over these paths.
COPY jenkinsfile_templates /etc/jenkins-sidecar/jenkinsfile_templates
COPY podtemplates /etc/jenkins-sidecar/podtemplates
ENV SIDECAR_JENKINSFILE_TEMPLATES_DIR=/etc/jenkins-sidecar/jenkinsfile_templates \
    SIDECAR_PODTEMPLATES_DIR=/etc/jenkins-sidecar/podtemplates \
    SIDECAR_DATABASE_URL=sqlite:////var/lib/jenkins-sidecar/sidecar.db \
    SIDECAR_BIND=0.0.0.0:8080 \
    PYTHONUNBUFFERED=1
USER 10001
WORKDIR /var/lib/jenkins-sidecar
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
ENTRYPOINT ["jenkins-sidecar"]
CMD ["serve"]
