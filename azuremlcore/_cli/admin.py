"""`aml server`, `sp`, `token`, `role`, `principals`, `device`, `login`: run a workspace server and administer it.

    aml server --data-dir DIR [--db URL] [--artifact-root DIR] [--host 127.0.0.1] [--port 5000]
    aml sp create --data-dir DIR --name NAME [--role Contributor] [--scope /]
    aml token create --data-dir DIR --user NAME [--role Reader] [--scope ARM-ID] [--days 90]
    aml token revoke --data-dir DIR --user NAME
    aml role grant|revoke --data-dir DIR --principal ID --scope ARM-ID [--role Contributor]
    aml principals --data-dir DIR
    aml login --endpoint URL --token TOKEN
    aml device approve CODE --data-dir DIR --user NAME [--role Reader] [--scope ARM-ID]
    aml device deny CODE --data-dir DIR
    aml device list --data-dir DIR

Admin commands open the server's database directly (same --data-dir/--db as the server); the
running server picks changes up within seconds. Secrets and tokens are printed once, never stored.
These commands print their own output (they take no --output).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from azuremlcore._cli._base import Subparsers, command, group

SECTION = "Server administration (on the server's host)"
TOP = {  # what `aml --help` lists, without building the parsers
    "login": ("Workspaces and runs", "Save a user token for a server (used by the SDK and every aml command)."),
    "server": (SECTION, "Run the workspace server."),
    "sp": (SECTION, "Service principals."),
    "token": (SECTION, "User tokens."),
    "role": (SECTION, "Role assignments."),
    "principals": (SECTION, "List principals and their roles."),
    "device": (SECTION, "Device-code sign-ins (InteractiveLoginAuthentication)."),
}
ROLES = ["Reader", "Contributor", "Owner"]


def _add_store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", required=True, help="the server's data folder")
    p.add_argument("--db", default=None, help="database URL when not SQLite in the data dir")


def _identity(args: argparse.Namespace) -> Any:
    from azuremlcore._store.sql import SqlWorkspaceStore
    from azuremlcore.server.config import ServerConfig
    from azuremlcore.server.security.identity import IdentityStore

    cfg = ServerConfig(data_dir=args.data_dir, db_url=args.db)
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    return IdentityStore(SqlWorkspaceStore(cfg.database_url)._engine)


# ---------------------------------------------------------------------- handlers
def _server(args: argparse.Namespace) -> int:
    import gc

    # What is imported from here on lives as long as the server: the collector's passes over it while it loads
    # were 20-40 ms of start-up (measured). serve() keeps it off until the server listens, then freezes it.
    gc.disable()
    from azuremlcore._cli import _deferred_imports

    # Library modules imported only to bind a name no request reads: their bodies run at first use (see there).
    _deferred_imports.defer(_deferred_imports.SERVER_DEFERRED)
    from azuremlcore.server import ServerConfig, serve

    cfg = ServerConfig(data_dir=args.data_dir, db_url=args.db, artifact_root=args.artifact_root,
                       azure_tenant=args.azure_tenant, azure_audience=args.azure_audience,
                       ray_address=args.ray_address, api_on_first_use=not args.api_when_quiet,
                       write_behind=not args.no_write_behind)
    if args.ray_address:  # refuse a cluster that does not answer now, not at the first run
        from azuremlcore._execution.ray_api import RayJobsClient, normalize_address

        cfg.ray_address = normalize_address(args.ray_address)
        version = RayJobsClient(cfg.ray_address).version()
        print(f"aml server: AmlCompute runs go to the Ray {version['ray_version']} cluster at {cfg.ray_address}",
              file=sys.stderr, flush=True)
    if args.bootstrap_admin:
        ident = _identity(args)
        ident.grant(f"user:{args.bootstrap_admin}", "/", "Owner")
        print(f"admin token for {args.bootstrap_admin}: {ident.create_user_token(args.bootstrap_admin)}",
              file=sys.stderr)
    print(f"aml server: data in {cfg.data_dir}, listening on http://{args.host}:{args.port}", file=sys.stderr,
          flush=True)
    serve(cfg, host=args.host, port=args.port, access_log=args.access_log, threadpool=args.threadpool,
          tls_cert=args.tls_cert, tls_key=args.tls_key)
    return 0


def _login(args: argparse.Namespace) -> int:
    from azuremlcore.authentication import save_login

    token = args.token or sys.stdin.readline().strip()
    print(f"saved login for {args.endpoint} in {save_login(args.endpoint, token)}")
    return 0


def _sp_create(args: argparse.Namespace) -> int:
    ident = _identity(args)
    client_id, secret = ident.create_service_principal(args.name)
    if args.role:
        ident.grant(f"sp:{client_id}", args.scope, args.role)
    print(json.dumps({"client_id": client_id, "client_secret": secret, "principal": f"sp:{client_id}"}, indent=2))
    return 0


def _token_create(args: argparse.Namespace) -> int:
    ident = _identity(args)
    token = ident.create_user_token(args.user, days=args.days or None)
    if args.role:
        ident.grant(f"user:{args.user}", args.scope, args.role)
    print(token)
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    print(f"revoked {_identity(args).revoke_user_tokens(args.user)} token(s) of {args.user}")
    return 0


def _role_grant(args: argparse.Namespace) -> int:
    _identity(args).grant(args.principal, args.scope, args.role)
    return 0


def _role_revoke(args: argparse.Namespace) -> int:
    _identity(args).revoke(args.principal, args.scope)
    return 0


def _principals(args: argparse.Namespace) -> int:
    print(json.dumps(_identity(args).list_principals(), indent=2))
    return 0


def _device(action: str) -> Any:
    def handler(args: argparse.Namespace) -> int:
        from azuremlcore.server.security.device import DeviceCodes, display_user_code

        ident = _identity(args)
        devices = DeviceCodes(ident._engine)
        if action == "list":
            import time

            for p in devices.pending():
                left = max(0, int(p.expires_time / 1000 - time.time()))
                print(f"{display_user_code(p.user_code)}  client {p.client_id}  expires in {left} s")
            return 0
        if action == "deny":
            ok = devices.deny(args.code)
            print(f"refused {args.code}" if ok else f"no waiting sign-in with code {args.code}", file=sys.stderr)
            return 0 if ok else 1
        pid = ident.create_user(args.user)
        if not devices.approve(args.code, pid):
            print(f"no waiting sign-in with code {args.code} (unknown, used or expired): start again on the device",
                  file=sys.stderr)
            return 1
        if args.role:
            ident.grant(pid, args.scope, args.role)
        print(f"signed the device in as {pid}", file=sys.stderr)
        return 0

    return handler


# ---------------------------------------------------------------------- parsers
def _leaf(sub: Subparsers, name: str, help: str, handler: Any, example: str) -> argparse.ArgumentParser:
    return command(sub, name, help, handler, workspace=False, raw=True, examples=[(help, example)])


def register(sub: Subparsers) -> None:
    """Add the server and administration commands to `aml`."""
    for add in REGISTERS.values():
        add(sub)


def _register_server(sub: Subparsers) -> None:
    s = _leaf(sub, "server", TOP["server"][1], _server,
              "aml server --data-dir /srv/aml --host 0.0.0.0 --port 5000")
    _add_store_args(s)
    s.add_argument("--artifact-root", default=None, help="folder for artifacts (default: DATA_DIR/artifacts)")
    s.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    s.add_argument("--port", type=int, default=5000, help="port (default: 5000)")
    s.add_argument("--azure-tenant", default=None, help="also accept Azure AD tokens of this tenant")
    s.add_argument("--azure-audience", default="https://ml.azure.com", help="audience of accepted Azure AD tokens")
    s.add_argument("--tls-cert", default=None, help="serve https with this certificate (PEM)")
    s.add_argument("--tls-key", default=None, help="the certificate's private key (PEM)")
    s.add_argument("--ray-address", default=None, metavar="URL",
                   help="a Ray cluster's dashboard URL: runs on AmlCompute clusters become Ray jobs there")
    s.add_argument("--access-log", action="store_true", help="log each request (paths only, never tokens)")
    s.add_argument("--threadpool", action="store_true", help="run store calls in worker threads")
    s.add_argument("--api-when-quiet", action="store_true",
                   help="build the web view, model registry and issuer (FastAPI) at the first quiet moment after "
                        "start, not at their first request (which then waits about 0.3 s): an idle server holds "
                        "about 10 MiB more; the MLflow and workspace APIs never wait for it")
    s.add_argument("--api-on-first-use", action="store_true",
                   help="build them at their first request (the default; kept for scripts that pass it)")
    s.add_argument("--no-write-behind", action="store_true",
                   help="answer MLflow's metric calls only once stored, not once journaled in the data dir (the "
                        "default stores them right after answering)")
    s.add_argument("--bootstrap-admin", default=None, metavar="USER",
                   help="create USER as Owner of everything and print a token (first start)")


def _register_login(sub: Subparsers) -> None:
    lg = _leaf(sub, "login", TOP["login"][1], _login,
               "aml login --endpoint https://aml.example:5000 --token \"$TOKEN\"")
    lg.add_argument("--endpoint", required=True, metavar="URL", help="the server's URL")
    lg.add_argument("--token", default=None, metavar="TOKEN", help="the token (default: read from stdin)")


def _register_sp(sub: Subparsers) -> None:
    sp = group(sub, "sp", TOP["sp"][1])
    c = _leaf(sp, "create", "Create a service principal and print its id and secret.", _sp_create,
              "aml sp create --data-dir /srv/aml --name ci --role Contributor --scope /")
    _add_store_args(c)
    c.add_argument("--name", required=True, help="display name of the service principal")
    c.add_argument("--role", default=None, choices=ROLES, help="also grant this role")
    c.add_argument("--scope", default="/", help="where the role applies: '/' (default) or an ARM id prefix")


def _register_token(sub: Subparsers) -> None:
    tk = group(sub, "token", TOP["token"][1])
    c = _leaf(tk, "create", "Create a user token (printed once).", _token_create,
              "aml token create --data-dir /srv/aml --user bob --role Contributor --scope /subscriptions/S")
    _add_store_args(c)
    c.add_argument("--user", required=True, help="the user's name")
    c.add_argument("--role", default=None, choices=ROLES, help="also grant this role")
    c.add_argument("--scope", default="/", help="where the role applies: '/' (default) or an ARM id prefix")
    c.add_argument("--days", type=int, default=90, help="lifetime in days (0: no expiry)")
    r = _leaf(tk, "revoke", "Revoke all tokens of a user.", _token_revoke,
              "aml token revoke --data-dir /srv/aml --user bob")
    _add_store_args(r)
    r.add_argument("--user", required=True, help="the user's name")


def _register_role(sub: Subparsers) -> None:
    ro = group(sub, "role", TOP["role"][1])
    for name, handler in (("grant", _role_grant), ("revoke", _role_revoke)):
        example = "aml role grant --data-dir /srv/aml --principal user:carol --scope / --role Reader" \
            if name == "grant" else "aml role revoke --data-dir /srv/aml --principal user:carol --scope /"
        c = _leaf(ro, name, f"{name.capitalize()} a role on a scope.", handler, example)
        _add_store_args(c)
        c.add_argument("--principal", required=True, help="'user:NAME', 'sp:CLIENT-ID' or 'aad:OBJECT-ID'")
        c.add_argument("--scope", required=True, help="'/' or an ARM id (prefix) of workspaces")
        if name == "grant":
            c.add_argument("--role", required=True, choices=ROLES)


def _register_principals(sub: Subparsers) -> None:
    pr = _leaf(sub, "principals", TOP["principals"][1], _principals,
               "aml principals --data-dir /srv/aml")
    _add_store_args(pr)


def _register_device(sub: Subparsers) -> None:
    dv = group(sub, "device", TOP["device"][1])
    c = _leaf(dv, "approve", "Sign the device showing CODE in as a user.", _device("approve"),
              "aml device approve BCDF-GHJK --data-dir /srv/aml --user bob --role Reader")
    _add_store_args(c)
    c.add_argument("code", help="the code the device shows")
    c.add_argument("--user", required=True, help="the user's name")
    c.add_argument("--role", default=None, choices=ROLES, help="also grant this role")
    c.add_argument("--scope", default="/", help="where the role applies: '/' (default) or an ARM id prefix")
    c = _leaf(dv, "deny", "Refuse the device showing CODE.", _device("deny"),
              "aml device deny BCDF-GHJK --data-dir /srv/aml")
    _add_store_args(c)
    c.add_argument("code", help="the code the device shows")
    c = _leaf(dv, "list", "List the codes waiting for approval.", _device("list"),
              "aml device list --data-dir /srv/aml")
    _add_store_args(c)


# Each top-level name's parser, in the order `register` always added them: `aml server` builds its own alone
# (building the group's sixteen parsers was 6-10 ms of the server's start-up, measured; see `main.build_parser`).
REGISTERS = {"server": _register_server, "login": _register_login, "sp": _register_sp, "token": _register_token,
             "role": _register_role, "principals": _register_principals, "device": _register_device}
