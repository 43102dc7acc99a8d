"""`aml`: run a workspace server and administer who may use it.

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
    aml alias enable|disable|status [--python PATH]

Admin commands open the server's database directly (same --data-dir/--db as the server); the
running server picks changes up within seconds. Secrets and tokens are printed once, never stored.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence


def _add_store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", required=True, help="the server's data folder")
    p.add_argument("--db", default=None, help="database URL when not SQLite in the data dir")


def _identity(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from azuremlcore._store.sql import SqlWorkspaceStore
    from azuremlcore.server.config import ServerConfig
    from azuremlcore.server.security.identity import IdentityStore

    cfg = ServerConfig(data_dir=args.data_dir, db_url=args.db)
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    return IdentityStore(SqlWorkspaceStore(cfg.database_url)._engine)


def _device(args: argparse.Namespace, ident) -> int:  # type: ignore[no-untyped-def]
    from azuremlcore.server.security.device import DeviceCodes, display_user_code

    devices = DeviceCodes(ident._engine)
    if args.action == "list":
        import time

        for p in devices.pending():
            left = max(0, int(p.expires_time / 1000 - time.time()))
            print(f"{display_user_code(p.user_code)}  client {p.client_id}  expires in {left} s")
        return 0
    if args.action == "deny":
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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aml", description="azuremlcore workspace server and its administration")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("server", help="run the workspace server")
    _add_store_args(s)
    s.add_argument("--artifact-root", default=None, help="folder for artifacts (default: DATA_DIR/artifacts)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=5000)
    s.add_argument("--azure-tenant", default=None, help="also accept Azure AD tokens of this tenant")
    s.add_argument("--azure-audience", default="https://ml.azure.com")
    s.add_argument("--tls-cert", default=None, help="serve https with this certificate (PEM)")
    s.add_argument("--tls-key", default=None, help="the certificate's private key (PEM)")
    s.add_argument("--access-log", action="store_true", help="log each request (paths only, never tokens)")
    s.add_argument("--threadpool", action="store_true", help="run store calls in worker threads")
    s.add_argument("--bootstrap-admin", default=None, metavar="USER",
                   help="create USER as Owner of everything and print a token (first start)")

    sp = sub.add_parser("sp", help="service principals").add_subparsers(dest="action", required=True)
    c = sp.add_parser("create", help="create a service principal and print its id and secret")
    _add_store_args(c)
    c.add_argument("--name", required=True)
    c.add_argument("--role", default=None, choices=["Reader", "Contributor", "Owner"])
    c.add_argument("--scope", default="/")

    tk = sub.add_parser("token", help="user tokens").add_subparsers(dest="action", required=True)
    c = tk.add_parser("create", help="create a user token (printed once)")
    _add_store_args(c)
    c.add_argument("--user", required=True)
    c.add_argument("--role", default=None, choices=["Reader", "Contributor", "Owner"])
    c.add_argument("--scope", default="/")
    c.add_argument("--days", type=int, default=90, help="lifetime in days (0: no expiry)")
    r = tk.add_parser("revoke", help="revoke all tokens of a user")
    _add_store_args(r)
    r.add_argument("--user", required=True)

    ro = sub.add_parser("role", help="role assignments").add_subparsers(dest="action", required=True)
    for name in ("grant", "revoke"):
        c = ro.add_parser(name)
        _add_store_args(c)
        c.add_argument("--principal", required=True, help="'user:NAME', 'sp:CLIENT-ID' or 'aad:OBJECT-ID'")
        c.add_argument("--scope", required=True, help="'/' or an ARM id (prefix) of workspaces")
        if name == "grant":
            c.add_argument("--role", required=True, choices=["Reader", "Contributor", "Owner"])

    pr = sub.add_parser("principals", help="list principals and their roles")
    _add_store_args(pr)

    dv = sub.add_parser("device", help="device-code sign-ins (InteractiveLoginAuthentication)").add_subparsers(
        dest="action", required=True)
    c = dv.add_parser("approve", help="sign the device showing CODE in as a user")
    _add_store_args(c)
    c.add_argument("code")
    c.add_argument("--user", required=True)
    c.add_argument("--role", default=None, choices=["Reader", "Contributor", "Owner"])
    c.add_argument("--scope", default="/")
    c = dv.add_parser("deny", help="refuse the device showing CODE")
    _add_store_args(c)
    c.add_argument("code")
    c = dv.add_parser("list", help="codes waiting for approval")
    _add_store_args(c)

    lg = sub.add_parser("login", help="save a user token for a server")
    lg.add_argument("--endpoint", required=True)
    lg.add_argument("--token", default=None, help="the token (default: read from stdin)")

    from azuremlcore._cli import alias

    alias.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `aml` console script."""
    args = _parser().parse_args(argv)
    if args.command == "server":
        from azuremlcore.server import ServerConfig, serve

        cfg = ServerConfig(data_dir=args.data_dir, db_url=args.db, artifact_root=args.artifact_root,
                           azure_tenant=args.azure_tenant, azure_audience=args.azure_audience)
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
    if args.command == "alias":
        from azuremlcore._cli import alias

        return alias.run(args)
    if args.command == "login":
        from azuremlcore.authentication import save_login

        token = args.token or sys.stdin.readline().strip()
        print(f"saved login for {args.endpoint} in {save_login(args.endpoint, token)}")
        return 0
    ident = _identity(args)
    if args.command == "device":
        return _device(args, ident)
    if args.command == "sp":
        client_id, secret = ident.create_service_principal(args.name)
        if args.role:
            ident.grant(f"sp:{client_id}", args.scope, args.role)
        print(json.dumps({"client_id": client_id, "client_secret": secret, "principal": f"sp:{client_id}"}, indent=2))
        return 0
    if args.command == "token":
        if args.action == "revoke":
            print(f"revoked {ident.revoke_user_tokens(args.user)} token(s) of {args.user}")
            return 0
        token = ident.create_user_token(args.user, days=args.days or None)
        if args.role:
            ident.grant(f"user:{args.user}", args.scope, args.role)
        print(token)
        return 0
    if args.command == "role":
        if args.action == "grant":
            ident.grant(args.principal, args.scope, args.role)
        else:
            ident.revoke(args.principal, args.scope)
        return 0
    if args.command == "principals":
        print(json.dumps(ident.list_principals(), indent=2))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
