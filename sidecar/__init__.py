"""jenkins-sidecar: pipeline configs into Jenkinsfiles and pod templates, and runs in Jenkins."""

__version__ = "0.1.0"
