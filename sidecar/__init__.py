"""jenkins-sidecar: YAML pipeline configs rendered into Jenkinsfiles and Kubernetes pod templates."""

__version__ = "0.1.0"
