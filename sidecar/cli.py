"""Command line: render and validate configs, publish the schema, run the service.

Errors of the sidecar's own types are printed once, one ``FILE:LINE:COL: message``
line each, with exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import time
from pathlib import Path

from sidecar import cache, config, logs, render
from sidecar.config.quantity import parse_quantity
from sidecar.config.schema import pipeline_schema
from sidecar.config.templates import load_templates
from sidecar.config.when import branch_matches
from sidecar.errors import ConfigError, SidecarError

EXIT_INVALID = 2
log = logging.getLogger("sidecar")


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

    _add_cache_commands(commands)
    _add_db_commands(commands)
    _add_history_commands(commands)

    serve_cmd = commands.add_parser("serve", help="run the service: the API workers and the "
                                    "engine, each in its own processes (settings: SIDECAR_*)")
    serve_cmd.add_argument("--bind", help="address:port to listen on (SIDECAR_BIND)")
    serve_cmd.add_argument("--threads", type=int, default=8,
                           help="request threads per API worker process")
    serve_cmd.set_defaults(handler=_serve)

    api_cmd = commands.add_parser("api", help="run only the HTTP API: gunicorn with "
                                  "SIDECAR_WORKERS worker processes (serve starts it)")
    api_cmd.add_argument("--threads", type=int, default=8,
                         help="request threads per worker process")
    api_cmd.set_defaults(handler=_api)

    engine_cmd = commands.add_parser("engine", help="run only the engine: it stands by until "
                                     "it holds the leader lease, then drives executions "
                                     "(serve starts it)")
    engine_cmd.set_defaults(handler=_engine)
    return parser


def _add_cache_commands(commands) -> None:
    cache_cmd = commands.add_parser("cache", help="node-local caches")
    gc_cmd = cache_cmd.add_subparsers(dest="cache_command", required=True).add_parser(
        "gc", help="prune a node's cache root by age and size; print the report (JSON)")
    gc_cmd.add_argument("--root", required=True, help="the cache root (setting cacheDir)")
    gc_cmd.add_argument("--max-age", type=float, required=True, metavar="DAYS",
                        help="remove caches unused for longer than this")
    gc_cmd.add_argument("--max-size", required=True, metavar="SIZE",
                        help="total bound, a quantity such as 200Gi or 50G")
    gc_cmd.add_argument("--keep-recent", type=float, default=60.0, metavar="MINUTES",
                        help="never remove a cache used this recently (a build may use it)")
    gc_cmd.add_argument("--dry-run", action="store_true", help="only report what would go")
    gc_cmd.add_argument("--report-url", help="the sidecar's base URL to report to")
    gc_cmd.add_argument("--token", default=os.environ.get("SIDECAR_GC_TOKEN"),
                        help="write token for the report (or SIDECAR_GC_TOKEN)")
    gc_cmd.add_argument("--node", default=os.environ.get("NODE_NAME"),
                        help="this node's name (or NODE_NAME)")
    gc_cmd.add_argument("--every", type=float, metavar="SECONDS",
                        help="repeat forever with this pause (as a DaemonSet does)")
    gc_cmd.set_defaults(handler=_cache_gc)


def _add_history_commands(commands) -> None:
    history_cmd = commands.add_parser("history", help="execution history of the database")
    actions = history_cmd.add_subparsers(dest="history_command", required=True)
    export_cmd = actions.add_parser(
        "export", help="write started executions as JSON lines (benchmarks/cache_sim.py --trace)")
    export_cmd.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    export_cmd.add_argument("--since", help="only executions triggered at or after this "
                            "ISO 8601 time (UTC)")
    history_cmd.set_defaults(handler=_history)


def _history(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from sidecar.services import history
    from sidecar.settings import settings_from
    from sidecar.store import Store

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since.replace("Z", "+00:00"))
        except ValueError:
            raise SidecarError(f"--since {args.since!r} is not an ISO 8601 time") from None
        if since.tzinfo is None:  # times are UTC
            since = since.replace(tzinfo=timezone.utc)
    store = Store(settings_from(os.environ).database_url)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        with store.session() as session:
            for row in history.export(session, since):
                out.write(json.dumps(row, sort_keys=True) + "\n")
    finally:
        if args.output:
            out.close()
        store.dispose()
    return 0


def _add_db_commands(commands) -> None:
    db_cmd = commands.add_parser("db", help="the database named by SIDECAR_DATABASE_URL")
    actions = db_cmd.add_subparsers(dest="db_command", required=True)
    actions.add_parser("upgrade", help="apply every migration (the service does it at start)")
    actions.add_parser("current", help="print the schema revision the database is at")
    actions.add_parser("history", help="list the migrations, oldest first")
    actions.add_parser("backup", help="write a consistent copy (SQLite online backup; "
                       "PostgreSQL pg_dump)").add_argument("file", type=Path)
    actions.add_parser("restore", help="replace the database's content with a backup "
                       "(stop the service first)").add_argument("file", type=Path)
    db_cmd.set_defaults(handler=_db)


def _db(args: argparse.Namespace) -> int:
    from sidecar.settings import settings_from
    from sidecar.store import Store, admin

    url = settings_from(os.environ).database_url
    if args.db_command == "history":
        for revision in admin.history():
            print(f"{revision.down or '<base>'} -> {revision.id}: {revision.doc}")
    elif args.db_command == "backup":
        admin.backup(url, args.file)
        print(f"backed up to {args.file}", file=sys.stderr)
    elif args.db_command == "restore":
        admin.restore(url, args.file)
        print(f"restored from {args.file}", file=sys.stderr)
    else:
        store = Store(url)
        try:
            if args.db_command == "upgrade":
                store.migrate()
            current = admin.current_revision(store)
        finally:
            store.dispose()
        print(f"{current or '<empty>'}{' (head)' if current == admin.head() else ''}")
    return 0


def _cache_gc(args: argparse.Namespace) -> int:
    from sidecar.cache import gc

    try:
        max_size = int(parse_quantity(args.max_size))
    except ValueError:
        raise ConfigError(f"--max-size: {args.max_size!r} is not a size such as 200Gi") from None
    if args.report_url and not (args.token and args.node):
        raise ConfigError("--report-url needs --token and --node (or SIDECAR_GC_TOKEN, NODE_NAME)")
    root = Path(args.root)
    if not root.is_dir():
        raise ConfigError(f"--root: {root} is not a directory")
    while True:
        report = gc.collect(root, max_age_days=args.max_age, max_size=max_size,
                            dry_run=args.dry_run, keep_recent=args.keep_recent * 60)
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        sys.stdout.flush()
        if args.report_url and not args.dry_run:
            _send_report(args, report)
        if not args.every:
            return 1 if report["failed"] else 0
        time.sleep(args.every)


def _send_report(args: argparse.Namespace, report: dict) -> None:
    """POST the report to the sidecar; a failure is printed, the next run reports again."""
    from urllib import error, parse, request

    url = f"{args.report_url.rstrip('/')}/api/v1/nodes/{parse.quote(args.node, safe='')}/caches"
    body = json.dumps({"root": report["root"], "caches": report["kept"] + report["removed"]})
    sent = request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {args.token}"})
    try:
        with request.urlopen(sent, timeout=30) as answer:
            print(f"reported to {args.report_url}: {answer.status}", file=sys.stderr)
    except (error.URLError, OSError) as exc:
        print(f"could not report to {args.report_url}: {exc}", file=sys.stderr)


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
    render.check_fits(pipeline, load_templates(os.environ.get("SIDECAR_JENKINSFILE_TEMPLATES_DIR"),
                                               os.environ.get("SIDECAR_PODTEMPLATES_DIR")))
    steps = sum(len(stage.steps) for stage in pipeline.stages)
    print(f"{args.config}: valid ({len(pipeline.stages)} stages, {steps} steps)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from sidecar.metrics import multiprocess

    # Before any module defines a metric, and before the children start: they inherit the
    # directory, and /metrics merges every process's files in it.
    metrics_dir = multiprocess.enable()
    try:
        return _supervise(args)
    finally:
        multiprocess.remove(metrics_dir)


def _supervise(args: argparse.Namespace) -> int:
    from sidecar.app import prepare_database, preflight
    from sidecar.server import supervise
    from sidecar.settings import settings_from
    from sidecar.store import Store

    overrides = {"bind": args.bind} if args.bind else None
    settings = settings_from(os.environ, overrides)  # a bad value: one clear line, exit 2
    logs.configure(settings.log_level, settings.log_format)
    preflight(settings)  # a bad template or token file, before any process starts
    store = Store(settings.database_url)
    try:
        prepare_database(store, settings)  # once per replica; concurrent replicas take turns
    finally:
        store.dispose()  # this process keeps no connection: its children open their own
    return supervise(settings, threads=args.threads)


def _api(args: argparse.Namespace) -> int:
    from sidecar.metrics import multiprocess

    if multiprocess.enabled():  # started by serve, which owns the directory
        return _run_api(args)
    metrics_dir, master = multiprocess.enable(), os.getpid()
    try:
        return _run_api(args)
    finally:
        if os.getpid() == master:  # a gunicorn worker leaves through here too
            multiprocess.remove(metrics_dir)


def _run_api(args: argparse.Namespace) -> int:
    from sidecar.app import create_app, preflight
    from sidecar.server import run_api
    from sidecar.settings import env_name, settings_from

    settings = settings_from(os.environ)
    logs.configure(settings.log_level, settings.log_format)
    preflight(settings)
    if settings.worker_count() > 1 and not settings.secret_key:
        # Every worker must sign the UI's forms with one key; serve hands one down.
        os.environ[env_name("secret_key")] = secrets.token_urlsafe(48)
    run_api(lambda: create_app(prepare=False), settings, threads=args.threads)
    return 0


def _engine(args: argparse.Namespace) -> int:
    import signal
    import socket
    import threading

    from sidecar.engine import process
    from sidecar.settings import env_name, settings_from

    settings = settings_from(os.environ)
    logs.configure(settings.log_level, settings.log_format)
    if not settings.jenkins_url:
        raise ConfigError(f"{env_name('jenkins_url')} is needed to run the engine")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _number, _frame: stop.set())
    holder = settings.instance_id or f"{socket.gethostname()}-{os.getpid()}"
    return process.run(settings, holder, stop)


def _schema(args: argparse.Namespace) -> int:
    json.dump(pipeline_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
