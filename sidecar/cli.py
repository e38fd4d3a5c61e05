"""Command line: render and validate configs, publish the schema, run the service.

Errors of the sidecar's own types are printed once, one ``FILE:LINE:COL: message``
line each, with exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sidecar import cache, config, render
from sidecar.config.schema import pipeline_schema
from sidecar.config.templates import load_templates
from sidecar.config.when import branch_matches
from sidecar.errors import ConfigError, SidecarError

EXIT_INVALID = 2


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jenkins-sidecar`` command."""
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
    except SidecarError as exc:
        print(f"{getattr(args, 'config', 'jenkins-sidecar')}: {exc}", file=sys.stderr)
    return EXIT_INVALID


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jenkins-sidecar", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    render_cmd = commands.add_parser("render", help="render a config without Jenkins or a cluster")
    render_cmd.add_argument("config", help="pipeline config (YAML)")
    render_cmd.add_argument("--settings", help="project settings (YAML)")
    render_cmd.add_argument("--history", help="execution history, newest first (YAML list)")
    render_cmd.add_argument("--context", help="trigger context (YAML)")
    render_cmd.add_argument("--out", help="write Jenkinsfile, pod.yaml and config.xml here")
    render_cmd.add_argument("--jenkinsfile-templates",
                            default=os.environ.get("SIDECAR_JENKINSFILE_TEMPLATES_DIR"),
                            help="directory of Jenkinsfile.j2 and config.xml.j2")
    render_cmd.add_argument("--podtemplates", default=os.environ.get("SIDECAR_PODTEMPLATES_DIR"),
                            help="directory of base.yaml and tools.yaml")
    render_cmd.set_defaults(handler=_render)

    validate_cmd = commands.add_parser("validate", help="check a config and report every error")
    validate_cmd.add_argument("config")
    validate_cmd.set_defaults(handler=_validate)

    schema_cmd = commands.add_parser("schema", help="print the JSON Schema of the config format")
    schema_cmd.set_defaults(handler=_schema)

    serve_cmd = commands.add_parser("serve", help="run the HTTP service (settings: SIDECAR_*)")
    serve_cmd.add_argument("--bind", help="address:port to listen on (SIDECAR_BIND)")
    serve_cmd.add_argument("--threads", type=int, default=8, help="request threads")
    serve_cmd.set_defaults(handler=_serve)
    return parser


def _render(args: argparse.Namespace) -> int:
    pipeline = config.load_pipeline(args.config)
    context = config.load_context(args.context)
    settings = config.load_settings(args.settings)
    history = config.load_history(args.history)
    templates = load_templates(args.jenkinsfile_templates, args.podtemplates)
    if not branch_matches(pipeline.branch, context.branch):
        print(f"{args.config}: note: branch {context.branch!r} is outside the pipeline's "
              "branch filter; the sidecar would not start this run", file=sys.stderr)
    placement = cache.place(pipeline, context, settings, history)
    rendered = render.render(pipeline, context, settings, placement, templates)
    if not args.out:
        sys.stdout.write(rendered.jenkinsfile)
        return 0
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "Jenkinsfile").write_text(rendered.jenkinsfile, encoding="utf-8")
        (out / "pod.yaml").write_text(rendered.pod_yaml, encoding="utf-8")
        (out / "config.xml").write_text(rendered.config_xml, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write to {out}: {exc.strerror}") from None
    return 0


def _validate(args: argparse.Namespace) -> int:
    pipeline = config.load_pipeline(args.config)
    steps = sum(len(stage.steps) for stage in pipeline.stages)
    print(f"{args.config}: valid ({len(pipeline.stages)} stages, {steps} steps)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from sidecar.app import create_app
    from sidecar.server import run_gunicorn

    # Built before gunicorn starts, so a bad setting is one clear line, not a worker crash.
    app = create_app({"bind": args.bind} if args.bind else None)
    state = app.extensions["sidecar"]
    print(f"Jenkins: {state.jenkins_status()}", file=sys.stderr)
    # The engine runs once, in this (the master) process; workers only serve HTTP.
    stop = state.start_engine()
    try:
        run_gunicorn(app, bind=state.settings.bind, threads=args.threads,
                     after_fork=state.store.after_fork)
    finally:
        if stop is not None:
            stop.set()
    return 0


def _schema(args: argparse.Namespace) -> int:
    json.dump(pipeline_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
